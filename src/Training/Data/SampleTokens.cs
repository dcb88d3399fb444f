namespace RawLongLoRA.Training;

/// <summary>
/// Tokenized samples in file order, as packing reads them: each one's ids and how many of them are
/// prompt (no target predicts those). Held in memory (<see cref="SampleList"/>) or memory-mapped
/// from a token cache (<see cref="TokenCache"/>), so that a corpus larger than memory trains.
/// </summary>
public abstract class SampleTokens : IDisposable
{
    /// <summary>The number of samples.</summary>
    public abstract long Count { get; }

    /// <summary>The ids of sample <paramref name="sample"/>; valid while this object is.</summary>
    public abstract ReadOnlySpan<int> Ids(long sample);

    /// <summary>
    /// How many of sample <paramref name="sample"/>'s first tokens are prompt (0 for pretraining documents).
    /// </summary>
    public abstract int PromptLength(long sample);

    /// <summary>The sample's token count; a cache answers it without touching the tokens.</summary>
    public virtual int Length(long sample) => Ids(sample).Length;

    /// <summary>Releases what the samples hold (a token cache's mapped files).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>Samples held in memory.</summary>
internal sealed class SampleList(IReadOnlyList<TokenizedSample> samples) : SampleTokens
{
    public override long Count => samples.Count;

    public override ReadOnlySpan<int> Ids(long sample) => samples[checked((int)sample)].Ids;

    public override int PromptLength(long sample) => samples[checked((int)sample)].PromptLength;
}
