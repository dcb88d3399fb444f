using RawLongLoRA.Kernels.Cuda;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A test that needs an NVIDIA GPU: skipped, with the reason shown ("no CUDA device: ..."), where the CUDA driver does
/// not load or reports no device. The probe runs once per test process.
/// </summary>
public sealed class CudaFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Missing = new(Probe);

    public CudaFactAttribute()
    {
        if (Missing.Value is { } why)
            Skip = "no CUDA device: " + why;
    }

    private static string? Probe()
    {
        try
        {
            CudaDriver.Check(CudaDriver.cuInit(0), "cuInit");
            CudaDriver.Check(CudaDriver.cuDeviceGetCount(out int count), "cuDeviceGetCount");
            return count > 0 ? null : "the driver reports 0 devices";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            return e.Message;
        }
    }
}
