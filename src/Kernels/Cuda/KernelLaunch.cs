using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The shape of one launch of a kernel from kernels.cu/: grid and block extents and the dynamic shared memory. The
/// layout is kernels.cu/common.cuh's EmuLaunch, so the host emulation takes it as it is.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct KernelLaunch(uint GridX, uint GridY, uint GridZ, uint BlockX, uint BlockY, uint BlockZ, uint SharedBytes)
{
    /// <summary>A grid of <paramref name="grid"/> blocks (x, y, z) of <paramref name="threads"/> threads in x.</summary>
    public static KernelLaunch Of((uint X, uint Y, uint Z) grid, uint threads, uint sharedBytes)
        => new(grid.X, grid.Y, grid.Z, threads, 1, 1, sharedBytes);
}
