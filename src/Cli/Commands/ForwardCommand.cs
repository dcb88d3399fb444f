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
        return command.Runs(parse =>
        {
            string folder = parse.GetValue(dir)!;
            var tokens = Tokens(folder, parse.GetValue(ids), parse.GetValue(text));
            using var model = CausalLM.Load(folder, CliRun.ParseWeightDtype(parse.GetValue(weightDtype)!));
            using var scope = new DisposeScope();
            using var noGrad = Autograd.NoGrad();
            var input = Tensor.FromArray(tokens, [1, tokens.Length]);
            var logits = model.Forward(input);
            string path = parse.GetValue(output)!;
            SafeTensorsWriter.Write(path, [("input_ids", input), ("logits", logits)]);
            Console.WriteLine($"wrote {path}: logits {Shapes.Format(logits.Shape)}");
        });
    }

    internal static long[] Tokens(string dir, string? ids, string? text) => (ids, text) switch
    {
        (not null, null) => CliRun.ParseIds(ids, "--ids"),
        (null, not null) => Tokenizer.Load(dir).Encode(text).Select(i => (long)i).ToArray(),
        _ => throw new ArgumentException("give exactly one of --ids and --text"),
    };
}
