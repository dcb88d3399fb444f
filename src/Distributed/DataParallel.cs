namespace RawLongLoRA.Distributed;

/// <summary>
/// Data parallelism's gradient reduction: after backward every trainable tensor's gradient becomes its sum over the
/// group, in buckets of about <see cref="DefaultBucketBytes"/> filled in reverse parameter order (the order backward
/// finishes them, as PyTorch's DDP). Inside <see cref="Watch"/> (the backward of a step's last batch) a bucket's
/// all-reduce starts as soon as its gradients are final, overlapping the rest of backward where the communicator
/// allows; <see cref="ReduceGradients"/> starts the rest and waits for all, before clipping.
/// <para>
/// Which group: the gradient a rank holds is the derivative of its own loss term, (sum of its token losses) / (counted
/// targets over every rank), so the step's gradient is the plain sum of every rank's. Under sequence parallelism a
/// rank's term covers only its shard of the rows; the attention strategies send the shard's gradients back to the
/// ranks whose tokens they came from, so each rank still holds the derivative of its own term alone, a partial sum
/// like a data-parallel rank's. The group is therefore the whole world whenever sequence parallelism is on, and the
/// data-parallel group (then the world too) otherwise.
/// </para>
/// <para>
/// When a gradient is final: the graph does not say it directly (checkpointed layers accumulate inside nested backward
/// passes), so, as DDP's static graph does, the first watched backward counts each parameter's accumulations
/// (<see cref="Autograd.OnGradientAccumulated"/>) and later ones start a bucket when every member has had its count.
/// Buckets start in order, so every rank issues the same collectives in the same order; the first step reduces
/// after backward.
/// </para>
/// </summary>
public sealed class DataParallel : IDisposable
{
    /// <summary>About 25 MB of float32 gradients per bucket, PyTorch DDP's bucket_cap_mb.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private readonly ICommunicator _group;
    private readonly List<GradientBucket> _buckets = [];
    private readonly Dictionary<Tensor, int> _slot = new(ReferenceEqualityComparer.Instance);
    private readonly int[] _seen;
    private int[]? _uses;
    private bool _watched;
    private int _started;

    /// <summary>
    /// Buckets for the gradients of <paramref name="parameters"/> (float32 tensors on one device; the same list in the
    /// same order on every rank), reduced over <paramref name="group"/>, which it uses, not owns.
    /// </summary>
    public DataParallel(ICommunicator group, IReadOnlyList<Tensor> parameters, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(parameters);
        if (bucketBytes < sizeof(float))
            throw new ArgumentOutOfRangeException(nameof(bucketBytes), bucketBytes, "data parallel: a bucket must hold at least one float32");
        foreach (var p in parameters)
            if (p.DType != DType.F32 || p.Device != parameters[0].Device)
                throw new ArgumentException($"data parallel: trained tensors must be float32 on one device; {p.Describe()} is not (the first is on {parameters[0].Device})", nameof(parameters));
        _group = group;
        for (int i = 0; i < parameters.Count; i++)
            _slot[parameters[i]] = i;
        _seen = new int[parameters.Count];
        long limit = bucketBytes / sizeof(float);
        var open = new List<Tensor>();
        long filled = 0;
        foreach (var p in parameters.Reverse())
        {
            if (p.Numel >= limit)
            {
                Close(); // the buckets keep backward's order
                _buckets.Add(new GradientBucket([p], inPlace: true));
                continue;
            }
            if (filled + p.Numel > limit)
                Close();
            open.Add(p);
            filled += p.Numel;
        }
        Close();

        void Close()
        {
            if (open.Count > 0)
                _buckets.Add(new GradientBucket([.. open], inPlace: false));
            open.Clear();
            filled = 0;
        }
    }

    /// <summary>Buckets started since the last <see cref="ReduceGradients"/>: during a watched backward, those already final.</summary>
    internal int Started => _started;

    /// <summary>The buckets' parameters, in the order their reductions start.</summary>
    public IEnumerable<IReadOnlyList<Tensor>> Buckets => _buckets.Select(b => b.Parameters);

    /// <summary>
    /// Watches the backward passes run until disposed (on this thread): the step's last batch's, whose gradients are
    /// final when they end. Buckets whose gradients are final start their all-reduce there and then.
    /// </summary>
    public IDisposable Watch()
    {
        Array.Clear(_seen);
        _watched = true;
        return Autograd.OnGradientAccumulated(p =>
        {
            if (!_slot.TryGetValue(p, out int i))
                return; // a checkpointed segment's detached input, or a tensor not trained
            _seen[i]++;
            while (_uses is not null && _started < _buckets.Count && _buckets[_started].Parameters.All(m => _seen[_slot[m]] >= _uses[_slot[m]]))
                _buckets[_started++].Start(_group);
        });
    }

    /// <summary>Every gradient becomes its sum over the group (the buckets not started yet start now); returns once all are.</summary>
    public void ReduceGradients()
    {
        if (_watched)
            _uses ??= (int[])_seen.Clone();
        _watched = false;
        for (; _started < _buckets.Count; _started++)
            _buckets[_started].Start(_group);
        foreach (var bucket in _buckets)
            bucket.Finish();
        _started = 0;
    }

    /// <summary>Frees the buckets' buffers.</summary>
    public void Dispose()
    {
        foreach (var bucket in _buckets)
            bucket.Dispose();
    }
}
