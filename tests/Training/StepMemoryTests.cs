using RawLongLoRA.Distributed;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;
using Xunit.Abstractions;
using AdamW = RawLongLoRA.Training.AdamW;

namespace RawLongLoRA.Tests;

/// <summary>The step-memory model against the tensor peak of real steps, and the refusal it gives.</summary>
[Collection(SerialCollection.Name)]
public class StepMemoryTests(ITestOutputHelper output)
{
    /// <summary>A config.json of 4 heads (2 kv) and this shape, loaded.</summary>
    internal static ModelConfig Config(int hidden, int intermediate, int layers, int vocab, bool tied = false, string family = "Llama", string extra = "")
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, $$"""
            {"architectures": ["{{family}}ForCausalLM"], "model_type": "{{family.ToLowerInvariant()}}", "hidden_size": {{hidden}}, "intermediate_size": {{intermediate}},{{extra}}
             "num_hidden_layers": {{layers}}, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": {{vocab}},
             "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": {{(tied ? "true" : "false")}}}
            """);
        try
        {
            return ModelConfig.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Random weights, the matrices kept in bf16 as a checkpoint loaded with --weight-dtype bf16 keeps them.</summary>
    private sealed class Bf16Parameters(ulong seed) : IParameterSource
    {
        private readonly RandomParameters _random = new(seed);

        public Tensor Get(string name, int[] shape, ParameterKind kind)
        {
            var t = _random.Get(name, shape, kind);
            if (kind != ParameterKind.Matrix)
                return t;
            using (t)
                return t.To(DType.BF16);
        }
    }

    /// <summary>The most tensor bytes live in a step after the first (which allocates AdamW's moments), counted from before the model.</summary>
    private static long MeasuredPeak(StepShape s)
    {
        long start = Storage.LiveBytes;
        using var model = new CausalLM(s.Config, s.WeightDtype == DType.BF16 ? new Bf16Parameters(0) : new RandomParameters(0));
        model.ExtendContext(s.Tokens);
        model.AddAdapter("default", s.Lora, 0);
        model.GradientCheckpointing = s.GradientCheckpointing;
        model.Train();
        using var optimizer = new AdamW(model.TrainableParameters(), new AdamWOptions { Lr = 1e-4f });
        var random = new Random(0);
        int n = s.Batch * s.Tokens;
        for (int step = 0; step < 2; step++)
        {
            Storage.ResetPeak();
            long[] ids = [.. Enumerable.Range(0, n).Select(_ => (long)random.Next(s.Config.VocabSize))];
            long[] positions = [.. Enumerable.Range(0, n).Select(p => (long)(p % s.Tokens))];
            var batch = new TrainingBatch(s.Batch, s.Tokens, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], positions, [.. Enumerable.Range(0, s.Batch).Select(r => r * s.Tokens)]);
            using (new DisposeScope())
                BatchLoss.Of(model, batch, (int)(s.Tokens * s.GroupRatio)).Backward();
            GradClip.ClipByGlobalNorm(model.TrainableParameters().Select(p => p.Tensor), 1.0);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        return Storage.PeakBytes - start;
    }

    /// <summary>
    /// A step of a small Llama (hidden 128, MLP 344, 2 layers, 4 heads / 2 kv, vocabulary 4096) with
    /// LongLoRA's adapter (r 8 on q,k,v,o, embedding and norms trained), or the variant named.
    /// </summary>
    private static StepShape Shape(string variant, int tokens, bool checkpointing)
    {
        var llama = Config(128, 344, 2, 4096);
        var shape = new StepShape
        {
            Config = llama,
            Lora = new LoraConfig { Dropout = 0.05f, ModulesToSave = LoraConfig.EmbeddingAndNorms },
            Tokens = tokens,
            GradientCheckpointing = checkpointing,
        };
        return variant switch
        {
            "f32" => shape,
            "bf16" => shape with { WeightDtype = DType.BF16 },
            "f32, no dropout" => shape with { Lora = shape.Lora with { Dropout = 0 } },
            "bf16, no dropout" => shape with { WeightDtype = DType.BF16, Lora = shape.Lora with { Dropout = 0 } },
            "tied embedding" => shape with { Config = Config(128, 344, 2, 4096, tied: true), WeightDtype = DType.BF16 },
            "all-linear" => shape with { Lora = shape.Lora with { TargetModules = [LoraConfig.AllLinear] } },
            "plain LoRA" => shape with { Lora = shape.Lora with { ModulesToSave = [] } },
            "batch 2" => shape with { Batch = 2 },
            "DoRA" => shape with { Lora = shape.Lora with { UseDora = true } },
            "Qwen2" => shape with { Config = Config(128, 344, 2, 4096, family: "Qwen2") },
            "Qwen3" => shape with { Config = Config(128, 344, 2, 4096, family: "Qwen3", extra: "\"head_dim\": 64,") },
            _ => throw new ArgumentException(variant),
        };
    }

    [Theory]
    [InlineData("f32", 256, true)]
    [InlineData("bf16", 256, false)]
    [InlineData("bf16, no dropout", 256, true)]
    [InlineData("f32, no dropout", 256, false)]
    [InlineData("f32", 1024, true)]
    [InlineData("bf16", 1024, false)]
    [InlineData("bf16, no dropout", 1024, true)]
    [InlineData("f32, no dropout", 1024, false)]
    [InlineData("f32", 2048, true)]
    [InlineData("bf16", 2048, false)]
    [InlineData("bf16, no dropout", 2048, true)]
    [InlineData("f32, no dropout", 2048, false)]
    [InlineData("tied embedding", 1024, true)]
    [InlineData("tied embedding", 1024, false)]
    [InlineData("all-linear", 1024, true)]
    [InlineData("all-linear", 1024, false)]
    [InlineData("plain LoRA", 1024, false)]
    [InlineData("batch 2", 1024, true)]
    [InlineData("DoRA", 1024, true)]
    [InlineData("DoRA", 1024, false)]
    [InlineData("Qwen2", 1024, false)]
    [InlineData("Qwen3", 1024, true)]
    public void ThePredictedPeakIsWithin15PercentOfAMeasuredStep(string variant, int tokens, bool checkpointing)
    {
        var shape = Shape(variant, tokens, checkpointing);

        var plan = StepMemory.Estimate(shape);
        long measured = MeasuredPeak(shape);

        output.WriteLine($"{variant}, T = {tokens}, checkpointing {checkpointing}: predicted {plan.Tensors / 1048576.0:F2} MiB ({plan.PeakIn}), measured {measured / 1048576.0:F2} MiB");
        Assert.InRange(plan.Tensors / (double)measured, 0.85, 1.15);
    }

    [Theory]
    [InlineData(Precision.F32)]
    [InlineData(Precision.Bf16)]
    public void TheAttentionWorkspaceIsWhatTheKernelHoldsInBackward(Precision precision)
    {
        const int b = 2, t = 2000, hq = 8, hkv = 2, d = 64;
        using var scope = new DisposeScope();
        var q = Tensor.Randn([b, t, hq, d], requiresGrad: true);
        var k = Tensor.Randn([b, t, hkv, d], requiresGrad: true);
        var v = Tensor.Randn([b, t, hkv, d], requiresGrad: true);
        Tensor o;
        using (Autocast.Scope(precision))
            o = q.Attention(k, v);
        AttentionMemory.ResetPeak();

        o.Sum().Backward();

        long predicted = Attention.BackwardWorkspaceBytes(b, t, t, hq, hkv, d, CpuThreads.Count, precision);
        long measured = AttentionMemory.PeakBytes;
        // Each thread's tiles (about 3% here) count whole: a thread may not have taken a work item at the peak.
        Assert.InRange(measured, predicted * 0.95, predicted);
    }

    [Fact]
    public void MoreTokensThanMemoryIsRefusedInOneLineThatSaysWhatItNeedsAndHas()
    {
        var config = Config(128, 300, 2, 1000);
        var options = new TrainOptions { Model = "m", Data = ["d"], Output = "o", MaxLength = 2_000_000_000, BatchSize = 4 };

        var e = Assert.Throws<ArgumentException>(() => StepMemory.Check(config, options));

        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("train: max_length 2000000000 × batch_size 4 needs about ", e.Message);
        Assert.Matches(@"this machine has [\d.]+ GiB available\. Lower --max-length or --batch-size", e.Message);
        Assert.True(StepMemory.Estimate(StepShape.Of(config, options)).Total > StepMemory.Available());
    }

    [Fact]
    public void ARowThatFitsOnlySplitIsAcceptedWithSequenceParallelismAndRefusedWithout()
    {
        var config = Config(128, 300, 2, 1000);
        var whole = new TrainOptions { Model = "m", Data = ["d"], Output = "o", MaxLength = 65536 };
        var ring = whole with { Sp = "ring", SpSize = 4 };
        var ulysses = whole with { Sp = "ulysses", SpSize = 4 };
        // mpirun -np 8: two data-parallel replicas of four sequence-parallel ranks.
        var shape = StepShape.Of(config, ring, ranks: 8);
        Assert.Equal((4, SequenceParallel.Ring, 2), (shape.SequenceParallel, shape.SequenceKind, shape.DataParallel));
        long split = Math.Max(StepMemory.Estimate(shape).Total, StepMemory.Estimate(StepShape.Of(config, ulysses, ranks: 8)).Total);
        long unsplit = StepMemory.Estimate(StepShape.Of(config, whole, ranks: 8)).Total;
        Assert.True(2 * split < unsplit, $"{split} a rank split, {unsplit} whole");
        long budget = (split + unsplit) / 2;

        StepMemory.Check(config, ring, 8, budget);
        StepMemory.Check(config, ulysses, 8, budget);
        var e = Assert.Throws<ArgumentException>(() => StepMemory.Check(config, whole, 8, budget));
        Assert.StartsWith("train: max_length 65536 × batch_size 1 needs about ", e.Message);
        var tight = Assert.Throws<ArgumentException>(() => StepMemory.Check(config, ring with { SpSize = 2 }, 4, split));
        Assert.StartsWith("train: max_length 65536 × batch_size 1 split across sp_size 2 ranks needs about ", tight.Message);
        Assert.Contains(" a rank for a step (", tight.Message);
        Assert.Contains("or raise --sp-size", tight.Message);
    }

    [Fact]
    public void AStepThatFitsPasses()
    {
        var options = new TrainOptions { Model = "m", Data = ["d"], Output = "o", MaxLength = 1024 };

        StepMemory.Check(Config(128, 300, 2, 1000), options);

        Assert.True(StepMemory.Available() > StepMemory.Estimate(StepShape.Of(Config(128, 300, 2, 1000), options)).Total);
    }
}
