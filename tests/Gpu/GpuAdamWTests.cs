using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>AdamW on the ILGPU backend: the CPU backend's IEEE operations in its order, so equal bit for bit on the CPU accelerator.</summary>
public sealed class GpuAdamWTests
{
    [Fact]
    public void ThreeStepsEqualTheCpuBitForBit()
    {
        using var scope = new DisposeScope();
        const int n = 37;
        var rng = new Random(3);
        var p = Place(Uniform(rng, n, -1, 1), [n]);
        var m = Place(Uniform(rng, n, -0.1, 0.1), [n]);
        var v = Place(Uniform(rng, n, 0, 0.01), [n]);
        var (dp, dm, dv) = (IlgpuDevice.Mirror(p), IlgpuDevice.Mirror(m), IlgpuDevice.Mirror(v));
        for (int step = 1; step <= 3; step++)
        {
            var g = Place(Uniform(rng, n, -2, 2), [n]);
            var s = new AdamWStep { Lr = 1e-3 * step, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, WeightDecay = 0.01, Step = step };
            Cpu.AdamW(p, g, m, v, s);
            IlgpuDevice.Backend.AdamW(dp, IlgpuDevice.Mirror(g), dm, dv, s);
        }
        AssertExact("adamw param", Read(p), Read(IlgpuDevice.Back(dp)));
        AssertExact("adamw exp_avg", Read(m), Read(IlgpuDevice.Back(dm)));
        AssertExact("adamw exp_avg_sq", Read(v), Read(IlgpuDevice.Back(dv)));
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        Tensor On(int[] shape, View view = View.Contiguous) => IlgpuDevice.Mirror(Output(shape, DType.F32, view));
        var s = new AdamWStep { Lr = 1e-3, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, WeightDecay = 0, Step = 1 };
        AssertThrows(() => IlgpuDevice.Backend.AdamW(On([4]), On([5]), On([4]), On([4]), s), "adamw", "[5]");
        AssertThrows(() => IlgpuDevice.Backend.AdamW(On([4, 3]), On([4, 3]), On([4, 3], View.Transposed), On([4, 3]), s), "adamw", "exp_avg", "contiguous");
        Assert.Throws<ArgumentOutOfRangeException>(() => IlgpuDevice.Backend.AdamW(On([4]), On([4]), On([4]), On([4]), s with { Step = 0 }));
    }
}
