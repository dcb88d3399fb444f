using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Inputs and non-contiguous views for the op tests.</summary>
internal static class Input
{
    /// <summary>A float32 leaf of standard normals that requires grad.</summary>
    public static Tensor Randn(ulong seed, params int[] shape) => Tensor.Randn(shape, new Generator(seed), requiresGrad: true);

    /// <summary>A float32 leaf uniform on [lo, hi) that requires grad.</summary>
    public static Tensor Uniform(ulong seed, float lo, float hi, params int[] shape) => Tensor.Uniform(shape, lo, hi, new Generator(seed), requiresGrad: true);

    /// <summary>A leaf of normals pushed at least <paramref name="margin"/> away from 0 (for relu's kink).</summary>
    public static Tensor AwayFromZero(ulong seed, float margin, params int[] shape)
    {
        using var r = Tensor.Randn(shape, new Generator(seed));
        var v = r.ToFloatArray();
        for (int i = 0; i < v.Length; i++)
            v[i] = v[i] >= 0 ? v[i] + margin : v[i] - margin;
        return Tensor.FromArray(v, shape, requiresGrad: true);
    }

    public static Tensor Ids(params long[] ids) => Tensor.FromArray(ids);

    /// <summary>
    /// The same values as x through a view whose last dim has stride 2 (every other element of a
    /// [..., n, 2] buffer built from x), so row kernels see non-contiguous rows; differentiable.
    /// </summary>
    public static Tensor Strided(Tensor x)
    {
        if (x.Rank == 0)
            return x.Reshape(1).Expand(2).Narrow(0, 1, 1).Reshape();
        var pair = Cat.Concat(-1, x.Unsqueeze(-1), x.Unsqueeze(-1));
        return pair.Narrow(-1, 1, 1).Squeeze(-1);
    }

    /// <summary>The same values as x with its last two dims' strides swapped (column-major storage); differentiable.</summary>
    public static Tensor ColumnMajor(Tensor x) => x.Transpose(-1, -2).Contiguous().Transpose(-1, -2);

}

/// <summary>Comparison by normalised max error, as ggml's test-backend-ops does.</summary>
internal static class Approx
{
    /// <summary>
    /// Max |a − b| / max |b| (not floored at 1: small values are held to the same relative error as large
    /// ones; all-zero expected values must be matched exactly); NaN where either holds a NaN the other does not.
    /// </summary>
    public static double NormalisedError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxErr = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (float.IsNaN(actual[i]) || float.IsNaN(expected[i]))
            {
                if (float.IsNaN(actual[i]) != float.IsNaN(expected[i]))
                    return double.NaN;
                continue;
            }
            maxErr = Math.Max(maxErr, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        return maxErr == 0 ? 0 : maxErr / maxRef;
    }

    public static void Close(float[] expected, float[] actual, double tolerance = 1e-5, string what = "values")
    {
        double err = NormalisedError(actual, expected);
        Assert.True(err <= tolerance, $"{what}: normalised max error {err:G3} > {tolerance:G3}\nexpected [{string.Join(", ", expected.Take(12))}...]\nactual   [{string.Join(", ", actual.Take(12))}...]");
    }

    public static void Close(float[] expected, Tensor actual, double tolerance = 1e-5, string what = "values")
        => Close(expected, actual.ToFloatArray(), tolerance, what);
}
