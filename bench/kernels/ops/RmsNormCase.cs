using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// RMSNorm [N, D] with a float32 weight. Forward moves x in, y out, rstd out, the weight in; backward
/// dy, x, rstd and the weight in, dx and dweight out. Checked on sampled rows (and sampled dweight
/// columns, which sum over every row) against the formula in double.
/// </summary>
internal static unsafe class RmsNormCase
{
    private const float Eps = 1e-5f;

    public static OpCase Make(int n, int d, bool quick) => new($"rmsnorm {Dims(n, d)}", quick, be =>
    {
        var gen = new Generator(3);
        var x = Tensor.Uniform([n, d], -2, 2, gen);
        var w = Tensor.Uniform([d], 0.5f, 1.5f, gen);
        var dy = Tensor.Uniform([n, d], -1, 1, gen);
        var y = Tensor.Empty([n, d]);
        var rstd = Tensor.Empty([n]);
        var dx = Tensor.Empty([n, d]);
        var dw = Tensor.Empty([d]);
        float* xp = F(x), wp = F(w), dyp = F(dy), yp = F(y), rp = F(rstd), dxp = F(dx), dwp = F(dw);
        void Forward() => be.RmsNorm(y, rstd, x, w, Eps);
        void Backward() => be.RmsNormBackward(dx, dw, dy, x, w, rstd);

        double Rstd(long r)
        {
            double ss = 0;
            for (long j = r * d; j < (r + 1) * d; j++)
                ss += (double)xp[j] * xp[j];
            return 1 / Math.Sqrt(ss / d + Eps);
        }

        double CheckForward()
        {
            Forward();
            var (cy, cr) = (new OpsCheck(), new OpsCheck());
            foreach (long r in OpsCheck.Sample(n, 64))
            {
                double rs = Rstd(r);
                cr.Add(rs, rp[r]);
                for (long j = 0; j < d; j++)
                    cy.Add(xp[r * d + j] * rs * wp[j], yp[r * d + j]);
            }
            return Math.Max(cy.Error, cr.Error);
        }

        double CheckBackward()
        {
            Forward();
            Backward();
            var rs = Enumerable.Range(0, n).Select(r => Rstd(r)).ToArray();
            var (cdx, cdw) = (new OpsCheck(), new OpsCheck());
            foreach (long r in OpsCheck.Sample(n, 64))
            {
                double dot = 0;
                for (long j = 0; j < d; j++)
                    dot += (double)wp[j] * dyp[r * d + j] * xp[r * d + j];
                for (long j = 0; j < d; j++)
                    cdx.Add(rs[r] * wp[j] * dyp[r * d + j] - rs[r] * rs[r] * rs[r] * dot / d * xp[r * d + j], dxp[r * d + j]);
            }
            foreach (long j in OpsCheck.Sample(d, 16))
            {
                double sum = 0;
                for (long r = 0; r < n; r++)
                    sum += (double)dyp[r * d + j] * xp[r * d + j] * rs[r];
                cdw.Add(sum, dwp[j]);
            }
            return Math.Max(cdx.Error, cdw.Error);
        }

        return
        [
            new OpRun("fwd", 4.0 * (2L * n * d + n + d), Forward, CheckForward, Request("rmsnorm", "fwd", n, d)),
            new OpRun("bwd", 4.0 * (3L * n * d + n + 2 * d), Backward, CheckBackward, Request("rmsnorm", "bwd", n, d)),
        ];
    });
}
