using RawLongLoRA.Bench;
using RawLongLoRA.Bench.Kernels;
using LoraForm = RawLongLoRA.Kernels.Cuda.LoraForm;
using Xunit;

namespace RawLongLoRA.Tests.Bench;

/// <summary>
/// `bench lora`'s harness in process on ILGPU's CPU accelerator (the GPU backend's caching allocator, whose free blocks
/// the validation poisons): the engine's LoRA projection and the plain one pass and are timed with the ratio between
/// them; a variant that leaves an output unwritten, or drops the update's scale, fails and is not timed.
/// </summary>
public sealed class LoraBenchTests
{
    private static readonly Lazy<IBackend> Device = new(() => IlgpuDevice.Another(15));

    /// <summary>Outputs of the right shapes, never written.</summary>
    private sealed class Unwritten : LoraProjection
    {
        public override LoraOutputs Forward(LoraTensors t) => new(Empty(t, t.Shape.M, t.Shape.N));

        public override LoraOutputs ForwardBackward(LoraTensors t) =>
            new(Empty(t, t.Shape.M, t.Shape.N), Empty(t, t.Shape.M, t.Shape.K), Empty(t, t.Shape.R, t.Shape.K), Empty(t, t.Shape.N, t.Shape.R));

        private static Tensor Empty(LoraTensors t, int rows, int cols) => Tensor.Empty([rows, cols], DType.F32, t.X.Device);
    }

    /// <summary>The engine's op with s = 1 instead of 16 / r.</summary>
    private sealed class UnitScale : LoraProjection
    {
        public override LoraOutputs Forward(LoraTensors t)
        {
            using (Autograd.NoGrad())
                return new(t.X.LoraLinear(t.W, null, t.A, t.B, 1f));
        }

        public override LoraOutputs ForwardBackward(LoraTensors t)
        {
            var y = t.X.LoraLinear(t.W, null, t.A, t.B, 1f);
            y.Backward(t.DY);
            return new(y, OpLoraProjection.TakeGrad(t.X), OpLoraProjection.TakeGrad(t.A), OpLoraProjection.TakeGrad(t.B));
        }
    }

    [Fact]
    public void Freed_blocks_are_poisoned_before_a_validation_call()
    {
        using var t = LoraTensors.Make(new LoraProjectionShape(24, 40, 32, 4), Device.Value.Device, seed: 1);
        LoraValidation.PoisonFreeBlocks(t);
        foreach (int[] shape in new[] { new[] { 24, 32 }, [24, 40], [4, 40], [32, 4] })
        {
            using var fresh = Tensor.Empty(shape, DType.F32, t.X.Device);
            Assert.All(fresh.ToFloatArray(), x => Assert.True(float.IsNaN(x)));
        }
    }

    [Fact]
    public void Wrong_variants_fail_and_are_not_timed_while_the_op_is_timed_against_the_plain_projection()
    {
        var report = new Report("lora", Machine.Describe());
        var shape = new LoraProjectionShape(32, 48, 40, 4);
        KernelVariant<LoraProjection>[] variants =
        [
            LoraVariants.All.All[0], LoraVariants.All.All[1],
            new("unwritten", "outputs never written", new Unwritten()),
            new("unit-scale", "s = 1", new UnitScale()),
        ];
        int rc = LoraBench.Measure(Device.Value, [shape], variants, DeviceTiming.Plan.Harness, report);

        Assert.Equal(1, rc);
        var validation = report.Records.Where(r => r.Name == "validation M=32 K=48 N=40 r=4").ToDictionary(r => r.Variant!);
        Assert.Equal(["plain", "plain-bf16", "cpu-reference", "cublas", "unwritten", "unit-scale"], validation.Keys);
        foreach (string ok in new[] { "plain", "plain-bf16", "cpu-reference", "cublas" })
            Assert.True(validation[ok].Value <= AttentionValidation.Bf16Tolerance, $"{ok}: {validation[ok].Note}");
        Assert.True(double.IsNaN(validation["unwritten"].Value), validation["unwritten"].Note);
        Assert.StartsWith("FAILED, not timed: fwd y NaN, y NaN, dx NaN, dA NaN, dB NaN", validation["unwritten"].Note);
        Assert.True(validation["unit-scale"].Value > AttentionValidation.Bf16Tolerance, validation["unit-scale"].Note);

        var timed = report.Records.Where(r => r.Unit is "TFLOP/s" or "× plain time").ToList();
        Assert.Equal(["plain", "plain", "plain-bf16", "plain-bf16", "cublas", "cublas", "cublas", "cublas"], timed.Select(r => r.Variant));
        Assert.Equal(["projection M=32 K=48 N=40 fwd", "projection M=32 K=48 N=40 fwd+bwd", "projection M=32 K=48 N=40 fwd", "projection M=32 K=48 N=40 fwd+bwd",
                      "lora M=32 K=48 N=40 r=4 fwd", "lora M=32 K=48 N=40 r=4 fwd / plain", "lora M=32 K=48 N=40 r=4 fwd+bwd", "lora M=32 K=48 N=40 r=4 fwd+bwd / plain"],
                     timed.Select(r => r.Name));
        Assert.All(timed, r => Assert.True(r.Value > 0));
        Assert.All(timed.Where(r => r.Unit == "× plain time"), r => Assert.Contains(" vs plain's ", r.Note)); // float32 activations: the engine's plain projection
    }

    [EmuFact]
    public void Kernels_cu_in_both_forms_pass_on_the_host_emulation_and_are_held_against_the_bf16_projection()
    {
        var report = new Report("lora", Machine.Describe());
        KernelVariant<LoraProjection>[] variants =
        [
            new("cuda-c-fused", "fused", new KernelsCuLoraProjection(LoraForm.Fused, EmuRunner.Instance)),
            new("cuda-c-two-kernel", "two kernels", new KernelsCuLoraProjection(LoraForm.TwoKernel, EmuRunner.Instance)),
        ];
        // On the CPU backend, whose tensors lie in host memory where the emulated kernels read and write: m off the 64-row tiles.
        int rc = LoraBench.Measure(RawLongLoRA.Device.Cpu.Backend, [new LoraProjectionShape(70, 72, 136, 8)], variants, DeviceTiming.Plan.Harness, report);

        Assert.True(rc == 0, string.Join("\n", report.Records.Select(r => $"{r.Name} [{r.Variant}]: {r.Note}")));
        foreach (string name in new[] { "cuda-c-fused", "cuda-c-two-kernel" })
        {
            var validation = Assert.Single(report.Records, r => r.Name == "validation M=70 K=72 N=136 r=8" && r.Variant == name);
            Assert.StartsWith("ok: fwd y ", validation.Note);
            foreach (string pass in new[] { "fwd", "fwd+bwd" })
                Assert.Contains(" vs plain-bf16's ", Assert.Single(report.Records, r => r.Name == $"lora M=70 K=72 N=136 r=8 {pass} / plain" && r.Variant == name).Note);
        }
    }

    [Fact]
    public void The_flops_count_the_update_and_the_backward_without_dw()
    {
        var s = new LoraProjectionShape(8192, 4096, 4096, 16);
        double plain = 2.0 * 8192 * 4096 * 4096, update = 2.0 * 8192 * 16 * (4096 + 4096);
        Assert.Equal(plain, s.PlainForwardFlops);
        Assert.Equal(2 * plain, s.PlainForwardBackwardFlops);
        Assert.Equal(plain + update, s.ForwardFlops);
        Assert.Equal(2 * plain + 3 * update, s.ForwardBackwardFlops); // dY·W; dY·B, u·A, uᵀ·x, dYᵀ·t
        Assert.Equal("M=8192 K=4096 N=4096 r=16", s.ToString());
        Assert.Equal(new LoraProjectionShape(256, 384, 320, 16), LoraValidation.Small(s));
    }
}
