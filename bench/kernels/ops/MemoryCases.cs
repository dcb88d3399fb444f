namespace RawLongLoRA.Bench.Kernels;

/// <summary>Copy and add through the backend: the simplest streaming kernels, beside memcpy's ceiling.</summary>
internal static unsafe class MemoryCases
{
    public static OpCase Copy(int n, int d) => new($"copy {OpsCases.Dims(n, d)}", true, be =>
    {
        var gen = new Generator(1);
        var src = Tensor.Uniform([n, d], -1, 1, gen);
        var dst = Tensor.Empty([n, d]);
        void Run() => be.Copy(dst, src);
        return [new OpRun("fwd", 8.0 * n * d, Run, () => Compare(Run, dst, src, (s, _) => s, src), OpsCases.Request("copy", "fwd", n, d))];
    });

    public static OpCase Add(int n, int d) => new($"add {OpsCases.Dims(n, d)}", true, be =>
    {
        var gen = new Generator(2);
        var a = Tensor.Uniform([n, d], -1, 1, gen);
        var b = Tensor.Uniform([n, d], -1, 1, gen);
        var c = Tensor.Empty([n, d]);
        void Run() => be.Binary(BinaryOp.Add, c, a, b);
        return [new OpRun("fwd", 12.0 * n * d, Run, () => Compare(Run, c, a, (x, y) => x + y, b), OpsCases.Request("add", "fwd", n, d))];
    });

    private static double Compare(Action run, Tensor output, Tensor a, Func<float, float, float> expected, Tensor b)
    {
        run();
        float* y = OpsCases.F(output), pa = OpsCases.F(a), pb = OpsCases.F(b);
        var check = new OpsCheck();
        foreach (long i in OpsCheck.Sample(output.Numel, 1 << 16))
            check.Add(expected(pa[i], pb[i]), y[i]);
        return check.Error;
    }
}
