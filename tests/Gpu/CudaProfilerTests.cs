using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Profiling;
using RawLongLoRA.Profiling;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The profiler on the GPU backend, as far as it shows without a GPU: the timing source follows the accelerator, ranges
/// are mirrored (NVTX on CUDA) in order, the memory timeline carries the allocator's counters, and nothing on the CPU
/// path asks for a CUDA library. Serial: the profiler, the mirror and the device counters are process-wide.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class CudaProfilerTests
{
    [Fact]
    public void KernelTimesComeFromTheHostClockOnTheCpuAndOnIlgpusCpuAccelerator()
    {
        Assert.False(new ProfiledBackend(Device.Cpu.Backend).TimesOnDevice);
        Assert.False(new ProfiledBackend(IlgpuDevice.Backend).TimesOnDevice);
    }

    [Fact]
    public void TheCpuPathAsksForNoCudaLibrary()
    {
        int requests = CudaLibraries.Requests;
        var mirror = Profiler.Mirror;
        var mapped = CudaMappings();
        using (var session = Profiler.Start())
        using (var scope = new DisposeScope())
        {
            var a = Tensor.Randn([5, 3]);
            var b = Tensor.Randn([3, 4]);
            var c = Tensor.Empty([5, 4]);
            Backends.Get(Device.Cpu).Gemm(c, a, b);
            var onAccelerator = Tensor.Empty([7], DType.F32, IlgpuDevice.Device);
            Backends.Get(IlgpuDevice.Device).Fill(onAccelerator, 2.0);
            Assert.Contains(session.Events, e => e.Name == "privateuse1::fill");
        }
        Assert.Equal(requests, CudaLibraries.Requests);
        Assert.Same(mirror, Profiler.Mirror);
        Assert.Equal(mapped, CudaMappings());
    }

    [Fact]
    public void EveryRangeButAllocationsIsMirroredInOrderOnItsThread()
    {
        var calls = new Recorder();
        var before = Profiler.Mirror;
        Profiler.Mirror = calls;
        try
        {
            using var session = Profiler.Start();
            using var scope = new DisposeScope();
            using (Profiler.Record("step"))
            using (Profiler.Module("model.layers.0"))
                Backends.Get(Device.Cpu).Fill(Tensor.Empty([3]), 1.0);
        }
        finally
        {
            Profiler.Mirror = before;
        }
        Assert.Equal(["push step", "push model.layers.0", "push cpu::fill", "pop", "pop", "pop"], calls.Calls);
    }

    [Fact]
    public void TheMemoryTimelineCarriesTheAllocatorsReservedAndCachedBytes()
    {
        using var dir = new TempFolder("rawlora-cuda-profile-");
        var device = IlgpuDevice.Device;
        ProfileSession session;
        using (session = Profiler.Start())
            Tensor.Empty([300], DType.F32, device).Dispose(); // 1200 bytes: a block of 1536
        var samples = session.MemorySamples.Where(s => s.Device == device).ToList();
        Assert.Equal(2, samples.Count);
        var (allocated, freed) = (samples[0], samples[1]);
        Assert.True(allocated.ReservedBytes >= allocated.LiveBytes + 1536 - 1200, $"reserved {allocated.ReservedBytes} below live {allocated.LiveBytes} in blocks");
        Assert.Equal(allocated.ReservedBytes, freed.ReservedBytes);
        Assert.Equal(1536, freed.CachedBytes - allocated.CachedBytes);
        Assert.Equal(DeviceMemory.Of(device).CachedBytes, freed.CachedBytes);
        string path = dir.File("trace.json");
        session.Save(path);
        string trace = File.ReadAllText(path);
        Assert.Contains($"\"reserved_bytes\":{freed.ReservedBytes},\"cached_bytes\":{freed.CachedBytes}", trace);
    }

    [Fact]
    public void GpuKernelsHaveATableAndATraceTrackOfTheirOwnAndLeaveTheHostTableAlone()
    {
        using var dir = new TempFolder("rawlora-cuda-profile-");
        var cuda = Device.Cuda(0); // a name only: nothing here runs on it
        ProfileSession session;
        using (session = Profiler.Start())
        using (Profiler.Record("step"))
        {
            // What CudaTimeline records around a primitive: the host call, and inside it the kernel on the GPU's stream.
            var host = Profiler.Kernel("cuda::gemm", cuda, [], 4e9, 1_000_000);
            var gpu = session.Add(host.Event!.Index, "cuda::gemm", ProfileKind.Kernel, ProfilePhase.Forward, ProfileEvent.GpuStream);
            (gpu.Device, gpu.Flops, gpu.BytesMoved, gpu.StartNs, gpu.EndNs) = (cuda, 4e9, 1_000_000, 1_000_000, 3_000_000);
            host.Dispose();
        }
        var summary = session.Summary();
        Assert.Equal(summary.WallNs, summary.SelfTotalNs);
        Assert.Equal(1, summary.Row("cuda::gemm")!.Calls);
        var row = Assert.Single(summary.GpuRows);
        Assert.Equal(("cuda::gemm", 1, 2_000_000L, 2000.0, 0.5), (row.Name, row.Calls, row.TotalNs, row.GflopsPerSecond!.Value, row.GBytesPerSecond!.Value));
        Assert.Contains("GPU kernels (time on the GPU's stream", summary.Format());
        string path = dir.File("trace.json");
        session.Save(path);
        Assert.Contains($"\"tid\":{ProfileEvent.GpuStream},\"args\":{{\"name\":\"stream\"}}", File.ReadAllText(path));
    }

    [CudaFact]
    public void OnCudaKernelTimesComeFromCudaEventsOnTheStream()
    {
        var cuda = Device.Cuda(0);
        using var scope = new DisposeScope();
        var x = Tensor.Empty([1 << 24], DType.F32, cuda);
        ProfileSession session;
        using (session = Profiler.Start())
        {
            var b = Backends.Get(cuda);
            Assert.True(((ProfiledBackend)b).TimesOnDevice);
            for (int i = 0; i < 3; i++)
                b.Fill(x, i);
            b.Synchronize();
        }
        var fills = session.Events.Where(e => e.Name == "cuda::fill" && e.Stream == ProfileEvent.GpuStream).ToList();
        Assert.Equal(3, fills.Count);
        Assert.Equal(3, session.Summary().GpuRows.Single(r => r.Name == "cuda::fill").Calls);
        foreach (var e in fills)
            Assert.True(e.DurationNs > 0 && e.StartNs >= 0 && e.EndNs <= session.WallNs, $"fill on the GPU at [{e.StartNs}, {e.EndNs}] ns of {session.WallNs}");
        Assert.True(fills[1].StartNs >= fills[0].EndNs && fills[2].StartNs >= fills[1].EndNs, "kernels on one stream follow each other");
    }

    /// <summary>The lines of /proc/self/maps that map a CUDA library.</summary>
    private static List<string> CudaMappings()
        => [.. File.ReadLines("/proc/self/maps").Where(l => l.Contains("libcuda") || l.Contains("libcublas") || l.Contains("libnvToolsExt"))];

    private sealed class Recorder : IRangeMirror
    {
        public List<string> Calls { get; } = [];

        public void Push(string name) => Calls.Add("push " + name);

        public void Pop() => Calls.Add("pop");
    }
}
