using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Runs one primitive on the CPU backend and on the ILGPU backend (the CPU accelerator) over the same host-built
/// arguments — outputs poisoned, views as the caller laid them out — and compares every argument afterwards: outputs
/// within a tolerance, inputs untouched, and nothing written into the gaps of a strided view.
/// </summary>
internal static class GpuOnBoth
{
    /// <summary>
    /// <paramref name="call"/> on (backend, its copies of <paramref name="args"/>) on both backends; each argument's
    /// elements must agree within <paramref name="tol"/> (normalised as <see cref="Ops.AssertClose"/>). Returns the
    /// ILGPU run's arguments, back on the host.
    /// </summary>
    public static Tensor[] Compare(string what, Action<IBackend, Tensor[]> call, double tol, params Tensor[] args)
    {
        var cpu = Array.ConvertAll(args, IlgpuDevice.Clone);
        call(Cpu, cpu);
        var device = Array.ConvertAll(args, IlgpuDevice.Mirror);
        call(IlgpuDevice.Backend, device);
        var back = Array.ConvertAll(device, IlgpuDevice.Back);
        for (int i = 0; i < args.Length; i++)
        {
            AssertClose($"{what} argument {i}", Read(cpu[i]), Read(back[i]), tol);
            AssertGapsUntouched(back[i], $"{what} argument {i}");
        }
        return back;
    }

    /// <summary>The ILGPU backend refuses <paramref name="call"/> on mirrors of <paramref name="args"/> with a message holding every fragment.</summary>
    public static void Refuses(Action<IBackend, Tensor[]> call, Tensor[] args, params string[] fragments)
    {
        var device = Array.ConvertAll(args, IlgpuDevice.Mirror);
        AssertThrows(() => call(IlgpuDevice.Backend, device), fragments);
    }
}
