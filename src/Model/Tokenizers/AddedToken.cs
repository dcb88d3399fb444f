namespace RawLongLoRA.Model;

/// <summary>
/// A token matched in raw text before the BPE runs ("&lt;|im_start|&gt;", "&lt;s&gt;", "&lt;think&gt;").
/// Special ones are dropped by Decode(skipSpecialTokens: true); LStrip / RStrip make the token
/// swallow the whitespace before / after it.
/// </summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false);
