using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Tests;

/// <summary>
/// The ILGPU backend over ILGPU's CPU accelerator as a test device (an outside device, PrivateUse1, with an index no
/// strict device reaches): the same kernels a GPU runs, one OS thread per GPU thread — so shapes stay tiny. Tensors
/// cross by <see cref="Mirror"/> and <see cref="Back"/>, which move a storage's bytes whole, so a strided view (and the
/// sentinels in its gaps) arrives as it left; the backend-op tests then compare the ILGPU backend with the CPU one.
/// </summary>
internal static class IlgpuDevice
{
    private static readonly Lazy<IlgpuBackend> Made = new(() => Another(0));

    /// <summary>
    /// A further CPU-accelerator backend, registered as device PrivateUse1(2²⁰ + <paramref name="index"/>) (each caller
    /// its own index): another group shape, a memory limit, or counters and faults no other test class shares.
    /// </summary>
    public static IlgpuBackend Another(int index, int warpSize = 4, int warpsPerGroup = 4, int multiprocessors = 2, long memoryLimit = 1L << 30)
    {
        var b = IlgpuBackend.ForCpuAccelerator(RawLongLoRA.Device.PrivateUse1((1 << 20) + index), warpSize, warpsPerGroup, multiprocessors, memoryLimit);
        Backends.Register(b.Device, b);
        return b;
    }

    /// <summary>The backend (registered for its device on first use).</summary>
    public static IlgpuBackend Backend => Made.Value;

    /// <summary>The test device.</summary>
    public static Device Device => Backend.Device;

    /// <summary>A device tensor over a copy of <paramref name="host"/>'s whole storage, with its layout and dtype.</summary>
    public static Tensor Mirror(Tensor host) => Across(host, Device);

    /// <summary>A host tensor over a copy of device tensor <paramref name="t"/>'s whole storage, with its layout and dtype.</summary>
    public static Tensor Back(Tensor t) => Across(t, RawLongLoRA.Device.Cpu);

    /// <summary>A host tensor over a copy of host tensor <paramref name="t"/>'s whole storage (the CPU run's own inputs).</summary>
    public static Tensor Clone(Tensor t) => Across(t, RawLongLoRA.Device.Cpu);

    /// <summary>A tensor on <paramref name="to"/> over a copy of <paramref name="t"/>'s whole storage, with its layout and dtype.</summary>
    public static Tensor Across(Tensor t, Device to)
    {
        int bytes = checked((int)t.Storage.ByteLength);
        var storage = to.Backend.Allocate(bytes);
        using var dst = new Tensor(storage, Layout.Contiguous([bytes]), DType.U8);
        using var src = new Tensor(t.Storage, Layout.Contiguous([bytes]), DType.U8);
        dst.CopyFrom(src);
        return new Tensor(storage, t.Layout, t.DType);
    }
}
