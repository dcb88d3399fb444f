using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>How attention's tile products compute: float32, or bf16 operands with float32 sums on pair panels or on rounded floats.</summary>
internal enum AttentionTiles
{
    /// <summary>float32 operands and sums (<see cref="Attention"/>'s TileGemm on the tensors in place).</summary>
    F32,
    /// <summary>bf16 pair panels multiplied by the vdpbf16ps tile kernel (<see cref="AttentionKernelBf16Avx512"/>).</summary>
    Bf16Pairs,
    /// <summary>The same products as float32 FMAs on operands rounded to bf16: CPUs without AVX512-BF16.</summary>
    Bf16Rounded,
}

public static unsafe partial class Attention
{
    /// <summary>
    /// The bf16 tile products of <see cref="AttentionTiles"/>: C[m × width] = A·B with A's m lines (rows of C)
    /// and B's lines (columns of C) packed once each, rounded to bf16 to nearest even as they are packed.
    /// Line i's value p is at src[i·lineStride + p·kStride], so transposes are strides, not copies.
    /// </summary>
    private interface IBf16Tiles
    {
        /// <summary>Packs A: m lines of k values.</summary>
        static abstract void PackA(float* dst, float* src, long lineStride, long kStride, int m, int k);

        /// <summary>Packs B: n lines of k values, then zero lines up to width (a multiple of 64).</summary>
        static abstract void PackB(float* dst, float* src, long lineStride, long kStride, int n, int k, int width);

        /// <summary>C (ldc floats a row) = alpha·A·B, or C += A·B when accumulating (alpha is then 1).</summary>
        static abstract void Product(float* c, long ldc, float* a, float* b, int m, int width, int k, float alpha, bool accumulate);

        /// <summary>Floats an A of m lines of k values takes packed.</summary>
        static abstract long AFloats(int m, int k);

        /// <summary>Floats a B of width lines of k values takes packed.</summary>
        static abstract long BFloats(int width, int k);
    }

    /// <summary>
    /// Pair panels (<see cref="GemmPackBf16"/>'s layout, rounded by <see cref="Bf16PanelsAvx512"/> where the CPU has AVX512-BF16 and the panels are whole)
    /// of 8 lines for A and 32 for B, multiplied 8 × 32 at a time by
    /// <see cref="AttentionKernelBf16Avx512"/> straight into C; a last partial row panel (m not a multiple of 8:
    /// odd head dims, a partial tile) goes through a stack tile.
    /// </summary>
    private readonly struct PairTiles : IBf16Tiles
    {
        public const int Rows = AttentionKernelBf16Avx512.Rows, Cols = AttentionKernelBf16Avx512.Cols;

        public static long AFloats(int m, int k) => (long)Tiles(m, Rows) * Rows * ((k + 1) / 2);

        public static long BFloats(int width, int k) => (long)Tiles(width, Cols) * Cols * ((k + 1) / 2);

        public static void PackA(float* dst, float* src, long lineStride, long kStride, int m, int k)
        {
            // Whole panels contiguous along k in blocks of 16 (dS for dQ, q, dO and k rows): by the instruction too.
            if (kStride == 1 && m % Rows == 0 && k % 16 == 0 && Bf16PanelsAvx512.IsSupported)
                Bf16PanelsAvx512.AlongK(src, lineStride, k, m, (uint*)dst);
            // Lines adjacent (vᵀ, qᵀ and dOᵀ, packed once a call): two panels at a time.
            else if (lineStride == 1 && m % 16 == 0 && Bf16PanelsAvx512.IsSupported)
                Bf16PanelsAvx512.AlongLines8(src, kStride, k, m, (uint*)dst);
            else
                GemmPackBf16.Panels(src, DType.F32, lineStride, kStride, Rows, m, k, (uint*)dst);
        }

        public static void PackB(float* dst, float* src, long lineStride, long kStride, int n, int k, int width)
        {
            // Whole panels of adjacent lines (P, dS, k's columns): rounded by the instruction, not in software.
            if (lineStride == 1 && n % Cols == 0 && Bf16PanelsAvx512.IsSupported)
                for (int l0 = 0; l0 < n; l0 += Cols)
                    Bf16PanelsAvx512.AlongLines(src + l0, kStride, k, Cols, (uint*)dst + (long)l0 * ((k + 1) / 2));
            // Lines contiguous along k (q forward, k and v backward, packed once a tile).
            else if (kStride == 1 && n % Cols == 0 && k % 16 == 0 && Bf16PanelsAvx512.IsSupported)
                Bf16PanelsAvx512.AlongK32(src, lineStride, k, n, (uint*)dst);
            else
                GemmPackBf16.Panels(src, DType.F32, lineStride, kStride, Cols, n, k, (uint*)dst);
            long packed = (long)Tiles(n, Cols) * Cols * ((k + 1) / 2);
            new Span<float>(dst + packed, (int)((long)width * ((k + 1) / 2) - packed)).Clear();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Product(float* c, long ldc, float* a, float* b, int m, int width, int k, float alpha, bool accumulate)
        {
            int pairs = (k + 1) / 2;
            float* tile = stackalloc float[Rows * Cols];
            for (int j = 0; j < width; j += Cols)
                for (int i = 0; i < m; i += Rows)
                {
                    float* ai = a + (long)i * pairs, bj = b + (long)j * pairs, ci = c + i * ldc + j;
                    if (i + Rows <= m)
                    {
                        AttentionKernelBf16Avx512.Run(pairs, ai, bj, ci, ldc, alpha, accumulate);
                        continue;
                    }
                    AttentionKernelBf16Avx512.Run(pairs, ai, bj, tile, Cols, alpha, accumulate: false);
                    for (int r = 0; r < m - i; r++)
                    {
                        float* row = ci + r * ldc;
                        var lo = Vector512.Load(tile + r * Cols);
                        var hi = Vector512.Load(tile + r * Cols + 16);
                        (accumulate ? lo + Vector512.Load(row) : lo).Store(row);
                        (accumulate ? hi + Vector512.Load(row + 16) : hi).Store(row + 16);
                    }
                }
        }
    }

    /// <summary>
    /// The fallback: A as [m × k] and B as [k × width] float32 rows holding bf16-rounded values, multiplied by
    /// <see cref="TileGemm{TV}"/>. bf16 × bf16 products are exact in float32, so this is the pair kernel's maths;
    /// the sums run in another order (k one at a time, not in pairs), so results agree to float32 rounding, not bitwise.
    /// </summary>
    private readonly struct RoundedTiles<TV> : IBf16Tiles
        where TV : unmanaged, IVec<TV>
    {
        public static long AFloats(int m, int k) => (long)m * k;

        public static long BFloats(int width, int k) => (long)width * k;

        public static void PackA(float* dst, float* src, long lineStride, long kStride, int m, int k)
        {
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                    dst[(long)i * k + p] = Bf16(src[i * lineStride + p * kStride]);
        }

        public static void PackB(float* dst, float* src, long lineStride, long kStride, int n, int k, int width)
        {
            for (int p = 0; p < k; p++)
                for (int j = 0; j < width; j++)
                    dst[(long)p * width + j] = j < n ? Bf16(src[j * lineStride + p * kStride]) : 0f;
        }

        public static void Product(float* c, long ldc, float* a, float* b, int m, int width, int k, float alpha, bool accumulate)
        {
            TileGemm<TV>(c, ldc, a, k, 1, b, width, m, k, accumulate, width);
            if (alpha != 1f)
                for (int i = 0; i < m; i++)
                    for (int x = 0; x < width; x += TV.Count)
                        (TV.Load(c + i * ldc + x) * TV.Splat(alpha)).Store(c + i * ldc + x);
        }

        private static float Bf16(float x) => Numerics.Bf16ToFloat(Numerics.FloatToBf16(x));
    }
}
