using System.Diagnostics;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Bench.Tokenize;

/// <summary>
/// A whole `rawlora train` start on one long line without spaces, as a user with a Chinese book sees
/// it: a tiny model (hidden 32, 2 layers, random weights, its vocabulary the tokenizer's) beside the
/// real tokenizer files, the line as a .txt file, then the Trainer: tokenizing into the token cache on
/// every core, packing, loading, one step at 4,096 tokens; then the same start again, which reuses
/// the cache.
/// </summary>
internal static class LongLineRun
{
    public static (double First, double Again, long Tokens) Time(string tokenizerDir, string line, string scratch)
    {
        string model = Path.Combine(scratch, "model"), data = Path.Combine(scratch, "line.txt"), output = Path.Combine(scratch, "run");
        WriteModel(model, tokenizerDir);
        File.WriteAllText(data, line);
        var options = new TrainOptions { Model = model, Data = [data], Output = output, MaxLength = 4096, MaxSteps = 1, WarmupSteps = 0, SaveSteps = 0 };
        double first = Start(options);
        double again = Start(options with { Overwrite = true });
        using var cache = TokenCache.TryOpen(Path.Combine(output, TrainingData.CacheFolder))!;
        return (first, again, cache.Manifest.Tokens);
    }

    private static double Start(TrainOptions options)
    {
        long t0 = Stopwatch.GetTimestamp();
        using (var trainer = new Trainer(options))
            trainer.Run();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static void WriteModel(string dir, string tokenizerDir)
    {
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.GetFiles(tokenizerDir))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        int vocab = Tokenizer.Load(dir).VocabSize;
        File.WriteAllText(Path.Combine(dir, "config.json"), $$"""
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": {{vocab}}, "max_position_embeddings": 4096, "rms_norm_eps": 1e-6,
             "rope_theta": 10000.0, "tie_word_embeddings": true, "torch_dtype": "float32"}
            """);
        using var model = new CausalLM(ModelConfig.Load(Path.Combine(dir, "config.json")), new RandomParameters(0));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), [.. model.NamedParameters()]);
    }
}
