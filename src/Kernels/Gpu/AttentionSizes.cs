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
    /// <summary>
    /// 1 under Autocast bf16, as FlashAttention-2 and the CPU's bf16 passes (AttentionBf16.cs): q, k, v, dO, P and dS
    /// rounded to bfloat16 (nearest even) before their products, sums in float32; 0: float32 throughout.
    /// </summary>
    public int RoundBf16;

    /// <summary>An operand of a product: x rounded to bfloat16 under <see cref="RoundBf16"/>, else x itself.</summary>
    public readonly float Operand(float x) => RoundBf16 != 0 ? Half16.Bf16ToFloat(Half16.FloatToBf16(x)) : x;

    /// <summary>
    /// The scale the forward folds into q as it loads it: float32 folds it there (a multiply per q element, not per
    /// score); bf16 must round q itself, so it scales S instead (<see cref="ScoreScale"/>).
    /// </summary>
    public readonly float QScale => RoundBf16 != 0 ? 1f : Scale;

    /// <summary>What the forward multiplies S = q·k by: the scale at bf16, 1 (exact, the float32 bits unchanged) at float32.</summary>
    public readonly float ScoreScale => RoundBf16 != 0 ? Scale : 1f;

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
