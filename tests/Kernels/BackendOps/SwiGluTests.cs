using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>y = silu(gate)·up and its backward against the float64 reference.</summary>
public sealed class BackendOpsSwiGluTests
{
    [Theory]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 33, 33 })]
    [InlineData(new[] { 3, 5, 37 })]
    [InlineData(new[] { 70001 })]
    public void SwiGluAndBackwardMatchReference(int[] shape)
    {
        using var scope = new DisposeScope();
        long n = BackendReference.Numel(shape);
        var rng = new Random((int)n);
        var gate = Uniform(rng, n, -20, 20);
        var up = Uniform(rng, n, -2, 2);
        var dy = Uniform(rng, n, -1, 1);
        var gt = Place(gate, shape);
        var ut = Place(up, shape);

        var y = Output(shape);
        Cpu.SwiGlu(y, gt, ut);
        AssertClose("swiglu", BackendReference.SwiGlu(gate, up), Read(y));

        var dg = Output(shape);
        var du = Output(shape);
        Cpu.SwiGluBackward(dg, du, Place(dy, shape), gt, ut);
        var (dgRef, duRef) = BackendReference.SwiGluBackward(dy, gate, up);
        AssertClose("swiglu_backward dgate", dgRef, Read(dg));
        AssertClose("swiglu_backward dup", duRef, Read(du));
    }

    [Fact]
    public void SaturatedGatesInVectorAndTailLanes()
    {
        using var scope = new DisposeScope();
        // Gates far past where e^−g overflows or vanishes, and infinite ones (NaN where torch gives NaN),
        // in the vector part and in the tail of 37.
        var gate = Uniform(new Random(6), 37, -3, 3);
        double[] extremes = [-200, -100, -89, 89, 100, 200, double.NegativeInfinity, double.PositiveInfinity];
        for (int i = 0; i < extremes.Length; i++)
        {
            gate[i] = extremes[i];
            gate[36 - i] = extremes[i];
        }
        var up = Uniform(new Random(7), 37, -2, 2);
        var dy = Uniform(new Random(8), 37, -1, 1);
        var y = Output([37]);
        Cpu.SwiGlu(y, Place(gate, [37]), Place(up, [37]));
        AssertClose("swiglu saturated", BackendReference.SwiGlu(gate, up), Read(y));
        var dg = Output([37]);
        var du = Output([37]);
        Cpu.SwiGluBackward(dg, du, Place(dy, [37]), Place(gate, [37]), Place(up, [37]));
        var (dgRef, duRef) = BackendReference.SwiGluBackward(dy, gate, up);
        AssertClose("swiglu_backward saturated dgate", dgRef, Read(dg));
        AssertClose("swiglu_backward saturated dup", duRef, Read(du));
    }

    [Theory]
    [InlineData(View.Transposed)]
    [InlineData(View.Stepped)]
    [InlineData(View.Padded)]
    public void NonContiguousOperandsAreRejectedNamingTheOp(View view)
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 4 * 6, -1, 1);
        var strided = Place(x, [4, 6], view);
        var plain = Place(x, [4, 6]);
        AssertThrows(() => Cpu.SwiGlu(Output([4, 6]), strided, plain), "swiglu", "contiguous");
        AssertThrows(() => Cpu.SwiGlu(Output([4, 6]), plain, strided), "swiglu", "contiguous");
        AssertThrows(() => Cpu.SwiGlu(Output([4, 6], DType.F32, view), plain, plain), "swiglu", "contiguous");
        AssertThrows(() => Cpu.SwiGluBackward(Output([4, 6]), Output([4, 6]), strided, plain, plain), "swiglu_backward", "contiguous");
        AssertThrows(() => Cpu.SwiGluBackward(Output([4, 6]), Output([4, 6], DType.F32, view), plain, plain, plain), "swiglu_backward", "contiguous");
    }

    [Fact]
    public void SwiGluBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.SwiGlu(Tensor.Empty([4, 6]), Tensor.Zeros([4, 6]), Tensor.Zeros([4, 5])), "swiglu", "[4, 5]", "[4, 6]");
        AssertThrows(() => Cpu.SwiGlu(Tensor.Empty([4, 6]), Tensor.Zeros([4, 6], DType.F16), Tensor.Zeros([4, 6])), "swiglu", "float16");
        AssertThrows(() => Cpu.SwiGluBackward(Tensor.Empty([4, 6]), Tensor.Empty([4, 6]), Tensor.Zeros([6, 4]), Tensor.Zeros([4, 6]), Tensor.Zeros([4, 6])), "swiglu_backward", "[6, 4]");
    }
}
