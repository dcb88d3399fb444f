using System.CommandLine;
using System.Globalization;
using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora plan: how long a context a LongLoRA step fits in a machine's memory, and what a step at a
/// given context holds and costs — from config.json alone, by the memory model `train` checks its runs
/// against (<see cref="StepMemory"/>) and the FLOP count `bench step` reports (<see cref="StepFlops"/>).
/// </summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "--config") { Description = "A Hugging Face model folder, or its config.json (no weights are read)", Required = true };
        var context = new Option<int?>("--context") { Description = "Tokens per row to break down (default: the model's max_position_embeddings)" }
            .Expect(v => v >= 2, "a number of tokens, at least 2");
        var loraR = new Option<int>("--lora-r") { Description = "LoRA rank", DefaultValueFactory = _ => 8 }.Expect(v => v >= 1, "a rank, at least 1");
        var dropout = new Option<float>("--lora-dropout") { Description = "LoRA dropout (each adapted layer keeps its own mask and dropped input)", DefaultValueFactory = _ => 0.05f }
            .Expect(v => v is >= 0 and < 1, "a number in [0, 1)");
        var targets = new Option<string>("--target-modules") { Description = "Modules with an adapter, comma-separated, or all-linear", DefaultValueFactory = _ => "q_proj,k_proj,v_proj,o_proj" };
        var saves = new Option<string>("--modules-to-save") { Description = "Modules trained in full: LongLoRA's embed_tokens,norm, or '' for plain LoRA", DefaultValueFactory = _ => "embed_tokens,norm" };
        var precision = new Option<string?>("--precision") { Description = "Frozen weights in f32, bf16 or f16 (default: f32 on cpu, bf16 on cuda); trained tensors and activations are float32" };
        var checkpointing = new Option<bool?>("--gradient-checkpointing") { Description = "Plan only with (true) or without (false) gradient checkpointing (default: both)" };
        var batch = new Option<int>("--batch") { Description = "Rows per batch", DefaultValueFactory = _ => 1 }.Expect(v => v >= 1, "a number of rows, at least 1");
        var sp = new Option<string>("--sp") { Description = "Sequence parallelism: none, ulysses or ring (as train's --sp)", DefaultValueFactory = _ => "none" };
        var spSize = new Option<int>("--sp-size")
        {
            Description = "Sequence-parallel ranks a row is split across (each holds T/K tokens' activations and every weight; memory, time and bytes are per rank)",
            DefaultValueFactory = _ => 1,
        }.Expect(v => v >= 1, "a number of ranks, at least 1");
        var dp = new Option<int>("--dp") { Description = "Data-parallel replicas (mpirun -np is --dp × --sp-size): they add the gradient all-reduce's bytes", DefaultValueFactory = _ => 1 }
            .Expect(v => v >= 1, "a number of replicas, at least 1");
        var s2 = new Option<bool>("--s2-attn") { Description = "S2-Attn while training (changes the FLOPs, not the memory)", DefaultValueFactory = _ => true };
        var groupRatio = new Option<double>("--group-ratio") { Description = "S2-Attn group size as a fraction of the row", DefaultValueFactory = _ => 0.25 }
            .Expect(v => v is > 0 and <= 1, "a fraction in (0, 1]");
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var memory = new Option<string?>("--memory") { Description = "Memory to fit in, e.g. 80GiB, 24GB (default on cpu: what this machine has available; required for cuda)" };
        var gpuMemory = new Option<string?>("--gpu-memory") { Description = "A GPU's memory to fit in, e.g. 80GB: --device cuda --memory 80GB" };
        var flops = new Option<string?>("--flops")
        {
            Description = "The rate a step runs at, e.g. 200T FLOP/s (default on cpu: a GEMM timed here × " +
                          $"{StepTime.CpuEfficiency.ToString(CultureInfo.InvariantCulture)}; for cuda, without it no time is given — " +
                          "an H100 SXM peaks at 989T dense bf16, an A100 at 312T, an RTX 4090 at 165T, and a LoRA step reaches a third to a half of that)",
        };
        var command = new Command("plan", "Predict a training step's peak memory and time, and the longest context that fits\n\n" +
            "Answers \"how long a context fits on my GPU?\" from config.json, with the model of memory rawlora train checks runs against\n" +
            "(validated against measured CPU steps to 15%); step time is an estimate from the FLOP count.\n\n" +
            "Examples:\n  rawlora plan --model ./Llama-2-7b-hf\n" +
            "  rawlora plan --model llama-2-7b/config.json --context 32768 --precision bf16 --device cuda --memory 80GiB --flops 400T\n" +
            "  rawlora plan --model ./Qwen3-0.6B --context 65536 --sp ulysses --sp-size 4 --device cuda --memory 24GiB\n" +
            "  rawlora plan --config llama-2-7b/config.json --sp ring --sp-size 8 --gpu-memory 80GB --gradient-checkpointing true")
        {
            model, context, loraR, dropout, targets, saves, precision, checkpointing, batch, sp, spSize, dp, s2, groupRatio, device, memory, gpuMemory, flops,
        };
        return command.NonEmpty(model).Runs(parse =>
        {
            string? perGpu = parse.GetValue(gpuMemory);
            if (perGpu is not null && (parse.GetValue(memory) is not null || parse.GetResult(device) is { Implicit: false }))
                throw new ArgumentException("--gpu-memory: it stands for --device cuda --memory; give it alone, without --device or --memory");
            var target = perGpu is not null ? Device.Cuda() : ParseDevice(parse.GetValue(device)!);
            var config = Config(parse.GetValue(model)!);
            var lora = new TrainOptions
            {
                LoraR = parse.GetValue(loraR), LoraDropout = parse.GetValue(dropout), TargetModules = parse.GetValue(targets)!, ModulesToSave = parse.GetValue(saves)!,
            }.Lora;
            CheckLora(config, lora);
            var shape = new StepShape
            {
                Config = config,
                Lora = lora,
                Tokens = parse.GetValue(context) ?? config.MaxPositionEmbeddings,
                Batch = parse.GetValue(batch),
                WeightDtype = parse.GetValue(precision) is { } p ? CliRun.ParseWeightDtype(p, "--precision") : target.IsCpu ? DType.F32 : DType.BF16,
                GroupRatio = parse.GetValue(s2) ? parse.GetValue(groupRatio) : 0,
                SequenceParallel = parse.GetValue(spSize),
                SequenceKind = SequenceKind(parse.GetValue(sp)!, parse.GetValue(spSize), config),
                DataParallel = parse.GetValue(dp),
                Device = target,
            };
            long budget = perGpu is not null ? Quantities.Bytes(perGpu, "--gpu-memory")
                : parse.GetValue(memory) is { } m ? Quantities.Bytes(m, "--memory")
                : target.IsCpu ? StepMemory.Available() ?? throw new ArgumentException("--memory: this machine does not say how much memory it has available; give it, e.g. --memory 16GiB")
                : throw new ArgumentException("--memory: give the GPU's memory for --device cuda, e.g. --memory 80GiB (no GPU is read)");
            double? rate = parse.GetValue(flops) is { } f ? Quantities.Rate(f, "--flops") : target.IsCpu ? StepTime.MeasureCpuGemm() * StepTime.CpuEfficiency : null;
            bool[] ways = parse.GetValue(checkpointing) is { } only ? [only] : [true, false];
            Print(parse.GetValue(model)!, shape, ways, budget, rate, rateGiven: parse.GetValue(flops) is not null);
        });
    }

    private static void Print(string source, StepShape shape, bool[] ways, long budget, double? rate, bool rateGiven)
    {
        var c = shape.Config;
        var lora = shape.Lora;
        Console.WriteLine($"{source}: {c.Family}, {c.NumLayers} layers, hidden {c.HiddenSize}, {c.NumHeads} heads ({c.NumKvHeads} kv), MLP {c.IntermediateSize}, vocabulary {c.VocabSize}");
        Console.WriteLine($"LoRA r {lora.R} on {string.Join(",", lora.TargetModules)}" + (lora.ModulesToSave.Count > 0 ? $", {string.Join(",", lora.ModulesToSave)} trained in full" : "") +
                          $"; dropout {lora.Dropout.ToString(CultureInfo.InvariantCulture)}; {shape.WeightDtype.TorchName()} frozen weights; batch {shape.Batch}; {shape.Device}" +
                          Ranks(shape));
        int k = shape.SequenceParallel;
        var fits = ways.Select(w => ContextFit.Longest(shape with { GradientCheckpointing = w }, budget)).ToArray();
        Console.WriteLine($"longest context in {CliRun.Bytes(budget)}{(k > 1 ? " a rank" : "")}: " + string.Join(", ", ways.Select((w, i) =>
            $"{(fits[i] > 0 ? $"{fits[i]:N0} tokens" + (k > 1 ? $" a row ({fits[i] / k:N0} a rank)" : "") : "none")} {(w ? "with" : "without")} gradient checkpointing")));
        Console.WriteLine();
        var plans = ways.Select(w => StepMemory.Estimate(shape with { GradientCheckpointing = w })).ToArray();
        var work = ways.Select(w => StepFlops.Of(shape with { GradientCheckpointing = w }).Total / shape.SequenceParallel).ToArray();
        string[] Row(string name, Func<int, string> cell) => [name, .. ways.Select((_, i) => cell(i))];
        var rows = new List<string[]>
        {
            Row($"weights ({shape.WeightDtype.TorchName()}, frozen)", i => CliRun.Bytes(plans[i].Weights)),
            Row("trained tensors + AdamW state", i => CliRun.Bytes(plans[i].TrainedState)),
            Row("gradients (trained, in flight)", i => CliRun.Bytes(plans[i].Gradients)),
            Row("activations kept for backward", i => CliRun.Bytes(plans[i].Activations)),
            Row("logits tile", i => BytesOrDash(plans[i].LogitsTile)),
            Row("attention workspace", i => BytesOrDash(plans[i].AttentionWorkspace)),
            Row("allocator slack", i => CliRun.Bytes(plans[i].Slack)),
            Row("peak", i => CliRun.Bytes(plans[i].Total) + (plans[i].Total > budget ? " (does not fit)" : "")),
            Row("the peak is in", i => plans[i].PeakIn),
            Row("step FLOPs", i => Flops(work[i])),
            Row("step time", i => rate is { } r ? Seconds(StepTime.Seconds(shape with { GradientCheckpointing = ways[i] }, r)) : "give --flops"),
        };
        SummaryTable.Print($"a step of {shape.Batch} × {shape.Tokens:N0} tokens" + (shape.SequenceParallel > 1 ? ", per rank" : ""),
                           ["", .. ways.Select(w => w ? "checkpointing" : "no checkpointing")], rows);
        if (k > 1 || shape.DataParallel > 1)
            PrintTraffic(shape, ways);
        Console.WriteLine();
        Console.WriteLine($"— : not held at the peak (the logits tile, {CliRun.Bytes(plans[0].TileSize)}, lives in the loss; the attention workspace, " +
                          $"{CliRun.Bytes(plans[0].WorkspaceSize)}, in attention's backward). Weights count whether mapped from the checkpoint " +
                          "(when it holds them in that dtype) or converted; train reports mapped ones apart (peak_tensor_bytes + mapped_weight_bytes).");
        if (rate is { } shown)
            Console.WriteLine($"Step time is an estimate: the FLOPs at {Flops(shown)}/s" +
                              (rateGiven ? " (--flops)." : $" (a GEMM timed on this CPU × {StepTime.CpuEfficiency.ToString(CultureInfo.InvariantCulture)}, the share a whole step reaches in bench step)."));
    }

    private static string Ranks(StepShape s)
    {
        string sp = $"sequence parallel ({s.SequenceKind.ToString().ToLowerInvariant()}) over {s.SequenceParallel} ranks (per rank below: T/{s.SequenceParallel} tokens' activations, every weight)";
        return (s.DataParallel, s.SequenceParallel) switch
        {
            (1, 1) => "",
            (_, 1) => $"; data parallel over {s.DataParallel} ranks",
            (1, _) => "; " + sp,
            _ => $"; {s.DataParallel * s.SequenceParallel} ranks: data parallel {s.DataParallel} × " + sp,
        };
    }

    /// <summary>The bytes a rank sends in the step (it receives as many), by what sends them (<see cref="StepTraffic"/>).</summary>
    private static void PrintTraffic(StepShape shape, bool[] ways)
    {
        var traffic = ways.Select(w => StepTraffic.Of(shape with { GradientCheckpointing = w })).ToArray();
        string sp = shape.SequenceKind.ToString().ToLowerInvariant();
        string[] Row(string name, Func<StepTraffic, double> cell) => [name, .. traffic.Select(t => BytesOrDash((long)cell(t)))];
        var rows = new List<string[]> { Row($"gradient all-reduce over {shape.DataParallel * shape.SequenceParallel} ranks", t => t.Gradients) };
        if (shape.SequenceParallel > 1)
        {
            rows.Add(Row($"{sp} forward", t => t.Forward));
            rows.Add(Row($"{sp} backward", t => t.Backward));
            rows.Add(Row($"{sp} forward recomputed", t => t.Recompute));
        }
        rows.Add(Row("all", t => t.Total));
        Console.WriteLine();
        SummaryTable.Print($"bytes a rank sends (and receives) in a step of {shape.Batch} × {shape.Tokens:N0} tokens; docs/distributed.md derives them",
                           ["", .. ways.Select(w => w ? "checkpointing" : "no checkpointing")], rows);
    }

    /// <summary>--sp as the planner's kind, refused where train would refuse it.</summary>
    private static SequenceParallel SequenceKind(string text, int ranks, ModelConfig c)
    {
        var kind = text.Trim().ToLowerInvariant() switch
        {
            "none" when ranks == 1 => SequenceParallel.None,
            "none" => throw new ArgumentException($"--sp-size {ranks}: say how the ranks share a row, --sp ulysses or --sp ring"),
            "ring" => SequenceParallel.Ring,
            "ulysses" => SequenceParallel.Ulysses,
            _ => throw new FormatException($"--sp: '{text}' is not one of none, ulysses, ring"),
        };
        if (kind == SequenceParallel.Ulysses && (c.NumHeads % ranks != 0 || (c.NumKvHeads % ranks != 0 && ranks % c.NumKvHeads != 0)))
            throw new ArgumentException($"--sp-size {ranks}: Ulysses shares heads among the ranks, and this model's {c.NumHeads} query heads and {c.NumKvHeads} KV heads " +
                                        "do not divide among them (query heads must divide by the ranks, KV heads divide or be divided by them); use --sp ring");
        return kind;
    }

    private static string BytesOrDash(long bytes) => bytes > 0 ? CliRun.Bytes(bytes) : "—";

    private static string Flops(double flops) => flops switch
    {
        >= 1e15 => $"{flops / 1e15:F2} PFLOP",
        >= 1e12 => $"{flops / 1e12:F2} TFLOP",
        >= 1e9 => $"{flops / 1e9:F2} GFLOP",
        _ => $"{flops / 1e6:F2} MFLOP",
    };

    private static string Seconds(double s) => s >= 1 ? $"{s:F2} s" : $"{s * 1e3:F1} ms";

    /// <summary>A model folder's config.json, or a config.json given itself.</summary>
    private static ModelConfig Config(string path) => File.Exists(path) ? ModelConfig.Load(path) : ModelFolder.Config(path);

    private static Device ParseDevice(string text) => text.Trim().ToLowerInvariant() switch
    {
        "cpu" => Device.Cpu,
        "cuda" => Device.Cuda(),
        _ => throw new FormatException($"--device: '{text}' is not one of cpu, cuda"),
    };

    /// <summary>What train refuses when it adds the adapter, refused here naming the flag.</summary>
    private static void CheckLora(ModelConfig config, LoraConfig lora)
    {
        if (lora.R > config.HiddenSize)
            throw new ArgumentException($"--lora-r: {lora.R} is past the model's hidden size ({config.HiddenSize})");
        string[] linears = [.. LoraConfig.AttentionProjections, .. LoraConfig.MlpProjections];
        if (lora.TargetModules.Count == 0 || !linears.Any(l => lora.Targets("model.layers.0." + l)))
            throw new ArgumentException($"--target-modules: '{string.Join(",", lora.TargetModules)}' names none of this model's linear layers ({string.Join(", ", linears)}, or {LoraConfig.AllLinear})");
        string[] savable = ["model.embed_tokens", "model.norm", "model.layers.0.input_layernorm", "model.layers.0.post_attention_layernorm"];
        if (lora.ModulesToSave.FirstOrDefault(m => !savable.Any(key => key.EndsWith(m, StringComparison.Ordinal))) is { } bad)
            throw new ArgumentException($"--modules-to-save: '{bad}' matches no embedding or norm of this model (expected embed_tokens, norm)");
    }
}
