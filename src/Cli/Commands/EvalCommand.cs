using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora eval ppl | passkey: how well a model (with an adapter, or stretched by RoPE scaling) reads a
/// long context — sliding-window perplexity of documents, and passkey retrieval by length × depth.
/// </summary>
internal static class EvalCommand
{
    public static Command Create() => new("eval", "Evaluate a model at a long context: perplexity or passkey retrieval")
    {
        Perplexity(),
        Passkey(),
    };

    private static Command Perplexity()
    {
        var model = new ModelOptions();
        var data = new Option<string[]>("--data", "-d") { Description = "Documents: .txt files (a file is a document), .jsonl files (a line is one) or folders of them", Required = true, AllowMultipleArgumentsPerToken = true };
        var window = new Option<int?>("--window", "-w") { Description = "Tokens the model reads at once: the context evaluated [default: the model's context, after --adapter / --context]" }
            .Expect(v => v >= 2, "a number of tokens, at least 2");
        var stride = new Option<int?>("--stride") { Description = "Tokens each window scores after the first, so every token is scored once [default: window / 2; window gives LongLoRA's non-overlapping windows]" }
            .Expect(v => v >= 1, "a number of tokens, at least 1");
        var textField = new Option<string>("--text-field") { Description = "The jsonl field holding a document", DefaultValueFactory = _ => "text" };
        var command = new Command("ppl", "Sliding-window perplexity of long documents (Hugging Face's recipe: each token scored once, with the window before it as context)\n\n" +
            "Examples:\n  rawlora eval ppl ./Llama-2-7b-hf --data pg19-test.jsonl --window 8192 --stride 4096\n" +
            "  rawlora eval ppl ./Llama-2-7b-hf --adapter ./run/adapter --data proofpile/ --window 32768 --json ppl.json\n" +
            "  rawlora eval ppl ./Llama-2-7b-hf --data book.txt --window 16384 --context 16384 --rope-scaling yarn\n" +
            "  mpirun -np 4 rawlora eval ppl ./Llama-2-7b-hf --adapter ./run/adapter --data pg19/ --window 65536  (Ring attention: each rank holds a quarter of a window)")
        {
            data, window, stride, textField,
        };
        model.AddTo(command);
        return command.NonEmpty(data, textField).Runs(parse =>
        {
            var options = new PerplexityOptions
            {
                Window = parse.GetValue(window),
                Stride = parse.GetValue(stride),
                TextField = parse.GetValue(textField)!,
                AllowBeyondContext = parse.GetValue(model.AllowBeyondContext),
            };
            model.Check(parse);
            DataFiles.Expand(parse.GetValue(data)!);
            var tokenizer = ModelFolder.Tokenizer(parse.GetValue(model.Dir)!);
            // Under mpirun the ranks share each window by Ring attention; rank 0 prints and writes.
            var world = CliWorld.Join("eval ppl", "none");
            bool prints = CliWorld.Prints(world);
            using var lm = model.Load(parse, prints);
            using var precision = model.Autocast(parse);
            var result = Training.Perplexity.Evaluate(lm, tokenizer, parse.GetValue(data)!, options, group: world);
            if (!prints)
                return;
            Print(result);
            model.WriteJson(parse, lm, result);
        });
    }

    private static Command Passkey()
    {
        var model = new ModelOptions();
        var lengths = new Option<string>("--lengths", "-l") { Description = "Prompt lengths in tokens, e.g. 1024,2048,4096", Required = true };
        var depths = new Option<string>("--depths") { Description = "Where the key goes, as fractions of the filler (0 first, 1 last), or random (drawn per trial)", DefaultValueFactory = _ => "0,0.25,0.5,0.75,1" };
        var trials = new Option<int>("--trials", "-n") { Description = "Questions per length and depth", DefaultValueFactory = _ => 5 };
        var seed = new Option<ulong>("--seed") { Description = "Fixes every key (with the length, depth and trial)", DefaultValueFactory = _ => 0UL };
        var plot = new Option<string?>("--plot") { Description = "Also draw the accuracy by length and depth as a heat map (PNG)" };
        var command = new Command("passkey", "Passkey retrieval, LongLoRA's protocol: a 5-digit key hidden in filler text, retrieved by greedy decoding\n\n" +
            "Examples:\n  rawlora eval passkey ./Llama-2-7b-hf --adapter ./run/adapter --lengths 4096,8192,16384 --trials 10\n" +
            "  rawlora eval passkey ./Llama-2-7b-hf --lengths 8192 --depths random --trials 20 --seed 1 --json passkey.json\n" +
            "  rawlora eval passkey ./Llama-2-7b-hf --lengths 8192 --allow-beyond-context")
        {
            lengths, depths, trials, seed, plot,
        };
        model.AddTo(command);
        return command.NonEmpty(plot).Runs(parse =>
        {
            var options = new PasskeyOptions
            {
                Lengths = ParseList(parse.GetValue(lengths)!, "--lengths", s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : (int?)null, "a positive number of tokens"),
                Depths = parse.GetValue(depths)!.Trim() == "random" ? [null]
                    : [.. ParseList(parse.GetValue(depths)!, "--depths", s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v is >= 0 and <= 1 ? v : (double?)null, "a fraction in [0, 1], or random").Select(d => (double?)d)],
                Trials = parse.GetValue(trials),
                Seed = parse.GetValue(seed),
                AllowBeyondContext = parse.GetValue(model.AllowBeyondContext),
            };
            options.Validate();
            model.Check(parse);
            // Greedy decoding with a KV cache has no sequence-parallel form here: each rank would repeat the whole run.
            if (CliWorld.Join("eval passkey", "none") is { } world)
                CliWorld.Refuse(world, "eval passkey: runs in one process (decoding with a KV cache is not shared among ranks); run it without mpirun. eval ppl shares long windows among mpirun's ranks");
            string? png = parse.GetValue(plot);
            if (png is not null)
                OutputPaths.File(png, "--plot");
            KvCacheMemory.Require(ModelFolder.Config(parse.GetValue(model.Dir)!), options.Lengths.Max(), "--lengths");
            var tokenizer = ModelFolder.Tokenizer(parse.GetValue(model.Dir)!);
            using var lm = model.Load(parse);
            using var precision = model.Autocast(parse);
            var result = Training.Passkey.Evaluate(lm, tokenizer, options);
            Print(result.Table, options.Trials);
            model.WriteJson(parse, lm, result);
            if (png is not null)
            {
                var t = result.Table;
                var accuracy = new double[t.Lengths.Length, t.Depths.Length];
                for (int l = 0; l < t.Lengths.Length; l++)
                    for (int d = 0; d < t.Depths.Length; d++)
                        accuracy[l, d] = t.Accuracy(l, d);
                // A random depth (one column) is drawn at -1.
                PasskeyPlots.Heatmap(png, t.Lengths, [.. t.Depths.Select(d => d ?? -1)], accuracy, $"Passkey retrieval, {options.Trials} trials a cell");
                Console.WriteLine($"wrote {png}");
            }
        });
    }

    private static void Print(PerplexityResult result)
    {
        Console.WriteLine($"window {result.Window}, stride {result.Stride}: {result.Documents.Count} document(s), {result.TokensScored:N0} tokens scored" +
                          (result.SkippedDocuments > 0 ? $", {result.SkippedDocuments} too short to score" : ""));
        var rows = result.Documents.Select(d => (Name: d.Line is int line ? $"{d.File}:{line}" : d.File, Tokens: d.Tokens.ToString("N0"), Scored: d.TokensScored.ToString("N0"), d.MeanNll, d.Perplexity))
            .Append((Name: "all", Tokens: "", Scored: result.TokensScored.ToString("N0"), result.MeanNll, result.Perplexity)).ToList();
        int width = Math.Max(8, rows.Max(r => r.Name.Length));
        Console.WriteLine($"{"document".PadRight(width)}  {"tokens",12}  {"scored",12}  {"nll",8}  {"ppl",10}");
        foreach (var (name, tokens, scored, nll, ppl) in rows)
            Console.WriteLine($"{name.PadRight(width)}  {tokens,12}  {scored,12}  {nll,8:F4}  {ppl,10:F3}");
    }

    private static void Print(PasskeyTable table, int trials)
    {
        Console.WriteLine($"passkey accuracy, {trials} trial(s) a cell");
        var depths = table.Depths.Select(d => d is double v ? $"depth {v.ToString(CultureInfo.InvariantCulture)}" : "random depth").ToList();
        Console.WriteLine($"{"length",8}  {string.Join("  ", depths.Select(d => d.PadLeft(12)))}  {"all",6}");
        for (int l = 0; l < table.Lengths.Length; l++)
            Console.WriteLine($"{table.Lengths[l],8}  {string.Join("  ", depths.Select((_, d) => $"{table.Accuracy(l, d),12:P0}"))}  {table.LengthAccuracy(l),6:P0}");
    }

    /// <summary>"a,b,c" → items, with the offending one named.</summary>
    private static T[] ParseList<T>(string text, string option, Func<string, T?> parse, string expected) where T : struct
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
            throw new FormatException($"{option}: nothing given (expected {expected}, separated by commas)");
        return parts.Select(p => parse(p) ?? throw new FormatException($"{option}: '{p}' is not {expected}")).ToArray();
    }

    /// <summary>The options both verbs share: which model, adapter and RoPE scaling, and where the JSON goes.</summary>
    private sealed class ModelOptions
    {
        public readonly Argument<string> Dir = new("dir") { Description = "A Hugging Face model folder" };
        public readonly Option<string?> Adapter = new("--adapter", "-a") { Description = "A PEFT adapter folder; its config.json's longer context (rope scaling) is taken too" };
        public readonly Option<int?> Context = new Option<int?>("--context") { Description = "Stretch the model's context to this many tokens by RoPE scaling" }
            .Expect(v => v >= 1, "a number of tokens, at least 1");
        public readonly Option<string> RopeScaling = new("--rope-scaling") { Description = "How --context is reached: linear, dynamic or yarn", DefaultValueFactory = _ => "linear" };
        public readonly Option<bool> AllowBeyondContext = new("--allow-beyond-context") { Description = "Evaluate past the model's context unscaled (the \"as is\" baseline) instead of refusing" };
        public readonly Option<string> WeightDtype = new("--weight-dtype") { Description = "Keep weight matrices in f32, bf16 or f16", DefaultValueFactory = _ => "f32" };
        public readonly Option<string?> Json = new("--json") { Description = "Also write the results, every document or trial included, to this JSON file" };
        public readonly Option<string> Precision = new("--precision") { Description = "GEMM compute precision: fp32, or bf16 (bfloat16 operands, float32 sums)", DefaultValueFactory = _ => "fp32" };

        public void AddTo(Command command)
        {
            command.Arguments.Insert(0, Dir);
            foreach (Option option in new Option[] { Adapter, Context, RopeScaling, AllowBeyondContext, WeightDtype, Precision, Json })
                command.Options.Add(option);
            command.NonEmpty(Dir, Adapter, Json);
        }

        /// <summary>What can be refused before any work: the scaling asked for, and where the JSON goes.</summary>
        public void Check(ParseResult parse)
        {
            Scaling(parse);
            ComputePrecision(parse);
            if (parse.GetResult(RopeScaling) is { Implicit: false } && parse.GetValue(Context) is null)
                throw new ArgumentException("--rope-scaling says how --context is reached, and no --context is given");
            if (parse.GetValue(Json) is { } json)
                OutputPaths.File(json, "--json");
        }

        private RopeType Scaling(ParseResult parse)
        {
            string scaling = parse.GetValue(RopeScaling)!;
            return RopeTypes.TryParse(scaling, out var kind) && ContextExtension.Kinds.Contains(kind) ? kind
                : throw new FormatException($"--rope-scaling: '{scaling}' is not one of {string.Join(", ", ContextExtension.Kinds.Select(k => k.JsonName()))}");
        }

        private RawLongLoRA.Precision ComputePrecision(ParseResult parse) => PrecisionNames.Parse(parse.GetValue(Precision))
            ?? throw new FormatException($"--precision: '{parse.GetValue(Precision)}' is not fp32 or bf16");

        /// <summary>The <see cref="RawLongLoRA.Autocast"/> scope --precision asks for, around the evaluation.</summary>
        public IDisposable Autocast(ParseResult parse) => RawLongLoRA.Autocast.Scope(ComputePrecision(parse));

        public CausalLM Load(ParseResult parse, bool print = true)
        {
            var kind = Scaling(parse);
            var model = CausalLM.Load(parse.GetValue(Dir)!, CliRun.ParseWeightDtype(parse.GetValue(WeightDtype)!));
            try
            {
                if (parse.GetValue(Adapter) is { } adapter)
                {
                    PeftAdapter.ExtendContextFrom(model, adapter);
                    PeftAdapter.Load(model, adapter);
                }
                if (parse.GetValue(Context) is int context)
                    model.ExtendContext(context, kind);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            if (print)
                Console.WriteLine($"model: {model.Config.SourceName}, context {ContextExtension.Reach(model.Config)} (rope {model.Config.Rope.Type.JsonName()}" +
                              (model.Config.Rope.Type == RopeType.Default ? "" : $" factor {model.Config.Rope.Factor?.ToString(CultureInfo.InvariantCulture)}") + ")" +
                              (model.ActiveAdapter is null ? "" : $", adapter {parse.GetValue(Adapter)}"));
            return model;
        }

        public void WriteJson<T>(ParseResult parse, CausalLM model, T result)
        {
            if (parse.GetValue(Json) is not { } path)
                return;
            var document = new
            {
                Model = parse.GetValue(Dir),
                Adapter = parse.GetValue(Adapter),
                Context = ContextExtension.Reach(model.Config),
                Rope = model.Config.Rope.Type.JsonName(),
                RopeFactor = model.Config.Rope.Factor,
                Result = result,
            };
            File.WriteAllText(path, JsonSerializer.Serialize(document, JsonOptions));
            Console.WriteLine($"wrote {path}");
        }

        private static readonly JsonSerializerOptions JsonOptions = new()
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            WriteIndented = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
    }
}
