using RawLongLoRA.Bench;
using RawLongLoRA.Bench.Kernels;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Profiling;

// `bench <verb> [options]`: each verb validates its variants, times them, and reports (table, --json).
var verbs = new Dictionary<string, Verb>
{
    ["gemm"] = GemmBench.Verb,
    ["attention"] = AttentionBench.Verb,
    ["lora"] = LoraBench.Verb,
    ["ops"] = OpsBench.Verb,
    ["step"] = RawLongLoRA.Bench.Step.StepBench.Verb,
    ["tokenize"] = RawLongLoRA.Bench.Tokenize.TokenizeBench.Verb,
    ["profiler"] = RawLongLoRA.Bench.Profiling.ProfilerBench.Verb,
    ["gpu-check"] = RawLongLoRA.Bench.GpuCheck.GpuCheckBench.Verb,
    ["sp"] = RawLongLoRA.Bench.Sp.SpBench.Verb,
};

if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
{
    Console.WriteLine("usage: bench <verb> [options]");
    Console.WriteLine();
    Console.WriteLine("verbs:");
    foreach (var v in verbs.Values)
        Console.WriteLine($"  {v.Name,-10} {v.Summary}");
    Console.WriteLine();
    Console.WriteLine("options of every verb:");
    Console.WriteLine($"  {"--json FILE",-18} also write the figures as JSON");
    Console.WriteLine($"  {"--threads N",-18} CPU threads (default: all cores, or RAWLORA_THREADS)");
    Console.WriteLine($"  {"--profile FILE",-18} record the run: a Chrome/Perfetto trace to FILE, the summary table beside it (FILE.txt)");
    Console.WriteLine("`bench <verb> --help` lists a verb's own options.");
    return args.Length == 0 ? 2 : 0;
}

if (!verbs.TryGetValue(args[0], out var verb))
{
    Console.Error.WriteLine($"bench: unknown verb '{args[0]}' (verbs: {string.Join(", ", verbs.Keys)}; see --help)");
    return 2;
}

if (args.Skip(1).Any(a => a is "--help" or "-h"))
{
    Console.WriteLine($"usage: bench {verb.Name} [options]   {verb.Summary}");
    foreach (var (option, help) in verb.Options)
        Console.WriteLine($"  {option,-18} {help}");
    return 0;
}

if (!Options.TryParse(args.Skip(1), verb.Options.Select(o => o.Option).Append("--json FILE").Append("--threads N").Append("--profile FILE"), out var options, out string? error))
{
    Console.Error.WriteLine($"bench {verb.Name}: {error}");
    return 2;
}

if (options.Value("--threads") is { } threads)
{
    if (!int.TryParse(threads, out int n) || n < 1)
    {
        Console.Error.WriteLine($"bench {verb.Name}: --threads wants a positive integer, not '{threads}'");
        return 2;
    }
    CpuThreads.Count = n;
}

var report = new Report(verb.Name, Machine.Describe());
string? profilePath = options.Value("--profile");
using var profile = profilePath is null ? null : Profiler.Start();
int rc = verb.Run(options, report);
report.PrintTable(Console.Out);
if (profile is not null)
{
    string table = profile.Save(profilePath!);
    Console.WriteLine();
    Console.Write(profile.StepsOrWhole().Format(maxRows: 30));
    Console.WriteLine($"profile: trace written to {profilePath} (open it in ui.perfetto.dev), summary to {table}");
}
if (options.Value("--json") is { } json)
{
    report.WriteJson(json);
    Console.WriteLine($"wrote {json}");
}
return rc;
