namespace RawLongLoRA.Profiling;

/// <summary>What a <see cref="ProfileEvent"/> measures.</summary>
public enum ProfileKind : byte
{
    /// <summary>A range named by the caller (<see cref="Profiler.Record"/>): a training step, the optimizer, the backward pass.</summary>
    Scope,

    /// <summary>A module's forward ("model.layers.3.self_attn.q_proj"), or the same module reopened around its ops' backward.</summary>
    Module,

    /// <summary>An autograd op's forward ("linear").</summary>
    Op,

    /// <summary>An autograd node's gradient rule ("linear.backward"), attributed to the module that made the forward op.</summary>
    Backward,

    /// <summary>A backend primitive ("cpu::gemm"): where the arithmetic happens.</summary>
    Kernel,

    /// <summary>Allocating or freeing a storage ("[alloc]", "[free]").</summary>
    Memory,
}

/// <summary>Which pass an event belongs to.</summary>
public enum ProfilePhase : byte
{
    /// <summary>Forward, or anything outside a backward pass.</summary>
    Forward,

    /// <summary>Inside <c>Tensor.Backward</c>.</summary>
    Backward,

    /// <summary>A checkpointed segment's forward run again during backward.</summary>
    Recompute,
}

/// <summary>
/// One timed range. Start and end are nanoseconds on the session's timeline (0 = when recording
/// started): the CPU fills them from <see cref="System.Diagnostics.Stopwatch"/> at the call; a GPU
/// backend is meant to fill them from CUDA events recorded on <see cref="Stream"/> (their elapsed times
/// put on this timeline through one event recorded at a known host time), with the host-side call as a
/// separate Kernel event of the host thread, and to mirror Scope and Module records as NVTX ranges.
/// Bytes allocated, page faults and OS time include those of the ranges inside.
/// </summary>
public sealed class ProfileEvent
{
    internal ProfileEvent(int index, int parent, string name, ProfileKind kind, ProfilePhase phase, int stream)
    {
        (Index, Parent, Name, Kind, Phase, Stream) = (index, parent, name, kind, phase, stream);
    }

    /// <summary>Position in <see cref="ProfileSession.Events"/> (events are in the order they started).</summary>
    public int Index { get; }

    /// <summary>Index of the enclosing event on the same stream (for a kernel on <see cref="GpuStream"/>, its host call), or −1 at the top level.</summary>
    public int Parent { get; }

    /// <summary>"linear", "linear.backward", "cpu::gemm", "model.layers.3.mlp", "[alloc]", or the caller's scope name.</summary>
    public string Name { get; }

    /// <summary>What it measures.</summary>
    public ProfileKind Kind { get; }

    /// <summary>Forward, backward or checkpoint recompute.</summary>
    public ProfilePhase Phase { get; }

    /// <summary>The device the work ran on (the host for scopes and modules).</summary>
    public Device Device { get; internal set; } = Device.Cpu;

    /// <summary>The queue the range was timed on: the managed thread id on the CPU, <see cref="GpuStream"/> on a GPU.</summary>
    public int Stream { get; }

    /// <summary>
    /// The <see cref="Stream"/> of a kernel timed on a GPU's stream by its own events: apart from every host thread, so
    /// that the host's table keeps host time and the GPU's time has a table (and a trace track) of its own.
    /// </summary>
    public const int GpuStream = 1_000_000;

    /// <summary>Start, in nanoseconds since recording started.</summary>
    public long StartNs { get; internal set; }

    /// <summary>End, in nanoseconds since recording started.</summary>
    public long EndNs { get; internal set; }

    /// <summary>EndNs − StartNs.</summary>
    public long DurationNs => EndNs - StartNs;

    /// <summary>The innermost module when the op ran, or for a backward rule the module that made its forward op.</summary>
    public string? Module { get; internal set; }

    /// <summary>The shapes of the tensor arguments, "[2048, 512], [512, 512]".</summary>
    public string? Shapes { get; internal set; }

    /// <summary>The dtype of the first tensor argument.</summary>
    public DType? DType { get; internal set; }

    /// <summary>Floating-point operations of a kernel where they are known (GEMM, attention over its mask's visible keys, elementwise, reductions).</summary>
    public double? Flops { get; internal set; }

    /// <summary>Bytes a kernel must read and write (its tensors' sizes; a gather counts the rows it reads).</summary>
    public long? BytesMoved { get; internal set; }

    /// <summary>Storage bytes allocated during the range.</summary>
    public long BytesAllocated { get; internal set; }

    /// <summary>
    /// Minor page faults of the process during a kernel (first touches of new memory); for other events
    /// the sum over the kernels inside. Read around kernels only: a getrusage call costs about a
    /// microsecond here, and kernels are where memory is touched.
    /// </summary>
    public long MinorFaults { get; internal set; }

    /// <summary>Major page faults (reads from disk, e.g. of memory-mapped weights), counted as <see cref="MinorFaults"/>.</summary>
    public long MajorFaults { get; internal set; }

    /// <summary>CPU time of the process in the kernel (the OS's), summed over threads, counted as <see cref="MinorFaults"/>: page faults, thread wake-ups.</summary>
    public long SystemNs { get; internal set; }

    /// <summary>Wall time spent in parallel loops (<c>CpuThreads.For</c>) run by this range itself (not by ranges inside it).</summary>
    public long ParallelNs { get; internal set; }

    /// <summary>Thread time the loops' bodies ran, summed over threads.</summary>
    public long ThreadBusyNs { get; internal set; }

    /// <summary>Thread time the loops had: their wall time × the threads they could use. Capacity − busy is idle (hand-offs, waiting for the slowest chunk).</summary>
    public long ThreadCapacityNs { get; internal set; }

    // Counters read when the range opened, turned into deltas when it closes.
    internal long OpenAllocated;
    internal long OpenMinorFaults;
    internal long OpenMajorFaults;
    internal long OpenSystemNs;

    // The storage a "[free]" event frees: logged when the event closes.
    internal Storage? Freed;

    // What closing this range restores: the module frame it pushed, the phase it set.
    internal ModuleFrame? PushedFrame;
    internal ProfilePhase? RestorePhase;
}
