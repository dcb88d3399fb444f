namespace RawLongLoRA.Profiling;

/// <summary>
/// One line of the summary: every event of one name (an op, a backward rule, a kernel; " [recompute]"
/// marks a checkpoint's second forward), or one kind of time outside ops ("[outside ops] ...").
/// Total counts nested events of the same name once; self is total less the events inside.
/// </summary>
public sealed record ProfileRow
{
    /// <summary>The name the events share, or "[outside ops] ..." for time in no op.</summary>
    public required string Name { get; init; }

    /// <summary>Whether this is time outside ops: allocation, module and engine code, caller scopes, unrecorded time.</summary>
    public bool IsOutsideOps { get; init; }

    /// <summary>How many events.</summary>
    public int Calls { get; init; }

    /// <summary>Their time, inclusive of what ran inside them.</summary>
    public long TotalNs { get; init; }

    /// <summary>Their time less the events inside them: these sum to the wall time.</summary>
    public long SelfNs { get; init; }

    /// <summary>FLOPs (a kernel's own; an op's, those of the kernels inside it); null where none are known and for time outside ops.</summary>
    public double? Flops { get; init; }

    /// <summary>Bytes the kernels must move; null for non-kernels.</summary>
    public long? BytesMoved { get; init; }

    /// <summary>Storage bytes allocated inside (inclusive; for time outside ops, only the allocation row has them).</summary>
    public long BytesAllocated { get; init; }

    /// <summary>Minor page faults in the self time.</summary>
    public long MinorFaults { get; init; }

    /// <summary>Major page faults in the self time.</summary>
    public long MajorFaults { get; init; }

    /// <summary>The process's kernel-mode CPU time in the self time, over all threads (page faults, wake-ups).</summary>
    public long SystemNs { get; init; }

    /// <summary>Wall time in parallel loops.</summary>
    public long ParallelNs { get; init; }

    /// <summary>Thread time the loops' bodies ran.</summary>
    public long ThreadBusyNs { get; init; }

    /// <summary>Thread time the loops had (wall × threads).</summary>
    public long ThreadCapacityNs { get; init; }

    /// <summary>Mean time per call.</summary>
    public double MeanNs => Calls == 0 ? 0 : (double)TotalNs / Calls;

    /// <summary>GFLOP/s over the total time, where FLOPs are known.</summary>
    public double? GflopsPerSecond => Flops is { } f && TotalNs > 0 ? f / TotalNs : null;

    /// <summary>GB/s of the bytes kernels must move, over the total time.</summary>
    public double? GBytesPerSecond => BytesMoved is { } b && TotalNs > 0 ? (double)b / TotalNs : null;

    /// <summary>The part of the self time outside parallel loops: one thread working, the other cores idle.</summary>
    public long SingleThreadedNs => Math.Max(0, SelfNs - ParallelNs);
}

/// <summary>
/// A module's time, over all its calls and every layer of its kind ("model.layers.*.mlp"): forward, the
/// second forward of checkpointing, and the backward rules of the ops it made.
/// </summary>
/// <param name="Name">The module's full name with layer indices as "*".</param>
/// <param name="Calls">Forward calls.</param>
/// <param name="ForwardNs">Forward time.</param>
/// <param name="RecomputeNs">Recompute time (gradient checkpointing).</param>
/// <param name="BackwardNs">Backward time: the rules of the ops made in it, reopened in its scope.</param>
/// <param name="Flops">FLOPs of the kernels inside, all three passes.</param>
public sealed record ModuleRow(string Name, int Calls, long ForwardNs, long RecomputeNs, long BackwardNs, double Flops)
{
    /// <summary>Forward + recompute + backward.</summary>
    public long TotalNs => ForwardNs + RecomputeNs + BackwardNs;
}
