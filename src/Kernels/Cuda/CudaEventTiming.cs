using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Times work on a CUDA backend's stream with CUDA events, as the benches of FlashAttention and llm.c do: the host
/// returns from a launch long before the GPU is done, so the host's clock would time the launch, not the work. Each
/// run is bracketed by two events on the backend's stream; the host queues every run before it waits once, so the
/// GPU never idles between runs for the host's sake.
/// </summary>
public static class CudaEventTiming
{
    /// <summary>
    /// Queues <paramref name="run"/>(0 … runs − 1) on <paramref name="backend"/>'s stream, each between two events,
    /// waits for the last, and returns each run's GPU seconds. The backend's faults are raised after the wait.
    /// </summary>
    public static double[] Time(IlgpuBackend backend, int runs, Action<int> run)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        if (!backend.IsCuda)
            throw new ArgumentException($"CUDA events time a CUDA device; {backend.Device} is not one", nameof(backend));
        CudaHandles.Bind(backend);
        var events = new nint[2 * runs];
        try
        {
            for (int i = 0; i < events.Length; i++)
                CudaDriver.Check(CudaDriver.cuEventCreate(out events[i], CudaDriver.EventDefault), "cuEventCreate");
            nint stream = CudaHandles.Stream(backend);
            for (int i = 0; i < runs; i++)
            {
                CudaDriver.Check(CudaDriver.cuEventRecord(events[2 * i], stream), "cuEventRecord");
                run(i);
                CudaHandles.Bind(backend); // the run may have left another context current
                CudaDriver.Check(CudaDriver.cuEventRecord(events[2 * i + 1], stream), "cuEventRecord");
            }
            CudaDriver.Check(CudaDriver.cuEventSynchronize(events[^1]), "cuEventSynchronize");
            backend.Synchronize();
            var seconds = new double[runs];
            for (int i = 0; i < runs; i++)
            {
                CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float ms, events[2 * i], events[2 * i + 1]), "cuEventElapsedTime");
                seconds[i] = ms / 1e3;
            }
            return seconds;
        }
        finally
        {
            foreach (nint e in events.Where(e => e != 0))
                CudaDriver.cuEventDestroy(e);
        }
    }
}
