using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Tests that read process-wide counters (live storages) run alone, not beside other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial";
}
