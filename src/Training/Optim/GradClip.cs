namespace RawLongLoRA.Training;

/// <summary>What <see cref="GradClip.ClipByGlobalNorm"/> found: the global L2 norm before clipping and whether it scaled.</summary>
public readonly record struct GradNorm(double Norm, bool Clipped)
{
    /// <summary>False for a NaN or infinite norm: the gradients were left as they are and the step should be skipped.</summary>
    public bool IsFinite => double.IsFinite(Norm);
}

/// <summary>
/// torch.nn.utils.clip_grad_norm_ with the L2 norm: one norm over every gradient, summed in double so that
/// millions of small squares do not lose bits, and every gradient scaled by max_norm / (norm + 1e-6) when
/// the norm exceeds max_norm. Unlike torch, a non-finite norm scales nothing (torch would spread the NaN
/// into every gradient); the caller reads <see cref="GradNorm.IsFinite"/> and skips the update.
/// </summary>
public static class GradClip
{
    /// <summary>Clips the gradients of <paramref name="parameters"/> in place; parameters without one are skipped.</summary>
    public static GradNorm ClipByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0) || double.IsInfinity(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "clip: max_norm must be finite and positive");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        double norm = GlobalNorm(grads);
        if (!double.IsFinite(norm) || norm <= maxNorm)
            return new GradNorm(norm, false);
        float scale = (float)(maxNorm / (norm + 1e-6));
        foreach (var g in grads)
            g.Device.Backend.Unary(UnaryOp.Scale, g, g, scale);
        return new GradNorm(norm, true);
    }

    /// <summary>√(Σ g²) over all elements of all <paramref name="grads"/>, accumulated in double.</summary>
    public static double GlobalNorm(IEnumerable<Tensor> grads)
    {
        double sum = 0;
        foreach (var g in grads)
            sum += SumOfSquares(g.Device.IsCpu && g.IsContiguous && g.DType == DType.F32 ? g.AsSpan<float>() : g.ToFloatArray());
        return Math.Sqrt(sum);
    }

    private static double SumOfSquares(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values)
            sum += (double)v * v;
        return sum;
    }
}
