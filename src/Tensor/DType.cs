namespace RawLongLoRA;

/// <summary>Element types a tensor can hold. Floating types compute in float32 on the CPU.</summary>
public enum DType : byte
{
    F32,
    BF16,
    F16,
    I32,
    I64,
    U8,
}

public static class DTypeInfo
{
    public static int Size(this DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        DType.I64 => 8,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    public static bool IsFloat(this DType t) => t is DType.F32 or DType.BF16 or DType.F16;

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
