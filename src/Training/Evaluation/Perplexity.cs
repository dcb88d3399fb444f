using RawLongLoRA.Distributed;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Sliding-window perplexity of long documents (see <see cref="SlidingWindow.Plan"/>): full causal
/// attention, no gradients, the loss in vocabulary tiles so no window ever holds its [tokens × vocab]
/// logits. Each window's NLL sum (its mean × the tokens it scored) is added up in double. On a group of ranks
/// (mpirun) each window is shared among them by Ring attention in zig-zag blocks, for windows one process cannot
/// hold: every rank scores the tokens its positions predict and the sums meet in an all-reduce.
/// </summary>
public static class Perplexity
{
    /// <summary>
    /// The documents of <paramref name="dataPaths"/> (.txt: a file is a document; .jsonl: a line is one;
    /// or folders of them), each the tokenizer's BOS (where it adds one) and the text's ids. Documents
    /// with fewer than 2 tokens have nothing to score and are counted as skipped. With <paramref name="group"/> every
    /// rank of it makes the same call and gets the same result.
    /// </summary>
    public static PerplexityResult Evaluate(CausalLM model, Tokenizer tokenizer, IEnumerable<string> dataPaths, PerplexityOptions options,
        Action<DocumentPerplexity>? onDocument = null, ICommunicator? group = null)
    {
        var (window, stride) = options.For(model);
        SlidingWindow.Plan(0, window, stride); // a bad window or stride fails before any reading
        EvalContext.Require(model, window, options.AllowBeyondContext, "perplexity: a window");
        var files = DataFiles.Expand(dataPaths);
        return EvalContext.InEvalMode(model, () => Documents(model, tokenizer, files, options.TextField, window, stride, onDocument, group));
    }

    private static PerplexityResult Documents(CausalLM model, Tokenizer tokenizer, IReadOnlyList<string> files, string textField, int window, int stride,
        Action<DocumentPerplexity>? onDocument, ICommunicator? group)
    {
        var documents = new List<DocumentPerplexity>();
        int skipped = 0;
        foreach (string file in files)
            foreach (var (text, line, _) in PretrainingDocuments.Texts(file, textField))
            {
                int[] ids = tokenizer.Encode(text, addBos: true);
                if (ids.Length < 2)
                {
                    skipped++;
                    continue;
                }
                var (nll, scored) = Score(model, ids, window, stride, group);
                var document = new DocumentPerplexity(file, line, ids.Length, scored, nll);
                documents.Add(document);
                onDocument?.Invoke(document);
            }
        return documents.Count > 0 ? new PerplexityResult(window, stride, documents, skipped)
            : throw new DataException(string.Join(", ", files), null, null, $"no documents to score (each needs 2 tokens or more; {skipped} shorter ones skipped)");
    }

    /// <summary>
    /// The NLL summed over the tokens the windows score, and their count; the model runs in the mode it is in. With
    /// <paramref name="group"/> the windows are shared among its ranks (<see cref="Perplexity"/>).
    /// </summary>
    public static (double NllSum, long Scored) Score(CausalLM model, IReadOnlyList<int> tokens, int window, int stride, ICommunicator? group = null)
    {
        double sum = 0;
        long count = 0;
        using var noGrad = Autograd.NoGrad();
        var own = model.AttentionStrategy;
        var ring = group is null ? null : new RingAttention(group, zigZag: true);
        try
        {
            foreach (var w in SlidingWindow.Plan(tokens.Count, window, stride))
                using (new DisposeScope())
                {
                    // A window too short to give each rank its two blocks is read whole by every rank.
                    bool shared = group is not null && w.End - w.Begin >= 2 * group.Size;
                    model.AttentionStrategy = shared ? ring! : own;
                    sum += shared ? SharedWindowNll(model, tokens, w, ring!) : WindowNll(model, tokens, w);
                    count += w.Scored;
                }
        }
        finally
        {
            model.AttentionStrategy = own;
        }
        return (sum, count);
    }

    private static double WindowNll(CausalLM model, IReadOnlyList<int> tokens, SlidingWindow w)
    {
        var ids = Tensor.FromArray(Slice(tokens, w.Begin, w.End), [1, w.End - w.Begin], model.Device);
        var hidden = model.Hidden(ids);
        // Row i predicts token i + 1: only the rows before the scored tokens go through the LM head.
        var rows = hidden.Narrow(1, w.ScoreFrom - 1 - w.Begin, w.Scored).Reshape(w.Scored, -1);
        float mean = rows.LinearCrossEntropy(model.HeadWeight, Tensor.FromArray(Slice(tokens, w.ScoreFrom, w.End), device: model.Device)).Item();
        return (double)mean * w.Scored;
    }

    /// <summary>
    /// The window's NLL with its positions shared among the ring's ranks: each rank's rows predict the next token where
    /// it is scored (the rest are ignored), and the ranks' sums are added.
    /// </summary>
    private static double SharedWindowNll(CausalLM model, IReadOnlyList<int> tokens, SlidingWindow w, RingAttention ring)
    {
        int length = w.End - w.Begin;
        var shards = new SequenceShards(length, ring.Group.Size, ring.ZigZag);
        var targets = new long[length];
        for (int i = 0; i < length; i++)
            targets[i] = w.Begin + i + 1 >= w.ScoreFrom && w.Begin + i + 1 < w.End ? tokens[w.Begin + i + 1] : CrossEntropyOp.IgnoreIndex;
        var positions = shards.PositionsOf(ring.Group.Rank);
        var ids = Tensor.FromArray(positions.Select(p => (long)tokens[w.Begin + p]).ToArray(), [1, positions.Length], model.Device);
        var hidden = model.Hidden(ids, Tensor.FromArray(positions.Select(p => (long)p).ToArray(), device: model.Device),
                                  new AttentionSpec { RowLength = length }, positionEnd: length);
        var sum = hidden.Reshape(positions.Length, -1).LinearCrossEntropy(model.HeadWeight, Tensor.FromArray(shards.Take(targets, ring.Group.Rank), device: model.Device), sum: true);
        ring.Group.AllReduce(sum);
        return sum.Item();
    }

    private static long[] Slice(IReadOnlyList<int> tokens, int begin, int end)
    {
        var slice = new long[end - begin];
        for (int i = 0; i < slice.Length; i++)
            slice[i] = tokens[begin + i];
        return slice;
    }
}
