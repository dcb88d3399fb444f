using System.CommandLine;
using RawLongLoRA.Model;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora forward DIR --ids 1,2,3 --out logits.safetensors: one forward pass, logits written as
/// safetensors (input_ids I64 [1, T], logits F32 [1, T, vocab]) so any implementation can be compared.
/// </summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "A Hugging Face model folder" };
        var ids = new Option<string?>("--ids") { Description = "Token ids, comma separated" };
        var text = new Option<string?>("--text") { Description = "Text to tokenize with the folder's tokenizer (BOS added)" };
        var output = new Option<string>("--out") { Description = "The safetensors file to write", Required = true };
        var weightDtype = new Option<string>("--weight-dtype") { Description = "Keep weight matrices in f32, bf16 or f16", DefaultValueFactory = _ => "f32" };
        var command = new Command("forward", "Run one forward pass and write the logits\n\nExamples:\n  rawlora forward ./model --ids 1,15043,3186 --out logits.safetensors\n  rawlora forward ./model --text \"Hello world\" --out logits.safetensors")
        {
            dir, ids, text, output, weightDtype,
        };
        return command.NonEmpty(dir, output).Runs(parse =>
        {
            string folder = parse.GetValue(dir)!, path = parse.GetValue(output)!;
            OutputPaths.File(path, "--out");
            var tokens = Tokens(folder, parse.GetValue(ids), parse.GetValue(text));
            using var model = CausalLM.Load(folder, CliRun.ParseWeightDtype(parse.GetValue(weightDtype)!));
            using var scope = new DisposeScope();
            using var noGrad = Autograd.NoGrad();
            var input = Tensor.FromArray(tokens, [1, tokens.Length]);
            var logits = model.Forward(input);
            SafeTensorsWriter.Write(path, [("input_ids", input), ("logits", logits)]);
            Console.WriteLine($"wrote {path}: logits {Shapes.Format(logits.Shape)}");
        });
    }

    internal static long[] Tokens(string dir, string? ids, string? text) => (ids, text) switch
    {
        (not null, null) => InVocabulary(CliRun.ParseIds(ids, "--ids"), dir),
        (null, not null) => CliRun.Encoded(ModelFolder.Tokenizer(dir).Encode(text), "--text").Select(i => (long)i).ToArray(),
        _ => throw new ArgumentException("give exactly one of --ids and --text"),
    };

    /// <summary>Ids the model has an embedding row for; refused before the weights load otherwise.</summary>
    private static long[] InVocabulary(long[] ids, string dir)
    {
        int vocab = ModelFolder.Config(dir).VocabSize;
        return ids.FirstOrDefault(i => i >= vocab, -1) is var past and >= 0
            ? throw new ArgumentException($"--ids: token id {past} is past the model's vocabulary (vocab_size {vocab} in {Path.Combine(dir, "config.json")})")
            : ids;
    }
}
