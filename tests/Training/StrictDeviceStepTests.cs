using RawLongLoRA.Model;
using RawLongLoRA.Profiling;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A whole training step and generation on the strict device (no host access, crossings counted) against the same on
/// the CPU: bitwise equal, a step copies in its micro-batches' tensors (packed sequence starts included) once each,
/// and reads back one thing, the loss (with the gradient norm), and nothing else.
/// Serial: the trainer seeds the default generator (dropout), which is global.
/// </summary>
[Collection(SerialCollection.Name)]
public class StrictDeviceStepTests : IDisposable
{
    private const int GradAccum = 2;
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-strict-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>LoRA on q,k,v,o with dropout, S2-Attn, embedding and norms trained, packed rows, accumulation, clipping, AdamW.</summary>
    private TrainOptions Options(string run, Device device) => TinyModelFolder.RunOptions(_dir, run, 4) with
    {
        Device = device.ToString(),
        Context = 128,
        S2Attn = true,
        ModulesToSave = "embed_tokens,norm",
        LoraDropout = 0.1f,
        GradAccum = GradAccum,
        WeightDecay = 0.01f,
        MaxGradNorm = 0.05f, // below the gradients' norm, so every step clips
        WarmupSteps = 1,
        GradientCheckpointing = true,
        MemoryCheck = false,
        Seed = 11,
    };

    [Theory]
    [InlineData("f32")]
    [InlineData("bf16")]
    public void A_training_step_matches_the_cpu_bitwise_and_reads_back_only_the_loss(string weightDtype)
    {
        var (device, strict) = StrictDevice.New();
        var onCpu = Steps(Options("cpu", Device.Cpu) with { WeightDtype = weightDtype }, null, out var cpuParams);
        var onStrict = Steps(Options("strict", device) with { WeightDtype = weightDtype }, strict, out var strictParams);

        Assert.All(onStrict, s => Assert.Equal(device, s.Device));
        Assert.Equal(onCpu.Select(s => (s.Log.Loss, s.Log.GradNorm, s.Log.Skipped)), onStrict.Select(s => (s.Log.Loss, s.Log.GradNorm, s.Log.Skipped)));
        Assert.All(onCpu, s => Assert.False(s.Log.Skipped));
        Assert.True(onCpu[0].Log.GradNorm > 0.05, $"the gradient norm {onCpu[0].Log.GradNorm} must exceed max_grad_norm for clipping to be tested");
        Assert.Equal(cpuParams.Keys, strictParams.Keys);
        foreach (var (name, values) in cpuParams)
            Assert.True(values.SequenceEqual(strictParams[name]), $"{name} differs between the cpu and {device}");

        // The rows pack several documents, so attention runs with packed sequence starts in every step.
        Assert.All(onStrict, s => Assert.True(s.PackedAttention > 0, "no attention call had a row packing several documents"));
        // After the first step (which builds the RoPE tables there), a step copies each micro-batch's ids, positions,
        // targets and sequence starts in — once each, where an attention that uploaded its starts per call would add one
        // per layer and pass — reads [loss, grad norm] once, and synchronises nothing else.
        foreach (var s in onStrict.Skip(1))
            Assert.Equal((4L * GradAccum, 1L, 0L), (s.ToDevice, s.ToHost, s.Syncs));
    }

    private sealed record StepCount(StepLog Log, Device Device, long ToDevice, long ToHost, long Syncs, long PackedAttention);

    private static List<StepCount> Steps(TrainOptions options, StrictBackend? counts, out Dictionary<string, float[]> trained)
    {
        var steps = new List<StepCount>();
        using var trainer = new Trainer(options);
        for (int i = 0; i < options.MaxSteps; i++)
        {
            counts?.ResetCounts();
            var log = trainer.Step();
            steps.Add(new StepCount(log, trainer.Model.Device, counts?.HostToDevice ?? 0, counts?.DeviceToHost ?? 0, counts?.Synchronizations ?? 0,
                counts?.PackedAttentionCalls ?? 0));
        }
        trained = trainer.Model.TrainableParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        return steps;
    }

    [Fact]
    public void Generation_and_logits_match_the_cpu_bitwise()
    {
        var (device, _) = StrictDevice.New();
        string dir = CausalLMTests.Dir("llama-gqa-tiny");
        using var cpu = CausalLM.Load(dir);
        using var strict = CausalLM.Load(dir, device);
        Assert.All(strict.NamedParameters(), p => Assert.Equal(device, p.Tensor.Device));
        int[] prompt = [1, 17, 42, 99, 5];
        var options = new SamplingOptions { MaxNewTokens = 12 };
        Assert.Equal(TextGeneration.Generate(cpu, prompt, options), TextGeneration.Generate(strict, prompt, options));

        using var scope = new DisposeScope();
        var ids = prompt.Select(i => (long)i).ToArray();
        Assert.Equal(cpu.Forward(Tensor.FromArray(ids, [1, ids.Length])).ToFloatArray(),
                     strict.Forward(Tensor.FromArray(ids, [1, ids.Length], device)).ToFloatArray());
    }

    [Fact]
    public void Module_To_moves_the_parameters_and_the_rope_tables()
    {
        var (device, _) = StrictDevice.New();
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        using var scope = new DisposeScope();
        var ids = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5 }, [1, 5]);
        var before = model.Forward(ids).ToFloatArray();

        Assert.Same(model, model.To(device));
        Assert.All(model.NamedParameters(), p => Assert.Equal(device, p.Tensor.Device));
        Assert.Equal(device, model.Rope.For(5).Cos.Device);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(ids));
        Assert.Contains("embedding", e.Message);
        Assert.Equal(before, model.Forward(Tensor.FromArray(new long[] { 3, 1, 4, 1, 5 }, [1, 5], device)).ToFloatArray());
    }

    [Fact]
    public void The_profiler_wraps_the_strict_backend_while_it_records_and_only_then()
    {
        var (device, strict) = StrictDevice.New();
        Assert.Same(strict, device.Backend);
        ProfileSession session;
        using (session = Profiler.Start())
        {
            Assert.NotSame(strict, device.Backend);
            using var scope = new DisposeScope();
            Assert.Equal([2f, 2f], (Tensor.Ones([2], device: device) * 2f).ToFloatArray());
        }
        Assert.Same(strict, device.Backend);
        Assert.Contains(session.Events, e => e.Name == "privateuse1::unary");
    }
}
