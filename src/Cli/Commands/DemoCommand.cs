using System.CommandLine;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora demo: LongLoRA on this machine in minutes with nothing to download (see DemoRun), or
/// --make-base DIR to pretrain the demo's base model again.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Folder for the adapters, plots and demo.json", DefaultValueFactory = _ => "rawlora-demo" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace what an earlier demo wrote in --out" };
        var steps = new Option<int>("--steps") { Description = "Fine-tuning steps of each LoRA run", DefaultValueFactory = _ => new DemoOptions { Output = "" }.Steps }
            .Expect(v => v >= 1, "a number of steps, at least 1");
        var trials = new Option<int>("--trials") { Description = "Passkey trials per depth (5 depths)", DefaultValueFactory = _ => new DemoOptions { Output = "" }.Trials }
            .Expect(v => v >= 1, "a number of trials, at least 1");
        var precision = new Option<string>("--precision") { Description = "GEMM compute precision of every row: fp32, or bf16 (bfloat16 operands, float32 sums)", DefaultValueFactory = _ => "fp32" };
        var baseDir = new Option<string?>("--base") { Description = "Use this base model folder instead of the shipped one" };
        var makeBase = new Option<string?>("--make-base") { Description = "Pretrain the demo's base model into this folder instead (about 15 minutes on 2 cores)" };
        var baseSteps = new Option<int>("--base-steps") { Description = "Pretraining steps with --make-base", DefaultValueFactory = _ => new DemoBase.Recipe().Steps }
            .Expect(v => v >= 1, "a number of steps, at least 1");
        var command = new Command("demo", "Show LongLoRA's context extension on a tiny model, on this machine, with no downloads\n\n" +
            "Examples:\n  rawlora demo\n  rawlora demo --out demo2 --steps 300 --trials 8\n  rawlora demo --make-base my-base && rawlora demo --base my-base --overwrite")
        {
            output, overwrite, steps, trials, precision, baseDir, makeBase, baseSteps,
        };
        return command.NonEmpty(output, baseDir, makeBase).Runs(parse =>
        {
            // Each flag belongs to one of the two jobs; one given to the other would be silently ignored.
            Option[] demoOnly = [output, overwrite, steps, trials, precision, baseDir];
            string? target = parse.GetValue(makeBase);
            if ((target is null ? [baseSteps] : demoOnly).FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } stray)
                throw new ArgumentException(target is null ? $"{stray.Name} applies only with --make-base" : $"{stray.Name} does not apply to --make-base, which only pretrains the base");
            if (target is not null)
            {
                OutputPaths.NewFolder(target, "--make-base");
                var recipe = new DemoBase.Recipe(Steps: parse.GetValue(baseSteps));
                DemoBase.Make(target, recipe, (step, loss, seconds) =>
                {
                    if (step % 100 == 0 || step == recipe.Steps)
                        Console.WriteLine($"pretraining step {step}/{recipe.Steps}  loss {loss:F4}  {seconds:F0} s");
                });
                Console.WriteLine($"base written to {target}");
                return;
            }
            var gemmPrecision = PrecisionNames.Parse(parse.GetValue(precision))
                ?? throw new FormatException($"--precision: '{parse.GetValue(precision)}' is not fp32 or bf16");
            string dir = parse.GetValue(output)!;
            OutputPaths.Folder(dir, "--out");
            if (parse.GetValue(baseDir) is { } other)
                ModelFolder.Config(other);
            OutputFolder.Claim(dir, DemoRun.Written, parse.GetValue(overwrite), "pass --overwrite to replace what an earlier demo wrote there, or choose another --out");
            var options = new DemoOptions { Output = dir, Base = parse.GetValue(baseDir), Steps = parse.GetValue(steps), Trials = parse.GetValue(trials), Precision = gemmPrecision };
            using var progress = CliProgress.For(parse);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var rows = DemoRun.Run(options, progress.Message, s =>
            {
                if (s.Step == 1)
                    progress.Start(s.TotalSteps, "fine-tuning step");
                if (s.Step % 10 == 0 || s.Step == s.TotalSteps)
                    progress.Update(s.Step, $"loss {s.Loss:F4}  {s.TokensPerSecond:F0} tok/s");
                if (s.Step == s.TotalSteps)
                    progress.Done();
            });
            SummaryTable.Print($"LongLoRA demo: a tiny Llama pretrained at {DemoBase.Context}, evaluated at {options.Context} ({clock.Elapsed.TotalMinutes:F1} min)",
                ["row", "RoPE", "attention", $"passkey @{options.Context}", $"perplexity @{options.Context}", "s / step", "peak tensors"],
                rows.Select(r => new[]
                {
                    r.Name, r.Rope, r.Attention, $"{r.Passkey:P0}", $"{r.Perplexity:F3}",
                    r.StepSeconds?.ToString("F2") ?? "—", r.PeakMiB is { } m ? $"{m:F0} MiB" : "—",
                }));
            if (!parse.GetValue(CliRun.Quiet))
                Console.WriteLine($"written: {Path.Combine(dir, "demo.json")}, passkey.png, perplexity.png; adapters (PEFT) in " +
                                  $"{Path.Combine(dir, "longlora-s2", "adapter")} and {Path.Combine(dir, "longlora-full", "adapter")}");
        });
    }
}
