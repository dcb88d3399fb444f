namespace RawLongLoRA.Model;

/// <summary>The two BPE families of Llama / Mistral / Qwen checkpoints.</summary>
public enum TokenizerKind
{
    /// <summary>SentencePiece BPE over characters, spaces as "▁", unknown characters as byte tokens (Llama 2, Mistral).</summary>
    SentencePiece,

    /// <summary>Byte-level BPE over UTF-8 bytes after a regex pre-tokenizer (Llama 3, Qwen2, Qwen3).</summary>
    ByteLevel,
}
