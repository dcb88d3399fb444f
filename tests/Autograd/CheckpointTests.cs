using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A checkpointed segment gives the gradients the plain segment gives, bit for bit. Runs alone: dropout
/// inside a checkpoint draws from Generator.Default, which a test running beside it could advance
/// between the forward and the recompute, and one test counts live storages.
/// </summary>
[Collection(SerialCollection.Name)]
public class CheckpointTests
{
    private sealed class Layer(ulong seed, float dropout = 0f)
    {
        public Tensor W1 { get; } = Input.Randn(seed, 6, 4);
        public Tensor W2 { get; } = Input.Randn(seed + 1, 4, 6);
        public Tensor Norm { get; } = Input.Uniform(seed + 2, 0.5f, 1.5f, 4);

        public Tensor Forward(Tensor x)
        {
            var h = x.RmsNorm(Norm, 1e-5f).Linear(W1).Silu();
            if (dropout > 0)
                h = h.Dropout(dropout);
            return x + h.Linear(W2);
        }

        public Tensor[] Parameters => [W1, W2, Norm];
    }

    private static float[][] Grads(params Tensor[] ts) => [.. ts.Select(t => t.Grad!.ToFloatArray())];

    private static void Clear(params Tensor[] ts)
    {
        foreach (var t in ts)
            t.Grad = null;
    }

    private static void RunBoth(Func<Tensor, Tensor> plain, Func<Tensor, Tensor> checkpointed, Tensor x, Tensor[] parameters, ulong seed)
    {
        using var g = Tensor.Randn([3, 4], new Generator(77));
        Tensor[] all = [x, .. parameters];

        Clear(all);
        Generator.Default.ManualSeed(seed);
        var yPlain = plain(x);
        yPlain.Backward(g);
        var expected = Grads(all);
        var outPlain = yPlain.ToFloatArray();

        Clear(all);
        Generator.Default.ManualSeed(seed);
        var yCkpt = checkpointed(x);
        ulong afterForward = Generator.Default.Offset;
        Assert.Equal(outPlain, yCkpt.ToFloatArray());
        yCkpt.Backward(g);
        Assert.Equal(afterForward, Generator.Default.Offset);
        var actual = Grads(all);
        for (int i = 0; i < all.Length; i++)
            Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void ParametersInsideTheSegment()
    {
        var layer = new Layer(1);
        RunBoth(layer.Forward, x => Checkpoint.Run(i => layer.Forward(i[0]), x), Input.Randn(4, 3, 4), layer.Parameters, 5);
    }

    [Fact]
    public void DropoutInsideTheSegmentReplaysItsMask()
    {
        var layer = new Layer(6, dropout: 0.4f);
        RunBoth(layer.Forward, x => Checkpoint.Run(i => layer.Forward(i[0]), x), Input.Randn(9, 3, 4), layer.Parameters, 10);
    }

    [Fact]
    public void StackOfCheckpointedLayersWithDropoutBetween()
    {
        var a = new Layer(11, dropout: 0.2f);
        var b = new Layer(14, dropout: 0.3f);
        Tensor Plain(Tensor x) => b.Forward(a.Forward(x).Dropout(0.1f));
        Tensor Ckpt(Tensor x) => Checkpoint.Run(i => b.Forward(i[0]), Checkpoint.Run(i => a.Forward(i[0]), x).Dropout(0.1f));
        RunBoth(Plain, Ckpt, Input.Randn(17, 3, 4), [.. a.Parameters, .. b.Parameters], 18);
    }

    [Fact]
    public void SeveralInputsAndAConstant()
    {
        var layer = new Layer(19);
        var other = Input.Randn(22, 3, 4);
        using var constant = Tensor.Randn([3, 4], new Generator(23));
        Tensor Body(Tensor[] i) => layer.Forward(i[0] * i[1] + i[2]);
        RunBoth(x => Body([x, other, constant]), x => Checkpoint.Run(Body, x, other, constant), Input.Randn(24, 3, 4), [other, .. layer.Parameters], 25);
        Assert.Null(constant.Grad);
    }

    [Fact]
    public void FrozenInputTrainableParameters()
    {
        // As a LoRA layer whose input comes from frozen layers: only parameters inside want gradients.
        var layer = new Layer(26);
        using var x = Tensor.Randn([3, 4], new Generator(29));
        var y = Checkpoint.Run(i => layer.Forward(i[0]), x);
        Assert.True(y.RequiresGrad);
        y.Sum().Backward();
        Assert.Null(x.Grad);
        Assert.All(layer.Parameters, p => Assert.NotNull(p.Grad));
    }

    [Fact]
    public void NothingWantsGradRecordsNothing()
    {
        using var x = Tensor.Randn([3, 4], new Generator(30));
        using var w = Tensor.Randn([4, 4], new Generator(31));
        var y = Checkpoint.Run(i => i[0].Linear(w), x);
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void FiniteDifferenceThroughACheckpoint()
    {
        var layer = new Layer(32);
        GradCheck.Assert(x => Checkpoint.Run(i => layer.Forward(i[0]), x[0]), [Input.Randn(35, 3, 4)]);
    }

    [Fact]
    public void OutputUsedTwice()
    {
        var layer = new Layer(36);
        Tensor Plain(Tensor x)
        {
            var h = layer.Forward(x);
            return h * h + h;
        }
        Tensor Ckpt(Tensor x)
        {
            var h = Checkpoint.Run(i => layer.Forward(i[0]), x);
            return h * h + h;
        }
        RunBoth(Plain, Ckpt, Input.Randn(39, 3, 4), layer.Parameters, 40);
    }

    [Fact]
    public void NonContiguousInput()
    {
        var layer = new Layer(41);
        var leaf = Input.Randn(44, 4, 3);
        RunBoth(x => layer.Forward(x.Transpose(0, 1)), x => Checkpoint.Run(i => layer.Forward(i[0]), x.Transpose(0, 1)), leaf, layer.Parameters, 45);
    }

    [Fact]
    public void BackwardFreesEverythingItAllocated()
    {
        // Runs alone (see the collection), so the process-wide count of live storages is this test's.
        var layer = new Layer(46, dropout: 0.2f);
        var x = Input.Randn(49, 3, 4);
        using var g = Tensor.Randn([3, 4], new Generator(50));
        Tensor[] all = [x, .. layer.Parameters];
        long Leaked(Func<Tensor, Tensor> f)
        {
            long before = Storage.LiveCount;
            using (new DisposeScope())
                f(x).Backward(g);
            foreach (var t in all)
            {
                t.Grad?.Dispose();
                t.Grad = null;
            }
            return Storage.LiveCount - before;
        }
        Assert.Equal(0, Leaked(layer.Forward));
        Assert.Equal(0, Leaked(t => Checkpoint.Run(i => layer.Forward(i[0]), t)));
        Assert.Equal(0, Leaked(t => Checkpoint.Run(i => layer.Forward(i[0]), t.Transpose(0, 1).Transpose(0, 1)) * 2f));
    }

    [Fact]
    public void A_stack_of_checkpoints_keeps_only_the_segment_inputs()
    {
        // Each segment keeps eight [256, 256] tensors for backward; checkpointed, the segments' outputs
        // stay and one segment's temporaries live at a time (made again in backward).
        var w = Input.Randn(51, 256, 256);
        Tensor Segment(Tensor h) => h.Linear(w).Tanh().Linear(w).Tanh().Linear(w).Tanh().Linear(w).Tanh();
        long Peak(Func<Tensor, Tensor> segment)
        {
            using var scope = new DisposeScope();
            var x = Input.Randn(52, 256, 256);
            long before = Storage.LiveBytes;
            Storage.ResetPeak();
            var h = x;
            for (int i = 0; i < 8; i++)
                h = segment(h);
            h.Sum().Backward();
            w.Grad = null;
            return Storage.PeakBytes - before;
        }
        long plain = Peak(Segment), checkpointed = Peak(t => Checkpoint.Run(i => Segment(i[0]), t));
        Assert.True(checkpointed < plain / 2, $"checkpointed peak {checkpointed} bytes, plain {plain}");
    }
}
