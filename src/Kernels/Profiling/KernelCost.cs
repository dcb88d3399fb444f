using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Profiling;

/// <summary>
/// What a primitive costs by its arguments, for the profiler: FLOPs where they are a property of the
/// math (a product's 2·m·n·k, attention over the keys its mask leaves visible, one per element for
/// elementwise and reductions) and the bytes it must read and write. Row kernels (norms, RoPE,
/// softmax, ...) get bytes only: their speed is a bandwidth.
/// </summary>
internal static class KernelCost
{
    public static long Bytes(Tensor? t) => t is null ? 0 : t.Numel * t.DType.Size();

    public static long Bytes(params ReadOnlySpan<Tensor?> tensors)
    {
        long sum = 0;
        foreach (var t in tensors)
            sum += Bytes(t);
        return sum;
    }

    /// <summary>2·m·n·k per product of c [.., m, n] = a [.., m, k] @ b.</summary>
    public static double? GemmFlops(Tensor c, Tensor a) => a.Rank == 0 ? null : 2.0 * c.Numel * a.Shape[^1];

    /// <summary>
    /// Forward FLOPs in FlashAttention's convention, 4·D per (query, visible key) pair of each head
    /// (Q·Kᵀ and P·V), counted over the spec's mask; null where the spec does not fit (the kernel then
    /// throws its own error) or where counting would read packed starts off the host (a device sync per call).
    /// Backward is 2.5× this.
    /// </summary>
    public static double? AttentionFlops(Tensor q, Tensor k, AttentionSpec spec)
    {
        if (q.Rank != 4 || k.Rank != 4)
            return null;
        int b = q.Shape[0], t = q.Shape[1], hq = q.Shape[2], d = q.Shape[3], s = k.Shape[1];
        try
        {
            AttentionMask.Validate(spec, b, t, s, hq);
        }
        catch (ArgumentException)
        {
            return null;
        }
        var lo = AttentionMask.LowerBounds(spec, b, t, s);
        int shifted = AttentionMask.FirstShiftedHead(spec, hq);
        int[] headsInHalf = [shifted, hq - shifted];
        double pairs = 0;
        for (int r = 0; r < b; r++)
            for (int half = 0; half < 2; half++)
                for (int i = 0; i < t; i++)
                    pairs += (double)headsInHalf[half] * Math.Max(0, AttentionMask.UpperBound(spec, i, s) - lo[(r * 2 + half) * t + i] + 1);
        return 4.0 * d * pairs;
    }
}
