using Microsoft.ML.Tokenizers;

namespace RawLongLoRA.Model;

/// <summary>
/// A SentencePiece tokenizer.model, for a folder that has no tokenizer.json, run by
/// Microsoft.ML.Tokenizers' SentencePieceTokenizer: SentencePiece's own algorithm and
/// normalisation on each stretch between added tokens, as the slow Hugging Face tokenizer does
/// with legacy=True (Hugging Face's default for Llama).
/// </summary>
internal sealed class SentencePieceFile : ITokenModel
{
    public SentencePieceFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            Model = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new TokenizerException(path, null, $"not a SentencePiece model the engine can read ({e.Message})", e);
        }
        if (Model.TreatWhitespaceAsSuffix)
            throw new TokenizerException(path, "trainer_spec.treat_whitespace_as_suffix", "is set; only spaces as prefixes (Llama, Mistral) are supported");
    }

    public SentencePieceTokenizer Model { get; }

    public void Encode(string text, bool atStart, List<int> ids) =>
        ids.AddRange(Model.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false,
                                       considerPreTokenization: false, considerNormalization: true));
}
