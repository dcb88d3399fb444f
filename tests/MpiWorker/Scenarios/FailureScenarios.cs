using System.Diagnostics;
using RawLongLoRA.Distributed;

namespace RawLongLoRA.MpiWorker;

/// <summary>Ranks that fail in the ways a job must survive without hanging: they raise, die, or never come.</summary>
internal static class FailureScenarios
{
    /// <summary>The last rank raises; the others wait in an all-reduce it never joins.</summary>
    [Scenario("rank-raises")]
    public static void RankRaises(ICommunicator world, string[] args)
    {
        if (world.Rank == world.Size - 1)
            throw new InvalidOperationException("planned failure of the last rank");
        using var t = Tensor.Ones([4]);
        world.AllReduce(t);
    }

    /// <summary>The last rank kills itself (SIGKILL); the others wait in an all-reduce with the default timeout.</summary>
    [Scenario("rank-killed")]
    public static void RankKilled(ICommunicator world, string[] args)
    {
        if (world.Rank == world.Size - 1)
            Process.GetCurrentProcess().Kill();
        using var t = Tensor.Ones([4]);
        world.AllReduce(t);
    }

    /// <summary>
    /// The last rank never joins the all-reduce (it sleeps far past the others' timeout, which the test sets through
    /// RAWLORA_COMM_TIMEOUT), so the others' calls must time out with <see cref="CommunicatorException"/> naming the op.
    /// </summary>
    [Scenario("rank-absent")]
    public static void RankAbsent(ICommunicator world, string[] args)
    {
        if (world.Rank == world.Size - 1)
        {
            Thread.Sleep(world.Timeout * 30);
            return;
        }
        using var t = Tensor.Ones([4]);
        world.AllReduce(t);
    }
}
