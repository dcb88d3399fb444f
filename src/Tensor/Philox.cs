using System.Runtime.CompilerServices;

namespace RawLongLoRA;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), the counter-based
/// generator of cuRAND and PyTorch: a block is a pure function of (counter, key), so any device
/// produces the same numbers for the same element index.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>
    /// One Philox4x32-10 block: four 32-bit words from a 64-bit <paramref name="counter"/> and a 64-bit
    /// <paramref name="key"/> (the seed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(ulong counter, ulong key)
    {
        uint c0 = (uint)counter, c1 = (uint)(counter >> 32), c2 = 0, c3 = 0;
        uint k0 = (uint)key, k1 = (uint)(key >> 32);
        for (int r = 0; r < 10; r++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
            k0 += W0;
            k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUnit(uint x) => (x >> 8) * (1f / 16777216f);

    /// <summary>Box–Muller on a pair of words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float) ToNormal(uint a, uint b) => BoxMuller(MathF.Log(NormalUnit(a)), ToUnit(b));

    /// <summary>The first Box–Muller number: (0, 1] with 24 random bits, so that its log is finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float NormalUnit(uint a) => ((a >> 8) + 1) * (1f / 16777216f);

    /// <summary>
    /// Box–Muller from ln u1 and u2 (a GPU kernel brings its own log, the rest is shared): two independent standard
    /// normal numbers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float) BoxMuller(float logU1, float u2)
    {
        float r = MathF.Sqrt(-2f * logU1);
        float t = 2f * MathF.PI * u2;
        return (r * MathF.Cos(t), r * MathF.Sin(t));
    }

    /// <summary>The four numbers of one counter block, transformed for <paramref name="kind"/>.</summary>
    public static void Block4(RandomKind kind, ulong counter, ulong seed, float a, float b, Span<float> w)
    {
        var (x0, x1, x2, x3) = Block(counter, seed);
        (w[0], w[1], w[2], w[3]) = Transform(kind, x0, x1, x2, x3, a, b);
    }

    /// <summary>A block's four words as four numbers of <paramref name="kind"/> (Normal pairs words 0, 1 and 2, 3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float, float, float) Transform(RandomKind kind, uint x0, uint x1, uint x2, uint x3, float a, float b)
    {
        return kind switch
        {
            RandomKind.Uniform => Uniform(x0, x1, x2, x3, a, b),
            RandomKind.Bernoulli => Bernoulli(x0, x1, x2, x3, a),
            _ => Normal(ToNormal(x0, x1), ToNormal(x2, x3), a, b),
        };
    }

    /// <summary>Four words as four numbers uniform on [a, b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float, float, float) Uniform(uint x0, uint x1, uint x2, uint x3, float a, float b)
        => (a + (b - a) * ToUnit(x0), a + (b - a) * ToUnit(x1), a + (b - a) * ToUnit(x2), a + (b - a) * ToUnit(x3));

    /// <summary>Four words as four draws that are 1 with probability <paramref name="p"/>, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float, float, float) Bernoulli(uint x0, uint x1, uint x2, uint x3, float p)
        => (ToUnit(x0) < p ? 1 : 0, ToUnit(x1) < p ? 1 : 0, ToUnit(x2) < p ? 1 : 0, ToUnit(x3) < p ? 1 : 0);

    /// <summary>Two pairs of standard normal numbers as four of mean <paramref name="a"/> and deviation <paramref name="b"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float, float, float) Normal((float, float) p, (float, float) q, float a, float b)
        => (a + b * p.Item1, a + b * p.Item2, a + b * q.Item1, a + b * q.Item2);

    /// <summary>Element i of a draw at (seed, offset): the stream every backend must reproduce.</summary>
    public static float Sample(RandomKind kind, ulong seed, ulong offset, long i, float a, float b)
    {
        Span<float> w = stackalloc float[4];
        Block4(kind, offset + (ulong)(i / 4), seed, a, b, w);
        return w[(int)(i % 4)];
    }
}
