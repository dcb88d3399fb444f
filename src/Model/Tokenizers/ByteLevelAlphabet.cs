namespace RawLongLoRA.Model;

/// <summary>
/// GPT-2's byte-to-character map that byte-level BPE vocabularies are written in: printable bytes
/// stand for themselves, the other 68 bytes (controls, space, NBSP, soft hyphen...) for U+0100 onwards,
/// so that every token is a printable string (a space becomes 'Ġ').
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly short[] ByteOfChar = BuildByteOfChar();
    private static readonly char[] CharOfByte = BuildCharOfByte();

    private static short[] BuildByteOfChar()
    {
        var byteOf = new short[512];
        Array.Fill(byteOf, (short)-1);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            byteOf[printable ? b : 256 + shifted++] = (short)b;
        }
        return byteOf;
    }

    private static char[] BuildCharOfByte()
    {
        var charOf = new char[256];
        for (int c = 0; c < ByteOfChar.Length; c++)
            if (ByteOfChar[c] >= 0)
                charOf[ByteOfChar[c]] = (char)c;
        return charOf;
    }

    /// <summary>The character that stands for byte <paramref name="b"/> in a vocabulary ('Ġ' for a space).</summary>
    public static char CharOf(byte b) => CharOfByte[b];

    /// <summary>The bytes a vocabulary entry stands for; false if it has a character outside the alphabet.</summary>
    public static bool TryDecode(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int c = token[i];
            if (c >= ByteOfChar.Length || ByteOfChar[c] < 0)
                return false;
            bytes[i] = (byte)ByteOfChar[c];
        }
        return true;
    }
}
