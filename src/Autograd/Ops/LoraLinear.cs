using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// A Linear with a LoRA update as one op: y = x Wᵀ + b + s·(x̃ Aᵀ) Bᵀ, x̃ = dropout(x). The update's scale and sum
/// ride on the GEMM (alpha = s, beta = 1) instead of two elementwise passes over [N, out], and backward shares
/// u = dY·B between dX and dA. Values and gradients equal the composition
/// <c>x.Linear(W, b) + x.Dropout(p).Linear(A).Linear(B).Scale(s)</c> up to float rounding, dropout mask included.
/// </summary>
public static class LoraLinearOp
{
    extension(Tensor x)
    {
        /// <summary>
        /// x [..., in] @ <paramref name="weight"/>ᵀ (+ <paramref name="bias"/> [out]) + <paramref name="scale"/> ·
        /// (dropout(x) @ <paramref name="loraA"/>ᵀ) @ <paramref name="loraB"/>ᵀ, with weight [out, in] (F32, BF16 or F16),
        /// A [r, in] and B [out, r]: [..., out], float32. The dropout mask (probability <paramref name="dropout"/>,
        /// 0 for none) is drawn from <paramref name="generator"/> (default: <see cref="Generator.Default"/>) as
        /// <see cref="DropoutOp"/> draws it.
        /// </summary>
        public Tensor LoraLinear(Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scale, float dropout = 0f, Generator? generator = null)
            => Apply(x, weight, bias, loraA, loraB, scale, dropout, generator, null);
    }

    /// <summary>
    /// <see cref="LoraLinear"/> with the update through <paramref name="sidePath"/> wherever it covers the call, whatever
    /// the operands' backend: the tests run a backend's side path on host tensors this way.
    /// </summary>
    internal static Tensor LoraLinearThrough(ILoraSidePath sidePath, Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scale)
        => Apply(x, weight, bias, loraA, loraB, scale, 0f, null, sidePath);

    /// <summary>
    /// The op; the update goes through <paramref name="sidePath"/> (default: the backend's, where it has one) when it
    /// covers the call and there is no dropout, else through two GEMMs.
    /// </summary>
    private static Tensor Apply(Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scale, float dropout, Generator? generator, ILoraSidePath? sidePath)
    {
        const string op = "lora_linear";
        using var profile = Profiler.Op(op, x, weight, bias, loraA, loraB);
        var (outF, inF) = LinearOp.CheckOperands(op, x, weight, bias);
        Check.Alive(op, loraA, loraB);
        Check.SameDevice(op, x, loraA, loraB);
        Check.Float(op, loraA, "lora_A");
        Check.Float(op, loraB, "lora_B");
        Check.Rank(op, loraA, "lora_A [r, in]", 2);
        int r = loraA.Shape[0];
        Check.Shape(op, loraA, "lora_A [r, in]", r, inF);
        Check.Shape(op, loraB, "lora_B [out, r]", outF, r);
        if (dropout < 0 || dropout >= 1)
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"{op}: dropout must be in [0, 1)");
        var outShape = x.ShapeArray;
        outShape[^1] = outF;
        var backend = Graph.Backend(op, x, weight, bias, loraA, loraB);
        sidePath ??= backend as ILoraSidePath;
        Tensor y, x2;
        Tensor? t = null, xa = null, mask = null, dropped = null;
        using (Autograd.NoGrad())
        {
            using (var xr = Graph.ContiguousData(x))
                x2 = xr.Reshape(-1, inF);
            if (dropout == 0 && sidePath is not null && sidePath.Covers(x2, loraA, loraB))
            {
                using var y1 = LinearOp.Rows(op, x2, weight, bias);
                xa = sidePath.Forward(y1, x2, loraA, loraB, scale);
                y = y1.Reshape(outShape);
            }
            else
            {
                if (dropout > 0)
                {
                    mask = Tensor.Bernoulli(x2.ShapeArray, 1 - dropout, generator, x.Device);
                    backend.Unary(UnaryOp.Scale, mask, mask, 1f / (1 - dropout));
                    dropped = Graph.Empty(x2.ShapeArray, x2);
                    backend.Binary(BinaryOp.Mul, dropped, x2, mask);
                }
                using var y2 = LinearOp.Rows(op, x2, weight, bias);
                t = Graph.Empty([x2.Shape[0], r], x2);
                using (var at = loraA.Transpose(0, 1))
                    backend.Gemm(t, dropped ?? x2, at);
                using (var bt = loraB.Transpose(0, 1))
                    backend.Gemm(y2, t, bt, alpha: scale, beta: 1f);
                y = y2.Reshape(outShape);
            }
        }
        if (xa is not null)
            return Graph.Record(y, op, [x, weight, bias, loraA, loraB], [x2, xa], (g, need) =>
                SidePathBackward(op, g, need, x, x2, weight, loraA, loraB, xa, scale, sidePath!));
        var product = t!;
        Tensor[] saved = mask is null ? [x2, product] : [x2, product, mask, dropped!];
        return Graph.Record(y, op, [x, weight, bias, loraA, loraB], saved, (g, need) =>
            Backward(op, g, need, x, x2, weight, loraA, loraB, product, mask, dropped ?? x2, scale));
    }

    /// <summary>
    /// u = dY·B [N, r]; dX = dY·W + s·(u·A) ∘ mask; dW = dYᵀ·x; db = Σ dY; dA = s·uᵀ·x̃; dB = s·dYᵀ·t — each only
    /// where asked. Without dropout the update's part of dX accumulates into dY·W by the GEMM's beta.
    /// </summary>
    private static Tensor?[] Backward(string op, Tensor g, bool[] need, Tensor x, Tensor x2, Tensor weight, Tensor loraA, Tensor loraB,
                                      Tensor t, Tensor? mask, Tensor dropped, float scale)
    {
        int outF = weight.Shape[0], inF = weight.Shape[1], r = loraA.Shape[0];
        var backend = Graph.Backend(op, g, x2);
        using var gr = Graph.ContiguousData(g);
        using var g2 = gr.Reshape(-1, outF);
        using var g2t = g2.Transpose(0, 1);
        using var u = need[0] || need[3] ? Graph.Empty([g2.Shape[0], r], g2) : null;
        if (u is not null)
            backend.Gemm(u, g2, loraB);
        Tensor? dx = null, dw = null, db = null, da = null, dbB = null;
        if (need[0])
        {
            using var dx2 = Graph.Empty([g2.Shape[0], inF], g2);
            backend.Gemm(dx2, g2, weight);
            if (mask is null)
                backend.Gemm(dx2, u!, loraA, alpha: scale, beta: 1f);
            else
            {
                using var update = Graph.Empty(dx2.ShapeArray, dx2);
                backend.Gemm(update, u!, loraA, alpha: scale);
                backend.Binary(BinaryOp.Mul, update, update, mask);
                backend.Binary(BinaryOp.Add, dx2, dx2, update);
            }
            dx = dx2.Reshape(x.ShapeArray);
        }
        (dw, db) = FrozenGradients(backend, need, g2, g2t, x2);
        if (need[3])
        {
            da = Graph.Empty([r, inF], g2);
            using var ut = u!.Transpose(0, 1);
            backend.Gemm(da, ut, dropped, alpha: scale);
        }
        if (need[4])
        {
            dbB = Graph.Empty([outF, r], g2);
            backend.Gemm(dbB, g2t, t, alpha: scale);
        }
        return [dx, dw, db, da, dbB];
    }

    /// <summary>dW = dYᵀ·x and db = Σ dY, where asked: the frozen projection's part of either backward.</summary>
    private static (Tensor? Dw, Tensor? Db) FrozenGradients(IBackend backend, bool[] need, Tensor g2, Tensor g2t, Tensor x2)
    {
        Tensor? dw = null;
        if (need[1])
        {
            dw = Graph.Empty([g2.Shape[1], x2.Shape[1]], g2);
            backend.Gemm(dw, g2t, x2);
        }
        return (dw, need[2] ? g2.Sum([0]) : null);
    }

    /// <summary>
    /// The backward of the side path's forward: dX = dY·W (the frozen GEMM) plus the update's part, dA and dB from the
    /// side path (which makes both together), dW and db where asked.
    /// </summary>
    private static Tensor?[] SidePathBackward(string op, Tensor g, bool[] need, Tensor x, Tensor x2, Tensor weight, Tensor loraA, Tensor loraB,
                                              Tensor xa, float scale, ILoraSidePath sidePath)
    {
        int outF = weight.Shape[0], inF = weight.Shape[1], r = loraA.Shape[0];
        var backend = Graph.Backend(op, g, x2);
        using var gr = Graph.ContiguousData(g);
        using var g2 = gr.Reshape(-1, outF);
        using var g2t = g2.Transpose(0, 1);
        using var dx2 = need[0] ? Graph.Empty([g2.Shape[0], inF], g2) : null;
        if (dx2 is not null)
            backend.Gemm(dx2, g2, weight);
        var da = Graph.Empty([r, inF], g2);
        var dbB = Graph.Empty([outF, r], g2);
        sidePath.Backward(dx2, da, dbB, g2, x2, xa, loraA, loraB, scale);
        var (dw, db) = FrozenGradients(backend, need, g2, g2t, x2);
        if (!need[3])
            da.Dispose();
        if (!need[4])
            dbB.Dispose();
        return [dx2?.Reshape(x.ShapeArray), dw, db, need[3] ? da : null, need[4] ? dbB : null];
    }
}
