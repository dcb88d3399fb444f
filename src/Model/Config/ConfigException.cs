namespace RawLongLoRA.Model;

/// <summary>
/// A config.json that cannot be used: names the file and the key(s) at fault (dotted for nested keys,
/// e.g. "rope_scaling.factor"), and says what was expected or what is supported.
/// </summary>
public sealed class ConfigException : Exception
{
    /// <summary>
    /// An error in <paramref name="file"/> at key <paramref name="field"/> (null: the whole file); the message reads
    /// "file: message".
    /// </summary>
    public ConfigException(string file, string? field, string message, Exception? inner = null)
        : base($"{file}: {message}", inner)
    {
        File = file;
        Field = field;
    }

    /// <summary>The config file (or the name given to <see cref="ModelConfig.Parse"/>).</summary>
    public string File { get; }

    /// <summary>The offending key, or several joined by ", "; null where the whole file is at fault.</summary>
    public string? Field { get; }
}
