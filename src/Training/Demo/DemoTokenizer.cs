using System.Text.Json.Nodes;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// The demo's tokenizer: byte-level BPE with no merges, so token id = byte value (256 ids) and
/// &lt;|endoftext|&gt; = 256 ends documents. Written as an ordinary Hugging Face tokenizer.json, so the
/// demo model folder is one any tool here (and transformers) can load.
/// </summary>
internal static class DemoTokenizer
{
    public const int EndOfText = 256;
    public const int VocabSize = 257;

    public static void Write(string dir)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++)
            vocab[ByteLevelAlphabet.CharOf((byte)b).ToString()] = b;
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = true };
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = EndOfText, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = null,
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(), ["ignore_merges"] = false },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString(new() { WriteIndented = true }) + "\n");
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """
            {
              "tokenizer_class": "PreTrainedTokenizerFast",
              "bos_token": null,
              "eos_token": "<|endoftext|>",
              "pad_token": "<|endoftext|>",
              "add_bos_token": false,
              "model_max_length": 256
            }

            """);
    }
}
