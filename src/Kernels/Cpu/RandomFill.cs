namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Philox draws into a contiguous float32 tensor, a counter block (four numbers) at a time.</summary>
internal static unsafe class RandomFill
{
    public static void Run(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b)
    {
        CheckArgs(dst);
        float* p = (float*)dst.DataPointer;
        long n = dst.Numel;
        CpuThreads.ForRange((n + 3) / 4, 4096, (lo, hi) =>
        {
            Span<float> w = stackalloc float[4];
            for (long blk = lo; blk < hi; blk++)
            {
                Philox.Block4(kind, offset + (ulong)blk, seed, a, b, w);
                long i0 = blk * 4;
                for (int j = 0; j < 4 && i0 + j < n; j++)
                    p[i0 + j] = w[j];
            }
        });
    }

    /// <summary>Random's argument checks, shared with the GPU backend: a contiguous float32 output.</summary>
    public static void CheckArgs(Tensor dst)
    {
        Check.F32("random", dst, "output");
        Check.Contiguous("random", dst, "output");
    }
}
