namespace RawLongLoRA.Training;

/// <summary>One cell of a <see cref="PasskeyTable"/>.</summary>
public sealed record PasskeyCell(int Length, double? Depth, int Correct, int Trials)
{
    /// <summary>Correct / Trials.</summary>
    public double Accuracy => (double)Correct / Trials;
}
