using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Rotary embedding, HF rotate-half layout, with tables built here from inv_freq as Hugging Face builds them.</summary>
public class RopeGradTests
{
    private const int HeadDim = 8;
    private const int Positions = 32;

    /// <summary>cos/sin [P, D/2] of angle p · inv_freq[i], inv_freq[i] = base^(−2i/D).</summary>
    private static (Tensor Cos, Tensor Sin) Tables(int positions = Positions, int d = HeadDim, double theta = 10000.0)
    {
        int half = d / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++)
            {
                double invFreq = 1.0 / Math.Pow(theta, 2.0 * i / d);
                cos[p * half + i] = (float)Math.Cos(p * invFreq);
                sin[p * half + i] = (float)Math.Sin(p * invFreq);
            }
        return (Tensor.FromArray(cos, [positions, half]), Tensor.FromArray(sin, [positions, half]));
    }

    [Fact]
    public void TokensHeadsDim()
    {
        var (cos, sin) = Tables();
        using var pos = Input.Ids(7, 0, 31, 3, 3, 12);
        GradCheck.Assert(x => x[0].Rope(cos, sin, pos), [Input.Randn(1, 6, 2, HeadDim)]);
    }

    [Fact]
    public void BatchTokensHeadsDimWithInt32Positions()
    {
        var (cos, sin) = Tables();
        using var pos = Tensor.FromArray([5, 2, 9, 15, 0, 7], [2, 3]);
        GradCheck.Assert(x => x[0].Rope(cos, sin, pos), [Input.Randn(2, 2, 3, 4, HeadDim)]);
    }

    [Fact]
    public void MatchesRotateHalfDefinition()
    {
        var (cos, sin) = Tables();
        long[] positions = [9, 1, 30];
        using var pos = Input.Ids(positions);
        var x = Input.Randn(3, 3, 2, HeadDim);
        var y = x.Rope(cos, sin, pos).ToFloatArray();
        var xv = x.ToFloatArray();
        int half = HeadDim / 2;
        for (int t = 0; t < 3; t++)
            for (int h = 0; h < 2; h++)
                for (int i = 0; i < HeadDim; i++)
                {
                    int at = (t * 2 + h) * HeadDim;
                    double angle = positions[t] / Math.Pow(10000.0, 2.0 * (i % half) / HeadDim);
                    // x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x2, x1)
                    double rotated = i < half ? -xv[at + i + half] : xv[at + i - half];
                    Assert.Equal(xv[at + i] * Math.Cos(angle) + rotated * Math.Sin(angle), y[at + i], 5);
                }
    }

    [Fact]
    public void PositionZeroIsIdentity()
    {
        var (cos, sin) = Tables();
        using var pos = Input.Ids(0, 0);
        var x = Input.Randn(4, 2, 3, HeadDim);
        Assert.Equal(x.ToFloatArray(), x.Rope(cos, sin, pos).ToFloatArray());
    }

    [Fact]
    public void PermutedFromHeadsFirstLayout()
    {
        // HF keeps q as [B, H, T, D]; ours is [B, T, H, D]: a permuted view of the HF layout.
        var (cos, sin) = Tables();
        using var pos = Tensor.FromArray(new long[] { 4, 1, 8, 2, 2, 0 }, [2, 3]);
        GradCheck.Assert(x => x[0].Permute(0, 2, 1, 3).Rope(cos, sin, pos), [Input.Randn(5, 2, 2, 3, HeadDim)]);
    }

    [Fact]
    public void NarrowedAndStridedInputs()
    {
        var (cos, sin) = Tables();
        using var pos = Input.Ids(3, 17, 5);
        GradCheck.Assert(x => x[0].Narrow(-1, 2, HeadDim).Rope(cos, sin, pos) + Input.Strided(x[1]).Rope(cos, sin, pos), [Input.Randn(6, 3, 2, HeadDim + 4), Input.Randn(7, 3, 2, HeadDim)]);
    }

    [Fact]
    public void NonContiguousPositionsAndTables()
    {
        var (cos, sin) = Tables(Positions, HeadDim);
        using var posPairs = Tensor.FromArray(new long[] { 6, 0, 2, 0, 11, 0 }, [3, 2]);
        using var pos = posPairs.Narrow(1, 0, 1).Squeeze(1);
        using var cosT = cos.Transpose(0, 1).Contiguous();
        using var sinT = sin.Transpose(0, 1).Contiguous();
        // Tables stored transposed and viewed back: the op must accept or copy them.
        GradCheck.Assert(x => x[0].Rope(cosT.Transpose(0, 1), sinT.Transpose(0, 1), pos), [Input.Randn(8, 3, 2, HeadDim)]);
        using var expected = Input.Randn(8, 3, 2, HeadDim);
        using var posC = Input.Ids(6, 2, 11);
        Approx.Close(expected.Rope(cos, sin, posC).ToFloatArray(), expected.Rope(cosT.Transpose(0, 1), sinT.Transpose(0, 1), pos), 0);
    }

    [Fact]
    public void ExpandedInput()
    {
        var (cos, sin) = Tables();
        using var pos = Input.Ids(1, 2, 3, 4);
        GradCheck.Assert(x => x[0].Expand(4, 2, HeadDim).Rope(cos, sin, pos), [Input.Randn(9, 1, 2, HeadDim)]);
    }
}
