using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// AVX-512 micro-kernel: a 14 × 32 tile of C in 28 zmm accumulators (of 32 registers), two B vectors
/// per k and A broadcast from memory. Zen 4 retires one 512-bit FMA a cycle with latency 4, so 28
/// independent chains keep it busy, and a 14-row tile loads 1 byte of packed operand per 5 FLOP.
/// </summary>
internal readonly unsafe struct GemmKernelAvx512 : IGemmKernel
{
    public static int MR => 14;
    public static int NR => 32;
    public static bool PairedBf16 => false;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        // The previous KC slice evicted this C tile; start fetching it now so the final update does not stall.
        for (int i = 0; i < 14; i++)
        {
            Sse.Prefetch0(c + i * ldc);
            Sse.Prefetch0(c + i * ldc + 31);
        }
        Vector512<float> c000 = default, c001 = default;
        Vector512<float> c010 = default, c011 = default;
        Vector512<float> c020 = default, c021 = default;
        Vector512<float> c030 = default, c031 = default;
        Vector512<float> c040 = default, c041 = default;
        Vector512<float> c050 = default, c051 = default;
        Vector512<float> c060 = default, c061 = default;
        Vector512<float> c070 = default, c071 = default;
        Vector512<float> c080 = default, c081 = default;
        Vector512<float> c090 = default, c091 = default;
        Vector512<float> c100 = default, c101 = default;
        Vector512<float> c110 = default, c111 = default;
        Vector512<float> c120 = default, c121 = default;
        Vector512<float> c130 = default, c131 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            c000 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c000); c001 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b1, c001);
            c010 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c010); c011 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b1, c011);
            c020 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c020); c021 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b1, c021);
            c030 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c030); c031 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b1, c031);
            c040 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c040); c041 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b1, c041);
            c050 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c050); c051 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b1, c051);
            c060 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c060); c061 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b1, c061);
            c070 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c070); c071 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b1, c071);
            c080 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), b0, c080); c081 = Vector512.FusedMultiplyAdd(Vector512.Create(a[8]), b1, c081);
            c090 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), b0, c090); c091 = Vector512.FusedMultiplyAdd(Vector512.Create(a[9]), b1, c091);
            c100 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), b0, c100); c101 = Vector512.FusedMultiplyAdd(Vector512.Create(a[10]), b1, c101);
            c110 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), b0, c110); c111 = Vector512.FusedMultiplyAdd(Vector512.Create(a[11]), b1, c111);
            c120 = Vector512.FusedMultiplyAdd(Vector512.Create(a[12]), b0, c120); c121 = Vector512.FusedMultiplyAdd(Vector512.Create(a[12]), b1, c121);
            c130 = Vector512.FusedMultiplyAdd(Vector512.Create(a[13]), b0, c130); c131 = Vector512.FusedMultiplyAdd(Vector512.Create(a[13]), b1, c131);
            a += 14;
            b += 32;
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool readC = beta != 0f;
        StoreRow(c + 0 * ldc, c000, c001, va, vb, readC);
        StoreRow(c + 1 * ldc, c010, c011, va, vb, readC);
        StoreRow(c + 2 * ldc, c020, c021, va, vb, readC);
        StoreRow(c + 3 * ldc, c030, c031, va, vb, readC);
        StoreRow(c + 4 * ldc, c040, c041, va, vb, readC);
        StoreRow(c + 5 * ldc, c050, c051, va, vb, readC);
        StoreRow(c + 6 * ldc, c060, c061, va, vb, readC);
        StoreRow(c + 7 * ldc, c070, c071, va, vb, readC);
        StoreRow(c + 8 * ldc, c080, c081, va, vb, readC);
        StoreRow(c + 9 * ldc, c090, c091, va, vb, readC);
        StoreRow(c + 10 * ldc, c100, c101, va, vb, readC);
        StoreRow(c + 11 * ldc, c110, c111, va, vb, readC);
        StoreRow(c + 12 * ldc, c120, c121, va, vb, readC);
        StoreRow(c + 13 * ldc, c130, c131, va, vb, readC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreRow(float* c, Vector512<float> lo, Vector512<float> hi, Vector512<float> va, Vector512<float> vb, bool readC)
    {
        if (readC)
        {
            Vector512.FusedMultiplyAdd(lo, va, vb * Vector512.Load(c)).Store(c);
            Vector512.FusedMultiplyAdd(hi, va, vb * Vector512.Load(c + 16)).Store(c + 16);
        }
        else
        {
            (lo * va).Store(c);
            (hi * va).Store(c + 16);
        }
    }
}
