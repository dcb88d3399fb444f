namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// One device attention problem's tensors (B = 1), as the engine's attention takes them: inputs q and dout
/// [1, T, Hq, D], k and v [1, T, Hkv, D], float32 holding bf16 values (uniform in [-1, 1) rounded to bf16), so that
/// every variant and the reference see the same numbers whatever they round; outputs o [1, T, Hq, D], lse [1, Hq, T]
/// and dq, dk, dv like their inputs.
/// </summary>
public sealed class AttentionTensors : IDisposable
{
    private AttentionTensors(Tensor q, Tensor k, Tensor v, Tensor dout)
    {
        (Q, K, V, DOut) = (q, k, v, dout);
        O = Tensor.EmptyLike(q).DetachFromScope();
        Lse = Tensor.Empty([1, q.Shape[2], q.Shape[1]], DType.F32, q.Device).DetachFromScope();
        DQ = Tensor.EmptyLike(q).DetachFromScope();
        DK = Tensor.EmptyLike(k).DetachFromScope();
        DV = Tensor.EmptyLike(v).DetachFromScope();
    }

    /// <summary>The query, key and value inputs.</summary>
    public Tensor Q { get; }

    /// <inheritdoc cref="Q"/>
    public Tensor K { get; }

    /// <inheritdoc cref="Q"/>
    public Tensor V { get; }

    /// <summary>The gradient of o the backward starts from.</summary>
    public Tensor DOut { get; }

    /// <summary>The forward's outputs.</summary>
    public Tensor O { get; }

    /// <inheritdoc cref="O"/>
    public Tensor Lse { get; }

    /// <summary>The backward's outputs.</summary>
    public Tensor DQ { get; }

    /// <inheritdoc cref="DQ"/>
    public Tensor DK { get; }

    /// <inheritdoc cref="DQ"/>
    public Tensor DV { get; }

    /// <summary>The device the tensors are on.</summary>
    public Device Device => Q.Device;

    /// <summary>Bytes of every tensor: what one run reads and writes at least once.</summary>
    public long Bytes => new[] { Q, K, V, DOut, O, Lse, DQ, DK, DV }.Sum(t => t.Numel * sizeof(float));

    /// <summary>A problem of <paramref name="shape"/> on <paramref name="device"/> with inputs drawn from <paramref name="seed"/>.</summary>
    internal static AttentionTensors Make(AttentionShape shape, Device device, int seed)
    {
        var rng = new Random(seed);
        int[] qShape = [1, shape.T, shape.Hq, shape.D], kShape = [1, shape.T, shape.Hkv, shape.D];
        return new(Bf16Inputs.Uniform(qShape, rng, device), Bf16Inputs.Uniform(kShape, rng, device), Bf16Inputs.Uniform(kShape, rng, device), Bf16Inputs.Uniform(qShape, rng, device));
    }

    /// <summary>Another problem with the same inputs in storages of its own: a copy to rotate through.</summary>
    public AttentionTensors Copy() => new(Bf16Inputs.Clone(Q), Bf16Inputs.Clone(K), Bf16Inputs.Clone(V), Bf16Inputs.Clone(DOut));

    /// <summary>Fills o and lse with NaN: an element the forward leaves unwritten then fails the validation.</summary>
    public void PoisonForward()
    {
        O.Fill(double.NaN);
        Lse.Fill(double.NaN);
    }

    /// <summary>Fills dq, dk and dv with NaN, as <see cref="PoisonForward"/>.</summary>
    public void PoisonBackward()
    {
        DQ.Fill(double.NaN);
        DK.Fill(double.NaN);
        DV.Fill(double.NaN);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in new[] { Q, K, V, DOut, O, Lse, DQ, DK, DV })
            t.Dispose();
    }
}
