using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The cached cos/sin tables: against PyTorch at positions up to 32767, and their caching.</summary>
public class RopeTablesTests
{
    [Theory]
    [MemberData(nameof(RopeFixture.TableCases), MemberType = typeof(RopeFixture))]
    public void MatchTransformersUpTo32K(string name)
    {
        var config = RopeFixture.Config(name);
        int seqLen = RopeFixture.SeqLen(name);
        using var tables = new RopeTables(config);
        var (cosT, sinT) = tables.For(seqLen);
        using (cosT)
        using (sinT)
        {
            float[] cos = cosT.ToFloatArray(), sin = sinT.ToFloatArray();
            var positions = RopeFixture.Longs(name + ".positions");
            float[] expectedCos = RopeFixture.Floats(name + ".cos"), expectedSin = RopeFixture.Floats(name + ".sin");
            float[] torchInv = RopeFixture.Floats(name + ".inv_freq");
            var (inv, attention) = RopeScaling.Compute(config.Rope, config.HeadDim, config.MaxPositionEmbeddings, seqLen);
            int half = config.HeadDim / 2;
            Assert.Equal([seqLen, half], cosT.ShapeArray);
            Assert.Contains(32767L, positions);
            for (int i = 0; i < half; i++)
                Assert.True(Math.Abs(inv[i] - torchInv[i]) <= Ulp(torchInv[i]), $"{name}: inv_freq[{i}] = {inv[i]:R}, PyTorch {torchInv[i]:R}: more than one ulp apart");
            for (int k = 0; k < positions.Length; k++)
                for (int i = 0; i < half; i++)
                {
                    long p = positions[k];
                    // The same float32 angle as PyTorch's wherever inv_freq agrees to the bit (all but a
                    // few frequencies); where it may be one ulp off (asserted above), the angle may be
                    // off by p ulps of inv_freq, plus one ulp of the angle for the two products' roundings.
                    // Both sides then take float32 cos/sin of that angle (each within a few ulps of 1:
                    // 2e-6 is 16 of them) and multiply by the attention factor.
                    float angle = p * inv[i];
                    double angleError = inv[i] == torchInv[i] ? 0 : p * Ulp(torchInv[i]) + Ulp(angle);
                    double tolerance = attention * (2e-6 + angleError);
                    Assert.True(Math.Abs(cos[p * half + i] - expectedCos[k * half + i]) <= tolerance,
                        $"{name}: cos at position {p}, frequency {i}: {cos[p * half + i]:R} vs PyTorch {expectedCos[k * half + i]:R}");
                    Assert.True(Math.Abs(sin[p * half + i] - expectedSin[k * half + i]) <= tolerance,
                        $"{name}: sin at position {p}, frequency {i}: {sin[p * half + i]:R} vs PyTorch {expectedSin[k * half + i]:R}");
                }
        }
    }

    /// <summary>The spacing of float32 values just above |x|.</summary>
    private static double Ulp(float x) => MathF.BitIncrement(MathF.Abs(x)) - MathF.Abs(x);

    private static readonly RopeConfig Plain = new() { Theta = 10000 };

    [Fact]
    public void ShorterRequestsShareTheCachedTables()
    {
        using var tables = new RopeTables(Plain, 16, 64);
        var (cos100, sin100) = tables.For(100);
        var (cos10, sin10) = tables.For(10);
        Assert.Equal([10, 8], cos10.ShapeArray);
        Assert.Equal(cos100.DataPointer, cos10.DataPointer);
        Assert.Equal(sin100.DataPointer, sin10.DataPointer);
        Assert.Equal(cos100.ToFloatArray()[..80], cos10.ToFloatArray());
        foreach (var t in new[] { cos100, sin100, cos10, sin10 })
            t.Dispose();
    }

    [Fact]
    public void GrowingKeepsTheValues()
    {
        using var tables = new RopeTables(Plain, 16, 64);
        var (small, _) = tables.For(5);
        var (large, _) = tables.For(1000);
        Assert.Equal([1000, 8], large.ShapeArray);
        Assert.Equal(small.ToFloatArray(), large.ToFloatArray()[..40]);
        // Position 999, frequency 1: cos(float32(999 · inv_freq[1])).
        float inv1 = RopeScaling.Compute(Plain, 16, 64, 1).InvFreq[1];
        Assert.Equal(MathF.Cos(999 * inv1), large.ToFloatArray()[999 * 8 + 1], 1e-6f);
    }

    [Fact]
    public void DynamicTablesFollowTheLength()
    {
        var rope = new RopeConfig { Type = RopeType.Dynamic, Theta = 10000, Factor = 2 };
        using var tables = new RopeTables(rope, 16, 64);
        float Cos(int length, int position)
        {
            var (cos, sin) = tables.For(length);
            using (cos)
            using (sin)
                return cos.ToFloatArray()[position * 8 + 7];
        }
        float atMax = Cos(64, 40);
        Assert.Equal(atMax, Cos(50, 40));
        float at128 = Cos(128, 40);
        Assert.NotEqual(atMax, at128);
        Assert.NotEqual(at128, Cos(256, 40));
        Assert.Equal(at128, Cos(128, 40));
        Assert.Equal(atMax, Cos(64, 40));
    }

    [Fact]
    public void AttentionFactorIsMultipliedIn()
    {
        var yarn = new RopeConfig { Type = RopeType.Yarn, Theta = 10000, Factor = 4, OriginalMaxPositionEmbeddings = 64 };
        using var tables = new RopeTables(yarn, 16, 256);
        var (cos, sin) = tables.For(3);
        float factor = (float)(0.1 * Math.Log(4) + 1);
        Assert.Equal(factor, cos.ToFloatArray()[0]);
        Assert.Equal(0f, sin.ToFloatArray()[0]);
    }

    [Fact]
    public void CachedTablesOutliveScopesAndReturnedHandles()
    {
        using var tables = new RopeTables(Plain, 16, 64);
        float[] first;
        using (new DisposeScope())
            first = tables.For(20).Cos.ToFloatArray();
        var (cos, sin) = tables.For(20);
        Assert.Equal(first, cos.ToFloatArray());
        cos.Dispose();
        sin.Dispose();
        var (again, _) = tables.For(20);
        tables.Dispose();
        Assert.Equal(first, again.ToFloatArray()); // a handle keeps its storage alive
        again.Dispose();
    }

    [Fact]
    public void TablesDriveTheRopeOp()
    {
        using var tables = new RopeTables(Plain, 8, 64);
        using var scope = new DisposeScope();
        var (cos, sin) = tables.For(16);
        var positions = Tensor.FromArray(new long[] { 3, 15 });
        var x = Tensor.FromArray([1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [2, 1, 8]);
        var y = x.Rope(cos, sin, positions).ToFloatArray();
        // rotate-half pairs (i, i + 4): x0 = 1 gives y0 = cos θ0, y4 = sin θ0; x7 = 1 gives y3 = −sin θ3, y7 = cos θ3.
        float[] inv = RopeScaling.Compute(Plain, 8, 64, 1).InvFreq;
        Assert.Equal(MathF.Cos(3 * inv[0]), y[0], 6);
        Assert.Equal(MathF.Sin(3 * inv[0]), y[4], 6);
        Assert.Equal(-MathF.Sin(15 * inv[3]), y[8 + 3], 6);
        Assert.Equal(MathF.Cos(15 * inv[3]), y[8 + 7], 6);
    }

    [Fact]
    public void BadRopeFailsAtConstruction()
    {
        Assert.Throws<ArgumentException>(() => new RopeTables(new RopeConfig { Type = RopeType.Linear }, 16, 64));
        using var tables = new RopeTables(Plain, 16, 64);
        Assert.Throws<ArgumentOutOfRangeException>(() => tables.For(0));
    }
}
