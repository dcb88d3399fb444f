using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Test classes that read or change process-wide state run here, one at a time and after the parallel
/// ones, never beside another test: Storage's live/peak counters and AttentionMemory's (a test beside
/// them allocates too); the profiler (a session records every thread's ops); the console (the CLI tests
/// capture it); the CPU kernels' settings (thread count, streaming threshold); and Generator.Default,
/// which the trainer reseeds, LoRA dropout draws from and checkpointed segments rewind in backward, where
/// the test's results depend on its draws. Everything else runs in parallel, a collection per class.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial";
}
