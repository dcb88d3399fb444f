using RawLongLoRA;

namespace RawLongLoRA.Tests;

/// <summary>
/// Slow, obviously right float64 references for the <see cref="IBackend"/> primitives that the
/// backend-op tests compare every backend with. Plain loops over logical row-major indices, no
/// strides, no SIMD, no threads: each function reads like the formula in the op's contract.
/// Inputs are the float32/16-bit values the kernel sees, widened exactly to double.
/// </summary>
public static class BackendReference
{
    // ---- indices

    public static long Numel(int[] shape)
    {
        long n = 1;
        foreach (int d in shape)
            n *= d;
        return n;
    }

    /// <summary>The multi-index of row-major position <paramref name="flat"/>.</summary>
    public static int[] Unravel(long flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = (int)(flat % shape[d]);
            flat /= shape[d];
        }
        return idx;
    }

    public static long Ravel(int[] idx, int[] shape)
    {
        long flat = 0;
        for (int d = 0; d < shape.Length; d++)
            flat = flat * shape[d] + idx[d];
        return flat;
    }

    /// <summary>Position in an operand of shape <paramref name="shape"/> that broadcasts to the output index (right-aligned, size-1 dims read index 0).</summary>
    public static long BroadcastSource(int[] outIdx, int[] shape)
    {
        int lead = outIdx.Length - shape.Length;
        var idx = new int[shape.Length];
        for (int d = 0; d < shape.Length; d++)
            idx[d] = shape[d] == 1 ? 0 : outIdx[lead + d];
        return Ravel(idx, shape);
    }

    // ---- number formats

    /// <summary>
    /// Rounds v to a binary float format with <paramref name="mantissaBits"/> stored bits and normal
    /// exponents [minExp, maxExp], round to nearest, ties to even; subnormals share minExp's spacing,
    /// and anything that rounds to 2^(maxExp+1) or beyond overflows to infinity.
    /// </summary>
    public static double RoundToFormat(double v, int mantissaBits, int minExp, int maxExp)
    {
        if (double.IsNaN(v) || double.IsInfinity(v) || v == 0)
            return v;
        int e = Math.Max(Math.ILogB(v), minExp);
        double ulp = Math.ScaleB(1.0, e - mantissaBits);
        double r = Math.Round(v / ulp, MidpointRounding.ToEven) * ulp;
        if (Math.Abs(r) >= Math.ScaleB(1.0, maxExp + 1))
            return v > 0 ? double.PositiveInfinity : double.NegativeInfinity;
        return r == 0 ? (v < 0 ? -0.0 : 0.0) : r;
    }

    public static double ToF32(double v) => RoundToFormat(v, 23, -126, 127);

    public static double ToBf16(double v) => RoundToFormat(v, 7, -126, 127);

    public static double ToF16(double v) => RoundToFormat(v, 10, -14, 15);

    /// <summary>The value v takes when stored as <paramref name="t"/>: floats round to nearest even, integers truncate toward zero (and have no −0).</summary>
    public static double Cast(double v, DType t) => t switch
    {
        DType.F32 => ToF32(v),
        DType.BF16 => ToBf16(v),
        DType.F16 => ToF16(v),
        _ => Math.Truncate(v) + 0.0,
    };

    /// <summary>BF16 bits of a value already representable in BF16 (its float32 bits' upper half).</summary>
    public static ushort Bf16Bits(double representable)
        => double.IsNaN(representable) ? (ushort)0x7FC0 : (ushort)(BitConverter.SingleToUInt32Bits((float)representable) >> 16);

    /// <summary>F16 bits of a value already representable in F16: sign, 5 exponent bits (bias 15), 10 mantissa bits.</summary>
    public static ushort F16Bits(double representable)
    {
        if (double.IsNaN(representable))
            return 0x7E00;
        ushort sign = (ushort)(double.IsNegative(representable) ? 0x8000 : 0);
        double a = Math.Abs(representable);
        if (double.IsInfinity(a))
            return (ushort)(sign | 0x7C00);
        if (a < Math.ScaleB(1.0, -14))
            return (ushort)(sign | (ushort)(a * Math.ScaleB(1.0, 24))); // subnormal: mantissa · 2^-24
        int e = Math.ILogB(a);
        int mant = (int)(a * Math.ScaleB(1.0, 10 - e)) - 1024;
        return (ushort)(sign | ((e + 15) << 10) | mant);
    }

    public static double Bf16Value(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    public static double F16Value(ushort bits)
    {
        double sign = (bits & 0x8000) != 0 ? -1 : 1;
        int e = (bits >> 10) & 0x1F, mant = bits & 0x3FF;
        if (e == 0x1F)
            return mant == 0 ? sign * double.PositiveInfinity : double.NaN;
        if (e == 0)
            return sign * mant * Math.ScaleB(1.0, -24);
        return sign * (1024 + mant) * Math.ScaleB(1.0, e - 25);
    }

    // ---- elementwise

    public static double Unary(UnaryOp op, double x, double alpha) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Rsqrt => 1 / Math.Sqrt(x),
        UnaryOp.Reciprocal => 1 / x,
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Silu => x * Sigmoid(x),
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Relu => double.IsNaN(x) ? x : x > 0 ? x : 0,
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Square => x * x,
        UnaryOp.Scale => alpha * x,
        UnaryOp.AddScalar => x + alpha,
        UnaryOp.Pow => Math.Pow(x, alpha),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    public static double Binary(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Maximum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
        BinaryOp.Minimum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
        BinaryOp.SiluBackward => b * (Sigmoid(a) * (1 + a * (1 - Sigmoid(a)))),
        BinaryOp.SigmoidBackward => b * a * (1 - a),
        BinaryOp.TanhBackward => b * (1 - a * a),
        BinaryOp.ReluBackward => a > 0 ? b : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static double[] Unary(UnaryOp op, double[] x, double alpha) => Array.ConvertAll(x, v => Unary(op, v, alpha));

    /// <summary>out[i] = a[i'] (op) b[i''] where i', i'' are i broadcast back into a's and b's shapes.</summary>
    public static double[] Binary(BinaryOp op, double[] a, int[] aShape, double[] b, int[] bShape, int[] outShape)
    {
        var y = new double[Numel(outShape)];
        for (long i = 0; i < y.Length; i++)
        {
            var idx = Unravel(i, outShape);
            y[i] = Binary(op, a[BroadcastSource(idx, aShape)], b[BroadcastSource(idx, bShape)]);
        }
        return y;
    }

    // ---- reductions

    /// <summary>Keepdim reduction over the dims where <paramref name="reduced"/> is true (NaN propagates through Max/Min).</summary>
    public static double[] Reduce(ReduceOp op, double[] x, int[] shape, bool[] reduced)
    {
        var outShape = KeepDimShape(shape, reduced);
        var y = new double[Numel(outShape)];
        var count = new long[y.Length];
        Array.Fill(y, op switch { ReduceOp.Max => double.NegativeInfinity, ReduceOp.Min => double.PositiveInfinity, _ => 0 });
        for (long i = 0; i < x.Length; i++)
        {
            var idx = Unravel(i, shape);
            for (int d = 0; d < shape.Length; d++)
                if (reduced[d])
                    idx[d] = 0;
            long o = Ravel(idx, outShape);
            count[o]++;
            y[o] = op switch
            {
                ReduceOp.Max => double.IsNaN(x[i]) || double.IsNaN(y[o]) ? double.NaN : Math.Max(y[o], x[i]),
                ReduceOp.Min => double.IsNaN(x[i]) || double.IsNaN(y[o]) ? double.NaN : Math.Min(y[o], x[i]),
                ReduceOp.SumOfSquares => y[o] + x[i] * x[i],
                _ => y[o] + x[i],
            };
        }
        if (op == ReduceOp.Mean)
            for (int o = 0; o < y.Length; o++)
                y[o] /= count[o];
        return y;
    }

    public static int[] KeepDimShape(int[] shape, bool[] reduced)
    {
        var s = (int[])shape.Clone();
        for (int d = 0; d < s.Length; d++)
            if (reduced[d])
                s[d] = 1;
        return s;
    }

    /// <summary>Index of the first maximum along <paramref name="dim"/>; a NaN counts as the maximum (first NaN wins), as in PyTorch.</summary>
    public static long[] ArgMax(double[] x, int[] shape, int dim)
    {
        var reduced = new bool[shape.Length];
        reduced[dim] = true;
        var outShape = KeepDimShape(shape, reduced);
        var y = new long[Numel(outShape)];
        for (long o = 0; o < y.Length; o++)
        {
            var idx = Unravel(o, outShape);
            long best = 0;
            double bv = double.NegativeInfinity;
            for (int k = 0; k < shape[dim]; k++)
            {
                idx[dim] = k;
                double v = x[Ravel(idx, shape)];
                if (double.IsNaN(v))
                {
                    best = k;
                    break;
                }
                if (k == 0 || v > bv)
                    (best, bv) = (k, v);
            }
            y[o] = best;
        }
        return y;
    }

    // ---- row kernels: x is [n, d] row-major

    public static double[] Softmax(double[] x, int n, int d)
    {
        var y = new double[x.Length];
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < d; j++)
                max = Math.Max(max, x[r * d + j]);
            double sum = 0;
            for (int j = 0; j < d; j++)
                sum += Math.Exp(x[r * d + j] - max);
            for (int j = 0; j < d; j++)
                y[r * d + j] = Math.Exp(x[r * d + j] - max) / sum;
        }
        return y;
    }

    /// <summary>dx_j = y_j (dy_j − Σ_k dy_k y_k): the Jacobian of softmax, diag(y) − y yᵀ, applied to dy.</summary>
    public static double[] SoftmaxBackward(double[] y, double[] dy, int n, int d)
    {
        var dx = new double[y.Length];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++)
                    s += ((j == k ? y[r * d + j] : 0) - y[r * d + j] * y[r * d + k]) * dy[r * d + k];
                dx[r * d + j] = s;
            }
        return dx;
    }

    public static (double[] Y, double[] Rstd) RmsNorm(double[] x, double[] w, int n, int d, double eps)
    {
        var y = new double[x.Length];
        var rstd = new double[n];
        for (int r = 0; r < n; r++)
        {
            double ms = 0;
            for (int j = 0; j < d; j++)
                ms += x[r * d + j] * x[r * d + j];
            rstd[r] = 1 / Math.Sqrt(ms / d + eps);
            for (int j = 0; j < d; j++)
                y[r * d + j] = x[r * d + j] * rstd[r] * w[j];
        }
        return (y, rstd);
    }

    /// <summary>
    /// The full Jacobian of y_j = x_j·r·w_j, r = (Σx²/D + eps)^−½, applied to dy:
    /// ∂y_j/∂x_k = w_j (δ_jk r − x_j r³ x_k / D); dw_j = Σ_rows dy_j x_j r.
    /// </summary>
    public static (double[] Dx, double[] Dw) RmsNormBackward(double[] dy, double[] x, double[] w, int n, int d, double eps)
    {
        var (_, rstd) = RmsNorm(x, w, n, d, eps);
        var dx = new double[x.Length];
        var dw = new double[d];
        for (int r = 0; r < n; r++)
        {
            double rs = rstd[r];
            for (int k = 0; k < d; k++)
            {
                double s = 0;
                for (int j = 0; j < d; j++)
                    s += dy[r * d + j] * w[j] * ((j == k ? rs : 0) - x[r * d + j] * rs * rs * rs * x[r * d + k] / d);
                dx[r * d + k] = s;
            }
            for (int j = 0; j < d; j++)
                dw[j] += dy[r * d + j] * x[r * d + j] * rs;
        }
        return (dx, dw);
    }

    /// <summary>
    /// HF rotate-half RoPE on x [n, h, d]: pairs (i, i + d/2) turn by the angle whose cos/sin sit in
    /// row positions[t] column i of the tables; inverse turns by the opposite angle.
    /// </summary>
    public static double[] Rope(double[] x, int n, int h, int d, double[] cos, double[] sin, long[] positions, bool inverse)
    {
        int half = d / 2;
        var y = new double[x.Length];
        for (int t = 0; t < n; t++)
            for (int head = 0; head < h; head++)
            {
                int row = (t * h + head) * d;
                for (int i = 0; i < half; i++)
                {
                    double c = cos[positions[t] * half + i], s = sin[positions[t] * half + i] * (inverse ? -1 : 1);
                    double a = x[row + i], b = x[row + i + half];
                    y[row + i] = a * c - b * s;
                    y[row + i + half] = a * s + b * c;
                }
            }
        return y;
    }

    public static double[] SwiGlu(double[] gate, double[] up)
    {
        var y = new double[gate.Length];
        for (int i = 0; i < y.Length; i++)
            y[i] = gate[i] * Sigmoid(gate[i]) * up[i];
        return y;
    }

    /// <summary>d silu(g)/dg = σ(g) + g·σ(g)(1 − σ(g)).</summary>
    public static (double[] Dgate, double[] Dup) SwiGluBackward(double[] dy, double[] gate, double[] up)
    {
        var dg = new double[gate.Length];
        var du = new double[gate.Length];
        for (int i = 0; i < dg.Length; i++)
        {
            double s = Sigmoid(gate[i]);
            dg[i] = dy[i] * up[i] * (s + gate[i] * s * (1 - s));
            du[i] = dy[i] * gate[i] * s;
        }
        return (dg, du);
    }

    public static double[] EmbeddingGather(double[] weight, int d, long[] ids)
    {
        var y = new double[ids.Length * d];
        for (int n = 0; n < ids.Length; n++)
            for (int j = 0; j < d; j++)
                y[n * d + j] = weight[ids[n] * d + j];
        return y;
    }

    /// <summary>dweight (copied) += dy[n] at row ids[n], in order.</summary>
    public static double[] EmbeddingScatterAdd(double[] dweight, double[] dy, int d, long[] ids)
    {
        var w = (double[])dweight.Clone();
        for (int n = 0; n < ids.Length; n++)
            for (int j = 0; j < d; j++)
                w[ids[n] * d + j] += dy[n * d + j];
        return w;
    }

    public static (double[] Loss, double[] Lse) CrossEntropy(double[] logits, int n, int v, long[] targets, int ignoreIndex)
    {
        var loss = new double[n];
        var lse = new double[n];
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < v; j++)
                max = Math.Max(max, logits[r * v + j]);
            double sum = 0;
            for (int j = 0; j < v; j++)
                sum += Math.Exp(logits[r * v + j] - max);
            lse[r] = max + Math.Log(sum);
            loss[r] = targets[r] == ignoreIndex ? 0 : lse[r] - logits[r * v + targets[r]];
        }
        return (loss, lse);
    }

    public static double[] CrossEntropyBackward(double[] dloss, double[] logits, int n, int v, long[] targets, int ignoreIndex)
    {
        var (_, lse) = CrossEntropy(logits, n, v, targets, ignoreIndex);
        var g = new double[logits.Length];
        for (int r = 0; r < n; r++)
        {
            if (targets[r] == ignoreIndex)
                continue;
            for (int j = 0; j < v; j++)
                g[r * v + j] = (Math.Exp(logits[r * v + j] - lse[r]) - (j == targets[r] ? 1 : 0)) * dloss[r];
        }
        return g;
    }

    // ---- optimizer

    /// <summary>
    /// One torch.optim.AdamW step (single-tensor path, amsgrad off, maximize off) in place, in float64:
    /// param.mul_(1 − lr·wd); exp_avg.lerp_(grad, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2);
    /// denom = exp_avg_sq.sqrt() / sqrt(1 − β2^t) + eps; param.addcdiv_(exp_avg, denom, −lr / (1 − β1^t)).
    /// </summary>
    public static void AdamW(double[] p, double[] g, double[] m, double[] v, double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        for (int i = 0; i < p.Length; i++)
        {
            p[i] *= 1 - lr * weightDecay;
            m[i] += (g[i] - m[i]) * (1 - beta1);
            v[i] = v[i] * beta2 + g[i] * g[i] * (1 - beta2);
            double denom = Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps;
            p[i] -= lr / bc1 * m[i] / denom;
        }
    }
}
