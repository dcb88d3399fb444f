using System.Text;

namespace RawLongLoRA.Tests;

/// <summary>
/// Writes a SentencePiece tokenizer.model (a ModelProto, field numbers from sentencepiece_model.proto)
/// for the tests of folders that have no tokenizer.json: the npm packages carry no tokenizer.model.
/// Only what a BPE model needs is written: the pieces, the model type, byte fallback and the ids of
/// the unknown / BOS / EOS pieces; spaces are escaped with a dummy prefix, as Llama's model does.
/// </summary>
internal static class TokenizerModelWriter
{
    public enum PieceType { Normal = 1, Unknown = 2, Control = 3, Byte = 6 }

    public readonly record struct Piece(string Text, float Score, PieceType Type);

    /// <summary>&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte pieces, then <paramref name="pieces"/> (score: higher merges first).</summary>
    public static List<Piece> LlamaLayout(IEnumerable<(string Text, float Score)> pieces)
    {
        var all = new List<Piece> { new("<unk>", 0, PieceType.Unknown), new("<s>", 0, PieceType.Control), new("</s>", 0, PieceType.Control) };
        for (int b = 0; b < 256; b++)
            all.Add(new($"<0x{b:X2}>", 0, PieceType.Byte));
        all.AddRange(pieces.Select(p => new Piece(p.Text, p.Score, PieceType.Normal)));
        return all;
    }

    public static void Write(string path, IReadOnlyList<Piece> pieces)
    {
        var model = new MemoryStream();
        foreach (var piece in pieces)
        {
            var p = new MemoryStream();
            Bytes(p, 1, Encoding.UTF8.GetBytes(piece.Text));
            Tag(p, 2, 5);
            p.Write(BitConverter.GetBytes(piece.Score)); // fixed32, little-endian on every supported machine
            Varint(p, 3, (ulong)piece.Type);
            Bytes(model, 1, p.ToArray());
        }
        int IdOf(string text) => pieces.Select((p, i) => (p, i)).First(x => x.p.Text == text).i;
        var trainer = new MemoryStream();
        Varint(trainer, 3, 2); // model_type BPE
        Varint(trainer, 35, 1); // byte_fallback
        Varint(trainer, 40, (ulong)IdOf("<unk>"));
        Varint(trainer, 41, (ulong)IdOf("<s>"));
        Varint(trainer, 42, (ulong)IdOf("</s>"));
        Bytes(model, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        Varint(normalizer, 3, 1); // add_dummy_prefix
        Varint(normalizer, 4, 0); // remove_extra_whitespaces
        Varint(normalizer, 5, 1); // escape_whitespaces
        Bytes(model, 3, normalizer.ToArray());
        File.WriteAllBytes(path, model.ToArray());
    }

    private static void Tag(Stream s, int field, int wireType) => Raw(s, (ulong)((field << 3) | wireType));

    private static void Varint(Stream s, int field, ulong value)
    {
        Tag(s, field, 0);
        Raw(s, value);
    }

    private static void Bytes(Stream s, int field, byte[] bytes)
    {
        Tag(s, field, 2);
        Raw(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void Raw(Stream s, ulong value)
    {
        for (; value >= 0x80; value >>= 7)
            s.WriteByte((byte)(value | 0x80));
        s.WriteByte((byte)value);
    }
}
