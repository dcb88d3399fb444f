using System.Diagnostics;

namespace RawLongLoRA.Distributed;

/// <summary>How communicators wait: poll, so that a peer that never answers is a timeout instead of a hang.</summary>
internal static class CommPoll
{
    private const int YieldingMilliseconds = 1000;

    /// <summary>
    /// Calls <paramref name="done"/> until it returns true: at once (yielding) for the first second, then every millisecond, giving the
    /// cores back; throws what <paramref name="timedOut"/> makes once <paramref name="timeout"/> has passed.
    /// </summary>
    public static void Until(Func<bool> done, TimeSpan timeout, Func<Exception> timedOut)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > timeout)
                throw timedOut();
            // MPI progresses a multi-round collective only inside its test calls: poll closely (as MPI's own blocking
            // calls do) for the first second, then settle to once a millisecond for a long wait. Sleeping sooner made
            // a 16 MB all-reduce at 2 ranks 5× slower.
            if (clock.ElapsedMilliseconds < YieldingMilliseconds)
                Thread.Yield();
            else
                Thread.Sleep(1);
        }
    }

    /// <summary>What a timeout says: the op, this rank, the peers waited for, and the timeout.</summary>
    public static string TimedOut(string op, ICommunicator group, string peers)
        => $"{op} timed out after {group.Timeout.TotalSeconds:0.###} s on rank {group.Rank} of {group.Size}, waiting for {peers} (a peer died, hangs, or is not making the same call)";
}
