namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The exp of attention's probabilities: float32 passes keep <see cref="VMath.ExpFlushToZero"/> (their results stay
/// bitwise); bf16 passes round P and dS to bf16 before every product, so they take <see cref="VMath.ExpFlushToZeroBf16"/>.
/// </summary>
internal interface IAttentionExp
{
    /// <summary>e^x, 0 where x ≤ −86.98 or NaN.</summary>
    static abstract TV Exp<TV>(TV x) where TV : unmanaged, IVec<TV>;
}

/// <summary>e^x within 1 ulp: the float32 passes.</summary>
internal readonly struct Float32Exp : IAttentionExp
{
    public static TV Exp<TV>(TV x) where TV : unmanaged, IVec<TV> => VMath.ExpFlushToZero(x);
}

/// <summary>e^x within 2⁻¹⁷ relative: the bf16 passes.</summary>
internal readonly struct Bf16Exp : IAttentionExp
{
    public static TV Exp<TV>(TV x) where TV : unmanaged, IVec<TV> => VMath.ExpFlushToZeroBf16(x);
}
