using RawLongLoRA.Training;

namespace RawLongLoRA.Tests;

/// <summary>A folder with a tiny model's weights (tests/reference/models) and the tiny byte-level tokenizer beside them.</summary>
internal static class TinyModelFolder
{
    public static string Create(string dir, string model)
    {
        Directory.CreateDirectory(dir);
        foreach (string file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(CausalLMTests.Dir(model), file), Path.Combine(dir, file));
        foreach (string file in Directory.GetFiles(TokenizerFixtures.Tiny("bytelevel")))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    /// <summary>
    /// Options of a short run in <paramref name="dir"/>: the tiny Llama's weights with the tiny tokenizer beside them
    /// (dir/model), and a small corpus (dir/corpus.jsonl), both made at the first call; the run writes to dir/run.
    /// </summary>
    public static TrainOptions RunOptions(string dir, string run, int steps)
    {
        string model = Path.Combine(dir, "model");
        if (!Directory.Exists(model))
        {
            Create(model, "llama-gqa-tiny");
            var lines = Enumerable.Range(0, 40).Select(i => $"{{\"text\": \"hello world! {i % 7} hello {new string('l', i % 5)} world, 123\"}}");
            File.WriteAllLines(Path.Combine(dir, "corpus.jsonl"), lines);
        }
        return new TrainOptions
        {
            Model = model,
            Data = [Path.Combine(dir, "corpus.jsonl")],
            Output = Path.Combine(dir, run),
            MaxLength = 32,
            Context = 256,
            MaxSteps = steps,
            BatchSize = 2,
            GradAccum = 2,
            Lr = 5e-3f,
            WarmupSteps = 2,
            SaveSteps = 0,
            LoggingSteps = 1,
            Seed = 7,
        };
    }
}
