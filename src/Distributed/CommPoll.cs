using System.Diagnostics;

namespace RawLongLoRA.Distributed;

/// <summary>How communicators wait: poll, so that a peer that never answers is a timeout instead of a hang.</summary>
internal static class CommPoll
{
    /// <summary>
    /// Calls <paramref name="done"/> until it returns true: at once for a while, then every millisecond, giving the
    /// cores back; throws what <paramref name="timedOut"/> makes once <paramref name="timeout"/> has passed.
    /// </summary>
    public static void Until(Func<bool> done, TimeSpan timeout, Func<Exception> timedOut)
    {
        var clock = Stopwatch.StartNew();
        for (int polls = 0; !done(); polls++)
        {
            if (clock.Elapsed > timeout)
                throw timedOut();
            if (polls < 200)
                Thread.Yield();
            else
                Thread.Sleep(1);
        }
    }

    /// <summary>What a timeout says: the op, this rank, the peers waited for, and the timeout.</summary>
    public static string TimedOut(string op, ICommunicator group, string peers)
        => $"{op} timed out after {group.Timeout.TotalSeconds:0.###} s on rank {group.Rank} of {group.Size}, waiting for {peers} (a peer died, hangs, or is not making the same call)";
}
