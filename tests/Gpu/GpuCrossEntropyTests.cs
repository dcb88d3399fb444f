using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Chunked cross-entropy (running lse, target logit, ignore index) and its backward on the ILGPU backend against the CPU backend.</summary>
public sealed class GpuCrossEntropyTests
{
    [Theory]
    [InlineData(1, 1, 1, DType.I64)]
    [InlineData(5, 13, 13, DType.I32)]
    [InlineData(9, 37, 16, DType.I64)]
    public void ChunkedCrossEntropyAndBackwardMatchTheCpu(int n, int v, int chunk, DType targetType)
    {
        const int ignore = -100;
        using var scope = new DisposeScope();
        var rng = new Random(n * v + chunk);
        var logits = Uniform(rng, (long)n * v, -8, 8);
        logits[0] = 60; // a large logit: the max must be subtracted
        var targetValues = Enumerable.Range(0, n).Select(r => r % 3 == 2 ? ignore : (long)rng.Next(v)).ToArray();
        var targets = Place(Array.ConvertAll(targetValues, t => (double)t), [n], targetType, View.Stepped); // strided: allowed for targets
        var dloss = Place(Enumerable.Range(0, n).Select(r => targetValues[r] == ignore ? 0 : 0.5 + r).ToArray(), [n]);
        var lse = Place(Enumerable.Repeat(double.NegativeInfinity, n).ToArray(), [n]);
        var targetLogit = Output([n]);
        Tensor Chunk(int c0) // columns c0 … of the logits, as their own [n, cols] tensor
        {
            int cols = Math.Min(chunk, v - c0);
            return Place(Enumerable.Range(0, n * cols).Select(i => logits[i / cols * v + c0 + i % cols]).ToArray(), [n, cols]);
        }
        for (int c0 = 0; c0 < v; c0 += chunk)
        {
            var outs = GpuOnBoth.Compare("cross_entropy", (b, t) => b.CrossEntropy(t[0], t[1], t[2], t[3], c0), 1e-6, lse, targetLogit, Chunk(c0), targets);
            (lse, targetLogit) = (Place(Read(outs[0]), [n]), Place(Read(outs[1]), [n]));
        }
        for (int c0 = 0; c0 < v; c0 += chunk)
        {
            var part = Chunk(c0);
            GpuOnBoth.Compare("cross_entropy_backward", (b, t) => b.CrossEntropyBackward(t[0], t[1], t[2], t[3], t[4], c0), 1e-5, Output(part.ShapeArray), dloss, part, lse, targets);
            GpuOnBoth.Compare("cross_entropy_backward in place", (b, t) => b.CrossEntropyBackward(t[0], t[1], t[0], t[2], t[3], c0), 1e-5, part, dloss, lse, targets);
        }
    }

    [Fact]
    public void BadInputIsRefusedNamingTheOp()
    {
        using var scope = new DisposeScope();
        var x = Place(Uniform(new Random(1), 12, -1, 1), [3, 4]);
        GpuOnBoth.Refuses((b, t) => b.CrossEntropy(t[0], t[1], t[2], t[3], 0), [Output([3]), Output([3]), Place(Read(x), [3, 4], View.Transposed), Ids([0, 1, 2], DType.I64)], "cross_entropy", "logits must be contiguous");
        GpuOnBoth.Refuses((b, t) => b.CrossEntropy(t[0], t[1], t[2], t[3], 0), [Output([2]), Output([3]), x, Ids([0, 1, 2], DType.I64)], "cross_entropy", "lse must have 3 elements");
        GpuOnBoth.Refuses((b, t) => b.CrossEntropyBackward(t[0], t[1], t[2], t[3], t[4], 0), [Output([3, 4]), Output([3]), x, Output([3]), Ids([0, 1], DType.I64)], "cross_entropy_backward", "targets must have shape [3]");
    }
}
