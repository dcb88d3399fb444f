using System.Numerics.Tensors;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>
    /// Whether a kernel that writes outputBytes should store with non-temporal stores (IVec.Store with
    /// stream): only when its output cannot stay in the last-level cache anyway, so the next op loses
    /// nothing, while each written line skips being read first — a third of a copy's memory traffic.
    /// </summary>
    public static bool Streams(long outputBytes) => outputBytes > StreamingThreshold;

    /// <summary>As Streams, for a strided kernel whose output is plan's operand 0: only where its rows are contiguous and long, as each row ends with a Fence.</summary>
    public static bool Streams(StridedPlan plan, long outputBytes) => plan.InnerStrides[0] == 1 && plan.Inner >= 1024 && Streams(outputBytes);

    /// <summary>
    /// Outputs larger than this stream: the last-level cache as Linux states it (32 MB where it does not).
    /// Settable so that tests reach the streaming path with small tensors.
    /// </summary>
    internal static long StreamingThreshold { get; set; } = ReadCacheSize("/sys/devices/system/cpu/cpu0/cache/index3/size") ?? 32L << 20;

    /// <summary>Ends a parallel chunk that may have streamed: its non-temporal stores become visible before the join.</summary>
    public static void Fence(bool streamed)
    {
        if (streamed && Sse.IsSupported)
            Sse.StoreFence();
    }

    /// <summary>Asks for the cache line at p (a hint: never faults, a no-op without SSE).</summary>
    public static void Prefetch(void* p)
    {
        if (Sse.IsSupported)
            Sse.Prefetch0(p);
    }

    private static long? ReadCacheSize(string path)
    {
        try
        {
            string s = File.ReadAllText(path).Trim();
            return s.EndsWith('K') && long.TryParse(s[..^1], out long kb) ? kb << 10 : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A float32 copy of a small weight vector of any float dtype (BF16/F16 weights).</summary>
    public static float[] WeightAsFloat(Tensor w)
    {
        if (w.DType == DType.F32 && w.IsContiguous)
            return w.AsSpan<float>().ToArray();
        return w.ToFloatArray();
    }
}
