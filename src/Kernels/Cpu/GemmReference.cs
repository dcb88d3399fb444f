namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The slow GEMM that <see cref="Gemm"/> is checked against: one element at a time, summed in double.
/// Also measures how far a computed C is from it, for the tests and the bench's validation.
/// </summary>
public static unsafe class GemmReference
{
    /// <summary>Same contract as <see cref="Gemm.Run"/>.</summary>
    public static void Run(int batch, int m, int n, int k, float alpha, in GemmOperand a, in GemmOperand b, float beta, in GemmOperand c,
                           Precision precision = Precision.F32)
    {
        for (int bi = 0; bi < batch; bi++)
        {
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    float* cij = (float*)c.Ptr + bi * c.BatchStride + i * c.RowStride + j * c.ColStride;
                    double before = beta == 0f ? 0 : *cij;
                    *cij = (float)(alpha * Dot(bi, i, j, k, a, b, precision, out _) + beta * before);
                }
            }
        }
    }

    /// <summary>
    /// The largest error of `after` (C once a GEMM ran) against the double reference, each element's
    /// error divided by |alpha|·Σ|a||b| + |beta|·|c| (the scale float32 rounding works at), over every
    /// element, or over `samples` of them picked deterministically when C is larger. `before` holds C
    /// as it was (read only when beta != 0). At <see cref="Precision.Bf16"/> the reference rounds every
    /// operand element to bfloat16 first, as the GEMM promises to.
    /// </summary>
    public static double MaxError(int batch, int m, int n, int k, float alpha, in GemmOperand a, in GemmOperand b, float beta,
                                  in GemmOperand before, in GemmOperand after, long samples = long.MaxValue, Precision precision = Precision.F32)
    {
        long total = (long)batch * m * n;
        bool all = total <= samples;
        var rng = new Random(12345);
        double worst = 0;
        for (long s = 0; s < (all ? total : samples); s++)
        {
            long e = all ? s : s == 0 ? 0 : s == 1 ? total - 1 : rng.NextInt64(total);
            int bi = (int)(e / ((long)m * n)), i = (int)(e / n % m), j = (int)(e % n);
            double dot = Dot(bi, i, j, k, a, b, precision, out double scale);
            long at = bi * before.BatchStride + i * before.RowStride + j * before.ColStride;
            double c0 = beta == 0f ? 0 : ((float*)before.Ptr)[at];
            double got = ((float*)after.Ptr)[bi * after.BatchStride + i * after.RowStride + j * after.ColStride];
            double err = Math.Abs(got - (alpha * dot + beta * c0)) / (Math.Abs(alpha) * scale + Math.Abs(beta * c0) + double.Epsilon);
            worst = double.IsNaN(err) ? double.PositiveInfinity : Math.Max(worst, err);
        }
        return worst;
    }

    /// <summary>
    /// What MaxError may reach: the worst case of float32 arithmetic over k products plus the alpha, beta
    /// and KC-block terms, (k + 4) unit roundoffs, with a factor 2 of slack. A wrong index errs by O(1).
    /// </summary>
    public static double Tolerance(int k) => 2.0 * (k + 4) * Math.Pow(2, -24);

    private static double Dot(int bi, int i, int j, int k, in GemmOperand a, in GemmOperand b, Precision precision, out double scale)
    {
        double sum = 0;
        scale = 0;
        for (int p = 0; p < k; p++)
        {
            double x = precision == Precision.Bf16
                ? Bf16(Element(a, bi, i, p)) * Bf16(Element(b, bi, p, j))
                : Element(a, bi, i, p) * Element(b, bi, p, j);
            sum += x;
            scale += Math.Abs(x);
        }
        return sum;
    }

    private static double Bf16(double x) => Numerics.Bf16ToFloat(Numerics.FloatToBf16((float)x));

    private static double Element(in GemmOperand o, long bi, long r, long c)
    {
        long at = bi * o.BatchStride + r * o.RowStride + c * o.ColStride;
        return o.Type switch
        {
            DType.F32 => ((float*)o.Ptr)[at],
            DType.BF16 => Numerics.Bf16ToFloat(((ushort*)o.Ptr)[at]),
            DType.F16 => Numerics.F16ToFloat(((ushort*)o.Ptr)[at]),
            _ => throw new ArgumentException($"gemm reference: operand dtype {o.Type.TorchName()} is not float32, bfloat16 or float16"),
        };
    }
}
