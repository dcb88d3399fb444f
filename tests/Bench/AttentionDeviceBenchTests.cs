using System.Text.Json.Nodes;
using RawLongLoRA.Bench;
using RawLongLoRA.Bench.Kernels;
using Xunit;

namespace RawLongLoRA.Tests.Bench;

/// <summary>
/// `bench attention --device`'s harness in process, on the CPU backend (fast) with variants of the test's own: a right
/// one passes its validation and is timed beside the peer; one that leaves lse unwritten (NaN poison) or uses a wrong
/// scale fails and is never timed; the FLOPs and the peer's requests are what FlashAttention's convention and the
/// problem say.
/// </summary>
public sealed class AttentionDeviceBenchTests
{
    /// <summary>The CPU backend's flash attention: right, at the caller's bf16 autocast.</summary>
    private sealed class CpuAttention : AttentionKernel
    {
        public override void Forward(AttentionTensors t, AttentionSpec spec) => t.Device.Backend.AttentionForward(t.O, t.Lse, t.Q, t.K, t.V, spec);

        public override void Backward(AttentionTensors t, AttentionSpec spec) =>
            t.Device.Backend.AttentionBackward(t.DQ, t.DK, t.DV, t.DOut, t.Q, t.K, t.V, t.O, t.Lse, spec);
    }

    /// <summary>Right o, but lse written to a scratch tensor: the poisoned lse stays NaN.</summary>
    private sealed class LeavesLseUnwritten : AttentionKernel
    {
        private readonly CpuAttention _right = new();

        public override void Forward(AttentionTensors t, AttentionSpec spec)
        {
            using var scratch = Tensor.EmptyLike(t.Lse);
            t.Device.Backend.AttentionForward(t.O, scratch, t.Q, t.K, t.V, spec);
        }

        public override void Backward(AttentionTensors t, AttentionSpec spec) => _right.Backward(t, spec);
    }

    /// <summary>Every output written, with the scale of head dim 2·D: wrong by far more than bf16 rounding.</summary>
    private sealed class WrongScale : AttentionKernel
    {
        private readonly CpuAttention _right = new();

        public override void Forward(AttentionTensors t, AttentionSpec spec) => _right.Forward(t, Scaled(t, spec));

        public override void Backward(AttentionTensors t, AttentionSpec spec) => _right.Backward(t, Scaled(t, spec));

        private static AttentionSpec Scaled(AttentionTensors t, AttentionSpec spec) => spec with { Scale = 1f / MathF.Sqrt(2 * t.Q.Shape[3]) };
    }

    private static readonly AttentionShape Shape = new(32, 4, 2, 64);

    private static KernelVariant<AttentionKernel>[] Variants() =>
    [
        new("right", "the CPU backend", new CpuAttention()),
        new("no-lse", "lse unwritten", new LeavesLseUnwritten()),
        new("wrong-scale", "scale of 2·D", new WrongScale()),
    ];

    [Fact]
    public void A_wrong_variant_fails_its_validation_and_is_not_timed_while_a_right_one_is_timed_beside_the_peer()
    {
        var report = new Report("attention", Machine.Describe());
        var requests = new List<JsonObject>();
        int rc = DeviceAttentionBench.Measure(Device.Cpu.Backend, [Shape], Variants(), DeviceTiming.Plan.Harness, r =>
        {
            requests.Add(r);
            return new JsonObject { ["seconds"] = r["pass"]!.GetValue<string>() == "forward" ? 0.5 : 2.0, ["runs"] = 3 };
        }, report);

        Assert.Equal(1, rc);
        var records = report.Records;
        foreach (string mask in new[] { "causal", "S2-Attn" })
        {
            var validation = records.Where(r => r.Name == "validation T=32 d64 H4/2").ToDictionary(r => r.Variant!);
            Assert.StartsWith("ok: ", validation[$"{mask} right"].Note);
            Assert.True(validation[$"{mask} right"].Value <= AttentionValidation.Bf16Tolerance);
            Assert.True(double.IsNaN(validation[$"{mask} no-lse"].Value), validation[$"{mask} no-lse"].Note);
            Assert.Contains("lse NaN", validation[$"{mask} no-lse"].Note);
            Assert.True(validation[$"{mask} wrong-scale"].Value > AttentionValidation.Bf16Tolerance);
            Assert.StartsWith("FAILED, not timed: ", validation[$"{mask} wrong-scale"].Note);

            var aCase = mask == "causal" ? AttentionCase.Causal(Precision.Bf16) : AttentionCase.S2(32, Precision.Bf16);
            var fwd = Assert.Single(records, r => r.Name == "fwd T=32 d64 H4/2" && r.Variant == $"{mask} right");
            var both = Assert.Single(records, r => r.Name == "fwd+bwd T=32 d64 H4/2" && r.Variant == $"{mask} right");
            Assert.Equal(aCase.ForwardFlops(Shape) / 0.5 / 1e12, fwd.PeerValue!.Value, 12);
            Assert.Equal(aCase.ForwardBackwardFlops(Shape) / 2.0 / 1e12, both.PeerValue!.Value, 12);
            Assert.Equal(DeviceAttentionBench.PeerName, both.Peer);
            Assert.True(both.Value > 0);
        }
        Assert.DoesNotContain(records, r => r.Unit == "TFLOP/s" && !r.Variant!.EndsWith(" right", StringComparison.Ordinal));
        var speedUp = Assert.Single(records, r => r.Name == "S2 speed-up T=32 d64 H4/2");
        Assert.Equal(("right", 1.0), (speedUp.Variant, speedUp.PeerValue));

        // The peer was asked for both passes of both masks of this very problem.
        Assert.Equal(4, requests.Count);
        Assert.All(requests, r => Assert.Equal((32, 4, 2, 64), (r["t"]!.GetValue<int>(), r["heads"]!.GetValue<int>(), r["kv_heads"]!.GetValue<int>(), r["head_dim"]!.GetValue<int>())));
        Assert.Equal(["causal 32 forward", "causal 32 forward_backward", "s2 8 forward", "s2 8 forward_backward"],
                     requests.Select(r => $"{r["kind"]} {r["group"]} {r["pass"]}"));
        Assert.All(requests, r => Assert.True(r["copies"]!.GetValue<int>() >= 2));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_peer_that_cannot_run_a_pass_or_has_exited_leaves_a_note_and_no_peer_figure(bool exited)
    {
        var report = new Report("attention", Machine.Describe());
        int rc = DeviceAttentionBench.Measure(Device.Cpu.Backend, [Shape with { T = 16 }], [Variants()[0]], DeviceTiming.Plan.Harness,
                                              _ => exited ? throw new InvalidOperationException("peer test exited (code 1)") : new JsonObject { ["error"] = "out of memory: test" },
                                              report);

        Assert.Equal(0, rc);
        Assert.Contains($"peer: no forward_backward at T=16 d64 H4/2 causal: {(exited ? "peer test exited (code 1)" : "out of memory: test")}", report.Notes);
        Assert.All(report.Records.Where(r => r.Unit == "TFLOP/s"), r => Assert.Null(r.PeerValue));
        Assert.Contains(report.Records, r => r.Name == "fwd+bwd T=16 d64 H4/2" && r.Value > 0);
    }

    [Fact]
    public void Past_max_seconds_the_variants_are_validated_but_not_timed()
    {
        var report = new Report("attention", Machine.Describe());
        var spent = DeviceTiming.Plan.Harness with { Until = DateTime.UtcNow.AddSeconds(-1) };
        int rc = DeviceAttentionBench.Measure(Device.Cpu.Backend, [Shape with { T = 16 }], [Variants()[0]], spent, _ => throw new InvalidOperationException("the peer is not asked"), report);

        Assert.Equal(0, rc);
        Assert.Contains("timing skipped at T=16 d64 H4/2: --max-seconds is spent", report.Notes);
        Assert.Equal(2, report.Records.Count(r => r.Unit == "max error"));
        Assert.DoesNotContain(report.Records, r => r.Unit == "TFLOP/s");
    }

    [Fact]
    public void A_timing_takes_the_next_copy_each_run_after_a_warm_up_and_a_slow_warm_up_is_the_one_run()
    {
        var taken = new List<int>();
        var timed = DeviceTiming.Median(Device.Cpu.Backend, new DeviceTiming.Plan(0, 3, 100, double.MaxValue), taken.Add);
        Assert.Equal([0, 1, 2, 3], taken);
        Assert.Equal(3, timed.Runs);
        Assert.Equal("median of 3", timed.How);

        taken.Clear();
        var slow = DeviceTiming.Median(Device.Cpu.Backend, new DeviceTiming.Plan(10, 3, 100, OnceAbove: 0), taken.Add);
        Assert.Equal([0], taken);
        Assert.Equal("one run (slow)", slow.How);
    }

    [Fact]
    public void The_flops_follow_flash_attentions_convention()
    {
        var s = new AttentionShape(16384, 16, 16, 128);
        double causal = 4.0 * 16384 * 16384 * 128 * 16 / 2;
        Assert.Equal(causal, AttentionCase.Causal(Precision.Bf16).ForwardFlops(s));
        Assert.Equal(3.5 * causal, AttentionCase.Causal(Precision.Bf16).ForwardBackwardFlops(s));
        Assert.Equal(causal / 4, AttentionCase.S2(16384, Precision.Bf16).ForwardFlops(s));
        Assert.Equal(4096, AttentionCase.S2(16384, Precision.Bf16).Spec.GroupSize);
        Assert.False(AttentionCase.S2Fits(16384, 15));
        Assert.False(AttentionCase.S2Fits(100, 16)); // G = 25: no half-group shift
    }

    [Fact]
    public void The_variants_are_selected_by_name_or_all_and_a_new_name_is_appended()
    {
        var all = AttentionVariants.All;
        Assert.Equal(["cpu-reference", "ilgpu", "cuda-c", "cuda-c-atomic"], all.All.Select(v => v.Name));
        Assert.Equal("cuda-c", Assert.Single(all.Select("cuda-c")!).Name);
        Assert.Equal(4, all.Select("all")!.Length);
        Assert.Null(all.Select("cuda"));
        Assert.StartsWith("V1 cpu-reference: ", all.Header().First());
        Assert.False(all.All[0].Kernel.Timed);
        Assert.Equal("kernels.cu's kernels run on CUDA only", all.All[2].Kernel.Unavailable(IlgpuDevice.Backend));
        Assert.Null(all.All[1].Kernel.Unavailable(IlgpuDevice.Backend));

        var mine = new KernelVariants<AttentionKernel>(all.All.ToArray());
        Assert.Throws<ArgumentException>(() => mine.Add(new("ilgpu", "taken", new CpuAttention())));
        mine.Add(new("v5", "the next version", new CpuAttention()));
        Assert.Equal("V5 v5: the next version", mine.Header().Last());
    }

    [Fact]
    public void The_validation_problem_keeps_the_mask_head_dim_and_heads_per_kv_head()
    {
        Assert.Equal(new AttentionShape(256, 8, 2, 128), DeviceAttentionValidation.Small(new AttentionShape(16384, 32, 8, 128)));
        Assert.Equal(new AttentionShape(256, 2, 2, 64), DeviceAttentionValidation.Small(new AttentionShape(4096, 32, 32, 64)));
        Assert.Equal(new AttentionShape(64, 4, 1, 64), DeviceAttentionValidation.Small(new AttentionShape(64, 4, 1, 64)));
    }

    [Fact]
    public void Copies_move_twice_the_cache_between_two_uses_of_one()
    {
        const long l2 = 60L << 20;
        Assert.Equal(2, DeviceTiming.Copies(1L << 30, l2));
        Assert.Equal(2, DeviceTiming.Copies(120L << 20, l2));
        Assert.Equal(13, DeviceTiming.Copies(10L << 20, l2)); // 12 others × 10 MiB ≥ 120 MiB
        Assert.Equal(2, DeviceTiming.Copies(1000, 0));
        foreach (long set in new[] { 1L << 20, 7L << 20, 33L << 20, 59L << 20 })
            Assert.True((DeviceTiming.Copies(set, l2) - 1) * set >= 2 * l2, $"{set} bytes");
    }
}
