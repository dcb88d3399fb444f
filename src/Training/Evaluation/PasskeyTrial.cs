namespace RawLongLoRA.Training;

/// <summary>One passkey question: the cell it counts in (length, requested depth; null for a drawn one), the depth used, the key and what the model answered.</summary>
public sealed record PasskeyTrial(int Length, double? Depth, int Trial, double DepthUsed, string Key, int PromptTokens, string Answer, bool Correct);
