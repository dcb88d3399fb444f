using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Embedding gather (float weights of every dtype, strided) and scatter-add (atomics, repeated ids) on the ILGPU backend against the CPU backend.</summary>
public sealed class GpuEmbeddingTests
{
    [Theory]
    [InlineData(DType.F32, View.Contiguous, DType.I64, View.Contiguous)]
    [InlineData(DType.BF16, View.Transposed, DType.I32, View.Stepped)]
    [InlineData(DType.F16, View.Padded, DType.I64, View.Stepped)]
    public void GatherMatchesTheCpuExactly(DType weightType, View view, DType idType, View idView)
    {
        using var scope = new DisposeScope();
        const int v = 7, d = 13;
        var rng = new Random(v * d + (int)weightType);
        var w = Place(Round(Uniform(rng, v * d, -3, 3), weightType), [v, d], weightType, view);
        var ids = Place([6, 0, 3, 3, 1], [5], idType, idView);
        GpuOnBoth.Compare("embedding", (b, t) => b.EmbeddingGather(t[0], t[1], t[2]), 0, Output([5, d]), w, ids);
    }

    [Theory]
    [InlineData(DType.I64, 5)]
    [InlineData(DType.I32, 37)]
    public void ScatterAddMatchesTheCpu(DType idType, int d)
    {
        using var scope = new DisposeScope();
        const int v = 6;
        var rng = new Random(d);
        var dweight = Place(Uniform(rng, v * d, -1, 1), [v, d]); // accumulated into, not overwritten
        var dy = Place(Uniform(rng, 7 * d, -1, 1), [7, d]);
        var ids = Place([2, 5, 2, 0, 2, 5, 4], [7], idType, View.Stepped);
        GpuOnBoth.Compare("embedding_backward", (b, t) => b.EmbeddingScatterAdd(t[0], t[1], t[2]), 1e-6, dweight, dy, ids);
    }

    [Fact]
    public void BadInputIsRefusedNamingTheOp()
    {
        using var scope = new DisposeScope();
        GpuOnBoth.Refuses((b, t) => b.EmbeddingScatterAdd(t[0], t[1], t[2]), [Output([4, 3], DType.BF16), Output([2, 3]), Ids([0, 1], DType.I64)], "embedding_backward", "dweight must be float32");
    }
}
