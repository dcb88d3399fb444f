using RawLongLoRA.Profiling;

namespace RawLongLoRA.Bench.Profiling;

/// <summary>
/// `bench profiler`: what the profiler costs. Many small ops (<see cref="SmallOps"/>) timed with the
/// profiler off — the figure to compare with a build without its hooks — and recording.
/// </summary>
public static class ProfilerBench
{
    /// <summary>The verb's name, options and body.</summary>
    public static readonly Verb Verb = new(
        "profiler",
        "the profiler's cost: many small ops with it off (compare with a build without its hooks) and recording",
        [("--rounds N", "alternating off/on rounds, the best of each kept (default 5)")],
        Run);

    private static int Run(Options options, Report report)
    {
        int rounds = options.Value("--rounds") is { } r ? int.Parse(r, System.Globalization.CultureInfo.InvariantCulture) : 5;
        using var work = new SmallOps();
        var plan = new Timing.Plan(rounds, MinSeconds: 1.0, MinRuns: 200, MaxRuns: 20_000);
        double off = double.MaxValue, on = double.MaxValue;
        for (int i = 0; i < rounds; i++)
        {
            off = Math.Min(off, Timing.Median(work.Iteration, plan).Seconds);
            using var session = Profiler.Start();
            on = Math.Min(on, Timing.Median(work.Iteration, plan).Seconds);
        }
        report.Note($"one iteration: a two-layer block on [16, 64], forward and backward, {SmallOps.OpsPerIteration} autograd ops (and their kernels, allocations and frees)");
        report.Add(new Record("small ops", "profiler off", 1 / off, "iterations/s") { Note = $"{off * 1e6:F1} µs an iteration, {off * 1e9 / SmallOps.OpsPerIteration:F0} ns an op" });
        report.Add(new Record("small ops", "recording", 1 / on, "iterations/s") { Note = $"{on * 1e6:F1} µs an iteration, {(on - off) * 1e9 / SmallOps.OpsPerIteration:F0} ns more an op" });
        return 0;
    }
}
