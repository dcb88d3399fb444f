using System.CommandLine;
using RawLongLoRA.Model;

namespace RawLongLoRA.Cli;

/// <summary>rawlora generate DIR --prompt TEXT: text generation with a KV cache, streamed as it is sampled.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "A Hugging Face model folder" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "The prompt", Required = true };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a user turn in the model's chat template" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "At most this many new tokens", DefaultValueFactory = _ => 128 }
            .Expect(v => v >= 0, "a number of tokens, 0 or more");
        var temperature = new Option<float>("--temperature", "-t") { Description = "0 is greedy", DefaultValueFactory = _ => 0f }
            .Expect(v => v >= 0 && double.IsFinite(v), "a number, 0 (greedy) or more");
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens (0: all)", DefaultValueFactory = _ => 0 }
            .Expect(v => v >= 0, "a number of tokens, 0 (all) or more");
        var topP = new Option<float>("--top-p") { Description = "Sample from the smallest set reaching this probability", DefaultValueFactory = _ => 1f }
            .Expect(v => v is > 0 and <= 1, "a probability in (0, 1]");
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampling draws", DefaultValueFactory = _ => 0UL };
        var weightDtype = new Option<string>("--weight-dtype") { Description = "Keep weight matrices in f32, bf16 or f16", DefaultValueFactory = _ => "f32" };
        var command = new Command("generate", "Generate text from a prompt\n\nExamples:\n  rawlora generate ./model --prompt \"The capital of France is\" -n 20\n  rawlora generate ./model --chat --prompt \"Write a haiku\" -t 0.7 --top-p 0.9 --seed 1")
        {
            dir, prompt, chat, maxNew, temperature, topK, topP, seed, weightDtype,
        };
        return command.NonEmpty(dir).Runs(parse =>
        {
            if (parse.GetValue(temperature) == 0 && new Option[] { topK, topP }.Any(o => parse.GetResult(o) is { Implicit: false }))
                throw new ArgumentException("--top-k and --top-p choose among tokens to sample, and --temperature 0 is greedy: give --temperature above 0 to sample");
            string folder = parse.GetValue(dir)!;
            var tokenizer = ModelFolder.Tokenizer(folder);
            string text = parse.GetValue(prompt)!;
            var ids = CliRun.Encoded(parse.GetValue(chat)
                ? tokenizer.Encode(tokenizer.ApplyChatTemplate([new ChatMessage("user", text)], addGenerationPrompt: true), addBos: false)
                : tokenizer.Encode(text), "--prompt");
            KvCacheMemory.Require(ModelFolder.Config(folder), (long)ids.Length + parse.GetValue(maxNew), "--max-new-tokens");
            var options = new SamplingOptions
            {
                MaxNewTokens = parse.GetValue(maxNew),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
                StopTokens = [.. tokenizer.EosIds],
            };
            options.Validate();
            using var model = CausalLM.Load(folder, CliRun.ParseWeightDtype(parse.GetValue(weightDtype)!));
            var stream = new StreamingDecoder(tokenizer);
            TextGeneration.Generate(model, ids, options, token => Console.Write(stream.Add(token)));
            Console.WriteLine();
        });
    }
}

/// <summary>
/// Turns tokens into text as they arrive: decodes everything so far and prints what was added, holding
/// back while the tail is an incomplete UTF-8 sequence (a byte token of a multi-byte character).
/// </summary>
internal sealed class StreamingDecoder(Tokenizer tokenizer)
{
    private readonly List<int> _ids = [];
    private int _printed;

    public string Add(int token)
    {
        _ids.Add(token);
        string text = tokenizer.Decode(_ids, skipSpecialTokens: true);
        if (text.EndsWith('\uFFFD') || text.Length < _printed)
            return "";
        string added = text[_printed..];
        _printed = text.Length;
        return added;
    }
}
