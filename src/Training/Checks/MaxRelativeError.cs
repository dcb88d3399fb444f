namespace RawLongLoRA.Training.Checks;

/// <summary>
/// How far one device's result is from another's: the largest absolute difference over the largest magnitude of
/// the reference (ggml's test-backend-ops habit of a normalised error, so a tolerance means the same at every scale).
/// A NaN where the reference has one too (an element both left poisoned) counts as equal; anywhere else it is
/// infinitely far.
/// </summary>
public static class MaxRelativeError
{
    /// <summary>The error of <paramref name="ours"/> against <paramref name="reference"/>; lengths must agree.</summary>
    public static double Of(ReadOnlySpan<float> ours, ReadOnlySpan<float> reference)
    {
        if (ours.Length != reference.Length)
            throw new ArgumentException($"max relative error: {ours.Length} elements against {reference.Length}");
        double diff = 0, scale = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            float a = ours[i], b = reference[i];
            if (float.IsNaN(a) && float.IsNaN(b) || a == b)
                continue; // equal infinities too
            double d = Math.Abs((double)a - b);
            if (double.IsNaN(d) || double.IsInfinity(d))
                return double.PositiveInfinity;
            diff = Math.Max(diff, d);
        }
        foreach (float b in reference)
            if (float.IsFinite(b))
                scale = Math.Max(scale, Math.Abs(b));
        return diff == 0 ? 0 : diff / Math.Max(scale, float.Epsilon);
    }
}
