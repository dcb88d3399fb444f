namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Pair panel rows for attention's bf16 probabilities and score gradients: <c>vcvtne2ps2bf16</c> rounds two rows
/// of 16 floats to bf16 in one instruction and <c>vpermw</c> interleaves them into pair words, where the software
/// rounding of <see cref="GemmPackBf16"/> takes a dozen instructions a vector. The same nearest-even rounding and
/// NaN quieting, except that the instruction treats subnormal inputs as zero (|x| below 2⁻¹²⁶: nothing a product
/// of such values can show). Machine code assembled from Bf16PairRowsAvx512.s next to this file.
/// </summary>
internal static unsafe class Bf16PairRowsAvx512
{
    private static readonly delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void> Loop =
        GemmKernelBf16Avx512.IsSupported ? (delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void>)NativeCode.Load(Code) : null;

    /// <summary>Where the CPU has AVX512-BF16 (and the code could be mapped).</summary>
    public static bool IsSupported => Loop != null;

    /// <summary>
    /// One pair panel of w lines (a multiple of 16, all valid) over kc steps: line i's value at step p is src[i + p·kStride];
    /// the panel is ⌈kc/2⌉ steps of w words, as <see cref="GemmPackBf16.Panels"/> lays them out.
    /// </summary>
    public static void Run(float* src, long kStride, int kc, int w, uint* dst) => Loop(src, kStride, kc, w, dst);

    /// <summary>The assembled bytes of Bf16PairRowsAvx512.s in base64 (regenerate them with the commands in its header).</summary>
    private static ReadOnlySpan<byte> Code => Convert.FromBase64String(
        "YmH/SG89tgAAAEjB5gJIweECSYnRSdHpdD1MjRQ3SDHAYvF8SBAEB2LRfEgQDAJi8ndIctBi8oVAjdJi0XxIERQASIPAQEg5yHLWSI08d0kByEn/"
        + "yXXDSPfCAQAAAHQsSDHAYvF1SO/JYvF8SBAEB2Lyd0hy0GLyhUCN0mLRfEgRFABIg8BASDnIct3F+HfDZmYuDx+EAAAAAABmZi4PH4QAAAAAAGZm"
        + "Lg8fhAAAAAAAZmYuDx+EAAAAAAAPH0AAAAAQAAEAEQACABIAAwATAAQAFAAFABUABgAWAAcAFwAIABgACQAZAAoAGgALABsADAAcAA0AHQAOAB4A"
        + "DwAfAA==");
}
