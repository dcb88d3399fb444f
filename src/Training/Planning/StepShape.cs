using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The training step a plan is for: the model's shape, what trains, how many tokens, and how the step
/// runs. <c>rawlora train</c> makes one from its options, <c>rawlora plan</c> from its flags; the memory
/// model (<see cref="StepMemory"/>) and the FLOP count (<see cref="StepFlops"/>) read only this.
/// </summary>
public sealed record StepShape
{
    /// <summary>The model's architecture (hidden size, layers, heads, vocabulary, tied head).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>What trains: the adapter's rank, targets, dropout, DoRA, and modules_to_save.</summary>
    public required LoraConfig Lora { get; init; }

    /// <summary>Tokens per row: the context trained at (train's max_length).</summary>
    public required int Tokens { get; init; }

    /// <summary>Rows per batch.</summary>
    public int Batch { get; init; } = 1;

    /// <summary>The dtype frozen weight matrices are kept in (trained tensors are float32 always).</summary>
    public DType WeightDtype { get; init; } = DType.F32;

    /// <summary>Each decoder layer recomputed in backward instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; init; } = true;

    /// <summary>S2-Attn's group as a fraction of the row; 0 for full causal attention. Changes FLOPs, not memory.</summary>
    public double GroupRatio { get; init; } = 0.25;

    /// <summary>
    /// Ranks a row's tokens are split across by sequence parallelism (Ulysses or Ring): each holds the
    /// activations of Tokens / K of them and a replica of every weight.
    /// </summary>
    public int SequenceParallel { get; init; } = 1;

    /// <summary>How the sequence-parallel ranks attend across their shards: what they send and hold for it (None without sequence parallelism).</summary>
    public Distributed.SequenceParallel SequenceKind { get; init; } = Distributed.SequenceParallel.None;

    /// <summary>Data-parallel replicas, each of <see cref="Batch"/> rows: they change the traffic, not a rank's memory.</summary>
    public int DataParallel { get; init; } = 1;

    /// <summary>Where the step runs: the attention workspace and the allocator's slack differ.</summary>
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>Tokens one rank holds activations for: batch × ⌈tokens / K⌉.</summary>
    public long RankTokens => Batch * (((long)Tokens + SequenceParallel - 1) / SequenceParallel);

    /// <summary>
    /// The step <c>rawlora train</c> will run with these options on one rank of <paramref name="ranks"/> (mpirun's
    /// -np; 1 for one process): a row's tokens split across sp_size of them, the groups they form data-parallel replicas.
    /// </summary>
    public static StepShape Of(ModelConfig config, TrainOptions o, int ranks = 1) => new()
    {
        Config = config,
        Lora = o.Lora,
        Tokens = o.MaxLength,
        Batch = o.BatchSize,
        WeightDtype = o.WeightDType,
        GradientCheckpointing = o.GradientCheckpointing,
        GroupRatio = o.S2Attn ? o.GroupRatio : 0,
        SequenceParallel = o.SpSize,
        SequenceKind = o.SpKind ?? Distributed.SequenceParallel.None,
        DataParallel = Math.Max(1, ranks / o.SpSize),
    };
}
