using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The kernel of Random: one thread per Philox counter block, through the CPU's own <see cref="Philox"/> pieces (all
/// but MathF.Log, which PTX lacks: <see cref="GpuMath.Log"/> stands in), so the stream is the CPU's.
/// </summary>
internal static class RandomKernels
{
    /// <summary>Elements 4·i … 4·i + 3 (those below dst's length) from counter block offset + i, key seed.</summary>
    [GpuKernel]
    public static void Philox4(Index1D i, ArrayView<float> dst, byte kind, ulong seed, ulong offset, float a, float b)
    {
        var (x0, x1, x2, x3) = Philox.Block(offset + (ulong)i.X, seed);
        var (w0, w1, w2, w3) = (RandomKind)kind switch
        {
            RandomKind.Uniform => Philox.Uniform(x0, x1, x2, x3, a, b),
            RandomKind.Bernoulli => Philox.Bernoulli(x0, x1, x2, x3, a),
            _ => Philox.Normal(Normal(x0, x1), Normal(x2, x3), a, b),
        };
        long e = 4L * i, n = dst.Length;
        dst[e] = w0;
        if (e + 1 < n)
            dst[e + 1] = w1;
        if (e + 2 < n)
            dst[e + 2] = w2;
        if (e + 3 < n)
            dst[e + 3] = w3;
    }

    private static (float, float) Normal(uint a, uint b) => Philox.BoxMuller(GpuMath.Log(Philox.NormalUnit(a)), Philox.ToUnit(b));
}
