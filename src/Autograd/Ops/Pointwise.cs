using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>Unary pointwise math; each gradient rule is one line in terms of the input x, the output y and the incoming g.</summary>
public static class Pointwise
{
    extension(Tensor x)
    {
        /// <summary>−x</summary>
        public Tensor Neg() => Map(x, UnaryOp.Neg, 0, "neg", (x, y, g) => -g);
        /// <summary>eˣ</summary>
        public Tensor Exp() => Map(x, UnaryOp.Exp, 0, "exp", (x, y, g) => g * y);
        /// <summary>ln x</summary>
        public Tensor Log() => Map(x, UnaryOp.Log, 0, "log", (x, y, g) => g / x);
        /// <summary>√x</summary>
        public Tensor Sqrt() => Map(x, UnaryOp.Sqrt, 0, "sqrt", (x, y, g) => g / y * 0.5f);
        /// <summary>1 / √x</summary>
        public Tensor Rsqrt() => Map(x, UnaryOp.Rsqrt, 0, "rsqrt", (x, y, g) => g * y * y * y * -0.5f);
        /// <summary>1 / x</summary>
        public Tensor Reciprocal() => Map(x, UnaryOp.Reciprocal, 0, "reciprocal", (x, y, g) => -g * y * y);
        /// <summary>1 / (1 + e⁻ˣ)</summary>
        public Tensor Sigmoid() => Map(x, UnaryOp.Sigmoid, 0, "sigmoid", (x, y, g) => Backward(BinaryOp.SigmoidBackward, y, g));
        /// <summary>x · sigmoid(x) (SiLU)</summary>
        public Tensor Silu() => Map(x, UnaryOp.Silu, 0, "silu", (x, y, g) => Backward(BinaryOp.SiluBackward, x, g));
        /// <summary>tanh x</summary>
        public Tensor Tanh() => Map(x, UnaryOp.Tanh, 0, "tanh", (x, y, g) => Backward(BinaryOp.TanhBackward, y, g));
        /// <summary>max(x, 0)</summary>
        public Tensor Relu() => Map(x, UnaryOp.Relu, 0, "relu", (x, y, g) => Backward(BinaryOp.ReluBackward, x, g));
        /// <summary>x²</summary>
        public Tensor Square() => Map(x, UnaryOp.Square, 0, "square", (x, y, g) => g * x * 2f);
        /// <summary>x raised to <paramref name="p"/>.</summary>
        public Tensor Pow(float p) => Map(x, UnaryOp.Pow, p, "pow", (x, y, g) => p == 0 ? Tensor.ZerosLike(g) : g * x.Pow(p - 1) * p);
        /// <summary>x · <paramref name="s"/>.</summary>
        public Tensor Scale(float s) => Map(x, UnaryOp.Scale, s, "scale", (x, y, g) => g * s);
        /// <summary>x + <paramref name="s"/>.</summary>
        public Tensor AddScalar(float s) => Map(x, UnaryOp.AddScalar, s, "add_scalar", (x, y, g) => g);
    }

    private static Tensor Map(Tensor x, UnaryOp op, float alpha, string name, Func<Tensor, Tensor, Tensor, Tensor> backward)
    {
        using var profile = Profiler.Op(name, x);
        Check.Alive(name, x);
        Check.Float(name, x, "input");
        var y = Graph.Empty(x.ShapeArray, x);
        Graph.Backend(name, x).Unary(op, y, x, alpha);
        return Graph.Record(y, name, [x], (g, _) => [backward(x, y, g)]);
    }

    /// <summary>A fused gradient kernel (e.g. silu') applied to a saved tensor and g.</summary>
    private static Tensor Backward(BinaryOp op, Tensor saved, Tensor g)
    {
        var dx = Graph.Empty(g.ShapeArray, g);
        Graph.Backend("pointwise_backward", saved, g).Binary(op, dx, saved, g);
        return dx;
    }
}
