using System.Globalization;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// `bench lora --device cuda`: the LoRA projection y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ at the shape of Llama-2-7B's q_proj (K = N =
/// 4096, M = 8192 tokens, r = 8 and 16), forward and forward+backward (dX, dA, dB; W frozen), at bf16 autocast. Each
/// variant of <see cref="LoraVariants"/> is validated against the host reference on a small problem first
/// (<see cref="LoraValidation"/>), then timed with CUDA events (<see cref="DeviceTiming"/>) beside the plain projection
/// x·Wᵀ alone; the ratio of their times is issue 15's target (within 10%). `--device ilgpu-cpu` runs the same harness
/// on ILGPU's CPU accelerator at a tiny shape.
/// </summary>
public static class LoraBench
{
    /// <summary>Issue 15's target: the LoRA projection within 10% of the plain projection's time.</summary>
    public const double Target = 1.10;

    private const int Seed = 16;

    public static readonly Verb Verb = new(
        "lora",
        "the LoRA projection x·Wᵀ + s·(x·Aᵀ)·Bᵀ on a GPU, forward and forward+backward, each variant validated, vs the plain projection's time",
        [
            ("--device D", $"cuda, cuda:N (default cuda:0); {BenchDevice.CpuAccelerator}: the harness on ILGPU's CPU accelerator at a tiny shape"),
            ("--variant NAME", $"a variant's name or all (default): {LoraVariants.All.Names}"),
            ("--tokens M", "rows of x (default 8192; 64 on ilgpu-cpu)"),
            ("--features K", "in- and out-features, K = N (default 4096: Llama-2-7B's q_proj; 96 on ilgpu-cpu)"),
            ("--rank LIST", "LoRA ranks (default 8,16; 8 on ilgpu-cpu)"),
            ("--quick", "shorter timing"),
            ("--max-seconds S", "time nothing more after S seconds (what is left is noted as skipped; the figures so far are kept)"),
        ],
        Run);

    private static int Run(Options options, Report report)
    {
        string deviceName = options.Value("--device") ?? "cuda:0";
        bool cuda = deviceName != BenchDevice.CpuAccelerator;
        string variant = options.Value("--variant") ?? "all";
        if (LoraVariants.All.Select(variant) is not { } chosen)
        {
            Console.Error.WriteLine($"bench lora: unknown variant '{variant}' ({LoraVariants.All.Names})");
            return 2;
        }
        if (!AttentionBench.TryInts(options.Value("--tokens") ?? (cuda ? "8192" : "64"), out int[] m) || m.Length != 1
            || !AttentionBench.TryInts(options.Value("--features") ?? (cuda ? "4096" : "96"), out int[] k) || k.Length != 1
            || !AttentionBench.TryInts(options.Value("--rank") ?? (cuda ? "8,16" : "8"), out int[] ranks))
        {
            Console.Error.WriteLine("bench lora: --tokens and --features want one positive integer each, --rank positive integers separated by commas");
            return 2;
        }
        if (!DeviceAttentionBench.TryMaxSeconds(options, "lora", out double? maxSeconds))
            return 2;
        if (BenchDevice.Resolve(deviceName, allowCpu: false, out string? why) is not { } device)
        {
            Console.Error.WriteLine($"bench lora: {why}");
            return 1;
        }
        var plan = !cuda ? DeviceTiming.Plan.Harness : options.Flag("--quick") ? DeviceTiming.Plan.GpuQuick : DeviceTiming.Plan.Gpu;
        return Measure(device, ranks.Select(r => new LoraProjectionShape(m[0], k[0], k[0], r)).ToList(), chosen, plan.Within(maxSeconds), report);
    }

    /// <summary>
    /// Validates and times <paramref name="variants"/> and the plain projections (<see cref="LoraVariants.Plains"/>) at
    /// each shape; 1 if one failed its validation or threw.
    /// </summary>
    internal static int Measure(IBackend device, IReadOnlyList<LoraProjectionShape> shapes, KernelVariant<LoraProjection>[] variants, DeviceTiming.Plan plan, Report report)
    {
        foreach (string line in LoraVariants.All.Header())
            report.Note($"variant {line}");
        foreach (var plain in LoraVariants.Plains)
            report.Note($"baseline {plain.Name}: {plain.What}");
        report.Note($"device: {device.Device}; bf16 autocast; x, dY, A, B float32 and W bf16, all holding bf16 values, and bf16 copies of x, dY, A, B; "
            + $"s = {LoraTensors.Alpha:G} / r; no peer: the plain projections in the same run are the yardstick");
        report.Note("FLOPs: 2 per multiply-add; forward x·Wᵀ, x·Aᵀ, ·Bᵀ; backward dY·W, dY·B, u·A, uᵀ·x, dYᵀ·t (no dW: W is frozen). The ratio to the plain "
            + $"projection of the same operands is of times (target ≤ {Target:F2})");
        report.Note($"validation: before timing, on a problem of at most M={LoraValidation.MaxM} K={LoraValidation.MaxK} N={LoraValidation.MaxN} "
            + $"(same rank) against the host's float64; outputs the variant makes come from freed blocks filled with NaN; tolerance {AttentionValidation.Bf16Tolerance:G3} of the largest value");
        report.Note(DeviceTiming.Describe(device, plan));

        var runnable = LoraVariants.Plains.Concat(variants).Where(v => v.Kernel.Unavailable(device) is null).ToList();
        foreach (var v in LoraVariants.Plains.Concat(variants).Except(runnable))
            report.Note($"{v.Name}: not run on {device.Device} ({v.Kernel.Unavailable(device)})");
        int rc = 0;
        using var autocast = Autocast.Bf16();
        foreach (var shape in shapes)
        {
            var passed = new List<KernelVariant<LoraProjection>>();
            using (var t = LoraTensors.Make(LoraValidation.Small(shape), device.Device, Seed))
            {
                var expected = LoraValidation.Expected(LoraVariants.All.All[0].Kernel, t);
                var plainExpected = LoraValidation.Expected(LoraVariants.PlainReference, t);
                foreach (var v in runnable)
                {
                    if (Validate(v, t, LoraVariants.Plains.Contains(v) ? plainExpected : expected, report))
                        passed.Add(v);
                    else
                        rc = 1;
                }
            }
            if (!passed.Any(v => v.Kernel.Timed && !LoraVariants.Plains.Contains(v)))
                continue;
            if (plan.Expired)
            {
                report.Note($"timing skipped at {shape}: --max-seconds is spent");
                continue;
            }
            rc |= Time(device, shape, passed, plan, report);
        }
        return rc;
    }

    private static bool Validate(KernelVariant<LoraProjection> v, LoraTensors t, float[][] expected, Report report)
    {
        string name = $"validation {t.Shape}";
        try
        {
            double[] errors = LoraValidation.Errors(v.Kernel, t, expected);
            double worst = errors.Aggregate(0.0, Math.Max);
            bool ok = worst <= AttentionValidation.Bf16Tolerance;
            string[] names = LoraValidation.Names(expected.Length);
            report.Add(new Record(name, v.Name, worst, "max error")
            {
                Note = $"{(ok ? "ok" : "FAILED, not timed")}: {string.Join(", ", errors.Select((e, i) => $"{names[i]} {e:0.0e+00}"))} (tolerance {AttentionValidation.Bf16Tolerance:G3})",
            });
            return ok;
        }
        catch (Exception e)
        {
            report.Add(new Record(name, v.Name, double.NaN, "max error") { Note = $"FAILED, not timed: threw {e.Message.ReplaceLineEndings(" ")}" });
            return false;
        }
    }

    /// <summary>
    /// The plain projections, then each timed variant, forward and forward+backward; a variant's time over its plain
    /// projection's (the one of its operands), where that was timed.
    /// </summary>
    private static int Time(IBackend device, LoraProjectionShape shape, List<KernelVariant<LoraProjection>> passed, DeviceTiming.Plan plan, Report report)
    {
        int rc = 0;
        var sets = new List<LoraTensors>();
        try
        {
            sets.Add(LoraTensors.Make(shape, device.Device, Seed));
            int copies = DeviceTiming.Copies(sets[0].Bytes, DeviceTiming.CacheBytes(device));
            while (sets.Count < copies)
                sets.Add(sets[0].Copy());
            var plains = new Dictionary<bool, (KernelVariant<LoraProjection> Plain, DeviceTiming.Timed Forward, DeviceTiming.Timed Both)>();
            foreach (var v in passed.Where(v => v.Kernel.Timed))
            {
                if (plan.Expired)
                {
                    report.Note($"timing of {v.Name} skipped at {shape}: --max-seconds is spent");
                    continue;
                }
                bool plain = LoraVariants.Plains.Contains(v);
                try
                {
                    var forward = DeviceTiming.Median(device, plan, i =>
                    {
                        using var o = v.Kernel.Forward(sets[i % sets.Count]);
                    });
                    var both = DeviceTiming.Median(device, plan, i =>
                    {
                        using var o = v.Kernel.ForwardBackward(sets[i % sets.Count]);
                    });
                    if (plain)
                    {
                        plains[v.Kernel.Bf16Operands] = (v, forward, both);
                        Add(report, $"projection {shape.Projection} fwd", v.Name, shape.PlainForwardFlops, forward, sets.Count, null);
                        Add(report, $"projection {shape.Projection} fwd+bwd", v.Name, shape.PlainForwardBackwardFlops, both, sets.Count, null);
                        continue;
                    }
                    var baseline = plains.TryGetValue(v.Kernel.Bf16Operands, out var b) ? b : default;
                    Add(report, $"lora {shape} fwd", v.Name, shape.ForwardFlops, forward, sets.Count, baseline.Plain is null ? null : (baseline.Plain.Name, baseline.Forward));
                    Add(report, $"lora {shape} fwd+bwd", v.Name, shape.ForwardBackwardFlops, both, sets.Count, baseline.Plain is null ? null : (baseline.Plain.Name, baseline.Both));
                }
                catch (Exception e)
                {
                    report.Add(new Record($"{(plain ? $"projection {shape.Projection}" : $"lora {shape}")} fwd+bwd", v.Name, 0, "TFLOP/s")
                    {
                        Note = $"error while timing: {e.Message.ReplaceLineEndings(" ")}",
                    });
                    rc = 1;
                }
            }
        }
        finally
        {
            foreach (var t in sets)
                t.Dispose();
        }
        return rc;
    }

    private static void Add(Report report, string name, string variant, double flops, DeviceTiming.Timed timed, int copies, (string Name, DeviceTiming.Timed Timed)? plain)
    {
        string how = $"{DeviceTiming.Format(timed.Seconds)}, {timed.How} on {copies} copies";
        report.Add(new Record(name, variant, flops / timed.Seconds / 1e12, "TFLOP/s") { Note = how });
        if (plain is { } p)
            report.Add(new Record($"{name} / plain", variant, timed.Seconds / p.Timed.Seconds, "× plain time")
            {
                Note = string.Format(CultureInfo.InvariantCulture, "{0} vs {1}'s {2}; target ≤ {3:F2}: {4}", DeviceTiming.Format(timed.Seconds), p.Name,
                    DeviceTiming.Format(p.Timed.Seconds), Target, timed.Seconds / p.Timed.Seconds <= Target ? "met" : "not met"),
            });
    }
}
