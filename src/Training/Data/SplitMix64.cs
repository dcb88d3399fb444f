namespace RawLongLoRA.Training;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014; the seeder of Java's SplittableRandom and of xoshiro):
/// integer arithmetic only, so the data order is the same on every machine and .NET version, which
/// System.Random does not promise.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next() => Mix(_state += 0x9E3779B97F4A7C15);

    /// <summary>A number in [0, <paramref name="n"/>): the high word of Next() × n (Lemire's method, without the rejection step; its bias is below n / 2^64).</summary>
    public int NextBelow(int n) => (int)Math.BigMul(Next(), (ulong)n, out _);

    /// <summary>SplitMix64's output function, a bijective 64-bit hash.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
