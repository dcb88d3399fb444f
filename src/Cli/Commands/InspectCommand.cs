using System.CommandLine;
using System.Globalization;
using RawLongLoRA.Model;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora inspect DIR: what a model folder holds, and whether it loads, read from its headers without
/// loading weights. A folder whose tensors disagree with its config is described, its problems listed,
/// and the command fails.
/// </summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "A Hugging Face model folder (config.json, *.safetensors, tokenizer files)" };
        var command = new Command("inspect", "Show a model folder's family, size, dtypes, context length, RoPE scaling and tokenizer, and check its tensors against config.json\n\nExamples:\n  rawlora inspect ./Llama-2-7b-hf\n  rawlora inspect ./run/merged") { dir };
        return command.NonEmpty(dir).Runs(parse => Inspect(parse.GetValue(dir)!));
    }

    private static void Inspect(string dir)
    {
        var config = ModelFolder.Config(dir);
        using var checkpoint = SafeTensorsCheckpoint.Open(dir);
        var problems = CheckpointCheck.Problems(config, checkpoint);
        Console.Write(Describe(dir, config, checkpoint, problems));
        if (problems.Count > 0)
            throw new SafeTensorsException(dir, null, "config-mismatch", $"does not load: {CheckpointCheck.Summary(problems)} (see above)");
    }

    private static string Describe(string dir, ModelConfig config, SafeTensorsCheckpoint checkpoint, IReadOnlyList<TensorProblem> problems)
    {
        var infos = checkpoint.Names.Select(checkpoint.Info).ToList();
        long parameters = infos.Where(i => !(config.TieWordEmbeddings && i.Name == "lm_head.weight")).Sum(i => Shapes.Numel(i.Shape));
        var dtypes = infos.GroupBy(i => i.DType).OrderByDescending(g => g.Count())
            .Select(g => $"{g.Key.SafetensorsName()} ({g.Count()} tensors)");
        var rope = config.Rope;
        string scaling = rope.Type == RopeType.Default ? "none" : FormatRope(rope);
        var lines = new List<(string, string)>
        {
            ("family", $"{config.Family} ({config.Architecture})"),
            ("parameters", $"{parameters:N0} ({parameters / 1e9:F2} B)"),
            ("weights", $"{string.Join(", ", dtypes)} in {checkpoint.Files.Count()} file(s); config dtype {config.TorchDtype.TorchName()}"),
            ("layers", $"{config.NumLayers}; hidden {config.HiddenSize}, intermediate {config.IntermediateSize}"),
            ("attention", $"{config.NumHeads} heads of {config.HeadDim}, {config.NumKvHeads} kv heads{(config.AttentionBias ? ", q/k/v bias" : "")}{(config.QkNorm ? ", q/k norm" : "")}"),
            ("vocabulary", $"{config.VocabSize}{(config.TieWordEmbeddings ? ", embeddings tied to the LM head" : "")}"),
            ("context", $"{config.MaxPositionEmbeddings} positions"),
            ("rope", $"theta {rope.Theta.ToString(CultureInfo.InvariantCulture)}, scaling {scaling}"),
            ("tokenizer", DescribeTokenizer(dir)),
            ("tensors", problems.Count == 0
                ? "each one config.json implies, with its shape and a float dtype: the folder loads"
                : $"{CheckpointCheck.Summary(problems)}: the folder does not load (problems below)"),
        };
        int width = lines.Max(l => l.Item1.Length);
        return string.Concat(lines.Select(l => $"{l.Item1.PadRight(width)}  {l.Item2}\n")) + DescribeProblems(problems);
    }

    /// <summary>One line per problem, aligned: kind, tensor, what config.json implies, what the folder holds.</summary>
    private static string DescribeProblems(IReadOnlyList<TensorProblem> problems)
    {
        if (problems.Count == 0)
            return "";
        int kind = problems.Max(p => p.Label.Length), name = problems.Max(p => p.Tensor.Length);
        return "\nproblems\n" + string.Concat(problems.Select(p =>
            $"  {p.Label.PadRight(kind)}  {p.Tensor.PadRight(name)}  expected {p.Expected}; found {p.Found}\n"));
    }

    private static string FormatRope(RopeConfig rope)
    {
        var parts = new List<string> { rope.Type.ToString().ToLowerInvariant() };
        if (rope.Factor is { } f)
            parts.Add($"factor {f.ToString(CultureInfo.InvariantCulture)}");
        if (rope.OriginalMaxPositionEmbeddings is { } o)
            parts.Add($"original context {o}");
        return string.Join(", ", parts);
    }

    private static string DescribeTokenizer(string dir)
    {
        try
        {
            var t = Tokenizer.Load(dir);
            string eos = t.EosIds.Count == 0 ? "none" : string.Join("/", t.EosIds);
            return $"{t.Kind}, {t.VocabSize} tokens, BOS {t.BosId?.ToString(CultureInfo.InvariantCulture) ?? "none"}, EOS {eos}";
        }
        catch (TokenizerException e)
        {
            return $"not loaded: {e.Message}";
        }
    }
}
