using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Bad input fails loudly: an exception of the right type whose message names the op and the shapes
/// (and dtypes) involved — never a crash, garbage, or a gradient that silently stops.
/// </summary>
public class BadInputTests
{
    private static TException Fails<TException>(Func<object?> act, params string[] mentions) where TException : Exception
    {
        var e = Assert.Throws<TException>(act);
        foreach (var m in mentions)
            Assert.True(e.Message.Contains(m, StringComparison.Ordinal), $"message should mention \"{m}\": {e.Message}");
        return e;
    }

    private static Tensor F(params int[] shape) => Tensor.Randn(shape, new Generator(1));

    private static Tensor I64(params int[] shape) => Tensor.Zeros(shape, DType.I64);

    // ---- shapes

    [Fact]
    public void MatMulInnerDims() => Fails<ArgumentException>(() => F(2, 3).MatMul(F(4, 5)), "matmul", "[2, 3]", "[4, 5]", "float32");

    [Fact]
    public void MatMulBatchDims() => Fails<ArgumentException>(() => F(2, 3, 4).MatMul(F(3, 4, 5)), "matmul", "[2, 3, 4]", "[3, 4, 5]");

    [Fact]
    public void MatMulVector() => Fails<ArgumentException>(() => F(3).MatMul(F(3, 2)), "matmul", "[3]", "[3, 2]");

    [Fact]
    public void BroadcastFailure()
    {
        Fails<ArgumentException>(() => F(2, 3) + F(4), "add", "[2, 3]", "[4]", "float32");
        Fails<ArgumentException>(() => F(2, 3) * F(2, 2), "mul", "[2, 3]", "[2, 2]");
        Fails<ArgumentException>(() => F(3, 1, 2) - F(4, 3), "sub", "[3, 1, 2]", "[4, 3]");
        Fails<ArgumentException>(() => F(5) / F(2, 4), "div", "[5]", "[2, 4]");
    }

    [Fact]
    public void LinearInFeatures() => Fails<ArgumentException>(() => F(3, 5).Linear(F(4, 4)), "linear", "[3, 5]", "[4, 4]", "in_features = 4");

    [Fact]
    public void LinearBiasShape() => Fails<ArgumentException>(() => F(3, 4).Linear(F(2, 4), F(3)), "linear", "bias", "[2]", "[3]");

    [Fact]
    public void RmsNormWeightShape() => Fails<ArgumentException>(() => F(2, 8).RmsNorm(F(4), 1e-5f), "rms_norm", "weight", "[8]", "[4]");

    [Fact]
    public void SwiGluShapes() => Fails<ArgumentException>(() => F(2, 3).SwiGlu(F(3, 2)), "swiglu", "[2, 3]", "[3, 2]");

    [Fact]
    public void SoftmaxOfScalar() => Fails<ArgumentException>(() => Tensor.Scalar(1f).Softmax(), "softmax", "[]");

    [Fact]
    public void RopeShapes()
    {
        using var cos = F(16, 4);
        using var sin = F(16, 4);
        Fails<ArgumentException>(() => F(3, 2, 7).Rope(cos, sin, I64(3)), "rope", "head_dim", "[3, 2, 7]");
        Fails<ArgumentException>(() => F(3, 2, 8).Rope(cos, sin, I64(4)), "rope", "3 positions", "[3, 2, 8]", "[4] int64");
        Fails<ArgumentException>(() => F(3, 2, 6).Rope(cos, sin, I64(3)), "rope", "[16, 4]", "[3, 2, 6]");
        Fails<ArgumentException>(() => F(8).Rope(cos, sin, I64(1)), "rope", "[8]");
    }

    [Fact]
    public void RopePositionOutsideTable()
    {
        using var cos = F(16, 4);
        using var sin = F(16, 4);
        using var pos = Tensor.FromArray(new long[] { 0, 16 });
        Fails<ArgumentException>(() => F(2, 1, 8).Rope(cos, sin, pos), "rope", "position 16", "[16, 4]");
    }

    [Fact]
    public void RopeTableThatWantsGrad()
    {
        var cos = Input.Randn(2, 16, 4);
        using var sin = F(16, 4);
        Fails<ArgumentException>(() => F(2, 1, 8).Rope(cos, sin, I64(2)), "rope", "constants", "[16, 4]");
    }

    [Fact]
    public void CatShapes()
    {
        Fails<ArgumentException>(() => Cat.Concat(1, F(2, 3), F(3, 3)), "cat", "dim 0", "[2, 3]", "[3, 3]");
        Fails<ArgumentException>(() => Cat.Concat(0, F(2, 3), F(2, 3, 1)), "cat", "[2, 3]", "[2, 3, 1]");
        Fails<ArgumentException>(() => Cat.Concat(0, F(2, 3), I64(2, 3)), "cat", "float32", "int64");
        Fails<ArgumentException>(() => Cat.Concat(0), "cat");
    }

    [Fact]
    public void AttentionShapes()
    {
        Fails<ArgumentException>(() => F(1, 4, 8).Attention(F(1, 4, 8), F(1, 4, 8)), "attention", "rank 4", "[1, 4, 8]");
        Fails<ArgumentException>(() => F(1, 4, 2, 8).Attention(F(1, 4, 2, 4), F(1, 4, 2, 4)), "attention", "[1, 4, 2, 8]", "[1, 4, 2, 4]");
        Fails<ArgumentException>(() => F(1, 4, 3, 8).Attention(F(1, 4, 2, 8), F(1, 4, 2, 8)), "attention", "multiple of kv heads", "[1, 4, 3, 8]", "[1, 4, 2, 8]");
        Fails<ArgumentException>(() => F(1, 4, 2, 8).Attention(F(1, 4, 2, 8), F(1, 5, 2, 8)), "attention", "[1, 4, 2, 8]", "[1, 5, 2, 8]");
        Fails<ArgumentException>(() => F(2, 4, 2, 8).Attention(F(1, 4, 2, 8), F(1, 4, 2, 8)), "attention", "[2, 4, 2, 8]", "[1, 4, 2, 8]");
    }

    [Fact]
    public void AttentionSpecThatDoesNotFit()
    {
        Fails<ArgumentException>(() => F(1, 6, 2, 4).Attention(F(1, 6, 2, 4), F(1, 6, 2, 4), new AttentionSpec { GroupSize = 4 }), "GroupSize 4", "row length 6");
        Fails<ArgumentException>(() => F(1, 6, 2, 4).Attention(F(1, 6, 2, 4), F(1, 6, 2, 4), new AttentionSpec { GroupSize = 3 }), "GroupSize", "even");
        Fails<ArgumentException>(() => F(1, 3, 2, 4).Attention(F(1, 5, 2, 4), F(1, 5, 2, 4), new AttentionSpec { QueryStart = 2, RowLength = 4 }), "RowLength is 4");
        Fails<ArgumentException>(() => F(1, 4, 2, 4).Attention(F(1, 4, 2, 4), F(1, 4, 2, 4), new AttentionSpec { HeadStart = 3, TotalHeads = 4 }), "HeadStart 3", "2 heads");
        // Packed starts are checked where they become a tensor, and again by the cpu kernel that reads them.
        Fails<ArgumentException>(() => PackedStarts.Of([0, 4], 4), "SequenceStarts[1] = 4", "[0, 4)");
        Fails<ArgumentException>(() => PackedStarts.Of([2, 1], 4), "SequenceStarts", "ascending");
        Fails<ArgumentException>(() => F(1, 4, 2, 4).Attention(F(1, 4, 2, 4), F(1, 4, 2, 4), new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 4], 8) }), "SequenceStarts[1] = 4", "[0, 4)");
        Fails<ArgumentException>(() => F(1, 4, 2, 4).Attention(F(1, 4, 2, 4), F(1, 4, 2, 4), new AttentionSpec { SequenceStarts = Tensor.FromArray(new long[] { 0, 2 }) }), "SequenceStarts", "int32", "int64");
    }

    // ---- dtypes

    [Fact]
    public void IntegerIntoFloatOps()
    {
        Fails<ArgumentException>(() => I64(2, 3).Softmax(), "softmax", "int64", "[2, 3]");
        Fails<ArgumentException>(() => I64(2, 8).RmsNorm(F(8), 1e-5f), "rms_norm", "int64", "[2, 8]");
        Fails<ArgumentException>(() => I64(2, 3).SwiGlu(I64(2, 3)), "swiglu", "int64", "[2, 3]");
        Fails<ArgumentException>(() => F(2, 8).RmsNorm(I64(8), 1e-5f), "rms_norm", "weight", "int64", "[8]");
        Fails<ArgumentException>(() => I64(2, 3).Exp(), "exp", "int64", "[2, 3]");
        Fails<ArgumentException>(() => I64(2, 3).Sum(), "sum", "int64", "[2, 3]");
        Fails<ArgumentException>(() => I64(2, 3) * I64(2, 3), "mul", "int64", "[2, 3]");
        Fails<ArgumentException>(() => I64(2, 3).MatMul(F(3, 2)), "matmul", "int64", "[2, 3]");
        Fails<ArgumentException>(() => F(2, 3).MatMul(I64(3, 2)), "matmul", "int64", "[3, 2]");
        Fails<ArgumentException>(() => I64(2, 3).Linear(F(2, 3)), "linear", "int64", "[2, 3]");
        Fails<ArgumentException>(() => F(1, 2, 1, 4).Attention(I64(1, 2, 1, 4), F(1, 2, 1, 4)), "attention", "int64", "[1, 2, 1, 4]");
    }

    [Fact]
    public void MixedFloatDTypes()
    {
        using var a = F(2, 3);
        using var b = F(2, 3).To(DType.BF16);
        Fails<ArgumentException>(() => a + b, "add", "float32", "bfloat16", "[2, 3]");
        Fails<ArgumentException>(() => b * a, "mul", "float32", "bfloat16", "[2, 3]");
    }

    [Fact]
    public void FloatIds()
    {
        Fails<ArgumentException>(() => F(10, 4).Embedding(F(3)), "embedding", "ids", "float32", "[3]");
        Fails<ArgumentException>(() => F(3, 5).CrossEntropy(F(3)), "cross_entropy", "targets", "float32", "[3]");
        Fails<ArgumentException>(() => F(2, 1, 8).Rope(F(16, 4), F(16, 4), F(2)), "rope", "positions", "float32", "[2]");
    }

    [Fact]
    public void RequiresGradOnIntegerTensor()
        => Fails<InvalidOperationException>(() => I64(3).RequiresGrad = true, "int64");

    // ---- indices and ranges

    [Fact]
    public void NarrowOutOfRange()
    {
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Narrow(1, 2, 2), "narrow", "[2, 4)", "size 3", "[2, 3]");
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Narrow(0, -1, 1), "narrow", "[2, 3]");
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Narrow(2, 0, 1), "narrow", "dim 2", "[2, 3]");
    }

    [Fact]
    public void DimsOutOfRange()
    {
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Transpose(0, 2), "transpose", "[2, 3]");
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Sum([2]), "sum", "[2, 3]");
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Unsqueeze(4), "unsqueeze", "[2, 3]");
        Fails<ArgumentOutOfRangeException>(() => F(2, 3).Squeeze(-3), "squeeze", "[2, 3]");
        Fails<ArgumentOutOfRangeException>(() => Cat.Concat(2, F(2, 3), F(2, 3)), "cat", "[2, 3]");
        Fails<ArgumentException>(() => F(2, 3).Permute(0, 0), "permute", "repeated");
    }

    [Fact]
    public void BadViews()
    {
        Fails<ArgumentException>(() => F(2, 3).Reshape(4, 2), "reshape", "[2, 3]", "[4, 2]");
        Fails<ArgumentException>(() => F(2, 3).Reshape(-1, -1), "reshape", "-1");
        Fails<ArgumentException>(() => F(2, 3).Transpose(0, 1).View(6), "view", "[3, 2]", "Reshape");
        Fails<ArgumentException>(() => F(2, 3).Expand(2, 4), "expand", "[2, 3]", "[2, 4]");
        Fails<ArgumentException>(() => F(2, 3).Expand(3), "expand", "[2, 3]");
    }

    [Fact]
    public void EmbeddingIdOutOfRange()
    {
        Fails<ArgumentException>(() => F(10, 4).Embedding(Tensor.FromArray(new long[] { 1, 10 })), "embedding", "token id 10", "vocabulary of 10", "[10, 4]");
        Fails<ArgumentException>(() => F(10, 4).Embedding(Tensor.FromArray([-1, 2])), "embedding", "token id -1", "[2] int32");
    }

    [Fact]
    public void CrossEntropyTargets()
    {
        Fails<ArgumentException>(() => F(3, 5).CrossEntropy(Tensor.FromArray(new long[] { 0, 5, 1 })), "cross_entropy", "target 5", "vocabulary of 5", "[3, 5]");
        Fails<ArgumentException>(() => F(3, 5).CrossEntropy(Tensor.FromArray(new long[] { 0, -2, 1 })), "cross_entropy", "target -2", "[3] int64");
        Fails<ArgumentException>(() => F(3, 5).CrossEntropy(I64(4)), "cross_entropy", "targets", "[3]", "[4]");
        Fails<ArgumentException>(() => F(2, 3, 5).CrossEntropy(I64(6)), "cross_entropy", "rank 2", "[2, 3, 5]");
    }

    [Fact]
    public void DropoutProbability()
    {
        Fails<ArgumentOutOfRangeException>(() => F(3).Dropout(1f), "dropout", "p");
        Fails<ArgumentOutOfRangeException>(() => F(3).Dropout(-0.1f), "dropout", "p");
    }

    // ---- use after dispose

    [Fact]
    public void OpOnDisposedTensor()
    {
        var a = F(2, 3);
        a.Dispose();
        Fails<ObjectDisposedException>(() => a.MatMul(F(3, 4)), "matmul", "[2, 3]");
        Fails<ObjectDisposedException>(() => a + F(2, 3), "add", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.Exp(), "exp", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.Softmax(), "softmax", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.Sum(), "sum", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.Linear(F(4, 3)), "linear", "[2, 3]");
        Fails<ObjectDisposedException>(() => F(4, 2).Embedding(I64(2)).Add(a), "add", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.To(DType.BF16), "to", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.Dropout(0.5f, generator: new Generator(1)), "dropout", "[2, 3]");
        Fails<ObjectDisposedException>(() => Cat.Concat(0, F(2, 3), a), "cat", "[2, 3]");
        Fails<ObjectDisposedException>(() => a.ToFloatArray(), "[2, 3]");
    }

    [Fact]
    public void ViewOfDisposedTensor()
    {
        var a = F(2, 3);
        a.Name = "gone";
        a.Dispose();
        Fails<ObjectDisposedException>(() => a.Reshape(3, 2), "reshape", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.View(6), "view", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Transpose(0, 1), "transpose", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Permute(1, 0), "permute", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Narrow(0, 0, 1), "narrow", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Expand(2, 2, 3), "expand", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Unsqueeze(0), "unsqueeze", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Squeeze(0), "squeeze", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Contiguous(), "contiguous", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Clone(), "clone", "gone [2, 3]");
        Fails<ObjectDisposedException>(() => a.Detach(), "detach", "gone [2, 3]");
    }

    [Fact]
    public void BackwardAfterAnInputWasDisposed()
    {
        var x = Input.Randn(3, 2, 3);
        var h = x.Exp();
        var y = h.Sum();
        h.Dispose();
        Fails<ObjectDisposedException>(() => { y.Backward(); return null; }, "sum", "[2, 3]");
    }

    [Fact]
    public void BackwardOfDisposedRoot()
    {
        var y = Input.Randn(4, 2).Sum();
        y.Dispose();
        Fails<ObjectDisposedException>(() => { y.Backward(); return null; }, "[]");
    }

    // ---- gradients that cannot flow

    [Fact]
    public void GradientThroughMax()
    {
        var x = Input.Randn(5, 3, 4);
        Fails<NotSupportedException>(() => { x.Max([1]).Sum().Backward(); return null; }, "max", "[3, 4] float32");
    }

    [Fact]
    public void BackwardOfNonScalarNeedsAGradient()
        => Fails<InvalidOperationException>(() => { Input.Randn(6, 2, 3).Exp().Backward(); return null; }, "backward", "[2, 3]");

    [Fact]
    public void BackwardGradientOfWrongShape()
        => Fails<ArgumentException>(() => { Input.Randn(7, 2, 3).Exp().Backward(F(3, 2)); return null; }, "backward", "[2, 3]", "[3, 2]");

    [Fact]
    public void BackwardOfTensorWithoutGrad()
        => Fails<InvalidOperationException>(() => { F(2).Sum().Backward(); return null; }, "backward", "does not require grad", "[]");
}
