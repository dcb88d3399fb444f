using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Philox draws: element for element the stream of <see cref="Philox.Sample"/>, and plausible statistics.</summary>
public sealed class BackendOpsRandomTests
{
    [Fact]
    public void PhiloxBlockMatchesRandom123KnownAnswer()
    {
        // Random123's kat_vectors: philox4x32-10, counter 0, key 0.
        Assert.Equal((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u), Philox.Block(0, 0));
    }

    public static TheoryData<RandomKind, int, ulong> StreamCases()
    {
        var data = new TheoryData<RandomKind, int, ulong>();
        foreach (var kind in Enum.GetValues<RandomKind>())
            foreach (int n in new[] { 1, 7, 33, 1001, 70001 })
                data.Add(kind, n, n % 2 == 0 ? 0UL : 12345UL);
        return data;
    }

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void BackendDrawEqualsPhiloxSampleElementByElement(RandomKind kind, int n, ulong offset)
    {
        using var scope = new DisposeScope();
        const ulong seed = 0xDEADBEEF12345678;
        var (a, b) = kind switch { RandomKind.Uniform => (-2f, 3f), RandomKind.Normal => (0.5f, 2f), _ => (0.3f, 0f) };
        var t = Output([n]);
        Cpu.Random(t, kind, seed, offset, a, b);
        var got = Read(t);
        for (int i = 0; i < n; i++)
        {
            float want = Philox.Sample(kind, seed, offset, i, a, b);
            Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits((float)got[i]), $"random {kind}[{i}]: backend {got[i]:R}, Philox.Sample {want:R}");
        }
    }

    [Fact]
    public void DrawsAreReproducibleAndOffsetsSelectDisjointStreams()
    {
        using var scope = new DisposeScope();
        const int n = 1001;
        double[] Draw(ulong seed, ulong offset, int count = n)
        {
            var t = Output([count]);
            Cpu.Random(t, RandomKind.Normal, seed, offset, 0, 1);
            return Read(t);
        }

        AssertExact("same seed and offset", Draw(7, 100), Draw(7, 100));
        Assert.NotEqual(Draw(7, 100), Draw(7, 101));
        Assert.NotEqual(Draw(7, 100), Draw(8, 100));
        // Counter-based: a draw at offset k is the tail of a draw at offset 0 from element 4k on.
        var longer = Draw(7, 0, n + 40);
        AssertExact("offset 10 = elements 40.. of offset 0", longer.Skip(40).ToArray(), Draw(7, 10));
    }

    [Fact]
    public void GeneratorAdvancesPastEachDraw()
    {
        using var scope = new DisposeScope();
        var gen = new Generator(99);
        var first = Tensor.Randn([1001], gen);
        var second = Tensor.Randn([10], gen);
        // 1001 numbers use 251 counter blocks: the second draw starts at block 251 = element 1004.
        var whole = Output([1014]);
        Cpu.Random(whole, RandomKind.Normal, 99, 0, 0, 1);
        var w = Read(whole);
        AssertExact("first draw", w.Take(1001).ToArray(), Read(first));
        AssertExact("second draw", w.Skip(1004).Take(10).ToArray(), Read(second));
    }

    [Fact]
    public void StatisticsOf100kDrawsArePlausible()
    {
        using var scope = new DisposeScope();
        const int n = 100_000;
        double[] Draw(RandomKind kind, float a, float b)
        {
            var t = Output([n]);
            Cpu.Random(t, kind, 2024, 77, a, b);
            return Read(t);
        }

        // Normal(0.5, 2): the sample mean is within 5 standard errors, the std within 2%.
        var z = Draw(RandomKind.Normal, 0.5f, 2f);
        double mean = z.Average(), std = Math.Sqrt(z.Sum(x => (x - mean) * (x - mean)) / (n - 1));
        Assert.InRange(mean, 0.5 - 5 * 2 / Math.Sqrt(n), 0.5 + 5 * 2 / Math.Sqrt(n));
        Assert.InRange(std, 2 * 0.98, 2 * 1.02);
        Assert.All(z, x => Assert.True(double.IsFinite(x)));
        double within1 = z.Count(x => Math.Abs(x - 0.5) < 2) / (double)n;
        Assert.InRange(within1, 0.6827 - 0.01, 0.6827 + 0.01);

        // Uniform[-1, 3): inside the range, mean 1, variance 16/12.
        var u = Draw(RandomKind.Uniform, -1f, 3f);
        Assert.All(u, x => Assert.True(x >= -1 && x < 3, $"uniform value {x} outside [-1, 3)"));
        double se = Math.Sqrt(16.0 / 12 / n);
        Assert.InRange(u.Average(), 1 - 5 * se, 1 + 5 * se);

        // Bernoulli(0.3): zeros and ones, with about 30% ones.
        var bits = Draw(RandomKind.Bernoulli, 0.3f, 0f);
        Assert.All(bits, x => Assert.True(x == 0 || x == 1));
        double seB = Math.Sqrt(0.3 * 0.7 / n);
        Assert.InRange(bits.Average(), 0.3 - 5 * seB, 0.3 + 5 * seB);
    }

    [Fact]
    public void RandomBadOutputNamesTheOp()
    {
        using var scope = new DisposeScope();
        AssertThrows(() => Cpu.Random(Tensor.Empty([8], DType.I32), RandomKind.Uniform, 1, 0, 0, 1), "random", "int32");
        AssertThrows(() => Cpu.Random(Tensor.Empty([8], DType.BF16), RandomKind.Normal, 1, 0, 0, 1), "random", "bfloat16");
        AssertThrows(() => Cpu.Random(Output([4, 6], DType.F32, View.Transposed), RandomKind.Uniform, 1, 0, 0, 1), "random", "contiguous");
    }
}
