using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Whole runs on the tiny Llama with the tiny byte-level tokenizer: learning, exact resume, NaN/Inf
/// faults, stopping. Serial: the trainer seeds the default generator (dropout), which is global.
/// </summary>
[Collection(SerialCollection.Name)]
public class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private TrainOptions Options(string run, int steps) => TinyModelFolder.RunOptions(_dir, run, steps);

    private static List<StepLog> Run(TrainOptions options, Func<StepLog, bool>? stopAfter = null, List<string>? said = null)
    {
        var logs = new List<StepLog>();
        using var stop = new CancellationTokenSource();
        using var trainer = new Trainer(options, s =>
        {
            logs.Add(s);
            if (stopAfter?.Invoke(s) == true)
                stop.Cancel();
        }, said is null ? null : said.Add);
        trainer.Run(stop.Token);
        return logs;
    }

    [Fact]
    public void The_peak_tensor_bytes_a_step_reports_are_what_rawlora_plan_predicts()
    {
        var options = Options("plan", 2) with { MaxLength = 512, Context = null, BatchSize = 1, GradAccum = 1 };
        long before = Storage.LiveBytes;

        var logs = Run(options);

        // The second step's: the first also allocates AdamW's moments. The plan counts the weights; the log has them in the
        // tensor peak when they were copied from the checkpoint, apart when they are views of its mapped file.
        var plan = StepMemory.Estimate(StepShape.Of(ModelFolder.Config(options.Model), options));
        Assert.InRange((logs[1].PeakTensorBytes + logs[1].MappedWeightBytes - before) / (double)plan.Tensors, 0.85, 1.15);
    }

    [Fact]
    public void At_bf16_precision_the_run_follows_the_fp32_run_closely_but_not_bitwise()
    {
        var fp32 = Run(Options("fp32", 8));
        var bf16 = Run(Options("bf16", 8) with { Precision = "bf16" });
        // bfloat16 keeps 8 significant bits (relative rounding ≤ 2^-9 per operand), and the products still sum in
        // float32: over 8 steps the loss may drift by a few of those, never by a percent or more.
        Assert.NotEqual(fp32[0].Loss, bf16[0].Loss);
        for (int i = 0; i < fp32.Count; i++)
            Assert.True(Math.Abs(bf16[i].Loss - fp32[i].Loss) < 0.01 * Math.Abs(fp32[i].Loss), $"step {i + 1}: bf16 loss {bf16[i].Loss} vs fp32 {fp32[i].Loss}");
    }

    [Fact]
    public void The_loss_goes_down_and_the_run_ends_with_a_checkpoint_and_an_adapter()
    {
        var options = Options("learn", 25);
        var logs = Run(options);
        Assert.Equal(Enumerable.Range(1, 25), logs.Select(l => l.Step));
        Assert.True(logs[^3..].Average(l => l.Loss) < logs[..3].Average(l => l.Loss) - 0.5, string.Join(", ", logs.Select(l => l.Loss.ToString("F3"))));
        Assert.All(logs, l => Assert.False(l.Skipped));
        Assert.Equal(0f, logs[0].Lr); // warmup starts at 0, as transformers' schedules
        Assert.Equal(5e-3f, logs[^1].Lr);
        Assert.True(Directory.Exists(Path.Combine(options.Output, "checkpoint-25")));
        Assert.Equal(25, File.ReadAllLines(Path.Combine(options.Output, "metrics.jsonl")).Length);
        Assert.True(PngImage.Read(Path.Combine(options.Output, "loss.png")).Count(PngImage.Near(PlotTests.Palette(0))) > 0, "loss.png: no loss line");
        Assert.True(File.Exists(Path.Combine(options.Output, "adapter", "adapter_model.safetensors")));
        Assert.Contains("\"rope_scaling\"", File.ReadAllText(Path.Combine(options.Output, "adapter", "config.json")));
    }

    [Fact]
    public void A_stopped_and_resumed_run_continues_with_bitwise_the_same_losses()
    {
        var whole = Run(Options("whole", 8));
        var first = Run(Options("parts", 8), stopAfter: s => s.Step == 3);
        Assert.Equal(3, first.Count);
        Assert.True(Directory.Exists(Path.Combine(_dir, "parts", "checkpoint-3")));
        var rest = Run(Options("parts", 8) with { Resume = true });
        Assert.Equal(Enumerable.Range(4, 5), rest.Select(l => l.Step));
        Assert.Equal(whole.Select(l => l.Loss), first.Concat(rest).Select(l => l.Loss));
        Assert.Equal(whole.Select(l => l.GradNorm), first.Concat(rest).Select(l => l.GradNorm));
        var metrics = MetricsLog.Read(Path.Combine(_dir, "parts", "metrics.jsonl"));
        Assert.Equal(whole.Select(l => l.Loss), metrics.Select(l => l.Loss)); // the resumed run appended
        PngImage.Read(Path.Combine(_dir, "parts", "loss.png"));
    }

    [Fact]
    public void Weight_decay_spares_the_embedding_and_the_norms_but_decays_the_adapter()
    {
        Dictionary<string, float[]> After(string run, float decay)
        {
            using var trainer = new Trainer(Options(run, 1) with { WeightDecay = decay, WarmupSteps = 0 });
            trainer.Run();
            return trainer.Model.TrainableParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        }
        var plain = After("no-decay", 0);
        var decayed = After("decay", 0.5f);

        // One step from the same start with the same gradients: only the decay can make a tensor differ.
        Assert.Contains(plain.Keys, k => k.Contains("embed_tokens"));
        Assert.Contains(plain.Keys, k => k.Contains("layernorm"));
        foreach (var (name, values) in plain)
            if (name.Contains("lora_A"))
                Assert.NotEqual(values, decayed[name]);
            else if (name.Contains("embed_tokens") || name.Contains("norm"))
                Assert.Equal(values, decayed[name]);
    }

    [Fact]
    public void Metrics_record_each_step_with_its_memory()
    {
        var options = Options("metrics", 2);
        var logs = Run(options);
        var lines = File.ReadAllLines(Path.Combine(options.Output, "metrics.jsonl"));
        Assert.Equal(2, lines.Length);
        var first = System.Text.Json.Nodes.JsonNode.Parse(lines[0])!.AsObject();
        foreach (string key in new[] { "step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "seconds", "skipped", "peak_tensor_bytes", "resident_bytes", "peak_resident_bytes", "mapped_weight_bytes" })
            Assert.True(first.ContainsKey(key), key);
        Assert.Equal(2 * 2 * 32, (long)first["tokens"]!);
        Assert.True(logs[0].PeakTensorBytes > 0);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(logs[0].ResidentBytes > logs[0].PeakTensorBytes / 4, $"{logs[0].ResidentBytes} resident");
            Assert.True(logs[0].PeakResidentBytes >= logs[0].ResidentBytes);
        }
        Assert.Equal(logs, MetricsLog.Read(Path.Combine(options.Output, "metrics.jsonl")));
    }

    [Fact]
    public void An_output_folder_that_holds_anything_is_refused_and_overwrite_deletes_only_a_runs_files()
    {
        var options = Options("taken", 2) with { SaveSteps = 1, SaveTotalLimit = 5 };
        Run(options);
        File.WriteAllText(Path.Combine(options.Output, "notes.txt"), "mine");
        var e = Assert.Throws<IOException>(() => new Trainer(options));
        Assert.StartsWith($"{options.Output} exists and is not empty; pass --overwrite", e.Message);

        var again = Run(options with { MaxSteps = 1, Overwrite = true });
        Assert.Single(again);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(options.Output, "notes.txt")));
        Assert.Equal(["checkpoint-1"], Directory.GetDirectories(options.Output, "checkpoint-*").Select(Path.GetFileName));
        Assert.Single(File.ReadAllLines(Path.Combine(options.Output, "metrics.jsonl")));
        Assert.Contains("overwrite and resume", Assert.Throws<ArgumentException>(() => new Trainer(options with { Overwrite = true, Resume = true })).Message);
    }

    [Fact]
    public void A_resume_from_an_older_checkpoint_cuts_the_log_back_so_no_step_is_listed_twice()
    {
        var whole = Run(Options("log", 6) with { SaveSteps = 2, SaveTotalLimit = 5 });
        string output = Path.Combine(_dir, "log");
        foreach (string late in new[] { "checkpoint-4", "checkpoint-6" }) // as if killed after step 5, its checkpoint lost
            Directory.Delete(Path.Combine(output, late), recursive: true);

        var said = new List<string>();
        var rest = Run(Options("log", 6) with { SaveSteps = 2, SaveTotalLimit = 5, Resume = true }, said: said);

        Assert.Equal(Enumerable.Range(3, 4), rest.Select(l => l.Step));
        Assert.Contains(said, m => m.StartsWith("data: tokenized before, reusing "));
        var lines = File.ReadAllLines(Path.Combine(output, "metrics.jsonl"));
        Assert.Equal(6, lines.Length);
        Assert.Equal(whole.Select(l => l.Loss), MetricsLog.Read(Path.Combine(output, "metrics.jsonl")).Select(l => l.Loss));
    }

    [Fact]
    public void Resume_refuses_another_runs_checkpoint_naming_what_differs()
    {
        Run(Options("other", 4), stopAfter: s => s.Step == 2);
        string checkpoint = Path.Combine(_dir, "other", "checkpoint-2");

        string Refusal(TrainOptions changed) => Assert.Throws<TrainingException>(() => new Trainer(changed with { Resume = true })).Message;

        Assert.Equal($"train: --resume: {checkpoint} is another run's checkpoint (seed 7 there, 8 here); give that run's options, or start this one in another output",
                     Refusal(Options("other", 4) with { Seed = 8 }));
        Assert.Contains("(batch_size 2 there, 1 here)", Refusal(Options("other", 4) with { BatchSize = 1 }));
        Assert.Contains("(max_length 32 there, 16 here", Refusal(Options("other", 4) with { MaxLength = 16 }));
        Assert.Contains("(lora_r 8 there, 4 here)", Refusal(Options("other", 4) with { LoraR = 4 }));
        Assert.Contains("(modules_to_save embed_tokens,norm there, norm here)", Refusal(Options("other", 4) with { ModulesToSave = "norm" }));
        Assert.Contains("(schedule constant there, cosine here)", Refusal(Options("other", 4) with { Schedule = "cosine" }));
        Assert.Contains("(warmup_steps 2 there, 3 here)", Refusal(Options("other", 4) with { WarmupSteps = 3 }));
        Assert.Contains("(total steps 4 there, 5 here)", Refusal(Options("other", 4) with { MaxSteps = 5 }));
        string moreData = Path.Combine(_dir, "more.jsonl");
        File.WriteAllLines(moreData, Enumerable.Range(0, 40).Select(i => $"{{\"text\": \"other words {i}\"}}"));
        Assert.Contains("(the data differ", Refusal(Options("other", 4) with { Data = [moreData] }));

        Assert.Equal([3, 4], Run(Options("other", 4) with { Resume = true }).Select(l => l.Step)); // the same run continues
    }

    [Fact]
    public void Resume_without_a_checkpoint_claims_the_folder_as_a_fresh_run_does()
    {
        var fresh = Run(Options("new", 2) with { Resume = true });
        Assert.Equal([1, 2], fresh.Select(l => l.Step));

        var options = Options("strangers", 2) with { Resume = true };
        Directory.CreateDirectory(options.Output);
        File.WriteAllText(Path.Combine(options.Output, "notes.txt"), "mine");
        var e = Assert.Throws<IOException>(() => new Trainer(options));
        Assert.Equal($"{options.Output} exists and is not empty; it holds no checkpoint to resume; pass --overwrite instead of --resume to start again there (deletes only what a run wrote)", e.Message);
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(options.Output).Select(Path.GetFileName));
    }

    [Fact]
    public void Resuming_a_finished_run_runs_nothing_and_writes_no_new_checkpoint()
    {
        var options = Options("finished", 3);
        Run(options);
        var before = Directory.GetFileSystemEntries(options.Output).Order().ToList();
        var log = File.ReadAllText(Path.Combine(options.Output, "metrics.jsonl"));

        var said = new List<string>();
        Assert.Empty(Run(options with { Resume = true }, said: said));

        Assert.Contains("the run had finished already (step 3 of 3)", said);
        Assert.Equal(before, Directory.GetFileSystemEntries(options.Output).Order());
        Assert.Equal(log, File.ReadAllText(Path.Combine(options.Output, "metrics.jsonl")));
    }

    [Fact]
    public void A_run_that_failed_before_its_first_checkpoint_can_be_started_again_with_the_same_options()
    {
        var options = Options("failed", 2);
        using (var stopped = new CancellationTokenSource())
        using (var trainer = new Trainer(options))
        {
            stopped.Cancel();
            Assert.False(trainer.Run(stopped.Token)); // stopped before its first step: options and an empty log, no checkpoint
        }
        Assert.Empty(Directory.GetDirectories(options.Output, "checkpoint-*"));
        Assert.True(File.Exists(Path.Combine(options.Output, "train_options.json")));

        var said = new List<string>();
        Assert.Equal(2, Run(options, said: said).Count);
        Assert.Contains($"{options.Output} held a run that stopped before its first checkpoint; starting it again", said);
        Assert.Contains(said, m => m.StartsWith("data: tokenized before, reusing "));
        Assert.Throws<IOException>(() => new Trainer(options)); // now it holds a checkpoint
    }

    [Fact]
    public void Cancelling_while_the_data_is_prepared_throws_before_the_model_loads_and_leaves_the_folder_reusable()
    {
        var options = Options("cancelled", 2);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(options, cancel: cancelled.Token));

        Assert.Empty(Directory.GetFileSystemEntries(options.Output));
        Assert.Equal(2, Run(options).Count);
    }

    [Fact]
    public void NaN_steps_are_skipped_and_counted_and_too_many_in_a_row_stop_the_run()
    {
        var options = Options("faults", 20) with { SaveSteps = 2, MaxBadSteps = 3 };
        var logs = new List<StepLog>();
        Trainer? poisoned = null;
        using var trainer = poisoned = new Trainer(options, s =>
        {
            logs.Add(s);
            if (s.Step == 4)
                poisoned!.Model.Layers[1].SelfAttn.VProj.Weight.Fill(double.NaN); // frozen: the trained tensors stay clean
        });
        var e = Assert.Throws<TrainingException>(() => trainer.Run());
        Assert.Contains("3 steps in a row", e.Message);
        Assert.Contains("checkpoint-4", e.Message);
        Assert.Equal([false, false, false, false, true, true, true], logs.Select(l => l.Skipped));
        Assert.Equal(3, trainer.State.SkippedSteps);
        var last = new CheckpointStore(options.Output, 2).Latest();
        Assert.Equal(4, last!.Step);
        using var saved = CheckpointStore.Load<TrainerState>(last.Path);
        Assert.All(saved.Tensors["trainable.safetensors"], t => Assert.DoesNotContain(t.Tensor.ToFloatArray(), float.IsNaN));
    }

    [Fact]
    public void Bad_options_name_the_option()
    {
        Assert.Contains("group_ratio", Assert.Throws<ArgumentException>(() => new Trainer(Options("bad", 1) with { GroupRatio = 0.3 })).Message);
        Assert.Contains("data", Assert.Throws<ArgumentException>(() => new Trainer(Options("bad", 1) with { Data = [] })).Message);
        var missing = Options("bad", 1) with { Data = [Path.Combine(_dir, "nowhere.jsonl")] };
        Assert.Contains("nowhere.jsonl", Assert.Throws<DataException>(() => new Trainer(missing)).Message);
    }
}
