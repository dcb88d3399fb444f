namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// A register-blocked micro-kernel: C[MR × NR] (row stride ldc, columns contiguous) =
/// alpha · Σₖ a[k·MR + i] · b[k·NR + j] + beta · C, over kc steps of packed panels. beta == 0 never
/// reads C. Implementations are structs so the driver, generic over them, is compiled once per kernel
/// with MR, NR and the call inlined as constants.
/// </summary>
internal unsafe interface IGemmKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    /// <summary>
    /// True for kernels that read bf16 pair panels (<see cref="GemmPackBf16"/>: one step = two values of k);
    /// false for float32 panels (<see cref="GemmPack"/>).
    /// </summary>
    static abstract bool PairedBf16 { get; }
    static abstract void Run(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta);
}

/// <summary>Portable fallback for machines without FMA: plain loops over a stack tile.</summary>
internal readonly unsafe struct GemmKernelScalar : IGemmKernel
{
    public static int MR => 4;
    public static int NR => 8;
    public static bool PairedBf16 => false;

    public static void Run(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[4 * 8];
        new Span<float>(acc, 4 * 8).Clear();
        for (int k = 0; k < kc; k++, a += 4, b += 8)
        {
            for (int i = 0; i < 4; i++)
            {
                float ai = a[i];
                for (int j = 0; j < 8; j++)
                    acc[i * 8 + j] += ai * b[j];
            }
        }
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 8; j++)
            {
                float* cij = c + i * ldc + j;
                *cij = beta == 0f ? alpha * acc[i * 8 + j] : alpha * acc[i * 8 + j] + beta * *cij;
            }
        }
    }
}
