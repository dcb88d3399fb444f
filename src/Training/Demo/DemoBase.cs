using System.Diagnostics;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The demo's base model: a tiny Llama (hidden 128, 4 layers, 4 heads, byte vocabulary, context 256)
/// pretrained by this engine from random weights on <see cref="PasskeyDocuments"/> of 256 bytes until
/// it copies the key. `rawlora demo --make-base DIR` reruns it; the same seed gives the same weights
/// on a machine with the same thread count.
/// </summary>
internal static class DemoBase
{
    public const int Context = 256;

    public static readonly string ConfigJson = $$"""
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": 128,
          "intermediate_size": 352,
          "num_hidden_layers": 4,
          "num_attention_heads": 4,
          "num_key_value_heads": 4,
          "vocab_size": {{DemoTokenizer.VocabSize}},
          "max_position_embeddings": {{Context}},
          "rms_norm_eps": 1e-5,
          "rope_theta": 10000.0,
          "hidden_act": "silu",
          "tie_word_embeddings": false,
          "bos_token_id": null,
          "eos_token_id": {{DemoTokenizer.EndOfText}},
          "torch_dtype": "float32"
        }

        """;

    /// <summary>Pretraining's settings: batch 16 × 256, AdamW, lr 2e-3 after 100 warmup steps, halved for the last third.</summary>
    public sealed record Recipe(int Steps = 3000, int Batch = 16, float Lr = 2e-3f, int Warmup = 100, ulong Seed = 1);

    /// <summary>Pretrains the base and writes it as a Hugging Face folder (config, safetensors, tokenizer) into <paramref name="dir"/>.</summary>
    public static void Make(string dir, Recipe recipe, Action<int, double, double>? onStep = null)
    {
        Directory.CreateDirectory(dir);
        var config = ModelConfig.Parse(ConfigJson, "demo base config.json");
        using var model = new CausalLM(config, new RandomParameters(recipe.Seed));
        var parameters = model.NamedParameters().ToList();
        foreach (var (_, p) in parameters)
            p.RequiresGrad = true;
        using var optimizer = new AdamW(parameters, new AdamWOptions { Lr = recipe.Lr, WeightDecay = 0.01, Decays = AdamWOptions.MatricesOnly });
        var schedule = new LrSchedule(LrScheduleKind.Constant, recipe.Lr, recipe.Warmup, recipe.Steps);
        var random = new SplitMix64(recipe.Seed);
        var clock = Stopwatch.StartNew();
        for (int step = 0; step < recipe.Steps; step++)
        {
            var batch = Batch(recipe.Batch, ref random);
            double loss;
            using (new DisposeScope())
            {
                var l = BatchLoss.Of(model, batch);
                l.Backward();
                loss = l.ToFloatArray()[0];
            }
            GradClip.ClipByGlobalNorm(parameters.Select(p => p.Tensor), 1.0);
            optimizer.Step(schedule.At(step) * (step >= recipe.Steps * 2 / 3 ? 0.5f : 1f));
            optimizer.ZeroGrad();
            onStep?.Invoke(step + 1, loss, clock.Elapsed.TotalSeconds);
        }
        foreach (var (_, p) in parameters)
            p.RequiresGrad = false;
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson);
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), parameters, new Dictionary<string, string> { ["format"] = "pt" });
        DemoTokenizer.Write(dir);
    }

    /// <summary><paramref name="rows"/> documents of <see cref="Context"/> tokens, each its own sequence.</summary>
    internal static TrainingBatch Batch(int rows, ref SplitMix64 random, int length = Context)
    {
        var ids = new List<long>(rows * length);
        for (int r = 0; r < rows; r++)
            ids.AddRange(PasskeyDocuments.Document(length, ref random));
        var all = ids.ToArray();
        var targets = new long[all.Length];
        var positions = new long[all.Length];
        for (int i = 0; i < all.Length; i++)
        {
            targets[i] = (i + 1) % length == 0 ? TrainingBatch.IgnoreIndex : all[i + 1];
            positions[i] = i % length;
        }
        return new TrainingBatch(rows, length, all, targets, positions, [.. Enumerable.Range(0, rows).Select(r => r * length)]);
    }
}
