using System.Text;

namespace RawLongLoRA.Model;

/// <summary>
/// Byte-level BPE as Hugging Face runs it (Llama 3, Qwen): the split regex cuts the text into words,
/// each word's UTF-8 bytes start as the single-byte tokens, and <see cref="BpeWord"/> merges them by
/// the rank of tokenizer.json's merges. With ignore_merges (Llama 3) a word that is itself a token is
/// taken whole, even where the merges could not build it (" việc").
/// </summary>
internal sealed class ByteLevelBpe : ITokenModel
{
    private readonly RegexSplitPreTokenizer _split;
    private readonly int[] _byteIds;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>? _wholeWords;
    private readonly int _longestToken;
    private readonly WordCache _cache = new();

    public BpeMerges Merges { get; }

    /// <param name="vocab">The tokens written in the byte-level alphabet ("Ġthe").</param>
    /// <param name="byteIds">The token of each single byte.</param>
    /// <param name="merges">tokenizer.json's merges, ranked.</param>
    /// <param name="splitPattern">The pre-tokenizer's split regex.</param>
    /// <param name="ignoreMerges">Take a word that is itself a token whole (Llama 3's ignore_merges).</param>
    public ByteLevelBpe(Dictionary<string, int> vocab, int[] byteIds, BpeMerges merges, string splitPattern, bool ignoreMerges)
    {
        _split = new RegexSplitPreTokenizer(splitPattern);
        Merges = merges;
        _byteIds = byteIds;
        if (ignoreMerges)
        {
            _wholeWords = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
            _longestToken = vocab.Keys.Max(t => t.Length);
        }
    }

    public void Encode(string text, bool atStart, List<int> ids)
    {
        foreach (var (offset, length) in _split.Split(text))
            EncodeWord(text.AsSpan(offset, length), ids);
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_cache.TryGet(word, out int[] cached))
        {
            ids.AddRange(cached);
            return;
        }
        int n = Encoding.UTF8.GetByteCount(word);
        byte[] bytes = ScratchArrays.Rent<byte>(n);
        int[] symbols = ScratchArrays.Rent<int>(n);
        try
        {
            Encoding.UTF8.GetBytes(word, bytes);
            if (WholeWord(bytes.AsSpan(0, n)) is int id)
            {
                symbols[0] = id;
                n = 1;
            }
            else
            {
                for (int i = 0; i < n; i++)
                    symbols[i] = _byteIds[bytes[i]];
                n = BpeWord.MergeAll(symbols.AsSpan(0, n), Merges);
            }
            ids.AddRange(symbols.AsSpan(0, n));
            _cache.Add(word, symbols.AsSpan(0, n));
        }
        finally
        {
            ScratchArrays.Return(bytes);
            ScratchArrays.Return(symbols);
        }
    }

    /// <summary>With ignore_merges, the token that is the whole word, if there is one.</summary>
    private int? WholeWord(ReadOnlySpan<byte> bytes)
    {
        if (_wholeWords is not { } vocab || bytes.Length > _longestToken)
            return null;
        Span<char> spelled = bytes.Length <= 256 ? stackalloc char[256] : new char[bytes.Length];
        spelled = spelled[..bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            spelled[i] = ByteLevelAlphabet.CharOf(bytes[i]);
        return vocab.TryGetValue(spelled, out int id) ? id : null;
    }
}
