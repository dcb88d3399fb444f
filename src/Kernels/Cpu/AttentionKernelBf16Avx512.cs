using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// AVX512-BF16 tile kernel for attention's bf16 products: an 8 × 32 tile of C from bf16 pair panels with
/// <c>vdpbf16ps</c>, A's words broadcast from memory. Eight rows divide attention's 64-row tiles and head dims
/// that are multiples of 8 (the GEMM's 14 rows waste 6 of 70 and need a stack tile for the last panel), and
/// the kernel scales by alpha and adds C at its row stride itself, so a tile costs no copy. Machine code
/// assembled from AttentionKernelBf16Avx512.s next to this file, as <see cref="GemmKernelBf16Avx512"/>'s is.
/// </summary>
internal static unsafe class AttentionKernelBf16Avx512
{
    public const int Rows = 8, Cols = 32;

    private static readonly delegate* unmanaged[SuppressGCTransition]<long, float*, float*, float*, long, long, float, void> Loop =
        GemmKernelBf16Avx512.IsSupported ? (delegate* unmanaged[SuppressGCTransition]<long, float*, float*, float*, long, long, float, void>)NativeCode.Load(Code) : null;

    /// <summary>Where the GEMM's vdpbf16ps kernel runs (the CPU has AVX512-BF16 and the code could be mapped), this one does.</summary>
    public static bool IsSupported => Loop != null;

    /// <summary>C[8 × 32] (ldc floats a row) = alpha · A·B over pairs bf16 pairs, plus C when accumulating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run(int pairs, float* a, float* b, float* c, long ldc, float alpha, bool accumulate) => Loop(pairs, a, b, c, ldc, accumulate ? 1 : 0, alpha);

    /// <summary>The assembled bytes of AttentionKernelBf16Avx512.s in base64 (regenerate them with the commands in its header).</summary>
    private static ReadOnlySpan<byte> Code => Convert.FromBase64String(
        "YmJ9SBj4ScHgAmLxfUjvwGLxdUjvyWLxbUjv0mLxZUjv22LxXUjv5GLxVUjv7WLxTUjv9mLxRUjv/2JRPUjvwGJRNUjvyWJRLUjv0mJRJUjv22"
        + "JRHUjv5GJRFUjv7WJRDUjv9mJRBUjv/0iF/w+EjwAAAGLhfEgQAmLhfEgQSgFi8n5QUgZi8nZQUg5i8n5QUlYBYvJ2UFJeAWLyflBSZgJi8nZQ"
        + "Um4CYvJ+UFJ2A2LydlBSfgNicn5QUkYEYnJ2UFJOBGJyflBSVgVicnZQUl4FYnJ+UFJmBmJydlBSbgZicn5QUnYHYnJ2UFJ+B0iDxiBIgcKAAA"
        + "AASP/PD4Vx////YpF8SFnHYpF0SFnPYpFsSFnXYpFkSFnfYpFcSFnnYpFUSFnvYpFMSFn3YpFESFn/YhE8SFnHYhE0SFnPYhEsSFnXYhEkSFnf"
        + "YhEcSFnnYhEUSFnvYhEMSFn3YhEESFn/TYXJD4TsAAAAYvF8SFgBYvF0SFhJAWLxfEgRAWLxfEgRSQFMAcFi8WxIWBFi8WRIWFkBYvF8SBERYv"
        + "F8SBFZAUwBwWLxXEhYIWLxVEhYaQFi8XxIESFi8XxIEWkBTAHBYvFMSFgxYvFESFh5AWLxfEgRMWLxfEgReQFMAcFicTxIWAFicTRIWEkBYnF8"
        + "SBEBYnF8SBFJAUwBwWJxLEhYEWJxJEhYWQFicXxIERFicXxIEVkBTAHBYnEcSFghYnEUSFhpAWJxfEgRIWJxfEgRaQFMAcFicQxIWDFicQRIWH"
        + "kBYnF8SBExYnF8SBF5AUwBwcX4d8Ni8XxIEQFi8XxIEUkBTAHBYvF8SBERYvF8SBFZAUwBwWLxfEgRIWLxfEgRaQFMAcFi8XxIETFi8XxIEXkB"
        + "TAHBYnF8SBEBYnF8SBFJAUwBwWJxfEgREWJxfEgRWQFMAcFicXxIESFicXxIEWkBTAHBYnF8SBExYnF8SBF5AUwBwcX4d8M=");
}
