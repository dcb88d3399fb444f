using System.Globalization;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// `bench attention`: the CPU flash-attention kernel (src/Kernels/Cpu/Attention*.cs), forward and
/// forward+backward, B = 1, over T, with full causal attention and S2-Attn (G = T/4), against the naive
/// attention of torch_llama.py (the whole score matrix; per group for S2-Attn) where that fits in
/// memory. Each mask is checked against AttentionReference first (<see cref="AttentionValidation"/>).
/// Reported: time, GFLOP/s in FlashAttention's convention and its fraction of the machine's peak, the
/// peak extra memory of forward+backward (counted by the kernel and seen in the resident set), and the
/// S2-Attn speed-up over full causal at each T. With --device, the GPU variants instead (<see cref="DeviceAttentionBench"/>).
/// </summary>
public static class AttentionBench
{
    public static readonly Verb Verb = new(
        "attention",
        "flash attention forward and forward+backward over T, full causal and S2-Attn, vs PyTorch naive (--device cuda: GPU variants vs SDPA)",
        [
            ("--seq LIST", "sequence lengths, e.g. 1024,4096 (default 1024 … 32768)"),
            ("--quick", "T = 1024, 4096 and shorter timing"),
            ("--heads N", "query heads (default 8)"),
            ("--kv-heads N", "key/value heads (default: as many as query heads)"),
            ("--head-dim N", "head dim D (default 64)"),
            ("--precision P", "fp32 (default), bf16 (bf16 operands, float32 sums: vdpbf16ps where the CPU has AVX512-BF16) or both, with bf16 / fp32 per mask"),
            ("--no-peer", "do not run the PyTorch peer"),
            ("--device D", $"cpu (default: this kernel); cuda, cuda:N: the GPU variants at bf16 vs PyTorch SDPA; {BenchDevice.CpuAccelerator}: the same harness on ILGPU's CPU accelerator at a tiny shape"),
            ("--variant NAME", "with --device: a variant's name or all (default)"),
            ("--max-seconds S", "with --device: time nothing more after S seconds (what is left is noted as skipped; the figures so far are kept)"),
        ],
        Run);

    /// <summary>The peer's naive attention holds about this many score-sized tensors at once (measured: 3.2 at T = 2K).</summary>
    private const int PeerScoreCopies = 4;

    private const double PeerMemoryLimit = 12.0 * (1L << 30);

    private sealed record Row(AttentionShape Shape, AttentionCase Mask, AttentionResult Result, AttentionResult? Full);

    private static int Run(Options options, Report report)
    {
        if (options.Value("--device") is { } device && device != "cpu")
            return DeviceAttentionBench.Run(options, report, device);
        if (options.Value("--variant") is not null)
        {
            Console.Error.WriteLine("bench attention: --variant picks among the device variants; give --device too");
            return 2;
        }
        bool quick = options.Flag("--quick");
        if (!TryInts(options.Value("--seq") ?? (quick ? "1024,4096" : "1024,2048,4096,8192,16384,32768"), out int[] seqs)
            || !TryInts(options.Value("--heads") ?? "8", out int[] heads)
            || !TryInts(options.Value("--head-dim") ?? "64", out int[] dims)
            || !TryInts(options.Value("--kv-heads") ?? heads[0].ToString(CultureInfo.InvariantCulture), out int[] kvHeads)
            || heads.Length != 1 || dims.Length != 1 || kvHeads.Length != 1 || heads[0] % kvHeads[0] != 0)
        {
            Console.Error.WriteLine("bench attention: --seq wants positive integers separated by commas; --heads, --kv-heads, --head-dim one positive integer each, heads a multiple of kv heads");
            return 2;
        }
        string precisionName = options.Value("--precision") ?? "fp32";
        Precision[]? precisions = precisionName == "both" ? [Precision.F32, Precision.Bf16] : PrecisionNames.Parse(precisionName) is { } one ? [one] : null;
        if (precisions is null)
        {
            Console.Error.WriteLine($"bench attention: --precision is '{precisionName}'; expected fp32, bf16 or both");
            return 2;
        }

        double peak = report.Machine.MeasurePeakFlops();
        string reason = "--no-peer";
        using var peer = options.Flag("--no-peer") ? null : Peer.Start("attention_peer.py", CpuThreads.Count, out reason);
        report.Note(peer is null ? $"peer: skipped ({reason})" : $"peer: {peer.Name}, torch_llama.py causal_attention / s2_attention in float32 (whole [T, T] scores; [G, G] per group)");
        report.Note("FLOPs: FlashAttention's convention, forward 4·T²·D·Hq halved for causal, backward 2.5 × forward; "
            + "S2-Attn is credited causal / 4, the work its groups leave (the shifted half-groups at either end do a little less). "
            + "The peer is credited the same FLOPs, so ours/peer is its time over ours.");
        report.Note($"validation: AttentionReference (float64) before timing; T ≤ {AttentionValidation.FullUpTo}: o, lse, dq, dk, dv in full; "
            + $"larger T: o and lse of the last {AttentionValidation.Rows} queries on the narrowed problem (those queries over the keys they see, as a KV-cache call); tolerance {AttentionValidation.Tolerance:E0}"
            + (precisions.Contains(Precision.Bf16) ? $"; bf16 against the reference with bf16 rounding (q, k, v, dO, P, dS), tolerance {AttentionValidation.Bf16Tolerance:G3} (one bf16 step)." : "."));
        if (precisions.Contains(Precision.Bf16))
            report.Note($"bf16: tile products on {(Gemm.IsaFor(Precision.Bf16) == GemmIsa.Avx512Bf16 ? "vdpbf16ps pair panels (AVX512-BF16)" : "float32 FMAs of bf16-rounded operands (no AVX512-BF16 here)")}; the peer runs at float32 only.");
        report.Note("memory: peak extra memory of one forward+backward beyond q, k, v, o, dout, dq, dk, dv: the lse it keeps plus what the kernel "
            + "allocates, counted at each allocation (AttentionMemory); beside it the growth of the process's peak resident set over the call "
            + "(Linux: malloc_trim and a GC first, \"5\" into /proc/self/clear_refs resets VmHWM, then VmHWM − VmRSS), which also counts thread stacks and allocator pages.");

        var records = new List<Record>();
        var summary = new List<Row>();
        int rc = 0;
        foreach (int t in seqs)
        {
            rc |= MeasureSeq(new AttentionShape(t, heads[0], kvHeads[0], dims[0]), precisions, quick, peer, report, records, summary);
            // Measured between the sizes too, the highest kept: a burst of other work during one measurement must not inflate every "of peak".
            peak = Math.Max(peak, report.Machine.MeasurePeakFlops());
        }

        report.Note(report.Machine.PeakNote(peak));
        report.Note("summary (ms; GFLOP/s and % of peak; extra MiB = lse + kernel, resident growth in brackets; S2 × = full causal time / S2 time; peer × = peer time / ours, fwd+bwd):");
        foreach (var row in summary)
            report.Note(SummaryLine(row, peak / 1e9));
        foreach (var row in summary.Where(r => r.Mask.Precision == Precision.Bf16))
            if (summary.FirstOrDefault(r => r.Shape == row.Shape && r.Mask.Name == row.Mask.Name && r.Mask.Precision == Precision.F32) is { } f32)
                report.Note(string.Format(CultureInfo.InvariantCulture, "  T={0,-6} {1,-8} bf16 / fp32: fwd ×{2:F2}, fwd+bwd ×{3:F2}",
                    row.Shape.T, row.Mask.Name, f32.Result.Forward / row.Result.Forward, f32.Result.ForwardBackward / row.Result.ForwardBackward));
        foreach (var r in records)
            report.Add(r.Unit == "GFLOP/s" && r.Value > 0 ? r with { FractionOfPeak = r.Value * 1e9 / peak } : r);
        return rc;
    }

    /// <summary>Validates each mask at one T, measures memory, then times all of them in interleaved rounds.</summary>
    private static int MeasureSeq(AttentionShape shape, Precision[] precisions, bool quick, Peer? peer, Report report, List<Record> records, List<Row> summary)
    {
        int t = shape.T;
        using var p = new AttentionProblem(t, shape.Hq, shape.Hkv, shape.D);
        var masks = new List<AttentionCase>();
        bool s2 = AttentionCase.S2Fits(t, shape.Hq);
        foreach (var precision in precisions)
        {
            masks.Add(AttentionCase.Causal(precision));
            if (s2)
                masks.Add(AttentionCase.S2(t, precision));
        }
        if (!s2)
            report.Note($"S2-Attn skipped at T={t}: needs T/4 even and an even head count");

        var measured = new List<(AttentionCase Mask, double Error, AttentionMeasurement Measurement)>();
        int rc = 0;
        foreach (var mask in masks)
        {
            var (error, scope) = AttentionValidation.Check(p, mask.Spec, mask.Precision);
            if (!(error <= AttentionValidation.ToleranceFor(mask.Precision)))
            {
                records.Add(new Record($"forward+backward T={t}", mask.Label, 0, "GFLOP/s") { Note = $"FAILED validation ({scope}): normalised error {error:E2}" });
                rc = 1;
                continue;
            }
            Console.WriteLine($"T={t} {mask.Label}: validated ({scope}, error {error:E1})");
            bool peerFits = peer is not null && mask.Precision == Precision.F32 && PeerBytes(shape, mask) < PeerMemoryLimit;
            if (peer is not null && !peerFits && mask.Precision == Precision.F32)
                report.Note($"peer: skipped at T={t} {mask.Name} (would need {PeerBytes(shape, mask) / (1L << 30):F0} GiB)");
            measured.Add((mask, error, new AttentionMeasurement(p, shape, mask, quick, peerFits ? peer : null)));
        }
        for (int round = 0; round < measured.Select(m => m.Measurement.Rounds).DefaultIfEmpty(0).Max(); round++)
            foreach (var (_, _, m) in measured)
                m.Round(round);

        AttentionResult? full = null;
        foreach (var (mask, error, m) in measured)
        {
            var r = m.Result;
            if (mask.FlopShare == 1)
                full = r;
            Console.WriteLine($"T={t} {mask.Label}: forward {Ms(r.Forward)}, forward+backward {Ms(r.ForwardBackward)}, extra {MiB(r.KernelBytes)} MiB"
                + (r.PeerForwardBackward is { } pf ? $"; peer {Ms(r.PeerForward!.Value)}, {Ms(pf)}" : ""));
            AddRecords(records, shape, mask, r, error);
            summary.Add(new Row(shape, mask, r, mask.FlopShare < 1 ? full : null));
            if (mask.FlopShare < 1 && full is not null)
                records.Add(new Record($"S2 speed-up T={t}", mask.Precision == Precision.Bf16 ? "bf16" : null, full.ForwardBackward / r.ForwardBackward, "× full causal")
                {
                    Note = $"forward+backward {Ms(full.ForwardBackward)} → {Ms(r.ForwardBackward)}; forward ×{full.Forward / r.Forward:F2}",
                });
        }
        return rc;
    }

    private static void AddRecords(List<Record> records, AttentionShape s, AttentionCase mask, AttentionResult r, double error)
    {
        double forwardFlops = mask.ForwardFlops(s);
        string runs = AttentionMeasurement.HowTimed(r.ForwardBackward);
        records.Add(new Record($"forward T={s.T}", mask.Label, forwardFlops / r.Forward / 1e9, "GFLOP/s")
        {
            Peer = r.PeerForward is null ? null : "torch naive",
            PeerValue = forwardFlops / r.PeerForward / 1e9,
            Note = $"{Ms(r.Forward)}, err {error:E1}",
        });
        records.Add(new Record($"forward+backward T={s.T}", mask.Label, mask.ForwardBackwardFlops(s) / r.ForwardBackward / 1e9, "GFLOP/s")
        {
            Peer = r.PeerForwardBackward is null ? null : "torch naive",
            PeerValue = mask.ForwardBackwardFlops(s) / r.PeerForwardBackward / 1e9,
            Note = $"{Ms(r.ForwardBackward)}, {runs}",
        });
        records.Add(new Record($"peak extra memory T={s.T}", mask.Label, r.KernelBytes / (double)(1 << 20), "MiB")
        {
            Note = $"lse + kernel, counted; resident growth {(r.ResidentBytes is { } b ? $"{MiB(b)} MiB" : "n/a")}"
                + (r.PeerBytes is { } pb ? $"; torch naive {MiB(pb)} MiB" : ""),
        });
    }

    private static string SummaryLine(Row row, double peakGflops)
    {
        var (s, mask, r, full) = row;
        double gf = mask.ForwardFlops(s) / r.Forward / 1e9, gfb = mask.ForwardBackwardFlops(s) / r.ForwardBackward / 1e9;
        string s2 = mask.FlopShare < 1 && full is not null ? $" | S2 ×{full.ForwardBackward / r.ForwardBackward:F2}" : "";
        string peer = r.PeerForwardBackward is { } pf ? $" | peer ×{pf / r.ForwardBackward:F1}" : "";
        return string.Format(CultureInfo.InvariantCulture,
            "  T={0,-6} {1,-12} fwd {2,9} {3,6:F1} GFLOP/s {4,4:P0} | fwd+bwd {5,9} {6,6:F1} GFLOP/s {7,4:P0} | extra {8,7} MiB [{9}]{10}{11}",
            s.T, mask.Label, Ms(r.Forward), gf, gf / peakGflops, Ms(r.ForwardBackward), gfb, gfb / peakGflops,
            MiB(r.KernelBytes), r.ResidentBytes is { } b ? MiB(b) : "n/a", s2, peer);
    }

    /// <summary>Bytes of the peer's score-sized tensors: [T, T] per head, or [G, G] per group and head.</summary>
    private static double PeerBytes(AttentionShape s, AttentionCase mask)
    {
        double perHead = mask.Spec.GroupSize > 0 ? (double)s.T * mask.Spec.GroupSize : (double)s.T * s.T;
        return perHead * s.Hq * sizeof(float) * PeerScoreCopies;
    }

    internal static bool TryInts(string text, out int[] values)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] < 1)
                return false;
        return parts.Length > 0;
    }

    private static string Ms(double seconds) => seconds >= 1 ? $"{seconds * 1e3:F0} ms" : $"{seconds * 1e3:G3} ms";

    private static string MiB(long bytes) => (bytes / (double)(1 << 20)).ToString("F1", CultureInfo.InvariantCulture);
}
