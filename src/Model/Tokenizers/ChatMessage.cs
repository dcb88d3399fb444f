namespace RawLongLoRA.Model;

/// <summary>One turn of a conversation; Role is "system", "user" or "assistant", as in Hugging Face chat data.</summary>
public sealed record ChatMessage(string Role, string Content);
