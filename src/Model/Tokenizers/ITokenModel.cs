namespace RawLongLoRA.Model;

/// <summary>A vocabulary's BPE, run on each stretch of text between added tokens.</summary>
internal interface ITokenModel
{
    /// <summary>Appends the ids of <paramref name="text"/>; <paramref name="atStart"/>: it begins the whole input.</summary>
    void Encode(string text, bool atStart, List<int> ids);
}
