using System.CommandLine;
using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora demo: LongLoRA on this machine in minutes with nothing to download (see DemoRun), or
/// --make-base DIR to pretrain the demo's base model again.
/// </summary>
internal static class DemoCommand
{
    /// <summary>What a demo run writes into its folder; --overwrite removes these and nothing else.</summary>
    private static readonly string[] Written = ["base", "data", "longlora-s2", "longlora-full", "demo.json"];

    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Folder for the adapters, plots and demo.json", DefaultValueFactory = _ => "rawlora-demo" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace what an earlier demo wrote in --out" };
        var steps = new Option<int>("--steps") { Description = "Fine-tuning steps of each LoRA run", DefaultValueFactory = _ => new DemoOptions { Output = "" }.Steps };
        var trials = new Option<int>("--trials") { Description = "Passkey trials per depth (5 depths)", DefaultValueFactory = _ => new DemoOptions { Output = "" }.Trials };
        var baseDir = new Option<string?>("--base") { Description = "Use this base model folder instead of the shipped one" };
        var makeBase = new Option<string?>("--make-base") { Description = "Pretrain the demo's base model into this folder instead (about 15 minutes on 2 cores)" };
        var baseSteps = new Option<int>("--base-steps") { Description = "Pretraining steps with --make-base", DefaultValueFactory = _ => new DemoBase.Recipe().Steps };
        var command = new Command("demo", "Show LongLoRA's context extension on a tiny model, on this machine, with no downloads\n\n" +
            "Examples:\n  rawlora demo\n  rawlora demo --out demo2 --steps 300 --trials 8\n  rawlora demo --make-base my-base && rawlora demo --base my-base --overwrite")
        {
            output, overwrite, steps, trials, baseDir, makeBase, baseSteps,
        };
        return command.Runs(parse =>
        {
            if (parse.GetValue(makeBase) is { } target)
            {
                var recipe = new DemoBase.Recipe(Steps: parse.GetValue(baseSteps));
                DemoBase.Make(target, recipe, (step, loss, seconds) =>
                {
                    if (step % 100 == 0 || step == recipe.Steps)
                        Console.WriteLine($"pretraining step {step}/{recipe.Steps}  loss {loss:F4}  {seconds:F0} s");
                });
                Console.WriteLine($"base written to {target}");
                return;
            }
            string dir = parse.GetValue(output)!;
            PrepareOutput(dir, parse.GetValue(overwrite));
            var options = new DemoOptions { Output = dir, Base = parse.GetValue(baseDir), Steps = parse.GetValue(steps), Trials = parse.GetValue(trials) };
            var rows = DemoRun.Run(options, Console.WriteLine, s =>
            {
                if (s.Step % 10 == 0 || s.Step == s.TotalSteps)
                    Console.WriteLine($"  step {s.Step}/{s.TotalSteps}  loss {s.Loss:F4}  {s.TokensPerSecond:F0} tok/s");
            });
            Console.WriteLine();
            Console.WriteLine($"| row | RoPE | attention | passkey @{options.Context} | perplexity @{options.Context} | s / step | peak MiB |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            foreach (var r in rows)
                Console.WriteLine($"| {r.Name} | {r.Rope} | {r.Attention} | {r.Passkey:P0} | {r.Perplexity:F3} | {r.StepSeconds?.ToString("F2") ?? "—"} | {r.PeakMiB?.ToString("F0") ?? "—"} |");
            Console.WriteLine($"\nwritten: {Path.Combine(dir, "demo.json")}, adapters in {Path.Combine(dir, "longlora-s2", "adapter")} and {Path.Combine(dir, "longlora-full", "adapter")}");
        });
    }

    private static void PrepareOutput(string dir, bool overwrite)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (!overwrite)
                throw new IOException($"demo: {dir} exists and is not empty; pass --overwrite to replace what an earlier demo wrote there, or choose another --out");
            foreach (string name in Written)
            {
                string path = Path.Combine(dir, name);
                if (Directory.Exists(path))
                    Directory.Delete(path, recursive: true);
                else if (File.Exists(path))
                    File.Delete(path);
            }
        }
        Directory.CreateDirectory(dir);
    }
}
