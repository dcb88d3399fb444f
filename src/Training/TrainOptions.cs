using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Everything a LongLoRA run is told: the same names in a --config JSON file (snake_case) and on the
/// command line. Defaults follow LongLoRA's fine-tuning script where it has one (r 8, alpha 16,
/// dropout 0.05, q/k/v/o, embedding and norms trained, S2-Attn with groups of a quarter, lr 2e-5,
/// constant schedule after 20 warmup steps, gradient checkpointing) and Hugging Face's Trainer
/// otherwise (AdamW betas 0.9/0.999, eps 1e-8, clipping at 1.0).
/// </summary>
public sealed record TrainOptions
{
    /// <summary>model (--model): the Hugging Face model folder to extend.</summary>
    [Description("The Hugging Face model folder to extend.")]
    public string Model { get; init; } = "";

    /// <summary>
    /// data (--data): the training files (.txt: a file is a document; .jsonl), or folders of them, or a token cache
    /// folder.
    /// </summary>
    [Description("Training files: .txt (a file is a document) or .jsonl.")]
    public string[] Data { get; init; } = [];

    /// <summary>output (--output): the folder for checkpoints, metrics.jsonl, loss.png and the adapter.</summary>
    [Description("Where checkpoints, the log and the final adapter go.")]
    public string Output { get; init; } = "";

    /// <summary>
    /// format (--format): "pretrain" (every token a target) or "sft" (LongAlpaca jsonl, the prompt masked).
    /// </summary>
    [Description("\"pretrain\" (plain text, every token a target) or \"sft\" (LongAlpaca jsonl: instruction, input, output; the prompt masked).")]
    public string Format { get; init; } = "pretrain";

    /// <summary>text_field (--text-field): the jsonl field holding a document's text (pretrain format).</summary>
    [Description("The jsonl field holding a document's text in pretrain format.")]
    public string TextField { get; init; } = "text";

    /// <summary>data_cache (--data-cache): the token cache folder; null means output/data-cache.</summary>
    [Description("Folder of the tokenized data, reused while the data files, the tokenizer and the sample options are unchanged; defaults to <output>/data-cache.")]
    public string? DataCache { get; init; }

    /// <summary>max_length (--max-length): tokens per packed row, the context trained at.</summary>
    [Description("Tokens per packed row: the context trained at.")]
    public int MaxLength { get; init; } = 8192;

    /// <summary>
    /// context (--context): the context the model is stretched to by RoPE scaling; null means max_length.
    /// </summary>
    [Description("The context the model is stretched to by RoPE scaling; defaults to max_length.")]
    public int? Context { get; init; }

    /// <summary>
    /// rope_scaling (--rope-scaling): how the context is reached: "linear" (LongLoRA's), "dynamic" or "yarn".
    /// </summary>
    [Description("RoPE scaling kind used to reach context: linear (LongLoRA's), dynamic or yarn.")]
    public string RopeScaling { get; init; } = "linear";

    /// <summary>lora_r (--lora-r): the LoRA rank.</summary>
    [Description("LoRA rank r.")]
    public int LoraR { get; init; } = 8;
    /// <summary>lora_alpha (--lora-alpha): the update is scaled by alpha / r (alpha / √r with rsLoRA).</summary>
    [Description("LoRA alpha; the update is scaled by alpha/r (alpha/√r with rsLoRA).")]
    public double LoraAlpha { get; init; } = 16;
    /// <summary>lora_dropout (--lora-dropout): dropout on the adapter's input while training.</summary>
    [Description("Dropout on the adapter's input while training.")]
    public float LoraDropout { get; init; } = 0.05f;
    /// <summary>use_rslora (--use-rslora): scale by alpha / √r.</summary>
    [Description("rsLoRA: scale by alpha/√r.")]
    public bool UseRslora { get; init; }
    /// <summary>use_dora (--use-dora): DoRA, a trained magnitude per output row.</summary>
    [Description("DoRA: a trained magnitude per output row.")]
    public bool UseDora { get; init; }

    /// <summary>target_modules (--target-modules): comma-separated linear layer names, or "all-linear".</summary>
    [Description("Comma-separated module names, or all-linear.")]
    public string TargetModules { get; init; } = "q_proj,k_proj,v_proj,o_proj";

    /// <summary>
    /// modules_to_save (--modules-to-save): base modules trained in full; LongLoRA's "+" is "embed_tokens,norm",
    /// empty for plain LoRA.
    /// </summary>
    [Description("Base modules trained in full (PEFT's modules_to_save); LongLoRA's \"+\" is embed_tokens,norm. Empty for plain LoRA.")]
    public string ModulesToSave { get; init; } = "embed_tokens,norm";

    /// <summary>
    /// s2_attn (--s2-attn): shifted sparse attention while training (evaluation and generation use full attention).
    /// </summary>
    [Description("Shifted sparse attention during training (evaluation and generation always use full attention).")]
    public bool S2Attn { get; init; } = true;

    /// <summary>group_ratio (--group-ratio): the S2-Attn group size as a fraction of max_length.</summary>
    [Description("S2-Attn group size as a fraction of max_length.")]
    public double GroupRatio { get; init; } = 0.25;

    /// <summary>batch_size (--batch-size): packed rows per batch.</summary>
    [Description("Packed rows per batch.")]
    public int BatchSize { get; init; } = 1;
    /// <summary>
    /// sp (--sp): sequence parallelism under mpirun: "none", "ulysses" (all-to-all between sequence and head shards) or
    /// "ring" (key/value blocks passed around the group).
    /// </summary>
    [Description("Sequence parallelism under mpirun: none, ulysses (all-to-all between sequence and head shards) or ring (key/value blocks passed around the group).")]
    public string Sp { get; init; } = "none";

    /// <summary>
    /// sp_size (--sp-size): ranks that share each row under --sp; the ranks of mpirun -np N form N / sp_size
    /// data-parallel groups.
    /// </summary>
    [Description("Ranks that share each row under --sp; mpirun's N ranks form N / sp-size data-parallel replicas.")]
    public int SpSize { get; init; } = 1;

    /// <summary>
    /// ring_layout (--ring-layout): how --sp ring cuts rows: "zigzag" (rank i holds chunks i and 2N−1−i, balanced
    /// causal work) or "plain" (rank i holds chunk i).
    /// </summary>
    [Description("How --sp ring cuts rows: zigzag (rank i holds chunks i and 2N-1-i: balanced causal work) or plain (chunk i).")]
    public string RingLayout { get; init; } = "zigzag";

    /// <summary>grad_accum (--grad-accum): batches per optimizer step.</summary>
    [Description("Batches per optimizer step (gradient accumulation).")]
    public int GradAccum { get; init; } = 1;

    /// <summary>
    /// max_steps (--max-steps): optimizer steps to run; null runs <see cref="Epochs"/> passes over the data.
    /// </summary>
    [Description("Optimizer steps to run; unset runs epochs passes over the data.")]
    public int? MaxSteps { get; init; }

    /// <summary>epochs (--epochs): passes over the data when max_steps is not set.</summary>
    [Description("Passes over the data when max_steps is not set.")]
    public int Epochs { get; init; } = 1;
    /// <summary>lr (--lr): the peak learning rate.</summary>
    [Description("Peak learning rate.")]
    public float Lr { get; init; } = 2e-5f;
    /// <summary>warmup_steps (--warmup-steps): steps of linear warmup from 0.</summary>
    [Description("Steps of linear warmup from 0.")]
    public int WarmupSteps { get; init; } = 20;

    /// <summary>schedule (--schedule): the lr after warmup: "constant" (LongLoRA's), "cosine" or "linear".</summary>
    [Description("constant (after warmup, LongLoRA's), cosine or linear.")]
    public string Schedule { get; init; } = "constant";

    /// <summary>
    /// weight_decay (--weight-decay): AdamW's decoupled weight decay, of all trained tensors but biases, norms and the
    /// embedding (<see cref="AdamWOptions.ExceptBiasesNormsEmbedding"/>).
    /// </summary>
    [Description("AdamW's decoupled weight decay; biases and norms are spared, as in transformers' Trainer, and so is the embedding.")]
    public float WeightDecay { get; init; }
    /// <summary>adam_beta1 (--adam-beta1): AdamW's β1.</summary>
    [Description("AdamW beta1.")]
    public float AdamBeta1 { get; init; } = 0.9f;
    /// <summary>adam_beta2 (--adam-beta2): AdamW's β2.</summary>
    [Description("AdamW beta2.")]
    public float AdamBeta2 { get; init; } = 0.999f;
    /// <summary>adam_eps (--adam-eps): AdamW's ε.</summary>
    [Description("AdamW epsilon.")]
    public float AdamEps { get; init; } = 1e-8f;

    /// <summary>
    /// max_grad_norm (--max-grad-norm): clip the gradients to this global L2 norm; 0 does not clip.
    /// </summary>
    [Description("Clip gradients to this global L2 norm (0: no clipping).")]
    public float MaxGradNorm { get; init; } = 1f;

    /// <summary>seed (--seed): one seed for the adapter's init, dropout and the data order.</summary>
    [Description("One seed for the adapter's init, dropout and the data order.")]
    public ulong Seed { get; init; } = 42;

    /// <summary>
    /// gradient_checkpointing (--gradient-checkpointing): recompute each decoder layer in backward instead of keeping
    /// its activations.
    /// </summary>
    [Description("Recompute each decoder layer in backward instead of keeping its activations.")]
    public bool GradientCheckpointing { get; init; } = true;

    /// <summary>
    /// weight_dtype (--weight-dtype): frozen weights kept in "f32", "bf16" or "f16" (trained tensors are float32).
    /// </summary>
    [Description("Frozen weights kept in f32, bf16 or f16 (trained tensors are float32 always).")]
    public string WeightDtype { get; init; } = "f32";

    /// <summary>
    /// device (--device): where the model is loaded and the step runs — "cpu", "cuda:N", or "privateuseone:N" (a
    /// backend registered from outside the library).
    /// </summary>
    [Description("Where the model is loaded and every step runs: cpu, cuda:N, or privateuseone:N (an outside backend).")]
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// precision (--precision): "fp32", or "bf16" to run the forward and backward inside an
    /// <see cref="Autocast"/> bf16 scope (GEMMs on bfloat16-rounded operands, float32 sums).
    /// </summary>
    [Description("GEMM compute precision: fp32, or bf16 (bfloat16 operands, float32 sums; weights, gradients and optimizer state stay float32).")]
    public string Precision { get; init; } = "fp32";

    /// <summary>
    /// save_steps (--save-steps): a checkpoint every this many steps; 0 writes one only at the end and when stopped.
    /// </summary>
    [Description("Write a checkpoint every this many steps (0: only at the end and when stopped).")]
    public int SaveSteps { get; init; } = 200;

    /// <summary>save_total_limit (--save-total-limit): checkpoints kept; older ones are deleted.</summary>
    [Description("Checkpoints kept; older ones are deleted.")]
    public int SaveTotalLimit { get; init; } = 2;

    /// <summary>logging_steps (--logging-steps): log every this many steps.</summary>
    [Description("Log every this many steps.")]
    public int LoggingSteps { get; init; } = 1;

    /// <summary>
    /// max_bad_steps (--max-bad-steps): steps in a row with a NaN/Inf loss or gradient that stop the run.
    /// </summary>
    [Description("Steps in a row with a NaN/Inf loss or gradient that stop the run.")]
    public int MaxBadSteps { get; init; } = 5;

    /// <summary>
    /// memory_check (--memory-check): refuse a step that would not fit in the memory available (an estimate).
    /// </summary>
    [Description("Refuse a max_length × batch_size whose step would need more memory than the machine has available (an estimate; false skips the check).")]
    public bool MemoryCheck { get; init; } = true;

    /// <summary>resume (--resume): continue from the newest checkpoint in output.</summary>
    [Description("Continue from the newest checkpoint in output.")]
    public bool Resume { get; init; }

    /// <summary>
    /// overwrite (--overwrite): start again in an output folder that holds a run (deletes only what a run writes).
    /// </summary>
    [Description("Start again in an output folder that holds a run: deletes its checkpoint-*, adapter, metrics.jsonl, loss.png and train_options.json, nothing else.")]
    public bool Overwrite { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        RespectNullableAnnotations = true,
    };

    /// <summary>Reads a --config file; bad JSON, an unknown key or a wrong type names the file and the key.</summary>
    public static TrainOptions Load(string path)
    {
        if (Directory.Exists(path))
            throw new FileNotFoundException($"{path}: is a folder; expected a JSON file of training options", path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: training config not found", path);
        try
        {
            return JsonSerializer.Deserialize<TrainOptions>(File.ReadAllText(path), Json)
                   ?? throw new FormatException($"{path}: expected a JSON object of training options, found null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: {Explain(e)}");
        }
    }

    /// <summary>A JSON error as whoever wrote the file reads it: the key and what it must hold, not a .NET type.</summary>
    private static string Explain(JsonException e)
    {
        if (e.InnerException is JsonException)
            return $"not valid JSON (line {e.LineNumber + 1}): {FirstSentence(e.Message)}";
        if (e.Path is not { Length: > 2 } path)
            return "expected a JSON object of training options";
        string field = path[2..], key = field.Split('[', '.')[0];
        var property = typeof(TrainOptions).GetProperties().FirstOrDefault(p => p.SetMethod is not null && Json.PropertyNamingPolicy!.ConvertName(p.Name) == key);
        return property is null
            ? $"{field}: unknown key; the keys are rawlora train's flags in snake_case (lora_r for --lora-r), listed by rawlora train --help"
            : $"{field}: expected {ValueWords.Of(property.PropertyType)}";
    }

    /// <summary>The options as a --config JSON file (snake_case keys) that <see cref="Load"/> reads back.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The LoRA config these options describe.</summary>
    [JsonIgnore]
    public LoraConfig Lora => new()
    {
        R = LoraR,
        Alpha = LoraAlpha,
        Dropout = LoraDropout,
        UseRsLora = UseRslora,
        UseDora = UseDora,
        TargetModules = Split(TargetModules),
        ModulesToSave = Split(ModulesToSave),
    };

    /// <summary>S2-Attn's group size for rows of <see cref="MaxLength"/> tokens (0 when off).</summary>
    [JsonIgnore]
    public int GroupSize => S2Attn ? (int)Math.Round(MaxLength * GroupRatio) : 0;

    /// <summary>Throws naming the option (its --config key and its flag) when a value cannot be used.</summary>
    public void Validate()
    {
        Require(Model.Length > 0, "model", "is required (a Hugging Face model folder)");
        Require(Data.Length > 0, "data", "is required (one or more .txt or .jsonl files)");
        Require(Data.All(d => !string.IsNullOrWhiteSpace(d)), "data", "holds an empty path; expected .txt or .jsonl files or folders of them");
        Require(Output.Length > 0, "output", "is required (a folder for checkpoints and the adapter)");
        Require(Format is "pretrain" or "sft", "format", $"is '{Format}'; expected pretrain or sft");
        Require(TextField.Length > 0, "text_field", "is empty; expected the jsonl field holding a document's text");
        Require(MaxLength >= 2, "max_length", "must be at least 2");
        Require(Context is null || Context >= MaxLength, "context", $"must be at least max_length ({MaxLength})");
        Require(RopeTypes.TryParse(RopeScaling, out var kind) && ContextExtension.Kinds.Contains(kind), "rope_scaling",
                $"is '{RopeScaling}'; expected {string.Join(", ", ContextExtension.Kinds.Select(k => k.JsonName()))}");
        Require(LoraR >= 1, "lora_r", "must be at least 1");
        Require(LoraAlpha > 0 && double.IsFinite(LoraAlpha), "lora_alpha", "must be a positive number");
        Require(LoraDropout is >= 0 and < 1, "lora_dropout", "must be in [0, 1)");
        Require(Lora.TargetModules.Count > 0, "target_modules", "is empty; expected module names such as q_proj,k_proj,v_proj,o_proj, or all-linear");
        Require(!S2Attn || GroupRatio is > 0 and <= 1, "group_ratio", "must be in (0, 1]");
        Require(!S2Attn || GroupSize >= 2 && GroupSize % 2 == 0 && MaxLength % GroupSize == 0, "group_ratio",
                $"gives S2-Attn groups of {GroupSize} tokens; they must be even and divide max_length ({MaxLength})");
        Require(BatchSize >= 1, "batch_size", "must be at least 1");
        Require(GradAccum >= 1, "grad_accum", "must be at least 1");
        Require(SpKind is not null, "sp", $"is '{Sp}'; expected none, ulysses or ring");
        Require(SpSize >= 1, "sp_size", "must be at least 1");
        Require(SpSize == 1 || SpKind is not (null or Distributed.SequenceParallel.None), "sp_size", $"is {SpSize}, but sp is none; give --sp ulysses or --sp ring to share rows among ranks");
        Require(RingLayout is "zigzag" or "plain", "ring_layout", $"is '{RingLayout}'; expected zigzag or plain");
        Require(MaxSteps is null || MaxSteps >= 1, "max_steps", "must be at least 1");
        Require(Epochs >= 1, "epochs", "must be at least 1");
        Require(Lr > 0 && float.IsFinite(Lr), "lr", "must be a positive number");
        Require(WarmupSteps >= 0, "warmup_steps", "must not be negative");
        Require(LrSchedule.Names.Contains(Schedule, StringComparer.OrdinalIgnoreCase), "schedule", $"is '{Schedule}'; expected {string.Join(", ", LrSchedule.Names)}");
        Require(WeightDecay >= 0 && float.IsFinite(WeightDecay), "weight_decay", "must be a number, not negative");
        Require(AdamBeta1 is >= 0 and < 1, "adam_beta1", "must be in [0, 1)");
        Require(AdamBeta2 is >= 0 and < 1, "adam_beta2", "must be in [0, 1)");
        Require(AdamEps >= 0 && float.IsFinite(AdamEps), "adam_eps", "must be a number, not negative");
        Require(MaxGradNorm >= 0, "max_grad_norm", "must not be negative");
        Require(SaveSteps >= 0, "save_steps", "must not be negative");
        Require(SaveTotalLimit >= 1, "save_total_limit", "must be at least 1");
        Require(LoggingSteps >= 1, "logging_steps", "must be at least 1");
        Require(MaxBadSteps >= 1, "max_bad_steps", "must be at least 1");
        if (Overwrite && Resume)
            throw new ArgumentException("train: overwrite and resume (--overwrite, --resume) contradict each other; give one");
        Require(WeightDtype is "f32" or "bf16" or "f16", "weight_dtype", $"is '{WeightDtype}'; expected f32, bf16 or f16");
        Require(RawLongLoRA.Device.TryParse(Device, out _), "device", $"is '{Device}'; expected cpu, cuda:N or privateuseone:N");
        Require(PrecisionNames.Parse(Precision) is not null, "precision", $"is '{Precision}'; expected fp32 or bf16");
        Lora.Validate();
    }

    /// <summary>The device <see cref="Device"/> names (the CPU where it names none: <see cref="Validate"/> refuses those).</summary>
    [JsonIgnore]
    public RawLongLoRA.Device TargetDevice => RawLongLoRA.Device.TryParse(Device, out var d) ? d : RawLongLoRA.Device.Cpu;

    /// <summary>The sequence parallelism <see cref="Sp"/> names, or null where it names none.</summary>
    [JsonIgnore]
    public Distributed.SequenceParallel? SpKind => Sp switch
    {
        "none" => Distributed.SequenceParallel.None,
        "ulysses" => Distributed.SequenceParallel.Ulysses,
        "ring" => Distributed.SequenceParallel.Ring,
        _ => null,
    };

    /// <summary>Whether <see cref="RingLayout"/> is zig-zag.</summary>
    [JsonIgnore]
    public bool RingZigZag => RingLayout != "plain";

    /// <summary>The dtype <see cref="WeightDtype"/> names.</summary>
    [JsonIgnore]
    public DType WeightDType => WeightDtype switch { "bf16" => DType.BF16, "f16" => DType.F16, _ => DType.F32 };

    /// <summary>The <see cref="RawLongLoRA.Precision"/> that <see cref="Precision"/> names (fp32 where unknown: <see cref="Validate"/> refuses those).</summary>
    [JsonIgnore]
    public Precision ComputePrecision => PrecisionNames.Parse(Precision) ?? RawLongLoRA.Precision.F32;

    /// <see cref="RopeScaling"/> as a <see cref="RopeType"/> (linear where the name is unknown:
    /// <see cref="Validate"/> refuses those).
    [JsonIgnore]
    public RopeType RopeKind => RopeTypes.TryParse(RopeScaling, out var kind) ? kind : RopeType.Linear;

    private static void Require(bool ok, string field, string message)
    {
        if (!ok)
            throw new ArgumentException($"train: {field} (--{field.Replace('_', '-')}) {message}");
    }

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static string FirstSentence(string message) => message.Split(" Path:")[0].TrimEnd('.');
}
