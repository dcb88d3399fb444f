using System.Runtime.InteropServices;

namespace RawLongLoRA.Cli;

/// <summary>
/// Ctrl-C and SIGTERM (what a cluster's scheduler sends) for a verb that has work worth saving. While
/// nothing is worth saving (loading, tokenizing) a signal cancels <see cref="Token"/>, and if the
/// work in flight cannot look at it within a few seconds (one long document in the tokenizer), the
/// process exits: nothing is lost, since a token cache is only put in place when complete. Once
/// <see cref="Graceful"/> is set (training steps), a signal lets the step finish and be
/// checkpointed; a second one quits at once.
/// </summary>
internal sealed class CliStop : IDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);

    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration _sigterm;
    private int _signals;

    public CliStop()
    {
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            Signal(143);
        });
        Console.CancelKeyPress += OnCtrlC;
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Work worth saving is under way: a signal finishes it rather than dropping it.</summary>
    public bool Graceful { get; set; }

    /// <summary>128 + the number of the signal that stopped this process's verb (130 Ctrl-C, 143 SIGTERM), as shells report it; null while none came.</summary>
    public static int? Stopped { get; private set; }

    private void OnCtrlC(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        Signal(130);
    }

    private void Signal(int exitCode)
    {
        if (Interlocked.Increment(ref _signals) > 1)
            Environment.Exit(exitCode);
        Stopped = exitCode;
        if (Graceful)
            Console.Error.WriteLine("rawlora: stopping after this step (a checkpoint will be written); press Ctrl-C again to quit at once");
        else
            _ = Task.Delay(Grace).ContinueWith(_ =>
            {
                Console.Error.WriteLine("rawlora: stopped");
                Environment.Exit(exitCode);
            }, TaskScheduler.Default);
        _source.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCtrlC;
        _sigterm.Dispose();
        _source.Dispose();
    }
}
