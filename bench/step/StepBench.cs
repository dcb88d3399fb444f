using System.Diagnostics;
using System.Text.Json.Nodes;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Model;
using RawLongLoRA.Profiling;
using RawLongLoRA.Training;
using AdamW = RawLongLoRA.Training.AdamW; // the bench sees the kernels' internals, RawLongLoRA.Kernels.Cpu.AdamW among them

namespace RawLongLoRA.Bench.Step;

/// <summary>
/// `bench step`: one whole LongLoRA training step — forward, backward, AdamW on the trained tensors —
/// on the shape of bench/peer/configs/cpu-small.json (a copy of ../shared/peers/configs/cpu-small.json),
/// LoRA r = 8 on q, k, v, o, embedding and norms trained, S2-Attn with G = T/4, against the same step of
/// bench/peer/step_peer.py — LongLoRA's eager (non-flash) attention path in PyTorch with OpenBLAS, the
/// best PyTorch offers on a CPU — alternating step by step in one run. Then the same shape at a long T
/// with S2-Attn and gradient checkpointing, for the peak resident memory, which the peer cannot reach.
/// With --device cuda:N the step runs on that GPU (ILGPU backend) with gradient checkpointing, its peer is Hugging
/// Face transformers + PEFT on the same GPU (bench/peer/hf_step_peer.py), and MFU is against the GPU's bf16 peak.
/// </summary>
public static class StepBench
{
    public static readonly Verb Verb = new(
        "step",
        "a whole LoRA + S2-Attn training step on cpu-small vs LongLoRA's eager path in PyTorch, alternating; then the long-context memory run",
        [
            ("--seq N", "tokens per step (default 2048)"),
            ("--steps N", "timed rounds — a step of ours, then one of the peer — after one warm-up of each (default 5)"),
            ("--long N", "T of the memory run (default 32768; 0 skips it)"),
            ("--config FILE", "model shape (default peer/configs/cpu-small.json)"),
            ("--precision P", "fp32 (default), bf16 (GEMMs on bfloat16-rounded operands, float32 sums: Autocast), or both: fp32 then bf16 and their ratio"),
            ("--no-peer", "do not run the PyTorch peer"),
            ("--device D", "cpu (default) or cuda:N: where our step runs; on a GPU, with gradient checkpointing, against transformers + PEFT there"),
            ("--peak-tflops X", "the GPU's dense bf16 peak for MFU (default: from its name, e.g. 989 for an H100/H200)"),
        ],
        Run);

    /// <summary>What the peer is, for the output and the README.</summary>
    private const string PeerWhat = "LongLoRA's eager (non-flash) attention path — step_peer.py on torch_llama.py: S2-Attn's [G, G] scores "
        + "per group materialised, as LongLoRA's code runs without flash-attn, which needs a GPU — the best PyTorch offers on a CPU";

    private static int Run(Options options, Report report)
    {
        int seq = Int(options, "--seq", 2048), steps = Math.Max(1, Int(options, "--steps", 5)), longSeq = Int(options, "--long", 32768);
        string precisionText = options.Value("--precision") ?? "fp32";
        Precision[]? precisions = precisionText == "both" ? [Precision.F32, Precision.Bf16] : PrecisionNames.Parse(precisionText) is { } one ? [one] : null;
        if (precisions is null)
        {
            Console.Error.WriteLine($"bench step: --precision must be fp32, bf16 or both, not '{precisionText}'");
            return 2;
        }
        if (Target(options, out string? error) is not { } target)
        {
            Console.Error.WriteLine($"bench step: {error}");
            return 2;
        }
        string configPath = Path.GetFullPath(options.Value("--config") ?? Path.Combine(AppContext.BaseDirectory, "peer", "configs", "cpu-small.json"));
        var config = ModelConfig.Load(configPath);
        double peak = target.Gpu ? target.PeakFlops : report.Machine.MeasurePeakFlops();
        report.Note($"shape: {Path.GetFileName(configPath)} — {config.NumLayers} layers, hidden {config.HiddenSize}, {config.NumHeads} heads ({config.NumKvHeads} kv), "
            + $"MLP {config.IntermediateSize}, vocab {config.VocabSize}; LoRA r=8 alpha 16 on q,k,v,o; embedding and norms trained; S2-Attn G = T/4; AdamW; "
            + string.Join(" / ", precisions.Select(p => p == Precision.Bf16 ? "bf16 autocast (GEMMs on bfloat16 operands, float32 sums; weights, gradients, optimizer state float32)" : "float32")) + "; batch 1");
        report.Note("model FLOPs per step (StepFlops.Model, nothing counted twice): 4·N·T for the frozen linear layers (forward + input gradient), "
            + "4·V·d·T for the LM head (its logits remade in backward are not counted), the LoRA products, and attention in FlashAttention's convention "
            + "(2·D FLOPs a causal query–key pair forward, backward 2.5×) over S2-Attn's groups as they are: half the heads in groups of G, half in groups shifted by G/2 whose ends are G/2 long");

        double gemm = target.Gpu ? double.NaN : StepTime.MeasureCpuGemm();
        string why = "--no-peer";
        using var peer = options.Flag("--no-peer") ? null : target.Gpu ? Peer.StartGpu("hf_step_peer.py", out why) : Peer.Start("step_peer.py", CpuThreads.Count, out why);
        report.Note(peer is null ? $"peer: skipped ({why})" : $"peer: {(target.Gpu ? GpuPeerWhat : PeerWhat)}; {peer.Name}");
        var stepSeconds = precisions.Select(p => MeasureAt(p, config, configPath, seq, steps, longSeq, peak, gemm, peer, report, target)).ToList();
        if (stepSeconds.Count == 2)
            report.Note($"bf16 / fp32 at T={seq}: {stepSeconds[0] / stepSeconds[1]:F2}× the tokens/s");
        report.Note(target.Gpu ? $"peak: {target.PeakFlops / 1e12:F0} TFLOP/s, the dense bf16 peak of {target.Name}" : report.Machine.PeakNote(peak));
        return 0;
    }

    /// <summary>The GPU peer, for the output and the README.</summary>
    private const string GpuPeerWhat = "Hugging Face transformers + PEFT on the same GPU — hf_step_peer.py: bf16 weights, LoRA r=8 on q,k,v,o, "
        + "embedding and norms in modules_to_save, gradient checkpointing, S2-Attn as LongLoRA's shift of half the heads by G/2 with "
        + "PyTorch's scaled_dot_product_attention (flash) causal within groups, torch.optim.AdamW";

    /// <summary>Where our step runs: the device, whether it is a GPU, its name and its bf16 peak.</summary>
    private sealed record StepTarget(Device Device, bool Gpu, string Name, double PeakFlops);

    /// <summary>The --device the options ask for, with a backend serving it; null and why not otherwise.</summary>
    private static StepTarget? Target(Options options, out string? error)
    {
        error = null;
        string text = options.Value("--device") ?? "cpu";
        if (!Device.TryParse(text, out var device) || device.Type == DeviceType.PrivateUse1)
        {
            error = $"--device must be cpu or cuda:N, not '{text}'";
            return null;
        }
        if (device.IsCpu)
            return new(device, false, "cpu", double.NaN);
        string name;
        try
        {
            name = device.Backend is RawLongLoRA.Kernels.Gpu.IlgpuBackend g ? g.Accelerator.Name : device.ToString();
        }
        catch (InvalidOperationException e)
        {
            error = $"--device {device}: {e.Message}";
            return null;
        }
        double? tflops = options.Value("--peak-tflops") is { } v ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)
            : name.Contains("H100") || name.Contains("H200") ? 989 : name.Contains("A100") ? 312 : null;
        if (tflops is null)
        {
            error = $"--device {device}: no bf16 peak known for {name}; give --peak-tflops";
            return null;
        }
        return new(device, true, name, tflops.Value * 1e12);
    }

    /// <summary>Alternating rounds of our step and the peer's at T = seq, then the long-context run, at one precision; returns our step's seconds.</summary>
    private static double MeasureAt(Precision precision, ModelConfig config, string configPath, int seq, int steps, int longSeq, double peak, double gemm, Peer? peer, Report report, StepTarget target)
    {
        // A GPU runs the issue's shape: gradient checkpointing, as LongLoRA trains.
        bool checkpointing = target.Gpu;
        var peerRequest = new JsonObject
        {
            ["config"] = configPath, ["seq"] = seq, ["batch"] = 1, ["lora_r"] = 8, ["s2"] = true, ["embed_norm"] = true, ["steps"] = 1,
            ["checkpointing"] = checkpointing,
        };
        var ours = new List<double>();
        var theirs = new List<double>();
        JsonNode? peerLast = null;
        StepResult result;
        using (var step = new OurStep(config, seq, checkpointing, precision, target.Device))
        {
            Storage.ResetPeak();
            step.Run("warm-up step");
            peer?.Ask(peerRequest);
            // Rounds of one step each, so that whatever else the machine does falls on both alike.
            for (int i = 0; i < steps; i++)
            {
                Console.WriteLine($"round {i + 1} of {steps}: ours, then the peer's");
                ours.Add(step.Run(Profiler.StepScope));
                if (peer is not null)
                {
                    peerLast = peer.Ask(peerRequest);
                    theirs.Add(peerLast["seconds"]![0]!.GetValue<double>());
                }
            }
            result = step.Result(ours);
        }
        double flops = StepFlops.Of(Shape(config, seq, checkpointing)).Model;
        double? peerSeconds = theirs.Count > 0 ? Median(theirs) : null;
        report.Add(new Record($"train step T={seq}", $"S2-Attn, LoRA + embed/norm, {(checkpointing ? "checkpointing, " : "")}{precision.Name()}{(target.Gpu ? $", {target.Device}" : "")}", seq / result.Seconds, "tokens/s")
        {
            Peer = peer is null ? null : target.Gpu ? "HF + PEFT" : "PyTorch eager",
            PeerValue = seq / peerSeconds,
            FractionOfPeak = flops / result.Seconds / peak,
            Note = $"medians of {steps} alternating rounds: step {result.Seconds:F2} s (mean {result.MeanSeconds:F3} s), {flops / result.Seconds / 1e9:F0} GFLOP/s, loss {result.FirstLoss:F3} → {result.LastLoss:F3}"
                + (target.Gpu ? $"; {target.Device} tensors at most {result.PeakDeviceBytes / (double)(1L << 30):F2} GiB" : "")
                + (peerSeconds is { } p ? $"; peer step {p:F2} s (mean {theirs.Average():F3} s), peak RSS {peerLast!["peak_rss_mb"]} MB" : "")
                + (peerLast?["peak_gpu_mb"] is { } gpuMb ? $", peak GPU memory {gpuMb} MB" : ""),
        });
        if (!target.Gpu)
            report.Note(Planned(Shape(config, seq, checkpointing), result, gemm));

        if (longSeq > 0)
        {
            Console.WriteLine($"T={longSeq}: one step with gradient checkpointing (this takes a while)...");
            StepResult big = default;
            long? growth = PeakResidentMemory.Growth(() =>
            {
                using var step = new OurStep(config, longSeq, checkpointing: true, precision, target.Device);
                Storage.ResetPeak();
                big = step.Result([step.Run("long-context step")]);
            });
            var bigShape = Shape(config, longSeq, checkpointing: true);
            double bigFlops = StepFlops.Of(bigShape).Model;
            double peerGiB = 4.0 * config.NumHeads * longSeq * (longSeq / 4) * 4 / (1L << 30);
            report.Add(new Record($"train step T={longSeq}", $"S2-Attn, checkpointing, {precision.Name()}", longSeq / big.Seconds, "tokens/s")
            {
                FractionOfPeak = bigFlops / big.Seconds / peak,
                Note = $"step {big.Seconds:F1} s; " + (target.Gpu ? $"{target.Device} tensors at most {big.PeakDeviceBytes / (double)(1L << 30):F2} GiB; " : "") + $"peak resident memory {(ProcessMemory.PeakResidentBytes ?? 0) / (double)(1L << 30):F2} GiB (grew {(growth ?? 0) / (double)(1L << 30):F2} GiB in the step), "
                    + $"tensors at most {big.PeakTensorBytes / (double)(1L << 30):F2} GiB; the peer's S2 scores alone would take ≈{peerGiB:F0} GiB",
            });
            if (!target.Gpu)
                report.Note(Planned(bigShape, big, gemm) + " (one step: AdamW's moments, which the plan counts, come after its peak); "
                + $"planned total {StepMemory.Estimate(bigShape).Total / (double)(1L << 30):F2} GiB, peak resident {(ProcessMemory.PeakResidentBytes ?? 0) / (double)(1L << 30):F2} GiB");
        }
        return result.Seconds;
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
             + $"(the step's work, recomputation included, ran at {reached:F2} of GEMM's rate); tensors {tensors / (double)(1L << 20):F0} MiB predicted, {measured.PeakTensorBytes / (double)(1L << 20):F0} MiB measured";
    }

    private readonly record struct StepResult(double Seconds, double MeanSeconds, double FirstLoss, double LastLoss, long PeakTensorBytes, long PeakDeviceBytes);

    private static double Median(List<double> times) => times.Order().ElementAt(times.Count / 2);

    /// <summary>Our training step on random tokens, one at a time, each a profiler scope, as step_peer.py runs its own.</summary>
    private sealed class OurStep : IDisposable
    {
        private readonly ModelConfig _config;
        private readonly int _seq;
        private readonly Precision _precision;
        private readonly Device _device;
        private readonly CausalLM _model;
        private readonly AdamW _optimizer;
        private readonly Random _random = new(0);
        private double _first = double.NaN, _last = double.NaN;

        public OurStep(ModelConfig config, int seq, bool checkpointing, Precision precision, Device device)
        {
            (_config, _seq, _precision, _device) = (config, seq, precision, device);
            DeviceMemory.Of(Device.Cpu).ReleaseCached(); // a shape's peak resident memory, not the last one's cached blocks too
            DeviceMemory.Of(device).ReleaseCached();
            // Drawn on the host, as every device draws it, then moved: the same model on each.
            _model = new CausalLM(config, new RandomParameters(0)).To(device);
            _model.ExtendContext(seq);
            _model.AddAdapter("default", Lora, seed: 0);
            _model.GradientCheckpointing = checkpointing;
            _optimizer = new AdamW(_model.TrainableParameters(), new AdamWOptions { Lr = 1e-4f });
        }

        /// <summary>One step under the profiler scope <paramref name="scope"/>; its seconds.</summary>
        public double Run(string scope)
        {
            var ids = Enumerable.Range(0, _seq).Select(_ => (long)_random.Next(_config.VocabSize)).ToArray();
            var batch = new TrainingBatch(1, _seq, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], [.. Enumerable.Range(0, _seq).Select(p => (long)p)], [0]);
            var clock = Stopwatch.StartNew();
            using (Profiler.Record(scope))
            {
                using (var dispose = new DisposeScope())
                {
                    Tensor loss;
                    using (Autocast.Scope(_precision))
                        loss = BatchLoss.Of(_model, batch, _seq / 4);
                    loss.Backward();
                    _last = loss.ToFloatArray()[0];
                }
                _optimizer.Step();
                _optimizer.ZeroGrad();
                _device.Backend.Synchronize(); // a GPU's queue holds the update still: the step ends when it has run
            }
            if (double.IsNaN(_first))
                _first = _last;
            return clock.Elapsed.TotalSeconds;
        }

        /// <summary>The median and mean of <paramref name="times"/>, the first and last loss, and the tensor peak since the last reset.</summary>
        public StepResult Result(List<double> times) => new(Median(times), times.Average(), _first, _last, Storage.PeakBytes, DeviceMemory.Of(_device).PeakBytes);

        public void Dispose()
        {
            _optimizer.Dispose();
            _model.Dispose();
        }
    }

    private static int Int(Options o, string name, int fallback) =>
        o.Value(name) is { } v ? int.TryParse(v, out int x) && x >= 0 ? x : throw new ArgumentException($"bench step: {name} wants a non-negative integer, not '{v}'") : fallback;
}
