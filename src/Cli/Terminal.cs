using Spectre.Console;

namespace RawLongLoRA.Cli;

/// <summary>
/// Whether stdout is a person's terminal (live bars, bordered tables) or a file, a pipe, CI or a test
/// (plain lines a log keeps). Spectre's static AnsiConsole keeps the writer it first saw; a console
/// made here writes to the current Console.Out, so a redirected Console.Out is never bypassed.
/// </summary>
internal static class Terminal
{
    public static bool IsInteractive => !Console.IsOutputRedirected && Ansi().Profile.Capabilities is { Interactive: true, Ansi: true };

    public static IAnsiConsole Ansi() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
}
