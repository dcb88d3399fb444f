using System.CommandLine;
using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora train: a LongLoRA run. Every <see cref="TrainOptions"/> property is a flag (max_length →
/// --max-length) and a key of the --config JSON file; flags given on the command line win over the
/// file. Ctrl-C or SIGTERM while loading or tokenizing stops at once (nothing to save); during training
/// it finishes the step in flight, writes a checkpoint and exits (see <see cref="CliStop"/>). Under mpirun every rank
/// runs the command: data parallel, or with --sp ulysses|ring --sp-size K a DP × SP grid; rank 0 alone prints.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON file of these options (snake_case keys); flags override it" };
        var command = new Command("train", "Fine-tune a model for a longer context with LongLoRA (LoRA + trainable embedding and norms + S2-Attn)\n\n" +
            "Examples:\n  rawlora train --model ./llama --data books.jsonl --output run1 --max-length 8192 --max-steps 1000\n" +
            "  rawlora train --config train.json --resume\n  rawlora train --model ./qwen --data alpaca.jsonl --format sft --output sft1 --lr 2e-4\n" +
            "  mpirun -np 4 rawlora train --model ./llama --data books.jsonl --output run2 --max-length 65536 --sp ring --sp-size 2")
        {
            config,
        };
        var flags = typeof(TrainOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is not null)
            .Select(p => (Property: p, Option: FlagFor(p)))
            .ToList();
        foreach (var (_, option) in flags)
            command.Options.Add(option);

        return command.NonEmpty(config).Runs(parse =>
        {
            var json = parse.GetValue(config) is { } file
                ? JsonNode.Parse(TrainOptions.Load(file).ToJson())!.AsObject()
                : JsonNode.Parse(new TrainOptions().ToJson())!.AsObject();
            foreach (var (property, option) in flags)
                if (parse.GetResult(option) is { Implicit: false } result)
                    json[SnakeCase(property.Name)] = JsonSerializer.SerializeToNode(result.GetValueOrDefault<object?>(), TrainOptionsJson);
            var options = JsonSerializer.Deserialize<TrainOptions>(json.ToJsonString(), TrainOptionsJson)!;
            Preflight(options);
            var world = CliWorld.Join("train", options.Sp);
            if (world is not null)
                CliWorld.CheckSizes("train", world, options.Sp, options.SpSize, ModelFolder.Config(options.Model).NumHeads);
            bool prints = CliWorld.Prints(world);

            using var stop = new CliStop();
            using var progress = prints ? CliProgress.For(parse) : new CliProgress(quiet: true);
            var steps = new List<StepLog>();
            var tokenizing = new DataProgressBar(progress);
            using var trainer = new Trainer(options, s =>
            {
                steps.Add(s);
                progress.Update(s.Step, Status(s));
            }, progress.Message, tokenizing, stop.Token, world);
            tokenizing.Done();
            stop.Graceful = true;
            progress.Message($"data: {trainer.Data}");
            progress.Message($"model: {trainer.Model.Config.SourceName}, context {ContextExtension.Reach(trainer.Model.Config)} " +
                             $"(rope {trainer.Model.Config.Rope.Type.JsonName()}), {trainer.Model.TrainableParameters().Sum(p => p.Tensor.Numel):N0} trainable parameters");
            progress.Start(trainer.TotalSteps, "step", trainer.State.Step);
            bool finished = trainer.Run(stop.Token);
            progress.Done();
            if (prints)
                PrintSummary(trainer, steps, finished);
        });
    }

    /// <summary>NaN and Infinity pass through to <see cref="TrainOptions.Validate"/>, which names the flag.</summary>
    private static readonly JsonSerializerOptions TrainOptionsJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>What a run needs, checked before the model loads, so that one that cannot start fails at once and writes nothing.</summary>
    private static void Preflight(TrainOptions options)
    {
        options.Validate();
        try
        {
            _ = options.TargetDevice.Backend; // cuda:N starts CUDA here: a machine without the GPU fails now, not after loading
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"train: device (--device) is '{options.Device}', which nothing here serves: {e.Message}", e);
        }
        int width = ModelFolder.Config(options.Model).HiddenSize;
        if (options.LoraR > width)
            throw new ArgumentException($"train: lora_r (--lora-r) is {options.LoraR}, past the model's hidden size ({width}): no adapted layer has a rank above it");
        ModelFolder.Tokenizer(options.Model);
        TrainingData.Check(options.Data);
        OutputPaths.Folder(options.Output, "--output");
    }

    /// <summary>Most telling first: a narrow terminal's bar cuts the line from the end.</summary>
    private static string Status(StepLog s) =>
        $"loss {s.Loss:F4}{(s.Skipped ? " skipped (NaN/Inf)" : "")}  {s.TokensPerSecond:F0} tok/s  " +
        $"mem {CliRun.Bytes(s.PeakTensorBytes)} tensors, {CliRun.Bytes(s.ResidentBytes)} resident  lr {s.Lr:0.00e+00}  grad-norm {s.GradNorm:F3}";

    /// <summary>What the run came to and where its files are: the final loss from the whole log, speed and tensor peak from this session's steps.</summary>
    private static void PrintSummary(Trainer trainer, IReadOnlyList<StepLog> steps, bool finished)
    {
        double seconds = steps.Sum(s => s.Seconds);
        string[][] rows =
        [
            ["steps", $"{trainer.State.Step}/{trainer.TotalSteps} ({trainer.State.SkippedSteps} skipped)"],
            ["final loss", FinalLoss(trainer) is { } loss ? $"{loss:F4}" : "n/a"],
            ["mean tokens/s", seconds > 0 ? $"{steps.Sum(s => s.Tokens) / seconds:F0}" : "n/a"],
            ["peak tensor memory", CliRun.Bytes(steps.Count > 0 ? steps.Max(s => s.PeakTensorBytes) : null)],
            ["weights mapped from the checkpoint", CliRun.Bytes(steps.Count > 0 ? steps[^1].MappedWeightBytes : null)],
            ["peak resident memory", CliRun.Bytes(ProcessMemory.PeakResidentBytes)],
            ["adapter", finished ? trainer.AdapterDir : "not yet (stopped: run again with --resume)"],
            ["metrics", trainer.MetricsPath],
            ["plot", File.Exists(trainer.PlotPath) ? trainer.PlotPath : "not written"],
        ];
        SummaryTable.Print(finished ? "train: done" : $"train: stopped at step {trainer.State.Step}", ["", ""], rows);
    }

    private static double? FinalLoss(Trainer trainer) => File.Exists(trainer.MetricsPath)
        ? MetricsLog.Read(trainer.MetricsPath).LastOrDefault(s => double.IsFinite(s.Loss))?.Loss
        : null;

    private static Option FlagFor(PropertyInfo p)
    {
        var type = typeof(Option<>).MakeGenericType(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType);
        var option = (Option)Activator.CreateInstance(type, "--" + SnakeCase(p.Name).Replace('_', '-'), Array.Empty<string>())!;
        object? value = p.GetValue(Defaults);
        string shown = value switch { null => "", string[] { Length: 0 } => "", string[] a => string.Join(" ", a), string { Length: 0 } => "", bool b => b ? "true; --" + SnakeCase(p.Name).Replace('_', '-') + " false turns it off" : "false", _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)! };
        option.Description = p.GetCustomAttribute<DescriptionAttribute>()!.Description + (shown.Length > 0 ? $" [default: {shown}]" : "");
        if (p.PropertyType == typeof(string[]))
            option.AllowMultipleArgumentsPerToken = true;
        return option;
    }

    private static readonly TrainOptions Defaults = new();

    private static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
