using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>The special ids packing needs from a tokenizer.</summary>
internal static class DataTokens
{
    /// <summary>The EOS that ends every document and answer: the first of <see cref="Tokenizer.EosIds"/>.</summary>
    public static int Eos(Tokenizer tokenizer) => tokenizer.EosIds.Count > 0 ? tokenizer.EosIds[0]
        : throw new ArgumentException("the tokenizer has no EOS token (eos_token, or generation_config.json's eos_token_id); documents need one to end", nameof(tokenizer));

    /// <summary>Padding: the tokenizer's pad token, else its EOS (padding is never a target, so its id does not matter to the loss).</summary>
    public static int Pad(Tokenizer tokenizer) => tokenizer.PadId ?? Eos(tokenizer);
}
