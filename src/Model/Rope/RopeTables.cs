namespace RawLongLoRA.Model;

/// <summary>
/// The cos/sin tables [positions, head_dim / 2] (float32, attention factor multiplied in) that the
/// RoPE op reads, cached for one RoPE config and grown on demand. Each entry is computed as
/// transformers does: the angle position × inv_freq rounded to float32, then its cos and sin, so
/// that long positions agree with it (a double product differs by up to 2⁻²⁴·angle, 0.001 rad at
/// 32K). Where the frequencies depend on the length (dynamic NTK past max_position_embeddings,
/// longrope past the original length) a request whose length changes them rebuilds the tables.
/// </summary>
public sealed class RopeTables : IDisposable
{
    private readonly RopeConfig _rope;
    private readonly int _headDim, _maxPositions;
    private readonly Device _device;
    private readonly Lock _lock = new();
    private float[]? _invFreq;
    private float _attentionFactor;
    private Tensor? _cos, _sin;
    private int _capacity;

    /// <summary>
    /// Tables for <paramref name="rope"/> with heads of <paramref name="headDim"/> dims, on <paramref name="device"/>
    /// (default: the CPU); built at the first <see cref="For"/>. Throws here for a RoPE config that cannot be
    /// computed.
    /// </summary>
    public RopeTables(RopeConfig rope, int headDim, int maxPositionEmbeddings, Device? device = null)
    {
        RopeScaling.Compute(rope, headDim, maxPositionEmbeddings, 1); // fails here, not at the first forward
        _rope = rope;
        _headDim = headDim;
        _maxPositions = maxPositionEmbeddings;
        _device = device ?? Device.Cpu;
    }

    /// <summary>Tables for the RoPE config of <paramref name="config"/>.</summary>
    public RopeTables(ModelConfig config, Device? device = null)
        : this(config.Rope, config.HeadDim, config.MaxPositionEmbeddings, device) { }

    /// <summary>
    /// Tables for positions 0 … <paramref name="positions"/> − 1 of a sequence that long. The two
    /// handles are the caller's (a dispose scope frees them); the tables behind them stay cached.
    /// </summary>
    public (Tensor Cos, Tensor Sin) For(int positions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(positions, 1);
        lock (_lock)
        {
            var (invFreq, attentionFactor) = RopeScaling.Compute(_rope, _headDim, _maxPositions, positions);
            bool same = _invFreq is not null && attentionFactor == _attentionFactor && invFreq.AsSpan().SequenceEqual(_invFreq);
            if (!same || positions > _capacity)
                // Growing tables double, so that decoding one token at a time rebuilds them log(n) times.
                Build(invFreq, attentionFactor, same ? Math.Max(positions, 2 * _capacity) : positions);
            var view = Layout.Contiguous([positions, _headDim / 2]);
            return (_cos!.Restride(view), _sin!.Restride(view));
        }
    }

    private void Build(float[] invFreq, float attentionFactor, int capacity)
    {
        int half = invFreq.Length;
        var cos = new float[(long)capacity * half];
        var sin = new float[cos.Length];
        Parallel.For(0, (capacity + 255) / 256, block =>
        {
            for (int p = block * 256; p < Math.Min(capacity, (block + 1) * 256); p++)
                for (int i = 0; i < half; i++)
                {
                    float angle = p * invFreq[i];
                    var (s, c) = MathF.SinCos(angle);
                    cos[p * half + i] = c * attentionFactor;
                    sin[p * half + i] = s * attentionFactor;
                }
        });
        DisposeTables();
        _cos = Tensor.FromArray(cos, [capacity, half], device: _device).DetachFromScope();
        _sin = Tensor.FromArray(sin, [capacity, half], device: _device).DetachFromScope();
        (_invFreq, _attentionFactor, _capacity) = (invFreq, attentionFactor, capacity);
    }

    private void DisposeTables()
    {
        _cos?.Dispose();
        _sin?.Dispose();
    }

    /// <summary>Frees the cached tables (handles given out by <see cref="For"/> keep their own reference).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            DisposeTables();
            (_cos, _sin, _invFreq, _capacity) = (null, null, null, 0);
        }
    }
}
