using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Tests.Kernels;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Under Autocast bf16: the ILGPU kernels against the CPU backend's bf16 passes (AttentionBf16.cs). The bound is
/// AttentionBf16KernelTests', argued from bf16 rounding, not from a measured gap. Both sides round the same q, k, v
/// and dO, and their S and dP are sums of exact bf16 products; they part where P and dS are rounded. The forward
/// rounds exp(s − running max), and the running max moves key tile by key tile (4 keys here, 64 on the CPU), so
/// every P may land on a neighbouring bf16 value; the backward's P and dS differ only by float32 noise (order of
/// sums, GpuMath.Exp against the CPU's exp within 2⁻¹⁷), which now and then flips a rounding. Two nearest-even
/// roundings are at most one bf16 step (2⁻⁷ of the value) apart, so each output moves by at most
/// <see cref="AttentionBf16KernelTests.Step"/> times its sum's magnitude Σ|terms| (AttentionReference's, which
/// also covers D = dO·o moving with o), plus float32 summation, <see cref="AttentionBf16KernelTests.SumRounding"/>
/// of the largest magnitude. The cases keep T mod 64 above 4: the CPU runs forward query tiles of at most 4 rows
/// (decoding) at float32 even under bf16 (AttentionDecode.cs); the ILGPU kernels round every tile.
/// </summary>
public sealed partial class GpuAttentionTests
{
    [Theory]
    [InlineData("causal, grouped-query heads")]
    [InlineData("packed sequences")]
    [InlineData("S2-Attn, packed, blocks")]
    public void Bf16MatchesTheCpusBf16(string name)
    {
        using var scope = new DisposeScope();
        using var bf16 = Autocast.Bf16();
        var c = Cases[name];
        var (q, k, v) = Inputs(c);
        var (dout, dlse) = OutputGradients(c, name);
        var (cpu, gpu) = Forwards(IlgpuDevice.Backend, c, q, k, v);
        var (dCpu, dGpu) = Backwards(IlgpuDevice.Backend, c, q, k, v, dout, dlse);

        float[] hq = q.ToFloatArray(), hk = k.ToFloatArray(), hv = v.ToFloatArray();
        var (_, _, oSize) = AttentionReference.ForwardBounded(hq, hk, hv, c.B, c.T, c.S, c.Hq, c.Hkv, c.D, HostSpec(c), Precision.Bf16);
        var (_, _, _, size) = AttentionReference.BackwardBounded(dout.ToFloatArray(), hq, hk, hv, c.B, c.T, c.S, c.Hq, c.Hkv, c.D, HostSpec(c),
            dlse?.ToFloatArray(), Precision.Bf16);
        static float[] F(double[] x) => Array.ConvertAll(x, e => (float)e);
        AttentionBf16KernelTests.AssertWithin(F(cpu[0]), F(gpu[0]), oSize, $"{name}: o");
        // lse: float32 sums and logs of the same S on both sides, no bf16 rounding in between.
        AttentionBf16KernelTests.AssertWithin(F(cpu[1]), F(gpu[1]), Array.ConvertAll(cpu[1], x => double.IsFinite(x) ? 1.0 + Math.Abs(x) : 0), $"{name}: lse", step: 0);
        AttentionBf16KernelTests.AssertWithin(F(dCpu[0]), F(dGpu[0]), size.Dq, $"{name}: dq");
        AttentionBf16KernelTests.AssertWithin(F(dCpu[1]), F(dGpu[1]), size.Dk, $"{name}: dk");
        AttentionBf16KernelTests.AssertWithin(F(dCpu[2]), F(dGpu[2]), size.Dv, $"{name}: dv");
    }

    /// <summary>The rounding happens: under bf16 o and the gradients miss float32's by far more than float32 rounding.</summary>
    [Fact]
    public void Bf16DiffersFromFloat32()
    {
        using var scope = new DisposeScope();
        const string name = "causal, grouped-query heads";
        var c = Cases[name];
        var (q, k, v) = Inputs(c);
        var (dout, _) = OutputGradients(c, name);
        double[][] Run(Precision precision)
        {
            using var at = Autocast.Scope(precision);
            var (_, forward) = Forwards(IlgpuDevice.Backend, c, q, k, v);
            var (_, backward) = Backwards(IlgpuDevice.Backend, c, q, k, v, dout, null);
            return [forward[0], .. backward];
        }
        var (bf16, f32) = (Run(Precision.Bf16), Run(Precision.F32));
        for (int i = 0; i < bf16.Length; i++)
        {
            // bf16 operands move results by ~2⁻⁹ of their size; float32 rounding by ~2⁻²⁴.
            double gap = bf16[i].Zip(f32[i], (x, y) => Math.Abs(x - y)).Max() / f32[i].Max(Math.Abs);
            Assert.True(gap > 1e-4, $"output {i}: bf16 within {gap:E1} of float32: it did not round");
        }
    }
}
