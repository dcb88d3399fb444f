using Xunit;
using static RawLongLoRA.Tests.Kernels.Emu.Probe;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// The emulated warp collectives of kernels.cu/emu/cuda_emu.h against the per-lane layouts of NVIDIA's PTX ISA, element
/// by element: the expected positions here are the ISA's formulas, written out independently of the emulation.
/// </summary>
public sealed unsafe class CollectiveLayoutTests
{
    // PTX ISA (9.7.14.5.8 in ISA 8.x), "Matrix Fragments for mma.m16n8k16 with floating point type", .bf16:
    // groupID = laneid >> 2, threadID_in_group = laneid % 4; element i of a fragment sits in register i/2, half i%2.
    private static (int Row, int Col) AElement(int lane, int i)
        => ((lane >> 2) + (i is >= 2 and < 4 or >= 6 ? 8 : 0), (lane % 4) * 2 + (i & 1) + (i >= 4 ? 8 : 0));

    private static (int Row, int Col) BElement(int lane, int i) => ((lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0), lane >> 2);

    private static (int Row, int Col) CElement(int lane, int i) => ((lane >> 2) + (i >= 2 ? 8 : 0), (lane % 4) * 2 + (i & 1));

    /// <summary>Per-lane fragments of <paramref name="m"/> (tile t at m[t]): <paramref name="count"/> bf16 per lane, two per register.</summary>
    private static uint[] Fragments(float[][,] m, int count, Func<int, int, (int Row, int Col)> element)
    {
        var regs = new uint[m.Length * 32 * count / 2];
        for (int t = 0; t < m.Length; t++)
            for (int lane = 0; lane < 32; lane++)
                for (int i = 0; i < count; i++)
                {
                    var (r, c) = element(lane, i);
                    regs[(t * 32 + lane) * count / 2 + i / 2] |= (uint)Bf16(m[t][r, c]) << (16 * (i % 2));
                }
        return regs;
    }

    private static float[,] Matrix(int rows, int cols, Func<int, int, float> value)
    {
        var m = new float[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                m[r, c] = value(r, c);
        return m;
    }

    private static float[,] Product(float[,] a, float[,] b, float[,] c)
        => Matrix(16, 8, (r, n) => c[r, n] + Enumerable.Range(0, 16).Sum(k => a[r, k] * b[k, n]));

    /// <summary>Runs probe_mma on tile sets (a[t], b[t], c[t]) and returns each block's D as the ISA's C/D layout places it.</summary>
    private static float[][,] RunMma(float[][,] a, float[][,] b, float[][,] c)
    {
        uint[] fa = Fragments(a, 8, AElement), fb = Fragments(b, 4, BElement);
        var fc = new float[a.Length * 128];
        for (int t = 0; t < a.Length; t++)
            for (int lane = 0; lane < 32; lane++)
                for (int i = 0; i < 4; i++)
                {
                    var (r, col) = CElement(lane, i);
                    fc[(t * 32 + lane) * 4 + i] = c[t][r, col];
                }
        var fd = new float[fc.Length];
        fixed (uint* pa = fa, pb = fb)
        fixed (float* pc = fc, pd = fd)
            Run("probe_mma", Blocks((uint)a.Length, 32), new Mma { A = pa, B = pb, C = pc, D = pd });
        return [.. Enumerable.Range(0, a.Length).Select(t =>
        {
            var d = new float[16, 8];
            for (int lane = 0; lane < 32; lane++)
                for (int i = 0; i < 4; i++)
                {
                    var (r, col) = CElement(lane, i);
                    d[r, col] = fd[(t * 32 + lane) * 4 + i];
                }
            return d;
        })];
    }

    [EmuFact]
    public void Mma_computes_A_times_B_plus_C_from_fragments_where_the_ISA_places_them()
    {
        var random = new Random(15);
        const int Tiles = 8;
        float[][,] a = [.. Enumerable.Range(0, Tiles).Select(_ => Matrix(16, 16, (_, _) => Small(random)))];
        float[][,] b = [.. Enumerable.Range(0, Tiles).Select(_ => Matrix(16, 8, (_, _) => Small(random)))];
        float[][,] c = [.. Enumerable.Range(0, Tiles).Select(_ => Matrix(16, 8, (_, _) => Small(random)))];
        float[][,] d = RunMma(a, b, c);
        for (int t = 0; t < Tiles; t++)
            Assert.Equal(Product(a[t], b[t], c[t]), d[t]);
    }

    [EmuFact]
    public void Mma_reads_each_A_element_from_the_lane_and_register_the_ISA_gives_it()
    {
        // Block e has a single 1 in A, at (e/16, e%16); B's entries are distinct, so D's only nonzero row is A's row
        // and holds the B row of A's column.
        float[,] b = Matrix(16, 8, (k, n) => k * 8 + n + 1);
        float[][,] a = [.. Enumerable.Range(0, 256).Select(e => Matrix(16, 16, (r, k) => r * 16 + k == e ? 1 : 0))];
        float[][,] d = RunMma(a, [.. a.Select(_ => b)], [.. a.Select(_ => new float[16, 8])]);
        for (int e = 0; e < 256; e++)
            Assert.Equal(Matrix(16, 8, (r, n) => r == e / 16 ? b[e % 16, n] : 0), d[e]);
    }

    [EmuFact]
    public void Mma_reads_each_B_element_from_the_lane_and_register_the_ISA_gives_it()
    {
        float[,] a = Matrix(16, 16, (r, k) => r * 16 + k + 1);
        float[][,] b = [.. Enumerable.Range(0, 128).Select(e => Matrix(16, 8, (k, n) => k * 8 + n == e ? 1 : 0))];
        float[][,] d = RunMma([.. b.Select(_ => a)], b, [.. b.Select(_ => new float[16, 8])]);
        for (int e = 0; e < 128; e++)
            Assert.Equal(Matrix(16, 8, (r, n) => n == e % 8 ? a[r, e / 8] : 0), d[e]);
    }

    // PTX ISA (9.7.14.5.15 in ISA 8.x), "Warp-level matrix load instruction: ldmatrix", .m8n8 .b16: threads 8i..8i+7
    // give the row addresses of matrix i (threads 0-7 for .x1, 0-15 for .x2); thread l receives of each matrix its row
    // l/4, elements 2(l%4) and 2(l%4)+1, in register i; with .trans the matrix is read column-major, i.e. its transpose.
    [EmuTheory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(4, true)]
    public void Ldmatrix_gives_each_lane_the_ISA_elements_of_the_rows_the_lanes_address(int matrices, bool trans)
    {
        const int Rows = 32, Stride = 24;  // rows 48 bytes apart: aligned, and not contiguous
        var tile = new ushort[Rows * Stride];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Stride; c++)
                tile[r * Stride + c] = (ushort)(c < 8 ? 1000 + r * 8 + c : 0xdead);
        int[] rowOfLane = [.. Enumerable.Range(0, 32).OrderBy(_ => Random.Shared.Next())];
        var output = new uint[32 * 4];
        fixed (ushort* pt = tile)
        fixed (int* pr = rowOfLane)
        fixed (uint* po = output)
            Run("probe_ldmatrix", Blocks(1, 32), new Ldmatrix { Tile = pt, RowOfLane = pr, Out = po, Rows = Rows, Stride = Stride, Matrices = matrices, Trans = trans ? 1 : 0 });
        for (int lane = 0; lane < 32; lane++)
            for (int m = 0; m < matrices; m++)
            {
                ushort At(int row, int col) => tile[rowOfLane[8 * m + row] * Stride + col];
                int i = lane / 4, j = 2 * (lane % 4);
                uint expected = trans ? At(j, i) | (uint)At(j + 1, i) << 16 : At(i, j) | (uint)At(i, j + 1) << 16;
                Assert.True(expected == output[4 * lane + m], $"lane {lane}, matrix {m}: expected {expected:x8}, got {output[4 * lane + m]:x8}");
            }
    }

    [EmuFact]
    public void Cp_async_ldmatrix_and_mma_together_compute_a_tile_product_the_way_a_kernel_does()
    {
        var random = new Random(16);
        float[,] a = Matrix(16, 16, (_, _) => Small(random)), b = Matrix(16, 8, (_, _) => Small(random)), c = Matrix(16, 8, (_, _) => Small(random));
        using Aligned<ushort> ra = new([.. a.Cast<float>().Select(Bf16)]), rb = new([.. b.Cast<float>().Select(Bf16)]);
        float[] rc = [.. c.Cast<float>()];
        var d = new float[16 * 8];
        fixed (float* pc = rc, pd = d)
            Run("probe_tile_product", Blocks(1, 32), new TileProduct { A = ra.Pointer, B = rb.Pointer, C = pc, D = pd });
        Assert.Equal(Product(a, b, c).Cast<float>(), d);
    }

    // CUDA C++ Programming Guide, "Warp Shuffle Functions": lanes form segments of `width`; __shfl_sync reads lane
    // srcLane % width of the segment; up/down read lane ∓ delta and keep their own value past the segment's edge;
    // xor reads lane ^ laneMask, keeping its own value for a lane of a later segment.
    private static int Source(int op, int lane, int arg, int width)
    {
        int first = lane & ~(width - 1);
        return op switch
        {
            0 => first + arg % width,
            1 => lane - arg >= first ? lane - arg : lane,
            2 => lane + arg < first + width ? lane + arg : lane,
            _ => (lane ^ arg) < first + width ? lane ^ arg : lane,
        };
    }

    [EmuTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Shuffles_read_the_lane_the_CUDA_guide_names_and_votes_see_every_lane(int op)
    {
        var random = new Random(17 + op);
        foreach (int width in new[] { 32, 16, 8, 2 })
        {
            const int Threads = 64;  // two warps, which must not mix
            // Warp 1 is all positive so that __all_sync is true there.
            float[] input = [.. Enumerable.Range(0, Threads).Select(i => i < 32 ? Small(random) : random.Next(1, 100) / 4f)];
            int[] args = [.. Enumerable.Range(0, Threads).Select(_ => op is 1 or 2 ? random.Next(0, 2 * width) : random.Next(0, 64) % (op == 3 ? 32 : 64))];
            var outF = new float[Threads];
            var outU = new uint[Threads];
            var votes = new uint[3 * Threads];
            fixed (float* pi = input, pf = outF)
            fixed (int* pa = args)
            fixed (uint* pu = outU, pv = votes)
                Run("probe_shuffle", Blocks(1, Threads), new Shuffle { In = pi, Arg = pa, OutF = pf, OutU = pu, Votes = pv, Op = op, Width = width });
            for (int i = 0; i < Threads; i++)
            {
                int warp = i / 32 * 32, source = warp + Source(op, i % 32, args[i], width);
                Assert.True(input[source] == outF[i], $"width {width}, thread {i}, arg {args[i]}: expected thread {source}'s {input[source]}, got {outF[i]}");
                Assert.Equal(BitConverter.SingleToUInt32Bits(input[source]), outU[i]);
                uint ballot = 0;
                for (int l = 0; l < 32; l++)
                    ballot |= input[warp + l] > 0 ? 1u << l : 0;
                Assert.Equal(new[] { ballot, ballot != 0 ? 1u : 0, ballot == uint.MaxValue ? 1u : 0 }, votes[(3 * i)..(3 * i + 3)]);
            }
        }
    }
}
