namespace RawLongLoRA.Model;

/// <summary>
/// A tokenizer file that is missing or cannot be used: one line naming the file, the field where
/// there is one (dotted for nested keys, e.g. "model.merges"), and what was expected.
/// </summary>
public sealed class TokenizerException : Exception
{
    /// <summary>
    /// An error in <paramref name="file"/> at <paramref name="field"/> (null: the file as a whole); the message reads
    /// "file: field: message".
    /// </summary>
    public TokenizerException(string file, string? field, string message, Exception? inner = null)
        : base(field is null ? $"{file}: {message}" : $"{file}: {field}: {message}", inner)
    {
        File = file;
        Field = field;
    }

    /// <summary>The file at fault, or the model folder where no tokenizer file was found.</summary>
    public string File { get; }

    /// <summary>The key at fault (dotted for nested keys, e.g. "model.merges"), or null.</summary>
    public string? Field { get; }
}
