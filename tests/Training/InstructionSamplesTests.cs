using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>LongAlpaca instruction data: the prompt each model family gets, prompt masking, and the truncation policy.</summary>
public class InstructionSamplesTests
{
    private const long X = TrainingBatch.IgnoreIndex;
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(TokenizerFixtures.Tiny("bytelevel"));

    private static string Line(string instruction, string output, string? input = null)
    {
        var record = new JsonObject { ["instruction"] = instruction, ["output"] = output };
        if (input is not null)
            record["input"] = input;
        return record.ToJsonString() + "\n";
    }

    private static PackedDataset Load(Tokenizer tokenizer, DataOptions options, params string[] lines)
    {
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("sft.jsonl"), string.Concat(lines));
        return PackedDataset.FromInstructions([dir.File("sft.jsonl")], tokenizer, options);
    }

    /// <summary>The targets of a sample alone in a row: ignored up to the prompt's last token, which predicts the answer's first.</summary>
    private static long[] MaskedTargets(int promptLength, long[] answer, int rowLength) =>
        [.. Enumerable.Repeat(X, promptLength - 1), .. answer, .. Enumerable.Repeat(X, rowLength - promptLength - answer.Length + 1)];

    [Fact]
    public void AChatMlPromptIsMaskedAndTheAnswerEndsWithEos()
    {
        var dataset = Load(ByteLevel, new DataOptions { MaxLength = 64, OnePerRow = true }, Line("abc", "xy"));
        var batch = dataset.Batch([0]);

        int[] prompt = ByteLevel.Encode("<|im_start|>system\nYou are a tiny model.<|im_end|>\n<|im_start|>user\nabc<|im_end|>\n<|im_start|>assistant\n", addBos: false);
        long[] answer = [138, 139, 26];
        Assert.Equal([.. prompt.Select(id => (long)id), .. answer], batch.Ids.Take(prompt.Length + 3));
        Assert.Equal(MaskedTargets(prompt.Length, answer, 64), batch.Targets);
        Assert.Equal([0, prompt.Length + 3], batch.SequenceStarts);
    }

    [Fact]
    public void TheInputFollowsTheInstructionAfterABlankLine()
    {
        var batch = Load(ByteLevel, new DataOptions { MaxLength = 80, OnePerRow = true }, Line("abc", "x", input: "z")).Batch([0]);

        int[] prompt = InstructionSamples.Prompt(ByteLevel, "abc\n\nz");
        Assert.Equal(ByteLevel.Encode("<|im_start|>system\nYou are a tiny model.<|im_end|>\n<|im_start|>user\nabc\n\nz<|im_end|>\n<|im_start|>assistant\n", addBos: false), prompt);
        Assert.Equal([.. prompt.Select(id => (long)id), 138, 26], batch.Ids.Take(prompt.Length + 2));
    }

    [Fact]
    public void ATokenizerWithoutASupportedTemplateGetsTheAlpacaPrompt()
    {
        using var copy = TokenizerTempDir.CopyOf("bytelevel");
        var config = JsonNode.Parse(File.ReadAllText(copy.File("tokenizer_config.json")))!;
        config["chat_template"] = "{{ messages }}";
        File.WriteAllText(copy.File("tokenizer_config.json"), config.ToJsonString());
        var tokenizer = Tokenizer.Load(copy.Path);
        Assert.Null(tokenizer.ChatFormat);

        var batch = Load(tokenizer, new DataOptions { MaxLength = 256, OnePerRow = true }, Line("abc", "x", input: "z")).Batch([0]);

        int[] prompt = tokenizer.Encode("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
                                        "### Instruction:\nabc\n\nz\n\n### Response:", addBos: true);
        Assert.Equal([.. prompt.Select(id => (long)id), 138, 26], batch.Ids.Take(prompt.Length + 2));
        Assert.Equal(MaskedTargets(prompt.Length, [138, 26], 256), batch.Targets);
    }

    [Fact]
    public void ALlama2PromptStartsWithBosAndEndsWithInst()
    {
        var sentencePiece = Tokenizer.Load(TokenizerFixtures.Tiny("sentencepiece"));
        Assert.Equal(ChatFormat.Llama2, sentencePiece.ChatFormat);

        var batch = Load(sentencePiece, new DataOptions { MaxLength = 64, OnePerRow = true }, Line("hello", "hello")).Batch([0]);

        string chat = sentencePiece.ApplyChatTemplate([new ChatMessage("user", "hello")], addGenerationPrompt: true);
        Assert.Equal("<s>[INST] hello [/INST]", chat);
        int[] prompt = sentencePiece.Encode(chat, addBos: false);
        Assert.Equal(1, prompt[0]);
        Assert.Equal([.. prompt.Select(id => (long)id), 20, 2], batch.Ids.Take(prompt.Length + 2));
        Assert.Equal(MaskedTargets(prompt.Length, [20, 2], 64), batch.Targets);
    }

    [Fact]
    public void SamplesArePackedEachAsItsOwnSequence()
    {
        int promptLength = InstructionSamples.Prompt(ByteLevel, "a").Length;
        var dataset = Load(ByteLevel, new DataOptions { MaxLength = 2 * (promptLength + 2) }, Line("a", "x"), Line("a", "y"));
        var batch = dataset.Batch([0]);

        Assert.Equal(1, dataset.RowCount);
        Assert.Equal([0, promptLength + 2], batch.SequenceStarts);
        Assert.Equal(4, batch.CountedTargets);
        Assert.Equal([138, 26, X], batch.Targets.Skip(promptLength - 1).Take(3));
        Assert.Equal([139, 26, X], batch.Targets.Skip(2 * promptLength + 1).Take(3));
    }

    [Fact]
    public void AnEmptyOutputIsSkippedAndCounted()
    {
        var dataset = Load(ByteLevel, new DataOptions { MaxLength = 64 }, Line("a", ""), Line("a", "x"));

        Assert.Equal((1, 1), (dataset.Stats.Samples, dataset.Stats.Skipped));
    }

    [Theory]
    // prompt, answer, max length, min prompt, bos → ids, prompt length, prompts cut, answers cut
    [InlineData(new[] { 1, 2, 3 }, new[] { 7, 8 }, 5, 1, null, new[] { 1, 2, 3, 7, 8 }, 3, 0, 0)]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 7, 8 }, 4, 1, null, new[] { 3, 4, 7, 8 }, 2, 1, 0)]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 7, 8 }, 5, 1, 1, new[] { 1, 3, 4, 7, 8 }, 3, 1, 0)]
    [InlineData(new[] { 1, 2, 3 }, new[] { 7, 8, 9, 10 }, 4, 1, 1, new[] { 3, 7, 8, 9 }, 1, 1, 1)]
    [InlineData(new[] { 1, 2, 3 }, new[] { 7, 8, 9, 10 }, 4, 2, null, new[] { 2, 3, 7, 8 }, 2, 1, 1)]
    [InlineData(new[] { 5 }, new[] { 7, 8, 9, 10, 11 }, 4, 2, null, new[] { 5, 7, 8, 9 }, 1, 0, 1)]
    public void ATooLongSampleLosesItsPromptStartThenItsAnswerTail(int[] prompt, int[] answer, int maxLength, int minPrompt, int? bos,
                                                                  int[] ids, int promptLength, int promptsCut, int answersCut)
    {
        var outcome = InstructionSamples.Fit(prompt, answer, maxLength, minPrompt, bos);

        Assert.Equal(ids, outcome.Sample!.Value.Ids);
        Assert.Equal(promptLength, outcome.Sample.Value.PromptLength);
        Assert.Equal((promptsCut == 1, answersCut == 1), (outcome.TruncatedPrompt, outcome.TruncatedAnswer));
    }

    [Fact]
    public void TruncationIsCountedInTheDatasetStats()
    {
        var dataset = Load(ByteLevel, new DataOptions { MaxLength = 8 }, Line("abc", "x"), Line("a", "abcxyzabcxyz"));
        var batch = dataset.Batch([.. Enumerable.Range(0, dataset.RowCount)]);

        Assert.Equal((2, 2, 1), (dataset.Stats.Samples, dataset.Stats.TruncatedPrompts, dataset.Stats.TruncatedAnswers));
        int[] shortPrompt = InstructionSamples.Prompt(ByteLevel, "abc");
        // Row 0: the prompt's last 6 tokens, "x", EOS. Row 1: the prompt's last token and the answer's first 7.
        Assert.Equal([.. shortPrompt[^6..].Select(id => (long)id), 138, 26], batch.Ids[..8]);
        Assert.Equal([.. Enumerable.Repeat(X, 5), 138, 26, X], batch.Targets[..8]);
        Assert.Equal([shortPrompt[^1], 122, 123, 124, 138, 139, 140, 122], batch.Ids[8..]);
        Assert.Equal([122, 123, 124, 138, 139, 140, 122, X], batch.Targets[8..]);
    }
}
