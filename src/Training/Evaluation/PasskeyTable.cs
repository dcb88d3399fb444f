using System.Text.Json.Serialization;

namespace RawLongLoRA.Training;

/// <summary>Passkey accuracy by length × depth: correct and asked counts per cell (a depth of null is one drawn per trial).</summary>
public sealed class PasskeyTable
{
    /// <summary>
    /// An empty table with a row per length (tokens) and a column per depth (null: drawn per trial).
    /// </summary>
    public PasskeyTable(IReadOnlyList<int> lengths, IReadOnlyList<double?> depths)
    {
        Lengths = [.. lengths];
        Depths = [.. depths];
        Correct = new int[Lengths.Length, Depths.Length];
        Trials = new int[Lengths.Length, Depths.Length];
    }

    /// <summary>The prompt lengths, in tokens.</summary>
    public int[] Lengths { get; }

    /// <summary>The depths (fraction of the filler; null: drawn per trial).</summary>
    public double?[] Depths { get; }

    /// <summary>Correct answers per [length, depth] cell.</summary>
    [JsonIgnore]
    public int[,] Correct { get; }

    /// <summary>Trials per [length, depth] cell.</summary>
    [JsonIgnore]
    public int[,] Trials { get; }

    /// <summary>Every cell, for JSON (which has no 2-D arrays) and for printing.</summary>
    public IEnumerable<PasskeyCell> Cells =>
        from l in Enumerable.Range(0, Lengths.Length)
        from d in Enumerable.Range(0, Depths.Length)
        select new PasskeyCell(Lengths[l], Depths[d], Correct[l, d], Trials[l, d]);

    /// <summary>
    /// Correct / trials of cell [<paramref name="length"/>, <paramref name="depth"/>] (indices into
    /// <see cref="Lengths"/> and <see cref="Depths"/>).
    /// </summary>
    public double Accuracy(int length, int depth) => (double)Correct[length, depth] / Trials[length, depth];

    /// <summary>Over all depths of one length.</summary>
    public double LengthAccuracy(int length) =>
        (double)Enumerable.Range(0, Depths.Length).Sum(d => Correct[length, d]) / Enumerable.Range(0, Depths.Length).Sum(d => Trials[length, d]);

    internal void Add(int length, int depth, bool correct)
    {
        Trials[length, depth]++;
        if (correct)
            Correct[length, depth]++;
    }
}
