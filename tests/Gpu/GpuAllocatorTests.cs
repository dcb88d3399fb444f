using RawLongLoRA.Kernels.Gpu;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The ILGPU backend's caching allocator: size classes, reuse, counters, and the out-of-memory message.</summary>
public sealed class GpuAllocatorTests
{
    [Theory]
    [InlineData(1, 512)]
    [InlineData(512, 512)]
    [InlineData(513, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, 2 << 20)]
    [InlineData((5 << 20) + 3, 6 << 20)]
    public void SizeClassesRoundUpBy512BytesThenBy2MiB(long bytes, long block) => Assert.Equal(block, GpuAllocator.SizeClass(bytes));

    [Fact]
    public void AFreedBlockIsReusedAndCountedAsReservedNotLive()
    {
        var b = IlgpuDevice.Another(1, memoryLimit: 64 << 20);
        var memory = DeviceMemory.Of(b.Device);
        var first = b.Allocate(1000);
        first.Retain();
        nint address = first.Handle;
        Assert.Equal(1024, b.ReservedBytes);
        Assert.Equal(1000, memory.LiveBytes);
        first.Release();
        Assert.Equal(0, memory.LiveBytes);
        Assert.Equal(1024, b.CachedBytes);
        Assert.Equal(1024, memory.ReservedBytes);

        var second = b.Allocate(700); // the same size class: the cached block comes back
        second.Retain();
        Assert.Equal(address, second.Handle);
        Assert.Equal(0, b.CachedBytes);
        Assert.Equal(1024, b.ReservedBytes);
        second.Release();
        Assert.Equal(1024, memory.ReleaseCached());
        Assert.Equal(0, b.ReservedBytes);
        Assert.Equal(0, memory.ReservedBytes);
    }

    [Fact]
    public void OutOfMemoryNamesTheRequestTheCountersAndTheOp()
    {
        var b = IlgpuDevice.Another(2, memoryLimit: 8 << 20);
        var held = b.Allocate(5 << 20); // a 6 MiB block
        held.Retain();
        var cached = b.Allocate(1000);
        cached.Retain();
        cached.Release();
        using (var t = new Tensor(held, Layout.Contiguous([16]), DType.F32))
            b.Fill(t, 1); // the op that ran last on this thread
        var e = Assert.Throws<GpuOutOfMemoryException>(() => b.Allocate(3 << 20));
        foreach (var part in new[] { $"{b.Device}", "out of memory allocating 3.0 MiB", "for fill", "(block 4.0 MiB)", "5.0 MiB live", "6.0 MiB reserved", "peak 5.0 MiB", "limit 8.0 MiB" })
            Assert.Contains(part, e.Message);
        Assert.Equal(0, b.CachedBytes); // the cache was emptied before giving up
        Assert.Equal(5 << 20, DeviceMemory.Of(b.Device).LiveBytes); // the refused request counted nothing
        held.Release();
    }
}
