using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>The probe kernels of kernels.cu/emu/probe.cu, their parameter structs mirrored field for field.</summary>
internal static unsafe class Probe
{
    public static void Run<T>(string kernel, KernelLaunch launch, T parameters) where T : unmanaged
        => EmuRunner.Instance.Run("emu/probe", kernel, launch, parameters);

    public static KernelLaunch Blocks(uint blocks, uint threads, uint sharedBytes = 0) => KernelLaunch.Of((blocks, 1, 1), threads, sharedBytes);

    /// <summary>A bf16 word of <paramref name="x"/>, which the tests keep to values bf16 holds exactly.</summary>
    public static ushort Bf16(float x) => Numerics.FloatToBf16(x);

    /// <summary>Multiples of 1/16 in [-2, 2]: their products and sums of 16 of them are exact in float, in any order.</summary>
    public static float Small(Random random) => random.Next(-32, 33) / 16f;

    /// <summary>
    /// Native memory for <paramref name="values"/>, 64-byte aligned as a GPU's allocations are (a managed array is only
    /// 8-byte aligned, and cp.async wants 16), freed on dispose.
    /// </summary>
    public sealed class Aligned<T> : IDisposable where T : unmanaged
    {
        public Aligned(ReadOnlySpan<T> values)
        {
            Pointer = (T*)NativeMemory.AlignedAlloc((nuint)(values.Length * sizeof(T)), 64);
            Length = values.Length;
            values.CopyTo(Span);
        }

        public T* Pointer { get; }
        public int Length { get; }
        public Span<T> Span => new(Pointer, Length);

        public void Dispose() => NativeMemory.AlignedFree(Pointer);
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Mma { public uint* A; public uint* B; public float* C; public float* D; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Ldmatrix { public ushort* Tile; public int* RowOfLane; public uint* Out; public int Rows, Stride, Matrices, Trans; }

    [StructLayout(LayoutKind.Sequential)]
    public struct TileProduct { public ushort* A; public ushort* B; public float* C; public float* D; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Convert { public float* In; public ushort* Bf16; public float* Back; public uint* Packed; public float* Exp2; public int N; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Shuffle { public float* In; public int* Arg; public float* OutF; public uint* OutU; public uint* Votes; public int Op, Width; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CpAsync { public byte* Src; public int* SrcBytes; public byte* AfterWait1; public byte* AfterWait0; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Barriers { public float* Out; public uint* Ids; public uint* FirstWord; public int Rounds; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Atomic { public float* Counter; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Busy { public float* Out; public int Steps; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Fault { public int* SpinUntil; public int Mode; }
}
