using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// Softmax over rows [N, D]: forward x in, y out; backward y and dy in, dx out (from the kernel's own y,
/// as autograd passes it). Logits span [−8, 8]. Checked on sampled rows.
/// </summary>
internal static unsafe class SoftmaxCase
{
    public static OpCase Make(int n, int d, bool quick) => new($"softmax {Dims(n, d)}", quick, be =>
    {
        var gen = new Generator(6);
        var x = Tensor.Uniform([n, d], -8, 8, gen);
        var dy = Tensor.Uniform([n, d], -1, 1, gen);
        var y = Tensor.Empty([n, d]);
        var dx = Tensor.Empty([n, d]);
        float* xp = F(x), dyp = F(dy), yp = F(y), dxp = F(dx);
        void Forward() => be.Softmax(y, x);
        void Backward() => be.SoftmaxBackward(dx, y, dy);

        double CheckForward()
        {
            Forward();
            var check = new OpsCheck();
            foreach (long r in OpsCheck.Sample(n, 32))
            {
                double max = double.NegativeInfinity, sum = 0;
                for (long j = r * d; j < (r + 1) * d; j++)
                    max = Math.Max(max, xp[j]);
                for (long j = r * d; j < (r + 1) * d; j++)
                    sum += Math.Exp(xp[j] - max);
                for (long j = r * d; j < (r + 1) * d; j++)
                    check.Add(Math.Exp(xp[j] - max) / sum, yp[j]);
            }
            return check.Error;
        }

        double CheckBackward()
        {
            Forward();
            Backward();
            var check = new OpsCheck();
            foreach (long r in OpsCheck.Sample(n, 32))
            {
                double dot = 0;
                for (long j = r * d; j < (r + 1) * d; j++)
                    dot += (double)yp[j] * dyp[j];
                for (long j = r * d; j < (r + 1) * d; j++)
                    check.Add(yp[j] * (dyp[j] - dot), dxp[j]);
            }
            return check.Error;
        }

        return
        [
            new OpRun("fwd", 8.0 * n * d, Forward, CheckForward, Request("softmax", "fwd", n, d)),
            new OpRun("bwd", 12.0 * n * d, Backward, CheckBackward, Request("softmax", "bwd", n, d)),
        ];
    });
}
