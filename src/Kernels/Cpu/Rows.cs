using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Shared plumbing of the row kernels: a contiguous [N, D] view of a tensor whose rows are its last dim.</summary>
internal static unsafe class Rows
{
    public static (long N, int D) Dims(string op, Tensor t, string role)
    {
        Check.Contiguous(op, t, role);
        if (t.Rank == 0)
            throw Check.Fail(op, $"{role} needs at least one dim", t);
        int d = t.Shape[^1];
        return (d == 0 ? 0 : t.Numel / d, d);
    }

    /// <summary>Runs body over row ranges in parallel, sized so each chunk has ≥ 16K elements.</summary>
    public static void For(long n, int d, Action<long, long> body) => CpuThreads.ForRange(n, MinRows(d), body);

    /// <summary>As For, with the chunk index, for kernels that keep per-chunk partial sums.</summary>
    public static int ForChunks(long n, int d, Action<int, long, long> body) => CpuThreads.ForChunks(n, MinRows(d), body);

    private static long MinRows(int d) => Math.Max(1, 16384 / Math.Max(d, 1));

    /// <summary>Sums per-chunk partials in chunk order (deterministic) into dst.</summary>
    public static void SumPartials(float[]?[] partials, int count, Span<float> dst)
    {
        dst.Clear();
        for (int i = 0; i < count; i++)
            if (partials[i] is { } p)
                TensorPrimitives.Add(dst, p, dst);
    }

    /// <summary>A float32 copy of a small weight vector of any float dtype (BF16/F16 weights).</summary>
    public static float[] WeightAsFloat(Tensor w)
    {
        if (w.DType == DType.F32 && w.IsContiguous)
            return w.AsSpan<float>().ToArray();
        return w.ToFloatArray();
    }
}
