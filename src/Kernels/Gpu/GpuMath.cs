using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// e^x, ln x and x^y for kernels: ILGPU 1.5.3's PTX backend has no MathF.Exp, Log or Pow without ILGPU.Algorithms
/// (whose PTX versions are approximations), so these are built from adds, multiplies and bit operations that every
/// backend compiles. Exp is the CPU's <c>VMath.Exp</c> algorithm (Cody–Waite reduction, Taylor to r⁷, 2^k in two
/// steps); Log reduces to [√½, √2) and sums the atanh series. Both stay within a few float32 ulps.
/// </summary>
internal static class GpuMath
{
    private const float Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860677e-6f, Log2E = 1.44269504f;

    /// <summary>e^x: +∞ past 88.7, 0 below −103.9, NaN stays NaN.</summary>
    public static float Exp(float x)
    {
        // Bounded so that 2^k fits two float scalings; a NaN fails both tests and passes through.
        float c = x < -104f ? -104f : x;
        c = c > 89f ? 89f : c;
        float k = MathF.Round(c * Log2E);
        float r = c - k * Ln2Hi; // exact: k·Ln2Hi has at most 24 significant bits
        r -= k * Ln2Lo;
        float s = 1f / 5040 * r + 1f / 720;
        s = s * r + 1f / 120;
        s = s * r + 1f / 24;
        s = s * r + 1f / 6;
        s = s * r + 0.5f;
        // 1 + r + r²·s with 1 + r split into hi + lo, so the last rounding is the only large one.
        float hi = 1f + r;
        float p = hi + (r * r * s + (r - (hi - 1f)));
        int ki = (int)k, half = ki / 2;
        return p * Pow2(half) * Pow2(ki - half);
    }

    /// <summary>ln x: −∞ at 0, NaN below 0 or at NaN, +∞ at +∞; subnormals included.</summary>
    public static float Log(float x)
    {
        if (!(x > 0f))
            return x == 0f ? float.NegativeInfinity : float.NaN;
        if (x == float.PositiveInfinity)
            return x;
        int e = 0;
        if (x < 1.17549435e-38f) // subnormal: scale into the normal range first
        {
            x *= 8388608f;
            e = -23;
        }
        uint u = Interop.FloatAsInt(x);
        e += (int)(u >> 23) - 127;
        float m = Interop.IntAsFloat((u & 0x7FFFFFu) | 0x3F800000u); // [1, 2)
        if (m > 1.41421356f)
        {
            m *= 0.5f;
            e++;
        }
        // ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172: the series to s⁹ is below float precision after.
        float f = m - 1f, sv = f / (2f + f), z = sv * sv;
        float series = z * (1f / 3 + z * (1f / 5 + z * (1f / 7 + z * (1f / 9))));
        float lnM = 2f * sv + 2f * sv * series;
        return e * Ln2Hi + (e * Ln2Lo + lnM);
    }

    /// <summary>
    /// x^y as MathF.Pow: 1 at y = 0; a negative x with an integer y keeps the sign of an odd power, with any other y
    /// it is NaN (but −∞ gives ±∞ or 0, as IEEE says).
    /// </summary>
    public static float Pow(float x, float y)
    {
        float ax = MathF.Abs(x);
        if (y == 0f || x == 1f || ax == 1f && float.IsInfinity(y))
            return 1f;
        if (float.IsNaN(x) || float.IsNaN(y))
            return float.NaN;
        float v = ax == 0f ? (y > 0f ? 0f : float.PositiveInfinity) : Exp(y * Log(ax));
        if (x >= 0f)
            return v;
        bool large = MathF.Abs(y) >= 16777216f; // every float this large is an even integer
        if (!large && MathF.Round(y) != y)
            return float.IsInfinity(x) ? v : float.NaN;
        return !large && ((long)y & 1) != 0 ? -v : v;
    }

    /// <summary>2^n for n in [−126, 127], from its bits.</summary>
    private static float Pow2(int n) => Interop.IntAsFloat((uint)(n + 127) << 23);
}
