using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using RawLongLoRA.Model;

namespace RawLongLoRA.Cli;

/// <summary>
/// How every verb runs: errors a user can fix (a bad file, a bad flag) are one line on stderr and exit
/// code 1; the stack trace only with --verbose. Anything else is a bug and says so.
/// </summary>
internal static class CliRun
{
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print stack traces with errors",
        Recursive = true,
    };

    public static readonly Option<bool> Quiet = new("--quiet", "-q")
    {
        Description = "Print only errors and the final summary",
        Recursive = true,
    };

    /// <summary>Sets the verb's body, run under the error policy above.</summary>
    public static Command Runs(this Command command, Action<ParseResult> body)
    {
        command.SetAction(parse => Guard(parse, () => body(parse)));
        return command;
    }

    /// <summary>
    /// Refuses at parse time a number <paramref name="ok"/> does not accept, naming the flag, so that the
    /// verb fails before any work. A token that is no number at all is the parser's to report.
    /// </summary>
    public static Option<T> Expect<T>(this Option<T> option, Func<double, bool> ok, string expected)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens is [var token] && double.TryParse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && !ok(value))
                result.AddError($"{option.Name}: expected {expected}, got {token.Value}");
        });
        return option;
    }

    /// <summary>Refuses "" for these arguments and options at parse time: an empty path reads as the current folder, or fails naming nothing.</summary>
    public static Command NonEmpty(this Command command, params Symbol[] symbols)
    {
        command.Validators.Add(result =>
        {
            foreach (var child in result.Children.Where(c => c.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value))))
            {
                Symbol? symbol = child switch { OptionResult o => o.Option, ArgumentResult a => a.Argument, _ => null };
                if (symbol is not null && symbols.Contains(symbol))
                    result.AddError($"{(symbol is Argument ? $"<{symbol.Name}>" : symbol.Name)} is empty");
            }
        });
        return command;
    }

    private static int Guard(ParseResult parse, Action body)
    {
        try
        {
            using var profile = CliProfile.Start(parse);
            body();
            profile?.Finish(parse.GetValue(Quiet));
            return 0;
        }
        catch (CliWorld.SilentExit exit)
        {
            return exit.Code;
        }
        catch (OperationCanceledException) when (CliStop.Stopped is int code)
        {
            Console.Error.WriteLine("rawlora: stopped before anything was saved");
            return code;
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"rawlora: error: {e.Message}");
            if (parse.GetValue(Verbose))
                Console.Error.WriteLine(e);
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"rawlora: internal error ({e.GetType().Name}): {e.Message}");
            Console.Error.WriteLine(parse.GetValue(Verbose) ? e.ToString() : "run again with --verbose for the stack trace, and please report it");
            return 2;
        }
    }

    private static bool IsUserError(Exception e) => e is SafeTensorsException or ConfigException or TokenizerException
        or Training.DataException or Training.TrainingException or ArgumentException or IOException or UnauthorizedAccessException or FormatException or InvalidOperationException
        or Distributed.CommunicatorException;

    /// <summary>"1,2,3" → ids, with the offending item named when one is not an integer.</summary>
    public static long[] ParseIds(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
            throw new FormatException($"{option}: no token ids given (expected e.g. 1,2,3)");
        return parts.Select(p => long.TryParse(p, out long v) && v >= 0 ? v
            : throw new FormatException($"{option}: '{p}' is not a token id (expected non-negative integers separated by commas)")).ToArray();
    }

    /// <summary>The ids of a --text or --prompt; none at all (empty text, and a tokenizer that adds no BOS) is refused naming the flag.</summary>
    public static int[] Encoded(int[] ids, string option) =>
        ids.Length > 0 ? ids : throw new ArgumentException($"{option}: the text is empty and this tokenizer adds no BOS token, so there is nothing to run; give some text");

    /// <summary>A byte count as people read it (binary units); "n/a" where it is not known.</summary>
    public static string Bytes(long? bytes) => bytes switch
    {
        null => "n/a",
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        _ => $"{bytes / 1024.0:F0} KiB",
    };

    public static DType ParseWeightDtype(string text, string option = "--weight-dtype") => text.ToLowerInvariant() switch
    {
        "f32" or "float32" => DType.F32,
        "bf16" or "bfloat16" => DType.BF16,
        "f16" or "float16" => DType.F16,
        _ => throw new FormatException($"{option}: '{text}' is not one of f32, bf16, f16"),
    };
}
