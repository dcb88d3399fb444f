namespace RawLongLoRA.Training;

/// <summary>
/// The bytes one rank sends in one training step (it receives as many), on paper: what docs/distributed.md derives
/// and CountingCommunicator measures. Activations and gradients travel in float32. With T tokens a row, B rows,
/// L layers, H query heads and Hkv KV heads of D values, K sequence-parallel ranks (n = B·T/K tokens each) and
/// W = DP × K ranks in all:
/// <list type="bullet">
/// <item>Gradients: the trained tensors' gradients (P values) all-reduced over all W ranks — every rank's gradient
/// is a partial sum, sequence shards too — by a ring: 2·(W − 1)/W · 4·P.</item>
/// <item>Ulysses: per layer, q, k, v to head shards and o back (forward), dO to head shards and dq, dk, dv back
/// (backward); an all-to-all keeps 1/K of its tensor home: (K − 1)/K · 4·n·D·(2H + 2H′) each way, H′ = max(Hkv, K)
/// since KV heads are replicated when the ranks outnumber them.</item>
/// <item>Ring: per layer, the K and V blocks make K − 1 hops forward, 2·(K − 1)·4·n·Hkv·D; backward they make them
/// again and dK, dV make K (the last brings them home): 2·(2K − 1)·4·n·Hkv·D.</item>
/// </list>
/// With gradient checkpointing, backward recomputes each layer's forward, and with it the forward's traffic.
/// The loss's and token count's all-reduces (a few bytes) are left out.
/// </summary>
/// <param name="Gradients">The trained tensors' gradient all-reduce over every rank (data- and sequence-parallel).</param>
/// <param name="Forward">Sequence parallelism's forward, all layers.</param>
/// <param name="Backward">Sequence parallelism's backward, all layers.</param>
/// <param name="Recompute">Sequence parallelism's forward again, recomputed by gradient checkpointing.</param>
public sealed record StepTraffic(double Gradients, double Forward, double Backward, double Recompute)
{
    private const double F32 = 4;

    /// <summary>Sequence parallelism's bytes, forward, backward and recompute.</summary>
    public double SequenceParallel => Forward + Backward + Recompute;

    /// <summary>All of a rank's bytes in the step.</summary>
    public double Total => Gradients + SequenceParallel;

    /// <summary>The bytes one rank of <paramref name="s"/> sends.</summary>
    public static StepTraffic Of(StepShape s)
    {
        var c = s.Config;
        int k = s.SequenceParallel, world = s.DataParallel * k;
        double gradients = F32 * new ParameterCounts(c, s.Lora).Trained;
        double dataParallel = 2.0 * (world - 1) / world * gradients;
        // n·D values of one head's block; tokens a rank holds, as a real number so the formulas stay exact.
        double headBlock = F32 * s.Batch * ((double)s.Tokens / k) * c.HeadDim;
        double forward, backward;
        if (k == 1)
            (forward, backward) = (0, 0);
        else if (s.SequenceKind == Distributed.SequenceParallel.Ulysses)
        {
            double allToAll = (k - 1.0) / k * headBlock * (2 * c.NumHeads + 2 * Math.Max(c.NumKvHeads, k));
            (forward, backward) = (allToAll, allToAll);
        }
        else
        {
            double kv = 2 * headBlock * c.NumKvHeads;
            (forward, backward) = ((k - 1) * kv, (2 * k - 1) * kv);
        }
        double layers = c.NumLayers;
        return new StepTraffic(dataParallel, layers * forward, layers * backward, s.GradientCheckpointing ? layers * forward : 0);
    }
}
