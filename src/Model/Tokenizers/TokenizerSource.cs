namespace RawLongLoRA.Model;

/// <summary>
/// What a tokenizer file gives the <see cref="Tokenizer"/>: the BPE to run, the added tokens, the
/// bytes each vocabulary id stands for (index = id; Decode concatenates them), and the BOS the file
/// itself puts before a text (tokenizer.json's post-processor, a SentencePiece model's bos piece)
/// and its EOS, which tokenizer_config.json may override.
/// </summary>
internal sealed record TokenizerSource(
    string File,
    TokenizerKind Kind,
    ITokenModel Model,
    IReadOnlyDictionary<string, int> Vocabulary,
    byte[][] PieceBytes,
    IReadOnlyList<AddedToken> AddedTokens,
    bool Nfc,
    bool StripsLeadingSpace,
    string? Bos,
    string? Eos);
