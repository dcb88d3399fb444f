using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The blocked loops around one micro-kernel. Per batch item: for each NC-wide block of columns and
/// each KC-deep slice of k, B's block is packed once (all threads share it, ~L3), then tasks of
/// (MC rows of A × a chunk of B's panels) each pack their A block (~L2) and sweep panel pairs with
/// the kernel, the B micro-panel staying in L1 across the rows.
/// </summary>
internal static unsafe class GemmDriver<TK> where TK : struct, IGemmKernel
{
    // Zen 4, measured: a deep KC amortises the C tile's load and store best (512 beat 256 and 384 by
    // 3-5%); the A block MC·KC·4 = 448 KiB sits in the 1 MiB L2; the B block KC·NC·4 = 8 MiB in the
    // shared 32 MiB L3. The 64 KiB B micro-panel overflows L1d, but L2 feeds it well within budget.
    private const int KC = 512;
    private const int MC = 224;
    private const int NC = 4096;

    // Below this many FLOPs a thread hand-off costs more than it saves.
    private const double ParallelFlops = 4e6;

    // Batch items at least this large are split across threads one at a time instead of spread.
    private const double LargeItemFlops = 64e6;

    public static void Run(int batch, int m, int n, int k, float alpha, GemmOperand a, GemmOperand b, float beta, GemmOperand c, bool simd)
    {
        if (PreferTransposed(m, n, c))
        {
            (a, b) = (b.Transposed, a.Transposed);
            (m, n) = (n, m);
            c = c.Transposed;
        }
        var p = new Problem(m, n, k, alpha, beta, a, b, c, simd);
        double itemFlops = 2.0 * m * n * k;
        int threads = itemFlops * batch < ParallelFlops ? 1 : CpuThreads.Count;
        if (threads > 1 && batch >= threads && (batch >= 4 * threads || itemFlops < LargeItemFlops))
            CpuThreads.For(batch, bi => Item(p, bi, threads: 1));
        else
            for (int bi = 0; bi < batch; bi++)
                Item(p, bi, threads);
    }

    /// <summary>
    /// Computes Cᵀ = Bᵀ Aᵀ instead when C is column-major (so the kernel stores rows), or when the
    /// transposed problem wastes much less of the MR × NR tiles (n far below NR, e.g. a LoRA rank of 8).
    /// </summary>
    private static bool PreferTransposed(int m, int n, in GemmOperand c)
    {
        if (c.ColStride != 1 && c.RowStride == 1)
            return true;
        if (c.ColStride == 1 && c.RowStride != 1 && m > 1 && n > 1)
            return 5 * Padded(n, m) < 4 * Padded(m, n);
        return false;
    }

    private static long Padded(int m, int n) => (long)RoundUp(m, TK.MR) * RoundUp(n, TK.NR);

    private readonly record struct Problem(int M, int N, int K, float Alpha, float Beta, GemmOperand A, GemmOperand B, GemmOperand C, bool Simd);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(Problem p, int bi, int threads)
    {
        int mr = TK.MR, nr = TK.NR;
        byte* a = (byte*)p.A.Item(bi), b = (byte*)p.B.Item(bi);
        float* c = (float*)p.C.Item(bi);
        int sizeA = p.A.Type.Size(), sizeB = p.B.Type.Size();
        float* bPack = GemmBuffers.B(RoundUp(Math.Min(NC, p.N), nr) * (long)Math.Min(KC, p.K));
        for (int jc = 0; jc < p.N; jc += NC)
        {
            int nc = Math.Min(NC, p.N - jc);
            int panels = CeilDiv(nc, nr);
            var (icBlocks, mcStep, chunks, chunkPanels) = Split(p.M, panels, threads);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                byte* bBlock = b + (pc * p.B.RowStride + jc * p.B.ColStride) * sizeB;
                int packPanels = CeilDiv(panels, threads);
                For(CeilDiv(panels, packPanels), threads, t =>
                {
                    int q0 = t * packPanels, lines = Math.Min(panels - q0, packPanels) * nr;
                    GemmPack.Panels(bBlock + q0 * nr * p.B.ColStride * sizeB, p.B.Type, p.B.ColStride, p.B.RowStride,
                                    nr, Math.Min(lines, nc - q0 * nr), kc, bPack + (long)q0 * nr * kc, p.Simd);
                });
                float beta = pc == 0 ? p.Beta : 1f;
                byte* aSlice = a + pc * p.A.ColStride * sizeA;
                For(icBlocks * chunks, threads, task =>
                {
                    int ic = task / chunks * mcStep, mc = Math.Min(mcStep, p.M - ic);
                    int q0 = task % chunks * chunkPanels, q1 = Math.Min(panels, q0 + chunkPanels);
                    float* aPack = GemmBuffers.A(RoundUp(mcStep, mr) * (long)kc);
                    GemmPack.Panels(aSlice + ic * p.A.RowStride * sizeA, p.A.Type, p.A.RowStride, p.A.ColStride, mr, mc, kc, aPack, p.Simd);
                    Macro(p, kc, mc, aPack, bPack, q0, q1, nc - q0 * nr, c + ic * p.C.RowStride + (jc + q0 * nr) * p.C.ColStride, beta);
                });
            }
        }
    }

    /// <summary>
    /// Tasks: icBlocks row blocks of mcStep rows × chunks of chunkPanels B panels. Row blocks alone when
    /// they give every thread an equal share; otherwise the columns are cut too (each chunk then
    /// repacks its A block, which costs 1/(chunk width) of its FLOPs).
    /// </summary>
    private static (int IcBlocks, int McStep, int Chunks, int ChunkPanels) Split(int m, int panels, int threads)
    {
        int icBlocks = CeilDiv(m, MC);
        int chunks = 1;
        while (threads > 1 && chunks < panels && (icBlocks * chunks < threads || (icBlocks * chunks % threads != 0 && icBlocks * chunks < 4 * threads)))
            chunks++;
        int mcStep = RoundUp(CeilDiv(m, icBlocks), TK.MR);
        int chunkPanels = CeilDiv(panels, chunks);
        return (CeilDiv(m, mcStep), mcStep, CeilDiv(panels, chunkPanels), chunkPanels);
    }

    /// <summary>
    /// Panels q0..q1 of packed B against the mc rows of packed A. c is C at (row 0 of the block,
    /// column of panel q0); ncLeft the columns left from there. Full tiles with contiguous C rows are
    /// stored by the kernel; edge tiles and other C layouts go through a stack tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro(in Problem p, int kc, int mc, float* aPack, float* bPack, int q0, int q1, int ncLeft, float* c, float beta)
    {
        int mr = TK.MR, nr = TK.NR;
        long rs = p.C.RowStride, cs = p.C.ColStride;
        float* tile = stackalloc float[mr * nr];
        for (int q = q0; q < q1; q++)
        {
            int cols = Math.Min(nr, ncLeft - (q - q0) * nr);
            float* bPanel = bPack + (long)q * nr * kc;
            float* cCol = c + (q - q0) * nr * cs;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                float* cTile = cCol + ir * rs;
                if (rows == mr && cols == nr && cs == 1)
                {
                    TK.Run(kc, aPack + (long)ir * kc, bPanel, cTile, rs, p.Alpha, beta);
                    continue;
                }
                TK.Run(kc, aPack + (long)ir * kc, bPanel, tile, nr, 1f, 0f);
                for (int i = 0; i < rows; i++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        float* cij = cTile + i * rs + j * cs;
                        *cij = beta == 0f ? p.Alpha * tile[i * nr + j] : p.Alpha * tile[i * nr + j] + beta * *cij;
                    }
                }
            }
        }
    }

    private static void For(int n, int threads, Action<int> body)
    {
        if (threads == 1)
            for (int i = 0; i < n; i++)
                body(i);
        else
            CpuThreads.For(n, body);
    }

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;

    private static int RoundUp(int x, int y) => CeilDiv(x, y) * y;
}
