using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// RMSNorm over rows, in float32 as Hugging Face's Llama does: y = x·r·w with r = (mean(x²) + eps)^−½.
/// Backward: dx = r·(w⊙dy) − (r³/D)·(Σ w⊙dy⊙x)·x, dw = Σ_rows dy⊙x·r.
/// </summary>
internal static unsafe class RmsNorm
{
    public static void Forward(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps)
    {
        const string op = "rms_norm";
        Check.F32(op, x, "input");
        Check.F32(op, y, "output");
        Check.F32(op, rstd, "rstd");
        Check.Float(op, weight, "weight");
        Check.SameShape(op, y, x);
        var (n, d) = Rows.Dims(op, x, "input");
        Rows.Dims(op, y, "output");
        Check.Shape(op, weight, "weight", d);
        if (rstd.Numel != n || !rstd.IsContiguous)
            throw Check.Fail(op, $"rstd must be contiguous with {n} elements", rstd);
        var w = Rows.WeightAsFloat(weight);
        float* xp = (float*)x.DataPointer, yp = (float*)y.DataPointer, rp = (float*)rstd.DataPointer;
        Rows.For(n, d, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                var xs = new ReadOnlySpan<float>(xp + r * d, d);
                var ys = new Span<float>(yp + r * d, d);
                float rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xs) / d + eps);
                rp[r] = rs;
                TensorPrimitives.Multiply(xs, rs, ys);
                TensorPrimitives.Multiply(ys, w, ys);
            }
        });
    }

    public static void Backward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd)
    {
        const string op = "rms_norm_backward";
        Check.F32(op, dx, "dx");
        Check.F32(op, dy, "dy");
        Check.F32(op, x, "x");
        Check.SameShape(op, dx, x);
        Check.SameShape(op, dy, x);
        var (n, d) = Rows.Dims(op, x, "x");
        Rows.Dims(op, dy, "dy");
        Rows.Dims(op, dx, "dx");
        Check.Float(op, weight, "weight");
        Check.Shape(op, weight, "weight", d);
        // rstd is read as n contiguous floats: check it as the forward does, or a wrong one reads past its end.
        Check.F32(op, rstd, "rstd");
        if (rstd.Numel != n || !rstd.IsContiguous)
            throw Check.Fail(op, $"rstd must be contiguous with {n} elements", rstd);
        if (dweight is not null)
        {
            Check.F32(op, dweight, "dweight");
            Check.Shape(op, dweight, "dweight", d);
            Check.Contiguous(op, dweight, "dweight");
        }
        var w = Rows.WeightAsFloat(weight);
        float* dxp = (float*)dx.DataPointer, dyp = (float*)dy.DataPointer, xp = (float*)x.DataPointer, rp = (float*)rstd.DataPointer;
        var partials = new float[]?[CpuThreads.Count * 4 + 1];
        int chunks = Rows.ForChunks(n, d, (chunk, lo, hi) =>
        {
            var dw = dweight is null ? null : new float[d];
            var tmp = new float[d];
            for (long r = lo; r < hi; r++)
            {
                var xs = new ReadOnlySpan<float>(xp + r * d, d);
                var dys = new ReadOnlySpan<float>(dyp + r * d, d);
                var dxs = new Span<float>(dxp + r * d, d);
                float rs = rp[r];
                TensorPrimitives.Multiply(dys, w, tmp);
                float dot = TensorPrimitives.Dot(tmp, xs);
                // dx = rs·(w⊙dy) − (rs³·dot/D)·x
                TensorPrimitives.Multiply(tmp, rs, dxs);
                TensorPrimitives.MultiplyAdd(xs, -rs * rs * rs * dot / d, dxs, dxs);
                if (dw is not null)
                {
                    TensorPrimitives.Multiply(dys, xs, tmp);
                    TensorPrimitives.MultiplyAdd(tmp, rs, dw, dw);
                }
            }
            partials[chunk] = dw;
        });
        if (dweight is not null)
            Rows.SumPartials(partials, chunks, dweight.AsSpan<float>());
    }
}
