namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// One attention call's sizes as a kernel parameter, with its layouts: q, o, dout, dq [B, T, Hq, D]; k, v, dk, dv
/// [B, S, Hkv, D]; lse, dlse [B, Hq, T]. Query and key tiles are square, <see cref="Tile"/> rows each.
/// </summary>
/// <remarks>Public: ILGPU's kernel launchers need every parameter type visible.</remarks>
public struct AttentionSizes
{
    /// <summary>Batch rows, queries, keys, query heads, kv heads, head dim.</summary>
    public int B, T, S, Hq, Hkv, D;
    /// <summary>Rows of a query tile and of a key tile.</summary>
    public int Tile;
    /// <summary>Softmax scale.</summary>
    public float Scale;

    /// <summary>Query tiles per (batch row, head).</summary>
    public readonly int QueryTiles => (T + Tile - 1) / Tile;

    /// <summary>Key tiles per (batch row, kv head).</summary>
    public readonly int KeyTiles => (S + Tile - 1) / Tile;

    /// <summary>The kv head query head h reads.</summary>
    public readonly int KvHead(int h) => h / (Hq / Hkv);

    /// <summary>Floats between consecutive tokens of q, o, dout, dq.</summary>
    public readonly long Ldq => (long)Hq * D;

    /// <summary>Floats between consecutive tokens of k, v, dk, dv.</summary>
    public readonly long Ldk => (long)Hkv * D;

    /// <summary>Where row (b, t, h) of q, o, dout, dq starts.</summary>
    public readonly long QIndex(int b, int t, int h) => ((long)b * T + t) * Ldq + (long)h * D;

    /// <summary>Where row (b, j, kvh) of k, v, dk, dv starts.</summary>
    public readonly long KIndex(int b, int j, int kvh) => ((long)b * S + j) * Ldk + (long)kvh * D;

    /// <summary>Where (b, h, t) of lse and dlse is.</summary>
    public readonly long LseIndex(int b, int h, int t) => ((long)b * Hq + h) * T + t;
}
