using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// A GEMM operand as a kernel parameter: elements of any float dtype (the output's are F32) with row, column and batch
/// strides in elements; batch stride 0 broadcasts one matrix over the batch, and any strides work (transposes are views).
/// </summary>
public struct GemmMatrix
{
    /// <summary>The elements, from the operand's layout offset on.</summary>
    public Elems E;
    /// <summary>Elements from one row to the next.</summary>
    public long Row;
    /// <summary>Elements from one column to the next.</summary>
    public long Col;
    /// <summary>Elements from one batch item to the next; 0 broadcasts.</summary>
    public long Batch;

    /// <summary>The element offset of (<paramref name="r"/>, <paramref name="c"/>) in batch item <paramref name="item"/>.</summary>
    public readonly long At(int item, int r, int c) => item * Batch + r * Row + c * Col;
}

/// <summary>The sizes and scalars of one tiled GEMM launch.</summary>
public struct GemmTiles
{
    /// <summary>Rows of C and A.</summary>
    public int M;
    /// <summary>Columns of C and B.</summary>
    public int N;
    /// <summary>The summed dim; 0 when alpha is 0, so that A and B are not read (BLAS semantics, as the CPU).</summary>
    public int K;
    /// <summary>Threads along a tile's edge: a group has Side² threads, each computing Micro × Micro elements of its tile of C.</summary>
    public int Side;
    /// <summary>Tiles across N (the grid runs over N tiles fastest, then M tiles, then batch items).</summary>
    public int TilesN;
    /// <summary>Tiles down M.</summary>
    public int TilesM;
    /// <summary>Scale of the product.</summary>
    public float Alpha;
    /// <summary>Scale of C's old value; 0 never reads C (it may hold NaN).</summary>
    public float Beta;
    /// <summary>1: round every operand element to bfloat16 (nearest even) before the products, as Autocast bf16 on the CPU.</summary>
    public int RoundBf16;
}

/// <summary>
/// The tiled GEMM: the reference variant on a GPU and the GEMM of the CPU accelerator. A group of Side² threads
/// computes one T × T tile of C (T = <see cref="Micro"/>·Side), each thread a 4 × 4 block of it held in registers
/// (rows ty + i·Side, columns tx + j·Side: neighbouring threads touch neighbouring columns, so C's writes and B's
/// shared reads stay contiguous). K is walked in T-wide steps, A's and B's T × T tiles staged in shared memory
/// (dynamic, 2·T² floats) between two barriers: per barrier each thread does 16·T products, not Side, which is
/// what makes it fast on a GPU and bearable on the CPU accelerator. Products are summed in float32 in k order.
/// </summary>
public static class GemmKernels
{
    /// <summary>Rows and columns of C per thread.</summary>
    public const int Micro = 4;

    /// <summary>C = Alpha·A@B + Beta·C over the grid's tiles; explicitly grouped, Side² threads per group.</summary>
    [GpuKernel]
    public static void Tiled(GemmMatrix a, GemmMatrix b, GemmMatrix c, GemmTiles s)
    {
        var tiles = SharedMemory.GetDynamic<float>();
        int side = s.Side, t = Micro * side, area = t * t, threads = side * side;
        int tx = Group.IdxX % side, ty = Group.IdxX / side;
        int g = Grid.IdxX;
        int tn = g % s.TilesN;
        g /= s.TilesN;
        int tm = g % s.TilesM, item = g / s.TilesM;
        int row0 = tm * t, col0 = tn * t;
        Quad c0 = default, c1 = default, c2 = default, c3 = default;
        for (int k0 = 0; k0 < s.K; k0 += t)
        {
            // The group stages A[row0.., k0..] and B[k0.., col0..], T × T each, consecutive threads along a row;
            // zeros past the edges add nothing.
            for (int q = Group.IdxX; q < area; q += threads)
            {
                int rr = q / t, cc = q % t;
                tiles[q] = row0 + rr < s.M && k0 + cc < s.K ? Operand(a, item, row0 + rr, k0 + cc, s.RoundBf16) : 0f;
                tiles[area + q] = k0 + rr < s.K && col0 + cc < s.N ? Operand(b, item, k0 + rr, col0 + cc, s.RoundBf16) : 0f;
            }
            Group.Barrier();
            for (int p = 0; p < t; p++)
            {
                int bp = area + p * t + tx;
                var bq = new Quad { X0 = tiles[bp], X1 = tiles[bp + side], X2 = tiles[bp + 2 * side], X3 = tiles[bp + 3 * side] };
                int ap = ty * t + p;
                c0.Add(tiles[ap], bq);
                c1.Add(tiles[ap + side * t], bq);
                c2.Add(tiles[ap + 2 * side * t], bq);
                c3.Add(tiles[ap + 3 * side * t], bq);
            }
            Group.Barrier();
        }
        int r = row0 + ty, col = col0 + tx;
        Store(c, s, item, r, col, c0);
        Store(c, s, item, r + side, col, c1);
        Store(c, s, item, r + 2 * side, col, c2);
        Store(c, s, item, r + 3 * side, col, c3);
    }

    private static float Operand(GemmMatrix m, int item, int r, int c, int roundBf16)
    {
        float v = m.E.Load(m.At(item, r, c));
        return roundBf16 != 0 ? Half16.Bf16ToFloat(Half16.FloatToBf16(v)) : v;
    }

    /// <summary>Writes one thread's row of sums: columns col, col + Side, … of C row r, those inside C.</summary>
    private static void Store(GemmMatrix c, GemmTiles s, int item, int r, int col, Quad sums)
    {
        if (r >= s.M)
            return;
        for (int j = 0; j < Micro; j++)
        {
            int cj = col + j * s.Side;
            if (cj >= s.N)
                return;
            long o = c.At(item, r, cj);
            float acc = sums.At(j);
            c.E.F[o] = s.Beta == 0f ? s.Alpha * acc : s.Alpha * acc + s.Beta * c.E.F[o];
        }
    }

    /// <summary>Four float32 sums, registers rather than an array (ILGPU kernels take no arrays and do not unroll).</summary>
    private struct Quad
    {
        public float X0, X1, X2, X3;

        /// <summary>Adds a·b element by element.</summary>
        public void Add(float a, Quad b)
        {
            X0 += a * b.X0;
            X1 += a * b.X1;
            X2 += a * b.X2;
            X3 += a * b.X3;
        }

        public readonly float At(int j) => j switch { 0 => X0, 1 => X1, 2 => X2, _ => X3 };
    }
}
