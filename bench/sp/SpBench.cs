using System.Diagnostics;
using System.Globalization;
using RawLongLoRA.Distributed;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

namespace RawLongLoRA.Bench.Sp;

/// <summary>
/// `bench sp`: the trainer's LongLoRA training step (<see cref="ParallelStep"/>, then AdamW) on a small model
/// (bench/sp/sp-small.json; LoRA r 8 on q, k, v, o, embedding and norms trained, S2-Attn G = T/4, gradient
/// checkpointing) split across ranks by Ulysses and by Ring (zig-zag), at 2 and 4 ranks, beside the same step in one
/// process. The verb starts `mpirun` on itself for each configuration
/// (each rank runs this verb with --worker) and prints one table: the step's time (the slowest rank's median), the
/// bytes a rank sent, counted by <see cref="CountingCommunicator"/>, beside <see cref="StepTraffic"/>'s formula, the
/// tensors' peak on a rank measured beside <see cref="StepMemory"/>'s, and the longest row that fits a memory budget
/// per rank — from the planner (<see cref="ContextFit"/>), since measuring it would take minutes a configuration.
/// </summary>
public static class SpBench
{
    public static readonly Verb Verb = new(
        "sp",
        "a training step split across ranks by Ulysses and Ring at 2 and 4 ranks (mpirun), beside one process: time, bytes, memory",
        [
            ("--seq N", "tokens in the row (default 1024)"),
            ("--steps N", "timed steps after one warm-up (default 3)"),
            ("--ranks LIST", "rank counts, comma-separated (default 2,4)"),
            ("--budget-mib N", "memory per rank the longest row must fit in (default 1024)"),
            ("--config FILE", "model shape (default sp/sp-small.json)"),
            ("--worker KIND", "(run by the verb under mpirun) one rank of a ulysses or ring step"),
        ],
        Run);

    /// <summary>The line a worker's rank 0 prints for the verb to read.</summary>
    private const string ResultTag = "sp-result";

    private static readonly LoraConfig Lora = new TrainOptions().Lora;

    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(10);

    private static int Run(Options options, Report report)
    {
        int seq = Int(options, "--seq", 1024), steps = Math.Max(1, Int(options, "--steps", 3));
        string configPath = Path.GetFullPath(options.Value("--config") ?? Path.Combine(AppContext.BaseDirectory, "sp", "sp-small.json"));
        var config = ModelConfig.Load(configPath);
        if (options.Value("--worker") is { } worker)
            return Worker(config, seq, steps, Kind(worker));

        long budget = Int(options, "--budget-mib", 1024) * (1L << 20);
        int[] ranks = [.. (options.Value("--ranks") ?? "2,4").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture))];
        report.Note($"shape: {Path.GetFileName(configPath)} — {config.NumLayers} layers, hidden {config.HiddenSize}, {config.NumHeads} heads ({config.NumKvHeads} kv) of {config.HeadDim}, " +
                    $"vocab {config.VocabSize}; LoRA r 8 on q,k,v,o, embedding and norms trained; S2-Attn G = T/4; gradient checkpointing; one row of {seq} tokens; float32; " +
                    $"{steps} timed steps after a warm-up, the slowest rank's median");
        report.Note("bytes: what one rank sent in a step (it receives as many), counted by CountingCommunicator, then StepTraffic's formula; " +
                    $"longest row: the planner's (ContextFit) in {budget >> 20} MiB a rank — measuring it would take minutes a configuration");

        var single = Single(config, seq, steps);
        report.Add(new Record($"train step T={seq}", "1 process", single.Seconds, "s")
        {
            Note = $"tensors' peak {Mib(single.PeakBytes)} (plan {Mib(StepMemory.Estimate(Shape(config, seq, 1, SequenceParallel.None)).Tensors)}); " +
                   $"longest row in budget {ContextFit.Longest(Shape(config, seq, 1, SequenceParallel.None), budget):N0}",
        });
        if (Launcher() is not { } mpirun)
        {
            report.Note("mpirun is not on PATH: the Ulysses and Ring rows need it (apt-get install openmpi-bin libopenmpi-dev)");
            return 0;
        }
        foreach (var kind in new[] { SequenceParallel.Ulysses, SequenceParallel.Ring })
            foreach (int k in ranks)
            {
                var shape = Shape(config, seq, k, kind);
                string name = kind.ToString().ToLowerInvariant();
                if (Launch(mpirun, k, name, configPath, seq, steps, out string output) is not { } r)
                {
                    report.Note($"{name} on {k} ranks failed:\n{output}");
                    return 1;
                }
                var formula = StepTraffic.Of(shape);
                report.Add(new Record($"train step T={seq}", $"{name}{(kind == SequenceParallel.Ring ? " zig-zag" : "")}, {k} ranks", r.Seconds, "s")
                {
                    Peer = "one process",
                    PeerValue = single.Seconds,
                    Note = $"sent {r.SequenceBytes:N0} B attention (formula {formula.SequenceParallel:N0}) + {r.GradientBytes:N0} B gradients (formula {formula.Gradients:N0}); " +
                           $"tensors' peak {Mib(r.PeakBytes)} (plan {Mib(StepMemory.Estimate(shape).Tensors)}); longest row in budget {ContextFit.Longest(shape, budget):N0}",
                });
            }
        return 0;
    }

    /// <summary>The step the planner sees for <paramref name="ranks"/> ranks of <paramref name="kind"/>.</summary>
    private static StepShape Shape(ModelConfig config, int seq, int ranks, SequenceParallel kind) => new()
    {
        Config = config,
        Lora = Lora,
        Tokens = seq,
        GradientCheckpointing = true,
        SequenceParallel = ranks,
        SequenceKind = kind,
    };

    private static Result Single(ModelConfig config, int seq, int steps)
    {
        using var step = new SpStep(config, Lora, seq, null, SequenceParallel.None);
        step.Run();
        Storage.ResetPeak();
        double seconds = Median([.. Enumerable.Range(0, steps).Select(_ => step.Run())]);
        return new Result(seconds, 0, 0, Storage.PeakBytes);
    }

    /// <summary>One rank of the job: times the steps, then rank 0 prints the slowest rank's median, its bytes a step and the largest peak.</summary>
    private static int Worker(ModelConfig config, int seq, int steps, SequenceParallel kind)
    {
        var world = Mpi.World();
        try
        {
            var counting = new CountingCommunicator(world);
            using var step = new SpStep(config, Lora, seq, counting, kind);
            // The grid's SP group, split from the counting world, counts attention's calls apart from the world's.
            var sp = (CountingCommunicator)step.Sp!;
            step.Run();
            counting.Reset();
            sp.Reset();
            Storage.ResetPeak();
            double seconds = Median([.. Enumerable.Range(0, steps).Select(_ => step.Run())]);
            long sequence = sp.Counts.GetValueOrDefault(kind == SequenceParallel.Ring ? CommOp.SendReceive : CommOp.AllToAll).SentBytes / steps;
            // The gradient buckets' started all-reduces, not the loss's and token count's blocking ones the formula leaves out.
            long gradients = counting.Counts.GetValueOrDefault(CommOp.StartAllReduce).SentBytes / steps;
            using var scope = new DisposeScope();
            var mine = Tensor.FromArray([(float)seconds, Storage.PeakBytes / (float)(1 << 20)]);
            var all = Tensor.Zeros([2 * world.Size]);
            world.AllGather(all, mine);
            var values = all.ToFloatArray();
            double slowest = Enumerable.Range(0, world.Size).Max(r => values[2 * r]);
            double peakMib = Enumerable.Range(0, world.Size).Max(r => values[2 * r + 1]);
            if (world.Rank == 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ResultTag} {slowest:R} {sequence} {gradients} {(long)(peakMib * (1 << 20))}"));
            world.Barrier();
            return 0;
        }
        catch (Exception e)
        {
            Mpi.Abort(1, e.Message);
            return 1;
        }
        finally
        {
            Mpi.Shutdown();
        }
    }

    /// <summary>Runs <paramref name="ranks"/> workers under mpirun on this machine; their result, or null with the output.</summary>
    private static Result? Launch(string mpirun, int ranks, string kind, string configPath, int seq, int steps, out string output)
    {
        string self = typeof(SpBench).Assembly.Location;
        var start = new ProcessStartInfo(mpirun)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // One machine: shared memory, loopback only; the cores shared among the ranks.
        start.Environment["OMPI_MCA_btl"] = "self,vader";
        start.Environment["OMPI_MCA_oob_tcp_if_include"] = "lo";
        start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        string threads = Math.Max(1, CpuThreads.Count / ranks).ToString(CultureInfo.InvariantCulture);
        foreach (string a in (string[])["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(CultureInfo.InvariantCulture),
                                        "dotnet", self, "sp", "--worker", kind, "--config", configPath, "--seq", seq.ToString(CultureInfo.InvariantCulture),
                                        "--steps", steps.ToString(CultureInfo.InvariantCulture), "--threads", threads])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var (stdout, stderr) = (process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        // The communicators give up on a dead peer after their timeout; this bounds a job that never gets that far.
        if (!process.WaitForExit(JobTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        output = stdout.Result + stderr.Result;
        // The runtime may put a terminal's escape codes before the line: look for the tag anywhere in it.
        int at = output.IndexOf(ResultTag + " ", StringComparison.Ordinal);
        if (process.ExitCode != 0 || at < 0)
            return null;
        var f = output[at..].Split('\n')[0].Trim().Split(' ');
        return new Result(double.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture),
                          long.Parse(f[3], CultureInfo.InvariantCulture), long.Parse(f[4], CultureInfo.InvariantCulture));
    }

    private static string? Launcher() => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);

    private static SequenceParallel Kind(string text) => text switch
    {
        "ulysses" => SequenceParallel.Ulysses,
        "ring" => SequenceParallel.Ring,
        _ => throw new ArgumentException($"bench sp: --worker must be ulysses or ring, not '{text}'"),
    };

    private static double Median(double[] times) => times.Order().ElementAt(times.Length / 2);

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):F2} MiB");

    private static int Int(Options o, string name, int fallback) =>
        o.Value(name) is { } v ? int.TryParse(v, out int x) && x >= 0 ? x : throw new ArgumentException($"bench sp: {name} wants a non-negative integer, not '{v}'") : fallback;

    /// <summary>A configuration's step: seconds, bytes a rank sent for attention and for gradients, the largest tensors' peak of a rank.</summary>
    private readonly record struct Result(double Seconds, long SequenceBytes, long GradientBytes, long PeakBytes);
}
