using System.Diagnostics;

namespace RawLongLoRA.Bench;

/// <summary>How every verb times a piece of work (the Python peers follow the same rule).</summary>
public static class Timing
{
    /// <summary>
    /// Per round: at least MinRuns runs and MinSeconds of them, at most MaxRuns. Verbs alternate rounds
    /// of ours and the peer's and keep each side's best round.
    /// </summary>
    public sealed record Plan(int Rounds, double MinSeconds, int MinRuns = 5, int MaxRuns = 200);

    /// <summary>
    /// Median seconds of run() after one warm-up call, and how many runs it took. The median, not the
    /// mean, so a run interrupted by another process does not count. <paramref name="clock"/> (seconds) replaces the
    /// wall clock for each run, e.g. the process's CPU time; the plan's MinSeconds stays wall time.
    /// </summary>
    public static (double Seconds, int Runs) Median(Action run, Plan plan, Func<double>? clock = null)
    {
        run();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < plan.MaxRuns && (times.Count < plan.MinRuns || total.Elapsed.TotalSeconds < plan.MinSeconds))
        {
            long t0 = Stopwatch.GetTimestamp();
            double c0 = clock?.Invoke() ?? 0;
            run();
            times.Add(clock is null ? Stopwatch.GetElapsedTime(t0).TotalSeconds : clock() - c0);
        }
        times.Sort();
        int h = times.Count / 2;
        return (times.Count % 2 == 1 ? times[h] : (times[h - 1] + times[h]) / 2, times.Count);
    }
}
