using Xunit;

namespace RawLongLoRA.Tests;

public class FormatTests
{
    [Fact]
    public void SmallTensorsPrintLikePyTorch()
    {
        var x = Tensor.FromArray([1f, -2.5f, 3f, 4f], [2, 2]);
        Assert.Equal("tensor([[1.0000, -2.5000],\n        [3.0000, 4.0000]])", x.ToString());
        Assert.Equal("tensor([0, 1, 2])", Tensor.Arange(3).ToString());
        Assert.Equal("tensor(5.0000, requires_grad=True)", Tensor.Scalar(5f, requiresGrad: true).ToString());
        Assert.Equal("tensor([1.0000, 2.0000], dtype=bfloat16)", Tensor.FromArray([1f, 2f], dtype: DType.BF16).ToString());
    }

    [Fact]
    public void LargeTensorsAreSummarised()
    {
        var s = Tensor.Zeros([2000]).ToString();
        Assert.Equal("tensor([0.0000, 0.0000, 0.0000, ..., 0.0000, 0.0000, 0.0000])", s);
    }

    [Fact]
    public void OutputsOfOpsShowTheirNode()
    {
        var a = Tensor.Ones([2], requiresGrad: true);
        Assert.EndsWith("grad_fn=<scale>)", (a * 2f).ToString());
    }
}
