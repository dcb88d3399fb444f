namespace RawLongLoRA.Bench;

/// <summary>A bench verb: its name, a one-line summary, its own options (option, help) and its body.</summary>
public sealed record Verb(string Name, string Summary, (string Option, string Help)[] Options, Func<Options, Report, int> Run);

/// <summary>
/// Options as the verb declares them: "--name VALUE" takes a value, "--name" is a flag. Anything
/// else is an error rather than silently ignored, so a typo cannot change what is measured.
/// </summary>
public sealed class Options
{
    private readonly Dictionary<string, string?> _values = [];

    public bool Flag(string name) => _values.ContainsKey(name);

    public string? Value(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public static bool TryParse(IEnumerable<string> args, IEnumerable<string> specs, out Options options, out string? error)
    {
        options = new Options();
        error = null;
        var takesValue = specs.ToDictionary(s => s.Split(' ')[0], s => s.Contains(' '));
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string name = list[i];
            if (!takesValue.TryGetValue(name, out bool wantsValue))
            {
                error = $"unknown option '{name}' (see --help)";
                return false;
            }
            if (wantsValue && i + 1 >= list.Count)
            {
                error = $"{name} wants a value";
                return false;
            }
            options._values[name] = wantsValue ? list[++i] : null;
        }
        return true;
    }
}
