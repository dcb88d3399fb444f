using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Mean cross-entropy over the targets that are not ignoreIndex (as torch.nn.functional.cross_entropy
/// with reduction="mean": NaN if every target is ignored), from logits, or fused with the LM head so
/// that the [tokens × vocab] logits are only ever held one tile at a time. Everything, the count of
/// targets included, is computed on the operands' device: the loss is never read back here.
/// </summary>
public static class CrossEntropyOp
{
    /// <summary>
    /// The target value whose token is left out of the loss (prompt tokens, padding), as in PyTorch.
    /// </summary>
    public const int IgnoreIndex = -100;

    /// <summary>Vocabulary columns of a LinearCrossEntropy logits tile.</summary>
    public const int VocabChunk = 8192;

    /// <summary>Token rows of a LinearCrossEntropy logits tile: with <see cref="VocabChunk"/> columns, 64 MiB of float32.</summary>
    public const int TokenChunk = 2048;

    extension(Tensor logits)
    {
        /// <summary>Loss of logits [N, V] against targets [N].</summary>
        public Tensor CrossEntropy(Tensor targets, int ignoreIndex = IgnoreIndex)
        {
            const string op = "cross_entropy";
            using var profile = Profiler.Op(op, logits, targets);
            Check.Alive(op, logits, targets);
            Check.Rank(op, logits, "logits [tokens, vocab]", 2);
            Check.Float(op, logits, "logits");
            int n = logits.Shape[0];
            var (tc, weights, nanIfNone) = Targets(op, targets, n, logits.Shape[1], ignoreIndex, logits);
            var lc = Graph.ContiguousData(logits);
            var lse = Tensor.Full([n], double.NegativeInfinity, DType.F32, logits.Device);
            using var targetLogit = Tensor.Zeros([n], DType.F32, logits.Device);
            Graph.Backend(op, lc, tc).CrossEntropy(lse, targetLogit, lc, tc, 0);
            var loss = MeanLoss(lse, targetLogit, weights, nanIfNone);
            nanIfNone.Dispose();
            return Graph.Record(loss, op, [logits], [lc, tc, lse, weights], (g, _) =>
            {
                using var dloss = RowGradient(weights, g);
                var dlogits = Graph.Empty(logits.ShapeArray, g);
                Graph.Backend(op, g, lc).CrossEntropyBackward(dlogits, dloss, lc, lse, tc, 0);
                return [dlogits];
            });
        }
    }

    extension(Tensor hidden)
    {
        /// <summary>
        /// Loss of the LM head hidden [..., d] @ weight [V, d]ᵀ against targets [...] without the full
        /// logits: tiles of tokenChunk × vocabChunk logits are made, folded into the loss and dropped, and
        /// made again in backward (one extra GEMM for a [tokens × vocab] buffer never allocated). With
        /// <paramref name="sum"/> the loss is the sum over the counted targets instead of their mean (0, not NaN, when
        /// none count): data and sequence parallel ranks divide it by the count over every rank.
        /// </summary>
        public Tensor LinearCrossEntropy(Tensor weight, Tensor targets, int ignoreIndex = IgnoreIndex, int vocabChunk = VocabChunk, int tokenChunk = TokenChunk, bool sum = false)
        {
            const string op = "linear_cross_entropy";
            using var profile = Profiler.Op(op, hidden, weight, targets);
            Check.Alive(op, hidden, weight, targets);
            var backend = Graph.Backend(op, hidden, weight, targets);
            Check.Rank(op, weight, "weight [vocab, dim]", 2);
            Check.Float(op, hidden, "hidden");
            Check.Float(op, weight, "weight");
            int v = weight.Shape[0], d = weight.Shape[1];
            if (hidden.Rank < 1 || hidden.Shape[^1] != d)
                throw Check.Fail(op, $"hidden's last dim must be the weight's dim {d}", hidden, weight);
            if (vocabChunk < 1 || tokenChunk < 1)
                throw new ArgumentOutOfRangeException(nameof(vocabChunk), $"{op}: chunk sizes must be positive, got vocab {vocabChunk}, tokens {tokenChunk}");
            int n = checked((int)(hidden.Numel / d));
            var (tc, weights, nanIfNone) = Targets(op, targets, n, v, ignoreIndex, hidden, sum);
            var hc = Graph.ContiguousData(hidden);
            var h2 = hc.Restride(Layout.Contiguous([n, d], hc.Layout.Offset));
            hc.Dispose();
            var tiles = new Tiles(n, v, Math.Min(tokenChunk, n), Math.Min(vocabChunk, v));
            var lse = Tensor.Full([n], double.NegativeInfinity, DType.F32, hidden.Device);
            using var targetLogit = Tensor.Zeros([n], DType.F32, hidden.Device);
            using (Autograd.NoGrad())
            using (var buffer = tiles.Buffer(hidden))
                tiles.ForEach(buffer, h2, weight, (logits, rows, cols) =>
                {
                    using var rowLse = lse.Narrow(0, rows.Start, rows.Length);
                    using var rowTarget = targetLogit.Narrow(0, rows.Start, rows.Length);
                    using var rowIds = tc.Narrow(0, rows.Start, rows.Length);
                    backend.CrossEntropy(rowLse, rowTarget, logits, rowIds, cols.Start);
                });
            var loss = MeanLoss(lse, targetLogit, weights, nanIfNone);
            nanIfNone.Dispose();
            return Graph.Record(loss, op, [hidden, weight], [h2, tc, lse, weights], (g, need) =>
            {
                using var dloss = RowGradient(weights, g);
                var dh = need[0] ? Tensor.Empty([n, d], DType.F32, g.Device) : null;
                var dw = need[1] ? Tensor.Empty([v, d], DType.F32, g.Device) : null;
                var backward = Graph.Backend(op, g, h2);
                using var buffer = tiles.Buffer(g);
                tiles.ForEach(buffer, h2, weight, (logits, rows, cols) =>
                {
                    using var rowDloss = dloss.Narrow(0, rows.Start, rows.Length);
                    using var rowLse = lse.Narrow(0, rows.Start, rows.Length);
                    using var rowIds = tc.Narrow(0, rows.Start, rows.Length);
                    backward.CrossEntropyBackward(logits, rowDloss, logits, rowLse, rowIds, cols.Start);
                    // The first tile of a row (column) band writes its slice of dh (dW); later tiles add.
                    if (dh is not null)
                    {
                        using var dhRows = dh.Narrow(0, rows.Start, rows.Length);
                        using var wCols = weight.Narrow(0, cols.Start, cols.Length);
                        backward.Gemm(dhRows, logits, wCols, 1f, cols.Start == 0 ? 0f : 1f);
                    }
                    if (dw is not null)
                    {
                        using var dwCols = dw.Narrow(0, cols.Start, cols.Length);
                        using var hRows = h2.Narrow(0, rows.Start, rows.Length);
                        using var logitsT = logits.Transpose(0, 1);
                        backward.Gemm(dwCols, logitsT, hRows, 1f, rows.Start == 0 ? 0f : 1f);
                    }
                });
                return [dh?.Reshape(hidden.ShapeArray), dw];
            });
        }
    }

    /// <summary>Row and column ranges of the logits tiles, and the one buffer they are made in.</summary>
    private sealed class Tiles(int n, int v, int tokenChunk, int vocabChunk)
    {
        public Tensor Buffer(Tensor like) => Tensor.Empty([tokenChunk * vocabChunk], DType.F32, like.Device);

        /// <summary>For every tile: logits = h[rows] @ weight[cols]ᵀ in the buffer, then body(logits, rows, cols).</summary>
        public void ForEach(Tensor buffer, Tensor h2, Tensor weight, Action<Tensor, (int Start, int Length), (int Start, int Length)> body)
        {
            var backend = Graph.Backend("linear_cross_entropy", h2, weight, buffer);
            for (int r0 = 0; r0 < n; r0 += tokenChunk)
            {
                int rows = Math.Min(tokenChunk, n - r0);
                using var hRows = h2.Narrow(0, r0, rows);
                for (int c0 = 0; c0 < v; c0 += vocabChunk)
                {
                    int cols = Math.Min(vocabChunk, v - c0);
                    using var logits = buffer.Restride(Layout.Contiguous([rows, cols]));
                    using var wCols = weight.Narrow(0, c0, cols);
                    using var wT = wCols.Transpose(0, 1);
                    backend.Gemm(logits, hRows, wT);
                    body(logits, (r0, rows), (c0, cols));
                }
            }
        }
    }

    /// <summary>
    /// Flattened targets, the per-row weight 1/count (0 where ignored) that turns row losses into the mean, and a
    /// [1] term that is 0, or NaN when no target counts — all made on the targets' device, so nothing is read back.
    /// With <paramref name="sum"/> the weight is 1 where a target counts and the term is 0.
    /// </summary>
    private static (Tensor Targets, Tensor Weights, Tensor NaNIfNone) Targets(string op, Tensor targets, int n, int vocab, int ignoreIndex, Tensor like, bool sum = false)
    {
        Check.Index(op, targets, "targets");
        if (targets.Numel != n)
            throw Check.Fail(op, $"targets must have shape [{n}] (one per token), got {Shapes.Format(targets.Shape)}", targets, like);
        var backend = Graph.Backend(op, targets, like);
        var tc = Graph.ContiguousData(targets);
        var flat = tc.Restride(Layout.Contiguous([n], tc.Layout.Offset));
        tc.Dispose();
        // Host memory costs nothing to read; a device's kernels would check the range themselves, as torch's do.
        if (flat.Device.IsCpu)
            CheckVocabulary(op, flat, vocab, ignoreIndex, like);
        var dev = flat.Device;
        // |target − ignore| ≥ 1 for every other integer, so min(|target − ignore|, 1) is 1 where it counts, 0 where not.
        var weights = Tensor.Empty([n], DType.F32, dev);
        backend.Copy(weights, flat);
        backend.Unary(UnaryOp.AddScalar, weights, weights, -ignoreIndex);
        backend.Unary(UnaryOp.Abs, weights, weights);
        using var one = Tensor.Full([1], 1, DType.F32, dev);
        backend.Binary(BinaryOp.Minimum, weights, weights, one);
        if (sum)
            return (flat, weights, Tensor.Zeros([1], DType.F32, dev));
        using var count = Tensor.Empty([1], DType.F32, dev);
        backend.Reduce(ReduceOp.Sum, count, weights);
        var nanIfNone = Tensor.Empty([1], DType.F32, dev);
        backend.Unary(UnaryOp.Reciprocal, nanIfNone, count);
        backend.Unary(UnaryOp.Scale, nanIfNone, nanIfNone, 0f); // 0 · ∞ = NaN when nothing counts
        backend.Binary(BinaryOp.Maximum, count, count, one);
        backend.Binary(BinaryOp.Div, weights, weights, count);
        return (flat, weights, nanIfNone);
    }

    private static void CheckVocabulary(string op, Tensor flat, int vocab, int ignoreIndex, Tensor like)
    {
        var ids = flat.DType == DType.I64 ? flat.ToArray<long>() : Array.ConvertAll(flat.ToArray<int>(), t => (long)t);
        foreach (long t in ids)
            if (t != ignoreIndex && (t < 0 || t >= vocab))
                throw Check.Fail(op, $"target {t} is outside the vocabulary of {vocab} (ignore index {ignoreIndex})", flat, like);
    }

    /// <summary>Σ (lse − target logit) · weight: the mean over counted rows, plus the NaN term (as PyTorch when none count).</summary>
    private static Tensor MeanLoss(Tensor lse, Tensor targetLogit, Tensor weights, Tensor nanIfNone)
    {
        var backend = Graph.Backend("cross_entropy", lse, targetLogit, weights, nanIfNone);
        using var rows = Tensor.Empty(lse.ShapeArray, DType.F32, lse.Device);
        backend.Binary(BinaryOp.Sub, rows, lse, targetLogit);
        backend.Binary(BinaryOp.Mul, rows, rows, weights);
        var loss = Tensor.Empty([], DType.F32, lse.Device);
        using (var loss1 = loss.Restride(Layout.Contiguous([1])))
        {
            backend.Reduce(ReduceOp.Sum, loss1, rows);
            backend.Binary(BinaryOp.Add, loss1, loss1, nanIfNone);
        }
        return loss;
    }

    /// <summary>dloss per row = weight · g, where g is the scalar loss's gradient.</summary>
    private static Tensor RowGradient(Tensor weights, Tensor g)
    {
        var dloss = Tensor.Empty(weights.ShapeArray, DType.F32, weights.Device);
        using var g1 = g.Restride(Layout.Contiguous([1]));
        Graph.Backend("cross_entropy", weights, g1).Binary(BinaryOp.Mul, dloss, weights, g1);
        return dloss;
    }
}
