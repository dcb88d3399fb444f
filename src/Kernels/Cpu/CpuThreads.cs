using System.Diagnostics;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// How many threads CPU kernels use (all cores, or RAWLORA_THREADS), and the one parallel loop they
/// share, so that every kernel splits work the same way and a single setting governs them all.
/// </summary>
public static class CpuThreads
{
    private static int _count = ReadDefault();

    /// <summary>
    /// Threads every CPU kernel splits its work over, at least 1; starts at RAWLORA_THREADS or the processor count.
    /// Set it before work starts, not while a kernel runs.
    /// </summary>
    public static int Count
    {
        get => _count;
        set => _count = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "thread count must be at least 1");
    }

    private static int ReadDefault()
    {
        var env = Environment.GetEnvironmentVariable("RAWLORA_THREADS");
        return int.TryParse(env, out int n) && n >= 1 ? n : Environment.ProcessorCount;
    }

    /// <summary>
    /// Runs body(i) for i in [0, n), in parallel when there is more than one thread and more than one
    /// item; the caller sizes items so each is worth a thread hand-off (≥ tens of microseconds).
    /// </summary>
    public static void For(int n, Action<int> body)
    {
        if (n <= 0)
            return;
        if (n == 1 || _count == 1)
        {
            for (int i = 0; i < n; i++)
                body(i);
            return;
        }
        if (Profiler.IsRecording)
        {
            ForProfiled(n, body);
            return;
        }
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = _count }, body);
    }

    /// <summary>The same loop, timing each body so the profiler can tell busy threads from idle ones.</summary>
    private static void ForProfiled(int n, Action<int> body)
    {
        long busy = 0, start = Stopwatch.GetTimestamp();
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = _count }, i =>
        {
            long t0 = Stopwatch.GetTimestamp();
            body(i);
            Interlocked.Add(ref busy, Stopwatch.GetTimestamp() - t0);
        });
        Profiler.NoteParallel(Stopwatch.GetElapsedTime(start), Stopwatch.GetElapsedTime(0, busy), Math.Min(n, _count));
    }

    /// <summary>Splits [0, total) into about Count × 4 contiguous chunks of at least minChunk and runs them in parallel.</summary>
    public static void ForRange(long total, long minChunk, Action<long, long> body) => ForChunks(total, minChunk, (_, lo, hi) => body(lo, hi));

    /// <summary>
    /// As ForRange, and body also gets the chunk's index; returns the number of chunks. The split depends
    /// only on total, minChunk and Count, so per-chunk partial results combined in index order are
    /// bitwise reproducible.
    /// </summary>
    public static int ForChunks(long total, long minChunk, Action<int, long, long> body)
    {
        if (total <= 0)
            return 0;
        long chunks = Math.Clamp(total / Math.Max(minChunk, 1), 1, (long)_count * 4);
        long size = (total + chunks - 1) / chunks;
        int n = (int)((total + size - 1) / size);
        For(n, i =>
        {
            long lo = i * size;
            body(i, lo, Math.Min(total, lo + size));
        });
        return n;
    }
}
