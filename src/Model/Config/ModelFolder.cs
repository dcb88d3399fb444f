namespace RawLongLoRA.Model;

/// <summary>
/// A Hugging Face model folder: its config.json, and its tokenizer checked against that config. A path
/// that is not such a folder, or a tokenizer with ids the model has no embedding row for, is refused
/// here in one line naming the path, before any weight is read.
/// </summary>
public static class ModelFolder
{
    private const string Holds = "a Hugging Face model folder holds config.json, *.safetensors and the tokenizer files";

    /// <summary>The folder's config.json.</summary>
    public static ModelConfig Config(string dir)
    {
        if (File.Exists(dir))
            throw new ConfigException(dir, null, $"is a file, not a model folder ({Holds})");
        if (!Directory.Exists(dir))
            throw new ConfigException(dir, null, $"no such folder ({Holds})");
        string config = Path.Combine(dir, "config.json");
        if (!File.Exists(config))
            throw new ConfigException(dir, null, $"holds no config.json, so it is not a model folder ({Holds})");
        return ModelConfig.Load(config);
    }

    /// <summary>
    /// The folder's tokenizer. Its ids must all have a row in the model's embedding (config.json's
    /// vocab_size); a larger embedding is fine: models pad it (Qwen3 has 151,936 rows for 151,669 tokens).
    /// </summary>
    public static Tokenizer Tokenizer(string dir)
    {
        var config = Config(dir);
        var tokenizer = Model.Tokenizer.Load(dir);
        if (tokenizer.VocabSize > config.VocabSize)
        {
            string json = Path.Combine(dir, "tokenizer.json");
            string file = File.Exists(json) ? json : Path.Combine(dir, "tokenizer.model");
            throw new TokenizerException(file, null,
                $"has {tokenizer.VocabSize} tokens but {Path.Combine(dir, "config.json")} has vocab_size {config.VocabSize}: " +
                "ids past the model's embedding cannot be used; pair the model with the tokenizer it was trained with");
        }
        return tokenizer;
    }
}
