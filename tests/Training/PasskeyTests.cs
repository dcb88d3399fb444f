using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Passkey retrieval: prompts fitted to a length with the key at its depth, seeded keys, scoring and the table.</summary>
public class PasskeyTests
{
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(TokenizerFixtures.Tiny("bytelevel"));

    /// <summary>A prompt short enough for the tiny model's 128 positions.</summary>
    private static readonly PasskeyPrompt Short = new() { Task = "", Filler = "ab cd ", KeyLine = "key {key}.", Question = "key?", Separator = " " };

    [Theory]
    [InlineData(300, 0.0)]
    [InlineData(300, 0.5)]
    [InlineData(700, 0.25)]
    [InlineData(700, 1.0)]
    public void APromptFillsItsLengthWithTheKeyAtItsDepth(int length, double depth)
    {
        var prompt = new PasskeyPrompt();

        int[] ids = prompt.Fit(ByteLevel, "40213", length, depth);

        Assert.InRange(ids.Length, length - 3, length);
        string text = ByteLevel.Decode(ids);
        string line = "The pass key is 40213. Remember it. 40213 is the pass key.";
        Assert.StartsWith(prompt.Task + "\n", text);
        Assert.EndsWith("\nWhat is the pass key? The pass key is", text);
        int at = text.IndexOf(line, StringComparison.Ordinal);
        // task \n filler[..before] \n key line \n filler[..after] \n question
        int before = at - (prompt.Task.Length + 2), after = text.Length - (at + line.Length + 2) - prompt.Question.Length;
        Assert.Equal(depth, (double)before / (before + after), 0.01);
        Assert.StartsWith(prompt.Filler[..Math.Min(before, 20)], text[(prompt.Task.Length + 1)..]);
        Assert.Equal(text, prompt.Build("40213", before + after, depth));
    }

    [Fact]
    public void ALengthShorterThanThePromptWithoutFillerIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new PasskeyPrompt().Fit(ByteLevel, "40213", 100, 0.5));
        Assert.StartsWith("passkey: a length of 100 tokens is shorter than the prompt without filler (", e.Message);
    }

    [Fact]
    public void KeysAreSeededPerLengthDepthAndTrial()
    {
        var keys = new HashSet<string>();
        foreach (int length in new[] { 1024, 2048 })
            for (int d = 0; d < 3; d++)
                for (int t = 0; t < 10; t++)
                {
                    var (key, depth) = Passkey.Draw(7, length, d, 0.25, t, 5);
                    Assert.Equal((key, depth), Passkey.Draw(7, length, d, 0.25, t, 5));
                    Assert.Matches("^[1-9][0-9]{4}$", key);
                    Assert.Equal(0.25, depth);
                    keys.Add(key);
                }
        Assert.True(keys.Count > 55, $"{keys.Count} distinct keys of 60");
        Assert.NotEqual(Passkey.Draw(7, 1024, 0, null, 0, 5), Passkey.Draw(8, 1024, 0, null, 0, 5));
        var drawn = Enumerable.Range(0, 50).Select(t => Passkey.Draw(1, 512, 0, null, t, 3).Depth).ToList();
        Assert.All(drawn, d => Assert.InRange(d, 0, 1));
        Assert.True(drawn.Distinct().Count() == 50 && drawn.Average() is > 0.3 and < 0.7);
        Assert.Matches("^[1-9][0-9]{2}$", Passkey.Draw(1, 512, 0, null, 0, 3).Key);
    }

    [Theory]
    [InlineData(" 40213.", true)]
    [InlineData("40213", true)]
    [InlineData(" is 40213 and", true)]
    [InlineData(" 4021", false)]
    [InlineData(" 402134", false)]
    [InlineData(" 4 0213", false)]
    [InlineData(" 40212", false)]
    [InlineData("", false)]
    [InlineData(" the key", false)]
    public void AnAnswerIsCorrectWhenItsFirstDigitsAreTheKey(string answer, bool correct) =>
        Assert.Equal(correct, Passkey.IsCorrect("40213", answer));

    [Fact]
    public void TheTableCountsByLengthAndDepth()
    {
        var table = new PasskeyTable([256, 512], [0.0, 1.0, null]);
        table.Add(0, 0, true);
        table.Add(0, 0, false);
        table.Add(0, 1, true);
        table.Add(0, 2, false);
        table.Add(1, 2, true);

        Assert.Equal((2, 3), (table.Correct.GetLength(0), table.Correct.GetLength(1)));
        Assert.Equal(0.5, table.Accuracy(0, 0));
        Assert.Equal(0.5, table.LengthAccuracy(0));
        Assert.Equal(1.0, table.LengthAccuracy(1));
        Assert.Equal([new(256, 0.0, 1, 2), new(256, 1.0, 1, 1), new(256, null, 0, 1), new(512, 0.0, 0, 0), new(512, 1.0, 0, 0), new(512, null, 1, 1)], table.Cells);
    }

    [Fact]
    public void EvaluationAsksEveryCellAndRepeatsExactly()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("qwen2-tiny"));
        var options = new PasskeyOptions { Lengths = [40, 64], Depths = [0, 1, null], Trials = 2, Seed = 3, Prompt = Short };
        var seen = new List<PasskeyTrial>();

        var result = Passkey.Evaluate(model, ByteLevel, options, seen.Add);

        Assert.Equal(seen, result.Trials);
        Assert.Equal(12, result.Trials.Count);
        Assert.Equal([40, 64], result.Table.Lengths);
        Assert.Equal([0, 1, null], result.Table.Depths);
        for (int l = 0; l < 2; l++)
            for (int d = 0; d < 3; d++)
            {
                var cell = result.Trials.Where(t => t.Length == result.Table.Lengths[l] && t.Depth == result.Table.Depths[d]).ToList();
                Assert.Equal(2, result.Table.Trials[l, d]);
                Assert.Equal(cell.Count(t => t.Correct), result.Table.Correct[l, d]);
            }
        foreach (var trial in result.Trials)
        {
            Assert.InRange(trial.PromptTokens, trial.Length - 3, trial.Length);
            Assert.Equal(Passkey.Draw(3, trial.Length, Array.IndexOf(result.Table.Depths, trial.Depth), trial.Depth, trial.Trial, 5), (trial.Key, trial.DepthUsed));
            Assert.Equal(Passkey.IsCorrect(trial.Key, trial.Answer), trial.Correct);
        }
        var first = result.Trials[0];
        int[] prompt = Short.Fit(ByteLevel, first.Key, first.Length, first.DepthUsed);
        var greedy = TextGeneration.Generate(model, prompt, new SamplingOptions { MaxNewTokens = 8, StopTokens = [.. ByteLevel.EosIds] });
        Assert.Equal(ByteLevel.Decode(greedy, skipSpecialTokens: true), first.Answer);
        Assert.Equal(result.Trials, Passkey.Evaluate(model, ByteLevel, options).Trials);
    }

    [Fact]
    public void BadOptionsAreRefusedBeforeAnyTrial()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("qwen2-tiny"));
        string Fails(PasskeyOptions o) => Assert.Throws<ArgumentException>(() => Passkey.Evaluate(model, ByteLevel, o with { Prompt = Short })).Message;

        Assert.StartsWith("passkey: a prompt of 256 tokens is beyond the model's context of 128 tokens", Fails(new() { Lengths = [64, 256] }));
        Assert.StartsWith("passkey: a length of 8 tokens is shorter than the prompt without filler", Fails(new() { Lengths = [8, 64] }));
        Assert.Equal("passkey: depths must be in [0, 1] (or random), got [0.5, 1.5]", Fails(new() { Lengths = [64], Depths = [0.5, 1.5] }));
        Assert.Equal("passkey: lengths must be positive token counts, got []", Fails(new()));
        Assert.Equal("passkey: trials must be at least 1, got 0", Fails(new() { Lengths = [64], Trials = 0 }));
        var beyond = Passkey.Evaluate(model, ByteLevel, new PasskeyOptions { Lengths = [200], Depths = [0.5], Trials = 1, Prompt = Short, AllowBeyondContext = true });
        Assert.Single(beyond.Trials);
    }
}
