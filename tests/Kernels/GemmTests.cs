using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cpu;
using Xunit;

namespace RawLongLoRA.Tests.Kernels;

/// <summary>
/// The packed GEMM against GemmReference for every micro-kernel this CPU runs: odd sizes around the
/// tile and block edges, transposes as strides, BF16/F16 operands, batches with broadcast, alpha/beta,
/// and a C whose gaps between rows must stay untouched.
/// </summary>
public sealed unsafe partial class GemmTests : IDisposable
{
    private readonly List<nint> _blocks = [];

    public void Dispose()
    {
        foreach (var p in _blocks)
            NativeMemory.Free((void*)p);
    }

    public static TheoryData<GemmIsa> Isas()
    {
        var data = new TheoryData<GemmIsa>();
        foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Scalar })
            if (Gemm.IsSupported(isa))
                data.Add(isa);
        return data;
    }

    private static readonly (int M, int N, int K)[] OddSizes =
        [(1, 1, 1), (7, 1, 33), (1, 7, 33), (7, 33, 5), (33, 7, 257), (257, 33, 7), (14, 32, 16), (15, 33, 17), (29, 65, 513)];

    private static readonly (DType A, DType B)[] DTypePairs =
        [(DType.F32, DType.F32), (DType.BF16, DType.BF16), (DType.F16, DType.F32), (DType.F32, DType.BF16)];

    [Theory]
    [MemberData(nameof(Isas))]
    public void Odd_sizes_transposes_and_dtypes_match_reference(GemmIsa isa)
    {
        foreach (var (m, n, k) in OddSizes)
            foreach (var (ta, tb) in DTypePairs)
                for (int t = 0; t < 4; t++)
                    Check(isa, new Case(1, m, n, k) { TypeA = ta, TypeB = tb, TransA = (t & 1) != 0, TransB = (t & 2) != 0 });
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Alpha_and_beta_across_k_and_m_blocks(GemmIsa isa)
    {
        // 300 × 70 × 600: several MC row blocks, two KC slices (beta applies once), enough FLOPs for threads.
        foreach (var (alpha, beta) in new[] { (1f, 0f), (0.5f, -1.5f), (-2f, 1f) })
        {
            Check(isa, new Case(1, 37, 45, 70) { Alpha = alpha, Beta = beta, TransB = true });
            Check(isa, new Case(1, 300, 70, 600) { Alpha = alpha, Beta = beta, TransA = true });
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Batches_with_stride_0_broadcast(GemmIsa isa)
    {
        // Small items run one per thread; large ones one after another, each split across threads.
        Check(isa, new Case(3, 20, 30, 40) { BroadcastA = true, Beta = 0.25f });
        Check(isa, new Case(6, 60, 50, 120) { BroadcastB = true, TransB = true });
        Check(isa, new Case(2, 230, 260, 600) { BroadcastB = true, TypeB = DType.BF16 }, samples: 3000);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Column_major_C(GemmIsa isa)
    {
        Check(isa, new Case(1, 45, 31, 19) { ColMajorC = true, Beta = 2f });
        Check(isa, new Case(2, 9, 70, 33) { ColMajorC = true, TransA = true, TypeA = DType.F16 });
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Skinny_LoRA_and_wide_shapes(GemmIsa isa)
    {
        Check(isa, new Case(1, 300, 8, 64) { TransB = true });              // x @ Aᵀ, rank 8: computed as Cᵀ
        Check(isa, new Case(1, 300, 64, 8) { TransB = true, Beta = 1f });   // h @ Bᵀ, k = rank
        Check(isa, new Case(1, 8, 300, 64) { TransA = true });              // dA = dhᵀ x
        Check(isa, new Case(1, 3, 8300, 100));                              // threads split n, each past one NC block
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Half_and_bfloat16_operands_convert_exactly(GemmIsa isa)
    {
        // A holds every finite float16 bit pattern (subnormals and -0 included); B is the identity.
        const int k = 32, m = 63488 / k;
        foreach (var type in new[] { DType.F16, DType.BF16 })
        {
            foreach (bool transA in new[] { false, true })
            {
                ushort* a = (ushort*)Alloc((long)m * k * 2);
                int bits = 0;
                for (long i = 0; i < (long)m * k; i++, bits++)
                {
                    if ((bits & 0x7C00) == 0x7C00)
                        bits += 0x400; // skip Inf/NaN exponents: Inf · 0 would make the row NaN
                    a[i] = (ushort)bits;
                }
                float* b = (float*)Alloc((long)k * k * 4);
                for (int i = 0; i < k; i++)
                    b[i * k + i] = 1f;
                float* c = (float*)Alloc((long)m * k * 4);
                var opA = transA ? new GemmOperand(a, type, 1, m, 0) : new GemmOperand(a, type, k, 1, 0);
                Gemm.RunWith(isa, 1, m, k, k, 1f, opA, new GemmOperand(b, DType.F32, k, 1, 0), 0f, new GemmOperand(c, DType.F32, k, 1, 0));
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        ushort h = a[transA ? (long)j * m + i : (long)i * k + j];
                        float want = type == DType.F16 ? Numerics.F16ToFloat(h) : Numerics.Bf16ToFloat(h);
                        Assert.True(want == c[(long)i * k + j], $"{isa} {type} transA={transA}: 0x{h:X4} gave {c[(long)i * k + j]}, want {want}");
                    }
                }
            }
        }
    }

    [Fact]
    public void K_0_or_alpha_0_scales_C_by_beta()
    {
        float* c = (float*)Alloc(4 * 4);
        var op = new GemmOperand(c, DType.F32, 2, 1, 0);
        c[0] = c[1] = c[2] = c[3] = 3f;
        Gemm.Run(1, 2, 2, 0, 1f, default, default, 0.5f, op);
        Assert.Equal(new[] { 1.5f, 1.5f, 1.5f, 1.5f }, new Span<float>(c, 4).ToArray());
        c[0] = c[1] = c[2] = c[3] = float.NaN;
        float* x = (float*)Alloc(4 * 4);
        Gemm.Run(1, 2, 2, 2, 0f, new GemmOperand(x, DType.F32, 2, 1, 0), new GemmOperand(x, DType.F32, 2, 1, 0), 0f, op);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, new Span<float>(c, 4).ToArray());
    }

    [Fact]
    public void Bad_dtypes_and_a_shared_output_are_rejected()
    {
        float* p = (float*)Alloc(64);
        var f = new GemmOperand(p, DType.F32, 2, 1, 0);
        var ints = new GemmOperand(p, DType.I32, 2, 1, 0);
        Assert.Contains("int32", Assert.Throws<ArgumentException>(() => Gemm.Run(1, 2, 2, 2, 1f, ints, f, 0f, f)).Message);
        Assert.Contains("bfloat16", Assert.Throws<ArgumentException>(() => Gemm.Run(1, 2, 2, 2, 1f, f, f, 0f, f with { Type = DType.BF16 })).Message);
        Assert.Contains("batch stride 0", Assert.Throws<ArgumentException>(() => Gemm.Run(2, 2, 2, 2, 1f, f, f, 0f, f)).Message);
    }

    private sealed record Case(int Batch, int M, int N, int K)
    {
        public DType TypeA { get; init; } = DType.F32;
        public DType TypeB { get; init; } = DType.F32;
        public bool TransA { get; init; }
        public bool TransB { get; init; }
        public bool BroadcastA { get; init; }
        public bool BroadcastB { get; init; }
        public bool ColMajorC { get; init; }
        public float Alpha { get; init; } = 1f;
        public float Beta { get; init; }
    }

    private void Check(GemmIsa isa, Case t, long samples = long.MaxValue) => Check(isa, t, Precision.F32, samples);

    /// <summary>
    /// Runs case t at <paramref name="precision"/> and compares with the reference at the same precision.
    /// </summary>
    private void Check(GemmIsa isa, Case t, Precision precision, long samples = long.MaxValue) => Check(isa.ToString(), t, precision, samples, (a, b, c) =>
        Gemm.RunWith(isa, t.Batch, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, precision));

    /// <summary>Case t computed by <paramref name="run"/>(A, B, C) against the reference at <paramref name="precision"/>.</summary>
    private void Check(string kernel, Case t, Precision precision, long samples, Action<GemmOperand, GemmOperand, GemmOperand> run)
    {
        var rng = new Random(t.GetHashCode());
        var a = Matrix(t.TypeA, t.Batch, t.M, t.K, t.TransA, t.BroadcastA, rng);
        var b = Matrix(t.TypeB, t.Batch, t.K, t.N, t.TransB, t.BroadcastB, rng);
        var c = Matrix(DType.F32, t.Batch, t.M, t.N, t.ColMajorC, broadcast: false, rng);
        if (t.Beta == 0f)
            new Span<float>(c.Op.Ptr, (int)(c.Bytes / 4)).Fill(float.NaN);
        var before = Clone(c);
        run(a.Op, b.Op, c.Op);
        double err = GemmReference.MaxError(t.Batch, t.M, t.N, t.K, t.Alpha, a.Op, b.Op, t.Beta, before.Op, c.Op, samples, precision);
        Assert.True(err <= GemmReference.Tolerance(t.K), $"{kernel} {t} at {precision}: normalised error {err:E2} > {GemmReference.Tolerance(t.K):E2}");
        AssertGapsUntouched(t, before, c);
    }

    /// <summary>Every float of C's block that is not an element of C (the padding between rows) keeps its bits.</summary>
    private static void AssertGapsUntouched(Case t, Mat before, Mat after)
    {
        var inside = new bool[after.Bytes / 4];
        var op = after.Op;
        for (long bi = 0; bi < t.Batch; bi++)
            for (long i = 0; i < t.M; i++)
                for (long j = 0; j < t.N; j++)
                    inside[bi * op.BatchStride + i * op.RowStride + j * op.ColStride] = true;
        var was = new Span<int>(before.Op.Ptr, inside.Length);
        var now = new Span<int>(after.Op.Ptr, inside.Length);
        for (int e = 0; e < inside.Length; e++)
            Assert.True(inside[e] || was[e] == now[e], $"{t}: wrote outside C at float {e}");
    }

    private readonly record struct Mat(GemmOperand Op, long Bytes);

    /// <summary>
    /// A rows × cols matrix (per batch item, or one shared when broadcast) of values in [-1, 1], stored
    /// row-major, or column-major when transposed, with a leading dimension 3 past the minimum.
    /// </summary>
    private Mat Matrix(DType type, int batch, int rows, int cols, bool transposed, bool broadcast, Random rng)
    {
        long outer = transposed ? cols : rows, ld = (transposed ? rows : cols) + 3;
        long itemElems = outer * ld, elems = itemElems * (broadcast ? 1 : batch);
        void* p = Alloc(elems * type.Size());
        for (long e = 0; e < elems; e++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1);
            switch (type)
            {
                case DType.F32: ((float*)p)[e] = v; break;
                case DType.BF16: ((ushort*)p)[e] = Numerics.FloatToBf16(v); break;
                default: ((ushort*)p)[e] = Numerics.FloatToF16(v); break;
            }
        }
        var op = transposed ? new GemmOperand(p, type, 1, ld, broadcast ? 0 : itemElems) : new GemmOperand(p, type, ld, 1, broadcast ? 0 : itemElems);
        return new Mat(op, elems * type.Size());
    }

    private Mat Clone(Mat m)
    {
        void* p = Alloc(m.Bytes);
        Buffer.MemoryCopy(m.Op.Ptr, p, m.Bytes, m.Bytes);
        return m with { Op = m.Op with { Ptr = p } };
    }

    private void* Alloc(long bytes)
    {
        void* p = NativeMemory.AllocZeroed((nuint)Math.Max(bytes, 1));
        _blocks.Add((nint)p);
        return p;
    }
}
