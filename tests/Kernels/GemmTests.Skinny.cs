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
    public void Bf16_rounds_the_streamed_operand_to_nearest_even_exactly()
    {
        // The big operand holds exact ties between two bfloat16 values (and values beside them); the small one selects
        // elements, so C must hold each element rounded as Numerics.FloatToBf16 rounds it, bit for bit.
        const int big = 40, k = 32, small = 4;
        var rng = new Random(5);
        float Tie() => (rng.Next(2) == 0 ? -1 : 1) * (1f + (2 * rng.Next(64) + 1) / 256f + (rng.Next(3) - 1) / 65536f) * MathF.Pow(2, rng.Next(-20, 20));
        float* values = (float*)Alloc(big * k * 4), select = (float*)Alloc(k * small * 4), c = (float*)Alloc(big * small * 4);
        for (int e = 0; e < big * k; e++)
            values[e] = Tie();
        for (int j = 0; j < small; j++)
            select[j * small + j] = 1f;
        // Small n: C [big × small] = V [big × k] @ S [k × small] with V's rows streamed, so C[i, j] = V[i, j].
        Assert.True(GemmSkinny.TryRun(1, big, small, k, 1f, new GemmOperand(values, DType.F32, k, 1, 0), new GemmOperand(select, DType.F32, small, 1, 0),
            0f, new GemmOperand(c, DType.F32, small, 1, 0), bf16: true));
        AssertRounded(values, c, big, small, (i, j) => i * k + j);
        // Small m: C [small × big] = Sᵀ [small × k] @ V [k × big] with V's rows streamed, so C[i, j] = V[i, j]; C read transposed.
        Assert.True(GemmSkinny.TryRun(1, small, big, k, 1f, new GemmOperand(select, DType.F32, 1, small, 0), new GemmOperand(values, DType.F32, big, 1, 0),
            0f, new GemmOperand(c, DType.F32, 1, small, 0), bf16: true));
        AssertRounded(values, c, big, small, (i, j) => j * big + i);
    }

    /// <summary>C[i, j] (at i·small + j) equals the value at valueAt(i, j) rounded to bfloat16, bit for bit.</summary>
    private static void AssertRounded(float* values, float* c, int big, int small, Func<int, int, int> valueAt)
    {
        for (int i = 0; i < big; i++)
            for (int j = 0; j < small; j++)
            {
                float v = values[valueAt(i, j)], want = Numerics.Bf16ToFloat(Numerics.FloatToBf16(v));
                Assert.True(want == c[i * small + j], $"({i}, {j}) = {v:R}: got {c[i * small + j]:R}, want {want:R}");
            }
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
