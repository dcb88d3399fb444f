namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// A device variant against the CPU reference before it is timed, on a small problem of the timed one's kind: the same
/// mask, head dim and grouped-query ratio, T = <see cref="SmallT"/> (so S2-Attn's groups are T/4 = 64) and at most two
/// key/value heads. Its outputs are filled with NaN before each call, so an element it leaves unwritten fails; the
/// backward starts from the variant's own o and lse. Errors are <see cref="AttentionValidation.Error"/> per output,
/// within <see cref="AttentionValidation.Bf16Tolerance"/> (one bf16 step of the largest value: the inputs are bf16
/// already, and P and dS may round apart).
/// </summary>
internal static class DeviceAttentionValidation
{
    /// <summary>Tokens of the validation problem: several tiles of any tile size up to 128 on either side.</summary>
    public const int SmallT = 256;

    /// <summary>The validation problem's shape for a timed <paramref name="shape"/>.</summary>
    public static AttentionShape Small(AttentionShape shape)
    {
        int hkv = Math.Min(shape.Hkv, 2);
        return new AttentionShape(Math.Min(shape.T, SmallT), hkv * (shape.Hq / shape.Hkv), hkv, shape.D);
    }

    /// <summary>What a variant must produce: o, lse, dq, dk, dv of the reference.</summary>
    public sealed record Expected(float[][] Outputs);

    /// <summary>The names of the outputs, in the order <see cref="Expected.Outputs"/> and the errors hold them.</summary>
    public static readonly string[] Names = ["o", "lse", "dq", "dk", "dv"];

    /// <summary>The reference's outputs on <paramref name="t"/>'s inputs.</summary>
    public static Expected Reference(AttentionTensors t, AttentionSpec spec)
    {
        var reference = new ReferenceAttention();
        reference.Forward(t, spec);
        reference.Backward(t, spec);
        return new(Read(t));
    }

    /// <summary>Runs <paramref name="kernel"/> forward and backward on <paramref name="t"/>, poisoned first, and returns each output's error.</summary>
    public static double[] Errors(AttentionKernel kernel, AttentionTensors t, AttentionSpec spec, Expected expected)
    {
        t.PoisonForward();
        kernel.Forward(t, spec);
        t.PoisonBackward();
        kernel.Backward(t, spec);
        return Read(t).Select((actual, i) => AttentionValidation.Error(expected.Outputs[i], actual)).ToArray();
    }

    /// <summary>The largest error, NaN if any is (an output left unwritten).</summary>
    public static double Worst(double[] errors) => errors.Aggregate(0.0, Math.Max);

    /// <summary>"o 1.2e-03, lse 3.0e-07, ...".</summary>
    public static string Describe(double[] errors) => string.Join(", ", errors.Select((e, i) => $"{Names[i]} {e:0.0e+00}"));

    private static float[][] Read(AttentionTensors t) => [t.O.ToFloatArray(), t.Lse.ToFloatArray(), t.DQ.ToFloatArray(), t.DK.ToFloatArray(), t.DV.ToFloatArray()];
}
