using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Sliding-window perplexity: the window plan, the scores against plain full forwards, and bad data.</summary>
public class PerplexityTests
{
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(TokenizerFixtures.Tiny("bytelevel"));
    private const string Text = "The grass is green. The sky is blue. 12345 is the key. Here we go, there and back again!";

    private static CausalLM Tiny() => CausalLM.Load(CausalLMTests.Dir("qwen2-tiny"));

    [Theory]
    [InlineData(10, 4, 2)]
    [InlineData(37, 8, 3)]
    [InlineData(37, 8, 7)]
    [InlineData(8, 8, 4)]
    [InlineData(5, 8, 4)]
    [InlineData(100, 16, 1)]
    public void WithAStrideBelowTheWindowEveryTokenButTheFirstIsScoredOnce(int tokens, int window, int stride)
    {
        var plan = SlidingWindow.Plan(tokens, window, stride);

        var times = new int[tokens];
        foreach (var w in plan)
        {
            Assert.InRange(w.End - w.Begin, 2, window);
            Assert.InRange(w.ScoreFrom, w.Begin + 1, w.End - 1);
            for (int i = w.ScoreFrom; i < w.End; i++)
                times[i]++;
        }
        Assert.Equal(0, times[0]);
        Assert.All(times[1..], t => Assert.Equal(1, t));
        Assert.Equal(0, plan[0].Begin);
        Assert.All(plan.Skip(1), w => Assert.InRange(w.Scored, 1, stride));
        Assert.All(plan.Skip(1).SkipLast(1), w => Assert.Equal(stride, w.Scored));
    }

    [Fact]
    public void PlansOnSmallNumbers()
    {
        Assert.Equal([new(0, 4, 1), new(2, 6, 4), new(4, 8, 6), new(6, 10, 8)], SlidingWindow.Plan(10, 4, 2));
        // Non-overlapping windows (LongLoRA's): a window's first token has no context in it and is not scored.
        Assert.Equal([new(0, 4, 1), new(4, 8, 5), new(8, 10, 9)], SlidingWindow.Plan(10, 4, 4));
        Assert.Equal([new(0, 3, 1)], SlidingWindow.Plan(3, 4, 2));
        Assert.Empty(SlidingWindow.Plan(1, 4, 2));
        Assert.Empty(SlidingWindow.Plan(0, 4, 2));
        Assert.Contains("stride must be between 1 and the window (4), got 5", Assert.Throws<ArgumentException>(() => SlidingWindow.Plan(10, 4, 5)).Message);
        Assert.Contains("at least 2 tokens, got 1", Assert.Throws<ArgumentException>(() => SlidingWindow.Plan(10, 1, 1)).Message);
    }

    /// <summary>Sum of −log softmax(logits[i])[tokens[i + 1]] over the predicted positions, in double, from one plain forward.</summary>
    private static double ReferenceNll(CausalLM model, int[] tokens, int from, int to)
    {
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        float[] logits = model.Forward(Tensor.FromArray(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length])).ToFloatArray();
        int v = model.Config.VocabSize;
        double sum = 0;
        for (int i = from; i < to; i++)
        {
            var row = logits.AsSpan(i * v, v);
            double max = row.ToArray().Max(), z = 0;
            foreach (float x in row)
                z += Math.Exp(x - max);
            sum += max + Math.Log(z) - row[tokens[i + 1]];
        }
        return sum;
    }

    [Fact]
    public void ADocumentThatFitsOneWindowScoresAsOneFullForward()
    {
        using var model = Tiny();
        int[] ids = ByteLevel.Encode(Text);
        Assert.InRange(ids.Length, 20, 128);

        var (nll, scored) = Perplexity.Score(model, ids, window: 128, stride: 64);

        Assert.Equal(ids.Length - 1, scored);
        double expected = ReferenceNll(model, ids, 0, ids.Length - 1);
        Assert.Equal(expected, nll, expected * 1e-5);

        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("doc.txt"), Text);
        var result = Perplexity.Evaluate(model, ByteLevel, [dir.File("doc.txt")], new PerplexityOptions());
        Assert.Equal((128, 64, (long)ids.Length - 1), (result.Window, result.Stride, result.TokensScored));
        Assert.Equal(Math.Exp(expected / scored), result.Perplexity, result.Perplexity * 1e-5);
        Assert.Equal(result.Perplexity, Math.Exp(result.MeanNll), 1e-9);
    }

    [Theory]
    [InlineData(16, 6)]
    [InlineData(16, 16)]
    [InlineData(24, 1)]
    public void ALongerDocumentScoresAsHuggingFacesWindowLoop(int window, int stride)
    {
        using var model = Tiny();
        int[] ids = ByteLevel.Encode(Text);

        var (nll, scored) = Perplexity.Score(model, ids, window, stride);

        // Hugging Face's perplexity guide, token-exact: each window's last (end − previous end) labels count, shifted by one.
        double expected = 0;
        long count = 0;
        for (int begin = 0, previousEnd = 0; ; begin += stride)
        {
            int end = Math.Min(begin + window, ids.Length), labels = end - previousEnd;
            int[] input = ids[begin..end];
            int firstLabel = Math.Max(input.Length - labels, 1);
            expected += ReferenceNll(model, input, firstLabel - 1, input.Length - 1);
            count += input.Length - firstLabel;
            previousEnd = end;
            if (end == ids.Length)
                break;
        }
        Assert.Equal(count, scored);
        Assert.Equal(expected, nll, expected * 1e-5);
    }

    [Fact]
    public void DocumentsAreScoredEachAndWeightedByTokens()
    {
        using var model = Tiny();
        using var dir = new TokenizerTempDir();
        File.WriteAllLines(dir.File("docs.jsonl"), ["{\"text\": \"hello world, hello\"}", "", "{\"text\": \"\"}", "{\"body\": \"x\", \"text\": \"" + Text + "\"}"]);
        var seen = new List<DocumentPerplexity>();

        var result = Perplexity.Evaluate(model, ByteLevel, [dir.File("docs.jsonl")], new PerplexityOptions { Window = 16 }, seen.Add);

        Assert.Equal(result.Documents, seen);
        Assert.Equal([1, 4], result.Documents.Select(d => d.Line));
        Assert.Equal(1, result.SkippedDocuments);
        for (int i = 0; i < 2; i++)
        {
            int[] ids = ByteLevel.Encode(i == 0 ? "hello world, hello" : Text);
            var (nll, scored) = Perplexity.Score(model, ids, 16, 8);
            Assert.Equal((ids.Length, scored, nll), (result.Documents[i].Tokens, result.Documents[i].TokensScored, result.Documents[i].NllSum));
        }
        Assert.Equal(result.Documents.Sum(d => d.NllSum) / result.Documents.Sum(d => d.TokensScored), result.MeanNll, 1e-12);
    }

    [Fact]
    public void AWindowBeyondTheContextIsRefusedUnlessAllowed()
    {
        using var model = Tiny();
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("doc.txt"), Text);

        var e = Assert.Throws<ArgumentException>(() => Perplexity.Evaluate(model, ByteLevel, [dir.File("doc.txt")], new PerplexityOptions { Window = 256 }));
        Assert.StartsWith("perplexity: a window of 256 tokens is beyond the model's context of 128 tokens", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        Assert.True(Perplexity.Evaluate(model, ByteLevel, [dir.File("doc.txt")], new PerplexityOptions { Window = 256, AllowBeyondContext = true }).Perplexity > 1);
        model.ExtendContext(256, RopeType.Yarn);
        Assert.Equal(256, Perplexity.Evaluate(model, ByteLevel, [dir.File("doc.txt")], new PerplexityOptions()).Window);
    }

    [Fact]
    public void BadDataIsOneClearError()
    {
        using var model = Tiny();
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("empty.txt"), "");
        File.WriteAllText(dir.File("blank.jsonl"), "\n\n");
        File.WriteAllBytes(dir.File("latin1.txt"), [0x63, 0x61, 0x66, 0xE9, 0x20, 0x61]);
        File.WriteAllBytes(dir.File("latin1.jsonl"), [.. "{\"text\": \"caf"u8, 0xE9, .. "\"}\n"u8]);
        File.WriteAllText(dir.File("bad.jsonl"), "{\"text\": \"a b c\"}\n{\"text\": 3}\n");
        File.WriteAllText(dir.File("broken.jsonl"), "{\"text\": \"a b c\"}\n\n{\"text\": \"a\n");
        DataException Fails(string name) =>
            Assert.Throws<DataException>(() => Perplexity.Evaluate(model, ByteLevel, [dir.File(name)], new PerplexityOptions { Window = 16 }));

        Assert.Equal($"{dir.File("empty.txt")}: no documents to score (each needs 2 tokens or more; 1 shorter ones skipped)", Fails("empty.txt").Message);
        Assert.Equal($"{dir.File("blank.jsonl")}: no documents to score (each needs 2 tokens or more; 0 shorter ones skipped)", Fails("blank.jsonl").Message);
        Assert.StartsWith($"{dir.File("latin1.txt")}:1: not UTF-8 text (", Fails("latin1.txt").Message);
        Assert.StartsWith($"{dir.File("latin1.jsonl")}:1: not UTF-8 text (", Fails("latin1.jsonl").Message);
        Assert.Equal($"{dir.File("bad.jsonl")}:2: text: expected a string, got Number", Fails("bad.jsonl").Message);
        var broken = Fails("broken.jsonl");
        Assert.Equal(3, broken.Line);
        Assert.StartsWith($"{dir.File("broken.jsonl")}:3: malformed JSON: ", broken.Message);
        Assert.All(new[] { "empty.txt", "latin1.txt", "latin1.jsonl", "broken.jsonl" }, f => Assert.DoesNotContain('\n', Fails(f).Message));
    }
}
