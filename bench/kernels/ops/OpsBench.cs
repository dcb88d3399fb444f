using System.Text.Json.Nodes;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// `bench ops`: the row kernels (RMSNorm, RoPE, SwiGLU, softmax, cross-entropy, embedding gather /
/// scatter-add, AdamW, and plain copy / add as yardsticks), forward and backward, in GB/s = bytes the op
/// must read and write / time, against the machine's copy bandwidth measured in the same run and against
/// PyTorch float32 on the same shapes (bench/peer/ops_peer.py). Each pass is checked against the bench's
/// own evaluation in double (OpsCheck) before it is timed, and so is each variant (<see cref="OpsVariants"/>): V1 of
/// every op is the backend's kernel.
/// </summary>
public static class OpsBench
{
    public static readonly Verb Verb = new(
        "ops",
        "row kernels (RMSNorm, RoPE, SwiGLU, softmax, cross-entropy, embedding, AdamW) GB/s vs copy bandwidth and PyTorch",
        [
            ("--variant NAME", "backend (default: the CPU backend's kernels), another variant's name, or all"),
            ("--quick", "the small shapes, shorter timing"),
            ("--only TEXT", "only the ops whose name contains TEXT"),
            ("--no-peer", "do not run the PyTorch peer"),
        ],
        Run);

    private static IEnumerable<(int Threads, bool Streaming)> CopyWays =>
        from streaming in CopyBandwidth.HasStreamingStores ? new[] { false, true } : [false]
        from threads in new[] { 1, CpuThreads.Count }.Distinct()
        select (threads, streaming);

    private static int Run(Options options, Report report)
    {
        bool quick = options.Flag("--quick");
        var plan = quick ? new Timing.Plan(Rounds: 2, MinSeconds: 0.1) : new Timing.Plan(Rounds: 3, MinSeconds: 0.3);
        string only = options.Value("--only") ?? "", variant = options.Value("--variant") ?? "backend";
        var cases = OpsCases.All.Where(c => (!quick || c.Quick) && c.Name.Contains(only, StringComparison.OrdinalIgnoreCase))
            .Select(c => (Case: c, Variants: OpsVariants.For(c.Op).Select(variant))).ToList();
        if (cases.Count > 0 && cases.All(c => c.Variants is null))
        {
            Console.Error.WriteLine($"bench ops: no op has a variant '{variant}' ({string.Join("; ", cases.Select(c => c.Case.Op).Distinct().Select(op => $"{op}: {OpsVariants.For(op).Names}"))})");
            return 2;
        }
        int threads = CpuThreads.Count;
        // The ceiling is the best copy seen: at the start, at the end and beside every op's rounds, so
        // that another process's burst during one measurement does not lower it.
        using var copier = new CopyBandwidth();
        var copies = CopyWays.ToDictionary(w => w, w => copier.Measure(w.Threads, w.Streaming, attempts: 9));
        string reason = "--no-peer";
        using var peer = options.Flag("--no-peer") ? null : Peer.Start("ops_peer.py", threads, out reason);
        report.Note(peer is null
            ? $"peer: skipped ({reason})"
            : $"peer: {peer.Name}: HF's LlamaRMSNorm formula, rotate-half RoPE on gathered cos/sin, F.silu(g)*u, torch.softmax, F.cross_entropy, "
            + "F.embedding, index_add_, optim.AdamW (faster of foreach off/on); backward = torch.autograd.grad of the forward");

        foreach (string op in cases.Select(c => c.Case.Op).Distinct().Where(op => OpsVariants.For(op).All.Count > 1))
            foreach (string line in OpsVariants.For(op).Header())
                report.Note($"{op} variant {line}");

        var records = new List<Record>();
        double beside = 0;
        int rc = 0;
        foreach (var (op, variants) in cases)
            foreach (var v in variants ?? [])
            {
                using var scope = new DisposeScope();
                foreach (var run in op.Make(v.Kernel))
                    rc |= Measure(op.Name, $"{run.Pass} {v.Name}", run, peer, copier, ref beside, plan, records);
            }

        foreach (var w in CopyWays)
            copies[w] = Math.Max(copies[w], copier.Measure(w.Threads, w.Streaming, attempts: 9));
        var besideWay = (threads, CopyBandwidth.HasStreamingStores);
        copies[besideWay] = Math.Max(copies[besideWay], beside);
        double ceiling = copies.Max(c => c.Value);
        report.Note($"copy bandwidth: a 256 MB buffer copied by memcpy{(CopyBandwidth.HasStreamingStores ? " and by non-temporal stores" : "")}, on 1 and {threads} threads, "
            + $"at the start, at the end, and beside each op's rounds (the memory bandwidth other tenants leave this machine swings by 2x). "
            + $"\"of peak\" is against the best copy seen, {ceiling / 1e9:F1} GB/s");
        report.Note($"GB/s counts bytes read + written, each input and output once; a pass whose bytes fit in the {CopyBandwidth.LastLevelCache >> 20} MB last-level cache is marked L3 (it may run from cache)");
        foreach (var (w, bandwidth) in copies)
            report.Add(new Record(w.Streaming ? "copy 256 MB, non-temporal stores" : "memcpy 256 MB", w.Threads == 1 ? "1 thread" : $"{w.Threads} threads", bandwidth / 1e9, "GB/s")
            {
                FractionOfPeak = bandwidth / ceiling,
            });
        foreach (var r in records)
            report.Add(r.Value > 0 ? r with { FractionOfPeak = r.Value * 1e9 / ceiling } : r);
        return rc;
    }

    /// <summary>
    /// Checks one pass, then times it and the peer in alternating rounds, keeping each side's best median
    /// (a round slowed by another process costs nobody), with a copy beside each round that raises the
    /// ceiling (beside) if memory is faster now. Returns 1 if the check failed.
    /// </summary>
    private static int Measure(string name, string variant, OpRun run, Peer? peer, CopyBandwidth copier, ref double beside, Timing.Plan plan, List<Record> records)
    {
        double error = run.Validate();
        if (!(error <= run.Tolerance))
        {
            records.Add(new Record(name, variant, 0, "GB/s") { Note = $"FAILED check: normalised error {error:E2} > {run.Tolerance:E0}" });
            return 1;
        }
        var request = run.PeerRequest?.DeepClone().AsObject();
        if (request is not null)
        {
            request["min_time"] = plan.MinSeconds;
            request["min_runs"] = plan.MinRuns;
            request["max_runs"] = plan.MaxRuns;
        }
        double? peerSeconds = null;
        string? peerHow = null;
        var best = (Seconds: double.MaxValue, Runs: 0);
        for (int round = 0; round < plan.Rounds; round++)
        {
            beside = Math.Max(beside, copier.Measure(CpuThreads.Count, CopyBandwidth.HasStreamingStores, attempts: 3));
            if (peer is not null && request is not null && peer.Ask(request) is var answer && answer["seconds"] is { } s)
            {
                peerSeconds = Math.Min(peerSeconds ?? double.MaxValue, s.GetValue<double>());
                peerHow = answer["how"]?.GetValue<string>();
            }
            var t = Timing.Median(run.Run, plan);
            if (t.Seconds < best.Seconds)
                best = t;
        }
        var notes = new List<string> { $"err {error:E1}" };
        if (run.Bytes <= CopyBandwidth.LastLevelCache)
            notes.Add("L3");
        if (peerHow is not null && peerHow is not ("forward" or "autograd backward"))
            notes.Add($"peer {peerHow}");
        records.Add(new Record(name, variant, run.Bytes / best.Seconds / 1e9, "GB/s")
        {
            Peer = peerSeconds is null ? null : "torch",
            PeerValue = run.Bytes / peerSeconds / 1e9,
            Note = string.Join(", ", notes),
        });
        return 0;
    }
}
