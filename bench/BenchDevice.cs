using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Bench;

/// <summary>
/// What a verb's --device names: a CUDA GPU (cuda, cuda:N), ILGPU's CPU accelerator (<see cref="CpuAccelerator"/>: the
/// GPU backend's kernels on the CPU, so a verb's GPU path runs in the tests of a machine without a GPU) or the CPU
/// backend. Asked for a GPU the machine lacks, it says so in one line instead of throwing.
/// </summary>
public static class BenchDevice
{
    /// <summary>The --device value that means ILGPU's CPU accelerator (a PrivateUse1 device of this process).</summary>
    public const string CpuAccelerator = "ilgpu-cpu";

    /// <summary>
    /// The backend <paramref name="name"/> asks for, or null and one line saying why there is none: a name that is
    /// not a device, cpu where <paramref name="allowCpu"/> is false, or a GPU that cannot start.
    /// </summary>
    public static IBackend? Resolve(string name, bool allowCpu, out string? why)
    {
        why = null;
        if (name == "cpu" && allowCpu)
            return Device.Cpu.Backend;
        if (name == CpuAccelerator)
        {
            var b = IlgpuBackend.ForCpuAccelerator(Device.PrivateUse1(0));
            Backends.Register(b.Device, b);
            return b;
        }
        if (!Device.TryParse(name, out var device) || device.Type != DeviceType.Cuda)
        {
            why = $"--device must be cuda, cuda:N, {CpuAccelerator}{(allowCpu ? " or cpu" : "")}, not '{name}'";
            return null;
        }
        try
        {
            return Backends.Get(device);
        }
        catch (Exception e)
        {
            why = $"no GPU: {e.Message.ReplaceLineEndings(" ")}; nothing ran";
            return null;
        }
    }

    /// <summary>True for a CUDA GPU, false for ILGPU's CPU accelerator and the CPU: which sizes and clock a verb uses.</summary>
    public static bool IsCuda(IBackend backend) => backend is IlgpuBackend { IsCuda: true };
}
