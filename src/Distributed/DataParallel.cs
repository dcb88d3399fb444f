namespace RawLongLoRA.Distributed;

/// <summary>
/// Data parallelism's gradient reduction: after backward every trainable tensor's gradient becomes its sum over the
/// group, in buckets of about <see cref="DefaultBucketBytes"/> filled in reverse parameter order (the order backward
/// finishes them, as PyTorch's DDP), each bucket's all-reduce started before the next is filled and all waited for
/// before clipping.
/// <para>
/// Which group: the gradient a rank holds is the derivative of its own loss term, (sum of its token losses) / (counted
/// targets over every rank), so the step's gradient is the plain sum of every rank's. Under sequence parallelism a
/// rank's term covers only its shard of the rows; the attention strategies send the shard's gradients back to the
/// ranks whose tokens they came from, so each rank still holds the derivative of its own term alone, a partial sum
/// like a data-parallel rank's. The group is therefore the whole world whenever sequence parallelism is on, and the
/// data-parallel group (then the world too) otherwise.
/// </para>
/// <para>
/// Issued after backward rather than during it: with checkpointed layers a parameter's gradient is accumulated inside
/// nested backward passes, and with gradient accumulation only the last batch's backward finishes it, so the
/// autograd cannot tell the moment a gradient is final without a per-step count of its uses.
/// </para>
/// </summary>
public sealed class DataParallel : IDisposable
{
    /// <summary>About 25 MB of float32 gradients per bucket, PyTorch DDP's bucket_cap_mb.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private readonly ICommunicator _group;
    private readonly List<GradientBucket> _buckets = [];

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

    /// <summary>The buckets' parameters, in the order their reductions start.</summary>
    public IEnumerable<IReadOnlyList<Tensor>> Buckets => _buckets.Select(b => b.Parameters);

    /// <summary>Every gradient becomes its sum over the group; returns once all are.</summary>
    public void ReduceGradients()
    {
        foreach (var bucket in _buckets)
            bucket.Start(_group);
        foreach (var bucket in _buckets)
            bucket.Finish();
    }

    /// <summary>Frees the buckets' buffers.</summary>
    public void Dispose()
    {
        foreach (var bucket in _buckets)
            bucket.Dispose();
    }
}
