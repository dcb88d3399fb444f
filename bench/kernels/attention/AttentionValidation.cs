using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The kernel against <see cref="AttentionReference"/> (float64) before it is timed. Up to
/// <see cref="FullUpTo"/> tokens the whole problem: o, lse, dq, dk, dv. Past that the reference's
/// T² cost is out of reach, so the last <see cref="Rows"/> queries' o and lse are checked on a narrowed
/// problem with the same answer: those queries alone, as a call at their positions (QueryStart) over the keys they
/// can see — all of them under full causal, their S2-Attn group's under S2 (each half of the heads
/// narrowed to its own group). Errors are max |kernel − reference| over max(1, max |reference|).
/// </summary>
internal static unsafe class AttentionValidation
{
    public const int FullUpTo = 1024;
    public const int Rows = 16;

    /// <summary>Loose for float32 sums over thousands of keys; a wrong mask or tile errs by O(1).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>At bf16, against the reference rounded alike: one bf16 step (2⁻⁷) of the largest value, as P and dS may round apart.</summary>
    public const double Bf16Tolerance = 1.0 / 128;

    /// <summary>The tolerance at a precision.</summary>
    public static double ToleranceFor(Precision precision) => precision == Precision.Bf16 ? Bf16Tolerance : Tolerance;

    /// <summary>Runs forward and backward on p and returns the largest normalised error and what it covered.</summary>
    public static (double Error, string Scope) Check(AttentionProblem p, AttentionSpec spec, Precision precision)
    {
        p.ForwardBackward(spec, precision);
        return p.T <= FullUpTo ? Full(p, spec, precision) : (LastRows(p, spec, precision), $"o, lse of the last {Rows} queries");
    }

    private static (double, string) Full(AttentionProblem p, AttentionSpec spec, Precision precision)
    {
        int t = p.T, hq = p.Hq, hkv = p.Hkv, d = p.D;
        long qn = (long)t * hq * d, kn = (long)t * hkv * d;
        float[] q = AttentionProblem.Copy(p.Q, qn), k = AttentionProblem.Copy(p.K, kn), v = AttentionProblem.Copy(p.V, kn);
        var (o, lse) = AttentionReference.Forward(q, k, v, 1, t, t, hq, hkv, d, spec, precision);
        var (dq, dk, dv) = AttentionReference.Backward(AttentionProblem.Copy(p.DOut, qn), q, k, v, 1, t, t, hq, hkv, d, spec, null, precision);
        double error = new[]
        {
            Error(o, p.O), Error(lse, p.Lse), Error(dq, p.DQ), Error(dk, p.DK), Error(dv, p.DV),
        }.Max();
        return (error, "o, lse, dq, dk, dv in full");
    }

    private static double LastRows(AttentionProblem p, AttentionSpec spec, Precision precision)
    {
        int t = p.T, hq = p.Hq, hkv = p.Hkv, d = p.D, first = t - Rows;
        int[] lo = AttentionMask.LowerBounds(spec, 1, t, t);
        double error = 0;
        for (int half = 0; half < 2; half++)
        {
            int keyStart = lo[half * t + first];
            if (lo[half * t + t - 1] != keyStart)
                throw new InvalidOperationException($"the last {Rows} queries straddle a group boundary: no narrowed check");
            int s = t - keyStart;
            float[] q = AttentionProblem.Copy(p.Q + (long)first * hq * d, (long)Rows * hq * d);
            float[] k = AttentionProblem.Copy(p.K + (long)keyStart * hkv * d, (long)s * hkv * d);
            float[] v = AttentionProblem.Copy(p.V + (long)keyStart * hkv * d, (long)s * hkv * d);
            var narrowed = new AttentionSpec { Scale = spec.Scale, QueryStart = s - Rows };
            var (o, lse) = AttentionReference.Forward(q, k, v, 1, Rows, s, hq, hkv, d, narrowed, precision);
            int h0 = half == 0 ? 0 : hq / 2, h1 = half == 0 ? hq / 2 : hq;
            for (int h = h0; h < h1; h++)
            {
                float[] oHead = new float[Rows * d], lseHead = new float[Rows], oRef = new float[Rows * d];
                for (int i = 0; i < Rows; i++)
                {
                    for (int c = 0; c < d; c++)
                    {
                        oHead[i * d + c] = p.O[((long)(first + i) * hq + h) * d + c];
                        oRef[i * d + c] = o[(i * hq + h) * d + c];
                    }
                    lseHead[i] = p.Lse[(long)h * t + first + i];
                }
                fixed (float* po = oHead, pl = lseHead)
                    error = Math.Max(error, Math.Max(Error(oRef, po), Error(lse.AsSpan(h * Rows, Rows).ToArray(), pl)));
            }
        }
        return error;
    }

    private static double Error(float[] expected, float* actual) => Error(expected, new ReadOnlySpan<float>(actual, expected.Length));

    /// <summary>max |actual − expected| over max(1, max |expected|); NaN if actual holds a NaN.</summary>
    public static double Error(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double scale = 1, error = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            error = Math.Max(error, Math.Abs((double)actual[i] - expected[i])); // a NaN stays
        }
        return error / scale;
    }
}
