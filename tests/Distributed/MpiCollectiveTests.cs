using RawLongLoRA.MpiWorker;
using Xunit;

namespace RawLongLoRA.Tests.Distributed;

/// <summary>The "collectives" scenario (every communicator member on known values) under mpirun and on in-process ranks.</summary>
[Collection(MpiRun.Collection)]
public sealed class MpiCollectiveTests
{
    [MpiTheory]
    [InlineData(2)]
    [InlineData(4)]
    public void EveryMemberUnderMpirun(int ranks)
        => Assert.Contains($"collectives: {ranks} ranks, every member checked", MpiRun.Pass(ranks, "collectives"));

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void EveryMemberOnThreads(int ranks) => ThreadGroup.Run(ranks, world => CollectiveScenarios.Collectives(world, []));
}
