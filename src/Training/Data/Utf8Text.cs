using System.Text;
using System.Text.Unicode;

namespace RawLongLoRA.Training;

/// <summary>
/// Data files read as strict UTF-8: .NET's default decoder replaces bad bytes with U+FFFD, which would
/// train on garbage without a word. A file that is not UTF-8 is a <see cref="DataException"/> naming
/// its first bad line.
/// </summary>
internal static class Utf8Text
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string ReadAll(string file)
    {
        try
        {
            return File.ReadAllText(file, Strict);
        }
        catch (DecoderFallbackException e)
        {
            throw NotUtf8(file, e);
        }
    }

    public static IEnumerable<string> ReadLines(string file)
    {
        using var lines = File.ReadLines(file, Strict).GetEnumerator();
        while (true)
        {
            try
            {
                if (!lines.MoveNext())
                    yield break;
            }
            catch (DecoderFallbackException e)
            {
                throw NotUtf8(file, e);
            }
            yield return lines.Current;
        }
    }

    /// <summary>The decoder reads ahead a buffer at a time, so the line is found again from the bytes.</summary>
    private static DataException NotUtf8(string file, DecoderFallbackException e)
    {
        var bytes = File.ReadAllBytes(file).AsSpan();
        int line = 1;
        for (int end; (end = bytes.IndexOf((byte)'\n')) >= 0 && Utf8.IsValid(bytes[..end]); line++)
            bytes = bytes[(end + 1)..];
        return new DataException(file, line, null, "not UTF-8 text (save the file as UTF-8)", e);
    }
}
