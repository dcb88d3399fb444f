namespace RawLongLoRA.Training;

/// <summary>The shapes of <see cref="LrSchedule"/> after warmup, by transformers' names.</summary>
public enum LrScheduleKind
{
    /// <summary>Linear warmup, then the peak lr: get_constant_schedule_with_warmup, LongLoRA's choice.</summary>
    Constant,

    /// <summary>Linear warmup, then half a cosine down to MinLrRatio · peak: get_cosine_schedule_with_warmup (get_cosine_with_min_lr_schedule_with_warmup when the ratio is not 0).</summary>
    Cosine,

    /// <summary>Linear warmup, then straight down to 0 at the total: get_linear_schedule_with_warmup.</summary>
    Linear,
}

/// <summary>
/// The learning rate of each optimizer step, with Hugging Face transformers' formulas so a run can be
/// compared with one made by its Trainer. Steps count from 0, as its LambdaLR does: the first update of a
/// run with warmup uses lr 0. Past <see cref="TotalSteps"/> the formulas run on unchanged, as in
/// transformers (linear stays at 0; the cosine climbs again), which a run that stops at its total never sees.
/// </summary>
public sealed record LrSchedule
{
    /// <summary>The names <see cref="Parse"/> takes, in <see cref="LrScheduleKind"/> order.</summary>
    public static readonly IReadOnlyList<string> Names = ["constant", "cosine", "linear"];

    /// <summary>
    /// A schedule rising linearly from 0 to <paramref name="peakLr"/> over <paramref name="warmupSteps"/>, then
    /// shaped by <paramref name="kind"/> towards <paramref name="totalSteps"/>; <paramref name="minLrRatio"/> is the
    /// cosine's floor as a fraction of the peak.
    /// </summary>
    public LrSchedule(LrScheduleKind kind, float peakLr, int warmupSteps, int totalSteps, float minLrRatio = 0f)
    {
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "lr schedule: unknown kind");
        if (!(peakLr >= 0) || float.IsInfinity(peakLr))
            throw new ArgumentOutOfRangeException(nameof(peakLr), peakLr, "lr schedule: the peak lr must be finite and not negative");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(totalSteps);
        if (!(minLrRatio is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(minLrRatio), minLrRatio, "lr schedule: the min lr ratio must lie in [0, 1]");
        if (minLrRatio != 0 && kind != LrScheduleKind.Cosine)
            throw new ArgumentException($"lr schedule: a min lr ratio ({minLrRatio}) applies only to the cosine schedule, not {Names[(int)kind]}", nameof(minLrRatio));
        (Kind, PeakLr, WarmupSteps, TotalSteps, MinLrRatio) = (kind, peakLr, warmupSteps, totalSteps, minLrRatio);
    }

    /// <summary>The shape after warmup.</summary>
    public LrScheduleKind Kind { get; }
    /// <summary>The lr warmup reaches.</summary>
    public float PeakLr { get; }
    /// <summary>Steps of linear warmup from 0.</summary>
    public int WarmupSteps { get; }

    /// <summary>Where linear reaches 0 and the cosine its minimum; the constant schedule ignores it.</summary>
    public int TotalSteps { get; }

    /// <summary>The cosine's floor as a fraction of the peak (0: down to 0).</summary>
    public float MinLrRatio { get; }

    /// <summary>A schedule by name ("constant", "cosine" or "linear", any case); another name throws listing them.</summary>
    public static LrSchedule Parse(string name, float peakLr, int warmupSteps, int totalSteps, float minLrRatio = 0f)
    {
        int i = Names.ToList().FindIndex(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
        if (i < 0)
            throw new ArgumentException($"unknown lr schedule '{name}'; expected one of: {string.Join(", ", Names)}", nameof(name));
        return new LrSchedule((LrScheduleKind)i, peakLr, warmupSteps, totalSteps, minLrRatio);
    }

    /// <summary>The lr of the update that follows <paramref name="step"/> completed updates.</summary>
    public float At(int step) => (float)(PeakLr * Factor(step));

    /// <summary>transformers' lr_lambda: the multiplier of the peak lr, in double as there.</summary>
    public double Factor(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps)
            return (double)step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            LrScheduleKind.Constant => 1.0,
            LrScheduleKind.Linear => Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            _ => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 0.5 * 2.0 * progress)) * (1 - MinLrRatio) + MinLrRatio),
        };
    }
}
