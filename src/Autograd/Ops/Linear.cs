using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// y = x Wᵀ + b with W stored [out, in] as Hugging Face does. A frozen W (no RequiresGrad) gets no
/// weight-gradient GEMM: backward computes only what the inputs that want gradients need.
/// </summary>
public static class LinearOp
{
    extension(Tensor x)
    {
        /// <summary>
        /// x [..., in] @ <paramref name="weight"/>ᵀ (+ <paramref name="bias"/> [out]) with weight [out, in] (F32,
        /// BF16 or F16): [..., out], float32.
        /// </summary>
        public Tensor Linear(Tensor weight, Tensor? bias = null)
        {
            const string op = "linear";
            using var profile = Profiler.Op(op, x, weight, bias);
            var (outF, inF) = CheckOperands(op, x, weight, bias);
            var outShape = x.ShapeArray;
            outShape[^1] = outF;
            Tensor y;
            using (Autograd.NoGrad())
            {
                using var xr = Graph.ContiguousData(x);
                using var x2 = xr.Reshape(-1, inF);
                using var y2 = Rows(op, x2, weight, bias);
                y = y2.Reshape(outShape);
            }
            return Graph.Record(y, op, [x, weight, bias], (g, need) =>
            {
                var g2 = g.Reshape(-1, outF);
                return
                [
                    need[0] ? g2.MatMul(weight).Reshape(x.ShapeArray) : null,
                    need[1] ? g2.Transpose(0, 1).MatMul(x.Reshape(-1, inF)) : null,
                    need[2] ? g2.Sum([0]) : null,
                ];
            });
        }
    }

    /// <summary>Checks x [..., in], weight [out, in] and bias [out] for <paramref name="op"/>; returns (out, in).</summary>
    internal static (int OutF, int InF) CheckOperands(string op, Tensor x, Tensor weight, Tensor? bias)
    {
        Check.Alive(op, x, weight, bias);
        Check.SameDevice(op, x, weight, bias);
        Check.Float(op, x, "input");
        Check.Float(op, weight, "weight");
        Check.Rank(op, weight, "weight [out, in]", 2);
        int outF = weight.Shape[0], inF = weight.Shape[1];
        if (x.Rank < 1 || x.Shape[^1] != inF)
            throw Check.Fail(op, $"input's last dim must be in_features = {inF}", x, weight);
        if (bias is not null)
            Check.Shape(op, bias, "bias", outF);
        return (outF, inF);
    }

    /// <summary>x2 [N, in] Wᵀ + b into a new float32 [N, out], with no history.</summary>
    internal static Tensor Rows(string op, Tensor x2, Tensor weight, Tensor? bias)
    {
        using var wt = weight.Transpose(0, 1);
        var y2 = MatMulOp.Product(x2, wt);
        if (bias is not null)
            Graph.Backend(op, y2, bias).Binary(BinaryOp.Add, y2, y2, bias);
        return y2;
    }
}
