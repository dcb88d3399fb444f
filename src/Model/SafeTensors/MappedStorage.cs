using Microsoft.Win32.SafeHandles;

namespace RawLongLoRA.Model;

/// <summary>
/// One tensor's bytes inside a memory-mapped file, viewed without a copy. Each storage holds a reference
/// on the mapped view (the SafeHandle's own count), so the mapping outlives the <see cref="SafeTensorsFile"/>
/// until the last tensor over it is disposed. The address is wherever the file puts the tensor, so unlike
/// <see cref="HostStorage"/> it may be misaligned for the dtype: kernels read through pointers, and
/// unaligned scalar and vector loads are legal (and about as fast) on x64 and arm64.
/// </summary>
internal sealed unsafe class MappedStorage : Storage
{
    private readonly SafeMemoryMappedViewHandle _view;
    private readonly nint _address;

    public MappedStorage(SafeMemoryMappedViewHandle view, long offset, long byteLength) : base(Device.Cpu, byteLength, mapped: true)
    {
        byte* start = null;
        view.AcquirePointer(ref start);
        _view = view;
        _address = (nint)(start + offset);
    }

    public override nint Handle => _address;

    protected override void Free() => _view.ReleasePointer();
}
