namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// bf16 pair panels (<see cref="GemmPackBf16"/>'s layout) for attention's tiles, rounded by <c>vcvtne2ps2bf16</c>, two
/// rows of 16 floats an instruction, where the software rounding takes a dozen instructions a vector: the same
/// nearest-even rounding and NaN quieting, except that the instruction treats subnormal inputs as zero (|x| below
/// 2⁻¹²⁶: nothing a product of such values can show). Machine code assembled from Bf16PanelsAvx512.s next to this file.
/// </summary>
internal static unsafe class Bf16PanelsAvx512
{
    /// <summary>Where bf16_along_lines8, bf16_along_k and bf16_along_k32 start in <see cref="Code"/> (nm on the assembled object).</summary>
    private const int Lines8Offset = 0x65, AlongKOffset = 0xDB, AlongK32Offset = 0x1DD;

    private static readonly byte* Base = GemmKernelBf16Avx512.IsSupported ? (byte*)NativeCode.Load(Code) : null;

    private static readonly delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void> Lines =
        (delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void>)Base;

    private static readonly delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void> Lines8 =
        (delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void>)(Base == null ? null : Base + Lines8Offset);

    private static readonly delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void> Ks =
        (delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void>)(Base == null ? null : Base + AlongKOffset);

    private static readonly delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void> Ks32 =
        (delegate* unmanaged[SuppressGCTransition]<float*, long, long, long, uint*, void>)(Base == null ? null : Base + AlongK32Offset);

    /// <summary>Where the CPU has AVX512-BF16 (and the code could be mapped).</summary>
    public static bool IsSupported => Base != null;

    /// <summary>
    /// One panel of w lines adjacent in memory (w a multiple of 16, all valid) over kc steps: line i's value at step p
    /// is src[i + p·kStride].
    /// </summary>
    public static void AlongLines(float* src, long kStride, int kc, int w, uint* dst) => Lines(src, kStride, kc, w, dst);

    /// <summary>Panels of 8 lines adjacent in memory for m lines (a multiple of 16, all valid), as <see cref="AlongLines"/> lays out each.</summary>
    public static void AlongLines8(float* src, long kStride, int kc, int m, uint* dst) => Lines8(src, kStride, kc, m, dst);

    /// <summary>
    /// Panels of 8 lines contiguous along k for m lines (a multiple of 8, all valid) over kc steps (a multiple of 16):
    /// line i's value at step p is src[i·lineStride + p].
    /// </summary>
    public static void AlongK(float* src, long lineStride, int kc, int m, uint* dst) => Ks(src, lineStride, kc, m, dst);

    /// <summary><see cref="AlongK"/> into panels of 32 lines (m a multiple of 32).</summary>
    public static void AlongK32(float* src, long lineStride, int kc, int m, uint* dst) => Ks32(src, lineStride, kc, m, dst);

    /// <summary>The assembled bytes of Bf16PanelsAvx512.s in base64 (regenerate them with the commands in its header).</summary>
    private static ReadOnlySpan<byte> Code => Convert.FromBase64String(
        "YmH/SG89NgMAAEjB5gJIweECSYnRxfRGyUmD+QF1BMX0R8lMjRQ3SDHAYvF8SBAEB2LRfMkQDAJi8ndIctBi8oVAjdJi0XxIERQASIPAQEg5yHLW"
        + "SI08d0kByEmD6QJ/uMX4d8NiYf9Ibz3RAgAASMHmAkyNWgFJ0etJweMFSIn4TYnCSYnRxfRGyUmD+QF1BMX0R8li8XxIEABi8XzJEAwwYvJ3SHLQ"
        + "YvKFQI3SxMF8ERJik/1IOxQaAUiNBHBJg8IgSYPpAn/CSIPHQE+NBFhIg+kQdafF+HfDYmF+SG8lmwIAAGJhfkhvLdECAABiYX5IbzUHAwAAYmF+"
        + "SG89PQMAAEjB5gJIweICTI0cdkiJ+EyNFLdMjQwXYvF8SBAMMGLyd0hyAGKxfEgQHBhi8mdIchRwYtF8SBAsMmLSV0hyImKRfEgQPBpi0kdIcjRy"
        + "YnF9SG/AYvIdQH7CYnIVQH7CYnF9SG/MYvIdQH7mYnIVQH7OYnF9SG/QYvINQH7EYnIFQH7UYlF9SG/YYlINQH7BYlIFQH7ZYtF8SBEAYlF8SBFQ"
        + "AWJRfEgRQAJiUXxIEVgDSYHAAAEAAEiDwEBJg8JATDnID4JP////SI0890iD6QgPhTb////F+HfDU0FUSYnUScHkBkmB7IAAAABiYX5IbyWIAQAA"
        + "YmF+SG8tvgEAAGJhfkhvNfQBAABiYX5Ibz0qAgAASMHmAkjB4gJMjRx2SIn4TI0Ut0yNDBdMicNi8XxIEAwwYvJ3SHIAYrF8SBAcGGLyZ0hyFHBi"
        + "0XxIECwyYtJXSHIiYpF8SBA8GmLSR0hyNHJicX1Ib8Bi8h1AfsJichVAfsJicX1Ib8xi8h1AfuZichVAfs5icX1Ib9Bi8g1AfsRicgVAftRiUX1I"
        + "b9hiUg1AfsFiUgVAftnF/BEDYvP9SDtDBAFIgcMAAQAAxXwRE2Jz/Ug7UwQBSIHDAAEAAMV8EQNic/1IO0MEAUiBwwABAADFfBEbYnP9SDtbBAFI"
        + "gcMAAQAASIPAQEmDwkBMOcgPgiX///9IjTz3SYPAIEiD6QhI98EfAAAAD4X+/v//TQHgSIXJD4Xy/v//QVxbxfh3w2YPH4QAAAAAAAAAEAABABEA"
        + "AgASAAMAEwAEABQABQAVAAYAFgAHABcACAAYAAkAGQAKABoACwAbAAwAHAANAB0ADgAeAA8AHwAAAAAACAAAABAAAAAYAAAAAQAAAAkAAAARAAAA"
        + "GQAAAAIAAAAKAAAAEgAAABoAAAADAAAACwAAABMAAAAbAAAABAAAAAwAAAAUAAAAHAAAAAUAAAANAAAAFQAAAB0AAAAGAAAADgAAABYAAAAeAAAA"
        + "BwAAAA8AAAAXAAAAHwAAAAAAAAABAAAAAgAAAAMAAAAQAAAAEQAAABIAAAATAAAABAAAAAUAAAAGAAAABwAAABQAAAAVAAAAFgAAABcAAAAIAAAA"
        + "CQAAAAoAAAALAAAAGAAAABkAAAAaAAAAGwAAAAwAAAANAAAADgAAAA8AAAAcAAAAHQAAAB4AAAAfAAAA");
}
