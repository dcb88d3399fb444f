using RawLongLoRA.Kernels.Cuda;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// LoraLinearOp through kernels.cu/lora.cu (CudaLoraSidePath: the bf16 casts, xa kept for the backward, the scratch,
/// the frozen GEMMs around it) on host tensors via the emulation, against the same op composed of GEMMs, both under
/// bf16 autocast: the side path is what the CUDA backend plugs into the op.
/// </summary>
public sealed class LoraSidePathEmuTests
{
    private const float Scale = 2f;

    [EmuFact]
    public void TheOpThroughTheSidePathMatchesTheComposedOpValuesAndGradients()
    {
        var counting = new CountingSidePath(new CudaLoraSidePath(() => EmuRunner.Instance, () => true));
        var (viaKernels, composed) = (Run(x => LoraLinearOp.LoraLinearThrough(counting, x.X, x.W, x.Bias, x.A, x.B, Scale)),
                                      Run(x => x.X.LoraLinear(x.W, x.Bias, x.A, x.B, Scale)));
        Assert.Equal((1, 1), (counting.Forwards, counting.Backwards));
        for (int i = 0; i < composed.Length; i++)
        {
            // bf16 operands on both sides (a bf16 step is 2⁻⁸ relative); the two round x·Aᵀ at different points.
            double scale = composed[i].Max(v => Math.Abs(v));
            for (int j = 0; j < composed[i].Length; j++)
                Assert.True(Math.Abs(viaKernels[i][j] - composed[i][j]) <= 1.5e-2 * scale,
                    $"output {i} [{j}]: kernels {viaKernels[i][j]}, composed {composed[i][j]} (scale {scale})");
        }
    }

    [EmuFact]
    public void TheSidePathCoversOnlyWhatItsKernelsTake()
    {
        var side = new CudaLoraSidePath(() => EmuRunner.Instance, () => true);
        using var x = Tensor.Zeros([4, 64]);
        using var a = Tensor.Zeros([8, 64]);
        using var b = Tensor.Zeros([48, 8]);
        using var a12 = Tensor.Zeros([12, 64]);
        using var b12 = Tensor.Zeros([48, 12]);
        Assert.False(side.Covers(x, a, b)); // float32: the composition's exact GEMMs
        using (Autocast.Bf16())
        {
            Assert.True(side.Covers(x, a, b));
            Assert.False(side.Covers(x, a12, b12)); // rank 12 has no kernel
            Assert.False(new CudaLoraSidePath(() => EmuRunner.Instance, () => false).Covers(x, a, b));
        }
    }

    private sealed record Operands(Tensor X, Tensor W, Tensor Bias, Tensor A, Tensor B);

    /// <summary>y, dx, dA, dB and dbias of Σ y∘R through <paramref name="op"/> under bf16 autocast.</summary>
    private static float[][] Run(Func<Operands, Tensor> op)
    {
        using var scope = new DisposeScope();
        var rng = new Random(8);
        Tensor Make(int[] shape, double range, bool grad)
        {
            var t = Tensor.FromArray(Array.ConvertAll(Uniform(rng, shape.Aggregate(1L, (p, n) => p * n), -range, range), v => (float)v), shape);
            t.RequiresGrad = grad;
            return t;
        }
        var x = new Operands(Make([2, 35, 64], 1, true), Make([48, 64], 0.2, false), Make([48], 0.1, true), Make([8, 64], 0.2, true), Make([48, 8], 0.2, true));
        var r = Make([2, 35, 48], 1, false);
        using (Autocast.Bf16())
        {
            var y = op(x);
            (y * r).Sum().Backward();
            return [y.ToFloatArray(), x.X.Grad!.ToFloatArray(), x.A.Grad!.ToFloatArray(), x.B.Grad!.ToFloatArray(), x.Bias.Grad!.ToFloatArray()];
        }
    }

    /// <summary>Counts the calls that reach the side path, so the test knows the op took it.</summary>
    private sealed class CountingSidePath(ILoraSidePath inner) : ILoraSidePath
    {
        public int Forwards, Backwards;

        public bool Covers(Tensor x, Tensor loraA, Tensor loraB) => inner.Covers(x, loraA, loraB);

        public Tensor Forward(Tensor y, Tensor x, Tensor loraA, Tensor loraB, float scale)
        {
            Forwards++;
            return inner.Forward(y, x, loraA, loraB, scale);
        }

        public void Backward(Tensor? dx, Tensor dA, Tensor dB, Tensor dy, Tensor x, Tensor saved, Tensor loraA, Tensor loraB, float scale)
        {
            Backwards++;
            inner.Backward(dx, dA, dB, dy, x, saved, loraA, loraB, scale);
        }
    }
}
