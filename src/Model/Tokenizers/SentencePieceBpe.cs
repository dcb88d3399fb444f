using System.Text;
using Microsoft.ML.Tokenizers;

namespace RawLongLoRA.Model;

/// <summary>
/// SentencePiece-style BPE from a tokenizer.json (Llama 2, Mistral) run by Microsoft.ML.Tokenizers'
/// BpeTokenizer, which merges by merge rank as Hugging Face does (SentencePiece itself merges by
/// the score of the token made, which splits runs of spaces differently). Characters outside the
/// vocabulary come back as the unknown token and are replaced by their UTF-8 byte tokens
/// ("&lt;0xF0&gt;"...), which is byte_fallback.
/// </summary>
internal sealed class SentencePieceBpe : ITokenModel
{
    private readonly BpeTokenizer _bpe;
    private readonly SpaceMarking _marking;
    private readonly int? _unknownId;
    private readonly int[]? _byteIds;
    private readonly bool _splitWords;

    public SentencePieceBpe(IReadOnlyDictionary<string, int> vocab, IEnumerable<string> merges, string? unknownToken,
                            bool byteFallback, bool fuseUnknown, SpaceMarking marking)
    {
        _marking = marking;
        _unknownId = unknownToken is not null && vocab.TryGetValue(unknownToken, out int unk) ? unk : null;
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++)
                _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
        // Merging a whole text at once costs time quadratic in its length in BpeTokenizer. Where no
        // token has '▁' after another character, no token crosses the start of a word, so words
        // can be merged one by one with the same result.
        _splitWords = vocab.Keys.All(t => t.TrimStart(SpaceMarking.Mark).IndexOf(SpaceMarking.Mark) < 0);
        _bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            UnknownToken = unknownToken,
            FuseUnknownTokens = fuseUnknown && !byteFallback,
            PreTokenizer = new WordSplitter(),
        });
    }

    public void Encode(string text, bool atStart, List<int> ids)
    {
        string marked = _marking.Apply(text, atStart);
        var result = _bpe.EncodeToIds(marked, considerPreTokenization: _splitWords, considerNormalization: false);
        if (_byteIds is null || _unknownId is not int unk || !result.Contains(unk))
        {
            ids.AddRange(result);
            return;
        }
        foreach (var token in _bpe.EncodeToTokens(marked, out _, considerPreTokenization: _splitWords, considerNormalization: false))
        {
            if (token.Id != unk)
            {
                ids.Add(token.Id);
                continue;
            }
            var (offset, length) = token.Offset.GetOffsetAndLength(marked.Length);
            var bytes = Encoding.UTF8.GetBytes(marked, offset, length);
            if (bytes.All(b => _byteIds[b] >= 0))
                ids.AddRange(bytes.Select(b => _byteIds[b]));
            else
                ids.Add(unk);
        }
    }

    /// <summary>Words for the BPE: a cut before every '▁' that follows another character.</summary>
    private sealed class WordSplitter : PreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => PreTokenize(text.AsSpan());

        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text)
        {
            var words = new List<(int, int)>();
            int start = 0;
            for (int i = 1; i < text.Length; i++)
            {
                if (text[i] == SpaceMarking.Mark && text[i - 1] != SpaceMarking.Mark)
                {
                    words.Add((start, i - start));
                    start = i;
                }
            }
            if (text.Length > 0)
                words.Add((start, text.Length - start));
            return words;
        }
    }
}
