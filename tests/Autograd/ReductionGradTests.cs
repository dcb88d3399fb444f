using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Sum and mean over chosen dims, keepdim or not, or everything; max has no gradient rule and says so.</summary>
public class ReductionGradTests
{
    public static TheoryData<int[]?, bool> Reductions() => new()
    {
        { null, false },
        { null, true },
        { [0], false },
        { [1], true },
        { [-1], false },
        { [0, 2], false },
        { [0, 2], true },
        { [2, 1, 0], false },
    };

    [Theory]
    [MemberData(nameof(Reductions))]
    public void Sum(int[]? dims, bool keepDim) => GradCheck.Assert(x => x[0].Sum(dims, keepDim), [Input.Randn(1, 2, 3, 4)]);

    [Theory]
    [MemberData(nameof(Reductions))]
    public void Mean(int[]? dims, bool keepDim) => GradCheck.Assert(x => x[0].Mean(dims, keepDim), [Input.Randn(2, 2, 3, 4)]);

    [Theory]
    [MemberData(nameof(Reductions))]
    public void SumOfPermutedView(int[]? dims, bool keepDim) => GradCheck.Assert(x => x[0].Permute(2, 0, 1).Sum(dims, keepDim), [Input.Randn(3, 3, 4, 2)]);

    [Theory]
    [MemberData(nameof(Reductions))]
    public void MeanOfStridedView(int[]? dims, bool keepDim) => GradCheck.Assert(x => Input.Strided(x[0]).Mean(dims, keepDim), [Input.Randn(4, 2, 3, 4)]);

    [Fact]
    public void SumOfExpandedAndNarrowedViews()
        => GradCheck.Assert(x => x[0].Expand(2, 3, 4).Sum([0, 2]) + x[1].Narrow(1, 1, 3).Mean([0]), [Input.Randn(5, 3, 1), Input.Randn(6, 2, 5)]);

    [Fact]
    public void ShapesAndValues()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], [2, 3]);
        Assert.Equal([3], x.Sum([0]).ShapeArray);
        Assert.Equal([1, 3], x.Sum([0], keepDim: true).ShapeArray);
        Assert.Equal([], x.Sum().ShapeArray);
        Assert.Equal([1, 1], x.Mean(keepDim: true).ShapeArray);
        Assert.Equal([5f, 7f, 9f], x.Sum([0]).ToFloatArray());
        Assert.Equal([2f, 5f], x.Mean([1]).ToFloatArray());
        Assert.Equal(21f, x.Sum().Item());
        Assert.Equal(3.5f, x.Mean().Item());
    }

    [Fact]
    public void BackwardThroughMaxThrowsNamingMaxAndTheTensor()
    {
        var x = Input.Randn(7, 2, 3);
        x.Name = "scores";
        var m = x.Max([1]);
        Assert.True(m.RequiresGrad);
        var e = Assert.Throws<NotSupportedException>(() => m.Sum().Backward());
        Assert.Contains("max", e.Message);
        Assert.Contains("scores [2, 3] float32", e.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void BackwardThroughMaxOfAllThrows()
    {
        var x = Input.Randn(8, 4);
        var e = Assert.Throws<NotSupportedException>(() => (x.Max() * 2f).Backward());
        Assert.Contains("max", e.Message);
        Assert.Contains("[4] float32", e.Message);
    }

    [Fact]
    public void MaxAndArgMaxForward()
    {
        using var x = Tensor.FromArray([1f, 7f, 3f, 9f, -2f, 9f], [2, 3]);
        Assert.Equal([7f, 9f], x.Max([1]).ToFloatArray());
        Assert.Equal(9f, x.Max().Item());
        using var idx = x.ArgMax(1);
        Assert.Equal(DType.I64, idx.DType);
        Assert.Equal([1L, 0L], idx.ToArray<long>());
        Assert.False(Input.Randn(9, 2, 3).ArgMax().RequiresGrad);
    }
}
