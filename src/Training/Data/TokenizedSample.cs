namespace RawLongLoRA.Training;

/// <summary>
/// One document or instruction sample as token ids, before packing. The first
/// <see cref="PromptLength"/> ids are prompt: no target predicts them (SFT loss masking); 0 for a document.
/// </summary>
internal readonly record struct TokenizedSample(int[] Ids, int PromptLength);
