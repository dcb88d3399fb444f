using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Model;
using RawLongLoRA.Profiling;
using RawLongLoRA.Training;

namespace RawLongLoRA.Bench.Step;

/// <summary>
/// `bench step`: one whole LongLoRA training step — forward, backward, AdamW on the trained tensors —
/// on the shape of bench/peer/configs/cpu-small.json (a copy of ../shared/peers/configs/cpu-small.json),
/// LoRA r = 8 on q, k, v, o, embedding and norms trained, S2-Attn with G = T/4, against
/// `torch_llama.py bench` with the same flags in the same run. Then the same shape at a long T with
/// S2-Attn and gradient checkpointing, for the peak resident memory, which the peer cannot reach.
/// </summary>
public static class StepBench
{
    public static readonly Verb Verb = new(
        "step",
        "a whole LoRA + S2-Attn training step on cpu-small vs torch_llama.py bench; then the long-context memory run",
        [
            ("--seq N", "tokens per step (default 2048)"),
            ("--steps N", "timed steps, after one warm-up (default 5)"),
            ("--long N", "T of the memory run (default 32768; 0 skips it)"),
            ("--config FILE", "model shape (default peer/configs/cpu-small.json)"),
            ("--no-peer", "do not run the PyTorch peer"),
            ("--precision P", "fp32 (default), bf16 (GEMMs on bfloat16-rounded operands, float32 sums: Autocast), or both: fp32 then bf16 and their ratio"),
        ],
        Run);

    private static int Run(Options options, Report report)
    {
        int seq = Int(options, "--seq", 2048), steps = Int(options, "--steps", 5), longSeq = Int(options, "--long", 32768);
        string precisionText = options.Value("--precision") ?? "fp32";
        Precision[]? precisions = precisionText == "both" ? [Precision.F32, Precision.Bf16] : PrecisionNames.Parse(precisionText) is { } one ? [one] : null;
        if (precisions is null)
        {
            Console.Error.WriteLine($"bench step: --precision must be fp32, bf16 or both, not '{precisionText}'");
            return 2;
        }
        string configPath = options.Value("--config") ?? Path.Combine(AppContext.BaseDirectory, "peer", "configs", "cpu-small.json");
        var config = ModelConfig.Load(configPath);
        double peak = report.Machine.MeasurePeakFlops();
        report.Note($"shape: {Path.GetFileName(configPath)} — {config.NumLayers} layers, hidden {config.HiddenSize}, {config.NumHeads} heads ({config.NumKvHeads} kv), "
            + $"MLP {config.IntermediateSize}, vocab {config.VocabSize}; LoRA r=8 alpha 16 on q,k,v,o; embedding and norms trained; S2-Attn G = T/4; AdamW; "
            + string.Join(" / ", precisions.Select(p => p == Precision.Bf16 ? "bf16 autocast (GEMMs on bfloat16 operands, float32 sums; weights, gradients, optimizer state float32)" : "float32")) + "; batch 1");
        report.Note("FLOPs per step (StepFlops, as rawlora plan counts them): 4·N·T for the frozen linear layers (forward + input gradient; 6·N·T with recomputed layers), "
            + "6·V·d·T for the LM head (its logits remade in backward), the LoRA products, and attention in FlashAttention's convention (causal forward 2·T²·D·H, backward 2.5×) cut to a quarter by S2-Attn");

        double gemm = StepTime.MeasureCpuGemm();
        string why = "--no-peer";
        var peer = options.Flag("--no-peer") ? null : PeerStep(configPath, seq, steps, out why);
        report.Note(peer is null ? $"peer: skipped ({why})" : $"peer: {peer["peer"]}, {peer["threads"]} threads, torch_llama.py bench --s2 --embed-norm --lora-r 8");
        var stepSeconds = new List<double>();
        foreach (var precision in precisions)
        {
            stepSeconds.Add(MeasureAt(precision, config, seq, steps, longSeq, peak, gemm, peer, report));
        }
        if (stepSeconds.Count == 2)
            report.Note($"bf16 / fp32 at T={seq}: {stepSeconds[0] / stepSeconds[1]:F2}× the tokens/s (the two measured one after the other)");
        report.Note(report.Machine.PeakNote(peak));
        return 0;
    }

    /// <summary>The step at T = seq, then the long-context run, at one precision; returns the step's seconds.</summary>
    private static double MeasureAt(Precision precision, ModelConfig config, int seq, int steps, int longSeq, double peak, double gemm, JsonNode? peer, Report report)
    {
        double flops = StepFlops.Of(Shape(config, seq, checkpointing: false)).Total;
        double? peerTps = peer?["tokens_per_s"]?.GetValue<double>();
        var ours = Measure(config, seq, steps, checkpointing: false, precision);
        report.Add(new Record($"train step T={seq}", $"S2-Attn, LoRA + embed/norm, {precision.Name()}", seq / ours.Seconds, "tokens/s")
        {
            Peer = peer is null ? null : "torch",
            PeerValue = peerTps,
            FractionOfPeak = flops / ours.Seconds / peak,
            Note = $"step {ours.Seconds:F2} s (mean {ours.MeanSeconds:F3} s), {flops / ours.Seconds / 1e9:F0} GFLOP/s, loss {ours.FirstLoss:F3} → {ours.LastLoss:F3}"
                + (peer is null ? "" : $"; peer peak RSS {peer["peak_rss_mb"]} MB"),
        });
        report.Note(Planned(Shape(config, seq, checkpointing: false), ours, gemm));

        if (longSeq > 0)
        {
            Console.WriteLine($"T={longSeq}: one step with gradient checkpointing (this takes a while)...");
            StepResult big = default;
            long? growth = PeakResidentMemory.Growth(() => big = Measure(config, longSeq, 1, checkpointing: true, precision, warmup: false, stepScope: "long-context step"));
            var bigShape = Shape(config, longSeq, checkpointing: true);
            double bigFlops = StepFlops.Of(bigShape).Total;
            double peerGiB = 4.0 * config.NumHeads * longSeq * (longSeq / 4) * 4 / (1L << 30);
            report.Add(new Record($"train step T={longSeq}", $"S2-Attn, checkpointing, {precision.Name()}", longSeq / big.Seconds, "tokens/s")
            {
                FractionOfPeak = bigFlops / big.Seconds / peak,
                Note = $"step {big.Seconds:F1} s; peak resident memory {(ProcessMemory.PeakResidentBytes ?? 0) / (double)(1L << 30):F2} GiB (grew {(growth ?? 0) / (double)(1L << 30):F2} GiB in the step), "
                    + $"tensors at most {big.PeakTensorBytes / (double)(1L << 30):F2} GiB; the peer's S2 scores alone would take ≈{peerGiB:F0} GiB",
            });
            report.Note(Planned(bigShape, big, gemm) + " (one step: AdamW's moments, which the plan counts, come after its peak); "
                + $"planned total {StepMemory.Estimate(bigShape).Total / (double)(1L << 30):F2} GiB, peak resident {(ProcessMemory.PeakResidentBytes ?? 0) / (double)(1L << 30):F2} GiB");
        }
        return ours.Seconds;
    }

    /// <summary>The adapter of every step here: LongLoRA's r 8 on q, k, v, o, with the embedding and norms trained.</summary>
    private static readonly LoraConfig Lora = new() { ModulesToSave = LoraConfig.EmbeddingAndNorms };

    private static StepShape Shape(ModelConfig config, int seq, bool checkpointing) =>
        new() { Config = config, Lora = Lora, Tokens = seq, GradientCheckpointing = checkpointing };

    /// <summary>What `rawlora plan` predicts for the step against what it measured: time and tensor peak.</summary>
    private static string Planned(StepShape shape, StepResult measured, double gemm)
    {
        double predicted = StepTime.Seconds(shape, gemm * StepTime.CpuEfficiency), reached = StepFlops.Of(shape).Total / measured.Seconds / gemm;
        long tensors = StepMemory.Estimate(shape).Tensors;
        return $"plan, T={shape.Tokens}: step {predicted:F2} s predicted (GEMM measured at {gemm / 1e9:F0} GFLOP/s × {StepTime.CpuEfficiency}), {measured.Seconds:F2} s measured "
             + $"(the step reached {reached:F2} of GEMM's rate); tensors {tensors / (double)(1L << 20):F0} MiB predicted, {measured.PeakTensorBytes / (double)(1L << 20):F0} MiB measured";
    }

    private readonly record struct StepResult(double Seconds, double MeanSeconds, double FirstLoss, double LastLoss, long PeakTensorBytes);

    /// <summary>Median (and mean) seconds of a step, after one warm-up unless told not to, as torch_llama.py bench times its steps; each timed step is a profiler scope.</summary>
    private static StepResult Measure(ModelConfig config, int seq, int steps, bool checkpointing, Precision precision, bool warmup = true, string stepScope = Profiler.StepScope)
    {
        using var model = new CausalLM(config, new RandomParameters(0));
        model.ExtendContext(seq);
        model.AddAdapter("default", Lora, seed: 0);
        model.GradientCheckpointing = checkpointing;
        using var optimizer = new AdamW(model.TrainableParameters(), new AdamWOptions { Lr = 1e-4f });
        var random = new Random(0);
        var times = new List<double>();
        double first = double.NaN, last = double.NaN;
        Storage.ResetPeak();
        for (int i = 0; i < steps + (warmup ? 1 : 0); i++)
        {
            var ids = Enumerable.Range(0, seq).Select(_ => (long)random.Next(config.VocabSize)).ToArray();
            var batch = new TrainingBatch(1, seq, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], [.. Enumerable.Range(0, seq).Select(p => (long)p)], [0]);
            bool timed = !warmup || i > 0;
            var clock = Stopwatch.StartNew();
            using (Profiler.Record(timed ? stepScope : "warm-up step"))
            {
                using (var scope = new DisposeScope())
                {
                    Tensor loss;
                    using (Autocast.Scope(precision))
                        loss = BatchLoss.Of(model, batch, seq / 4);
                    loss.Backward();
                    last = loss.ToFloatArray()[0];
                }
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            if (double.IsNaN(first))
                first = last;
            if (timed)
                times.Add(clock.Elapsed.TotalSeconds);
        }
        double mean = times.Average();
        times.Sort();
        return new StepResult(times[times.Count / 2], mean, first, last, Storage.PeakBytes);
    }

    private static JsonNode? PeerStep(string configPath, int seq, int steps, out string why)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "torch_llama.py");
        if (!File.Exists(Peer.Python))
        {
            why = $"{Peer.Python} not found";
            return null;
        }
        var info = new ProcessStartInfo(Peer.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        string threads = CpuThreads.Count.ToString(CultureInfo.InvariantCulture);
        foreach (string a in new[] { script, "bench", "--config", configPath, "--seq", seq.ToString(CultureInfo.InvariantCulture), "--batch", "1",
                     "--steps", steps.ToString(CultureInfo.InvariantCulture), "--lora-r", "8", "--s2", "--embed-norm", "--threads", threads })
            info.ArgumentList.Add(a);
        info.Environment["OMP_NUM_THREADS"] = threads;
        info.Environment["OPENBLAS_NUM_THREADS"] = threads;
        Console.WriteLine($"peer: torch_llama.py bench --seq {seq} --steps {steps} --lora-r 8 --s2 --embed-norm ...");
        using var process = Process.Start(info)!;
        string stderr = "";
        process.ErrorDataReceived += (_, e) => stderr = e.Data ?? stderr;
        process.BeginErrorReadLine();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string? line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (process.ExitCode != 0 || line is null)
        {
            why = $"torch_llama.py exited {process.ExitCode}: {stderr}";
            return null;
        }
        why = "";
        return JsonNode.Parse(line);
    }

    private static int Int(Options o, string name, int fallback) =>
        o.Value(name) is { } v ? int.TryParse(v, out int x) && x >= 0 ? x : throw new ArgumentException($"bench step: {name} wants a non-negative integer, not '{v}'") : fallback;
}
