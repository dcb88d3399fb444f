using System.Security.Cryptography;

namespace RawLongLoRA.Model;

/// <summary>
/// A hash of the files a model folder's <see cref="Tokenizer"/> is made from (the tokenizer itself,
/// its config, special tokens, generation config with the EOS ids, chat template): what was tokenized
/// with one fingerprint is tokenized the same way again. Token caches are keyed by it.
/// </summary>
public static class TokenizerFingerprint
{
    /// <summary>Every file <see cref="Tokenizer.Load"/> may read; keep in step with it.</summary>
    private static readonly string[] Files =
        ["tokenizer.json", "tokenizer.model", TokenizerConfig.ConfigName, "special_tokens_map.json", "generation_config.json", "chat_template.jinja"];

    /// <summary>SHA-256 (hex) over each present file's name and bytes, in a fixed order.</summary>
    public static string Of(string modelDir)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string name in Files)
        {
            string path = Path.Combine(modelDir, name);
            if (!File.Exists(path))
                continue;
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\n"));
            hash.AppendData(File.ReadAllBytes(path));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
