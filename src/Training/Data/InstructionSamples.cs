using RawLongLoRA.Model;

namespace RawLongLoRA.Training;

/// <summary>
/// Supervised fine-tuning data in LongAlpaca's form: a .jsonl file, one object a line, with string
/// fields "instruction", "input" (optional) and "output". The prompt is one user turn, the instruction
/// (then "\n\n" and the input where there is one), written by the model's chat template with the
/// assistant's generation prompt; a tokenizer without a supported template gets LongAlpaca's
/// Alpaca-style prompt (<see cref="AlpacaPrompt"/>) after its BOS. The answer is the output's ids and
/// the EOS. Only the answer is trained: no target predicts a prompt token. A record with an empty
/// output is skipped and counted.
/// </summary>
internal sealed class InstructionSamples(Tokenizer tokenizer, DataOptions options) : SampleFormat
{
    /// <summary>LongAlpaca's prompt_no_input, "{0}" standing for the instruction.</summary>
    public const string AlpacaPrompt = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{0}\n\n### Response:";

    private readonly int _eos = DataTokens.Eos(tokenizer);

    public override IEnumerable<PendingSample> Records(string file)
    {
        if (!DataFiles.IsJsonLines(file))
            throw new DataException(file, null, null, "instruction data must be a .jsonl file (instruction, input, output fields)");
        foreach (var record in JsonLines.Read(file))
        {
            string instruction = record.String("instruction"), output = record.String("output");
            string? input = record.OptionalString("input");
            yield return new PendingSample(record.Bytes, () => output.Length == 0 ? SampleOutcome.Skipped : Tokenize(instruction, input, output));
        }
    }

    private SampleOutcome Tokenize(string instruction, string? input, string output)
    {
        int[] prompt = Prompt(tokenizer, string.IsNullOrEmpty(input) ? instruction : instruction + "\n\n" + input);
        int[] answer = [.. tokenizer.Encode(output, addBos: false), _eos];
        return Fit(prompt, answer, options.MaxLength, options.MinPromptTokens, tokenizer.AddedBosId);
    }

    /// <summary>The prompt's ids: the chat template's user turn and generation prompt (BOS included), or the Alpaca prompt.</summary>
    public static int[] Prompt(Tokenizer tokenizer, string user) => tokenizer.ChatFormat is null
        ? tokenizer.Encode(string.Format(AlpacaPrompt, user), addBos: true)
        : tokenizer.Encode(tokenizer.ApplyChatTemplate([new ChatMessage("user", user)], addGenerationPrompt: true), addBos: false);

    /// <summary>
    /// Prompt and answer cut to fit <paramref name="maxLength"/>, never dropping the answer silently:
    /// a prompt too long loses tokens from its start (its end, next to the answer, stays; so does a
    /// leading <paramref name="bos"/> when two or more prompt tokens are kept); when the answer alone
    /// leaves less than <paramref name="minPrompt"/> tokens of prompt, the prompt keeps that many and
    /// the answer loses its tail. The outcome says which cuts were made.
    /// </summary>
    public static SampleOutcome Fit(int[] prompt, int[] answer, int maxLength, int minPrompt, int? bos)
    {
        int keepPrompt = Math.Min(prompt.Length, Math.Max(minPrompt, maxLength - answer.Length));
        int keepAnswer = Math.Min(answer.Length, maxLength - keepPrompt);
        bool cutPrompt = keepPrompt < prompt.Length;
        if (cutPrompt)
            prompt = keepPrompt >= 2 && prompt[0] == bos ? [prompt[0], .. prompt.AsSpan(prompt.Length - keepPrompt + 1)] : prompt[^keepPrompt..];
        return new SampleOutcome(new TokenizedSample([.. prompt, .. answer.AsSpan(0, keepAnswer)], prompt.Length), cutPrompt, keepAnswer < answer.Length);
    }
}
