using RawLongLoRA;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>RMSNorm forward and backward (float32, bfloat16 and float16 weights) against the float64 reference.</summary>
public sealed class BackendOpsRmsNormTests
{
    public static TheoryData<int, int, DType> Cases()
    {
        var data = new TheoryData<int, int, DType>();
        foreach (var (n, d) in new[] { (1, 1), (7, 33), (33, 7), (1, 1000), (300, 257) })
            foreach (var w in new[] { DType.F32, DType.BF16, DType.F16 })
                data.Add(n, d, w);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RmsNormAndBackwardMatchReference(int n, int d, DType weightType)
    {
        using var scope = new DisposeScope();
        const float eps = 1e-5f;
        var rng = new Random(n * 1000 + d);
        var x = Uniform(rng, (long)n * d, -2, 2);
        var w = Round(Uniform(rng, d, 0.5, 1.5), weightType);
        var dy = Uniform(rng, (long)n * d, -1, 1);
        var (yRef, rstdRef) = BackendReference.RmsNorm(x, w, n, d, eps);
        var (dxRef, dwRef) = BackendReference.RmsNormBackward(dy, x, w, n, d, eps);

        var xt = Place(x, [n, d]);
        var wt = Place(w, [d], weightType);
        var y = Output([n, d]);
        var rstd = Output([n]);
        Cpu.RmsNorm(y, rstd, xt, wt, eps);
        AssertClose("rms_norm y", yRef, Read(y));
        AssertClose("rms_norm rstd", rstdRef, Read(rstd));

        var dx = Output([n, d]);
        var dw = Output([d]);
        Cpu.RmsNormBackward(dx, dw, Place(dy, [n, d]), xt, wt, rstd);
        // dx = r·w·dy − (r³/D)(Σ w·dy·x)·x: with D = 1 the two terms cancel to ~eps; scale by the terms.
        double terms = Enumerable.Range(0, n * d).Max(i => Math.Abs(rstdRef[i / d] * w[i % d] * dy[i]));
        AssertClose("rms_norm_backward dx", dxRef, Read(dx), scaleFloor: terms);
        AssertClose("rms_norm_backward dweight", dwRef, Read(dw));

        // Without dweight only dx is written.
        var dx2 = Output([n, d]);
        Cpu.RmsNormBackward(dx2, null, Place(dy, [n, d]), xt, wt, rstd);
        AssertExact("rms_norm_backward dx without dweight", Read(dx), Read(dx2));
    }

    [Fact]
    public void RmsNormOfRank3InputAndStridedWeight()
    {
        using var scope = new DisposeScope();
        const float eps = 1e-6f;
        var rng = new Random(3);
        var x = Uniform(rng, 2 * 5 * 33, -3, 3);
        var w = Uniform(rng, 33, -1, 1);
        var y = Output([2, 5, 33]);
        var rstd = Output([2, 5]);
        // Weights are small vectors read once; any layout is accepted.
        Cpu.RmsNorm(y, rstd, Place(x, [2, 5, 33]), Place(w, [33], View.Stepped), eps);
        AssertClose("rms_norm rank 3", BackendReference.RmsNorm(x, w, 10, 33, eps).Y, Read(y));
    }

    [Fact]
    public void BackwardDWeightIsBitwiseReproducible()
    {
        using var scope = new DisposeScope();
        const int n = 2000, d = 64;
        var rng = new Random(12);
        var x = Place(Uniform(rng, n * d, -2, 2), [n, d]);
        var w = Place(Uniform(rng, d, 0.5, 1.5), [d]);
        var dy = Place(Uniform(rng, n * d, -1, 1), [n, d]);
        var y = Output([n, d]);
        var rstd = Output([n]);
        Cpu.RmsNorm(y, rstd, x, w, 1e-5f);
        var runs = new double[3][];
        var dxs = new double[3][];
        for (int i = 0; i < runs.Length; i++)
        {
            var dx = Output([n, d]);
            var dw = Output([d]);
            Cpu.RmsNormBackward(dx, dw, dy, x, w, rstd);
            (runs[i], dxs[i]) = (Read(dw), Read(dx));
        }
        AssertExact("dweight run 2 vs run 1", runs[0], runs[1]);
        AssertExact("dweight run 3 vs run 1", runs[0], runs[2]);
        AssertExact("dx run 2 vs run 1", dxs[0], dxs[1]);
    }

    [Theory]
    [InlineData(View.Transposed)]
    [InlineData(View.Stepped)]
    [InlineData(View.Padded)]
    public void NonContiguousRowsAreRejectedNamingTheOp(View view)
    {
        using var scope = new DisposeScope();
        var x = Uniform(new Random(1), 4 * 6, -1, 1);
        var strided = Place(x, [4, 6], view);
        var plain = Place(x, [4, 6]);
        var w = Place([1, 1, 1, 1, 1, 1], [6]);
        var rstd = Output([4]);
        AssertThrows(() => Cpu.RmsNorm(Output([4, 6]), rstd, strided, w, 1e-5f), "rms_norm", "contiguous");
        AssertThrows(() => Cpu.RmsNorm(Output([4, 6], DType.F32, view), rstd, plain, w, 1e-5f), "rms_norm", "contiguous");
        AssertThrows(() => Cpu.RmsNorm(Output([4, 6]), Output([4], DType.F32, View.Stepped), plain, w, 1e-5f), "rms_norm", "rstd");
        Cpu.RmsNorm(Output([4, 6]), rstd, plain, w, 1e-5f);
        AssertThrows(() => Cpu.RmsNormBackward(Output([4, 6]), null, strided, plain, w, rstd), "rms_norm_backward", "contiguous");
        AssertThrows(() => Cpu.RmsNormBackward(Output([4, 6]), null, plain, strided, w, rstd), "rms_norm_backward", "contiguous");
        AssertThrows(() => Cpu.RmsNormBackward(Output([4, 6], DType.F32, view), null, plain, plain, w, rstd), "rms_norm_backward", "contiguous");
        AssertThrows(() => Cpu.RmsNormBackward(Output([4, 6]), Output([6], DType.F32, View.Stepped), plain, plain, w, rstd), "rms_norm_backward", "dweight");
        AssertThrows(() => Cpu.RmsNormBackward(Output([4, 6]), null, plain, plain, w, Output([4], DType.F32, View.Stepped)), "rms_norm_backward", "rstd");
    }

    [Fact]
    public void RmsNormBadInputNamesTheOpShapesAndDTypes()
    {
        using var scope = new DisposeScope();
        var x = Tensor.Zeros([4, 6]);
        AssertThrows(() => Cpu.RmsNorm(Tensor.Empty([4, 6]), Tensor.Empty([4]), x, Tensor.Ones([5]), 1e-5f), "rms_norm", "weight", "[6]", "[5]");
        AssertThrows(() => Cpu.RmsNorm(Tensor.Empty([4, 6]), Tensor.Empty([3]), x, Tensor.Ones([6]), 1e-5f), "rms_norm", "rstd", "[3]");
        AssertThrows(() => Cpu.RmsNorm(Tensor.Empty([4, 6]), Tensor.Empty([4]), x, Tensor.Ones([6], DType.I32), 1e-5f), "rms_norm", "weight", "int32");
        AssertThrows(() => Cpu.RmsNorm(Tensor.Empty([4, 6]), Tensor.Empty([4]), Tensor.Zeros([4, 6], DType.BF16), Tensor.Ones([6]), 1e-5f), "rms_norm", "bfloat16");
        AssertThrows(() => Cpu.RmsNorm(Tensor.Empty([4, 5]), Tensor.Empty([4]), x, Tensor.Ones([6]), 1e-5f), "rms_norm", "[4, 5]", "[4, 6]");
        var rstd = Tensor.Empty([4]);
        AssertThrows(() => Cpu.RmsNormBackward(Tensor.Empty([4, 6]), null, Tensor.Zeros([4, 6]), x, Tensor.Ones([6]), Tensor.Empty([3])), "rms_norm_backward", "rstd", "[3]");
        AssertThrows(() => Cpu.RmsNormBackward(Tensor.Empty([4, 6]), null, Tensor.Zeros([4, 6]), x, Tensor.Ones([6]), Tensor.Empty([4], DType.BF16)), "rms_norm_backward", "rstd", "bfloat16");
        AssertThrows(() => Cpu.RmsNormBackward(Tensor.Empty([4, 6]), null, Tensor.Zeros([4, 6]), x, Tensor.Ones([6], DType.U8), rstd), "rms_norm_backward", "weight", "uint8");
        AssertThrows(() => Cpu.RmsNormBackward(Tensor.Empty([4, 6]), Tensor.Empty([5]), Tensor.Zeros([4, 6]), x, Tensor.Ones([6]), rstd), "rms_norm_backward", "dweight", "[5]");
        AssertThrows(() => Cpu.RmsNormBackward(Tensor.Empty([4, 6]), null, Tensor.Zeros([6, 4]), x, Tensor.Ones([6]), rstd), "rms_norm_backward", "[6, 4]");
    }
}
