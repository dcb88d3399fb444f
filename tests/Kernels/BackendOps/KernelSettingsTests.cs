using RawLongLoRA;
using RawLongLoRA.Kernels.Cpu;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Results do not depend on the CPU kernels' process-wide settings: whether large outputs are written
/// with non-temporal stores (forced here on small tensors whose rows are not aligned to a vector), and,
/// for the embedding scatter-add, the thread count. Serial: the settings are global.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class BackendOpsKernelSettingsTests
{
    /// <summary>The outputs run() returns, computed once with plain stores and once streaming; they must agree bit for bit.</summary>
    private static void SameWhenStreaming(string what, Func<Tensor[]> run)
    {
        long saved = Rows.StreamingThreshold;
        try
        {
            Rows.StreamingThreshold = long.MaxValue;
            var plain = run().Select(Read).ToArray();
            Rows.StreamingThreshold = 0;
            var streamed = run().Select(Read).ToArray();
            for (int i = 0; i < plain.Length; i++)
                AssertExact($"{what} output {i}", plain[i], streamed[i]);
        }
        finally
        {
            Rows.StreamingThreshold = saved;
        }
    }

    [Fact]
    public void RowAndElementwiseKernelsGiveTheSameBitsWithNonTemporalStores()
    {
        using var scope = new DisposeScope();
        var rng = new Random(3);
        // 1000 and 1031 floats per row: most rows start off a 64-byte boundary, and end in a tail.
        var x = Place(Uniform(rng, 9 * 1031, -8, 8), [9, 1031]);
        var dy = Place(Uniform(rng, 9 * 1031, -1, 1), [9, 1031]);
        SameWhenStreaming("softmax", () =>
        {
            var y = Output([9, 1031]);
            var dx = Output([9, 1031]);
            Cpu.Softmax(y, x);
            Cpu.SoftmaxBackward(dx, y, dy);
            return [y, dx];
        });

        SameWhenStreaming("elementwise", () =>
        {
            var e = Output([9, 1031]);
            var sum = Output([9, 1031]);
            var scaled = Output([9, 1031]);
            Cpu.Unary(UnaryOp.Exp, e, x);
            Cpu.Binary(BinaryOp.Add, sum, x, dy);
            Cpu.Binary(BinaryOp.Mul, scaled, x, Place([0.5], [1]));
            return [e, sum, scaled];
        });

        var xn = Place(Uniform(rng, 9 * 1000, -2, 2), [9, 1000]);
        var w = Place(Uniform(rng, 1000, 0.5, 1.5), [1000]);
        var dyn = Place(Uniform(rng, 9 * 1000, -1, 1), [9, 1000]);
        SameWhenStreaming("rms_norm", () =>
        {
            var y = Output([9, 1000]);
            var rstd = Output([9]);
            var dx = Output([9, 1000]);
            var dw = Output([1000]);
            Cpu.RmsNorm(y, rstd, xn, w, 1e-5f);
            Cpu.RmsNormBackward(dx, dw, dyn, xn, w, rstd);
            return [y, rstd, dx, dw];
        });

        var xr = Place(Uniform(rng, 7 * 3 * 40, -2, 2), [7, 3, 40]);
        var cos = Place(Uniform(rng, 5 * 20, -1, 1), [5, 20]);
        var sin = Place(Uniform(rng, 5 * 20, -1, 1), [5, 20]);
        var pos = Ids([4, 0, 3, 3, 1, 2, 0], DType.I32);
        SameWhenStreaming("rope", () =>
        {
            var y = Output([7, 3, 40]);
            Cpu.Rope(y, xr, cos, sin, pos, inverse: false);
            return [y];
        });

        var g = Place(Uniform(rng, 70001, -12, 12), [70001]);
        var u = Place(Uniform(rng, 70001, -2, 2), [70001]);
        var dys = Place(Uniform(rng, 70001, -1, 1), [70001]);
        SameWhenStreaming("swiglu", () =>
        {
            var y = Output([70001]);
            var dg = Output([70001]);
            var du = Output([70001]);
            Cpu.SwiGlu(y, g, u);
            Cpu.SwiGluBackward(dg, du, dys, g, u);
            return [y, dg, du];
        });
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void CopyAndGatherGiveTheSameBitsWithNonTemporalStores(DType table)
    {
        using var scope = new DisposeScope();
        var w = Place(Round(Uniform(new Random(4), 50L * 1100, -2, 2), table), [50, 1100], table);
        var ids = Ids([3, 49, 0, 3, 17, 8, 8, 21, 40], DType.I64);
        SameWhenStreaming($"copy and gather {table}", () =>
        {
            var copied = Output([50, 1100]);
            var gathered = Output([9, 1100]);
            Cpu.Copy(copied, w);
            Cpu.EmbeddingGather(gathered, w, ids);
            return [copied, gathered];
        });
    }

    [Fact]
    public void ScatterAddDoesNotDependOnTheThreadCount()
    {
        using var scope = new DisposeScope();
        var rng = new Random(8);
        var dy = Place(Uniform(rng, 2000L * 70, -1, 1), [2000, 70]);
        var ids = Ids(Enumerable.Range(0, 2000).Select(i => (long)(i * 7 % 13 == 0 ? 5 : rng.Next(40))).ToArray(), DType.I64);
        int saved = CpuThreads.Count;
        try
        {
            var results = new[] { 1, 2, 5 }.Select(threads =>
            {
                CpuThreads.Count = threads;
                var dw = Tensor.Zeros([40, 70]);
                Cpu.EmbeddingScatterAdd(dw, dy, ids);
                return Read(dw);
            }).ToArray();
            AssertExact("scatter-add on 2 threads vs 1", results[0], results[1]);
            AssertExact("scatter-add on 5 threads vs 1", results[0], results[2]);
        }
        finally
        {
            CpuThreads.Count = saved;
        }
    }
}
