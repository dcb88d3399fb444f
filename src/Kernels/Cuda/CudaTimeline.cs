using RawLongLoRA.Kernels.Gpu;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Kernel times of a profiled CUDA backend from CUDA events recorded on its stream around each primitive: the host call
/// returns long before the GPU is done, so the host's clock times the launch, not the work. So each kernel is two
/// events: the host call (host time, on its thread) and, inside it, the kernel on <see cref="ProfileEvent.GpuStream"/>
/// with the GPU's start and end. Each session gets an
/// anchor event recorded on an idle stream at a known host time; a kernel's GPU start and end, as milliseconds after the
/// anchor, then land on the session's timeline. They are read (waiting for the stream where it has not passed them)
/// when the session's events are read, when it stops, and at each synchronize. Events are pooled.
/// </summary>
internal sealed class CudaTimeline
{
    private readonly IlgpuBackend _backend;
    private readonly Lock _gate = new();
    private readonly Stack<nint> _pool = new();
    private readonly List<(ProfileEvent Event, nint Start, nint End)> _pending = [];
    private ProfileSession? _session;
    private nint _anchor;
    private long _anchorNs;

    public CudaTimeline(IlgpuBackend backend)
    {
        _backend = backend;
        // Op and module ranges go to NVTX as well, for Nsight Systems and ncu.
        Profiler.Mirror ??= new NvtxRanges();
    }

    /// <summary>
    /// Opens the GPU side of <paramref name="host"/>, a kernel range: its event on the GPU's stream, and a CUDA event
    /// recorded before the primitive is queued.
    /// </summary>
    public Range Begin(ProfileRange host)
    {
        if (host.Event is not { } e || Profiler.Current is not { } session)
            return new Range(host, null, null, 0);
        lock (_gate)
        {
            CudaHandles.Bind(_backend);
            if (_session != session)
                Anchor(session);
            var start = Take();
            CudaDriver.Check(CudaDriver.cuEventRecord(start, CudaHandles.Stream(_backend)), "cuEventRecord");
            var gpu = session.Add(e.Index, e.Name, ProfileKind.Kernel, e.Phase, ProfileEvent.GpuStream);
            (gpu.Device, gpu.Module, gpu.Shapes, gpu.DType, gpu.Flops, gpu.BytesMoved) = (e.Device, e.Module, e.Shapes, e.DType, e.Flops, e.BytesMoved);
            gpu.StartNs = e.StartNs;
            return new Range(host, this, gpu, start);
        }
    }

    /// <summary>Reads the GPU times of every kernel recorded so far into their events.</summary>
    public void Resolve()
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
                return;
            CudaHandles.Bind(_backend);
            foreach (var (e, start, end) in _pending)
            {
                CudaDriver.Check(CudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
                e.StartNs = _anchorNs + Since(start);
                e.EndNs = _anchorNs + Since(end);
                _pool.Push(start);
                _pool.Push(end);
            }
            _pending.Clear();
        }
    }

    private void End(ProfileEvent e, nint start)
    {
        lock (_gate)
        {
            CudaHandles.Bind(_backend);
            var end = Take();
            CudaDriver.Check(CudaDriver.cuEventRecord(end, CudaHandles.Stream(_backend)), "cuEventRecord");
            _pending.Add((e, start, end));
        }
    }

    // A new session: what is pending belongs to the old one; the anchor is recorded on an idle stream, so it completes
    // at once and the host's clock read right after it is its time (within the few microseconds of the wait).
    private void Anchor(ProfileSession session)
    {
        Resolve();
        _backend.Synchronize();
        if (_anchor == 0)
            CudaDriver.Check(CudaDriver.cuEventCreate(out _anchor, CudaDriver.EventDefault), "cuEventCreate");
        CudaDriver.Check(CudaDriver.cuEventRecord(_anchor, CudaHandles.Stream(_backend)), "cuEventRecord");
        CudaDriver.Check(CudaDriver.cuEventSynchronize(_anchor), "cuEventSynchronize");
        _anchorNs = session.Now();
        _session = session;
        session.AddResolver(Resolve);
    }

    private long Since(nint evt)
    {
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float ms, _anchor, evt), "cuEventElapsedTime");
        return (long)(ms * 1e6);
    }

    private nint Take()
    {
        if (_pool.TryPop(out var e))
            return e;
        CudaDriver.Check(CudaDriver.cuEventCreate(out e, CudaDriver.EventDefault), "cuEventCreate");
        return e;
    }

    /// <summary>A kernel range with, on CUDA, its GPU side: disposing it records the end event, then closes the host range.</summary>
    internal readonly struct Range(ProfileRange host, CudaTimeline? timeline, ProfileEvent? gpu, nint start) : IDisposable
    {
        /// <summary>Records the end on the stream (on CUDA) and closes the host range.</summary>
        public void Dispose()
        {
            timeline?.End(gpu!, start);
            host.Dispose();
        }
    }
}
