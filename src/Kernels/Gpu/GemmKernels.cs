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
    /// <summary>Rows and columns of a tile: a group has Side² threads, one per element of its tile of C.</summary>
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
/// The tiled GEMM: the reference variant on a GPU and the GEMM of the CPU accelerator. Each group computes one
/// Side × Side tile of C, one element per thread, walking K in Side-wide steps: A's and B's tiles are staged in
/// shared memory (dynamic, 2·Side² floats) between two barriers. Products are summed in float32 in k order.
/// </summary>
public static class GemmKernels
{
    /// <summary>C = Alpha·A@B + Beta·C over the grid's tiles; explicitly grouped, Side² threads per group.</summary>
    [GpuKernel]
    public static void Tiled(GemmMatrix a, GemmMatrix b, GemmMatrix c, GemmTiles s)
    {
        var tiles = SharedMemory.GetDynamic<float>();
        int side = s.Side, area = side * side;
        int tx = Group.IdxX % side, ty = Group.IdxX / side;
        int g = Grid.IdxX;
        int tn = g % s.TilesN;
        g /= s.TilesN;
        int tm = g % s.TilesM, item = g / s.TilesM;
        int row = tm * side + ty, col = tn * side + tx;
        float acc = 0f;
        for (int k0 = 0; k0 < s.K; k0 += side)
        {
            // Thread (ty, tx) stages A[row, k0 + tx] and B[k0 + ty, col]; zeros past the edges add nothing.
            int ka = k0 + tx, kb = k0 + ty;
            tiles[ty * side + tx] = row < s.M && ka < s.K ? Operand(a, item, row, ka, s.RoundBf16) : 0f;
            tiles[area + ty * side + tx] = kb < s.K && col < s.N ? Operand(b, item, kb, col, s.RoundBf16) : 0f;
            Group.Barrier();
            for (int p = 0; p < side; p++)
                acc += tiles[ty * side + p] * tiles[area + p * side + tx];
            Group.Barrier();
        }
        if (row >= s.M || col >= s.N)
            return;
        long o = c.At(item, row, col);
        c.E.F[o] = s.Beta == 0f ? s.Alpha * acc : s.Alpha * acc + s.Beta * c.E.F[o];
    }

    private static float Operand(GemmMatrix m, int item, int r, int c, int roundBf16)
    {
        float v = m.E.Load(m.At(item, r, c));
        return roundBf16 != 0 ? Half16.Bf16ToFloat(Half16.FloatToBf16(v)) : v;
    }
}
