using RawLongLoRA.Distributed;
using Xunit;

namespace RawLongLoRA.Tests.Distributed;

/// <summary>A rank that raises, dies or never comes stops the job with a clear error within the timeout, never a hang.</summary>
[Collection(MpiRun.Collection)]
public sealed class MpiFailureTests
{
    // Well past the job's start-up and the scenario's own 2 s timeout; a hang is killed here and fails the test.
    private const int JobTimeout = 45;

    [MpiFact]
    public void RankThatRaisesAbortsTheJobNamingItself()
    {
        var (exitCode, output, _) = MpiRun.Run(2, "rank-raises", timeoutSeconds: JobTimeout);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("rank 1: InvalidOperationException: planned failure of the last rank", output);
    }

    [MpiFact]
    public void KilledRankMakesTheOthersExitNonZero()
    {
        var (exitCode, output, _) = MpiRun.Run(2, "rank-killed", timeoutSeconds: JobTimeout);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("signal 9", output);
    }

    [MpiFact]
    public void RankThatNeverComesTimesTheOthersOut()
    {
        var (exitCode, output, _) = MpiRun.Run(2, "rank-absent", timeoutSeconds: JobTimeout, environment: new Dictionary<string, string> { [Mpi.TimeoutVariable] = "2" });
        Assert.NotEqual(0, exitCode);
        Assert.Contains("rank 0: CommunicatorException: all_reduce timed out after 2 s on rank 0 of 2", output);
    }
}
