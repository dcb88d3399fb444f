using System.Globalization;
using System.Text.Json.Nodes;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// `bench attention --device cuda` (or ilgpu-cpu, which runs the harness on ILGPU's CPU accelerator at a tiny shape):
/// each variant of <see cref="AttentionVariants"/> is validated against the CPU reference on a small problem of the
/// same kind (<see cref="DeviceAttentionValidation"/>), then timed — forward, and forward+backward — with CUDA events,
/// the median of many runs, rotating through copies of the problem that together exceed the L2 cache
/// (<see cref="DeviceTiming"/>), at bf16 autocast, full causal and S2-Attn (G = T/4), head dims 64 and 128, B = 1.
/// TFLOP/s in FlashAttention's convention (<see cref="AttentionCase.ForwardFlops"/>), beside PyTorch's
/// scaled_dot_product_attention on the same shapes in bf16 in the same run (bench/peer/attention_sdpa_peer.py), and
/// the S2-Attn speed-up over full causal. A variant that fails its validation is not timed, and the verb exits 1.
/// </summary>
internal static class DeviceAttentionBench
{
    /// <summary>The peer's name in the records.</summary>
    public const string PeerName = "torch sdpa";

    private const int Seed = 15;

    /// <summary>FlashAttention's benchmark shape: hidden 2048, so 2048 / D query heads.</summary>
    private const int Hidden = 2048;

    public static int Run(Options options, Report report, string deviceName)
    {
        bool cuda = deviceName != BenchDevice.CpuAccelerator;
        string variant = options.Value("--variant") ?? "all";
        if (AttentionVariants.All.Select(variant) is not { } chosen)
        {
            Console.Error.WriteLine($"bench attention: unknown variant '{variant}' ({AttentionVariants.All.Names})");
            return 2;
        }
        if (Shapes(options, cuda) is not { } shapes)
        {
            Console.Error.WriteLine("bench attention: --seq wants positive integers separated by commas; --head-dim 64 and/or 128 (what kernels.cu covers); "
                + "--heads and --kv-heads one positive integer each, heads a multiple of kv heads");
            return 2;
        }
        if (options.Value("--precision") is { } precision && precision != "bf16")
        {
            Console.Error.WriteLine($"bench attention: --precision is '{precision}'; on a device the bench runs bf16 autocast only");
            return 2;
        }
        if (BenchDevice.Resolve(deviceName, allowCpu: false, out string? why) is not { } device)
        {
            Console.Error.WriteLine($"bench attention: {why}");
            return 1;
        }
        if (!TryMaxSeconds(options, "attention", out double? maxSeconds))
            return 2;
        var plan = !cuda ? DeviceTiming.Plan.Harness : options.Flag("--quick") ? DeviceTiming.Plan.GpuQuick : DeviceTiming.Plan.Gpu;
        string reason = !cuda ? "the SDPA peer runs on a GPU" : "--no-peer";
        using var peer = !cuda || options.Flag("--no-peer") ? null : Peer.StartGpu("attention_sdpa_peer.py", out reason);
        report.Note(peer is null ? $"peer: skipped ({reason})" : $"peer: {peer.Name}: torch.nn.functional.scaled_dot_product_attention, bf16, is_causal "
            + "(S2-Attn as LongLoRA runs it: half the heads rolled by G/2, T/G groups of causal SDPA), CUDA events, inputs rotated as ours");
        return Measure(device, shapes, chosen, plan.Within(maxSeconds), peer is null ? null : peer.Ask, report);
    }

    /// <summary>
    /// Validates and times <paramref name="variants"/> on <paramref name="device"/> at each shape, full causal and
    /// S2-Attn where it fits; <paramref name="peer"/> answers the SDPA peer's requests (null: no peer). Returns 1 if a
    /// variant failed its validation or threw, else 0.
    /// </summary>
    internal static int Measure(IBackend device, IReadOnlyList<AttentionShape> shapes, KernelVariant<AttentionKernel>[] variants, DeviceTiming.Plan plan,
                                Func<JsonObject, JsonNode>? peer, Report report)
    {
        foreach (string line in AttentionVariants.All.Header())
            report.Note($"variant {line}");
        report.Note($"device: {device.Device}; bf16 autocast (q, k, v, dout float32 tensors holding bf16 values), B = 1");
        report.Note("FLOPs: FlashAttention's convention, forward 4·T²·D·Hq halved for causal, backward 2.5 × forward; S2-Attn is credited causal / 4. "
            + "The peer is credited the same FLOPs.");
        report.Note($"validation: before timing, each variant against the CPU reference (float64, bf16 rounding) at T = min(T, {DeviceAttentionValidation.SmallT}) "
            + $"with the same mask, head dim and heads per kv head (at most 2 kv heads); outputs poisoned with NaN; tolerance {AttentionValidation.Bf16Tolerance:G3} of the largest value");
        report.Note(DeviceTiming.Describe(device, plan));

        foreach (var v in variants.Where(v => v.Kernel.Unavailable(device) is not null))
            report.Note($"{v.Name}: not run on {device.Device} ({v.Kernel.Unavailable(device)})");
        variants = variants.Where(v => v.Kernel.Unavailable(device) is null).ToArray();
        int rc = 0;
        var validations = new Dictionary<(AttentionShape, string), KernelVariant<AttentionKernel>[]>();
        using var autocast = Autocast.Bf16();
        foreach (var shape in shapes)
            rc |= MeasureShape(device, shape, variants, plan, peer, validations, report);
        return rc;
    }

    /// <summary>
    /// One shape: validation of each mask (once per small problem: <paramref name="validations"/> keeps the variants
    /// that passed), then the timings of those that passed, the peer's, and the S2-Attn speed-ups. Returns 1 on a failure.
    /// </summary>
    private static int MeasureShape(IBackend device, AttentionShape shape, KernelVariant<AttentionKernel>[] variants, DeviceTiming.Plan plan,
                                    Func<JsonObject, JsonNode>? peer, Dictionary<(AttentionShape, string), KernelVariant<AttentionKernel>[]> validations, Report report)
    {
        var masks = new List<AttentionCase> { AttentionCase.Causal(Precision.Bf16) };
        if (AttentionCase.S2Fits(shape.T, shape.Hq))
            masks.Add(AttentionCase.S2(shape.T, Precision.Bf16));
        else
            report.Note($"S2-Attn skipped at {Label(shape)}: needs T/4 even and an even head count");

        int rc = 0;
        var validated = new Dictionary<AttentionCase, KernelVariant<AttentionKernel>[]>();
        foreach (var mask in masks)
        {
            var key = (DeviceAttentionValidation.Small(shape), mask.Name);
            if (!validations.TryGetValue(key, out var passed))
            {
                (passed, bool failed) = Validate(device, shape, mask, variants, report);
                validations[key] = passed;
                rc |= failed ? 1 : 0;
            }
            validated[mask] = passed;
        }
        if (!validated.Values.Any(v => v.Any(x => x.Kernel.Timed)))
            return rc;
        if (plan.Expired)
        {
            report.Note($"timing skipped at {Label(shape)}: --max-seconds is spent");
            return rc;
        }

        var sets = new List<AttentionTensors>();
        try
        {
            sets.Add(AttentionTensors.Make(shape, device.Device, Seed));
            int copies = DeviceTiming.Copies(sets[0].Bytes, DeviceTiming.CacheBytes(device));
            while (sets.Count < copies)
                sets.Add(sets[0].Copy());
            var fwdBwd = new Dictionary<(AttentionCase, string), double>();
            foreach (var mask in masks)
            {
                double? peerForward = null, peerForwardBackward = null;
                if (peer is not null)
                {
                    peerForward = AskPeer(peer, shape, mask, "forward", plan, DeviceTiming.CacheBytes(device), report);
                    peerForwardBackward = AskPeer(peer, shape, mask, "forward_backward", plan, DeviceTiming.CacheBytes(device), report);
                    if (peerForwardBackward is { } p)
                        fwdBwd[(mask, PeerName)] = p;
                }
                // Newest first: where --max-seconds runs out, it costs the oldest variants, whose figures are known.
                foreach (var v in validated[mask].Where(v => v.Kernel.Timed).Reverse())
                {
                    if (plan.Expired)
                    {
                        report.Note($"timing of {v.Name} skipped at {Label(shape)} {mask.Name}: --max-seconds is spent");
                        continue;
                    }
                    try
                    {
                        var forward = DeviceTiming.Median(device, plan, i => v.Kernel.Forward(sets[i % sets.Count], mask.Spec));
                        var both = DeviceTiming.Median(device, plan, i =>
                        {
                            var t = sets[i % sets.Count];
                            v.Kernel.Forward(t, mask.Spec);
                            v.Kernel.Backward(t, mask.Spec);
                        });
                        fwdBwd[(mask, v.Name)] = both.Seconds;
                        Add(report, "fwd", shape, mask, v.Name, mask.ForwardFlops(shape), forward, peerForward, sets.Count);
                        Add(report, "fwd+bwd", shape, mask, v.Name, mask.ForwardBackwardFlops(shape), both, peerForwardBackward, sets.Count);
                    }
                    catch (Exception e)
                    {
                        report.Add(new Record($"fwd+bwd {Label(shape)}", $"{mask.Name} {v.Name}", 0, "TFLOP/s") { Note = $"error while timing: {e.Message.ReplaceLineEndings(" ")}" });
                        rc = 1;
                    }
                }
            }
            if (masks.Count == 2)
                foreach (string name in variants.Select(v => v.Name).Where(n => fwdBwd.ContainsKey((masks[0], n)) && fwdBwd.ContainsKey((masks[1], n))))
                {
                    double full = fwdBwd[(masks[0], name)], s2 = fwdBwd[(masks[1], name)];
                    double? peerSpeedUp = fwdBwd.TryGetValue((masks[0], PeerName), out double pf) && fwdBwd.TryGetValue((masks[1], PeerName), out double ps) ? pf / ps : null;
                    report.Add(new Record($"S2 speed-up {Label(shape)}", name, full / s2, "× causal")
                    {
                        Peer = peerSpeedUp is null ? null : PeerName,
                        PeerValue = peerSpeedUp,
                        Note = $"fwd+bwd {DeviceTiming.Format(full)} → {DeviceTiming.Format(s2)}",
                    });
                }
        }
        finally
        {
            foreach (var t in sets)
                t.Dispose();
        }
        return rc;
    }

    /// <summary>
    /// Validates each variant on the small problem of <paramref name="shape"/>'s kind and records its errors; returns
    /// those that passed, and whether any failed (or threw).
    /// </summary>
    private static (KernelVariant<AttentionKernel>[] Passed, bool Failed) Validate(IBackend device, AttentionShape shape, AttentionCase timedMask,
                                                                                  KernelVariant<AttentionKernel>[] variants, Report report)
    {
        var small = DeviceAttentionValidation.Small(shape);
        var mask = timedMask.FlopShare < 1 ? AttentionCase.S2(small.T, Precision.Bf16) : timedMask;
        using var t = AttentionTensors.Make(small, device.Device, Seed);
        var expected = DeviceAttentionValidation.Reference(t, mask.Spec);
        var passed = new List<KernelVariant<AttentionKernel>>();
        bool failed = false;
        foreach (var v in variants)
        {
            string name = $"validation {Label(small)}";
            try
            {
                double[] errors = DeviceAttentionValidation.Errors(v.Kernel, t, mask.Spec, expected);
                double worst = DeviceAttentionValidation.Worst(errors);
                bool ok = worst <= AttentionValidation.Bf16Tolerance;
                report.Add(new Record(name, $"{mask.Name} {v.Name}", worst, "max error")
                {
                    Note = $"{(ok ? "ok" : "FAILED, not timed")}: {DeviceAttentionValidation.Describe(errors)} (tolerance {AttentionValidation.Bf16Tolerance:G3})",
                });
                if (ok)
                    passed.Add(v);
                failed |= !ok;
            }
            catch (Exception e)
            {
                report.Add(new Record(name, $"{mask.Name} {v.Name}", double.NaN, "max error") { Note = $"FAILED, not timed: threw {e.Message.ReplaceLineEndings(" ")}" });
                failed = true;
            }
        }
        return ([.. passed], failed);
    }

    private static void Add(Report report, string pass, AttentionShape shape, AttentionCase mask, string variant, double flops, DeviceTiming.Timed timed,
                            double? peerSeconds, int copies) =>
        report.Add(new Record($"{pass} {Label(shape)}", $"{mask.Name} {variant}", flops / timed.Seconds / 1e12, "TFLOP/s")
        {
            Peer = peerSeconds is null ? null : PeerName,
            PeerValue = flops / peerSeconds / 1e12,
            Note = $"{DeviceTiming.Format(timed.Seconds)}, {timed.How} on {copies} copies"
                + (peerSeconds is { } p ? $"; peer {DeviceTiming.Format(p)}" : ""),
        });

    /// <summary>The peer's median seconds of one pass, or null (and a note) where it could not run it or is gone.</summary>
    private static double? AskPeer(Func<JsonObject, JsonNode> peer, AttentionShape shape, AttentionCase mask, string pass, DeviceTiming.Plan plan, long cache, Report report)
    {
        string why;
        try
        {
            var answer = peer(PeerRequest(shape, mask, pass, plan, cache));
            if (answer["seconds"] is { } seconds)
                return seconds.GetValue<double>();
            why = answer["error"]?.GetValue<string>() ?? answer.ToJsonString();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
            why = e.Message.ReplaceLineEndings(" "); // the peer exited: ours are still timed
        }
        report.Note($"peer: no {pass} at {Label(shape)} {mask.Name}: {why}");
        return null;
    }

    /// <summary>
    /// The request that makes the SDPA peer time one pass of the same problem: its shape, mask, pass, its own count of
    /// copies to rotate (its bf16 q, k, v, dout by the same rule as ours) and the timing plan.
    /// </summary>
    internal static JsonObject PeerRequest(AttentionShape shape, AttentionCase mask, string pass, DeviceTiming.Plan plan, long cacheBytes)
    {
        long peerSetBytes = 2L * shape.T * shape.D * (2L * shape.Hq + 2L * shape.Hkv);
        return new JsonObject
        {
            ["t"] = shape.T, ["heads"] = shape.Hq, ["kv_heads"] = shape.Hkv, ["head_dim"] = shape.D,
            ["kind"] = mask.Spec.GroupSize > 0 ? "s2" : "causal", ["group"] = mask.Spec.GroupSize > 0 ? mask.Spec.GroupSize : shape.T,
            ["pass"] = pass, ["copies"] = DeviceTiming.Copies(peerSetBytes, cacheBytes),
            ["target_seconds"] = plan.TargetSeconds, ["min_runs"] = plan.MinRuns, ["max_runs"] = plan.MaxRuns, ["once_above"] = Math.Min(plan.OnceAbove, 1e9),
        };
    }

    /// <summary>"T=16384 d128 H16/16".</summary>
    internal static string Label(AttentionShape s) => $"T={s.T} d{s.D} H{s.Hq}/{s.Hkv}";

    /// <summary>
    /// The shapes --seq, --head-dim, --heads and --kv-heads ask for (every T with every head dim), or null if they are
    /// not well-formed. Defaults: on CUDA T = 1K, 4K, 16K, head dims 64 and 128, 2048 / D heads; off it T = 64, d64, 4 heads.
    /// </summary>
    internal static List<AttentionShape>? Shapes(Options options, bool cuda)
    {
        if (!AttentionBench.TryInts(options.Value("--seq") ?? (cuda ? "1024,4096,16384" : "64"), out int[] seqs)
            || !AttentionBench.TryInts(options.Value("--head-dim") ?? (cuda ? "64,128" : "64"), out int[] dims) || dims.Any(d => d is not (64 or 128)))
            return null;
        var shapes = new List<AttentionShape>();
        foreach (int d in dims)
        {
            if (!AttentionBench.TryInts(options.Value("--heads") ?? (cuda ? Hidden / d : 4).ToString(CultureInfo.InvariantCulture), out int[] heads) || heads.Length != 1)
                return null;
            if (!AttentionBench.TryInts(options.Value("--kv-heads") ?? heads[0].ToString(CultureInfo.InvariantCulture), out int[] kv) || kv.Length != 1 || heads[0] % kv[0] != 0)
                return null;
            shapes.AddRange(seqs.Select(t => new AttentionShape(t, heads[0], kv[0], d)));
        }
        return shapes;
    }

    /// <summary>--max-seconds: a positive number of seconds, or absent; false (and one line) if malformed.</summary>
    internal static bool TryMaxSeconds(Options options, string verb, out double? seconds)
    {
        seconds = null;
        if (options.Value("--max-seconds") is not { } text)
            return true;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0)
        {
            seconds = s;
            return true;
        }
        Console.Error.WriteLine($"bench {verb}: --max-seconds wants a positive number of seconds, not '{text}'");
        return false;
    }
}
