using System.Text;

namespace RawLongLoRA.Model;

/// <summary>
/// SentencePiece-style BPE from a tokenizer.json (Llama 2, Mistral) as Hugging Face runs it: spaces
/// become '▁' (<see cref="SpaceMarking"/>), each character starts as its token, and
/// <see cref="BpeWord"/> merges by merge rank (SentencePiece itself merges by the score of the token
/// made, which splits runs of spaces differently). A character outside the vocabulary becomes its
/// UTF-8 byte tokens ("&lt;0xF0&gt;"...) with byte_fallback, else the unknown token, one for a run of
/// them with fuse_unk.
/// </summary>
internal sealed class SentencePieceBpe : ITokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly int[] _bmpIds = new int[65536]; // the token of each one-character token in the BMP, -1: none (an array: one look-up per character)
    private readonly Dictionary<int, int> _astralIds = [];
    private readonly SpaceMarking _marking;
    private readonly int? _unknownId;
    private readonly int[]? _byteIds;
    private readonly bool _fuseUnknown, _ignoreMerges, _splitWords;
    private readonly WordCache _cache = new();

    public BpeMerges Merges { get; }

    public SentencePieceBpe(Dictionary<string, int> vocab, BpeMerges merges, string? unknownToken, bool byteFallback,
                            bool fuseUnknown, bool ignoreMerges, SpaceMarking marking)
    {
        _vocab = vocab;
        Merges = merges;
        _marking = marking;
        _fuseUnknown = fuseUnknown;
        _ignoreMerges = ignoreMerges;
        // Hugging Face fails to encode an unknown character when its unk_token is not in the vocabulary; here it is dropped, as without an unk_token.
        _unknownId = unknownToken is not null && vocab.TryGetValue(unknownToken, out int unk) ? unk : null;
        Array.Fill(_bmpIds, -1);
        foreach (var (token, id) in vocab)
        {
            if (Rune.DecodeFromUtf16(token, out var rune, out int used) != System.Buffers.OperationStatus.Done || used != token.Length)
                continue;
            if (rune.IsBmp)
                _bmpIds[rune.Value] = id;
            else
                _astralIds[rune.Value] = id;
        }
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++)
                _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
        // Words for the cache: where '▁' is a token, no token has '▁' after another character, and no
        // character is dropped (which would put the '▁'s around it side by side), no merge joins a
        // character to a '▁' that follows it, so cutting there changes nothing.
        _splitWords = vocab.ContainsKey(SpaceMarking.Mark.ToString())
                      && vocab.Keys.All(t => t.TrimStart(SpaceMarking.Mark).IndexOf(SpaceMarking.Mark) < 0)
                      && (_unknownId is not null || _byteIds?.All(id => id >= 0) == true);
    }

    public void Encode(string text, bool atStart, List<int> ids)
    {
        string marked = _marking.Apply(text, atStart);
        // Hugging Face's word is the whole stretch: its pre-tokenizer does not split.
        if (_ignoreMerges && _vocab.TryGetValue(marked, out int whole))
        {
            ids.Add(whole);
            return;
        }
        if (!_splitWords)
        {
            EncodeWord(marked, ids);
            return;
        }
        int start = 0;
        for (int i = 1; i < marked.Length; i++)
        {
            if (marked[i] == SpaceMarking.Mark && marked[i - 1] != SpaceMarking.Mark)
            {
                EncodeWord(marked.AsSpan(start, i - start), ids);
                start = i;
            }
        }
        EncodeWord(marked.AsSpan(start), ids);
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (word.IsEmpty)
            return;
        if (_cache.TryGet(word, out int[] cached))
        {
            ids.AddRange(cached);
            return;
        }
        // A character gives at most one token per UTF-8 byte.
        int[] symbols = ScratchArrays.Rent<int>(Encoding.UTF8.GetByteCount(word));
        try
        {
            int n = BpeWord.MergeAll(symbols.AsSpan(0, Symbols(word, symbols)), Merges);
            ids.AddRange(symbols.AsSpan(0, n));
            _cache.Add(word, symbols.AsSpan(0, n));
        }
        finally
        {
            ScratchArrays.Return(symbols);
        }
    }

    /// <summary>
    /// The word's characters as tokens, as Hugging Face's merge_word makes them. An unknown token waits
    /// for the next character that is a token (or the end), to be fused with further unknown ones: byte
    /// tokens of characters in between go before it, as they do in Hugging Face.
    /// </summary>
    private int Symbols(ReadOnlySpan<char> word, int[] symbols)
    {
        int n = 0;
        bool unknownWaits = false;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in word.EnumerateRunes())
        {
            int id = rune.IsBmp ? _bmpIds[rune.Value] : _astralIds.GetValueOrDefault(rune.Value, -1);
            if (id >= 0)
            {
                if (unknownWaits)
                    symbols[n++] = _unknownId!.Value;
                unknownWaits = false;
                symbols[n++] = id;
                continue;
            }
            var bytes = utf8[..rune.EncodeToUtf8(utf8)];
            if (_byteIds is not null && HasByteTokens(bytes))
            {
                foreach (byte b in bytes)
                    symbols[n++] = _byteIds[b];
                continue;
            }
            if (_unknownId is int unk)
            {
                if (unknownWaits && !_fuseUnknown)
                    symbols[n++] = unk;
                unknownWaits = true;
            }
        }
        if (unknownWaits)
            symbols[n++] = _unknownId!.Value;
        return n;
    }

    private bool HasByteTokens(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            if (_byteIds![b] < 0)
                return false;
        return true;
    }
}
