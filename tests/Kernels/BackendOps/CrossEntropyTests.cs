using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Cross-entropy folded one vocabulary chunk at a time (running lse, target logit) and its backward
/// per chunk, against the float64 full-vocabulary reference.
/// </summary>
public sealed class BackendOpsCrossEntropyTests
{
    [Theory]
    [InlineData(1, 1, 1, DType.I64)]
    [InlineData(7, 33, 33, DType.I32)]
    [InlineData(7, 33, 10, DType.I64)]
    [InlineData(33, 7, 3, DType.I64)]
    [InlineData(64, 1001, 256, DType.I64)]
    [InlineData(64, 3000, 3000, DType.I32)]
    public void ChunkedCrossEntropyAndBackwardMatchReference(int n, int v, int chunk, DType targetType)
    {
        const int ignore = -100;
        using var scope = new DisposeScope();
        var rng = new Random(n * v + chunk);
        var logits = Uniform(rng, (long)n * v, -8, 8);
        for (int j = 0; j < v; j++)
            logits[j] = logits[j] * 4 + 40; // a row of large logits: the max must be subtracted
        var targets = new long[n];
        for (int r = 0; r < n; r++)
            targets[r] = r % 3 == 2 ? ignore : rng.Next(v);
        var dloss = Uniform(rng, n, 0.1, 2);
        for (int r = 0; r < n; r++)
            if (targets[r] == ignore)
                dloss[r] = 0; // the op gives ignored rows no gradient
        var tt = Ids(targets, targetType);
        var lse = Tensor.Full([n], double.NegativeInfinity);
        var targetLogit = Tensor.Zeros([n]);
        var grads = new double[(long)n * v];
        foreach (var (c0, cols, part) in Chunks(logits, n, v, chunk))
            Cpu.CrossEntropy(lse, targetLogit, part, tt, c0);
        var (lossRef, lseRef) = BackendReference.CrossEntropy(logits, n, v, targets, ignore);
        AssertClose("cross_entropy lse", lseRef, Read(lse));
        var loss = Read(lse).Zip(Read(targetLogit), (a, b) => a - b).Select((x, r) => targets[r] == ignore ? 0 : x).ToArray();
        AssertClose("cross_entropy loss", lossRef, loss, 1e-5);

        foreach (var (c0, cols, part) in Chunks(logits, n, v, chunk))
        {
            var dpart = Output([n, cols]);
            Cpu.CrossEntropyBackward(dpart, Place(dloss, [n]), part, lse, tt, c0);
            var d = Read(dpart);
            for (int r = 0; r < n; r++)
                for (int j = 0; j < cols; j++)
                    grads[(long)r * v + c0 + j] = d[(long)r * cols + j];
        }
        AssertClose("cross_entropy_backward", BackendReference.CrossEntropyBackward(dloss, logits, n, v, targets, ignore), grads);
    }

    [Fact]
    public void BackwardInPlaceOverTheLogitsMatches()
    {
        using var scope = new DisposeScope();
        var logits = Uniform(new Random(5), 4 * 9, -2, 2);
        var tt = Ids([0, 8, 3, 4], DType.I64);
        var lse = Tensor.Full([4], double.NegativeInfinity);
        var x = Place(logits, [4, 9]);
        Cpu.CrossEntropy(lse, Tensor.Zeros([4]), x, tt, 0);
        var separate = Output([4, 9]);
        Cpu.CrossEntropyBackward(separate, Tensor.Ones([4]), x, lse, tt, 0);
        Cpu.CrossEntropyBackward(x, Tensor.Ones([4]), x, lse, tt, 0);
        AssertExact("in place", Read(separate), Read(x));
    }

    [Theory]
    [InlineData(View.Transposed)]
    [InlineData(View.Padded)]
    public void NonContiguousOperandsAreRejectedNamingTheOp(View view)
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 4 * 6, -1, 1);
        var ids = Ids([0, 1, 2, 3], DType.I64);
        AssertThrows(() => Cpu.CrossEntropy(Output([4]), Output([4]), Place(x, [4, 6], view), ids, 0), "cross_entropy", "logits", "contiguous");
        AssertThrows(() => Cpu.CrossEntropy(Output([4], DType.F32, View.Stepped), Output([4]), Place(x, [4, 6]), ids, 0), "cross_entropy", "lse", "contiguous");
        AssertThrows(() => Cpu.CrossEntropyBackward(Output([4, 6], DType.F32, view), Tensor.Ones([4]), Place(x, [4, 6]), Tensor.Zeros([4]), ids, 0), "cross_entropy_backward", "dlogits", "contiguous");
        AssertThrows(() => Cpu.CrossEntropyBackward(Output([4, 6]), Tensor.Ones([4]), Place(x, [4, 6], view), Tensor.Zeros([4]), ids, 0), "cross_entropy_backward", "logits", "contiguous");
    }

    [Fact]
    public void CrossEntropyBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        var logits = Tensor.Zeros([3, 33]);
        var ids = Ids([0, 1, 2], DType.I64);
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), logits, Ids([0, 1], DType.I64), 0), "cross_entropy", "targets", "[3]", "[2]");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), logits, Place([0, 1, 2], [3]), 0), "cross_entropy", "targets", "float32");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([4]), Tensor.Empty([3]), logits, ids, 0), "cross_entropy", "lse", "[4]");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), Tensor.Zeros([3, 33], DType.BF16), ids, 0), "cross_entropy", "logits", "bfloat16");
        AssertThrows(() => Cpu.CrossEntropy(Tensor.Empty([3]), Tensor.Empty([3]), Tensor.Zeros([3, 1, 33]), ids, 0), "cross_entropy", "[3, 1, 33]");
        AssertThrows(() => Cpu.CrossEntropyBackward(Tensor.Empty([3, 32]), Tensor.Ones([3]), logits, Tensor.Zeros([3]), ids, 0), "cross_entropy_backward", "[3, 32]", "[3, 33]");
        AssertThrows(() => Cpu.CrossEntropyBackward(Tensor.Empty([3, 33]), Tensor.Ones([2]), logits, Tensor.Zeros([3]), ids, 0), "cross_entropy_backward", "dloss", "[2]");
    }

    /// <summary>The logits [n, v] cut into column chunks, each placed as its own contiguous tensor.</summary>
    private static IEnumerable<(int Start, int Cols, Tensor Part)> Chunks(double[] logits, int n, int v, int chunk)
    {
        for (int c0 = 0; c0 < v; c0 += chunk)
        {
            int cols = Math.Min(chunk, v - c0);
            var part = new double[(long)n * cols];
            for (int r = 0; r < n; r++)
                for (int j = 0; j < cols; j++)
                    part[(long)r * cols + j] = logits[(long)r * v + c0 + j];
            yield return (c0, cols, Place(part, [n, cols]));
        }
    }
}
