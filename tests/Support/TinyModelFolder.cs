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
}
