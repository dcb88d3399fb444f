using RawLongLoRA.Training.Checks;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// One whole training step of a tiny model (LoRA on q,k,v,o, S2-Attn over a packed row, embedding and norms trained,
/// AdamW) on the ILGPU backend over ILGPU's CPU accelerator against the same step on the CPU, as
/// <see cref="StrictDeviceStepTests"/> does for the strict device — but within float32 tolerance, not bitwise: the GPU
/// kernels sum in another order. Two steps, so that the LoRA A matrices (whose gradient is 0 while B is) get one too.
/// </summary>
public sealed class GpuTrainingStepTests
{
    /// <summary>float32 sums of a few dozen terms in another order, through a two-step AdamW: well above 1e-6, far below a bug's 1e-2.</summary>
    private const double Tolerance = 1e-4;

    [Fact]
    public void A_training_step_on_the_cpu_accelerator_matches_the_cpu()
    {
        using var cpu = new TinyTrainingStep(Device.Cpu, config: TinyTrainingStep.TinyConfig(layers: 2));
        using var gpu = new TinyTrainingStep(IlgpuDevice.Device, config: TinyTrainingStep.TinyConfig(layers: 2));
        Assert.Equal(IlgpuDevice.Device, gpu.Model.Device);
        for (int step = 1; step <= 2; step++)
        {
            var want = cpu.Step();
            var got = gpu.Step();
            Assert.True(Math.Abs(got.Loss - want.Loss) <= Tolerance * Math.Abs(want.Loss), $"step {step}: loss {got.Loss} on the device, {want.Loss} on the cpu");
            Assert.Equal(want.Gradients.Keys.Order(), got.Gradients.Keys.Order());
            foreach (var (name, g) in want.Gradients)
            {
                Assert.True(g.Any(x => x != 0) || step == 1 && name.Contains("lora_A"), $"step {step}: {name} has an all-zero gradient on the cpu");
                Close($"step {step}: the gradient of {name}", got.Gradients[name], g);
            }
            foreach (var (name, p) in want.After)
                Close($"step {step}: {name} after AdamW", got.After[name], p);
        }
    }

    private static void Close(string what, float[] got, float[] want)
    {
        double e = MaxRelativeError.Of(got, want);
        Assert.True(e <= Tolerance, $"{what}: max relative error {e:E2} on the device (tolerance {Tolerance:E0})");
    }
}
