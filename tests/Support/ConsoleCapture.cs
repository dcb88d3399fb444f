namespace RawLongLoRA.Tests;

/// <summary>Runs code with Console.Out and Console.Error captured (callers run serially: the console is global).</summary>
internal static class ConsoleCapture
{
    public static (string Out, string Err) Of(Action action)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            action();
            return (o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
