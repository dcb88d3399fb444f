using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Softmax over the last dim and its backward dx = y ⊙ (dy − Σ dy·y).</summary>
internal static unsafe class Softmax
{
    public static void Forward(Tensor y, Tensor x)
    {
        Check.F32("softmax", x, "input");
        Check.F32("softmax", y, "output");
        Check.SameShape("softmax", y, x);
        var (n, d) = Rows.Dims("softmax", x, "input");
        Rows.Dims("softmax", y, "output");
        float* xp = (float*)x.DataPointer, yp = (float*)y.DataPointer;
        Rows.For(n, d, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                var xs = new ReadOnlySpan<float>(xp + r * d, d);
                var ys = new Span<float>(yp + r * d, d);
                float max = TensorPrimitives.Max(xs);
                TensorPrimitives.Subtract(xs, max, ys);
                TensorPrimitives.Exp(ys, ys);
                TensorPrimitives.Multiply(ys, 1f / TensorPrimitives.Sum(ys), ys);
            }
        });
    }

    public static void Backward(Tensor dx, Tensor y, Tensor dy)
    {
        foreach (var (t, role) in new[] { (dx, "dx"), (y, "y"), (dy, "dy") })
        {
            Check.F32("softmax_backward", t, role);
            Check.SameShape("softmax_backward", t, y);
        }
        var (n, d) = Rows.Dims("softmax_backward", y, "y");
        Rows.Dims("softmax_backward", dy, "dy");
        Rows.Dims("softmax_backward", dx, "dx");
        float* dxp = (float*)dx.DataPointer, yp = (float*)y.DataPointer, dyp = (float*)dy.DataPointer;
        Rows.For(n, d, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                var ys = new ReadOnlySpan<float>(yp + r * d, d);
                var dys = new ReadOnlySpan<float>(dyp + r * d, d);
                var dxs = new Span<float>(dxp + r * d, d);
                float dot = TensorPrimitives.Dot(ys, dys);
                TensorPrimitives.Subtract(dys, dot, dxs);
                TensorPrimitives.Multiply(dxs, ys, dxs);
            }
        });
    }
}
