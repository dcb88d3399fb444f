using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RawLongLoRA.Model;

/// <summary>
/// Typed reads from one JSON object of a config file. Missing keys and wrong types are collected
/// rather than thrown, so that one <see cref="ConfigException"/> can name all of them at once. A
/// key whose value is null counts as absent, as it does for Hugging Face's config classes.
/// </summary>
internal sealed class ConfigReader
{
    private readonly JsonObject _obj;
    private readonly string _prefix;
    private readonly List<string> _missing;
    private readonly List<(string Field, string Problem)> _problems;

    public ConfigReader(string file, JsonObject obj) : this(file, obj, "", [], []) { }

    private ConfigReader(string file, JsonObject obj, string prefix, List<string> missing, List<(string, string)> problems)
    {
        File = file;
        _obj = obj;
        _prefix = prefix;
        _missing = missing;
        _problems = problems;
    }

    public string File { get; }

    /// <summary>The key as messages name it: dotted below the top level.</summary>
    public string Path(string key) => _prefix + key;

    public bool Has(string key) => _obj[key] is not null;

    public bool HasKey(string key) => _obj.ContainsKey(key);

    /// <summary>A required integer that must be positive (a missing one is reported once, as missing).</summary>
    public int PositiveInt(string key)
    {
        if (OptionalPositiveInt(key) is int v)
            return v;
        if (!Has(key))
            Missing(key);
        return 0;
    }

    public int? OptionalPositiveInt(string key)
    {
        var v = OptionalInt(key);
        Check(v is null or > 0, key, $"'{Path(key)}' must be positive, got {v}");
        return v > 0 ? v : null;
    }

    public int? OptionalInt(string key) => Get(key) is { } n ? AsInt(n) ?? Wrong<int?>(key, "an integer", n) : null;

    public double? OptionalNumber(string key) => Get(key) is { } n ? AsNumber(n) ?? Wrong<double?>(key, "a number", n) : null;

    public bool? OptionalBool(string key) => Get(key) is { } n
        ? n.GetValueKind() switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => Wrong<bool?>(key, "true or false", n) }
        : null;

    public string? OptionalString(string key) => Get(key) is { } n
        ? n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : Wrong<string?>(key, "a string", n)
        : null;

    public string[]? OptionalStrings(string key) => Items<string>(key, "an array of strings",
        n => n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null);

    public double[]? OptionalNumbers(string key) => Items<double>(key, "an array of numbers", n => AsNumber(n));

    /// <summary>An integer or an array of integers (eos_token_id takes either form).</summary>
    public int[]? OptionalInts(string key) => Get(key) is { } n && AsInt(n) is int single
        ? [single]
        : Items<int>(key, "an integer or an array of integers", n => AsInt(n));

    /// <summary>A reader on the object under <paramref name="key"/>, sharing this one's findings; null where absent.</summary>
    public ConfigReader? OptionalObject(string key) => Get(key) switch
    {
        null => null,
        JsonObject o => new ConfigReader(File, o, Path(key) + ".", _missing, _problems),
        var n => Wrong<ConfigReader?>(key, "an object", n),
    };

    public void Missing(string key) => _missing.Add(Path(key));

    public void Problem(string key, string text) => _problems.Add((Path(key), text));

    /// <summary>Records a problem with <paramref name="key"/> unless <paramref name="ok"/>.</summary>
    public void Check(bool ok, string key, string text)
    {
        if (!ok)
            Problem(key, text);
    }

    /// <summary>One exception naming every missing key and every problem found so far, if any.</summary>
    public void ThrowIfAny()
    {
        if (_missing.Count == 0 && _problems.Count == 0)
            return;
        var parts = new List<string>();
        if (_missing.Count > 0)
            parts.Add($"missing required key{(_missing.Count > 1 ? "s" : "")}: {string.Join(", ", _missing)}");
        parts.AddRange(_problems.Select(p => p.Problem));
        var fields = _missing.Concat(_problems.Select(p => p.Field)).Distinct();
        throw new ConfigException(File, string.Join(", ", fields), string.Join("; ", parts));
    }

    private JsonNode? Get(string key) => _obj[key];

    private T[]? Items<T>(string key, string expected, Func<JsonNode, object?> item)
    {
        if (Get(key) is not { } n)
            return null;
        if (n is not JsonArray a)
            return Wrong<T[]?>(key, expected, n);
        var values = new T[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] is not { } e || item(e) is not T v)
                return Wrong<T[]?>(key, expected, n);
            values[i] = v;
        }
        return values;
    }

    private T? Wrong<T>(string key, string expected, JsonNode n)
    {
        string text = n.ToJsonString();
        if (text.Length > 60)
            text = text[..57] + "...";
        Problem(key, $"'{Path(key)}' must be {expected}, got {n.GetValueKind().ToString().ToLowerInvariant()} {text}");
        return default;
    }

    private static double? AsNumber(JsonNode n) => n.GetValueKind() == JsonValueKind.Number
        ? double.Parse(n.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture)
        : null;

    // 4096.0 is accepted as 4096: Python writes ints as ints, but other tools do not always.
    private static int? AsInt(JsonNode n) => AsNumber(n) is double d && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue
        ? (int)d
        : null;
}
