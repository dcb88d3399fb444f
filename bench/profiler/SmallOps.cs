namespace RawLongLoRA.Bench.Profiling;

/// <summary>
/// Work made of many small ops, where a per-op cost would show: a two-layer block on [16, 64] forward
/// and backward, each op a few microseconds. Kept free of profiler calls so that the same file times a
/// build without the profiler's hooks.
/// </summary>
public sealed class SmallOps : IDisposable
{
    private readonly Tensor _x = Tensor.Randn([16, 64], new Generator(1));
    private readonly Tensor _w1 = Tensor.Randn([64, 64], new Generator(2), requiresGrad: true, std: 0.1f);
    private readonly Tensor _w2 = Tensor.Randn([64, 64], new Generator(3), requiresGrad: true, std: 0.1f);
    private readonly Tensor _norm = Tensor.Ones([64], requiresGrad: true);

    /// <summary>Autograd ops per iteration: 7 forward ops and their 7 backward rules.</summary>
    public const int OpsPerIteration = 14;

    /// <summary>One forward and backward; the gradients are dropped after it.</summary>
    public void Iteration()
    {
        using (new DisposeScope())
        {
            var h = _x.RmsNorm(_norm, 1e-5f).Linear(_w1).Silu();
            var y = h.Linear(_w2) + _x;
            y.Square().Mean().Backward();
        }
        foreach (var p in new[] { _w1, _w2, _norm })
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    /// <summary>Frees the inputs and weights.</summary>
    public void Dispose()
    {
        foreach (var t in new[] { _x, _w1, _w2, _norm })
            t.Dispose();
    }
}
