using RawLongLoRA.Model;

namespace RawLongLoRA.Training.Checks;

/// <summary>
/// LongLoRA's training step on a tiny random Llama, made the same way on any device so that two devices can be
/// compared tensor for tensor: LoRA on q, k, v, o with the embedding and norms trained, S2-Attn (G = T/4) over a
/// row that packs two documents, AdamW. The model is drawn on the host from <c>seed</c> and then moved, so every
/// device starts from the same bits. `bench gpu-check` and the GPU tests run it on the CPU and on a GPU backend.
/// </summary>
public sealed class TinyTrainingStep : IDisposable
{
    private readonly AdamW _optimizer;
    private readonly TrainingBatch _batch;
    private readonly Precision _precision;

    /// <summary>
    /// The model of <paramref name="config"/> (default <see cref="TinyConfig"/>) on <paramref name="device"/>, with a
    /// fresh adapter and a fixed batch of <paramref name="tokens"/> tokens (a multiple of 8: S2-Attn's groups of T/4
    /// must be even), forward and backward at <paramref name="precision"/>.
    /// </summary>
    public TinyTrainingStep(Device device, int tokens = 16, ModelConfig? config = null, Precision precision = Precision.F32, ulong seed = 5)
    {
        if (tokens < 8 || tokens % 8 != 0)
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "tiny step: tokens must be a positive multiple of 8 (S2-Attn's groups of T/4 are even)");
        Config = config ?? TinyConfig();
        _precision = precision;
        Model = new CausalLM(Config, new RandomParameters(seed, std: 0.2f));
        Model.AddAdapter("default", new LoraConfig { ModulesToSave = LoraConfig.EmbeddingAndNorms }, seed);
        Model.To(device);
        _optimizer = new AdamW(Model.TrainableParameters(), new AdamWOptions { Lr = 1e-2f, WeightDecay = 0.01f });
        _batch = Batch(Config.VocabSize, tokens, seed);
    }

    /// <summary>The model, on the device it was made for.</summary>
    public CausalLM Model { get; }

    /// <summary>Its shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>
    /// A Llama of <paramref name="layers"/> layers, hidden size 16, 2 heads of 8 dims (1 key/value head: grouped
    /// queries), MLP 24, vocabulary 32: small enough for ILGPU's CPU accelerator.
    /// </summary>
    public static ModelConfig TinyConfig(int layers = 1) => ModelConfig.Parse($$"""
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16, "intermediate_size": 24,
         "num_hidden_layers": {{layers}}, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 32,
         "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
         "tie_word_embeddings": false, "torch_dtype": "float32"}
        """, "tiny-llama");

    /// <summary>
    /// One step: forward and backward on the batch, the gradients read back, then AdamW; returns the loss, every
    /// trainable tensor's gradient, and the trainable tensors after the update (by name, as float32 host arrays).
    /// </summary>
    public TinyStepResult Step()
    {
        float loss;
        using (var scope = new DisposeScope())
        {
            Tensor t;
            using (Autocast.Scope(_precision))
                t = BatchLoss.Of(Model, _batch, _batch.Length / 4);
            t.Backward();
            loss = t.ToFloatArray()[0];
        }
        var trainable = Model.TrainableParameters();
        var grads = trainable.ToDictionary(p => p.Name, p => p.Tensor.Grad?.ToFloatArray() ?? throw new InvalidOperationException($"tiny step: {p.Name} got no gradient"));
        _optimizer.Step();
        _optimizer.ZeroGrad();
        return new TinyStepResult(loss, grads, trainable.ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray()));
    }

    /// <summary>One row of two packed documents (positions restart at the second), next-token targets within each.</summary>
    private static TrainingBatch Batch(int vocab, int tokens, ulong seed)
    {
        var random = new Random((int)seed);
        var ids = Enumerable.Range(0, tokens).Select(_ => (long)random.Next(vocab)).ToArray();
        int second = tokens / 2 + 1;
        var positions = Enumerable.Range(0, tokens).Select(i => (long)(i < second ? i : i - second)).ToArray();
        var targets = Enumerable.Range(0, tokens).Select(i => i + 1 == second || i + 1 == tokens ? TrainingBatch.IgnoreIndex : ids[i + 1]).ToArray();
        return new TrainingBatch(1, tokens, ids, targets, positions, [0, second]);
    }

    /// <summary>Frees the optimizer state and the model.</summary>
    public void Dispose()
    {
        _optimizer.Dispose();
        Model.Dispose();
    }
}

/// <summary>What one <see cref="TinyTrainingStep.Step"/> gave: the loss, the gradients and the updated trainable tensors, by name.</summary>
public sealed record TinyStepResult(float Loss, IReadOnlyDictionary<string, float[]> Gradients, IReadOnlyDictionary<string, float[]> After);
