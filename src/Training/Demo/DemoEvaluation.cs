using System.Text;
using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// How the demo scores a model at a context: passkey retrieval on <see cref="PasskeyDocuments"/> prompts
/// at evenly spread depths (greedy, scored by <see cref="Passkey.IsCorrect"/> as `rawlora eval passkey`
/// is), and perplexity on held-out passkey documents of that length. Full attention always, as
/// evaluation is.
/// </summary>
internal static class DemoEvaluation
{
    /// <summary>Depths of the key in the filler: first, a quarter, half, three quarters, last.</summary>
    public static readonly double[] Depths = [0, 0.25, 0.5, 0.75, 1];

    /// <summary>Fraction of correct retrievals per depth (trials each, keys drawn from the seed), and overall.</summary>
    public static (double[] ByDepth, double Overall) Passkey(CausalLM model, int length, int trials, ulong seed)
    {
        using var noGrad = Autograd.NoGrad();
        var random = new SplitMix64(seed);
        var byDepth = new double[Depths.Length];
        for (int d = 0; d < Depths.Length; d++)
        {
            int correct = 0;
            for (int t = 0; t < trials; t++)
            {
                int key = 10000 + random.NextBelow(90000);
                string answer = PasskeyDocuments.Answer(key);
                string prompt = PasskeyDocuments.Prompt(length - answer.Length, key, Depths[d], random.NextBelow(PasskeyDocuments.Filler.Length));
                var ids = Encoding.UTF8.GetBytes(prompt).Select(b => (int)b).ToArray();
                var output = TextGeneration.Generate(model, ids, new SamplingOptions { MaxNewTokens = answer.Length, StopTokens = [DemoTokenizer.EndOfText] });
                string text = Encoding.UTF8.GetString(output.Where(i => i < 256).Select(i => (byte)i).ToArray());
                correct += Training.Passkey.IsCorrect(key.ToString(System.Globalization.CultureInfo.InvariantCulture), text) ? 1 : 0;
            }
            byDepth[d] = (double)correct / trials;
        }
        return (byDepth, byDepth.Average());
    }

    /// <summary>exp(mean next-token loss) over <paramref name="documents"/> held-out documents of <paramref name="length"/> tokens.</summary>
    public static double Perplexity(CausalLM model, int length, int documents, ulong seed)
    {
        using var noGrad = Autograd.NoGrad();
        var random = new SplitMix64(seed);
        double nll = 0;
        for (int i = 0; i < documents; i++)
        {
            using var scope = new DisposeScope();
            nll += BatchLoss.Of(model, DemoBase.Batch(1, ref random, length)).ToFloatArray()[0];
        }
        return Math.Exp(nll / documents);
    }
}
