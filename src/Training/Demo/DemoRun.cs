using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>What the demo is told: where to write, how long to fine-tune, how many passkey trials per depth.</summary>
internal sealed record DemoOptions
{
    public required string Output { get; init; }

    /// <summary>A base model folder to use instead of the shipped one.</summary>
    public string? Base { get; init; }

    public int Steps { get; init; } = 500;
    public int Batch { get; init; } = 4;
    public float Lr { get; init; } = 4e-3f;
    public int Trials { get; init; } = 4;
    public int PerplexityDocuments { get; init; } = 8;
    public ulong Seed { get; init; } = 1;

    /// <summary>The GEMMs' precision for every row: the evaluations and the fine-tuning runs.</summary>
    public Precision Precision { get; init; } = Precision.F32;

    /// <summary>The context the base is stretched to: 4 × its 256.</summary>
    public int Context { get; init; } = 4 * DemoBase.Context;
}

/// <summary>One row of the demo's table.</summary>
internal sealed record DemoRow(string Name, string Rope, string Attention, double Passkey, double[] PasskeyByDepth, double Perplexity,
                             double? StepSeconds, [property: System.Text.Json.Serialization.JsonPropertyName("peak_mib")] double? PeakMiB, string? Adapter);

/// <summary>
/// The LongLoRA demo: the shipped tiny base (context 256) at 4× its context — (a) as is, (b) linear
/// position interpolation, (c) YaRN, (d) LongLoRA fine-tuning (S2-Attn + LoRA + trainable embedding
/// and norms) with the better of (b) and (c), (e) the same fine-tuning with full attention — each
/// with passkey accuracy and perplexity at 4×, and for (d) and (e) the time per step and peak memory.
/// The fine-tuning runs are ordinary `rawlora train` runs (their adapters in PEFT format).
/// </summary>
internal static class DemoRun
{
    /// <summary>What a demo writes into its folder (for OutputFolder.Claim).</summary>
    public static readonly IReadOnlyList<string> Written = ["base", "data", "longlora-s2", "longlora-full", "demo.json", "passkey.png", "perplexity.png"];

    public static IReadOnlyList<DemoRow> Run(DemoOptions o, Action<string> say, Action<StepLog>? onStep = null, CancellationToken stop = default)
    {
        using var precision = Autocast.Scope(o.Precision);
        string baseDir = o.Base ?? Path.Combine(o.Output, "base");
        if (o.Base is null)
            ShippedBase.ExtractTo(baseDir);
        say($"base: {baseDir} (tiny Llama, context {DemoBase.Context}); evaluating at {o.Context}, GEMMs at {o.Precision.Name()}");

        var rows = new List<DemoRow>();
        using (var model = CausalLM.Load(baseDir))
        {
            double at256 = DemoEvaluation.Passkey(model, DemoBase.Context, o.Trials, o.Seed + 7).Overall;
            say($"sanity: the base retrieves {at256:P0} of passkeys at its own context {DemoBase.Context}");
            rows.Add(Evaluate("(a) as is", "none", "—", model, o, null, null, null));
            say(Line(rows[0]));
        }
        foreach (var (name, kind) in new[] { ("(b) position interpolation", RopeType.Linear), ("(c) YaRN", RopeType.Yarn) })
        {
            using var model = CausalLM.Load(baseDir);
            model.ExtendContext(o.Context, kind);
            rows.Add(Evaluate(name, kind.JsonName(), "—", model, o, null, null, null));
            say(Line(rows[^1]));
        }
        var rope = rows[2].Passkey > rows[1].Passkey || rows[2].Passkey == rows[1].Passkey && rows[2].Perplexity < rows[1].Perplexity ? RopeType.Yarn : RopeType.Linear;
        say($"fine-tuning with {rope.JsonName()} scaling, the better of the two");
        string data = WriteTrainingData(o);

        foreach (var (name, s2) in new[] { ("(d) LongLoRA, S2-Attn", true), ("(e) LoRA+, full attention", false) })
        {
            string run = Path.Combine(o.Output, s2 ? "longlora-s2" : "longlora-full");
            var options = new TrainOptions
            {
                Model = baseDir, Data = [data], Output = run, MaxLength = o.Context, Context = o.Context, RopeScaling = rope.JsonName(),
                S2Attn = s2, LoraDropout = 0, Lr = o.Lr, WarmupSteps = 10, BatchSize = o.Batch, MaxSteps = o.Steps,
                GradientCheckpointing = false, SaveSteps = 0, LoggingSteps = 1, Seed = o.Seed, Precision = o.Precision.Name(),
            };
            var times = new List<double>();
            Storage.ResetPeak();
            long before = Storage.LiveBytes;
            using var trainer = new Trainer(options, s =>
            {
                times.Add(s.Seconds);
                onStep?.Invoke(s);
            });
            say($"{name}: {o.Steps} steps of {o.Batch} × {o.Context} tokens ...");
            if (!trainer.Run(stop))
                throw new OperationCanceledException("demo: stopped");
            double peak = (Storage.PeakBytes - before) / 1048576.0;
            trainer.Model.Eval();
            rows.Add(Evaluate(name, rope.JsonName(), s2 ? $"S2 (G = {o.Context / 4})" : "full", trainer.Model, o,
                              times.Skip(1).DefaultIfEmpty(double.NaN).Average(), peak, trainer.AdapterDir));
            say(Line(rows[^1]));
        }
        string[] labels = [.. rows.Select(r => r.Name[..3])];
        ComparisonPlots.Bars(Path.Combine(o.Output, "passkey.png"), labels, [.. rows.Select(r => 100 * r.Passkey)], $"passkey accuracy @{o.Context} (%)",
                             $"Passkey retrieval at {o.Context / DemoBase.Context}x the base's context");
        ComparisonPlots.Bars(Path.Combine(o.Output, "perplexity.png"), labels, [.. rows.Select(r => Math.Log10(r.Perplexity))], $"log10 perplexity @{o.Context}",
                             "Perplexity on held-out passkey documents");
        File.WriteAllText(Path.Combine(o.Output, "demo.json"), JsonSerializer.Serialize(rows, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }));
        return rows;
    }

    private static DemoRow Evaluate(string name, string rope, string attention, CausalLM model, DemoOptions o, double? step, double? peak, string? adapter)
    {
        var (byDepth, overall) = DemoEvaluation.Passkey(model, o.Context, o.Trials, o.Seed + 1000);
        double ppl = DemoEvaluation.Perplexity(model, o.Context, o.PerplexityDocuments, o.Seed + 2000);
        return new DemoRow(name, rope, attention, overall, byDepth, ppl, step, peak, adapter);
    }

    public static string Line(DemoRow r) =>
        $"{r.Name}: passkey {r.Passkey:P0} ({string.Join(" ", r.PasskeyByDepth.Select(a => a.ToString("P0")))}), perplexity {r.Perplexity:F3}"
        + (r.StepSeconds is { } s ? $", {s:F2} s/step, peak {r.PeakMiB:F0} MiB" : "");

    /// <summary>Passkey documents of the evaluated length (one row each: the text, then the end-of-text the data layer appends).</summary>
    private static string WriteTrainingData(DemoOptions o)
    {
        string path = Path.Combine(o.Output, "data", "passkey-train.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var random = new SplitMix64(o.Seed + 3000);
        var lines = new StringBuilder();
        for (int i = 0; i < o.Steps * o.Batch; i++)
        {
            var doc = PasskeyDocuments.Document(o.Context, ref random);
            string text = Encoding.UTF8.GetString(doc.Take(doc.Length - 1).Select(t => (byte)t).ToArray());
            lines.Append(JsonSerializer.Serialize(new { text })).Append('\n');
        }
        File.WriteAllText(path, lines.ToString());
        return path;
    }
}
