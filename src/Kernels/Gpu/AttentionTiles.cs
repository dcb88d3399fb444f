using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// What the attention kernels do alike, cooperatively over the group's threads (any power-of-two count): tiles of rows
/// in shared memory, each row's key range, dot products. Every loop strides by the group's size, so one code serves
/// the tests' 16-thread groups and a GPU's larger ones.
/// </summary>
internal static class AttentionTiles
{
    /// <summary>The largest tile edge: the rows' key bounds live in static shared memory of this size.</summary>
    public const int MaxTile = 32;

    /// <summary>
    /// Floats of dynamic shared memory for <paramref name="arrays"/> tiles of [tile × d], two [tile × tile] score
    /// tiles and three per-row values (every kernel asks for this much; some leave part unused).
    /// </summary>
    public static int SharedFloats(int tile, int d, int arrays) => arrays * tile * d + 2 * tile * tile + 3 * tile;

    /// <summary>Bytes of static shared memory a kernel takes besides: the rows' lo and hi.</summary>
    public const int StaticBytes = 2 * MaxTile * sizeof(int);

    /// <summary>The first n floats of <paramref name="rest"/> (shared memory being handed out), which moves past them.</summary>
    public static ArrayView<float> Take(ref ArrayView<float> rest, int n)
    {
        var head = rest.SubView(0, n);
        rest = rest.SubView(n, rest.Length - n);
        return head;
    }

    /// <summary>
    /// tile [rows × D] ← scale · src rows first, first + ld, … (<paramref name="valid"/> of them; the rest zero, so
    /// padding rows add nothing to a product), each value an <see cref="AttentionSizes.Operand"/> (bf16-rounded at bf16).
    /// </summary>
    public static void Load(ArrayView<float> tile, ArrayView<float> src, long first, long ld, int valid, int rows, AttentionSizes n, float scale)
    {
        int d = n.D;
        for (int x = Group.IdxX; x < rows * d; x += Group.DimX)
        {
            int r = x / d, c = x % d;
            tile[x] = r < valid ? scale * n.Operand(src[first + r * ld + c]) : 0f;
        }
    }

    /// <summary>Sets n floats of <paramref name="tile"/> to zero.</summary>
    public static void Zero(ArrayView<float> tile, int n)
    {
        for (int x = Group.IdxX; x < n; x += Group.DimX)
            tile[x] = 0f;
    }

    /// <summary>lo/hi[i] = key range of query t0 + i of batch row r for its <paramref name="valid"/> rows; padding rows see nothing.</summary>
    public static void Bounds(ArrayView<int> lo, ArrayView<int> hi, AttentionMaskDevice mask, int r, bool shifted, int t0, int valid, int rows)
    {
        for (int i = Group.IdxX; i < rows; i += Group.DimX)
        {
            lo[i] = i < valid ? mask.Lo(r, shifted, t0 + i) : int.MaxValue;
            hi[i] = i < valid ? mask.Hi(t0 + i) : -1;
        }
    }

    /// <summary>
    /// The keys [start, end) a tile's rows see between them (start ≥ end: none); read after the barrier that follows
    /// <see cref="Bounds"/>, so every thread gets the same and the loop over key tiles stays uniform.
    /// </summary>
    public static int KeysEnd(ArrayView<int> lo, ArrayView<int> hi, int rows, out int start)
    {
        start = int.MaxValue;
        int end = 0;
        for (int i = 0; i < rows; i++)
            if (lo[i] <= hi[i])
            {
                start = Math.Min(start, lo[i]);
                end = Math.Max(end, hi[i] + 1);
            }
        return end;
    }

    /// <summary>Whether row i of the tile sees key <paramref name="key"/> (padding rows see none).</summary>
    public static bool Sees(ArrayView<int> lo, ArrayView<int> hi, int i, int key) => key >= lo[i] && key <= hi[i];

    /// <summary>Σ_c a[ai + c] · b[bi + c] over c &lt; d.</summary>
    public static float Dot(ArrayView<float> a, int ai, ArrayView<float> b, int bi, int d)
    {
        float sum = 0f;
        for (int c = 0; c < d; c++)
            sum += a[ai + c] * b[bi + c];
        return sum;
    }
}
