using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// One AdamW step on N float32 parameters: param, grad, exp_avg, exp_avg_sq in; param, exp_avg,
/// exp_avg_sq out. The step number stays 10, so every timed call does the same work. Checked on sampled
/// elements against torch.optim.AdamW's update in double; the parameter by the distance it moved.
/// </summary>
internal static unsafe class AdamWCase
{
    public static OpCase Make(int n, bool quick) => new($"adamw {Dims(n)}", quick, be =>
    {
        var s = new AdamWStep(Lr: 1e-3f, Beta1: 0.9f, Beta2: 0.999f, Eps: 1e-8f, WeightDecay: 0.01f, Step: 10);
        var gen = new Generator(8);
        var p = Tensor.Uniform([n], -1, 1, gen);
        var g = Tensor.Uniform([n], -1e-2f, 1e-2f, gen);
        var m = Tensor.Uniform([n], -1e-3f, 1e-3f, gen);
        var v = Tensor.Uniform([n], 0, 1e-5f, gen);
        float* pp = F(p), gp = F(g), mp = F(m), vp = F(v);
        void Step() => be.AdamW(p, g, m, v, s);

        double Check()
        {
            var sample = OpsCheck.Sample(n, 1 << 16);
            var before = sample.Select(i => (P: (double)pp[i], M: (double)mp[i], V: (double)vp[i])).ToArray();
            Step();
            double bc1 = 1 - Math.Pow(s.Beta1, s.Step), bc2 = 1 - Math.Pow(s.Beta2, s.Step);
            var (cm, cv, cp) = (new OpsCheck(), new OpsCheck(), new OpsCheck());
            for (int k = 0; k < sample.Length; k++)
            {
                long i = sample[k];
                var b = before[k];
                double m1 = b.M + (gp[i] - b.M) * (1 - s.Beta1), v1 = b.V * s.Beta2 + (double)gp[i] * gp[i] * (1 - s.Beta2);
                double p1 = b.P * (1 - (double)s.Lr * s.WeightDecay) - s.Lr / bc1 * m1 / (Math.Sqrt(v1) / Math.Sqrt(bc2) + s.Eps);
                cm.Add(m1, mp[i]);
                cv.Add(v1, vp[i]);
                cp.Add(p1 - b.P, pp[i] - b.P);
            }
            return Math.Max(Math.Max(cm.Error, cv.Error), cp.Error);
        }

        // Updates are ~lr against parameters ~1: the distance moved carries float32's rounding of p.
        return [new OpRun("step", 28.0 * n, Step, Check, Request("adamw", "step", n)) { Tolerance = 1e-4 }];
    });
}
