using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>+, −, ×, ÷: broadcasting either way round sums the gradient back to each operand's shape.</summary>
public class ArithmeticGradTests
{
    public static TheoryData<int[], int[]> BroadcastShapes() => new()
    {
        { [3, 4], [3, 4] },
        { [3, 4], [4] },
        { [4], [3, 4] },
        { [3, 1], [1, 4] },
        { [2, 3, 4], [3, 1] },
        { [1, 3, 1], [2, 1, 4] },
        { [3, 4], [] },
        { [], [2, 3] },
    };

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Add(int[] sa, int[] sb) => GradCheck.Assert(x => x[0] + x[1], [Input.Randn(1, sa), Input.Randn(2, sb)]);

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Sub(int[] sa, int[] sb) => GradCheck.Assert(x => x[0] - x[1], [Input.Randn(3, sa), Input.Randn(4, sb)]);

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Mul(int[] sa, int[] sb) => GradCheck.Assert(x => x[0] * x[1], [Input.Randn(5, sa), Input.Randn(6, sb)]);

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Div(int[] sa, int[] sb) => GradCheck.Assert(x => x[0] / x[1], [Input.Randn(7, sa), Input.Uniform(8, 0.5f, 2f, sb)]);

    [Fact]
    public void NamedMethodsMatchOperators()
        => GradCheck.Assert(x => x[0].Add(x[1]).Sub(x[1].Mul(x[0])).Div(x[1].AddScalar(3f)).Mul(0.5f).Add(2f), [Input.Randn(9, 3, 4), Input.Uniform(10, 0.5f, 1f, 4)]);

    [Fact]
    public void ScalarOperators()
        => GradCheck.Assert(x => (2f - x[0] * 3f + x[0] / 4f - 0.5f + 1.25f * x[0]) / (1.5f + x[0] * x[0]) + 1f / (2f + x[0] * x[0]) - (-x[0]),
            [Input.Randn(11, 3, 4)]);

    [Fact]
    public void SameTensorOnBothSides()
    {
        var a = Input.Randn(12, 3, 4);
        GradCheck.Assert(x => x[0] * x[0] + x[0] - x[0] / (x[0] * x[0] + 1f), [a]);
        // d(a·a)/da = 2a exactly.
        a.Grad = null;
        (a * a).Sum().Backward();
        Approx.Close(Array.ConvertAll(a.ToFloatArray(), v => 2 * v), a.Grad!, 1e-6);
    }

    [Fact]
    public void OnlyOneOperandWantsGrad()
    {
        var a = Input.Randn(13, 3, 4);
        using var b = Tensor.Randn([4], new Generator(14));
        GradCheck.Assert(x => x[0] * x[1] + x[1] / (x[0] * x[0] + 1f), [a, b]);
        Assert.Null(b.Grad);
    }

    // ---- non-contiguous operands: views of the leaves are built inside f

    [Fact]
    public void TransposedOperands()
        => GradCheck.Assert(x => x[0].Transpose(0, 1) * x[1] + x[1] / (x[0].Transpose(0, 1) * x[0].Transpose(0, 1) + 1f) - x[1],
            [Input.Randn(15, 4, 3), Input.Randn(16, 3, 4)]);

    [Fact]
    public void NarrowedAndExpandedOperands()
        => GradCheck.Assert(x => x[0].Narrow(1, 1, 4) + x[1].Expand(3, 4) * x[0].Narrow(1, 0, 4) - x[1].Expand(2, 3, 4).Sum([0]) / x[2].Narrow(0, 2, 4),
            [Input.Randn(17, 3, 6), Input.Randn(18, 1, 4), Input.Uniform(19, 1f, 2f, 7)]);

    [Fact]
    public void StridedOperands()
        => GradCheck.Assert(x => Input.Strided(x[0]) * Input.ColumnMajor(x[1]) / (Input.Strided(x[1]) * Input.Strided(x[1]) + 1f),
            [Input.Randn(20, 3, 4), Input.Randn(21, 3, 4)]);
}
