using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.MpiWorker;

/// <summary>
/// A tiny model's training step on a DP × SP grid of the world against the single-process step on the same global
/// batch: the loss and every trainable gradient must agree within 1e-5 (relative, float32), under causal, packed and
/// S2-Attn masks, with rows and shards whose targets count for nothing.
/// </summary>
internal static class TrainingScenarios
{
    /// <summary>The tolerance the issue sets for float32 on the CPU.</summary>
    public const double Tolerance = 1e-5;

    private const int Rows = 4, Length = 32, Vocab = 64;
    private const ulong Seed = 11;

    /// <summary>
    /// args: the sequence parallelism (none, ulysses, ring), the SP group size, and for ring its layout (zigzag or
    /// plain). The world's size must be a multiple of the SP size and divide the 4 rows of a global batch.
    /// </summary>
    [Scenario("training-step")]
    public static void TrainingStep(ICommunicator world, string[] args)
    {
        var kind = Enum.Parse<SequenceParallel>(args[0], ignoreCase: true);
        int spSize = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        bool zigZag = args.Length < 3 || args[2] == "zigzag";
        foreach (var mask in new[] { "causal", "packed", "s2" })
        {
            var (step, groupSize) = (Step(mask), mask == "s2" ? Length / 4 : 0);
            var (refLoss, refGrads) = SingleProcess(step, groupSize);
            float loss;
            Dictionary<string, float[]> grads;
            using (var grid = new ParallelGrid(world, spSize))
                (loss, grads) = Parallel(grid, kind, zigZag, step, groupSize);
            Compare($"{kind} × {spSize} on {world.Size} ranks, {mask} mask", loss, refLoss, grads, refGrads, world.Rank);
        }
    }

    /// <summary>
    /// Throws unless the loss and every gradient agree within <see cref="Tolerance"/>, and the reference's gradients
    /// are not all zero (a comparison of zeros would prove nothing).
    /// </summary>
    public static void Compare(string what, float loss, float refLoss, IReadOnlyDictionary<string, float[]> grads, IReadOnlyDictionary<string, float[]> refGrads, int rank)
    {
        double lossError = Math.Abs((double)loss - refLoss) / Math.Abs(refLoss);
        if (!float.IsFinite(refLoss) || !(lossError <= Tolerance))
            throw new InvalidOperationException($"{what}: rank {rank}'s loss {loss} is not the single process's {refLoss} (relative error {lossError:E2})");
        double worst = 0;
        foreach (var (name, expected) in refGrads)
        {
            if (!grads.TryGetValue(name, out var got))
                throw new InvalidOperationException($"{what}: rank {rank} has no gradient for {name}");
            double error = MaxRelativeError.Of(got, expected);
            if (!(error <= Tolerance))
                throw new InvalidOperationException($"{what}: rank {rank}'s gradient of {name} is {error:E2} (relative) from the single process's; tolerance {Tolerance:E0}");
            worst = Math.Max(worst, error);
        }
        if (refGrads.Values.All(g => g.All(x => x == 0)))
            throw new InvalidOperationException($"{what}: every reference gradient is zero; the comparison would prove nothing");
        if (rank == 0)
            Console.WriteLine($"{what}: loss {loss:R} (single process {refLoss:R}), {refGrads.Count} gradients, largest relative error {worst:E2}");
    }

    /// <summary>The step's two global batches (grad_accum 2) of <see cref="Rows"/> rows each, the same on every rank.</summary>
    public static TrainingBatch[] Step(string mask)
    {
        var all = Batch(mask, 2 * Rows);
        return [all.RowsOf(0, Rows), all.RowsOf(Rows, Rows)];
    }

    /// <summary>
    /// Rows of random ids; packed rows hold documents of 7, 12 and 13 tokens (lengths no shard size divides), the
    /// others one each. Targets are the next token of the same document; in every fourth row none counts and in the
    /// third of four only the first half does, so some data-parallel ranks and sequence shards count nothing.
    /// </summary>
    private static TrainingBatch Batch(string mask, int rows)
    {
        var random = new Random((int)Seed);
        int[] docStarts = mask == "causal" ? [0] : [0, 7, 19];
        int n = rows * Length;
        long[] ids = new long[n], targets = new long[n], positions = new long[n];
        var starts = new List<int>();
        for (int r = 0; r < rows; r++)
            for (int d = 0; d < docStarts.Length; d++)
            {
                int from = docStarts[d], to = d + 1 < docStarts.Length ? docStarts[d + 1] : Length;
                starts.Add(r * Length + from);
                for (int i = from; i < to; i++)
                {
                    int at = r * Length + i;
                    ids[at] = random.Next(Vocab);
                    positions[at] = i - from;
                }
            }
        for (int at = 0; at < n; at++)
        {
            int r = at / Length, i = at % Length;
            bool lastOfDoc = i + 1 == Length || docStarts.Contains(i + 1);
            bool ignored = r % 4 == 3 || r % 4 == 2 && i >= Length / 2;
            targets[at] = lastOfDoc || ignored ? TrainingBatch.IgnoreIndex : ids[at + 1];
        }
        return new TrainingBatch(rows, Length, ids, targets, positions, [.. starts]);
    }

    /// <summary>One process: the mean loss over both batches as one batch of every row, its backward, the gradients.</summary>
    private static (float Loss, Dictionary<string, float[]> Grads) SingleProcess(TrainingBatch[] step, int groupSize)
    {
        using var model = Model();
        var all = new TrainingBatch(2 * Rows, Length, [.. step[0].Ids, .. step[1].Ids], [.. step[0].Targets, .. step[1].Targets],
                                    [.. step[0].Positions, .. step[1].Positions], [.. step[0].SequenceStarts, .. step[1].SequenceStarts.Select(s => s + Rows * Length)]);
        float loss;
        using (new DisposeScope())
        {
            var t = BatchLoss.Of(model, all, groupSize);
            t.Backward();
            loss = t.ToFloatArray()[0];
        }
        return (loss, Gradients(model));
    }

    /// <summary>
    /// The step twice on the same parameters, the second's result: the first backward learns when each gradient is
    /// final, the second starts gradient buckets during backward (the path every later training step takes).
    /// </summary>
    private static (float Loss, Dictionary<string, float[]> Grads) Parallel(ParallelGrid grid, SequenceParallel kind, bool zigZag, TrainingBatch[] step, int groupSize)
    {
        using var model = Model();
        var trainable = model.TrainableParameters().Select(p => p.Tensor).ToArray();
        using var parallel = new ParallelStep(model, trainable, grid, kind, zigZag);
        using var loss = Tensor.Zeros([1], DType.F32, model.Device);
        parallel.Run(step, groupSize, Precision.F32, loss);
        foreach (var p in trainable)
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
        loss.Fill(0);
        parallel.Run(step, groupSize, Precision.F32, loss);
        return (loss.ToFloatArray()[0], Gradients(model));
    }

    private static Dictionary<string, float[]> Gradients(CausalLM model) => model.TrainableParameters().ToDictionary(
        p => p.Name, p => p.Tensor.Grad?.ToFloatArray() ?? throw new InvalidOperationException($"training step: {p.Name} got no gradient"));

    /// <summary>
    /// A random Llama of 2 layers, 8 query heads of 4 dims over 4 key/value heads (grouped queries, and heads for up to
    /// 4 Ulysses ranks), with a LoRA adapter whose B is drawn too (a zero B would leave every A's gradient zero).
    /// </summary>
    private static CausalLM Model()
    {
        var config = ModelConfig.Parse("""
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 48,
             "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 64,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
             "tie_word_embeddings": false, "torch_dtype": "float32"}
            """, "tiny-llama-gqa");
        var model = new CausalLM(config, new RandomParameters(Seed, std: 0.2f));
        model.AddAdapter("default", new LoraConfig { ModulesToSave = LoraConfig.EmbeddingAndNorms }, Seed);
        var random = new Random((int)Seed);
        foreach (var (_, tensor) in model.TrainableParameters().Where(p => p.Name.Contains("lora_B", StringComparison.Ordinal)))
        {
            using var drawn = Tensor.FromArray(Enumerable.Range(0, (int)tensor.Numel).Select(_ => (float)(random.NextDouble() - 0.5) * 0.2f).ToArray(), tensor.ShapeArray);
            tensor.CopyFrom(drawn);
        }
        model.Train();
        return model;
    }
}
