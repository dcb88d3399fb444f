using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// Cross-entropy on one vocabulary chunk of logits [N, V] (here the whole vocabulary): forward folds the
/// chunk into the running log-sum-exp and picks the target's logit (logits and targets in, lse in and
/// out, target logit out); backward writes dlogits from logits, lse, targets and dloss. Logits span
/// [−8, 8]. Checked on sampled rows.
/// </summary>
internal static unsafe class CrossEntropyCase
{
    public static OpCase Make(int n, int v, bool quick) => new($"cross_entropy {Dims(n, v)}", quick, be =>
    {
        var gen = new Generator(9);
        var rng = new Random(9);
        var logits = Tensor.Uniform([n, v], -8, 8, gen);
        var ids = Enumerable.Range(0, n).Select(_ => (long)rng.Next(v)).ToArray();
        var targets = Tensor.FromArray(ids);
        var lse = Tensor.Empty([n]);
        var picked = Tensor.Empty([n]);
        var dloss = Tensor.Uniform([n], 0.5f, 1.5f, gen);
        var dlogits = Tensor.Empty([n, v]);
        float* xp = F(logits), sp = F(lse), tp = F(picked), dlp = F(dloss), gp = F(dlogits);
        void Forward() => be.CrossEntropy(lse, picked, logits, targets, 0);
        void Backward() => be.CrossEntropyBackward(dlogits, dloss, logits, lse, targets, 0);

        double LogSumExp(long r)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (long j = r * v; j < (r + 1) * v; j++)
                max = Math.Max(max, xp[j]);
            for (long j = r * v; j < (r + 1) * v; j++)
                sum += Math.Exp(xp[j] - max);
            return max + Math.Log(sum);
        }

        double CheckForward()
        {
            be.Fill(lse, double.NegativeInfinity);
            Forward();
            var check = new OpsCheck();
            foreach (long r in OpsCheck.Sample(n, 32))
            {
                check.Add(LogSumExp(r), sp[r]);
                check.Add(xp[r * v + ids[r]], tp[r]);
            }
            return check.Error;
        }

        double CheckBackward()
        {
            be.Fill(lse, double.NegativeInfinity);
            Forward();
            Backward();
            var check = new OpsCheck();
            foreach (long r in OpsCheck.Sample(n, 32))
            {
                double l = LogSumExp(r);
                for (long j = 0; j < v; j++)
                    check.Add((Math.Exp(xp[r * v + j] - l) - (j == ids[r] ? 1 : 0)) * dlp[r], gp[r * v + j]);
            }
            return check.Error;
        }

        return
        [
            // Timed calls keep folding into lse: the same work each time, and lse stays finite.
            new OpRun("fwd", 4.0 * n * v + 20.0 * n, Forward, CheckForward, Request("cross_entropy", "fwd", n, v)),
            new OpRun("bwd", 8.0 * n * v + 16.0 * n, Backward, CheckBackward, Request("cross_entropy", "bwd", n, v)),
        ];
    });
}
