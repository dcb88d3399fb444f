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
        return (MedianOf([.. times]), times.Count);
    }

    /// <summary>The median of <paramref name="seconds"/> (sorted in place): the middle one, or the mean of the middle two.</summary>
    public static double MedianOf(double[] seconds)
    {
        Array.Sort(seconds);
        int h = seconds.Length / 2;
        return seconds.Length % 2 == 1 ? seconds[h] : (seconds[h - 1] + seconds[h]) / 2;
    }
}
