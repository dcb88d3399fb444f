using System.Text;

namespace RawLongLoRA.Model;

/// <summary>
/// A Hugging Face model folder's tokenizer, giving the token ids Hugging Face's (fast) tokenizer
/// gives: tokenizer.json read and run here (SentencePiece-style BPE for Llama 2 / Mistral, byte-level
/// BPE for Llama 3 / Qwen, both merged by <see cref="BpeWord"/> in O(n log n)), or a SentencePiece
/// tokenizer.model, run by Microsoft.ML.Tokenizers, where there is no tokenizer.json. Special tokens come from
/// tokenizer_config.json / special_tokens_map.json, the ids generation stops at from
/// generation_config.json. Thread-safe once loaded.
/// </summary>
public sealed class Tokenizer
{
    private readonly ITokenModel _model;
    private readonly AddedTokenSplitter _splitter;
    private readonly string[] _tokens;
    private readonly byte[][] _bytes;
    private readonly bool[] _special;
    private readonly Dictionary<string, int> _ids;
    private readonly bool _nfc, _stripsLeadingSpace;
    private readonly ChatTemplate? _chat;
    private readonly TokenizerException? _chatUnsupported;

    private Tokenizer(TokenizerSource source, TokenizerConfig config)
    {
        Kind = source.Kind;
        _model = source.Model;
        _nfc = source.Nfc;
        _stripsLeadingSpace = source.StripsLeadingSpace;
        _splitter = new AddedTokenSplitter(source.AddedTokens);
        VocabSize = Math.Max(source.PieceBytes.Length, source.AddedTokens.Select(t => t.Id + 1).DefaultIfEmpty(0).Max());
        _tokens = new string[VocabSize];
        _bytes = new byte[VocabSize][];
        _special = new bool[VocabSize];
        _ids = new Dictionary<string, int>(source.Vocabulary, StringComparer.Ordinal);
        foreach (var (token, id) in source.Vocabulary)
            _tokens[id] = token;
        source.PieceBytes.CopyTo(_bytes, 0);
        foreach (var t in source.AddedTokens)
        {
            _tokens[t.Id] = t.Content;
            _bytes[t.Id] = Encoding.UTF8.GetBytes(t.Content);
            _special[t.Id] = t.Special;
            _ids[t.Content] = t.Id;
        }
        for (int id = 0; id < VocabSize; id++)
        {
            _tokens[id] ??= "";
            _bytes[id] ??= [];
        }

        string configFile = Path.Combine(Path.GetDirectoryName(source.File) ?? "", TokenizerConfig.ConfigName);
        int? IdOf(string? token, string file, string field) => token is null ? null
            : TokenToId(token) ?? throw new TokenizerException(file, field, $"'{token}' is not in the vocabulary");
        string? bosToken = config.BosToken ?? source.Bos, eosToken = config.EosToken ?? source.Eos;
        BosId = IdOf(bosToken, configFile, "bos_token") ?? config.GenerationBosId;
        EosIds = config.GenerationEosIds.Concat(IdOf(eosToken, configFile, "eos_token") is int eos ? [eos] : []).Distinct().ToArray();
        PadId = IdOf(config.PadToken, configFile, "pad_token") ?? config.GenerationPadId;
        AddedBosId = config.AddBosToken switch
        {
            true => BosId ?? throw new TokenizerException(configFile, "add_bos_token", "is true but there is no bos_token"),
            false => null,
            null => IdOf(source.Bos, source.File, "post_processor"),
        };
        (_chat, _chatUnsupported) = ChatTemplate.Detect(config.ChatTemplate, config.ChatTemplateFile, _ids.ContainsKey, Kind, bosToken, eosToken);
    }

    /// <summary>Which algorithm the files describe (byte-level BPE, SentencePiece BPE).</summary>
    public TokenizerKind Kind { get; }

    /// <summary>Ids run from 0 to VocabSize - 1, added tokens included (the model's embedding may be larger).</summary>
    public int VocabSize { get; }

    /// <summary>
    /// The id of the model's beginning-of-sequence token, where it has one (whether <see cref="Encode"/> adds it is
    /// <see cref="AddedBosId"/>).
    /// </summary>
    public int? BosId { get; }

    /// <summary>The BOS that <see cref="Encode"/> puts first (add_bos_token, or tokenizer.json's post-processor); null for models that add none (Qwen).</summary>
    public int? AddedBosId { get; }

    /// <summary>The ids that end generation: generation_config.json's eos_token_id (one or a list), then the tokenizer's eos_token.</summary>
    public IReadOnlyList<int> EosIds { get; }

    /// <summary>The id of the padding token, where the files name one.</summary>
    public int? PadId { get; }

    /// <summary>The format <see cref="ApplyChatTemplate"/> writes; null when the model's template is none of the three.</summary>
    public ChatFormat? ChatFormat => _chat?.Format;

    /// <summary>Reads the tokenizer files of a model folder; a missing or unusable file throws a <see cref="TokenizerException"/> naming it.</summary>
    public static Tokenizer Load(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new TokenizerException(modelDir, null, "model folder not found");
        var config = TokenizerConfig.Read(modelDir);
        string json = Path.Combine(modelDir, "tokenizer.json"), spm = Path.Combine(modelDir, "tokenizer.model");
        var source = File.Exists(json) ? TokenizerJson.Read(json)
            : File.Exists(spm) ? FromSentencePieceModel(spm, config)
            : throw new TokenizerException(modelDir, null, "no tokenizer.json or tokenizer.model; expected a Hugging Face tokenizer (tokenizer.json, or a SentencePiece tokenizer.model)");
        return new Tokenizer(source, config);
    }

    /// <summary>
    /// The ids of <paramref name="text"/>. Added tokens written in the text ("&lt;|im_start|&gt;",
    /// "&lt;s&gt;") become their ids, as in Hugging Face; with <paramref name="addBos"/> the BOS is put
    /// first where the tokenizer adds one (<see cref="AddedBosId"/>). Text from
    /// <see cref="ApplyChatTemplate"/> already holds its BOS: encode it with addBos false.
    /// </summary>
    public int[] Encode(string text, bool addBos = true)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos && AddedBosId is int bos)
            ids.Add(bos);
        foreach (var (start, length, token) in _splitter.Split(text))
        {
            if (token is not null)
            {
                ids.Add(token.Id);
                continue;
            }
            string part = text.Substring(start, length);
            _model.Encode(_nfc ? Nfc.Normalize(part) : part, start == 0, ids);
        }
        return ids.ToArray();
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. Unlike Hugging Face's decode with
    /// clean_up_tokenization_spaces (Llama 3's default), no spaces are removed before punctuation,
    /// so Decode(Encode(text, addBos: false)) gives the text back (in NFC for Qwen). Ids past the
    /// vocabulary decode to nothing, as in Hugging Face: models pad their embedding rows (Qwen3 has
    /// 151,936 for 151,669 tokens) and an untrained model may pick one.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id < 0)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id {id} is negative");
            if (id < VocabSize && !(skipSpecialTokens && _special[id]))
                bytes.AddRange(_bytes[id]);
        }
        string text = Encoding.UTF8.GetString(bytes.ToArray());
        return _stripsLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    /// <summary>The id of a token as the vocabulary writes it ("▁the", "Ġthe", "&lt;|eot_id|&gt;"), or null.</summary>
    public int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    /// <summary>
    /// The conversation as the model's chat template writes it (Llama 2, Llama 3 or ChatML, see
    /// <see cref="ChatFormat"/>), BOS text included. Llama 2's template has no generation prompt.
    /// </summary>
    public string ApplyChatTemplate(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        (_chat ?? throw _chatUnsupported!).Apply(messages, addGenerationPrompt);

    private static TokenizerSource FromSentencePieceModel(string path, TokenizerConfig config)
    {
        var file = new SentencePieceFile(path);
        var sp = file.Model;
        var pieces = new byte[sp.Vocabulary.Values.DefaultIfEmpty(-1).Max() + 1][];
        foreach (var (piece, id) in sp.Vocabulary)
            pieces[id] = SpaceMarking.PieceBytes(piece, sp.ByteFallback);
        for (int id = 0; id < pieces.Length; id++)
            pieces[id] ??= [];
        // Without added_tokens_decoder, the control pieces are the special tokens (as in Hugging Face's LlamaTokenizer).
        var added = config.AddedTokens.Count > 0 ? config.AddedTokens
            : new[] { (sp.UnknownId, sp.UnknownToken), (sp.BeginningOfSentenceId, sp.BeginningOfSentenceToken), (sp.EndOfSentenceId, sp.EndOfSentenceToken) }
                .Where(t => sp.Vocabulary.ContainsKey(t.Item2)).Select(t => new AddedToken(t.Item1, t.Item2, true)).ToList();
        return new TokenizerSource(path, TokenizerKind.SentencePiece, file, sp.Vocabulary, pieces, added, Nfc: false,
                                   StripsLeadingSpace: sp.AddDummyPrefix, sp.BeginningOfSentenceToken, sp.EndOfSentenceToken);
    }
}
