using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// AVX2 + FMA micro-kernel: a 6 × 16 tile of C in 12 ymm accumulators; with two B vectors and one
/// broadcast that is 15 of the 16 registers. Two 256-bit FMAs a cycle at latency 4 need ≥ 8 chains.
/// </summary>
internal readonly unsafe struct GemmKernelAvx2 : IGemmKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static bool PairedBf16 => false;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        // The previous KC slice evicted this C tile; start fetching it now so the final update does not stall.
        for (int i = 0; i < 6; i++)
        {
            Sse.Prefetch0(c + i * ldc);
            Sse.Prefetch0(c + i * ldc + 15);
        }
        Vector256<float> c00 = default, c01 = default;
        Vector256<float> c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default;
        Vector256<float> c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            c00 = Vector256.FusedMultiplyAdd(Vector256.Create(a[0]), b0, c00); c01 = Vector256.FusedMultiplyAdd(Vector256.Create(a[0]), b1, c01);
            c10 = Vector256.FusedMultiplyAdd(Vector256.Create(a[1]), b0, c10); c11 = Vector256.FusedMultiplyAdd(Vector256.Create(a[1]), b1, c11);
            c20 = Vector256.FusedMultiplyAdd(Vector256.Create(a[2]), b0, c20); c21 = Vector256.FusedMultiplyAdd(Vector256.Create(a[2]), b1, c21);
            c30 = Vector256.FusedMultiplyAdd(Vector256.Create(a[3]), b0, c30); c31 = Vector256.FusedMultiplyAdd(Vector256.Create(a[3]), b1, c31);
            c40 = Vector256.FusedMultiplyAdd(Vector256.Create(a[4]), b0, c40); c41 = Vector256.FusedMultiplyAdd(Vector256.Create(a[4]), b1, c41);
            c50 = Vector256.FusedMultiplyAdd(Vector256.Create(a[5]), b0, c50); c51 = Vector256.FusedMultiplyAdd(Vector256.Create(a[5]), b1, c51);
            a += 6;
            b += 16;
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        bool readC = beta != 0f;
        StoreRow(c + 0 * ldc, c00, c01, va, vb, readC);
        StoreRow(c + 1 * ldc, c10, c11, va, vb, readC);
        StoreRow(c + 2 * ldc, c20, c21, va, vb, readC);
        StoreRow(c + 3 * ldc, c30, c31, va, vb, readC);
        StoreRow(c + 4 * ldc, c40, c41, va, vb, readC);
        StoreRow(c + 5 * ldc, c50, c51, va, vb, readC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> lo, Vector256<float> hi, Vector256<float> va, Vector256<float> vb, bool readC)
    {
        if (readC)
        {
            Vector256.FusedMultiplyAdd(lo, va, vb * Vector256.Load(c)).Store(c);
            Vector256.FusedMultiplyAdd(hi, va, vb * Vector256.Load(c + 8)).Store(c + 8);
        }
        else
        {
            (lo * va).Store(c);
            (hi * va).Store(c + 8);
        }
    }
}
