using ILGPU;
using ILGPU.Runtime;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// Memory of an <see cref="IlgpuBackend"/>: a block of its caching allocator (the size class at or above the request)
/// of which this storage uses the first <see cref="Storage.ByteLength"/> bytes. The host never reads it directly:
/// <see cref="IBackend.Copy"/> crosses.
/// </summary>
public sealed class GpuStorage : Storage
{
    private readonly GpuAllocator _allocator;

    // The block is rented before Storage's constructor counts the bytes as live: a request that does not fit counts nothing.
    internal GpuStorage(Device device, GpuAllocator allocator, long bytes) : this(device, allocator, bytes, allocator.Rent(bytes))
    {
    }

    private GpuStorage(Device device, GpuAllocator allocator, long bytes, MemoryBuffer1D<byte, Stride1D.Dense> block) : base(device, bytes)
    {
        _allocator = allocator;
        Block = block;
    }

    /// <summary>The allocator's block behind this storage (its length is the size class, at least ByteLength).</summary>
    internal MemoryBuffer1D<byte, Stride1D.Dense> Block { get; }

    /// <summary>This storage's bytes as a view for kernels.</summary>
    public ArrayView<byte> Bytes => Block.View.AsContiguous().SubView(0, ByteLength);

    /// <summary>The device address of the first byte (a host address on ILGPU's CPU accelerator).</summary>
    public override nint Handle => Block.NativePtr;

    /// <summary>Returns the block to the allocator, which reuses it for a later request in stream order.</summary>
    protected internal override void Free() => _allocator.Return(Block);
}
