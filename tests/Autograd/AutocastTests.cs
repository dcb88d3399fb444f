using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The bf16 autocast policy: scopes nest; inside one a linear layer's GEMMs take bfloat16-rounded operands and
/// sum in float32 (the result is float32), and its backward runs at bf16 too though it runs outside the scope.
/// Each result is compared with the float32 GEMMs of operands rounded beforehand, and must miss the plain
/// float32 result, so a policy that did nothing would fail.
/// </summary>
public class AutocastTests
{
    [Fact]
    public void Scopes_nest_and_restore()
    {
        Assert.Equal(Precision.F32, Autocast.Current);
        using (Autocast.Bf16())
        {
            Assert.Equal(Precision.Bf16, Autocast.Current);
            using (Autocast.Scope(Precision.F32))
                Assert.Equal(Precision.F32, Autocast.Current);
            Assert.Equal(Precision.Bf16, Autocast.Current);
        }
        Assert.Equal(Precision.F32, Autocast.Current);
    }

    [Fact]
    public void Linear_forward_and_backward_run_at_the_forwards_precision()
    {
        using var x = Input.Randn(1, 64, 96);
        using var w = Input.Randn(2, 48, 96);
        using var g = Tensor.Randn([64, 48], new Generator(3));
        Tensor y;
        using (Autocast.Bf16())
            y = x.Linear(w);
        using (y)
        {
            Assert.Equal(DType.F32, y.DType);
            y.Backward(g);
            using var _ = Autograd.NoGrad();
            using var xr = Rounded(x);
            using var wr = Rounded(w);
            using var gr = Rounded(g);
            using var yWant = xr.Linear(wr);
            using var dxWant = gr.MatMul(wr);
            using var dwWant = gr.Transpose(0, 1).MatMul(xr);
            // float32 sums of 96 or 64 products: far below the 1e-5 allowed; bf16 rounding errs ~1e-3.
            Approx.Close(yWant.ToFloatArray(), y, 1e-5, "y");
            Approx.Close(dxWant.ToFloatArray(), x.Grad!, 1e-5, "dx");
            Approx.Close(dwWant.ToFloatArray(), w.Grad!, 1e-5, "dw");
            using var y32 = x.Linear(w);
            Assert.True(Approx.NormalisedError(y.ToFloatArray(), y32.ToFloatArray()) > 1e-4, "bf16 result equals the float32 one: operands not rounded");
        }
    }

    [Fact]
    public void Gemm_precision_comes_from_the_calling_threads_scope()
    {
        using var a = Tensor.Randn([20, 40], new Generator(4));
        using var b = Tensor.Randn([40, 30], new Generator(5));
        using var plain = a.MatMul(b);
        Tensor? other = null;
        using (Autocast.Bf16())
        {
            var thread = new Thread(() => other = a.MatMul(b)); // another thread: float32 there
            thread.Start();
            thread.Join();
        }
        using var result = Assert.IsType<Tensor>(other);
        Assert.Equal(plain.ToFloatArray(), result.ToFloatArray());
    }

    private static Tensor Rounded(Tensor t)
    {
        using var half = t.To(DType.BF16);
        return half.To(DType.F32);
    }
}
