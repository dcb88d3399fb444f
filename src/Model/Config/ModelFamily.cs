namespace RawLongLoRA.Model;

/// <summary>
/// The decoder graphs this engine runs. Mistral is Llama's graph under another name; Qwen2 adds a
/// bias to q, k and v; Qwen3 adds a per-head RMSNorm on q and k before RoPE.
/// </summary>
public enum ModelFamily
{
    /// <summary>LlamaForCausalLM: Llama 2, Llama 3 and models of that graph.</summary>
    Llama,
    /// <summary>
    /// MistralForCausalLM: Llama's graph under another name (its sliding window is read, not applied).
    /// </summary>
    Mistral,
    /// <summary>Qwen2ForCausalLM: Llama's graph with biases on q, k and v.</summary>
    Qwen2,
    /// <summary>
    /// Qwen3ForCausalLM: Llama's graph with a per-head RMSNorm of q and k and a head_dim of its own.
    /// </summary>
    Qwen3,
}

internal static class ModelFamilies
{
    /// <summary>Each supported Hugging Face class, its model_type and its family.</summary>
    public static readonly (string Architecture, string ModelType, ModelFamily Family)[] Supported =
    [
        ("LlamaForCausalLM", "llama", ModelFamily.Llama),
        ("MistralForCausalLM", "mistral", ModelFamily.Mistral),
        ("Qwen2ForCausalLM", "qwen2", ModelFamily.Qwen2),
        ("Qwen3ForCausalLM", "qwen3", ModelFamily.Qwen3),
    ];

    public static string SupportedArchitectures => string.Join(", ", Supported.Select(s => s.Architecture));

    public static string SupportedModelTypes => string.Join(", ", Supported.Select(s => s.ModelType));
}
