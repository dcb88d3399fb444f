using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Per-row cross-entropy via log-sum-exp and its backward, with an ignore index, against the float64 reference.</summary>
public sealed class BackendOpsCrossEntropyTests
{
    [Theory]
    [InlineData(1, 1, -100, DType.I64)]
    [InlineData(7, 33, -100, DType.I32)]
    [InlineData(33, 7, 0, DType.I64)]
    [InlineData(64, 1001, -100, DType.I64)]
    public void CrossEntropyAndBackwardMatchReference(int n, int v, int ignoreIndex, DType targetType)
    {
        using var scope = new DisposeScope();
        var rng = new Random(n * v);
        var logits = Uniform(rng, (long)n * v, -8, 8);
        for (int j = 0; j < v; j++)
            logits[j] = (float)(logits[j] * 4 + 40); // a row of large logits: lse must subtract the max
        var targets = new long[n];
        for (int r = 0; r < n; r++)
            targets[r] = r % 3 == 2 ? ignoreIndex : rng.Next(v);
        var dloss = Uniform(rng, n, 0.1, 2);

        var lt = Place(logits, [n, v]);
        var tt = Ids(targets, targetType);
        var loss = Output([n]);
        var lse = Output([n]);
        Cpu.CrossEntropy(loss, lse, lt, tt, ignoreIndex);
        var (lossRef, lseRef) = BackendReference.CrossEntropy(logits, n, v, targets, ignoreIndex);
        AssertClose("cross_entropy lse", lseRef, Read(lse));
        AssertClose("cross_entropy loss", lossRef, Read(loss), 1e-5);

        var dlogits = Output([n, v]);
        Cpu.CrossEntropyBackward(dlogits, Place(dloss, [n]), lt, lse, tt, ignoreIndex);
        var gRef = BackendReference.CrossEntropyBackward(dloss, logits, n, v, targets, ignoreIndex);
        var g = Read(dlogits);
        AssertClose("cross_entropy_backward", gRef, g);
        for (int r = 0; r < n; r++)
            if (targets[r] == ignoreIndex)
            {
                Assert.Equal(0.0, Read(loss)[r]);
                Assert.All(g.Skip(r * v).Take(v), x => Assert.Equal(0.0, x));
            }
    }

    [Fact]
    public void AllRowsIgnoredGivesZeroLossAndGradient()
    {
        using var scope = new DisposeScope();
        var logits = Place(Uniform(new Random(1), 3 * 9, -1, 1), [3, 9]);
        var targets = Ids([-100, -100, -100], DType.I64);
        var loss = Output([3]);
        var lse = Output([3]);
        Cpu.CrossEntropy(loss, lse, logits, targets, -100);
        AssertExact("loss", [0, 0, 0], Read(loss));
        var g = Output([3, 9]);
        Cpu.CrossEntropyBackward(g, Place([1, 1, 1], [3]), logits, lse, targets, -100);
        AssertExact("dlogits", new double[27], Read(g));
    }

    [Fact]
    public void TargetsOutOfRangeAreRejectedNamingTheOpAndTheTarget()
    {
        using var scope = new DisposeScope();
        var logits = Tensor.Zeros([3, 33]);
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), logits, Ids([0, 33, 1], DType.I64), -100), "cross_entropy", "target 33", "vocabulary of 33");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), logits, Ids([0, -1, 1], DType.I32), -100), "cross_entropy", "target -1");
        AssertThrows(() => Cpu.CrossEntropyBackward(Tensor.Empty([3, 33]), Tensor.Ones([3]), logits, Tensor.Zeros([3]), Ids([0, 1, 40], DType.I64), -100), "cross_entropy_backward", "target 40");
    }

    [Theory]
    [InlineData(View.Transposed)]
    [InlineData(View.Padded)]
    public void NonContiguousOperandsAreRejectedNamingTheOp(View view)
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 4 * 6, -1, 1);
        var ids = Ids([0, 1, 2, 3], DType.I64);
        AssertThrows(() => Cpu.CrossEntropy(Output([4]), Output([4]), Place(x, [4, 6], view), ids, -100), "cross_entropy", "logits", "contiguous");
        AssertThrows(() => Cpu.CrossEntropy(Output([4], DType.F32, View.Stepped), Output([4]), Place(x, [4, 6]), ids, -100), "cross_entropy", "loss", "contiguous");
        AssertThrows(() => Cpu.CrossEntropyBackward(Output([4, 6], DType.F32, view), Tensor.Ones([4]), Place(x, [4, 6]), Tensor.Zeros([4]), ids, -100), "cross_entropy_backward", "dlogits", "contiguous");
        AssertThrows(() => Cpu.CrossEntropyBackward(Output([4, 6]), Tensor.Ones([4]), Place(x, [4, 6], view), Tensor.Zeros([4]), ids, -100), "cross_entropy_backward", "logits", "contiguous");
    }

    [Fact]
    public void CrossEntropyBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        var logits = Tensor.Zeros([3, 33]);
        var ids = Ids([0, 1, 2], DType.I64);
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), logits, Ids([0, 1], DType.I64), -100), "cross_entropy", "targets", "[3]", "[2]");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), logits, Place([0, 1, 2], [3]), -100), "cross_entropy", "targets", "float32");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([4]), Tensor.Empty([3]), logits, ids, -100), "cross_entropy", "loss", "[4]");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), Tensor.Zeros([3, 33], DType.BF16), ids, -100), "cross_entropy", "logits", "bfloat16");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), Tensor.Zeros([3, 1, 33]), ids, -100), "cross_entropy", "[3, 1, 33]");
        AssertThrows(() => Cpu.CrossEntropyBackward(Tensor.Empty([3, 32]), Tensor.Ones([3]), logits, Tensor.Zeros([3]), ids, -100), "cross_entropy_backward", "[3, 32]", "[3, 33]");
        AssertThrows(() => Cpu.CrossEntropyBackward(Tensor.Empty([3, 33]), Tensor.Ones([2]), logits, Tensor.Zeros([3]), ids, -100), "cross_entropy_backward", "dloss", "[2]");
    }
}
