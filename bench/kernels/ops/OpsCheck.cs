namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The bench's own check of a kernel's output: a straightforward evaluation in double of sampled rows or
/// elements (the test project holds the full float64 references; the bench must not depend on it),
/// compared by normalised max error, max |actual − expected| / max |expected|, as the tests do.
/// </summary>
internal sealed class OpsCheck
{
    private double _error, _scale;

    public void Add(double expected, double actual)
    {
        _scale = Math.Max(_scale, Math.Abs(expected));
        double e = Math.Abs(actual - expected);
        // NaN in the output must fail the check, not vanish in a max.
        _error = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(_error, e);
    }

    public double Error => _error / (_scale > 0 ? _scale : 1);

    /// <summary>k indices spread evenly over [0, count), always including the first and the last.</summary>
    public static long[] Sample(long count, int k)
    {
        if (count <= k)
            return Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray();
        return Enumerable.Range(0, k).Select(i => i * (count - 1) / (k - 1)).ToArray();
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
