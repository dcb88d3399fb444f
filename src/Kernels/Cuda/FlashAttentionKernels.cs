namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The launcher of kernels.cu/flash_attention.cu for any <see cref="IKernelRunner"/> (a GPU, or the host emulation in
/// the tests): argument checks, the launch shapes and the parameter struct. The tiles here are the kernels' own
/// (their header says why); the launches of the d128 backward ask for more than 48 KB of dynamic shared memory, which
/// a GPU grants only after the function's CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES is raised to the launch's
/// SharedBytes.
/// </summary>
internal static class FlashAttentionKernels
{
    /// <summary>The kernel file, kernels.cu/flash_attention.cu.</summary>
    public const string File = "flash_attention";

    /// <summary>Threads of every block: 4 warps.</summary>
    public const uint Threads = 128;

    /// <summary>Query rows of a forward or dq block: 16 per warp.</summary>
    public const int QueryTile = 64;

    /// <summary>Keys of a dk/dv block: 16 per warp.</summary>
    public const int DkdvKeyTile = 64;

    /// <summary>Query rows per step of a dk/dv block.</summary>
    public const int DkdvQueryTile = 32;

    /// <summary>Keys per step of the forward and dq kernels: 64 at D = 64, 32 at D = 128 (so K, V double-buffered fit).</summary>
    public static int KeyTile(int headDim) => headDim == 64 ? 64 : 32;

    /// <summary>The dynamic shared memory of each kernel at <paramref name="headDim"/> (bf16 tiles; dk/dv adds dSᵀ and per-query scalars).</summary>
    public static uint ForwardSharedBytes(int headDim) => (uint)((QueryTile + 4 * KeyTile(headDim)) * headDim * 2);

    /// <inheritdoc cref="ForwardSharedBytes"/>
    public static uint DqSharedBytes(int headDim) => (uint)((2 * QueryTile + 4 * KeyTile(headDim)) * headDim * 2);

    /// <inheritdoc cref="ForwardSharedBytes"/>
    public static uint DkdvSharedBytes(int headDim)
        => (uint)((2 * DkdvKeyTile + 4 * DkdvQueryTile) * headDim * 2 + DkdvKeyTile * (DkdvQueryTile + 8) * 2 + 4 * 2 * DkdvQueryTile * 4);

    /// <summary>Bytes of the backward's two scratch buffers: dout as bf16 [B, T, Hq, D] and Δ float32 [B, Hq, T].</summary>
    public static (long DOutBf16, long Delta) ScratchBytes(FlashAttentionShape shape)
        => ((long)shape.Batch * shape.Queries * shape.Heads * shape.HeadDim * 2, (long)shape.Batch * shape.Heads * shape.Queries * 4);

    /// <summary>o and lse of causal attention with <paramref name="mask"/> over q, k, v, into <paramref name="tensors"/>.</summary>
    public static void Forward(IKernelRunner runner, FlashAttentionShape shape, FlashAttentionMask mask, FlashAttentionTensors tensors)
    {
        var p = Parameters(runner, shape, mask, tensors);
        int d = shape.HeadDim;
        runner.Run(File, $"flash_attention_forward_d{d}", QueryTiles(shape, ForwardSharedBytes(d)), p);
    }

    /// <summary>
    /// dq, dk, dv from dout (and dlse where given) and the forward's o and lse. <paramref name="deterministic"/>: dq by a
    /// kernel of its own per query tile, the same bits every run; else added with float atomics by the dk/dv kernel,
    /// which saves a second pass over the scores.
    /// </summary>
    public static void Backward(IKernelRunner runner, FlashAttentionShape shape, FlashAttentionMask mask, FlashAttentionTensors tensors,
                                FlashAttentionGradients gradients, bool deterministic)
    {
        var p = Parameters(runner, shape, mask, tensors);
        var (dout, dq, dk, dv, scratch, delta) = (gradients.DOut, gradients.DQ, gradients.DK, gradients.DV, gradients.DOutBf16, gradients.Delta);
        foreach (var (address, name) in new[] { (dout, "dout"), (dq, "dq"), (dk, "dk"), (dv, "dv"), (scratch, "dout_bf16"), (delta, "delta") })
            NotNull(address, name, nameof(gradients));
        Aligned(scratch, "dout_bf16", nameof(gradients));
        p.DOut = dout;
        p.DLse = gradients.DLse;
        p.DOutBf16 = scratch;
        p.Delta = delta;
        (p.DQ, p.DK, p.DV) = (dq, dk, dv);
        p.AtomicDq = deterministic ? 0 : 1;

        int d = shape.HeadDim;
        long rows = (long)shape.Batch * shape.Queries * shape.Heads, warps = Threads / 32;
        runner.Run(File, $"flash_attention_backward_prep_d{d}", KernelLaunch.Of((GridX((rows + warps - 1) / warps), 1, 1), Threads, 0), p);
        var keyTiles = ((uint)((shape.Keys + DkdvKeyTile - 1) / DkdvKeyTile), (uint)shape.KvHeads, (uint)shape.Batch);
        runner.Run(File, $"flash_attention_backward_dkdv_d{d}", KernelLaunch.Of(keyTiles, Threads, DkdvSharedBytes(d)), p);
        if (deterministic)
            runner.Run(File, $"flash_attention_backward_dq_d{d}", QueryTiles(shape, DqSharedBytes(d)), p);
    }

    /// <summary>A block per (query tile, query head, batch row).</summary>
    private static KernelLaunch QueryTiles(FlashAttentionShape shape, uint sharedBytes)
        => KernelLaunch.Of(((uint)((shape.Queries + QueryTile - 1) / QueryTile), (uint)shape.Heads, (uint)shape.Batch), Threads, sharedBytes);

    private static uint GridX(long blocks) => blocks <= int.MaxValue
        ? (uint)blocks
        : throw new ArgumentException($"flash attention: B·T·Hq needs {blocks} blocks of the backward's preprocess, past a grid's {int.MaxValue}", "shape");

    /// <summary>The parameters every kernel shares, after checking the shape, the mask and the forward's buffers.</summary>
    private static FlashAttentionParams Parameters(IKernelRunner runner, FlashAttentionShape shape, FlashAttentionMask mask, FlashAttentionTensors tensors)
    {
        ArgumentNullException.ThrowIfNull(runner);
        CheckShape(shape);
        CheckMask(mask, shape);
        foreach (var (address, name) in new[] { (tensors.Q, "q"), (tensors.K, "k"), (tensors.V, "v"), (tensors.O, "o"), (tensors.Lse, "lse") })
            NotNull(address, name, nameof(tensors));
        foreach (var (address, name) in new[] { (tensors.Q, "q"), (tensors.K, "k"), (tensors.V, "v") })
            Aligned(address, name, nameof(tensors));
        return new FlashAttentionParams
        {
            Q = tensors.Q, K = tensors.K, V = tensors.V, O = tensors.O, Lse = tensors.Lse,
            Starts = mask.Starts, StartsCount = mask.StartsCount,
            Batch = shape.Batch, Queries = shape.Queries, Keys = shape.Keys, Heads = shape.Heads, KvHeads = shape.KvHeads,
            Row = mask.Row, GroupSize = mask.GroupSize, QueryStart = mask.QueryStart, KeyStart = mask.KeyStart, FirstShifted = mask.FirstShifted,
            Scale = mask.Scale,
        };
    }

    private static void CheckShape(FlashAttentionShape s)
    {
        if (s.HeadDim is not (64 or 128))
            throw new ArgumentException($"flash attention has kernels for head dims 64 and 128, got {s.HeadDim}", nameof(s));
        if (s.Batch < 1 || s.Queries < 1 || s.Keys < 1 || s.Heads < 1 || s.KvHeads < 1)
            throw new ArgumentException($"flash attention needs B, T, S, Hq and Hkv of at least 1, got {s}", nameof(s));
        if (s.Heads % s.KvHeads != 0)
            throw new ArgumentException($"flash attention needs Hq a multiple of Hkv, got Hq={s.Heads}, Hkv={s.KvHeads}", nameof(s));
        // Grid y and z hold the heads and the batch.
        if (s.Heads > ushort.MaxValue || s.Batch > ushort.MaxValue)
            throw new ArgumentException($"flash attention launches a grid with Hq and B of at most {ushort.MaxValue}, got Hq={s.Heads}, B={s.Batch}", nameof(s));
    }

    private static void CheckMask(FlashAttentionMask m, FlashAttentionShape s)
    {
        if (!float.IsFinite(m.Scale))
            throw new ArgumentException($"flash attention needs a finite scale, got {m.Scale}", nameof(m));
        if (m.QueryStart < 0 || m.KeyStart < 0)
            throw new ArgumentException($"flash attention needs QueryStart and KeyStart of at least 0, got {m.QueryStart} and {m.KeyStart}", nameof(m));
        if (m.Row < Math.Max((long)m.QueryStart + s.Queries, (long)m.KeyStart + s.Keys))
            throw new ArgumentException($"flash attention's row of {m.Row} tokens must hold queries [{m.QueryStart}, {(long)m.QueryStart + s.Queries}) and keys [{m.KeyStart}, {(long)m.KeyStart + s.Keys})", nameof(m));
        if (m.GroupSize < 0 || m.GroupSize % 2 != 0 || m.GroupSize > 0 && m.Row % m.GroupSize != 0)
            throw new ArgumentException($"flash attention's S2-Attn group size {m.GroupSize} must be 0 or even and divide the row of {m.Row} tokens", nameof(m));
        if (m.FirstShifted < 0 || m.FirstShifted > s.Heads)
            throw new ArgumentException($"flash attention's first shifted head {m.FirstShifted} must lie in [0, Hq = {s.Heads}]", nameof(m));
        if (m.StartsCount < 0 || (m.StartsCount > 0) != (m.Starts != 0))
            throw new ArgumentException($"flash attention's packed starts need an address exactly when their count is above 0, got {m.StartsCount} at 0x{m.Starts:x}", nameof(m));
        // The starts index the B·row token stream as int32.
        if (m.StartsCount > 0 && (long)s.Batch * m.Row > int.MaxValue)
            throw new ArgumentException($"flash attention's packed starts are int32 indices, but B·row is {(long)s.Batch * m.Row} tokens", nameof(m));
    }

    private static void NotNull(nint address, string name, string argument)
    {
        if (address == 0)
            throw new ArgumentException($"flash attention: {name} is a null pointer", argument);
    }

    // cp.async copies 16-byte chunks of the bf16 rows (D·2 bytes each, so every row is aligned when the base is).
    private static void Aligned(nint address, string name, string argument)
    {
        if (address % 16 != 0)
            throw new ArgumentException($"flash attention: {name} must be 16-byte aligned for cp.async, got 0x{address:x}", argument);
    }
}
