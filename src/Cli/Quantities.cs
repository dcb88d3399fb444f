using System.Globalization;
using System.Text.RegularExpressions;

namespace RawLongLoRA.Cli;

/// <summary>Sizes and rates as people type them: a number and a unit ("5GB", "2GiB", "200T"), refused naming the flag.</summary>
internal static partial class Quantities
{
    /// <summary>"5GB" (10⁹ bytes, as transformers' max_shard_size), "2GiB" (2³⁰), "500MB", "1024".</summary>
    public static long Bytes(string text, string option) => (long)Parse(text, option, ByteUnits, "a size (expected e.g. 5GB, 500MB, 2GiB or a number of bytes)");

    /// <summary>FLOP/s: "200T" (2·10¹⁴), "500G", "1.5P", or a plain number.</summary>
    public static double Rate(string text, string option) => Parse(text, option, RateUnits, "a rate in FLOP/s (expected e.g. 200T, 500G, 1.5P or a number)");

    private static readonly Dictionary<string, double> ByteUnits = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = 1, ["B"] = 1, ["KB"] = 1e3, ["MB"] = 1e6, ["GB"] = 1e9, ["TB"] = 1e12,
        ["KiB"] = 1L << 10, ["MiB"] = 1L << 20, ["GiB"] = 1L << 30, ["TiB"] = 1L << 40,
    };

    private static readonly Dictionary<string, double> RateUnits = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = 1, ["K"] = 1e3, ["M"] = 1e6, ["G"] = 1e9, ["T"] = 1e12, ["P"] = 1e15,
    };

    private static double Parse(string text, string option, Dictionary<string, double> units, string expected)
    {
        var m = Pattern().Match(text.Trim());
        if (!m.Success || !units.TryGetValue(m.Groups[2].Value, out double unit)
            || !double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            throw new FormatException($"{option}: '{text}' is not {expected}");
        double amount = value * unit;
        return amount >= 1 && amount < long.MaxValue ? amount : throw new FormatException($"{option}: '{text}' must be positive");
    }

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$")]
    private static partial Regex Pattern();
}
