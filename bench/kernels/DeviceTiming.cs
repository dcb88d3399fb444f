using System.Diagnostics;
using ILGPU.Runtime.Cuda;
using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// How the device benches (`bench attention --device`, `bench lora`) time a kernel: on CUDA by CUDA events around
/// each run (<see cref="CudaEventTiming"/>), elsewhere (ILGPU's CPU accelerator, which checks the harness) by the
/// host's clock around each run and a synchronize. One warm-up run, which also sizes the rest: as many as
/// <see cref="Plan.TargetSeconds"/> holds, within the plan's bounds; the median stands. Run i takes input copy
/// i mod copies, so consecutive runs read memory the cache has let go (<see cref="Copies"/>).
/// </summary>
internal static class DeviceTiming
{
    /// <summary>
    /// Runs after the warm-up: enough to fill TargetSeconds, at least MinRuns, at most MaxRuns; a warm-up of OnceAbove
    /// seconds or more is the one run (a slow variant: its time is its kernels', nothing there is a first-call cost
    /// after the validation ran them). Past <see cref="Until"/> the verb times nothing more.
    /// </summary>
    public sealed record Plan(double TargetSeconds, int MinRuns, int MaxRuns, double OnceAbove)
    {
        /// <summary>On a GPU: a third of a second of runs, 3 to 100 (a slow kernel still gets a median of three), one past a second.</summary>
        public static readonly Plan Gpu = new(0.3, 3, 100, 1.0);

        /// <summary>--quick on a GPU.</summary>
        public static readonly Plan GpuQuick = new(0.1, 3, 30, 0.5);

        /// <summary>Off a GPU, where only the harness is under test: two runs.</summary>
        public static readonly Plan Harness = new(0, 2, 2, double.MaxValue);

        /// <summary>When the verb's time (--max-seconds) is up; null for no limit.</summary>
        public DateTime? Until { get; init; }

        /// <summary>Whether <see cref="Until"/> has passed: what is left is noted as skipped.</summary>
        public bool Expired => Until is { } until && DateTime.UtcNow >= until;

        /// <summary>This plan ending <paramref name="seconds"/> from now (null: never).</summary>
        public Plan Within(double? seconds) => seconds is { } s ? this with { Until = DateTime.UtcNow.AddSeconds(s) } : this;
    }

    /// <summary>A median and how many runs it was taken over.</summary>
    public readonly record struct Timed(double Seconds, int Runs)
    {
        /// <summary>"median of 25" or "one run (slow)".</summary>
        public string How => Runs == 1 ? "one run (slow)" : $"median of {Runs}";
    }

    /// <summary>The median of <paramref name="run"/>(i) after a warm-up, i counting runs from 1 (the warm-up is 0).</summary>
    public static Timed Median(IBackend device, Plan plan, Action<int> run)
    {
        double first = Runs(device, 1, run)[0];
        if (first >= plan.OnceAbove)
            return new(first, 1);
        int runs = (int)Math.Clamp(Math.Ceiling(plan.TargetSeconds / Math.Max(first, 1e-9)), plan.MinRuns, plan.MaxRuns);
        return new(Timing.MedianOf(Runs(device, runs, i => run(i + 1))), runs);
    }

    /// <summary>The seconds of each of <paramref name="runs"/> runs of <paramref name="run"/>(0 … runs − 1).</summary>
    public static double[] Runs(IBackend device, int runs, Action<int> run)
    {
        if (device is IlgpuBackend { IsCuda: true } cuda)
            return CudaEventTiming.Time(cuda, runs, run);
        var seconds = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run(i);
            device.Synchronize();
            seconds[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return seconds;
    }

    /// <summary>The device's last-level cache (a GPU's L2) in bytes; 0 where the harness runs off a GPU.</summary>
    public static long CacheBytes(IBackend device) => device is IlgpuBackend { Accelerator: CudaAccelerator cuda } ? cuda.L2CacheSize : 0;

    /// <summary>
    /// Copies of a set of <paramref name="setBytes"/> (a run's inputs and outputs) to rotate through so that between two
    /// uses of one copy the others move at least twice the cache's bytes: it has let the first go. At least two, so the
    /// rotation itself runs everywhere.
    /// </summary>
    public static int Copies(long setBytes, long cacheBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(setBytes, 1);
        return (int)Math.Max(2, 1 + (2 * cacheBytes + setBytes - 1) / setBytes);
    }

    /// <summary>How the timings were taken, for the report's notes.</summary>
    public static string Describe(IBackend device, Plan plan) =>
        $"timing: {(BenchDevice.IsCuda(device) ? "CUDA events around each run" : "the host's clock and a synchronize around each run")}; after a warm-up, "
        + $"the median of as many runs as {plan.TargetSeconds:G2} s holds ({plan.MinRuns} to {plan.MaxRuns}{(plan.OnceAbove < double.MaxValue ? $"; a warm-up over {plan.OnceAbove:G2} s is the one run" : "")}), each on the next of as many copies of the problem "
        + $"as move twice the {CacheBytes(device) >> 20} MiB L2 between two uses of one (at least 2)";

    /// <summary>"12.3 ms", "2048 ms" or "845 µs": three figures, no exponent.</summary>
    public static string Format(double seconds) =>
        seconds >= 0.1 ? $"{seconds * 1e3:F0} ms" : seconds >= 1e-3 ? $"{seconds * 1e3:G3} ms" : $"{seconds * 1e6:G3} µs";
}
