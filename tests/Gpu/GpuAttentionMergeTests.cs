using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// AttentionMerge and its backward on the ILGPU backend against the CPU backend's: parts with −∞ lse (a part that
/// saw no key weighs 0; both −∞ give o = 0, lse = −∞), with and without dlse, D = 0, outputs poisoned with NaN, and bad
/// input. The kernels state the CPU's formulas with exp(x) = 2^(x·log2 e) (GpuMath), which errs by up to
/// |x|·log2(e)·2⁻²⁴ ≈ 5·10⁻⁷ relative on a weight for the |x| ≤ 6 of these lse values; the tolerance is that twice,
/// plus a few float32 roundings (log, a D-long dot).
/// </summary>
public sealed class GpuAttentionMergeTests
{
    private const double Tol = 2e-6;

    [Theory]
    [InlineData(2, 3, 2, 5)]
    [InlineData(1, 4, 3, 1)]
    [InlineData(1, 2, 2, 0)]
    public void MergeMatchesTheCpu(int b, int t, int hq, int d)
    {
        using var scope = new DisposeScope();
        var (oA, lseA, oB, lseB) = Parts(new Random(b * 100 + t * 10 + d), b, t, hq, d);
        var (o, lse) = (Output([b, t, hq, d]), Output([b, hq, t]));
        Cpu.AttentionMerge(o, lse, oA, lseA, oB, lseB);
        var (go, glse) = (IlgpuDevice.Mirror(Output([b, t, hq, d])), IlgpuDevice.Mirror(Output([b, hq, t])));
        IlgpuDevice.Backend.AttentionMerge(go, glse, M(oA), M(lseA), M(oB), M(lseB));
        AssertClose("merged o", Read(o), Read(IlgpuDevice.Back(go)), Tol);
        AssertClose("merged lse", Read(lse), Read(IlgpuDevice.Back(glse)), Tol);
        // Rows where both parts saw nothing: exactly o = 0, lse = −∞ (the gaps of AssertClose's scale would hide a small o).
        var l = Read(IlgpuDevice.Back(glse));
        var ov = Read(IlgpuDevice.Back(go));
        for (int r = 0; r < l.Length; r++)
            if (double.IsNegativeInfinity(Read(lseA)[r]) && double.IsNegativeInfinity(Read(lseB)[r]))
                Assert.True(double.IsNegativeInfinity(l[r]) && RowOf(ov, r, t, hq, d).All(v => v == 0), $"row {r}: both parts −∞ must give lse = −∞ and o = 0");
    }

    [Theory]
    [InlineData(2, 3, 2, 5, true)]
    [InlineData(2, 3, 2, 5, false)]
    [InlineData(1, 4, 3, 1, true)]
    [InlineData(1, 2, 2, 0, true)]
    public void MergeBackwardMatchesTheCpu(int b, int t, int hq, int d, bool withDlse)
    {
        using var scope = new DisposeScope();
        var rng = new Random(b * 100 + t * 10 + d + (withDlse ? 7 : 0));
        var (oA, lseA, oB, lseB) = Parts(rng, b, t, hq, d);
        var (o, lse) = (Output([b, t, hq, d]), Output([b, hq, t]));
        Cpu.AttentionMerge(o, lse, oA, lseA, oB, lseB);
        var dout = Place(Uniform(rng, (long)b * t * hq * d, -1, 1), [b, t, hq, d]);
        var dlse = withDlse ? Place(Uniform(rng, (long)b * hq * t, -1, 1), [b, hq, t]) : null;

        Tensor[] Grads() => [Output([b, t, hq, d]), Output([b, hq, t]), Output([b, t, hq, d]), Output([b, hq, t])];
        var want = Grads();
        Cpu.AttentionMergeBackward(want[0], want[1], want[2], want[3], dout, dlse, oA, lseA, oB, lseB, o, lse);
        var got = Array.ConvertAll(Grads(), M);
        IlgpuDevice.Backend.AttentionMergeBackward(got[0], got[1], got[2], got[3], M(dout), dlse is null ? null : M(dlse), M(oA), M(lseA), M(oB), M(lseB), M(o), M(lse));
        string[] names = ["doA", "dlseA", "doB", "dlseB"];
        for (int i = 0; i < 4; i++)
            AssertClose(names[i], Read(want[i]), Read(IlgpuDevice.Back(got[i])), Tol);
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var gpu = IlgpuDevice.Backend;
        Tensor D(int[] shape, DType dtype = DType.F32, View view = View.Contiguous) => IlgpuDevice.Mirror(Output(shape, dtype, view));
        AssertThrows(() => gpu.AttentionMerge(D([1, 3, 2, 4]), D([1, 2, 3]), D([1, 3, 2, 4]), D([1, 2, 3]), D([1, 3, 2, 4]), D([1, 3, 2])),
            "attention_merge", "lse of part B must have shape [1, 2, 3]");
        AssertThrows(() => gpu.AttentionMerge(D([1, 3, 2, 4]), D([1, 2, 3]), D([1, 3, 2, 4], DType.BF16), D([1, 2, 3]), D([1, 3, 2, 4]), D([1, 2, 3])),
            "attention_merge", "o of part A must be float32", "bfloat16");
        AssertThrows(() => gpu.AttentionMerge(D([1, 3, 2, 4]), D([1, 2, 3]), D([1, 3, 2, 4], view: View.Transposed), D([1, 2, 3]), D([1, 3, 2, 4]), D([1, 2, 3])),
            "attention_merge", "must be contiguous");
        AssertThrows(() => gpu.AttentionMerge(D([1, 3, 2, 4]), Output([1, 2, 3]), D([1, 3, 2, 4]), D([1, 2, 3]), D([1, 3, 2, 4]), D([1, 2, 3])),
            "attention_merge", "must be on");
        var o = D([1, 3, 2, 4]);
        var lse = D([1, 2, 3]);
        AssertThrows(() => gpu.AttentionMergeBackward(o, lse, o, lse, o, D([1, 3, 2]), o, lse, o, lse, o, lse), "attention_merge_backward", "dlse must have shape");
    }

    /// <summary>Two parts with random o and lse in [−3, 3]; some rows −∞ in A only, in B only, or in both.</summary>
    private static (Tensor OA, Tensor LseA, Tensor OB, Tensor LseB) Parts(Random rng, int b, int t, int hq, int d)
    {
        long rows = (long)b * hq * t;
        var la = Uniform(rng, rows, -3, 3);
        var lb = Uniform(rng, rows, -3, 3);
        for (long r = 0; r < rows; r++)
        {
            switch (r % 4)
            {
                case 1: la[r] = double.NegativeInfinity; break;
                case 2: lb[r] = double.NegativeInfinity; break;
                case 3 when r % 8 == 3: la[r] = lb[r] = double.NegativeInfinity; break;
            }
        }
        long n = (long)b * t * hq * d;
        return (Place(Uniform(rng, n, -2, 2), [b, t, hq, d]), Place(la, [b, hq, t]), Place(Uniform(rng, n, -2, 2), [b, t, hq, d]), Place(lb, [b, hq, t]));
    }

    /// <summary>The D values of o at lse position r ([B, Hq, T] order).</summary>
    private static double[] RowOf(double[] o, int r, int t, int hq, int d)
    {
        int bi = r / (hq * t), h = r / t % hq, ti = r % t;
        return o.AsSpan((((bi * t) + ti) * hq + h) * d, d).ToArray();
    }

    private static Tensor M(Tensor t) => IlgpuDevice.Mirror(t);
}
