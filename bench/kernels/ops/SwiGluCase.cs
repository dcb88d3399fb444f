using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// SwiGLU y = silu(gate)·up on [N, F]: forward gate and up in, y out; backward dy, gate, up in, dgate
/// and dup out. Gates span [−8, 8] so both tails of the sigmoid are exercised. Checked on sampled elements.
/// </summary>
internal static unsafe class SwiGluCase
{
    public static OpCase Make(int n, int f, bool quick) => new($"swiglu {Dims(n, f)}", quick, be =>
    {
        var gen = new Generator(5);
        var g = Tensor.Uniform([n, f], -8, 8, gen);
        var u = Tensor.Uniform([n, f], -2, 2, gen);
        var dy = Tensor.Uniform([n, f], -1, 1, gen);
        var y = Tensor.Empty([n, f]);
        var dg = Tensor.Empty([n, f]);
        var du = Tensor.Empty([n, f]);
        float* gp = F(g), upp = F(u), dyp = F(dy), yp = F(y), dgp = F(dg), dup = F(du);
        void Forward() => be.SwiGlu(y, g, u);
        void Backward() => be.SwiGluBackward(dg, du, dy, g, u);
        var sample = OpsCheck.Sample((long)n * f, 1 << 16);

        double CheckForward()
        {
            Forward();
            var check = new OpsCheck();
            foreach (long i in sample)
                check.Add(gp[i] * OpsCheck.Sigmoid(gp[i]) * upp[i], yp[i]);
            return check.Error;
        }

        double CheckBackward()
        {
            Backward();
            var (cg, cu) = (new OpsCheck(), new OpsCheck());
            foreach (long i in sample)
            {
                double s = OpsCheck.Sigmoid(gp[i]);
                cg.Add(dyp[i] * upp[i] * s * (1 + gp[i] * (1 - s)), dgp[i]);
                cu.Add(dyp[i] * gp[i] * s, dup[i]);
            }
            return Math.Max(cg.Error, cu.Error);
        }

        return
        [
            new OpRun("fwd", 12.0 * n * f, Forward, CheckForward, Request("swiglu", "fwd", n, f)),
            new OpRun("bwd", 20.0 * n * f, Backward, CheckBackward, Request("swiglu", "bwd", n, f)),
        ];
    });
}
