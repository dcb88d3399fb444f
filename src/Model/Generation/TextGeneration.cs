namespace RawLongLoRA.Model;

/// <summary>
/// Autoregressive generation with a KV cache: one forward over the prompt, then one token per step
/// attending over the cache. Only the last position's logits are computed.
/// </summary>
public static class TextGeneration
{
    /// <summary>The new tokens (the prompt excluded); onToken sees each as it is chosen.</summary>
    public static int[] Generate(CausalLM model, IReadOnlyList<int> prompt, SamplingOptions options, Action<int>? onToken = null)
    {
        options.Validate();
        if (prompt.Count == 0)
            throw new ArgumentException("generate: the prompt is empty (a BOS token at least is needed)", nameof(prompt));
        using var noGrad = Autograd.NoGrad();
        using var cache = model.NewCache(1, prompt.Count + options.MaxNewTokens);
        var output = new List<int>();
        var next = prompt.Select(i => (long)i).ToArray();
        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            int token;
            using (new DisposeScope())
            {
                var ids = Tensor.FromArray(next, [1, next.Length], model.Device);
                var hidden = model.Hidden(ids, cache: cache);
                var last = hidden.Narrow(1, next.Length - 1, 1).Linear(model.HeadWeight);
                token = Sampler.Pick(last.ToFloatArray(), options, step);
            }
            output.Add(token);
            onToken?.Invoke(token);
            if (options.StopTokens.Contains(token))
                break;
            next = [token];
        }
        return [.. output];
    }
}
