using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Per-device counters and the free path of CPU tensors (serial: they read process-wide counters).</summary>
[Collection(SerialCollection.Name)]
public class DeviceMemoryTests
{
    private static DeviceMemory Cpu => DeviceMemory.Of(Device.Cpu);

    [Fact]
    public void LiveAndPeakFollowTensorsOnTheirDevice()
    {
        Storage.ResetPeak();
        long live = Cpu.LiveBytes, count = Cpu.LiveCount;
        Assert.Equal(live, Cpu.PeakBytes);
        var t = Tensor.Empty([1 << 18]);
        Assert.Equal(live + (1 << 20), Cpu.LiveBytes);
        Assert.Equal(count + 1, Cpu.LiveCount);
        t.Dispose();
        Assert.Equal(live, Cpu.LiveBytes);
        Assert.Equal(count, Cpu.LiveCount);
        Assert.Equal(live + (1 << 20), Cpu.PeakBytes);
        Assert.Equal(Storage.PeakBytes, Cpu.PeakBytes);
        Storage.ResetPeak();
        Assert.Equal(live, Cpu.PeakBytes);
    }

    [Fact]
    public void ADisposedTensorsBlockGoesBackToTheCacheAndServesTheNextOfItsSize()
    {
        var t = Tensor.Empty([3000]);
        nint block = t.Storage.Handle;
        long cached = HostAllocator.Shared.CachedBytes;
        t.Dispose();
        Assert.Equal(cached + HostAllocator.SizeClass(12000), HostAllocator.Shared.CachedBytes);
        using var again = Tensor.Empty([2900]);
        Assert.Equal(block, again.Storage.Handle);
        Assert.Equal(HostAllocator.Shared.ReservedBytes, Cpu.ReservedBytes);
        Assert.True(Cpu.ReservedBytes >= Cpu.LiveBytes, $"reserved {Cpu.ReservedBytes} < live {Cpu.LiveBytes}");
    }

    [Fact]
    public void ReleasingTheCacheKeepsBlocksInUse()
    {
        using var held = Tensor.Ones([5000]);
        Tensor.Empty([7000]).Dispose();
        Assert.True(HostAllocator.Shared.CachedBytes > 0);
        long reserved = Cpu.ReservedBytes, cached = HostAllocator.Shared.CachedBytes;
        Assert.Equal(cached, Cpu.ReleaseCached());
        Assert.Equal(0, HostAllocator.Shared.CachedBytes);
        Assert.Equal(reserved - cached, Cpu.ReservedBytes);
        Assert.All(held.ToFloatArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void TheBackendFreesOnlyAStorageWhoseLastReferenceWent()
    {
        using var t = Tensor.Ones([16]);
        var e = Assert.Throws<InvalidOperationException>(() => Device.Cpu.Backend.Free(t.Storage));
        Assert.Contains("free: the storage still has 1 reference", e.Message);
        Assert.All(t.ToFloatArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void ZerosComeZeroedFromAReusedBlock()
    {
        var dirty = Tensor.Full([777], 3.5);
        dirty.Dispose();
        using var zeros = Tensor.Zeros([777]);
        Assert.All(zeros.ToFloatArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MappedWeightsAreCountedApartFromLiveAndPeakBytes()
    {
        using var scratch = new SafeTensorsScratch();
        string path = scratch.PathOf("w.safetensors");
        using (var w = Tensor.Ones([64, 64]))
            SafeTensorsWriter.Write(path, [("w", w)]);
        using var file = new SafeTensorsFile(path);
        Storage.ResetPeak();
        long live = Storage.LiveBytes, mapped = Storage.MappedBytes, cpuMapped = Cpu.MappedBytes;
        var loaded = file.Load("w");
        Assert.True(loaded.Storage.IsMapped);
        Assert.Equal(live, Storage.LiveBytes);
        Assert.Equal(live, Storage.PeakBytes);
        Assert.Equal(live, Cpu.LiveBytes);
        Assert.Equal(mapped + 64 * 64 * 4, Storage.MappedBytes);
        Assert.Equal(cpuMapped + 64 * 64 * 4, Cpu.MappedBytes);
        loaded.Dispose();
        Assert.Equal(mapped, Storage.MappedBytes);
        Assert.Equal(cpuMapped, Cpu.MappedBytes);
    }
}
