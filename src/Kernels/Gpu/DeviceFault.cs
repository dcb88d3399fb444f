using ILGPU;
using ILGPU.Runtime;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// Where a kernel reports bad input it finds in device memory — a token id outside the vocabulary, a position outside
/// the RoPE table — since a kernel cannot throw, and checking on the host would copy the values down and wait for the
/// stream at every call. The first report wins (code, value, limit); the kernel leaves the bad element's output at 0
/// and touches nothing out of range. The backend reads the slot at the next read to the host or synchronize and throws
/// there, as CUDA reports a device-side assert at the next synchronisation.
/// </summary>
public struct DeviceFault
{
    /// <summary>[code, value, limit]; code 0 = no fault.</summary>
    public ArrayView<long> Slot;

    /// <summary>Records the first fault of the stream: <paramref name="code"/> (a <see cref="FaultCode"/>), the bad value and its bound.</summary>
    public readonly void Report(long code, long value, long limit)
    {
        if (Atomic.CompareExchange(ref Slot[0], 0, code) == 0)
        {
            Slot[1] = value;
            Slot[2] = limit;
        }
    }
}

/// <summary>What a <see cref="DeviceFault"/> report says was out of range.</summary>
public enum FaultCode : long
{
    /// <summary>A token id of the embedding's gather, outside [0, vocab).</summary>
    EmbeddingId = 1,
    /// <summary>A token id of the embedding's scatter-add, outside [0, vocab).</summary>
    EmbeddingBackwardId = 2,
    /// <summary>A RoPE position outside [0, table rows).</summary>
    RopePosition = 3,
}

/// <summary>The host side of one backend's <see cref="DeviceFault"/> slot.</summary>
internal sealed class DeviceFaults(Accelerator accelerator, Device device) : IDisposable
{
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _slot = Zeroed(accelerator);

    /// <summary>The kernel parameter.</summary>
    public DeviceFault Param => new() { Slot = _slot.View };

    /// <summary>
    /// Throws, naming the op and the bad value as the CPU's check would, if a kernel reported a fault since the last
    /// call, and clears the slot; the caller has synchronised the stream.
    /// </summary>
    public void ThrowIfAny()
    {
        var s = _slot.GetAsArray1D();
        if (s[0] == 0)
            return;
        _slot.MemSetToZero();
        string where = $" (found on {device} by the kernel; a kernel cannot throw, so it is reported at the first read or synchronize after it)";
        throw new ArgumentException((FaultCode)s[0] switch
        {
            FaultCode.EmbeddingId => $"embedding: token id {s[1]} is outside the vocabulary of {s[2]}",
            FaultCode.EmbeddingBackwardId => $"embedding_backward: token id {s[1]} is outside the vocabulary of {s[2]}",
            FaultCode.RopePosition => $"rope: position {s[1]} is outside the cos/sin table of {s[2]} positions",
            var c => $"a kernel reported fault {c} with value {s[1]} (bound {s[2]})",
        } + where);
    }

    public void Dispose() => _slot.Dispose();

    private static MemoryBuffer1D<long, Stride1D.Dense> Zeroed(Accelerator a)
    {
        var b = a.Allocate1D<long>(3);
        b.MemSetToZero();
        a.Synchronize();
        return b;
    }
}
