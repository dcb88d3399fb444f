using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Embedding gather (float32/bfloat16/float16 tables) and scatter-add with repeated ids against the reference.</summary>
public sealed class BackendOpsEmbeddingTests
{
    public static TheoryData<int, int, int, DType, DType> GatherCases()
    {
        var data = new TheoryData<int, int, int, DType, DType>();
        foreach (var (v, d, n) in new[] { (1, 1, 1), (50, 33, 77), (7, 1000, 5), (1000, 64, 1001) })
            foreach (var w in new[] { DType.F32, DType.BF16, DType.F16 })
                data.Add(v, d, n, w, n % 2 == 0 ? DType.I32 : DType.I64);
        return data;
    }

    private static long[] RandomIds(Random rng, int n, int v)
    {
        var ids = new long[n];
        for (int i = 0; i < n; i++)
            ids[i] = i % 5 == 4 ? ids[i / 2] : rng.Next(v); // repeats
        return ids;
    }

    [Theory]
    [MemberData(nameof(GatherCases))]
    public void GatherMatchesReference(int v, int d, int n, DType weightType, DType idType)
    {
        using var scope = new DisposeScope();
        var rng = new Random(v + d + n);
        var w = Round(Uniform(rng, (long)v * d, -2, 2), weightType);
        var ids = RandomIds(rng, n, v);
        var y = Output([n, d]);
        Cpu.EmbeddingGather(y, Place(w, [v, d], weightType), Ids(ids, idType));
        // Gathering copies: exact, whatever the table's dtype.
        AssertExact($"embedding {weightType}", BackendReference.EmbeddingGather(w, d, ids), Read(y));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void GatherFromARowNarrowedTable(DType weightType)
    {
        using var scope = new DisposeScope();
        // A table view starting past a gap with padded rows, as a slice of a larger checkpoint tensor.
        var w = Round(Uniform(new Random(2), 20 * 9, -1, 1), weightType);
        var table = Place(w, [20, 9], weightType, View.Padded);
        long[] ids = [0, 19, 5, 5, 11];
        var y = Output([5, 9]);
        Cpu.EmbeddingGather(y, table, Ids(ids, DType.I64));
        AssertExact("embedding from narrowed table", BackendReference.EmbeddingGather(w, 9, ids), Read(y));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(10, 33, 77)]
    [InlineData(3, 200, 50)]
    [InlineData(1000, 64, 1001)]
    public void ScatterAddAccumulatesRepeatedIds(int v, int d, int n)
    {
        using var scope = new DisposeScope();
        var rng = new Random(v * d);
        var w0 = Uniform(rng, (long)v * d, -1, 1);
        var dy = Uniform(rng, (long)n * d, -1, 1);
        var ids = RandomIds(rng, n, v);
        var dw = Place(w0, [v, d]);
        Cpu.EmbeddingScatterAdd(dw, Place(dy, [n, d]), Ids(ids, DType.I64));
        AssertClose("embedding_backward", BackendReference.EmbeddingScatterAdd(w0, dy, d, ids), Read(dw));
    }

    [Fact]
    public void ScatterAddIsReproducible()
    {
        using var scope = new DisposeScope();
        var rng = new Random(4);
        var dy = Place(Uniform(rng, 3000L * 96, -1, 1), [3000, 96]);
        var ids = Ids(Enumerable.Range(0, 3000).Select(i => (long)(i % 7)).ToArray(), DType.I32);
        var a = Tensor.Zeros([7, 96]);
        var b = Tensor.Zeros([7, 96]);
        Cpu.EmbeddingScatterAdd(a, dy, ids);
        Cpu.EmbeddingScatterAdd(b, dy, ids);
        AssertExact("scatter-add twice", Read(a), Read(b));
    }

    [Fact]
    public void IdsOutOfRangeAreRejectedNamingTheOpTheIdAndTheVocabulary()
    {
        using var scope = new DisposeScope();
        var table = Tensor.Zeros([50, 8]);
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 8]), table, Ids([0, 50, 1], DType.I64)), "embedding", "token id 50", "vocabulary of 50");
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 8]), table, Ids([0, -1, 1], DType.I32)), "embedding", "token id -1");
        AssertThrows(() => Cpu.EmbeddingScatterAdd(Tensor.Zeros([50, 8]), Tensor.Zeros([3, 8]), Ids([0, 1, 77], DType.I32)), "embedding_backward", "token id 77", "vocabulary of 50");
    }

    [Fact]
    public void EmbeddingBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        var table = Tensor.Zeros([50, 8]);
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 7]), table, Ids([0, 1, 2], DType.I64)), "embedding", "output", "[3, 8]", "[3, 7]");
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 8]), table, Place([0, 1, 2], [3])), "embedding", "ids", "float32");
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 8]), Tensor.Zeros([50, 8], DType.I32), Ids([0, 1, 2], DType.I64)), "embedding", "weight", "int32");
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 8], DType.BF16), table, Ids([0, 1, 2], DType.I64)), "embedding", "output", "bfloat16");
        AssertThrows(() => Cpu.EmbeddingGather(Tensor.Empty([3, 8]), Tensor.Zeros([50, 8, 1]), Ids([0, 1, 2], DType.I64)), "embedding", "[50, 8, 1]");
        AssertThrows(() => Cpu.EmbeddingScatterAdd(Tensor.Zeros([50, 8]), Tensor.Zeros([4, 8]), Ids([0, 1, 2], DType.I64)), "embedding_backward", "dy", "[3, 8]", "[4, 8]");
        AssertThrows(() => Cpu.EmbeddingScatterAdd(Tensor.Zeros([50, 8], DType.BF16), Tensor.Zeros([3, 8]), Ids([0, 1, 2], DType.I64)), "embedding_backward", "dweight", "bfloat16");
        AssertThrows(() => Cpu.EmbeddingGather(Output([3, 8], DType.F32, View.Padded), table, Ids([0, 1, 2], DType.I64)), "embedding", "contiguous");
        AssertThrows(() => Cpu.EmbeddingScatterAdd(Tensor.Zeros([50, 8]), Output([3, 8], DType.F32, View.Transposed), Ids([0, 1, 2], DType.I64)), "embedding_backward", "dy", "contiguous");
        AssertThrows(() => Cpu.EmbeddingScatterAdd(Output([50, 8], DType.F32, View.Stepped), Tensor.Zeros([3, 8]), Ids([0, 1, 2], DType.I64)), "embedding_backward", "dweight", "contiguous");
    }
}
