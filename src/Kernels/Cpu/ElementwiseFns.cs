using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

// The elementwise ops as a table of one-liners: each is a struct with a scalar and a Vector256 form,
// and the generic loops in Elementwise.cs are specialised per struct by the JIT.

internal interface IUnaryFn
{
    static abstract float Apply(float x, float alpha);
    static abstract Vector256<float> Apply(Vector256<float> x, Vector256<float> alpha);
}

internal interface IBinaryFn
{
    static abstract float Apply(float a, float b);
    static abstract Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

internal static class VMath
{
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>tanh(x) = 1 − 2 / (e^{2x} + 1): saturates to ±1 without overflow.</summary>
    public static Vector256<float> Tanh(Vector256<float> x) => Vector256<float>.One - Vector256.Create(2f) / (Vector256.Exp(x + x) + Vector256<float>.One);

    /// <summary>d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x))).</summary>
    public static float SiluGrad(float x)
    {
        float s = Sigmoid(x);
        return s * (1f + x * (1f - s));
    }

    public static Vector256<float> SiluGrad(Vector256<float> x)
    {
        var s = Sigmoid(x);
        return s * (Vector256<float>.One + x * (Vector256<float>.One - s));
    }
}

internal struct NegFn : IUnaryFn
{
    public static float Apply(float x, float a) => -x;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => -x;
}

internal struct ExpFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Exp(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Exp(x);
}

internal struct LogFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Log(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Log(x);
}

internal struct SqrtFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Sqrt(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Sqrt(x);
}

internal struct RsqrtFn : IUnaryFn
{
    public static float Apply(float x, float a) => 1f / MathF.Sqrt(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256<float>.One / Vector256.Sqrt(x);
}

internal struct ReciprocalFn : IUnaryFn
{
    public static float Apply(float x, float a) => 1f / x;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256<float>.One / x;
}

internal struct SigmoidFn : IUnaryFn
{
    public static float Apply(float x, float a) => VMath.Sigmoid(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.Sigmoid(x);
}

internal struct SiluFn : IUnaryFn
{
    public static float Apply(float x, float a) => x * VMath.Sigmoid(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x * VMath.Sigmoid(x);
}

internal struct TanhFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Tanh(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => VMath.Tanh(x);
}

internal struct ReluFn : IUnaryFn
{
    // NaN passes through, as in the vector form (Vector256.Max propagates NaN) and torch.relu.
    public static float Apply(float x, float a) => x > 0 || float.IsNaN(x) ? x : 0;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Max(x, Vector256<float>.Zero);
}

internal struct AbsFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Abs(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => Vector256.Abs(x);
}

internal struct SquareFn : IUnaryFn
{
    public static float Apply(float x, float a) => x * x;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x * x;
}

internal struct ScaleFn : IUnaryFn
{
    public static float Apply(float x, float a) => x * a;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x * a;
}

internal struct AddScalarFn : IUnaryFn
{
    public static float Apply(float x, float a) => x + a;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a) => x + a;
}

/// <summary>x^a lane by lane: exp(a·log x) would be wrong for negative x with integer a.</summary>
internal struct PowFn : IUnaryFn
{
    public static float Apply(float x, float a) => MathF.Pow(x, a);

    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> a)
    {
        Span<float> lanes = stackalloc float[Vector256<float>.Count];
        for (int i = 0; i < lanes.Length; i++)
            lanes[i] = MathF.Pow(x[i], a[i]);
        return Vector256.Create<float>(lanes);
    }
}

internal struct AddFn : IBinaryFn
{
    public static float Apply(float a, float b) => a + b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a + b;
}

internal struct SubFn : IBinaryFn
{
    public static float Apply(float a, float b) => a - b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a - b;
}

internal struct MulFn : IBinaryFn
{
    public static float Apply(float a, float b) => a * b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
}

internal struct DivFn : IBinaryFn
{
    public static float Apply(float a, float b) => a / b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a / b;
}

internal struct MaxFn : IBinaryFn
{
    public static float Apply(float a, float b) => MathF.Max(a, b);
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
}

internal struct MinFn : IBinaryFn
{
    public static float Apply(float a, float b) => MathF.Min(a, b);
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
}

internal struct SiluBackwardFn : IBinaryFn
{
    public static float Apply(float x, float dy) => dy * VMath.SiluGrad(x);
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> dy) => dy * VMath.SiluGrad(x);
}

internal struct SigmoidBackwardFn : IBinaryFn
{
    public static float Apply(float y, float dy) => dy * y * (1f - y);
    public static Vector256<float> Apply(Vector256<float> y, Vector256<float> dy) => dy * y * (Vector256<float>.One - y);
}

internal struct TanhBackwardFn : IBinaryFn
{
    public static float Apply(float y, float dy) => dy * (1f - y * y);
    public static Vector256<float> Apply(Vector256<float> y, Vector256<float> dy) => dy * (Vector256<float>.One - y * y);
}

internal struct ReluBackwardFn : IBinaryFn
{
    public static float Apply(float x, float dy) => x > 0 ? dy : 0;
    public static Vector256<float> Apply(Vector256<float> x, Vector256<float> dy) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), dy, Vector256<float>.Zero);
}
