namespace RawLongLoRA.Model;

/// <summary>
/// A safetensors file or checkpoint folder that breaks a rule of the format, or asks for something this
/// engine cannot hold (a dtype it lacks). The message is one line naming the file, the tensor where
/// there is one, what was expected, and <see cref="Rule"/>, a short stable name to match on:
/// too-small, header-length, header-start, utf8, json, duplicate-key, entry, dtype, shape, byte-range,
/// gap, overlap, truncated, trailing-bytes, metadata (one file); missing-file, missing-tensor, index,
/// missing-shard, duplicate-tensor (a checkpoint and its index); unexpected-tensor, config-mismatch (a
/// model folder against its config); tied (an adapter's lm_head that differs from its tied embedding).
/// </summary>
public sealed class SafeTensorsException : Exception
{
    /// <summary>
    /// A broken <paramref name="rule"/> in <paramref name="file"/> (at <paramref name="tensor"/>, or null for the
    /// file as a whole); <paramref name="detail"/> says what was found and expected.
    /// </summary>
    public SafeTensorsException(string file, string? tensor, string rule, string detail)
        : base(OneLine($"{file}: {(tensor is null ? "" : $"tensor {Quote(tensor)}: ")}{detail} [{rule}]"))
    {
        File = file;
        Tensor = tensor;
        Rule = rule;
    }

    /// <summary>The file (or the index, or the folder) at fault.</summary>
    public string File { get; }
    /// <summary>The tensor at fault, or null when the file as a whole is.</summary>
    public string? Tensor { get; }
    /// <summary>The short, stable name of the broken rule (see the class summary), to match on.</summary>
    public string Rule { get; }

    /// <summary>Text taken from a file, quoted and cut short: a hostile name may be megabytes long.</summary>
    internal static string Quote(string s) => s.Length > 200 ? $"'{s[..200]}...'" : $"'{s}'";

    /// <summary>Control characters escaped, so that names and parser messages cannot break the one-line message.</summary>
    private static string OneLine(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length);
        foreach (char c in s)
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return sb.ToString();
    }
}
