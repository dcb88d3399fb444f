namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// Inputs of the device benches: uniform in [-1, 1) rounded to bf16, so that every variant and the reference see the
/// same numbers whether they round their operands to bf16 or not.
/// </summary>
internal static class Bf16Inputs
{
    /// <summary>A tensor of <paramref name="shape"/> on <paramref name="device"/> stored as <paramref name="dtype"/>, outside any dispose scope.</summary>
    public static Tensor Uniform(int[] shape, Random rng, Device device, DType dtype = DType.F32)
    {
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (long i = 0; i < values.LongLength; i++)
            values[i] = Numerics.Bf16ToFloat(Numerics.FloatToBf16(rng.NextSingle() * 2 - 1));
        return Tensor.FromArray(values, shape, dtype, device).DetachFromScope();
    }

    /// <summary>A copy of <paramref name="t"/> in a storage of its own.</summary>
    public static Tensor Clone(Tensor t) => Tensor.EmptyLike(t).DetachFromScope().CopyFrom(t);
}
