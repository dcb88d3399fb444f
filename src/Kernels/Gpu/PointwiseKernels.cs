using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The kernels of Unary and Binary: one thread per element of the output, any strides (a broadcast operand has stride
/// 0). The op is a parameter, uniform across a launch, so one compiled kernel serves every op; the math follows the
/// CPU's (Cpu/ElementwiseFns.cs, Cpu/VMath.cs) formula for formula, with
/// <see cref="GpuMath"/>'s transcendentals.
/// </summary>
internal static class PointwiseKernels
{
    /// <summary>dst[i] = op(src[i], alpha); <paramref name="flat"/> (every operand contiguous) skips the index arithmetic.</summary>
    [GpuKernel]
    public static void Unary(Index1D i, ArrayView<float> dst, Strided d, ArrayView<float> src, Strided s, byte op, float alpha, byte flat)
    {
        bool f = flat != 0;
        dst[f ? i : d.Offset(i)] = UnaryOf((UnaryOp)op, src[f ? i : s.Offset(i)], alpha);
    }

    /// <summary>
    /// dst[i] = a[i] (op) b[i], the operands broadcast to dst's shape; <paramref name="flat"/> (every operand contiguous in
    /// dst's shape) skips the index arithmetic — six 64-bit divisions per operand on a GPU.
    /// </summary>
    [GpuKernel]
    public static void Binary(Index1D i, ArrayView<float> dst, Strided d, ArrayView<float> a, Strided sa, ArrayView<float> b, Strided sb, byte op, byte flat)
    {
        bool f = flat != 0;
        dst[f ? i : d.Offset(i)] = BinaryOf((BinaryOp)op, a[f ? i : sa.Offset(i)], b[f ? i : sb.Offset(i)]);
    }

    private static float UnaryOf(UnaryOp op, float x, float alpha) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Exp => GpuMath.Exp(x),
        UnaryOp.Log => GpuMath.Log(x),
        UnaryOp.Sqrt => MathF.Sqrt(x),
        UnaryOp.Rsqrt => 1f / MathF.Sqrt(x),
        UnaryOp.Reciprocal => 1f / x,
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Silu => x * Sigmoid(x),
        UnaryOp.Tanh => 1f - 2f / (GpuMath.Exp(x + x) + 1f), // as the CPU: saturates to ±1 without overflow
        UnaryOp.Relu => Max(x, 0f),
        UnaryOp.Abs => MathF.Abs(x),
        UnaryOp.Square => x * x,
        UnaryOp.Scale => x * alpha,
        UnaryOp.AddScalar => x + alpha,
        _ => GpuMath.Pow(x, alpha),
    };

    private static float BinaryOf(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Maximum => Max(a, b),
        BinaryOp.Minimum => Min(a, b),
        BinaryOp.SiluBackward => b * SiluGrad(a),
        BinaryOp.SigmoidBackward => b * a * (1f - a),
        BinaryOp.TanhBackward => b * (1f - a * a),
        _ => a > 0f ? b : 0f,
    };

    private static float Sigmoid(float x) => 1f / (1f + GpuMath.Exp(-x));

    private static float SiluGrad(float x)
    {
        float s = Sigmoid(x);
        return s * (1f + x * (1f - s));
    }

    /// <summary>The larger, NaN if either is (as MathF.Max and torch.maximum; PTX's max.f32 would drop the NaN).</summary>
    internal static float Max(float a, float b) => float.IsNaN(a) || a > b ? a : b;

    /// <summary>The smaller, NaN if either is.</summary>
    internal static float Min(float a, float b) => float.IsNaN(a) || a < b ? a : b;
}
