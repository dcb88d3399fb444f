using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cuda;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// <see cref="FlashAttentionKernels"/> without running a kernel: the launches it asks a runner for (names, grids, shared
/// memory, the parameter struct), their agreement with the budgets of kernels.cu/flash_attention.cu's header, and its
/// refusal of bad arguments by name before anything launches.
/// </summary>
public sealed class FlashAttentionLauncherTests
{
    private static readonly FlashAttentionShape Shape = new(2, 100, 130, 8, 2, 128);

    // Aligned fake addresses: nothing is dereferenced.
    private static readonly FlashAttentionTensors Tensors = new(0x1000, 0x2000, 0x3000, 0x4000, 0x5000);
    private static readonly FlashAttentionGradients Gradients = new(0x6000, 0, 0x7000, 0x8000, 0x9000, 0xa000, 0xb000);

    private static FlashAttentionMask Mask(FlashAttentionShape shape) => FlashAttentionMask.Of(AttentionSpec.Causal, shape, 0);

    [Fact]
    public void ForwardLaunchesABlockPerQueryTileHeadAndBatchRow()
    {
        var runner = new RecordingRunner<FlashAttentionParams>(FlashAttentionKernels.File);
        FlashAttentionKernels.Forward(runner, Shape, Mask(Shape), Tensors);
        var (kernel, launch, p) = Assert.Single(runner.Launches);
        Assert.Equal("flash_attention_forward_d128", kernel);
        Assert.Equal(new KernelLaunch(2, 8, 2, 128, 1, 1, 49152), launch);
        Assert.Equal((Tensors.Q, Tensors.K, Tensors.V, Tensors.O, Tensors.Lse), (p.Q, p.K, p.V, p.O, p.Lse));
        Assert.Equal((2, 100, 130, 8, 2), (p.Batch, p.Queries, p.Keys, p.Heads, p.KvHeads));
        Assert.Equal((130, 0, 0, 0, 4), (p.Row, p.GroupSize, p.QueryStart, p.KeyStart, p.FirstShifted));
        Assert.Equal(1 / MathF.Sqrt(128), p.Scale);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BackwardRunsThePreprocessTheDkDvKernelAndTheDqKernelWhenDeterministic(bool deterministic)
    {
        var runner = new RecordingRunner<FlashAttentionParams>(FlashAttentionKernels.File);
        FlashAttentionKernels.Backward(runner, Shape, Mask(Shape), Tensors, Gradients, deterministic);
        string[] expected = deterministic
            ? ["flash_attention_backward_prep_d128", "flash_attention_backward_dkdv_d128", "flash_attention_backward_dq_d128"]
            : ["flash_attention_backward_prep_d128", "flash_attention_backward_dkdv_d128"];
        Assert.Equal(expected, runner.Launches.Select(l => l.Kernel));
        // A warp per (b, t, h) row; a block per (key tile of 64, kv head, b); the dq kernel as the forward.
        Assert.Equal(new KernelLaunch(400, 1, 1, 128, 1, 1, 0), runner.Launches[0].Launch);
        Assert.Equal(new KernelLaunch(3, 2, 2, 128, 1, 1, 71680), runner.Launches[1].Launch);
        if (deterministic)
            Assert.Equal(new KernelLaunch(2, 8, 2, 128, 1, 1, 65536), runner.Launches[2].Launch);
        foreach (var (_, _, p) in runner.Launches)
        {
            Assert.Equal(deterministic ? 0 : 1, p.AtomicDq);
            Assert.Equal((Gradients.DOut, Gradients.DLse, Gradients.DQ, Gradients.DK, Gradients.DV, Gradients.DOutBf16, Gradients.Delta),
                (p.DOut, p.DLse, p.DQ, p.DK, p.DV, p.DOutBf16, p.Delta));
        }
    }

    /// <summary>Past 48 KB a GPU needs the function's opt-in: only the d128 backward asks for it.</summary>
    [Fact]
    public void OnlyTheD128BackwardAsksForMoreThan48KB()
    {
        foreach (int d in new[] { 64, 128 })
        {
            var runner = new RecordingRunner<FlashAttentionParams>(FlashAttentionKernels.File);
            var shape = Shape with { HeadDim = d };
            FlashAttentionKernels.Forward(runner, shape, Mask(shape), Tensors);
            FlashAttentionKernels.Backward(runner, shape, Mask(shape), Tensors, Gradients, deterministic: true);
            foreach (var (kernel, launch, _) in runner.Launches)
                Assert.True(launch.SharedBytes > 48 * 1024 == (d == 128 && (kernel.Contains("dkdv") || kernel.Contains("_dq_"))), $"{kernel}: {launch.SharedBytes} bytes");
        }
    }

    /// <summary>Every kernel the launcher runs has a budget line in the file's header that holds the shared memory it asks for.</summary>
    [Fact]
    public void TheHeaderBudgetsHoldTheLaunchersSharedMemory()
    {
        var budgets = KernelBudgets.Of(FlashAttentionKernels.File);
        var runner = new RecordingRunner<FlashAttentionParams>(FlashAttentionKernels.File);
        foreach (int d in new[] { 64, 128 })
        {
            var shape = Shape with { HeadDim = d };
            FlashAttentionKernels.Forward(runner, shape, Mask(shape), Tensors);
            FlashAttentionKernels.Backward(runner, shape, Mask(shape), Tensors, Gradients, deterministic: true);
        }
        Assert.Equal(8, runner.Launches.Count);
        foreach (var (kernel, launch, _) in runner.Launches)
        {
            Assert.True(budgets.TryGetValue(kernel, out var budget), $"no budget line for {kernel}");
            long shared = budget.SharedBytes;
            Assert.True(launch.SharedBytes <= shared, $"{kernel} asks for {launch.SharedBytes} bytes of shared memory, its budget says {shared}");
        }
        Assert.Equal(budgets.Keys.Order(), runner.Launches.Select(l => l.Kernel).Order());
    }

    /// <summary>The C struct is 160 bytes (flash_attention.cu asserts it), its ints after thirteen pointers.</summary>
    [Fact]
    public void TheParametersMirrorTheCStruct()
    {
        Assert.Equal(160, Unsafe.SizeOf<FlashAttentionParams>());
        Assert.Equal(96, (int)Marshal.OffsetOf<FlashAttentionParams>(nameof(FlashAttentionParams.Starts)));
        Assert.Equal(104, (int)Marshal.OffsetOf<FlashAttentionParams>(nameof(FlashAttentionParams.StartsCount)));
        Assert.Equal(148, (int)Marshal.OffsetOf<FlashAttentionParams>(nameof(FlashAttentionParams.Scale)));
        Assert.Equal(152, (int)Marshal.OffsetOf<FlashAttentionParams>(nameof(FlashAttentionParams.AtomicDq)));
    }

    [Fact]
    public void TheMaskResolvesTheSpecForTheCall()
    {
        using var scope = new DisposeScope();
        var shape = new FlashAttentionShape(2, 64, 64, 2, 1, 64);
        var starts = PackedStarts.Of([0, 10, 64, 100], 128);
        var mask = FlashAttentionMask.Of(new AttentionSpec { GroupSize = 16, HeadStart = 3, TotalHeads = 8, SequenceStarts = starts }, shape, 0x40);
        // Global heads 3 and 4 of 8: the call's head 1 is the first of the shifted half.
        Assert.Equal(new FlashAttentionMask(0.125f, 0, 0, 64, 16, 1, 0x40, 4), mask);
        Assert.Equal(new FlashAttentionMask(0.5f, 5, 2, 80, 0, 1, 0, 0), FlashAttentionMask.Of(new AttentionSpec { Scale = 0.5f, QueryStart = 5, KeyStart = 2, RowLength = 80 }, shape, 0));
    }

    [Fact]
    public void BadArgumentsAreRefusedByNameBeforeAnythingLaunches()
    {
        var runner = new RecordingRunner<FlashAttentionParams>(FlashAttentionKernels.File);
        var mask = Mask(Shape);
        void Forward(FlashAttentionShape shape, FlashAttentionMask m, FlashAttentionTensors t) => FlashAttentionKernels.Forward(runner, shape, m, t);
        void Backward(FlashAttentionGradients g) => FlashAttentionKernels.Backward(runner, Shape, mask, Tensors, g, deterministic: true);

        AssertThrows(() => Forward(Shape with { HeadDim = 80 }, mask, Tensors), "head dims 64 and 128", "80");
        AssertThrows(() => Forward(Shape with { Queries = 0 }, mask, Tensors), "at least 1");
        AssertThrows(() => Forward(Shape with { KvHeads = 3 }, mask, Tensors), "Hq a multiple of Hkv", "Hq=8, Hkv=3");
        AssertThrows(() => Forward(Shape with { Heads = 70000, KvHeads = 1 }, mask, Tensors), "Hq and B of at most 65535");
        AssertThrows(() => Forward(Shape, mask with { Row = 129 }, Tensors), "row of 129 tokens", "keys [0, 130)");
        AssertThrows(() => Forward(Shape, mask with { QueryStart = -1 }, Tensors), "QueryStart and KeyStart of at least 0");
        AssertThrows(() => Forward(Shape, mask with { GroupSize = 3 }, Tensors), "group size 3");
        AssertThrows(() => Forward(Shape, mask with { Row = 132, GroupSize = 8 }, Tensors), "group size 8", "row of 132");
        AssertThrows(() => Forward(Shape, mask with { FirstShifted = 9 }, Tensors), "first shifted head 9");
        AssertThrows(() => Forward(Shape, mask with { StartsCount = 3 }, Tensors), "packed starts", "count");
        AssertThrows(() => Forward(Shape, mask with { Scale = float.NaN }, Tensors), "finite scale");
        AssertThrows(() => Forward(Shape, mask, Tensors with { Lse = 0 }), "lse is a null pointer");
        AssertThrows(() => Forward(Shape, mask, Tensors with { K = 0x2008 }), "k must be 16-byte aligned", "0x2008");
        AssertThrows(() => Backward(Gradients with { DK = 0 }), "dk is a null pointer");
        AssertThrows(() => Backward(Gradients with { DOutBf16 = 0xa004 }), "dout_bf16 must be 16-byte aligned");
        Assert.Throws<ArgumentNullException>(() => FlashAttentionKernels.Forward(null!, Shape, mask, Tensors));
        Assert.Empty(runner.Launches);
    }
}
