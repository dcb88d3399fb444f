using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Packing: copies a block of an operand into the panel layout the micro-kernels read, converting to
/// float32 on the way. A panel holds w lines (rows of A or columns of B) for kc steps of k, k-major:
/// panel[k·w + i] = line i at step k, lines past the matrix edge zero. Transposes, strides and dtypes
/// are all handled here, so the kernels see one layout.
/// </summary>
internal static unsafe class GemmPack
{
    /// <summary>
    /// Packs lines [0, lines) of width-w panels, one panel per w lines, each panel w·kc floats.
    /// src is element (line 0, k 0); lineStride and kStride are in elements. simd allows AVX2 code;
    /// roundBf16 rounds float32 and float16 values to bfloat16 (the bf16 precision without its kernel).
    /// </summary>
    public static void Panels(void* src, DType type, long lineStride, long kStride, int w, int lines, int kc, float* dst, bool simd, bool roundBf16 = false)
    {
        switch (type)
        {
            case DType.F32 when roundBf16: Panels<Bf16Rounded<F32Element>>(src, lineStride, kStride, w, lines, kc, dst, simd); break;
            case DType.F16 when roundBf16: Panels<Bf16Rounded<F16Element>>(src, lineStride, kStride, w, lines, kc, dst, simd); break;
            case DType.F32: Panels<F32Element>(src, lineStride, kStride, w, lines, kc, dst, simd); break;
            case DType.BF16: Panels<Bf16Element>(src, lineStride, kStride, w, lines, kc, dst, simd); break;
            case DType.F16: Panels<F16Element>(src, lineStride, kStride, w, lines, kc, dst, simd); break;
            default: throw new ArgumentException($"gemm: operand dtype {type.TorchName()} is not float32, bfloat16 or float16");
        }
    }

    private static void Panels<TE>(void* src, long lineStride, long kStride, int w, int lines, int kc, float* dst, bool simd)
        where TE : struct, IGemmElement
    {
        for (int l0 = 0; l0 < lines; l0 += w)
        {
            long offset = l0 * lineStride;
            int valid = Math.Min(w, lines - l0);
            float* panel = dst + (long)l0 * kc;
            if (simd && lineStride == 1)
                PanelAlongLines<TE>(src, offset, kStride, w, valid, kc, panel);
            else if (simd && kStride == 1)
                PanelAlongK<TE>(src, offset, lineStride, w, valid, kc, panel);
            else
                PanelScalar<TE>(src, offset, lineStride, kStride, w, valid, 0, kc, panel);
        }
    }

    /// <summary>Lines adjacent in memory (B row-major, A column-major): each k step is a contiguous copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelAlongLines<TE>(void* src, long offset, long kStride, int w, int valid, int kc, float* panel)
        where TE : struct, IGemmElement
    {
        for (int k = 0; k < kc; k++, offset += kStride, panel += w)
        {
            int i = 0;
            for (; i + 8 <= valid; i += 8)
                TE.Load8(src, offset + i).Store(panel + i);
            for (; i < valid; i++)
                panel[i] = TE.Load(src, offset + i);
            for (; i < w; i++)
                panel[i] = 0f;
        }
    }

    /// <summary>
    /// Each line contiguous along k (A row-major, B = Wᵀ of a [out, in] weight): 8 × 8 blocks transposed in
    /// registers (<see cref="Blocks8"/>), the steps past the last whole block one at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelAlongK<TE>(void* src, long offset, long lineStride, int w, int valid, int kc, float* panel)
        where TE : struct, IGemmElement
    {
        int kMain = kc & ~7;
        Blocks8<ElementRow<TE>>(src, offset, lineStride, w, valid, kMain / 8, 8, panel);
        PanelScalar<TE>(src, offset, lineStride, 1, w, valid, kMain, kc, panel);
    }

    /// <summary>
    /// The whole 8 × 8 blocks of panels whose lines are contiguous along k: for each 8 lines and each block b,
    /// the 8 words (floats, or bf16 pairs) TR reads from each line at b·kStep source elements are transposed in
    /// registers into panel steps [8b, 8b + 8); lines past valid are zero, and a last group of lines narrower
    /// than 8 is stored masked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Blocks8<TR>(void* src, long offset, long lineStride, int w, int valid, int blocks, int kStep, float* panel)
        where TR : struct, IBlockRow
    {
        for (int i0 = 0; i0 < w; i0 += 8)
        {
            int rows = Math.Clamp(valid - i0, 0, 8);
            int cols = Math.Min(8, w - i0);
            var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(cols)).AsSingle();
            long line = offset + i0 * lineStride;
            for (int bk = 0; bk < blocks; bk++)
            {
                long at = line + (long)bk * kStep;
                var r0 = Row<TR>(src, at, 0 < rows);
                var r1 = Row<TR>(src, at + lineStride, 1 < rows);
                var r2 = Row<TR>(src, at + 2 * lineStride, 2 < rows);
                var r3 = Row<TR>(src, at + 3 * lineStride, 3 < rows);
                var r4 = Row<TR>(src, at + 4 * lineStride, 4 < rows);
                var r5 = Row<TR>(src, at + 5 * lineStride, 5 < rows);
                var r6 = Row<TR>(src, at + 6 * lineStride, 6 < rows);
                var r7 = Row<TR>(src, at + 7 * lineStride, 7 < rows);
                Transpose8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                StoreBlock(panel + (long)bk * 8 * w + i0, w, cols, mask, r0, r1, r2, r3, r4, r5, r6, r7);
            }
        }
    }

    /// <summary>Any strides, steps [k0, kc) of the panel.</summary>
    private static void PanelScalar<TE>(void* src, long offset, long lineStride, long kStride, int w, int valid, int k0, int kc, float* panel)
        where TE : struct, IGemmElement
    {
        for (int k = k0; k < kc; k++)
        {
            float* d = panel + (long)k * w;
            long at = offset + k * kStride;
            for (int i = 0; i < valid; i++)
                d[i] = TE.Load(src, at + i * lineStride);
            for (int i = valid; i < w; i++)
                d[i] = 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row<TR>(void* src, long at, bool present) where TR : struct, IBlockRow =>
        present ? TR.Load(src, at) : Vector256<float>.Zero;

    /// <summary>
    /// Stores r0..r7 (a block already transposed) as 8 rows, w floats apart, of a panel at d;
    /// only the first cols of each row when cols &lt; 8 (the mask selects them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBlock(float* d, int w, int cols, Vector256<float> mask, Vector256<float> r0, Vector256<float> r1, Vector256<float> r2,
                                    Vector256<float> r3, Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7)
    {
        if (cols == 8)
        {
            r0.Store(d);
            r1.Store(d + w);
            r2.Store(d + 2 * w);
            r3.Store(d + 3 * w);
            r4.Store(d + 4 * w);
            r5.Store(d + 5 * w);
            r6.Store(d + 6 * w);
            r7.Store(d + 7 * w);
        }
        else
        {
            MaskStore(d, mask, r0);
            MaskStore(d + w, mask, r1);
            MaskStore(d + 2 * w, mask, r2);
            MaskStore(d + 3 * w, mask, r3);
            MaskStore(d + 4 * w, mask, r4);
            MaskStore(d + 5 * w, mask, r5);
            MaskStore(d + 6 * w, mask, r6);
            MaskStore(d + 7 * w, mask, r7);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskStore(float* d, Vector256<float> mask, Vector256<float> v)
    {
        if (Avx512F.VL.IsSupported)
            Avx512F.VL.MaskStore(d, mask, v);
        else
            Avx.MaskStore(d, mask, v);
    }

    /// <summary>In-register 8 × 8 transpose: r_i[j] becomes r_j[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
                                   ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        // Interleave pairs of rows, then pairs of pairs within each 128-bit lane, then swap lanes.
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(s0, s4, 0x20);
        r1 = Avx.Permute2x128(s1, s5, 0x20);
        r2 = Avx.Permute2x128(s2, s6, 0x20);
        r3 = Avx.Permute2x128(s3, s7, 0x20);
        r4 = Avx.Permute2x128(s0, s4, 0x31);
        r5 = Avx.Permute2x128(s1, s5, 0x31);
        r6 = Avx.Permute2x128(s2, s6, 0x31);
        r7 = Avx.Permute2x128(s3, s7, 0x31);
    }
}

/// <summary>8 words of one line for <see cref="GemmPack.Blocks8"/>, read from its contiguous k values at an element index.</summary>
internal unsafe interface IBlockRow
{
    static abstract Vector256<float> Load(void* src, long at);
}

/// <summary>8 float32 values of k, converted from the element type.</summary>
internal readonly unsafe struct ElementRow<TE> : IBlockRow where TE : struct, IGemmElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* src, long at) => TE.Load8(src, at);
}
