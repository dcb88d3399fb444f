namespace RawLongLoRA.Bench.GpuCheck;

/// <summary>
/// Makes one side's tensors for a <see cref="PrimitiveCase"/>: every side draws from the same seed in the same order,
/// so the CPU's inputs and the device's hold the same values; outputs start poisoned (NaN, or −1 for integers), so an
/// element a kernel forgets to write cannot pass for one it wrote.
/// </summary>
internal sealed class CaseTensors(Device device, int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>Standard normal values (Box–Muller on the seed's stream), stored as <paramref name="dtype"/>.</summary>
    public Tensor Normal(int[] shape, DType dtype = DType.F32) => Make(shape, dtype, () =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble())));

    /// <summary>Uniform values on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public Tensor Uniform(int[] shape, float low, float high) => Make(shape, DType.F32, () => low + (high - low) * (float)_random.NextDouble());

    /// <summary><paramref name="n"/> ids below <paramref name="below"/>, as I64 or I32.</summary>
    public Tensor Ids(int n, int below, DType dtype = DType.I64)
    {
        var ids = Enumerable.Range(0, n).Select(_ => (long)_random.Next(below)).ToArray();
        return dtype == DType.I64 ? Tensor.FromArray(ids, [n], device) : Tensor.FromArray(Array.ConvertAll(ids, x => (int)x), [n], device);
    }

    /// <summary>Packed sequence starts (flat token indices, every row start among them) for attention.</summary>
    public Tensor Starts(int[] starts, long tokens) => PackedStarts.Of(starts, tokens, device);

    /// <summary>Every element <paramref name="value"/>.</summary>
    public Tensor Full(int[] shape, double value) => Tensor.Full(shape, value, DType.F32, device);

    /// <summary>An output of <paramref name="shape"/> filled with NaN (−1 for integer dtypes).</summary>
    public Tensor Poisoned(int[] shape, DType dtype = DType.F32) => Tensor.Empty(shape, dtype, device).Fill(dtype.IsFloat() ? double.NaN : -1);

    private Tensor Make(int[] shape, DType dtype, Func<float> next)
    {
        var values = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < values.Length; i++)
            values[i] = next();
        return Tensor.FromArray(values, shape, dtype, device);
    }
}
