namespace RawLongLoRA.Distributed;

/// <summary>The (query block, key block) pairs a Ring strategy has computed on this rank: what tests of skipping count.</summary>
internal sealed class RingWork
{
    /// <summary>Forward kernel calls, one per pair computed.</summary>
    public int Forward { get; set; }

    /// <summary>Backward kernel calls, one per pair computed.</summary>
    public int Backward { get; set; }
}
