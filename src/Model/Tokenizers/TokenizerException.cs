namespace RawLongLoRA.Model;

/// <summary>
/// A tokenizer file that is missing or cannot be used: one line naming the file, the field where
/// there is one (dotted for nested keys, e.g. "model.merges"), and what was expected.
/// </summary>
public sealed class TokenizerException : Exception
{
    public TokenizerException(string file, string? field, string message, Exception? inner = null)
        : base(field is null ? $"{file}: {message}" : $"{file}: {field}: {message}", inner)
    {
        File = file;
        Field = field;
    }

    /// <summary>The file at fault, or the model folder where no tokenizer file was found.</summary>
    public string File { get; }

    public string? Field { get; }
}
