namespace RawLongLoRA;

/// <summary>Element types a tensor can hold. Floating types compute in float32 on the CPU.</summary>
public enum DType : byte
{
    /// <summary>
    /// 32-bit IEEE float: the compute type on the CPU, and the type of gradients, trained parameters and optimizer
    /// state.
    /// </summary>
    F32,
    /// <summary>
    /// bfloat16 (8 exponent bits, 7 mantissa bits): weights stored at half the size; converted to float32 to compute.
    /// </summary>
    BF16,
    /// <summary>IEEE half precision (5 exponent bits, 10 mantissa bits), for weights stored that way.</summary>
    F16,
    /// <summary>32-bit signed integer (token ids, positions).</summary>
    I32,
    /// <summary>
    /// 64-bit signed integer: token ids, targets and positions as PyTorch keeps them; ArgMax results.
    /// </summary>
    I64,
    /// <summary>Unsigned byte (masks, raw bytes).</summary>
    U8,
}

/// <summary>
/// Facts about a <see cref="DType"/> as extension methods: byte size, kind, and its names in PyTorch and safetensors.
/// </summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element: 4, 2, 2, 4, 8 or 1.</summary>
    public static int Size(this DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        DType.I64 => 8,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>True for F32, BF16 and F16: the types that can require gradients.</summary>
    public static bool IsFloat(this DType t) => t is DType.F32 or DType.BF16 or DType.F16;

    /// <summary>True for I32, I64 and U8.</summary>
    public static bool IsInteger(this DType t) => !t.IsFloat();

    /// <summary>PyTorch's name, used in messages and ToString.</summary>
    public static string TorchName(this DType t) => t switch
    {
        DType.F32 => "float32",
        DType.BF16 => "bfloat16",
        DType.F16 => "float16",
        DType.I32 => "int32",
        DType.I64 => "int64",
        DType.U8 => "uint8",
        _ => t.ToString(),
    };

    /// <summary>The safetensors spelling ("F32", "BF16", ...), which is also the enum name.</summary>
    public static string SafetensorsName(this DType t) => t.ToString();

    /// <summary>Exactly "F32", "BF16", "F16", "I32", "I64" or "U8" (not numbers or lists, which Enum.TryParse accepts).</summary>
    public static bool TryParseSafetensors(string s, out DType t)
    {
        foreach (var d in Enum.GetValues<DType>())
            if (d.SafetensorsName() == s)
            {
                t = d;
                return true;
            }
        t = default;
        return false;
    }
}
