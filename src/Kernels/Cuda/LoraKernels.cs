namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Launchers of kernels.cu/lora.cu, the LoRA side path of a projection (y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ) around cuBLAS's frozen
/// product: argument checks, launch shapes and the parameter struct, shared by a GPU's runner and the host emulation.
/// Forward: y (+)= s·xa·Bᵀ with xa = x·Aᵀ stored. Backward: dx (+)= s·dy·B·A, dB (+)= s·dyᵀ·xa, dA (+)= s·(dy·B)ᵀ·x,
/// deterministic (split-m partial sums reduced in a fixed order).
/// </summary>
internal static class LoraKernels
{
    /// <summary>The kernel file, kernels.cu/lora.cu.</summary>
    public const string File = "lora";

    /// <summary>The ranks lora.cu has kernels for: multiples of the mma's n (8), a k step (16) holding one or more.</summary>
    public static readonly int[] Ranks = [8, 16, 32, 64];

    // Rows per block and width of a streamed tile in lora.cu (kTile), and its threads per block (kThreads).
    private const int Tile = 64;
    private const uint Threads = 128;
    private const uint ReduceThreads = 256;

    // Blocks the automatic split of the weight-gradient kernel aims at: two on each of an H100's or H200's 132 SMs.
    private const int TargetBlocks = 264;

    // Where the partial sums start in the backward's scratch, past dxa.
    private const int ScratchAlignment = 256;

    /// <summary>y (+)= s·(x·Aᵀ)·Bᵀ, storing x·Aᵀ (bf16) in xa.</summary>
    public static void Forward(IKernelRunner runner, LoraShape shape, LoraForwardBuffers buffers, float scale, LoraOptions? options = null)
    {
        options ??= LoraOptions.Default;
        var p = Parameters(runner, shape, scale, options, buffers.X, buffers.A, buffers.B);
        Address(buffers.Y, "buffers.Y");
        if (options.Form == LoraForm.TwoKernel || buffers.Xa != 0)
            Address(buffers.Xa, "buffers.Xa", options.Form == LoraForm.TwoKernel ? "; the two-kernel form passes x·Aᵀ through it" : "");
        p.Y = buffers.Y;
        p.Xa = buffers.Xa;
        RankProduct(runner, shape, options, p, "lora_fwd", "lora_xa", "lora_y", shape.N);
    }

    /// <summary>
    /// dx (+)= dxa·A with dxa = s·dy·B, dB (+)= s·dyᵀ·xa, dA (+)= dxaᵀ·x; xa is the forward's. Uses
    /// <see cref="BackwardScratchBytes"/> bytes at buffers.Scratch.
    /// </summary>
    public static void Backward(IKernelRunner runner, LoraShape shape, LoraBackwardBuffers buffers, float scale, LoraOptions? options = null)
    {
        options ??= LoraOptions.Default;
        var p = Parameters(runner, shape, scale, options, buffers.X, buffers.A, buffers.B);
        Address(buffers.Dy, "buffers.Dy");
        Address(buffers.Xa, "buffers.Xa", "; the backward reads the forward's x·Aᵀ from it");
        Address(buffers.Dx, "buffers.Dx");
        Address(buffers.DA, "buffers.DA");
        Address(buffers.DB, "buffers.DB");
        Address(buffers.Scratch, "buffers.Scratch");
        int splits = Splits(shape, options.Splits);
        p.Dy = buffers.Dy;
        p.Xa = buffers.Xa;
        p.Dx = buffers.Dx;
        p.DA = buffers.DA;
        p.DB = buffers.DB;
        p.Dxa = buffers.Scratch;
        p.Partial = buffers.Scratch + (nint)DxaBytes(shape);
        p.Splits = splits;
        RankProduct(runner, shape, options, p, "lora_bwd", "lora_dxa", "lora_dx", shape.K);
        Run(runner, "lora_wgrad", shape, (Blocks(shape.N, Tile) + Blocks(shape.K, Tile), (uint)splits, 1), p);
        long sums = (long)(shape.N + shape.K) * shape.Rank;
        runner.Run(File, "lora_reduce", KernelLaunch.Of(((uint)((sums + ReduceThreads - 1) / ReduceThreads), 1, 1), ReduceThreads, 0), p);
    }

    /// <summary>
    /// The rank-r intermediate (x·Aᵀ or s·dy·B) and its product added into y or dx (<paramref name="columns"/> wide):
    /// by the <paramref name="fused"/> kernel, a block per 64 rows, or by the <paramref name="intermediate"/> kernel then
    /// the <paramref name="epilogue"/> kernel over column tiles.
    /// </summary>
    private static void RankProduct(IKernelRunner runner, LoraShape shape, LoraOptions options, in LoraParams p, string fused, string intermediate,
                                    string epilogue, int columns)
    {
        uint rows = Blocks(shape.M, Tile);
        if (options.Form == LoraForm.Fused)
            Run(runner, fused, shape, (rows, 1, 1), p);
        else
        {
            Run(runner, intermediate, shape, (rows, 1, 1), p);
            Run(runner, epilogue, shape, (Blocks(columns, options.ColumnsPerBlock), rows, 1), p);
        }
    }

    /// <summary>Bytes of scratch <see cref="Backward"/> needs: dxa (bf16 [m×r]), then the partial sums of dB and dA.</summary>
    public static long BackwardScratchBytes(LoraShape shape, LoraOptions? options = null)
    {
        options ??= LoraOptions.Default;
        Check(shape, 1f, options);
        return DxaBytes(shape) + (long)Splits(shape, options.Splits) * (shape.N + shape.K) * shape.Rank * sizeof(float);
    }

    /// <summary>
    /// Blocks along m of the weight-gradient kernel: <paramref name="requested"/>, or for 0 enough to give
    /// <see cref="TargetBlocks"/> blocks with the column tiles of dB and dA, at most one per 64-row tile.
    /// </summary>
    public static int Splits(LoraShape shape, int requested)
    {
        int tiles = (int)Blocks(shape.M, Tile);
        if (requested < 0 || requested > tiles)
            throw new ArgumentOutOfRangeException(nameof(requested), requested,
                $"splits: 0 (chosen) or 1..{tiles}, the 64-row tiles of m = {shape.M}");
        if (requested > 0)
            return requested;
        int columnTiles = (int)(Blocks(shape.N, Tile) + Blocks(shape.K, Tile));
        return Math.Clamp((TargetBlocks + columnTiles - 1) / columnTiles, 1, tiles);
    }

    private static void Check(LoraShape shape, float scale, LoraOptions options)
    {
        if (Array.IndexOf(Ranks, shape.Rank) < 0)
            throw new ArgumentException($"shape.Rank: lora.cu has kernels for ranks {string.Join(", ", Ranks)}; got {shape.Rank}", nameof(shape));
        if (shape.M < 1 || shape.M > 65535 * Tile)
            throw new ArgumentException($"shape.M: rows from 1 to {65535 * Tile} (65535 tiles of {Tile}, the grid's y limit); got {shape.M}", nameof(shape));
        if (shape.N < 8 || shape.N % 8 != 0)
            throw new ArgumentException($"shape.N: a positive multiple of 8 (cp.async copies 16-byte pieces of rows); got {shape.N}", nameof(shape));
        if (shape.K < 8 || shape.K % 8 != 0)
            throw new ArgumentException($"shape.K: a positive multiple of 8 (cp.async copies 16-byte pieces of rows); got {shape.K}", nameof(shape));
        if (!float.IsFinite(scale))
            throw new ArgumentException($"scale: a finite LoRA scale; got {scale}", nameof(scale));
        if (options.ColumnsPerBlock < Tile || options.ColumnsPerBlock % Tile != 0)
            throw new ArgumentException($"options.ColumnsPerBlock: a positive multiple of {Tile}; got {options.ColumnsPerBlock}", nameof(options));
        if (!Enum.IsDefined(options.Form))
            throw new ArgumentException($"options.Form: {LoraForm.Fused} or {LoraForm.TwoKernel}; got {(int)options.Form}", nameof(options));
    }

    // cp.async reads 16-byte pieces, and y, dx, dA, dB are written in 8-byte pairs: every buffer starts 16-byte aligned.
    private static void Address(nint address, string name, string why = "")
    {
        if (address == 0)
            throw new ArgumentException($"{name}: a device address is required{why}", name);
        if (address % 16 != 0)
            throw new ArgumentException($"{name}: must be 16-byte aligned (cp.async copies 16-byte pieces); got 0x{address:x}", name);
    }

    /// <summary>The parameters every kernel shares, after checking the runner, the shape, the options and x, A, B.</summary>
    private static LoraParams Parameters(IKernelRunner runner, LoraShape shape, float scale, LoraOptions options, nint x, nint a, nint b)
    {
        ArgumentNullException.ThrowIfNull(runner);
        Check(shape, scale, options);
        Address(x, "buffers.X");
        Address(a, "buffers.A");
        Address(b, "buffers.B");
        return new()
        {
            X = x,
            A = a,
            B = b,
            M = shape.M,
            N = shape.N,
            K = shape.K,
            R = shape.Rank,
            ColsPerBlock = options.ColumnsPerBlock,
            Splits = 1,
            Scale = scale,
            AccumulateOut = options.AccumulateOutput ? 1 : 0,
            AccumulateGrads = options.AccumulateWeightGradients ? 1 : 0,
        };
    }

    private static long DxaBytes(LoraShape shape)
        => ((long)shape.M * shape.Rank * sizeof(ushort) + ScratchAlignment - 1) / ScratchAlignment * ScratchAlignment;

    private static uint Blocks(int extent, int per) => (uint)((extent + per - 1) / per);

    private static void Run(IKernelRunner runner, string kernel, LoraShape shape, (uint X, uint Y, uint Z) grid, in LoraParams p)
        => runner.Run(File, $"{kernel}_r{shape.Rank}", KernelLaunch.Of(grid, Threads, 0), p);
}
