using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The blocked loops around one micro-kernel. C (per batch item) is cut into one rectangle per thread,
/// and each thread runs the whole Goto loop nest on its rectangle with its own pack buffers, so
/// threads never wait on each other: for each NC-wide block of columns and KC-deep slice of k it packs
/// B's block (~L3), then for each MC-row block packs A's block (~L2) and sweeps the panel pairs with
/// the kernel, a B micro-panel serving all the rows of the A block. NC is a multiple of every kernel's
/// NR, and row blocks are cut to whole MR tiles, so only the matrix edges make partial tiles.
/// </summary>
internal static unsafe class GemmDriver<TK> where TK : struct, IGemmKernel
{
    // Zen 4, measured: a deep KC amortises the C tile's load and store best (512 beat 256 and 384 by
    // 3-5%); the A block MC·KC·4 = 448 KiB sits in the 1 MiB L2; the B block KC·NC·4 = 8 MiB in the
    // shared 32 MiB L3. The 64 KiB B micro-panel overflows L1d, but L2 feeds it well within budget.
    private const int KC512 = 512;

    // bf16 pair panels take half the bytes, so the same cache blocks hold twice the depth of k (measured: the
    // deep products 7-20% faster at 1024, those with k = 512 unchanged).
    private static int KC => TK.PairedBf16 ? 2 * KC512 : KC512;

    private const int MC = 224;
    private const int NC = 4096;

    // Below this many FLOPs a thread hand-off costs more than it saves.
    private const double ParallelFlops = 4e6;

    // Batch items at least this large are split across threads one at a time instead of spread.
    private const double LargeItemFlops = 64e6;

    public static void Run(int batch, int m, int n, int k, float alpha, GemmOperand a, GemmOperand b, float beta, GemmOperand c, bool simd, bool bf16 = false)
    {
        if (PreferTransposed(m, n, c))
        {
            (a, b) = (b.Transposed, a.Transposed);
            (m, n) = (n, m);
            c = c.Transposed;
        }
        var p = new Problem(m, n, k, alpha, beta, a, b, c, simd, bf16);
        double itemFlops = 2.0 * m * n * k;
        int threads = itemFlops * batch < ParallelFlops ? 1 : CpuThreads.Count;
        if (threads > 1 && batch >= threads && (batch >= 4 * threads || itemFlops < LargeItemFlops))
        {
            CpuThreads.For(batch, bi => Block(p, bi, 0, m, 0, n));
            return;
        }
        var (rowParts, colParts) = Grid(m, n, threads);
        int rowStep = RoundUp(CeilDiv(m, rowParts), TK.MR), colStep = RoundUp(CeilDiv(n, colParts), TK.NR);
        rowParts = CeilDiv(m, rowStep);
        colParts = CeilDiv(n, colStep);
        for (int bi = 0; bi < batch; bi++)
        {
            int item = bi;
            CpuThreads.For(rowParts * colParts, t =>
            {
                int i0 = t / colParts * rowStep, j0 = t % colParts * colStep;
                Block(p, item, i0, Math.Min(m, i0 + rowStep), j0, Math.Min(n, j0 + colStep));
            });
        }
    }

    /// <summary>
    /// Rows × columns of rectangles, one per thread: first so that no thread is left without a tile,
    /// then as square as the factors of the thread count allow, since each rectangle packs its own rows
    /// of A and columns of B and square ones repack the least.
    /// </summary>
    private static (int Rows, int Cols) Grid(int m, int n, int threads)
    {
        int mTiles = CeilDiv(m, TK.MR), nTiles = CeilDiv(n, TK.NR);
        var best = (Rows: 1, Cols: 1);
        var bestKey = (Idle: int.MaxValue, Skew: double.MaxValue);
        for (int rows = 1; rows <= threads; rows++)
        {
            if (threads % rows != 0)
                continue;
            int cols = threads / rows;
            var key = (threads - Math.Min(rows, mTiles) * Math.Min(cols, nTiles), Math.Abs(Math.Log((double)m / rows / ((double)n / cols))));
            if (key.CompareTo(bestKey) < 0)
                (best, bestKey) = ((rows, cols), key);
        }
        return best;
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

    /// <summary>Bf16: operands rounded to bfloat16 (by the pair packing for a paired kernel, else by the float32 packing).</summary>
    private readonly record struct Problem(int M, int N, int K, float Alpha, float Beta, GemmOperand A, GemmOperand B, GemmOperand C, bool Simd, bool Bf16);

    /// <summary>C[i0:i1, j0:j1] of batch item bi, on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(in Problem p, int bi, int i0, int i1, int j0, int j1)
    {
        int mr = TK.MR, nr = TK.NR;
        byte* a = (byte*)p.A.Item(bi), b = (byte*)p.B.Item(bi);
        float* c = (float*)p.C.Item(bi);
        int sizeA = p.A.Type.Size(), sizeB = p.B.Type.Size();
        int kcMax = Math.Min(KC, p.K), mcMax = MC / mr * mr; // whole tiles per row block
        using var packs = new GemmBuffers(RoundUp(Math.Min(mcMax, i1 - i0), mr) * (long)kcMax, RoundUp(Math.Min(NC, j1 - j0), nr) * (long)kcMax);
        float* aPack = packs.A, bPack = packs.B;
        for (int jc = j0; jc < j1; jc += NC)
        {
            int nc = Math.Min(NC, j1 - jc);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                int steps = TK.PairedBf16 ? (kc + 1) / 2 : kc;
                Pack(p, b + (pc * p.B.RowStride + jc * p.B.ColStride) * sizeB, p.B.Type, p.B.ColStride, p.B.RowStride, nr, nc, kc, bPack);
                float beta = pc == 0 ? p.Beta : 1f;
                for (int ic = i0; ic < i1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, i1 - ic);
                    Pack(p, a + (ic * p.A.RowStride + pc * p.A.ColStride) * sizeA, p.A.Type, p.A.RowStride, p.A.ColStride, mr, mc, kc, aPack);
                    Macro(p, steps, mc, nc, aPack, bPack, c + ic * p.C.RowStride + jc * p.C.ColStride, beta);
                }
            }
        }
    }

    /// <summary>Packs lines of an operand in the layout the kernel reads.</summary>
    private static void Pack(in Problem p, void* src, DType type, long lineStride, long kStride, int w, int lines, int kc, float* dst)
    {
        if (TK.PairedBf16)
            GemmPackBf16.Panels(src, type, lineStride, kStride, w, lines, kc, (uint*)dst);
        else
            GemmPack.Panels(src, type, lineStride, kStride, w, lines, kc, dst, p.Simd, p.Bf16);
    }

    /// <summary>
    /// The packed mc × kc block of A against the packed kc × nc block of B into C at c (kc counts the
    /// panels' steps: values of k, or pairs of them for a paired kernel). Full tiles with
    /// contiguous C rows are stored by the kernel; edge tiles and other C layouts go through a stack tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro(in Problem p, int kc, int mc, int nc, float* aPack, float* bPack, float* c, float beta)
    {
        int mr = TK.MR, nr = TK.NR;
        long rs = p.C.RowStride, cs = p.C.ColStride;
        float* tile = stackalloc float[mr * nr];
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* bPanel = bPack + (long)jr * kc;
            float* cCol = c + jr * cs;
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

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;

    private static int RoundUp(int x, int y) => CeilDiv(x, y) * y;
}
