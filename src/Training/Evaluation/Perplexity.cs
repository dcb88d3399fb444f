using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Sliding-window perplexity of long documents (see <see cref="SlidingWindow.Plan"/>): full causal
/// attention, no gradients, the loss in vocabulary tiles so no window ever holds its [tokens × vocab]
/// logits. Each window's NLL sum (its mean × the tokens it scored) is added up in double.
/// </summary>
public static class Perplexity
{
    /// <summary>
    /// The documents of <paramref name="dataPaths"/> (.txt: a file is a document; .jsonl: a line is one;
    /// or folders of them), each the tokenizer's BOS (where it adds one) and the text's ids. Documents
    /// with fewer than 2 tokens have nothing to score and are counted as skipped.
    /// </summary>
    public static PerplexityResult Evaluate(CausalLM model, Tokenizer tokenizer, IEnumerable<string> dataPaths, PerplexityOptions options,
        Action<DocumentPerplexity>? onDocument = null)
    {
        var (window, stride) = options.For(model);
        SlidingWindow.Plan(0, window, stride); // a bad window or stride fails before any reading
        EvalContext.Require(model, window, options.AllowBeyondContext, "perplexity: a window");
        var files = DataFiles.Expand(dataPaths);
        return EvalContext.InEvalMode(model, () => Documents(model, tokenizer, files, options.TextField, window, stride, onDocument));
    }

    private static PerplexityResult Documents(CausalLM model, Tokenizer tokenizer, IReadOnlyList<string> files, string textField, int window, int stride,
        Action<DocumentPerplexity>? onDocument)
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
                var (nll, scored) = Score(model, ids, window, stride);
                var document = new DocumentPerplexity(file, line, ids.Length, scored, nll);
                documents.Add(document);
                onDocument?.Invoke(document);
            }
        return documents.Count > 0 ? new PerplexityResult(window, stride, documents, skipped)
            : throw new DataException(string.Join(", ", files), null, null, $"no documents to score (each needs 2 tokens or more; {skipped} shorter ones skipped)");
    }

    /// <summary>The NLL summed over the tokens the windows score, and their count; the model runs in the mode it is in.</summary>
    public static (double NllSum, long Scored) Score(CausalLM model, IReadOnlyList<int> tokens, int window, int stride)
    {
        double sum = 0;
        long count = 0;
        using var noGrad = Autograd.NoGrad();
        foreach (var w in SlidingWindow.Plan(tokens.Count, window, stride))
            using (new DisposeScope())
            {
                var ids = Tensor.FromArray(Slice(tokens, w.Begin, w.End), [1, w.End - w.Begin], model.Device);
                var hidden = model.Hidden(ids);
                // Row i predicts token i + 1: only the rows before the scored tokens go through the LM head.
                var rows = hidden.Narrow(1, w.ScoreFrom - 1 - w.Begin, w.Scored).Reshape(w.Scored, -1);
                float mean = rows.LinearCrossEntropy(model.HeadWeight, Tensor.FromArray(Slice(tokens, w.ScoreFrom, w.End), device: model.Device)).Item();
                sum += (double)mean * w.Scored;
                count += w.Scored;
            }
        return (sum, count);
    }

    private static long[] Slice(IReadOnlyList<int> tokens, int begin, int end)
    {
        var slice = new long[end - begin];
        for (int i = 0; i < slice.Length; i++)
            slice[i] = tokens[begin + i];
        return slice;
    }
}
