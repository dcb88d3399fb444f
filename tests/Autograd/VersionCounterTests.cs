using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Writing in place into a tensor an op saved for backward makes backward throw, naming the op, as torch's
/// version counter does: otherwise the gradient is computed from values the forward never saw.
/// </summary>
public class VersionCounterTests
{
    [Fact]
    public void Writing_into_a_saved_input_makes_backward_name_the_op()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], requiresGrad: true);
        var y = x * x;
        x.Fill(5); // mul saved x: its gradient 2x would now read 10, not 2, 4, 6

        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.StartsWith("backward of mul: [3] float32 on cpu, which mul saved for backward, was written in place afterwards (version 0, now 1)", e.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Writing_into_a_saved_output_through_a_view_makes_backward_name_the_op()
    {
        var x = Tensor.FromArray([0f, 1f, 2f, 3f], requiresGrad: true);
        var y = x.Exp(); // exp's gradient reads its output
        using (Autograd.NoGrad())
            y.Narrow(0, 1, 2).CopyFrom(Tensor.Zeros([2])); // a view shares the storage, and its version

        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.StartsWith("backward of exp:", e.Message);
    }

    [Fact]
    public void An_optimizer_step_between_forward_and_backward_makes_backward_throw()
    {
        var w = Tensor.FromArray([1f, 2f, 3f, 4f], [2, 2], requiresGrad: true);
        var x = Tensor.FromArray([1f, -1f], [1, 2]);
        var first = x.MatMul(w).Sum();
        first.Backward();
        using var adamw = new AdamW([("w", w)]);
        var second = x.MatMul(w).Sum();
        adamw.Step(); // updates w in place after the second forward saved it

        Assert.Contains("backward of matmul: [2, 2] float32 on cpu, which matmul saved", Assert.Throws<InvalidOperationException>(() => second.Backward()).Message);
    }

    [Fact]
    public void Writes_before_the_op_or_into_a_clone_leave_backward_as_it_was()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], requiresGrad: true);
        x.Fill(2); // before the op: mul saves version 1
        var y = x * x;
        using (Autograd.NoGrad())
            x.Clone().Fill(7); // a clone has storage of its own

        y.Sum().Backward();
        Assert.Equal([4f, 4f, 4f], x.Grad!.ToFloatArray());
    }
}
