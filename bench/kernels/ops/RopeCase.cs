using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// RoPE on x [N, H, D] (one of q, k) with explicit positions: four packed sequences of N/4 tokens, so
/// positions restart, and cos/sin tables [N/4, D/2] of base 10000. Forward turns by +θ, backward by −θ.
/// Bytes: x in, y out, the tables once, the positions.
/// </summary>
internal static unsafe class RopeCase
{
    public static OpCase Make(int n, int h, int d, bool quick) => new($"rope {Dims(n, h, d)}", quick, be =>
    {
        int half = d / 2, p = n / 4;
        var gen = new Generator(4);
        var x = Tensor.Uniform([n, h, d], -2, 2, gen);
        var dy = Tensor.Uniform([n, h, d], -1, 1, gen);
        var y = Tensor.Empty([n, h, d]);
        var dx = Tensor.Empty([n, h, d]);
        var angles = new float[2][];
        angles[0] = new float[p * half];
        angles[1] = new float[p * half];
        for (int t = 0; t < p; t++)
            for (int i = 0; i < half; i++)
            {
                double theta = t * Math.Pow(10000, -2.0 * i / d);
                angles[0][t * half + i] = (float)Math.Cos(theta);
                angles[1][t * half + i] = (float)Math.Sin(theta);
            }
        var cos = Tensor.FromArray(angles[0], [p, half]);
        var sin = Tensor.FromArray(angles[1], [p, half]);
        var positions = Tensor.FromArray(Enumerable.Range(0, n).Select(t => (long)(t % p)).ToArray());
        float* cp = F(cos), sp = F(sin);
        void Forward() => be.Rope(y, x, cos, sin, positions, inverse: false);
        void Backward() => be.Rope(dx, dy, cos, sin, positions, inverse: true);

        double Check(Action run, Tensor input, Tensor output, double sign)
        {
            run();
            float* a = F(input), b = F(output);
            var check = new OpsCheck();
            foreach (long t in OpsCheck.Sample(n, 64))
                for (long row = t * h * d; row < (t + 1) * h * d; row += d)
                    for (int i = 0; i < half; i++)
                    {
                        double c = cp[t % p * half + i], s = sign * sp[t % p * half + i], x0 = a[row + i], x1 = a[row + i + half];
                        check.Add(x0 * c - x1 * s, b[row + i]);
                        check.Add(x1 * c + x0 * s, b[row + i + half]);
                    }
            return check.Error;
        }

        double bytes = 8.0 * n * h * d + 8.0 * p * half + 8.0 * n;
        return
        [
            new OpRun("fwd", bytes, Forward, () => Check(Forward, x, y, 1), Request("rope", "fwd", n, h, d)),
            new OpRun("bwd", bytes, Backward, () => Check(Backward, dy, dx, -1), Request("rope", "bwd", n, h, d)),
        ];
    });
}
