namespace RawLongLoRA.Training;

/// <summary>What <see cref="GradClip.ClipByGlobalNorm"/> found: the global L2 norm before clipping and whether it scaled.</summary>
public readonly record struct GradNorm(double Norm, bool Clipped)
{
    /// <summary>False for a NaN or infinite norm: the gradients were left as they are and the step should be skipped.</summary>
    public bool IsFinite => double.IsFinite(Norm);
}

/// <summary>
/// torch.nn.utils.clip_grad_norm_ with the L2 norm: one norm over every gradient and every gradient scaled by
/// max_norm / (norm + 1e-6) when the norm exceeds max_norm. The norm is computed on the gradients' device (a
/// fused Σ g² per gradient, float32 as torch's), so a training step can clip without reading anything back
/// (<see cref="ClipOnDevice"/>); <see cref="ClipByGlobalNorm"/> reads the norm first and, unlike torch, scales
/// nothing when it is not finite (torch would spread the NaN into every gradient).
/// </summary>
public static class GradClip
{
    /// <summary>Clips the gradients of <paramref name="parameters"/> in place; parameters without one are skipped.</summary>
    public static GradNorm ClipByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        CheckMaxNorm(maxNorm);
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0)
            return new GradNorm(0, false);
        using var normOnDevice = GlobalNormOnDevice(grads);
        double norm = normOnDevice.Item();
        if (!double.IsFinite(norm) || norm <= maxNorm)
            return new GradNorm(norm, false);
        Scale(grads, normOnDevice, maxNorm);
        return new GradNorm(norm, true);
    }

    /// <summary>√(Σ g²) over all elements of all <paramref name="grads"/>, read back to the host.</summary>
    public static double GlobalNorm(IEnumerable<Tensor> grads)
    {
        var list = grads.ToList();
        if (list.Count == 0)
            return 0;
        using var norm = GlobalNormOnDevice(list);
        return norm.Item();
    }

    /// <summary>
    /// √(Σ g²) over all elements of all <paramref name="grads"/> (at least one, all on one device) as a [1] float32
    /// tensor there; nothing is read back. The caller disposes it.
    /// </summary>
    public static Tensor GlobalNormOnDevice(IReadOnlyList<Tensor> grads)
    {
        if (grads.Count == 0)
            throw new ArgumentException("clip: no gradients to take the norm of", nameof(grads));
        var device = grads[0].Device;
        var backend = device.Backend;
        var sum = Tensor.Zeros([1], DType.F32, device).DetachFromScope();
        using var part = Tensor.Empty([1], DType.F32, device);
        foreach (var g in grads)
        {
            Check.SameDevice("clip", grads[0], g);
            using var keep = part.Restride(Layout.Contiguous(Enumerable.Repeat(1, g.Rank).ToArray()));
            backend.Reduce(ReduceOp.SumOfSquares, keep, g);
            backend.Binary(BinaryOp.Add, sum, sum, part);
        }
        backend.Unary(UnaryOp.Sqrt, sum, sum);
        return sum;
    }

    /// <summary>
    /// Scales every gradient of <paramref name="grads"/> by min(1, max_norm / (norm + 1e-6)) on their device and returns
    /// the norm before clipping ([1] float32, the caller disposes it) without reading it back. A NaN or infinite norm
    /// leaves NaN or zero gradients: the caller reads the norm with the loss and skips such a step.
    /// </summary>
    public static Tensor ClipOnDevice(IReadOnlyList<Tensor> grads, double maxNorm)
    {
        CheckMaxNorm(maxNorm);
        var norm = GlobalNormOnDevice(grads);
        Scale(grads, norm, maxNorm);
        return norm;
    }

    /// <summary>g ·= min(1, max_norm / (norm + 1e-6)), in float32 as torch computes it.</summary>
    private static void Scale(IReadOnlyList<Tensor> grads, Tensor norm, double maxNorm)
    {
        var backend = norm.Device.Backend;
        using var coef = Tensor.Empty([1], DType.F32, norm.Device);
        using var max = Tensor.Full([1], maxNorm, DType.F32, norm.Device);
        using var one = Tensor.Full([1], 1, DType.F32, norm.Device);
        backend.Unary(UnaryOp.AddScalar, coef, norm, 1e-6f);
        backend.Binary(BinaryOp.Div, coef, max, coef);
        backend.Binary(BinaryOp.Minimum, coef, coef, one);
        foreach (var g in grads)
            backend.Binary(BinaryOp.Mul, g, g, coef);
    }

    private static void CheckMaxNorm(double maxNorm)
    {
        if (!(maxNorm > 0) || double.IsInfinity(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "clip: max_norm must be finite and positive");
    }
}
