using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Softmax over the last dim and its backward dx = y ⊙ (dy − Σ dy·y). Each row takes three passes
/// forward (max; e^(x − max) summed into a scratch row; scaled by 1/sum into y) and two backward; only
/// the first reads memory, the others find the row in L1, and y is written once.
/// </summary>
internal static unsafe class Softmax
{
    public static void Forward(Tensor y, Tensor x)
    {
        var (n, d) = CheckForward(y, x);
        float* xp = (float*)x.DataPointer, yp = (float*)y.DataPointer;
        bool stream = Rows.Streams(n * d * sizeof(float));
        Rows.For(n, d, (lo, hi) =>
        {
            fixed (float* e = new float[d])
                for (long r = lo; r < hi; r++)
                {
                    if (Vector512.IsHardwareAccelerated)
                        ForwardRow<V512>(yp + r * d, xp + r * d, e, d, stream);
                    else if (Vector256.IsHardwareAccelerated)
                        ForwardRow<V256>(yp + r * d, xp + r * d, e, d, stream);
                    else
                        ForwardRow<V1>(yp + r * d, xp + r * d, e, d, stream);
                }
            Rows.Fence(stream);
        });
    }

    public static void Backward(Tensor dx, Tensor y, Tensor dy)
    {
        var (n, d) = CheckBackward(dx, y, dy);
        float* dxp = (float*)dx.DataPointer, yp = (float*)y.DataPointer, dyp = (float*)dy.DataPointer;
        bool stream = Rows.Streams(n * d * sizeof(float));
        Rows.For(n, d, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
            {
                if (Vector512.IsHardwareAccelerated)
                    BackwardRow<V512>(dxp + r * d, yp + r * d, dyp + r * d, d, stream);
                else if (Vector256.IsHardwareAccelerated)
                    BackwardRow<V256>(dxp + r * d, yp + r * d, dyp + r * d, d, stream);
                else
                    BackwardRow<V1>(dxp + r * d, yp + r * d, dyp + r * d, d, stream);
            }
            Rows.Fence(stream);
        });
    }

    /// <summary>The forward's argument checks (every backend's): float32 rows of one shape, contiguous. Returns [N, D].</summary>
    public static (long N, int D) CheckForward(Tensor y, Tensor x)
    {
        Check.F32("softmax", x, "input");
        Check.F32("softmax", y, "output");
        Check.SameShape("softmax", y, x);
        var nd = Rows.Dims("softmax", x, "input");
        Rows.Dims("softmax", y, "output");
        return nd;
    }

    /// <summary>The backward's argument checks (every backend's). Returns [N, D].</summary>
    public static (long N, int D) CheckBackward(Tensor dx, Tensor y, Tensor dy)
    {
        foreach (var (t, role) in new[] { (dx, "dx"), (y, "y"), (dy, "dy") })
        {
            Check.F32("softmax_backward", t, role);
            Check.SameShape("softmax_backward", t, y);
        }
        var nd = Rows.Dims("softmax_backward", y, "y");
        Rows.Dims("softmax_backward", dy, "dy");
        Rows.Dims("softmax_backward", dx, "dx");
        return nd;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRow<TV>(float* y, float* x, float* e, int d, bool stream) where TV : unmanaged, IVec<TV>
    {
        // A NaN may be skipped here: e^(NaN − max) makes the row NaN all the same.
        var vmax = TV.Splat(float.NegativeInfinity);
        int j = 0;
        for (; j <= d - TV.Count; j += TV.Count)
            vmax = TV.MaxNative(vmax, TV.Load(x + j));
        float max = vmax.MaxAcross();
        for (int k = j; k < d; k++)
            max = MathF.Max(max, x[k]);

        var m = TV.Splat(max);
        var vsum = TV.Splat(0f);
        // The exponentials keep the core busy while memory idles: fetch the next row meanwhile, a
        // cache line per vector (past the last row it is a harmless hint).
        for (j = 0; j <= d - TV.Count; j += TV.Count)
        {
            Rows.Prefetch(x + d + j);
            var v = VMath.Exp(TV.Load(x + j) - m);
            vsum += v;
            v.Store(e + j);
        }
        float sum = vsum.Sum();
        for (int k = j; k < d; k++)
        {
            e[k] = VMath.Exp(new V1(x[k] - max)).Value;
            sum += e[k];
        }

        float inv = 1f / sum;
        var vinv = TV.Splat(inv);
        for (j = 0; j <= d - TV.Count; j += TV.Count)
            (TV.Load(e + j) * vinv).Store(y + j, stream);
        for (; j < d; j++)
            y[j] = e[j] * inv;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRow<TV>(float* dx, float* y, float* dy, int d, bool stream) where TV : unmanaged, IVec<TV>
    {
        var acc = TV.Splat(0f);
        int j = 0;
        for (; j <= d - TV.Count; j += TV.Count)
            acc = TV.Fma(TV.Load(y + j), TV.Load(dy + j), acc);
        float dot = acc.Sum();
        for (int k = j; k < d; k++)
            dot = MathF.FusedMultiplyAdd(y[k], dy[k], dot);
        var vdot = TV.Splat(dot);
        for (j = 0; j <= d - TV.Count; j += TV.Count)
            ((TV.Load(dy + j) - vdot) * TV.Load(y + j)).Store(dx + j, stream);
        for (; j < d; j++)
            dx[j] = (dy[j] - dot) * y[j];
    }
}
