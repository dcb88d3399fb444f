using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The machine's copy bandwidth, the ceiling of the row kernels: a 256 MB buffer, far past the caches,
/// copied on one thread and on several (each its own contiguous part), two ways: memcpy
/// (Buffer.MemoryCopy, i.e. the C library's memmove) and a loop of non-temporal stores, which skip
/// reading the destination into the cache before overwriting it. Counted as bytes read + written, as the
/// kernels are.
/// </summary>
internal sealed unsafe class CopyBandwidth : IDisposable
{
    private const int Bytes = 256 << 20;

    private readonly byte* _src = (byte*)NativeMemory.AlignedAlloc(Bytes, 4096), _dst = (byte*)NativeMemory.AlignedAlloc(Bytes, 4096);

    public CopyBandwidth()
    {
        // First touch maps the pages; an untouched destination would time page faults.
        new Span<byte>(_src, Bytes).Fill(1);
        new Span<byte>(_dst, Bytes).Clear();
    }

    /// <summary>The last-level cache in bytes, as Linux states it (32 MB when it does not).</summary>
    public static long LastLevelCache { get; } = ReadCacheSize("/sys/devices/system/cpu/cpu0/cache/index3/size") ?? 32L << 20;

    /// <summary>Whether this CPU has the non-temporal stores <see cref="Measure"/> can time.</summary>
    public static bool HasStreamingStores => Avx.IsSupported;

    /// <summary>Best of a few copies, in bytes per second (read + write).</summary>
    public double Measure(int threads, bool streaming, int attempts)
    {
        double best = 0;
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Copy(_dst, _src, threads, streaming);
            best = Math.Max(best, 2.0 * Bytes / Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return best;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_src);
        NativeMemory.AlignedFree(_dst);
    }

    private static void Copy(byte* dst, byte* src, int threads, bool streaming)
    {
        // Parts are multiples of 4 KB, so every part starts aligned for the streaming loop.
        long part = Bytes / threads & ~4095L;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            long lo = i * part, n = i == threads - 1 ? Bytes - lo : part;
            if (streaming)
                Stream((float*)(dst + lo), (float*)(src + lo), n / sizeof(float));
            else
                Buffer.MemoryCopy(src + lo, dst + lo, n, n);
        });
    }

    /// <summary>n floats (a multiple of 32) from src to 64-byte aligned dst with non-temporal stores.</summary>
    private static void Stream(float* dst, float* src, long n)
    {
        if (Avx512F.IsSupported)
        {
            for (long i = 0; i < n; i += 32)
            {
                Avx512F.StoreAlignedNonTemporal(dst + i, Vector512.Load(src + i));
                Avx512F.StoreAlignedNonTemporal(dst + i + 16, Vector512.Load(src + i + 16));
            }
        }
        else
        {
            for (long i = 0; i < n; i += 16)
            {
                Avx.StoreAlignedNonTemporal(dst + i, Vector256.Load(src + i));
                Avx.StoreAlignedNonTemporal(dst + i + 8, Vector256.Load(src + i + 8));
            }
        }
        Sse.StoreFence();
    }

    private static long? ReadCacheSize(string path) =>
        File.Exists(path) && File.ReadAllText(path).Trim() is var s && s.EndsWith('K') && long.TryParse(s[..^1], out long kb) ? kb << 10 : null;
}
