using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Random on the ILGPU backend: the CPU backend's Philox stream element for element, and its checks.</summary>
public sealed class GpuRandomTests
{
    [Theory]
    [InlineData(RandomKind.Uniform, 1, 0UL)]
    [InlineData(RandomKind.Uniform, 13, 12345UL)]
    [InlineData(RandomKind.Normal, 7, 0UL)]
    [InlineData(RandomKind.Normal, 33, 987654321UL)]
    [InlineData(RandomKind.Bernoulli, 21, 5UL)]
    public void DrawEqualsTheCpuStream(RandomKind kind, int n, ulong offset)
    {
        using var scope = new DisposeScope();
        const ulong seed = 0xDEADBEEF12345678;
        var (a, b) = kind switch { RandomKind.Uniform => (-2f, 3f), RandomKind.Normal => (0.5f, 2f), _ => (0.3f, 0f) };
        var want = Output([n]);
        Cpu.Random(want, kind, seed, offset, a, b);
        // Inside a padded buffer: the draw must stop at the view's end.
        var t = IlgpuDevice.Mirror(Output([n + 5]).Restride(Layout.Contiguous([n], 2)));
        IlgpuDevice.Backend.Random(t, kind, seed, offset, a, b);
        var got = IlgpuDevice.Back(t);
        if (kind == RandomKind.Normal)
            AssertClose($"random {kind}", Read(want), Read(got), 1e-6); // ln by GpuMath, not MathF
        else
            AssertExact($"random {kind}", Read(want), Read(got));
        AssertGapsUntouched(got, $"random {kind}");
    }

    [Fact]
    public void BadOutputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var strided = IlgpuDevice.Mirror(Output([4, 3], DType.F32, View.Transposed));
        AssertThrows(() => IlgpuDevice.Backend.Random(strided, RandomKind.Uniform, 1, 0, 0, 1), "random", "contiguous");
        AssertThrows(() => IlgpuDevice.Backend.Random(IlgpuDevice.Mirror(Output([4], DType.BF16)), RandomKind.Normal, 1, 0, 0, 1), "random", "bfloat16");
    }
}
