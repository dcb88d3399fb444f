using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Softmax over the last dim and its backward against the float64 reference (full Jacobian).</summary>
public sealed class BackendOpsSoftmaxTests
{
    [Theory]
    [InlineData(new[] { 1, 1 })]
    [InlineData(new[] { 7, 33 })]
    [InlineData(new[] { 33, 7 })]
    [InlineData(new[] { 3, 5, 17 })]
    [InlineData(new[] { 129, 1001 })]
    public void SoftmaxAndBackwardMatchReference(int[] shape)
    {
        using var scope = new DisposeScope();
        int d = shape[^1], n = (int)(BackendReference.Numel(shape) / d);
        var rng = new Random(d);
        // Large logits in some rows: the max must be subtracted before exp.
        var x = Uniform(rng, n * d, -5, 5);
        for (int i = 0; i < d; i++)
            x[(n - 1) * d + i] = (float)(x[(n - 1) * d + i] * 20 + 60);
        var dy = Uniform(rng, n * d, -1, 1);

        var y = Output(shape);
        Cpu.Softmax(y, Place(x, shape));
        var yRef = BackendReference.Softmax(x, n, d);
        AssertClose("softmax", yRef, Read(y));

        // The backward gets the kernel's own y, as autograd passes it.
        var dx = Output(shape);
        Cpu.SoftmaxBackward(dx, y, Place(dy, shape));
        AssertClose("softmax_backward", BackendReference.SoftmaxBackward(Read(y), dy, n, d), Read(dx));
    }

    [Fact]
    public void MaskedEntriesGiveExactZerosAndNaNRowsStayNaN()
    {
        using var scope = new DisposeScope();
        // Rows of 37: a vector and a tail. Row 0 has −∞ (masked) entries in both; row 1 is fully masked
        // (NaN, as torch gives); row 2 holds a NaN in its tail, row 3 in its vector part.
        const int d = 37;
        var x = Uniform(new Random(2), 4 * d, -5, 5);
        foreach (int j in new[] { 0, 5, 20, 33, 36 })
            x[j] = double.NegativeInfinity;
        for (int j = 0; j < d; j++)
            x[d + j] = double.NegativeInfinity;
        x[2 * d + 35] = double.NaN;
        x[3 * d + 3] = double.NaN;
        var y = Output([4, d]);
        Cpu.Softmax(y, Place(x, [4, d]));
        var got = Read(y);
        AssertClose("softmax with masks", BackendReference.Softmax(x, 4, d), got);
        foreach (int j in new[] { 0, 5, 20, 33, 36 })
            Assert.True(got[j] == 0, $"masked entry {j} gave {got[j]:R}");
        for (int i = d; i < 4 * d; i++)
            Assert.True(double.IsNaN(got[i]), $"[{i / d}, {i % d}] gave {got[i]:R}, expected NaN");
    }

    [Fact]
    public void SoftmaxInPlace()
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 5 * 33, -3, 3);
        var t = Place(x, [5, 33]);
        Cpu.Softmax(t, t);
        AssertClose("softmax in place", BackendReference.Softmax(x, 5, 33), Read(t));
    }

    [Theory]
    [InlineData(View.Transposed)]
    [InlineData(View.Stepped)]
    [InlineData(View.Padded)]
    public void NonContiguousRowsAreRejectedNamingTheOp(View view)
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 4 * 6, -1, 1);
        var strided = Place(x, [4, 6], view);
        var plain = Place(x, [4, 6]);
        AssertThrows(() => Cpu.Softmax(Output([4, 6]), strided), "softmax", "contiguous");
        AssertThrows(() => Cpu.Softmax(Output([4, 6], DType.F32, view), plain), "softmax", "contiguous");
        AssertThrows(() => Cpu.SoftmaxBackward(Output([4, 6]), strided, plain), "softmax_backward", "contiguous");
        AssertThrows(() => Cpu.SoftmaxBackward(Output([4, 6]), plain, strided), "softmax_backward", "contiguous");
        AssertThrows(() => Cpu.SoftmaxBackward(Output([4, 6], DType.F32, view), plain, plain), "softmax_backward", "contiguous");
    }

    [Fact]
    public void SoftmaxBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.Softmax(Tensor.Empty([4, 6]), Tensor.Empty([4, 5])), "softmax", "[4, 6]", "[4, 5]");
        AssertThrows(() => Cpu.Softmax(Tensor.Empty([4, 6]), Tensor.Empty([4, 6], DType.BF16)), "softmax", "bfloat16");
        AssertThrows(() => Cpu.SoftmaxBackward(Tensor.Empty([4, 6]), Tensor.Empty([4, 6]), Tensor.Empty([6, 4])), "softmax_backward", "[6, 4]");
    }
}
