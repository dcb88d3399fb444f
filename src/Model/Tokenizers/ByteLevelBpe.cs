using System.Text;
using Microsoft.ML.Tokenizers;

namespace RawLongLoRA.Model;

/// <summary>
/// Byte-level BPE of the tiktoken family (Llama 3, Qwen) run by Microsoft.ML.Tokenizers'
/// TiktokenTokenizer: the vocabulary's tokens as bytes with rank = id, and the tokenizer.json's
/// split regex. Hugging Face's BPE merges by the rank of the merge, tiktoken by the rank (id) of the
/// token a pair makes; the loader checks that these orders agree. Tiktoken also takes a piece that is
/// itself a token whole, which is Hugging Face's ignore_merges (Llama 3 needs it for words like
/// " việc" that its merges cannot build).
/// </summary>
internal sealed class ByteLevelBpe : ITokenModel
{
    private readonly TiktokenTokenizer _tiktoken;

    /// <param name="tokens">Each vocabulary token's bytes and id.</param>
    public ByteLevelBpe(IEnumerable<(byte[] Bytes, int Id)> tokens, string splitPattern)
    {
        // TiktokenTokenizer reads only tiktoken's file format: base64 of the bytes, a space, the rank.
        var text = new StringBuilder();
        foreach (var (bytes, id) in tokens)
            text.Append(Convert.ToBase64String(bytes)).Append(' ').Append(id).Append('\n');
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text.ToString()));
        _tiktoken = TiktokenTokenizer.Create(stream, new RegexSplitPreTokenizer(splitPattern), normalizer: null);
    }

    public void Encode(string text, bool atStart, List<int> ids) =>
        ids.AddRange(_tiktoken.EncodeToIds(text, considerPreTokenization: true, considerNormalization: false));
}
