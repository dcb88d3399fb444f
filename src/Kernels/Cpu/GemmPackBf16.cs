using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Packing for the bf16 pair kernel: a panel holds w lines (rows of A or columns of B) for ⌈kc/2⌉ steps,
/// step-major, each entry one 32-bit word with line i's values at k = 2p (low half) and 2p + 1 (high half)
/// as bfloat16, rounded to nearest even from float32 or float16; an odd kc's last pair and lines past the
/// matrix edge are zero. The word layout is what <c>vdpbf16ps</c> multiplies pairwise. AVX-512 code: only
/// that kernel reads these panels.
/// </summary>
internal static unsafe class GemmPackBf16
{
    /// <summary>Same contract as <see cref="GemmPack.Panels"/>, with panels of ⌈kc/2⌉ words a line.</summary>
    public static void Panels(void* src, DType type, long lineStride, long kStride, int w, int lines, int kc, uint* dst)
    {
        int pairs = (kc + 1) / 2;
        ushort* line = stackalloc ushort[2 * pairs];
        for (int l0 = 0; l0 < lines; l0 += w)
        {
            int valid = Math.Min(w, lines - l0);
            uint* panel = dst + (long)l0 * pairs;
            long offset = l0 * lineStride;
            if (lineStride == 1 && type is DType.F32 or DType.BF16)
            {
                AlongLines(src, type, offset, kStride, w, valid, kc, panel);
                continue;
            }
            if (kStride == 1 && type is DType.F32 or DType.BF16)
            {
                AlongK(src, type, offset, lineStride, w, valid, kc, panel);
                continue;
            }
            for (int i = 0; i < w; i++)
            {
                if (i < valid)
                {
                    Line(src, type, offset + i * lineStride, kStride, kc, line);
                    if (kc % 2 != 0)
                        line[kc] = 0;
                }
                uint* words = (uint*)line;
                for (int p = 0; p < pairs; p++)
                    panel[(long)p * w + i] = i < valid ? words[p] : 0u;
            }
        }
    }

    /// <summary>
    /// Each line contiguous along k (A row-major, B = Wᵀ of a [out, in] weight): a line's 16 values of k are
    /// 8 words, so 8 lines × 8 pairs transpose in registers as float32 blocks do (GemmPack.Blocks8); the pairs
    /// past the last whole block of 8 go one word at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AlongK(void* src, DType type, long offset, long lineStride, int w, int valid, int kc, uint* panel)
    {
        int pairs = (kc + 1) / 2, pMain = kc / 16 * 8;
        if (type == DType.BF16)
            GemmPack.Blocks8<Bf16Words>(src, offset, lineStride, w, valid, pMain / 8, 16, (float*)panel);
        else
            GemmPack.Blocks8<F32Words>(src, offset, lineStride, w, valid, pMain / 8, 16, (float*)panel);
        for (int i = 0; i < w; i++)
        {
            long at = offset + i * lineStride;
            for (int p = pMain; p < pairs; p++)
                panel[(long)p * w + i] = i < valid ? Word(src, type, at + 2 * p, 2 * p + 1 < kc ? at + 2 * p + 1 : -1) : 0u;
        }
    }

    /// <summary>Line values k = 0..kc-1 (at kStride) as bfloat16, one at a time: float16 or unusual strides.</summary>
    private static void Line(void* src, DType type, long at, long kStride, int kc, ushort* dst)
    {
        for (int k = 0; k < kc; k++)
            dst[k] = Numerics.FloatToBf16(Load(src, type, at + k * kStride));
    }

    /// <summary>
    /// Lines adjacent in memory (B row-major, A column-major): each pair of k steps interleaves two rows,
    /// 16 lines at a time, the last 16 of a panel (14 wide for A) loaded and stored under masks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AlongLines(void* src, DType type, long offset, long kStride, int w, int valid, int kc, uint* panel)
    {
        for (int k = 0; k < kc; k += 2, panel += w)
        {
            long r0 = offset + k * kStride, r1 = r0 + kStride;
            bool second = k + 1 < kc;
            for (int i = 0; i < w; i += 16)
            {
                int read = Math.Clamp(valid - i, 0, 16), write = Math.Min(16, w - i);
                if (type == DType.BF16 && read < 16)
                {
                    for (int j = i; j < i + write; j++)
                        panel[j] = j < valid ? Word(src, type, r0 + j, second ? r1 + j : -1) : 0u;
                    continue;
                }
                Vector512<uint> lo, hi;
                if (type == DType.F32)
                {
                    var readMask = Lanes(read).AsSingle();
                    lo = Round(Avx512F.MaskLoad((float*)src + r0 + i, readMask, Vector512<float>.Zero)) >> 16;
                    hi = second ? Round(Avx512F.MaskLoad((float*)src + r1 + i, readMask, Vector512<float>.Zero)) & Vector512.Create(0xFFFF0000u) : Vector512<uint>.Zero;
                }
                else
                {
                    lo = Vector512.WidenLower(Vector256.Load((ushort*)src + r0 + i).ToVector512Unsafe());
                    hi = second ? Vector512.WidenLower(Vector256.Load((ushort*)src + r1 + i).ToVector512Unsafe()) << 16 : Vector512<uint>.Zero;
                }
                if (write == 16)
                    (lo | hi).Store(panel + i);
                else
                    Avx512F.MaskStore(panel + i, Lanes(write), lo | hi);
            }
        }
    }

    /// <summary>All ones in lanes [0, n) of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Lanes(int n) => Vector512.LessThan(Vector512<uint>.Indices, Vector512.Create((uint)n));

    /// <summary>One pair word: the values at lo and hi (hi &lt; 0: past an odd kc, zero) rounded to bfloat16.</summary>
    private static uint Word(void* src, DType type, long lo, long hi) =>
        Numerics.FloatToBf16(Load(src, type, lo)) | (hi < 0 ? 0u : (uint)Numerics.FloatToBf16(Load(src, type, hi)) << 16);

    private static float Load(void* src, DType type, long i) => (float)Copy.Read((byte*)src + i * type.Size(), type);

    /// <summary>
    /// float32 bits rounded to nearest even at bfloat16 precision (the result's top 16 bits); NaNs stay
    /// NaN, quieted, as <see cref="Numerics.FloatToBf16"/> does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Round(Vector512<float> x)
    {
        var u = x.AsUInt32();
        var rounded = u + Vector512.Create(0x7FFFu) + ((u >> 16) & Vector512<uint>.One);
        var nan = Vector512.GreaterThan(u & Vector512.Create(0x7FFFFFFFu), Vector512.Create(0x7F800000u));
        return Vector512.ConditionalSelect(nan, u | Vector512.Create(0x00400000u), rounded);
    }
}

/// <summary>16 contiguous bfloat16 values of a line: already 8 pair words.</summary>
internal readonly unsafe struct Bf16Words : IBlockRow
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* src, long at) => Vector256.Load((float*)((ushort*)src + at));
}

/// <summary>16 contiguous float32 values of a line rounded to bfloat16 and narrowed into 8 pair words.</summary>
internal readonly unsafe struct F32Words : IBlockRow
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* src, long at) =>
        Avx512F.ConvertToVector256UInt16(GemmPackBf16.Round(Vector512.Load((float*)src + at)) >> 16).AsSingle();
}
