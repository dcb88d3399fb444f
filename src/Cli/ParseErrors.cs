using System.CommandLine;
using System.CommandLine.Parsing;
using System.ComponentModel;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// A command line that does not parse, told as every other error is: one line naming the flag and what
/// was expected, and where the options are listed; not the whole help, which buries the error.
/// </summary>
internal static class ParseErrors
{
    public static int Report(ParseResult parse)
    {
        var command = parse.CommandResult;
        var verbs = command.Command.Subcommands;
        string message = verbs.Count == 0 ? string.Join("; ", parse.Errors.Select(Describe).Distinct())
            : $"{(parse.UnmatchedTokens.Count > 0 ? $"'{parse.UnmatchedTokens[0]}' is not a verb" : "no verb given")} ({string.Join(", ", verbs.Select(v => v.Name))})";
        Console.Error.WriteLine($"rawlora: error: {message}; run '{Name(command)} --help' for the {(verbs.Count == 0 ? "options" : "verbs")}");
        return 1;
    }

    private static string Describe(ParseError error) => error.SymbolResult switch
    {
        // System.CommandLine names the .NET type ("System.UInt64"); say what a user may type.
        OptionResult { Tokens: [var token] } o when !TypeDescriptor.GetConverter(o.Option.ValueType).IsValid(token.Value)
            => $"{o.Option.Name}: '{token.Value}' is not {ValueWords.Of(o.Option.ValueType)}",
        ArgumentResult { Tokens: [] } a when a.Parent is CommandResult c
            => $"{c.Command.Name}: the <{a.Argument.Name}> argument is missing ({a.Argument.Description})",
        _ => error.Message.TrimEnd('.'),
    };

    private static string Name(CommandResult command) =>
        command.Parent is CommandResult parent ? $"{Name(parent)} {command.Command.Name}" : "rawlora";
}
