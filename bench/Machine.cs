using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Serialization;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench;

/// <summary>What the figures were measured on: CPU, cores, the threads used, the clock /proc/cpuinfo
/// states, SIMD width, GPU (if any), OS and runtime.</summary>
public sealed record Machine(string Cpu, int Cores, int Threads, [property: JsonPropertyName("nominal_ghz")] double? NominalGHz, string Simd, string? Gpu, string Os, string Runtime)
{
    [JsonIgnore]
    public string Summary => $"{Cpu}, {Cores} cores ({Threads} threads used), {Simd}" + (Gpu is null ? "" : $", {Gpu}");

    public static Machine Describe()
    {
        var cpuinfo = File.Exists("/proc/cpuinfo") ? File.ReadAllLines("/proc/cpuinfo") : [];
        string? Field(string key) => cpuinfo.FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
        double? mhz = double.TryParse(Field("cpu MHz"), CultureInfo.InvariantCulture, out double f) ? f : null;
        return new Machine(
            Field("model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
            Environment.ProcessorCount,
            CpuThreads.Count,
            mhz / 1000,
            Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar",
            GpuName(),
            RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription);
    }

    /// <summary>
    /// FP32 FLOP per cycle per core assumed for the clock shown beside the peak: two FMA pipes × 8 lanes ×
    /// 2 — right for Zen 4 with AVX-512 (512-bit ops run on two 256-bit pipes) and for AVX2 cores with two
    /// FMA units; an Intel core with two 512-bit FMA units does 64.
    /// </summary>
    public const int AssumedFlopPerCycle = 32;

    /// <summary>
    /// The FP32 FLOP/s all threads reach on independent FMAs in registers (best of a few tries): the ceiling
    /// GEMM works against. Measured rather than clock × width because the turbo clock under load is not
    /// what /proc/cpuinfo states (a VM reports the base clock).
    /// </summary>
    public double MeasurePeakFlops()
    {
        const long iterations = 20_000_000;
        double best = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var sw = Stopwatch.StartNew();
            CpuThreads.For(Threads, _ => FmaLoop(iterations));
            best = Math.Max(best, FmaLoopFlops(iterations) * Threads / sw.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>One line saying how the peak was found and what it assumes.</summary>
    public string PeakNote(double peakFlops)
    {
        double ghz = peakFlops / Threads / AssumedFlopPerCycle / 1e9;
        string stated = NominalGHz is { } n ? $"; /proc/cpuinfo states {n:F2} GHz, which would give {Threads * n * AssumedFlopPerCycle:F0} GFLOP/s" : "";
        return $"peak FP32: {peakFlops / 1e9:F0} GFLOP/s, measured with independent {Simd} FMAs on {Threads} threads "
             + $"(= {Threads} cores × {AssumedFlopPerCycle} FLOP/cycle × {ghz:F2} GHz, assuming {AssumedFlopPerCycle} FLOP/cycle{stated})";
    }

    private static double FmaLoopFlops(long iterations) => 2.0 * 12 * iterations * (Vector512.IsHardwareAccelerated ? 16 : 8);

    /// <summary>12 independent FMA chains: more than latency × throughput (4 × 2 for 256-bit) needs.</summary>
    private static float FmaLoop(long iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var x = Vector512.Create(0.999f);
            var y = Vector512.Create(1e-7f);
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
                             c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector512.FusedMultiplyAdd(c0, x, y); c1 = Vector512.FusedMultiplyAdd(c1, x, y); c2 = Vector512.FusedMultiplyAdd(c2, x, y);
                c3 = Vector512.FusedMultiplyAdd(c3, x, y); c4 = Vector512.FusedMultiplyAdd(c4, x, y); c5 = Vector512.FusedMultiplyAdd(c5, x, y);
                c6 = Vector512.FusedMultiplyAdd(c6, x, y); c7 = Vector512.FusedMultiplyAdd(c7, x, y); c8 = Vector512.FusedMultiplyAdd(c8, x, y);
                c9 = Vector512.FusedMultiplyAdd(c9, x, y); c10 = Vector512.FusedMultiplyAdd(c10, x, y); c11 = Vector512.FusedMultiplyAdd(c11, x, y);
            }
            return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
        else
        {
            var x = Vector256.Create(0.999f);
            var y = Vector256.Create(1e-7f);
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
                             c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector256.FusedMultiplyAdd(c0, x, y); c1 = Vector256.FusedMultiplyAdd(c1, x, y); c2 = Vector256.FusedMultiplyAdd(c2, x, y);
                c3 = Vector256.FusedMultiplyAdd(c3, x, y); c4 = Vector256.FusedMultiplyAdd(c4, x, y); c5 = Vector256.FusedMultiplyAdd(c5, x, y);
                c6 = Vector256.FusedMultiplyAdd(c6, x, y); c7 = Vector256.FusedMultiplyAdd(c7, x, y); c8 = Vector256.FusedMultiplyAdd(c8, x, y);
                c9 = Vector256.FusedMultiplyAdd(c9, x, y); c10 = Vector256.FusedMultiplyAdd(c10, x, y); c11 = Vector256.FusedMultiplyAdd(c11, x, y);
            }
            return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
    }

    /// <summary>The first GPU nvidia-smi lists, or null without one.</summary>
    private static string? GpuName()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=name --format=csv,noheader")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (p is null)
                return null;
            string first = p.StandardOutput.ReadLine()?.Trim() ?? "";
            p.WaitForExit();
            return p.ExitCode == 0 && first.Length > 0 ? first : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no nvidia-smi: no NVIDIA GPU to name
        }
    }
}
