using System.Diagnostics;

namespace RawLongLoRA.Training;

/// <summary>
/// A step's time predicted from its FLOP count (<see cref="StepFlops"/>) and a rate: an estimate, not a
/// measurement. On the CPU the rate is a GEMM timed on the spot times <see cref="CpuEfficiency"/>;
/// elsewhere it is the rate a user states.
/// </summary>
public static class StepTime
{
    /// <summary>
    /// The share of GEMM's rate a whole CPU step reaches: attention runs at about 80% of it, the rank-8
    /// LoRA products are memory-bound, and norms, RoPE, SwiGLU, dropout, the adds and AdamW take time
    /// for no counted FLOPs. `bench step` prints the share it measures beside this one.
    /// </summary>
    public const double CpuEfficiency = 0.7;

    /// <summary>
    /// FLOP/s of float32 GEMM on this machine's CPU threads: the best of ten [1024 × 1024] @ [1024 × 1024]ᵀ
    /// products after one to warm up (≈ 0.15 s; the best, so that a moment of contention does not count).
    /// </summary>
    public static double MeasureCpuGemm()
    {
        const int n = 1024;
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        var a = Tensor.Randn([n, n]);
        var b = Tensor.Randn([n, n]);
        double best = double.PositiveInfinity;
        for (int i = 0; i < 11; i++)
        {
            var clock = Stopwatch.StartNew();
            a.Linear(b).Dispose();
            if (i > 0)
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best;
    }

    /// <summary>Seconds of one step of <paramref name="s"/> on each rank, at <paramref name="rate"/> FLOP/s per rank.</summary>
    public static double Seconds(StepShape s, double rate) => StepFlops.Of(s).Total / s.SequenceParallel / rate;
}
