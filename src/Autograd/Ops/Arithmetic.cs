using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>+, −, ×, ÷ with NumPy broadcasting, tensor or scalar on either side; gradients are summed back to each operand's shape.</summary>
public static class Arithmetic
{
    extension(Tensor a)
    {
        /// <summary>a + b, broadcast; a new tensor.</summary>
        public Tensor Add(Tensor b) => Zip(BinaryOp.Add, a, b, "add", (g, n) =>
            [n[0] ? Graph.SumToShape(g, a.Shape) : null, n[1] ? Graph.SumToShape(g, b.Shape) : null]);

        /// <summary>a − b, broadcast; a new tensor.</summary>
        public Tensor Sub(Tensor b) => Zip(BinaryOp.Sub, a, b, "sub", (g, n) =>
            [n[0] ? Graph.SumToShape(g, a.Shape) : null, n[1] ? Graph.SumToShape(-g, b.Shape) : null]);

        /// <summary>a · b elementwise, broadcast; a new tensor.</summary>
        public Tensor Mul(Tensor b) => Zip(BinaryOp.Mul, a, b, "mul", (g, n) =>
            [n[0] ? Graph.SumToShape(g * b, a.Shape) : null, n[1] ? Graph.SumToShape(g * a, b.Shape) : null]);

        /// <summary>a / b elementwise, broadcast; a new tensor.</summary>
        public Tensor Div(Tensor b) => Zip(BinaryOp.Div, a, b, "div", (g, n) =>
            [n[0] ? Graph.SumToShape(g / b, a.Shape) : null, n[1] ? Graph.SumToShape(-g * a / (b * b), b.Shape) : null]);

        /// <summary>a + <paramref name="s"/> elementwise.</summary>
        public Tensor Add(float s) => a.AddScalar(s);

        /// <summary>a · <paramref name="s"/> elementwise.</summary>
        public Tensor Mul(float s) => a.Scale(s);

        /// <summary>x + y, broadcast.</summary>
        public static Tensor operator +(Tensor x, Tensor y) => x.Add(y);
        /// <summary>x − y, broadcast.</summary>
        public static Tensor operator -(Tensor x, Tensor y) => x.Sub(y);
        /// <summary>x · y elementwise, broadcast.</summary>
        public static Tensor operator *(Tensor x, Tensor y) => x.Mul(y);
        /// <summary>x / y elementwise, broadcast.</summary>
        public static Tensor operator /(Tensor x, Tensor y) => x.Div(y);
        /// <summary>x + s elementwise.</summary>
        public static Tensor operator +(Tensor x, float s) => x.AddScalar(s);
        /// <summary>s + x elementwise.</summary>
        public static Tensor operator +(float s, Tensor x) => x.AddScalar(s);
        /// <summary>x − s elementwise.</summary>
        public static Tensor operator -(Tensor x, float s) => x.AddScalar(-s);
        /// <summary>s − x elementwise.</summary>
        public static Tensor operator -(float s, Tensor x) => x.Neg().AddScalar(s);
        /// <summary>x · s elementwise.</summary>
        public static Tensor operator *(Tensor x, float s) => x.Scale(s);
        /// <summary>s · x elementwise.</summary>
        public static Tensor operator *(float s, Tensor x) => x.Scale(s);
        /// <summary>x / s elementwise.</summary>
        public static Tensor operator /(Tensor x, float s) => x.Scale(1f / s);
        /// <summary>s / x elementwise.</summary>
        public static Tensor operator /(float s, Tensor x) => x.Reciprocal().Scale(s);
        /// <summary>−x elementwise.</summary>
        public static Tensor operator -(Tensor x) => x.Neg();
    }

    private static Tensor Zip(BinaryOp op, Tensor a, Tensor b, string name, Func<Tensor, bool[], Tensor?[]> backward)
    {
        using var profile = Profiler.Op(name, a, b);
        Check.Alive(name, a, b);
        Check.Float(name, a, "left operand");
        if (a.DType != b.DType)
            throw Check.Fail(name, $"operands must have one dtype (no type promotion), got {a.DType.TorchName()} and {b.DType.TorchName()}", a, b);
        var y = Graph.Empty(Check.Broadcast(name, a, b), a);
        Graph.Backend(name, a, b).Binary(op, y, a, b);
        return Graph.Record(y, name, [a, b], backward);
    }
}
