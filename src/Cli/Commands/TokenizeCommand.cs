using System.CommandLine;
using System.Diagnostics;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora tokenize DATA... --model DIR --out DIR: the data tokenized once into a token cache folder
/// (memory-mapped tokens and a sample index, as llm.c and nanoGPT keep .bin shards), which
/// <c>rawlora train --data DIR</c> then trains on without the text files.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var data = new Argument<string[]>("data") { Description = "Data files (.txt, .jsonl) or folders of them", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string>("--model") { Description = "The model folder whose tokenizer to use", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The token cache folder to write (new, empty, or an older cache)", Required = true };
        var defaults = new TrainOptions();
        var format = new Option<string>("--format") { Description = "pretrain or sft (LongAlpaca jsonl)", DefaultValueFactory = _ => defaults.Format };
        var textField = new Option<string>("--text-field") { Description = "The jsonl field of a pretraining document", DefaultValueFactory = _ => defaults.TextField };
        var maxLength = new Option<int>("--max-length") { Description = "sft: the row length samples are cut to fit (train with the same)", DefaultValueFactory = _ => defaults.MaxLength }
            .Expect(v => v >= 2, "at least 2 (a token and its target)");
        var command = new Command("tokenize", "Tokenize training data once into a token cache that rawlora train reads\n\n" +
            "Examples:\n  rawlora tokenize books/ --model ./llama --out books.tok\n  rawlora train --model ./llama --data books.tok --output run1\n" +
            "  rawlora tokenize alpaca.jsonl --model ./qwen --format sft --max-length 16384 --out alpaca.tok")
        {
            data, model, output, format, textField, maxLength,
        };
        return command.NonEmpty(data, model, output, textField).Runs(parse =>
        {
            string dir = parse.GetValue(output)!, modelDir = parse.GetValue(model)!, kind = parse.GetValue(format)!;
            if (kind is not ("pretrain" or "sft"))
                throw new ArgumentException($"--format: '{kind}' is not one of pretrain, sft");
            OutputPaths.Folder(dir, "--out");
            if (Directory.Exists(dir) && TokenCacheManifest.TryRead(dir) is null && Directory.EnumerateFileSystemEntries(dir).Any())
                throw new IOException($"--out: {dir} holds other things than a token cache; give a new or empty folder");
            var options = new DataOptions { MaxLength = parse.GetValue(maxLength), TextField = parse.GetValue(textField)! };
            var files = TrainingData.Files(parse.GetValue(data)!);
            var tokenizer = ModelFolder.Tokenizer(modelDir);
            using var stop = new CliStop();
            using var progress = CliProgress.For(parse);
            var bar = new DataProgressBar(progress);
            var clock = Stopwatch.StartNew();
            TrainingData.Tokenize(files, tokenizer, kind, options, modelDir, dir, bar, stop.Token);
            bar.Done();
            using var cache = TokenCache.TryOpen(dir)!;
            var m = cache.Manifest;
            double seconds = clock.Elapsed.TotalSeconds;
            SummaryTable.Print("tokenize: done", ["", ""],
            [
                ["samples", $"{m.Samples:N0} ({m.Skipped} empty skipped{(kind == "sft" ? $", {m.TruncatedPrompts} prompts and {m.TruncatedAnswers} answers cut to {options.MaxLength}" : "")})"],
                ["tokens", $"{m.Tokens:N0}"],
                ["time", $"{seconds:F1} s ({m.Tokens / Math.Max(seconds, 1e-9):N0} tokens/s)"],
                ["cache", $"{dir} (train with --data {dir})"],
            ]);
        });
    }
}
