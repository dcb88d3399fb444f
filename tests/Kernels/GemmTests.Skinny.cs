using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// <see cref="GemmSkinny"/> (products with a dim ≤ 16) against <see cref="GemmReference"/> for each of its forms,
/// in every transpose and C layout, odd sizes, alpha/beta, batches, BF16/F16 operands, at both precisions.
/// </summary>
public sealed unsafe partial class GemmTests
{
    // Small m, n or k, around the 16-lane and 4-column edges; the large ones (over 128 KiB streamed) use both threads.
    private static readonly (int M, int N, int K)[] SkinnySizes =
        [(1, 1, 1), (37, 5, 70), (5, 37, 70), (37, 70, 5), (33, 16, 47), (16, 65, 33), (70, 3, 1), (300, 8, 600), (8, 300, 600), (600, 300, 8), (512, 13, 2048)];

    public static TheoryData<Precision> Precisions() => new() { Precision.F32, Precision.Bf16 };

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Skinny_forms_transposes_and_layouts_match_the_reference(Precision precision)
    {
        foreach (var (m, n, k) in SkinnySizes)
            for (int t = 0; t < 8; t++)
                CheckSkinny(new Case(1, m, n, k) { TransA = (t & 1) != 0, TransB = (t & 2) != 0, ColMajorC = (t & 4) != 0 }, precision);
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Skinny_alpha_beta_dtypes_and_batches(Precision precision)
    {
        foreach (var (alpha, beta) in new[] { (0.5f, -1.5f), (-2f, 1f) })
        {
            CheckSkinny(new Case(1, 300, 8, 64) { Alpha = alpha, Beta = beta, TransB = true }, precision);
            CheckSkinny(new Case(1, 300, 64, 8) { Alpha = alpha, Beta = beta, TransB = true }, precision);
            CheckSkinny(new Case(1, 8, 300, 64) { Alpha = alpha, Beta = beta, TransA = true }, precision);
            CheckSkinny(new Case(1, 64, 8, 300) { Alpha = alpha, Beta = beta, TransA = true }, precision);
        }
        foreach (var (ta, tb) in new[] { (DType.BF16, DType.BF16), (DType.F16, DType.F32), (DType.F32, DType.BF16), (DType.BF16, DType.F16) })
        {
            CheckSkinny(new Case(1, 45, 7, 83) { TypeA = ta, TypeB = tb, TransB = true }, precision);
            CheckSkinny(new Case(1, 7, 83, 45) { TypeA = ta, TypeB = tb }, precision);
            CheckSkinny(new Case(1, 83, 45, 7) { TypeA = ta, TypeB = tb, TransA = true }, precision);
            CheckSkinny(new Case(1, 83, 7, 45) { TypeA = ta, TypeB = tb, TransA = true }, precision);
        }
        CheckSkinny(new Case(3, 40, 8, 50) { BroadcastB = true, Beta = 0.25f }, precision);
        CheckSkinny(new Case(2, 8, 40, 50) { BroadcastA = true, TransA = true }, precision);
        CheckSkinny(new Case(2, 40, 50, 8) { ColMajorC = true, Beta = 2f }, precision);
    }

    [Fact]
    public void Rank_r_products_take_the_skinny_forms_and_others_the_driver()
    {
        const int t = 2048, d = 512, r = 8;
        var rowMajor = new GemmOperand(null, DType.F32, d, 1, 0);
        // (m, n, k, A, B, C as LoRA's forward and backward pass them) → the form serving them.
        var cases = new (int M, int N, int K, GemmOperand A, GemmOperand B, GemmOperand C, GemmSkinny.Form Form)[]
        {
            (t, r, d, rowMajor, new(null, DType.F32, 1, d, 0), new(null, DType.F32, r, 1, 0), GemmSkinny.Form.SmallN),  // x·Aᵀ
            (t, d, r, new(null, DType.F32, r, 1, 0), new(null, DType.F32, 1, r, 0), rowMajor, GemmSkinny.Form.SmallK),  // t·Bᵀ
            (t, r, d, rowMajor, new(null, DType.F32, r, 1, 0), new(null, DType.F32, r, 1, 0), GemmSkinny.Form.SmallN),  // u = dY·B
            (t, d, r, new(null, DType.F32, r, 1, 0), rowMajor, rowMajor, GemmSkinny.Form.SmallK),                       // dX += u·A
            (r, d, t, new(null, DType.F32, 1, r, 0), rowMajor, rowMajor, GemmSkinny.Form.SmallM),                       // dA = uᵀ·x
            (d, r, t, new(null, DType.F32, 1, d, 0), new(null, DType.F32, r, 1, 0), new(null, DType.F32, r, 1, 0), GemmSkinny.Form.SmallM), // dB = dYᵀ·t
            (t, d, d, rowMajor, rowMajor, rowMajor, GemmSkinny.Form.None),                                              // no small dim
            (t, r, d, new(null, DType.F32, 2 * d, 2, 0), rowMajor, rowMajor, GemmSkinny.Form.None),                     // no unit stride to stream
        };
        foreach (var (m0, n0, k, a0, b0, c0, form) in cases)
        {
            var (m, n, a, b, c) = (m0, n0, a0, b0, c0);
            Assert.Equal(form, GemmSkinny.Plan(ref m, ref n, k, ref a, ref b, ref c));
        }
    }

    private void CheckSkinny(Case t, Precision precision) => Check("skinny", t, precision, long.MaxValue, (a, b, c) =>
        Assert.True(GemmSkinny.TryRun(t.Batch, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, precision == Precision.Bf16), $"skinny declined {t}"));
}
