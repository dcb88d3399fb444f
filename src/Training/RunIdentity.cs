using System.Globalization;

namespace RawLongLoRA.Training;

/// <summary>
/// What makes a run the one a checkpoint continues: the seed, the data (its <see cref="DataFingerprint"/>), the batch
/// (and the data-parallel ranks that share it), the row length, the LoRA options, the schedule and the total steps. A checkpoint keeps it in its
/// <see cref="TrainerState"/>, and --resume refuses a run that differs in any of them: its steps would not continue the
/// checkpoint's.
/// </summary>
public sealed record RunIdentity
{
    /// <summary>seed.</summary>
    public ulong Seed { get; init; }
    /// <summary>SHA-256 of every sample's ids and prompt length, in order.</summary>
    public string Data { get; init; } = "";
    /// <summary>batch_size.</summary>
    public int BatchSize { get; init; }
    /// <summary>Data-parallel ranks: each global batch holds batch_size rows for every one (1 for a single process).</summary>
    public int DataParallel { get; init; } = 1;
    /// <summary>grad_accum.</summary>
    public int GradAccum { get; init; }
    /// <summary>max_length.</summary>
    public int MaxLength { get; init; }
    /// <summary>lora_r, lora_alpha, lora_dropout, use_rslora, use_dora, target_modules and modules_to_save, as given.</summary>
    public string Lora { get; init; } = "";
    /// <summary>schedule, lr and warmup_steps.</summary>
    public string Schedule { get; init; } = "";
    /// <summary>The optimizer steps the run makes.</summary>
    public int TotalSteps { get; init; }

    /// <summary>
    /// The identity of a run with <paramref name="o"/> over data of fingerprint <paramref name="data"/> on
    /// <paramref name="dataParallel"/> data-parallel ranks.
    /// </summary>
    public static RunIdentity Of(TrainOptions o, string data, int totalSteps, int dataParallel = 1) => new()
    {
        Seed = o.Seed,
        Data = data,
        BatchSize = o.BatchSize,
        DataParallel = dataParallel,
        GradAccum = o.GradAccum,
        MaxLength = o.MaxLength,
        Lora = string.Create(CultureInfo.InvariantCulture,
            $"lora_r {o.LoraR}, lora_alpha {o.LoraAlpha}, lora_dropout {o.LoraDropout}, use_rslora {o.UseRslora}, use_dora {o.UseDora}, target_modules {string.Join(',', o.Lora.TargetModules)}, modules_to_save {string.Join(',', o.Lora.ModulesToSave)}"),
        Schedule = string.Create(CultureInfo.InvariantCulture, $"{o.Schedule.ToLowerInvariant()}, lr {o.Lr}, warmup_steps {o.WarmupSteps}"),
        TotalSteps = totalSteps,
    };

    /// <summary>
    /// What differs from <paramref name="run"/>, as "what: this one's vs run's" phrases joined by "; ", or null where
    /// nothing does.
    /// </summary>
    public string? Difference(RunIdentity run)
    {
        var differ = new List<string>();
        void Compare(string what, object saved, object now)
        {
            if (!Equals(saved, now))
                differ.Add($"{what} {Format(saved)} there, {Format(now)} here");
        }
        Compare("seed", Seed, run.Seed);
        if (Data != run.Data)
            differ.Add("the data differ (another tokenizer, other files or other samples)");
        Compare("batch_size", BatchSize, run.BatchSize);
        Compare("data-parallel ranks", DataParallel, run.DataParallel);
        Compare("grad_accum", GradAccum, run.GradAccum);
        Compare("max_length", MaxLength, run.MaxLength);
        // The option lists compare option by option, so the message names the one that changed.
        foreach (var (saved, now) in Options(Lora).Zip(Options(run.Lora)).Concat(Options(Schedule).Zip(Options(run.Schedule))))
            Compare(saved.Key, saved.Value, now.Value);
        Compare("total steps", TotalSteps, run.TotalSteps);
        return differ.Count == 0 ? null : string.Join("; ", differ);
    }

    private static string Format(object value) => Convert.ToString(value, CultureInfo.InvariantCulture)!;

    /// <summary>"lora_r 8, lora_alpha 16" as (lora_r, 8), (lora_alpha, 16); the schedule's name is its first.</summary>
    private static IEnumerable<(string Key, string Value)> Options(string list) =>
        list.Split(", ").Select(part => part.Split(' ', 2) is [var key, var value] ? (key, value) : ("schedule", part));
}
