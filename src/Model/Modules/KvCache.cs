namespace RawLongLoRA.Model;

/// <summary>
/// Keys and values of the tokens seen so far, per layer, in preallocated [B, capacity, kv_heads,
/// head_dim] buffers, so that each generated token costs attention over the cache, not a new
/// forward over the whole sequence.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    /// <summary>
    /// Float32 buffers for <paramref name="layers"/> layers of <paramref name="batch"/> rows ×
    /// <paramref name="capacity"/> tokens × <paramref name="kvHeads"/> heads × <paramref name="headDim"/>, on
    /// <paramref name="device"/> (default: the CPU); owned by the cache until it is disposed.
    /// </summary>
    public KvCache(int layers, int batch, int capacity, int kvHeads, int headDim, Device? device = null)
    {
        Capacity = capacity;
        _keys = new Tensor[layers];
        _values = new Tensor[layers];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = Tensor.Empty([batch, capacity, kvHeads, headDim], DType.F32, device).DetachFromScope();
            _values[l] = Tensor.Empty([batch, capacity, kvHeads, headDim], DType.F32, device).DetachFromScope();
        }
    }

    /// <summary>Tokens already cached (the next token's position).</summary>
    public int Length { get; private set; }

    /// <summary>The tokens per row the buffers hold.</summary>
    public int Capacity { get; }

    /// <summary>Writes this step's k, v [B, T, kv_heads, head_dim] after the cached ones; returns all of them.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        int t = k.Shape[1];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"kv cache: {Length} cached + {t} new tokens exceed its capacity of {Capacity}");
        using (var kw = _keys[layer].Restride(_keys[layer].Layout.Narrow(1, Length, t)))
            kw.CopyFrom(k);
        using (var vw = _values[layer].Restride(_values[layer].Layout.Narrow(1, Length, t)))
            vw.CopyFrom(v);
        return (_keys[layer].Restride(_keys[layer].Layout.Narrow(1, 0, Length + t)),
                _values[layer].Restride(_values[layer].Layout.Narrow(1, 0, Length + t)));
    }

    /// <summary>Counts the step's tokens as cached, once every layer has appended them.</summary>
    public void Advance(int tokens) => Length += tokens;

    /// <summary>Frees the key and value buffers.</summary>
    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values))
            t.Dispose();
    }
}
