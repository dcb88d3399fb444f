namespace RawLongLoRA.Training;

/// <summary>The longest context whose training step fits in a memory budget, by the one memory model (<see cref="StepMemory"/>).</summary>
public static class ContextFit
{
    /// <summary>Contexts are searched in steps of this many tokens (a multiple of every S2-Attn group count and attention tile).</summary>
    public const int Step = 256;

    /// <summary>The longest context searched: 2²⁸ tokens.</summary>
    public const int Most = 1 << 28;

    /// <summary>
    /// The most tokens per row, a multiple of <see cref="Step"/>, whose step's total (<see cref="MemoryPlan.Total"/>)
    /// fits in <paramref name="memory"/> bytes, up to <see cref="Most"/>; 0 when not even <see cref="Step"/> tokens fit. Memory grows with the
    /// context, so a binary search finds it.
    /// </summary>
    public static int Longest(StepShape s, long memory)
    {
        int fits = 0, fails = Most / Step + 1;
        while (fails - fits > 1)
        {
            int mid = fits + (fails - fits) / 2;
            if (StepMemory.Estimate(s with { Tokens = mid * Step }).Total <= memory)
                fits = mid;
            else
                fails = mid;
        }
        return fits * Step;
    }
}
