using System.Text.Json.Nodes;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// One timed kernel call on one shape: the bytes it must read and write (each input and output once,
/// the GB/s numerator), the call, a check that runs it from a known state and returns the normalised
/// error against the bench's own evaluation, and the request that makes the peer time the same op.
/// </summary>
internal sealed record OpRun(string Pass, double Bytes, Action Run, Func<double> Validate, JsonObject? PeerRequest)
{
    public double Tolerance { get; init; } = 1e-5;
}

/// <summary>One op on one shape: Make allocates its tensors (the caller's DisposeScope frees them) and returns its passes.</summary>
internal sealed record OpCase(string Name, bool Quick, Func<IBackend, OpRun[]> Make)
{
    /// <summary>The op: the name's first word ("swiglu"), under which <see cref="OpsVariants"/> keeps its variants.</summary>
    public string Op => Name.Split(' ')[0];
}
