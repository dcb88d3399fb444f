using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// RMSNorm over rows, in float32 as Hugging Face's Llama does: y = x·r·w with r = (mean(x²) + eps)^−½.
/// Backward: dx = r·(w⊙dy) − (r³/D)·(Σ w⊙dy⊙x)·x, dw = Σ_rows dy⊙x·r.
/// </summary>
internal static unsafe class RmsNorm
{
    public static void Forward(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps)
    {
        var (n, d) = CheckForward(y, rstd, x, weight);
        var w = Rows.WeightAsFloat(weight);
        float* xp = (float*)x.DataPointer, yp = (float*)y.DataPointer, rp = (float*)rstd.DataPointer;
        bool stream = Rows.Streams(n * d * sizeof(float));
        Rows.For(n, d, (lo, hi) =>
        {
            fixed (float* wp = w)
                for (long r = lo; r < hi; r++)
                {
                    float* xr = xp + r * d, yr = yp + r * d;
                    rp[r] = Vector512.IsHardwareAccelerated ? ForwardRow<V512>(yr, xr, wp, d, eps, stream)
                          : Vector256.IsHardwareAccelerated ? ForwardRow<V256>(yr, xr, wp, d, eps, stream) : ForwardRow<V1>(yr, xr, wp, d, eps, stream);
                }
            Rows.Fence(stream);
        });
    }

    /// <summary>
    /// The forward's argument checks (every backend's): float32 contiguous rows, a weight [D] of any float dtype and
    /// strides, rstd [N] float32 contiguous. Returns [N, D].
    /// </summary>
    public static (long N, int D) CheckForward(Tensor y, Tensor rstd, Tensor x, Tensor weight)
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
        return (n, d);
    }

    /// <summary>The backward's argument checks (every backend's); dweight, where given, is float32 [D] contiguous. Returns [N, D].</summary>
    public static (long N, int D) CheckBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd)
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
        return (n, d);
    }

    /// <summary>One row in two passes (the second reads x from L1): Σx², then y = x·r·w. Returns r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ForwardRow<TV>(float* y, float* x, float* w, int d, float eps, bool stream) where TV : unmanaged, IVec<TV>
    {
        var acc = TV.Splat(0f);
        int j = 0;
        for (; j <= d - TV.Count; j += TV.Count)
        {
            var v = TV.Load(x + j);
            acc = TV.Fma(v, v, acc);
        }
        float ss = acc.Sum();
        for (int k = j; k < d; k++)
            ss = MathF.FusedMultiplyAdd(x[k], x[k], ss);
        float rs = 1f / MathF.Sqrt(ss / d + eps);
        var vr = TV.Splat(rs);
        for (j = 0; j <= d - TV.Count; j += TV.Count)
            (TV.Load(x + j) * vr * TV.Load(w + j)).Store(y + j, stream);
        for (; j < d; j++)
            y[j] = x[j] * rs * w[j];
        return rs;
    }

    public static void Backward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd)
    {
        var (n, d) = CheckBackward(dx, dweight, dy, x, weight, rstd);
        var w = Rows.WeightAsFloat(weight);
        float* dxp = (float*)dx.DataPointer, dyp = (float*)dy.DataPointer, xp = (float*)x.DataPointer, rp = (float*)rstd.DataPointer;
        var partials = new float[]?[CpuThreads.Count * 4 + 1];
        bool stream = Rows.Streams(n * d * sizeof(float));
        int chunks = Rows.ForChunks(n, d, (chunk, lo, hi) =>
        {
            var dw = dweight is null ? null : new float[d];
            fixed (float* wp = w, dwp = dw)
                for (long r = lo; r < hi; r++)
                {
                    float* dxr = dxp + r * d, dyr = dyp + r * d, xr = xp + r * d;
                    if (Vector512.IsHardwareAccelerated)
                        BackwardRow<V512>(dxr, dwp, dyr, xr, wp, rp[r], d, stream);
                    else if (Vector256.IsHardwareAccelerated)
                        BackwardRow<V256>(dxr, dwp, dyr, xr, wp, rp[r], d, stream);
                    else
                        BackwardRow<V1>(dxr, dwp, dyr, xr, wp, rp[r], d, stream);
                }
            partials[chunk] = dw;
            Rows.Fence(stream);
        });
        if (dweight is not null)
            Rows.SumPartials(partials, chunks, dweight.AsSpan<float>());
    }

    /// <summary>
    /// One row in two passes: Σ (w⊙dy)⊙x and dw += dy⊙x·r (dw may be null) while the row streams in from
    /// memory, then dx = r·(w⊙dy) − (r³/D)·(Σ…)·x from L1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRow<TV>(float* dx, float* dw, float* dy, float* x, float* w, float rs, int d, bool stream) where TV : unmanaged, IVec<TV>
    {
        var acc = TV.Splat(0f);
        var vr = TV.Splat(rs);
        int j = 0;
        for (; j <= d - TV.Count; j += TV.Count)
        {
            TV vy = TV.Load(dy + j), vx = TV.Load(x + j);
            acc = TV.Fma(vy * TV.Load(w + j), vx, acc);
            if (dw != null)
                TV.Fma(vy * vx, vr, TV.Load(dw + j)).Store(dw + j);
        }
        float dot = acc.Sum();
        for (int k = j; k < d; k++)
        {
            dot = MathF.FusedMultiplyAdd(dy[k] * w[k], x[k], dot);
            if (dw != null)
                dw[k] = MathF.FusedMultiplyAdd(dy[k] * x[k], rs, dw[k]);
        }
        float c = -rs * rs * rs * dot / d;
        var vc = TV.Splat(c);
        for (j = 0; j <= d - TV.Count; j += TV.Count)
            TV.Fma(TV.Load(x + j), vc, TV.Load(dy + j) * TV.Load(w + j) * vr).Store(dx + j, stream);
        for (; j < d; j++)
            dx[j] = MathF.FusedMultiplyAdd(x[j], c, dy[j] * w[j] * rs);
    }
}
