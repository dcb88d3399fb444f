using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Packing for the bf16 pair kernel: a panel holds w lines (rows of A or columns of B) for ⌈kc/2⌉ steps,
/// step-major, each entry one 32-bit word with line i's values at k = 2p (low half) and 2p + 1 (high half)
/// as bfloat16, rounded to nearest even from float32 or float16; an odd kc's last pair and lines past the
/// matrix edge are zero. The word layout is what <c>vdpbf16ps</c> multiplies pairwise.
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

    /// <summary>Line values k = 0..kc-1 (at kStride) as bfloat16, 16 at a time where they are contiguous float32.</summary>
    private static void Line(void* src, DType type, long at, long kStride, int kc, ushort* dst)
    {
        int k = 0;
        if (type == DType.BF16 && kStride == 1)
        {
            Buffer.MemoryCopy((ushort*)src + at, dst, kc * 2L, kc * 2L);
            return;
        }
        if (type == DType.F32 && kStride == 1)
            for (float* s = (float*)src + at; k + 16 <= kc; k += 16)
                Vector512.Narrow(Round(Vector512.Load(s + k)) >> 16, Vector512<uint>.Zero).GetLower().Store(dst + k);
        for (; k < kc; k++)
            dst[k] = Numerics.FloatToBf16(Load(src, type, at + k * kStride));
    }

    /// <summary>Lines adjacent in memory (B row-major, A column-major): each pair of k steps interleaves two rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AlongLines(void* src, DType type, long offset, long kStride, int w, int valid, int kc, uint* panel)
    {
        for (int k = 0; k < kc; k += 2, panel += w)
        {
            long r0 = offset + k * kStride, r1 = r0 + kStride;
            bool second = k + 1 < kc;
            int i = 0;
            for (; i + 16 <= valid; i += 16)
            {
                Vector512<uint> lo, hi;
                if (type == DType.F32)
                {
                    lo = Round(Vector512.Load((float*)src + r0 + i)) >> 16;
                    hi = second ? Round(Vector512.Load((float*)src + r1 + i)) & Vector512.Create(0xFFFF0000u) : Vector512<uint>.Zero;
                }
                else
                {
                    lo = Vector512.WidenLower(Vector256.Load((ushort*)src + r0 + i).ToVector512Unsafe());
                    hi = second ? Vector512.WidenLower(Vector256.Load((ushort*)src + r1 + i).ToVector512Unsafe()) << 16 : Vector512<uint>.Zero;
                }
                (lo | hi).Store(panel + i);
            }
            for (; i < valid; i++)
            {
                uint lo = Numerics.FloatToBf16(Load(src, type, r0 + i));
                uint hi = second ? Numerics.FloatToBf16(Load(src, type, r1 + i)) : 0u;
                panel[i] = lo | hi << 16;
            }
            for (; i < w; i++)
                panel[i] = 0u;
        }
    }

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
