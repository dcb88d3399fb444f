using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The step-memory estimate against the tensor peak of real steps, and the refusal it gives.</summary>
[Collection(SerialCollection.Name)]
public class StepMemoryTests
{
    private static ModelConfig Config(int hidden, int intermediate, int layers, int vocab)
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, $$"""
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": {{hidden}}, "intermediate_size": {{intermediate}},
             "num_hidden_layers": {{layers}}, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": {{vocab}},
             "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}
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

    /// <summary>The most tensor bytes live in a trainer's second step (the first allocates AdamW's moments), counted from before the model.</summary>
    private static long MeasuredPeak(ModelConfig config, TrainOptions o)
    {
        long start = Storage.LiveBytes;
        using var model = new CausalLM(config, new RandomParameters(0));
        model.ExtendContext(o.MaxLength);
        model.AddAdapter("default", o.Lora, o.Seed);
        model.GradientCheckpointing = o.GradientCheckpointing;
        model.Train();
        using var optimizer = new AdamW(model.TrainableParameters(), new AdamWOptions { Lr = 1e-4f });
        var random = new Random(0);
        for (int step = 0; step < 2; step++)
        {
            Storage.ResetPeak();
            long[] ids = [.. Enumerable.Range(0, o.MaxLength).Select(_ => (long)random.Next(config.VocabSize))];
            var batch = new TrainingBatch(1, o.MaxLength, ids, [.. ids.Skip(1), TrainingBatch.IgnoreIndex], [.. Enumerable.Range(0, o.MaxLength).Select(p => (long)p)], [0]);
            using (new DisposeScope())
                BatchLoss.Of(model, batch, o.GroupSize).Backward();
            GradClip.ClipByGlobalNorm(model.TrainableParameters().Select(p => p.Tensor), 1.0);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        return Storage.PeakBytes - start;
    }

    [Theory]
    [InlineData(128, 300, 2, 1000, 4096, true, 0.05f)]
    [InlineData(128, 300, 2, 1000, 4096, false, 0.05f)]
    [InlineData(128, 300, 2, 1000, 4096, false, 0f)]
    [InlineData(256, 704, 4, 8192, 1024, true, 0.05f)]
    [InlineData(256, 704, 4, 8192, 1024, false, 0.05f)]
    [InlineData(512, 1376, 2, 2048, 1024, true, 0.05f)]
    public void TheEstimateIsWithinAQuarterOfAMeasuredStep(int hidden, int intermediate, int layers, int vocab, int length, bool checkpointing, float dropout)
    {
        var config = Config(hidden, intermediate, layers, vocab);
        var options = new TrainOptions { Model = "m", Data = ["d"], Output = "o", MaxLength = length, GradientCheckpointing = checkpointing, LoraDropout = dropout };

        double ratio = StepMemory.Estimate(config, options).Total / (double)MeasuredPeak(config, options);

        Assert.InRange(ratio, 0.8, 1.25);
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
        Assert.True(StepMemory.Estimate(config, options).Total > StepMemory.Available());
    }

    [Fact]
    public void AStepThatFitsPasses()
    {
        var options = new TrainOptions { Model = "m", Data = ["d"], Output = "o", MaxLength = 1024 };

        StepMemory.Check(Config(128, 300, 2, 1000), options);

        Assert.True(StepMemory.Available() > StepMemory.Estimate(Config(128, 300, 2, 1000), options).Total);
    }
}
