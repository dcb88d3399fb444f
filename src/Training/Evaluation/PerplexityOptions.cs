using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>How <see cref="Perplexity"/> reads documents and slides its window over them.</summary>
public sealed record PerplexityOptions
{
    /// <summary>Tokens the model reads at once: the context evaluated; null is the model's context (max_position_embeddings, after any scaling).</summary>
    public int? Window { get; init; }

    /// <summary>
    /// Tokens each window after the first scores (see <see cref="SlidingWindow.Plan"/>); null is
    /// window / 2, so every scored token sees at least half a window of context. Window gives
    /// LongLoRA's non-overlapping windows.
    /// </summary>
    public int? Stride { get; init; }

    /// <summary>The jsonl field holding a document's text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>Evaluate a window longer than the model's context, unscaled, instead of refusing it.</summary>
    public bool AllowBeyondContext { get; init; }

    /// <summary>The window and stride for <paramref name="model"/>, defaults filled in.</summary>
    public (int Window, int Stride) For(Model.CausalLM model)
    {
        int window = Window ?? ContextExtension.Reach(model.Config);
        return (window, Stride ?? Math.Max(1, window / 2));
    }
}
