namespace RawLongLoRA.Kernels.Cpu;

// The elementwise ops as a table of one-liners: the generic loops in Elementwise.cs are specialised
// per struct (and per width) by the JIT.

internal interface IUnaryFn
{
    static abstract TV Apply<TV>(TV x, TV alpha) where TV : unmanaged, IVec<TV>;
}

internal interface IBinaryFn
{
    static abstract TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV>;
}

internal struct NegFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => -x;
}

internal struct ExpFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => VMath.Exp(x);
}

internal struct LogFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Log(x);
}

internal struct SqrtFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Sqrt(x);
}

internal struct RsqrtFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Splat(1f) / TV.Sqrt(x);
}

internal struct ReciprocalFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Splat(1f) / x;
}

internal struct SigmoidFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => VMath.Sigmoid(x);
}

internal struct SiluFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => x * VMath.Sigmoid(x);
}

internal struct TanhFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => VMath.Tanh(x);
}

internal struct ReluFn : IUnaryFn
{
    // Max passes NaN through, as torch.relu does.
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Max(x, TV.Splat(0f));
}

internal struct AbsFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Abs(x);
}

internal struct SquareFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => x * x;
}

internal struct ScaleFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => x * a;
}

internal struct AddScalarFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => x + a;
}

/// <summary>x^a lane by lane: exp(a·log x) would be wrong for negative x with integer a.</summary>
internal struct PowFn : IUnaryFn
{
    public static TV Apply<TV>(TV x, TV a) where TV : unmanaged, IVec<TV> => TV.Pow(x, a);
}

internal struct AddFn : IBinaryFn
{
    public static TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV> => a + b;
}

internal struct SubFn : IBinaryFn
{
    public static TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV> => a - b;
}

internal struct MulFn : IBinaryFn
{
    public static TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV> => a * b;
}

internal struct DivFn : IBinaryFn
{
    public static TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV> => a / b;
}

internal struct MaxFn : IBinaryFn
{
    public static TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV> => TV.Max(a, b);
}

internal struct MinFn : IBinaryFn
{
    public static TV Apply<TV>(TV a, TV b) where TV : unmanaged, IVec<TV> => TV.Min(a, b);
}

internal struct SiluBackwardFn : IBinaryFn
{
    public static TV Apply<TV>(TV x, TV dy) where TV : unmanaged, IVec<TV> => dy * VMath.SiluGrad(x);
}

internal struct SigmoidBackwardFn : IBinaryFn
{
    public static TV Apply<TV>(TV y, TV dy) where TV : unmanaged, IVec<TV> => dy * y * (TV.Splat(1f) - y);
}

internal struct TanhBackwardFn : IBinaryFn
{
    public static TV Apply<TV>(TV y, TV dy) where TV : unmanaged, IVec<TV> => dy * (TV.Splat(1f) - y * y);
}

internal struct ReluBackwardFn : IBinaryFn
{
    public static TV Apply<TV>(TV x, TV dy) where TV : unmanaged, IVec<TV> => TV.WhereGreater(x, TV.Splat(0f), dy);
}
