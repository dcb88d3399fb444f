using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// GEMMs with one dimension of at most <see cref="MaxSmall"/> — LoRA's rank-r products x·Aᵀ, t·Bᵀ, dY·B, u·A,
/// uᵀ·x and dYᵀ·t. They do ~r multiply-adds per element of the big operand, so they are bound by memory, and the
/// packed driver (which repacks the big operand into panels and pads the small dim to a whole tile) runs them at a
/// fraction of the bandwidth. Here the small operand is packed once into float32 (a few KiB, L1) and the big one
/// streamed once, in place, by rows split across the threads. Written on Vector512: <see cref="Gemm"/> sends products
/// here only where the AVX-512 families run. The loops are compiled optimized from the first call (a bench's first
/// calls, and a short run's, would otherwise time tier-0 code).
/// </summary>
internal static unsafe class GemmSkinny
{
    /// <summary>The largest small dim served.</summary>
    public const int MaxSmall = 16;

    private const int Lanes = 16;

    // Columns per step of the small-k and small-m forms: four zmm, four independent FMA chains.
    private const int Strip = 4 * Lanes;

    // Bytes of the big operand per parallel chunk: a thread hand-off costs microseconds, a chunk should cost tens.
    private const long ChunkBytes = 512 * 1024;

    /// <summary>How the product is computed once it is oriented so that the big operand has unit column stride.</summary>
    internal enum Form
    {
        /// <summary>Not served: no dim ≤ MaxSmall, or the operand streamed has no unit stride.</summary>
        None,
        /// <summary>k small: each row of C is a combination of the k rows of B (C rows contiguous).</summary>
        SmallK,
        /// <summary>n small: each element of C is a dot product of a contiguous row of A with a column of B.</summary>
        SmallN,
        /// <summary>m small: C accumulates outer products of A's columns with contiguous rows of B.</summary>
        SmallM,
    }

    /// <summary>
    /// The form that serves this product, transposing it (Cᵀ = Bᵀ Aᵀ) where that gives the streamed operand unit
    /// column stride; None leaves it to the packed driver.
    /// </summary>
    internal static Form Plan(ref int m, ref int n, int k, ref GemmOperand a, ref GemmOperand b, ref GemmOperand c)
    {
        int small = Math.Min(k, Math.Min(m, n));
        if (small > MaxSmall)
            return Form.None;
        Form form, transposedForm;
        bool direct, flipped;
        if (k == small)
            (form, transposedForm, direct, flipped) = (Form.SmallK, Form.SmallK, c.ColStride == 1, c.RowStride == 1);
        else if (n == small)
            (form, transposedForm, direct, flipped) = (Form.SmallN, Form.SmallM, a.ColStride == 1, a.RowStride == 1);
        else
            (form, transposedForm, direct, flipped) = (Form.SmallM, Form.SmallN, b.ColStride == 1, b.RowStride == 1);
        if (direct)
            return form;
        if (!flipped)
            return Form.None;
        (a, b) = (b.Transposed, a.Transposed);
        (m, n) = (n, m);
        c = c.Transposed;
        return transposedForm;
    }

    /// <summary>
    /// <see cref="Gemm.Run"/>'s contract for an already validated, non-empty product with k &gt; 0; returns false,
    /// having done nothing, where <see cref="Plan"/> declines. <paramref name="bf16"/>: operands rounded to
    /// bfloat16 (nearest even) as they are read, products summed in float32.
    /// </summary>
    public static bool TryRun(int batch, int m, int n, int k, float alpha, GemmOperand a, GemmOperand b, float beta, GemmOperand c, bool bf16)
    {
        var form = Plan(ref m, ref n, k, ref a, ref b, ref c);
        if (form == Form.None)
            return false;
        var p = new Problem(m, n, k, alpha, beta, a, b, c, bf16);
        for (int bi = 0; bi < batch; bi++)
        {
            switch (form)
            {
                case Form.SmallK: SmallK(p, bi); break;
                case Form.SmallN: SmallN(p, bi); break;
                default: SmallM(p, bi); break;
            }
        }
        return true;
    }

    private sealed record Problem(int M, int N, int K, float Alpha, float Beta, GemmOperand A, GemmOperand B, GemmOperand C, bool Bf16);

    /// <summary>C[i, :] = alpha · Σp A[i, p] · B[p, :] + beta · C[i, :], B packed [k × n]; C has unit column stride.</summary>
    private static void SmallK(Problem p, int bi)
    {
        int n = p.N, k = p.K;
        using var packed = Pack(p.B, bi, k, n, transpose: false, p.Bf16, out long ld);
        float* bp = packed.Ptr;
        float* c0 = (float*)p.C.Item(bi);
        // float32 A is read in place (k strided loads a row); other dtypes and bf16 go through Read.
        float* a0 = p.A.Type == DType.F32 && !p.Bf16 ? (float*)p.A.Item(bi) : null;
        long aRow = p.A.RowStride, aCol = p.A.ColStride;
        long cRow = p.C.RowStride;
        CpuThreads.ForRange(p.M, RowsPerChunk(n), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (lo, hi) =>
        {
            float* ai = stackalloc float[2 * MaxSmall];
            float* tail = stackalloc float[Lanes];
            for (long i = lo; i < hi; i += 2)
            {
                // Two rows at a time share each load of B; a lone last row is computed twice and stored once.
                bool two = i + 1 < hi;
                for (int r = 0; r < 2; r++)
                    for (int q = 0; q < k; q++)
                    {
                        long row = two ? i + r : i;
                        ai[r * MaxSmall + q] = a0 != null ? a0[row * aRow + q * aCol] : Read(p.A, bi, row, q, p.Bf16);
                    }
                float* ci = c0 + i * cRow, cn = two ? ci + cRow : null;
                int j = 0;
                for (; j + Strip <= n; j += Strip)
                    Combine4(ai, ai + MaxSmall, bp + j, k, ld, ci + j, cn == null ? null : cn + j, p.Alpha, p.Beta);
                Rest(ai, bp, k, ld, ci, j, n, p.Alpha, p.Beta, tail);
                if (two)
                    Rest(ai + MaxSmall, bp, k, ld, cn!, j, n, p.Alpha, p.Beta, tail);
            }
        });
    }

    /// <summary>Columns j.. of one row of C after the four-vector steps: whole vectors, then the last partial one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rest(float* ai, float* bp, int k, long ld, float* ci, int j, int n, float alpha, float beta, float* tail)
    {
        for (; j + Lanes <= n; j += Lanes)
            Finish(Combine(ai, bp + j, k, ld), ci + j, alpha, beta);
        if (j < n)
        {
            // The packed rows are padded to whole vectors; C's last partial vector goes through a buffer.
            var sum = Combine(ai, bp + j, k, ld);
            for (int q = 0; q < n - j; q++)
                tail[q] = ci[q + j];
            Finish(sum, tail, alpha, beta);
            for (int q = 0; q < n - j; q++)
                ci[q + j] = tail[q];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Combine(float* ai, float* bj, int k, long ld)
    {
        var sum = Vector512<float>.Zero;
        for (int q = 0; q < k; q++)
            sum = Vector512.FusedMultiplyAdd(Vector512.Create(ai[q]), Vector512.Load(bj + q * ld), sum);
        return sum;
    }

    /// <summary>
    /// Combine on four vectors of two rows of C at once (c1 null: one row, a1 ignored): eight independent FMA chains,
    /// each load of B feeding two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Combine4(float* a0, float* a1, float* bj, int k, long ld, float* c0, float* c1, float alpha, float beta)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
        for (int q = 0; q < k; q++)
        {
            var x = Vector512.Create(a0[q]);
            var y = Vector512.Create(a1[q]);
            float* b = bj + q * ld;
            var w = Vector512.Load(b);
            s0 = Vector512.FusedMultiplyAdd(x, w, s0); t0 = Vector512.FusedMultiplyAdd(y, w, t0);
            w = Vector512.Load(b + Lanes);
            s1 = Vector512.FusedMultiplyAdd(x, w, s1); t1 = Vector512.FusedMultiplyAdd(y, w, t1);
            w = Vector512.Load(b + 2 * Lanes);
            s2 = Vector512.FusedMultiplyAdd(x, w, s2); t2 = Vector512.FusedMultiplyAdd(y, w, t2);
            w = Vector512.Load(b + 3 * Lanes);
            s3 = Vector512.FusedMultiplyAdd(x, w, s3); t3 = Vector512.FusedMultiplyAdd(y, w, t3);
        }
        Finish(s0, c0, alpha, beta);
        Finish(s1, c0 + Lanes, alpha, beta);
        Finish(s2, c0 + 2 * Lanes, alpha, beta);
        Finish(s3, c0 + 3 * Lanes, alpha, beta);
        if (c1 == null)
            return;
        Finish(t0, c1, alpha, beta);
        Finish(t1, c1 + Lanes, alpha, beta);
        Finish(t2, c1 + 2 * Lanes, alpha, beta);
        Finish(t3, c1 + 3 * Lanes, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector512<float> sum, float* c, float alpha, float beta)
    {
        var y = sum * alpha;
        if (beta != 0f)
            y = Vector512.FusedMultiplyAdd(Vector512.Load(c), Vector512.Create(beta), y);
        y.Store(c);
    }

    /// <summary>
    /// C[i, j] = alpha · A[i, :] · B[:, j] + beta · C[i, j] with A's rows contiguous, two rows at a time against
    /// four packed columns of B (Bᵀ [n × k], zero-padded to whole vectors), so each load feeds two FMAs.
    /// </summary>
    private static void SmallN(Problem p, int bi)
    {
        int n = p.N, k = p.K;
        int kv = (k + Lanes - 1) / Lanes * Lanes;
        using var packed = Pack(p.B, bi, k, n, transpose: true, p.Bf16, out long ld);
        float* bt = packed.Ptr;
        byte* a0 = (byte*)p.A.Item(bi);
        long rowBytes = p.A.RowStride * p.A.Type.Size();
        bool direct = p.A.Type == DType.F32 && !p.Bf16 && k % Lanes == 0;
        float* c0 = (float*)p.C.Item(bi);
        long cRow = p.C.RowStride, cCol = p.C.ColStride;
        CpuThreads.ForRange((p.M + 1) / 2, RowsPerChunk(k) / 2 + 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (lo, hi) =>
        {
            using var widened = new Rented(direct ? 0 : 2 * kv);
            float* rows = widened.Ptr;
            float* sums = stackalloc float[8];
            for (long pair = lo; pair < hi; pair++)
            {
                long i0 = 2 * pair, i1 = Math.Min(i0 + 1, p.M - 1);
                float* r0 = direct ? (float*)(a0 + i0 * rowBytes) : Widen(a0 + i0 * rowBytes, p.A.Type, k, kv, rows, p.Bf16);
                float* r1 = direct ? (float*)(a0 + i1 * rowBytes) : Widen(a0 + i1 * rowBytes, p.A.Type, k, kv, rows + kv, p.Bf16);
                for (int j = 0; j < n; j += 4)
                {
                    Dots(r0, r1, bt, ld, j, n, kv, sums);
                    for (int q = 0; q < 4 && j + q < n; q++)
                    {
                        Store(c0 + i0 * cRow + (j + q) * cCol, sums[q], p.Alpha, p.Beta);
                        if (i1 != i0)
                            Store(c0 + i1 * cRow + (j + q) * cCol, sums[4 + q], p.Alpha, p.Beta);
                    }
                }
            }
        });
    }

    /// <summary>Rows r0 and r1 against packed columns j..j+3 (the last column repeated past n): 8 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dots(float* r0, float* r1, float* bt, long ld, int j, int n, int kv, float* sums)
    {
        float* b0 = bt + j * ld, b1 = bt + Math.Min(j + 1, n - 1) * ld, b2 = bt + Math.Min(j + 2, n - 1) * ld, b3 = bt + Math.Min(j + 3, n - 1) * ld;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        for (int q = 0; q < kv; q += Lanes)
        {
            var x0 = Vector512.Load(r0 + q);
            var x1 = Vector512.Load(r1 + q);
            var w = Vector512.Load(b0 + q);
            s00 = Vector512.FusedMultiplyAdd(x0, w, s00); s10 = Vector512.FusedMultiplyAdd(x1, w, s10);
            w = Vector512.Load(b1 + q);
            s01 = Vector512.FusedMultiplyAdd(x0, w, s01); s11 = Vector512.FusedMultiplyAdd(x1, w, s11);
            w = Vector512.Load(b2 + q);
            s02 = Vector512.FusedMultiplyAdd(x0, w, s02); s12 = Vector512.FusedMultiplyAdd(x1, w, s12);
            w = Vector512.Load(b3 + q);
            s03 = Vector512.FusedMultiplyAdd(x0, w, s03); s13 = Vector512.FusedMultiplyAdd(x1, w, s13);
        }
        (sums[0], sums[1], sums[2], sums[3]) = (Vector512.Sum(s00), Vector512.Sum(s01), Vector512.Sum(s02), Vector512.Sum(s03));
        (sums[4], sums[5], sums[6], sums[7]) = (Vector512.Sum(s10), Vector512.Sum(s11), Vector512.Sum(s12), Vector512.Sum(s13));
    }

    /// <summary>
    /// C[:, j] = alpha · Σp A[:, p] ⊗ B[p, j] + beta · C[:, j] with B's rows contiguous: the k rows of B are cut into
    /// chunks, each streamed in order, whole rows at a time, into its own m × n partial sums (L1/L2-sized for LoRA's
    /// shapes); the partials are then added in chunk order, so the result does not depend on which thread ran what.
    /// </summary>
    private static void SmallM(Problem p, int bi)
    {
        int m = p.M, n = p.N, k = p.K;
        int nv = (n + Strip - 1) / Strip * Strip;
        using var packed = Pack(p.A, bi, m, k, transpose: true, p.Bf16, out long ld);
        float* ap = packed.Ptr;
        long partial = (long)m * nv;
        long chunkRows = Math.Max(1, ChunkBytes / ((long)n * p.B.Type.Size()));
        int chunks = (int)Math.Min((k + chunkRows - 1) / chunkRows, 4L * CpuThreads.Count);
        using var partials = new Rented(chunks * partial);
        float* sums = partials.Ptr;
        byte* b0 = (byte*)p.B.Item(bi);
        long rowBytes = p.B.RowStride * p.B.Type.Size();
        bool direct = p.B.Type == DType.F32 && !p.Bf16 && n % Strip == 0;
        int used = CpuThreads.ForChunks(k, (k + chunks - 1) / chunks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk, lo, hi) =>
        {
            float* own = sums + chunk * partial;
            new Span<float>(own, (int)partial).Clear();
            // Four widened rows, then a row of zeros for the steps past hi.
            using var widened = new Rented(5 * nv);
            float* zeros = widened.Ptr + 4 * nv;
            new Span<float>(zeros, nv).Clear();
            var rows = stackalloc float*[4];
            var cols = stackalloc float*[4];
            for (long q = lo; q < hi; q += 4)
            {
                // Four rows of B a step, so each partial sum is loaded and stored once per four FMAs; past hi, zeros
                // times zeros add exactly nothing (a real row there could hold an infinity: 0 · ∞ is NaN).
                for (int t = 0; t < 4; t++)
                {
                    byte* src = b0 + (q + t) * rowBytes;
                    rows[t] = q + t >= hi ? zeros : direct ? (float*)src : Widen(src, p.B.Type, n, nv, widened.Ptr + t * nv, p.Bf16);
                    cols[t] = q + t < hi ? ap + (q + t) * ld : zeros;
                }
                for (int j0 = 0; j0 < nv; j0 += Strip)
                    Outer(cols, m, rows, j0, own + j0, nv);
            }
        });
        var total = new Span<float>(sums, (int)partial);
        float* c0 = (float*)p.C.Item(bi);
        for (int c = 1; c < used; c++)
            TensorPrimitives.Add(total, new ReadOnlySpan<float>(sums + c * partial, (int)partial), total);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Store(c0 + i * p.C.RowStride + j * p.C.ColStride, sums[i * nv + j], p.Alpha, p.Beta);
    }

    /// <summary>
    /// sums[i, 0..64) += Σt a[t][i] · b[t][j0..j0+64) for i &lt; m and four rows b[t] of B with their columns a[t] of A
    /// (A packed [k × m]); sums' rows are ld apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Outer(float** a, int m, float** b, int j0, float* sums, long ld)
    {
        float* b0 = b[0] + j0, b1 = b[1] + j0, b2 = b[2] + j0, b3 = b[3] + j0;
        float* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        for (int v = 0; v < Strip; v += Lanes)
        {
            var w0 = Vector512.Load(b0 + v);
            var w1 = Vector512.Load(b1 + v);
            var w2 = Vector512.Load(b2 + v);
            var w3 = Vector512.Load(b3 + v);
            for (int i = 0; i < m; i++)
            {
                float* s = sums + i * ld + v;
                var acc = Vector512.FusedMultiplyAdd(Vector512.Create(a0[i]), w0, Vector512.Load(s));
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(a1[i]), w1, acc);
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(a2[i]), w2, acc);
                Vector512.FusedMultiplyAdd(Vector512.Create(a3[i]), w3, acc).Store(s);
            }
        }
    }

    /// <summary>*c = alpha · sum + beta · *c, c never read when beta is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float sum, float alpha, float beta) => *c = beta == 0f ? alpha * sum : alpha * sum + beta * *c;

    /// <summary>Rows of the big operand per parallel chunk, for rows of <paramref name="width"/> floats.</summary>
    private static long RowsPerChunk(int width) => Math.Max(1, ChunkBytes / ((long)width * sizeof(float)));

    /// <summary>
    /// The small operand o [rows × cols] as float32 (bf16-rounded where asked), row-major with rows padded to whole
    /// vectors and zeros in the padding, or transposed ([cols × rows]) when asked; ld is the padded row length.
    /// </summary>
    private static Rented Pack(in GemmOperand o, int bi, int rows, int cols, bool transpose, bool bf16, out long ld)
    {
        int outRows = transpose ? cols : rows, outCols = transpose ? rows : cols;
        ld = (outCols + Lanes - 1) / Lanes * Lanes;
        long count = outRows * ld;
        var buffer = new Rented(count);
        float* packed = buffer.Ptr;
        new Span<float>(packed, (int)count).Clear();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                packed[transpose ? c * ld + r : r * ld + c] = Read(o, bi, r, c, bf16);
        return buffer;
    }

    /// <summary>
    /// Floats rented from the host's caching allocator: fresh pages fault, and on this VM faults are dear (see
    /// <see cref="GemmBuffers"/>); none for a count of 0.
    /// </summary>
    private readonly struct Rented : IDisposable
    {
        private readonly long _bytes;

        public Rented(long floats)
        {
            _bytes = floats * sizeof(float);
            Ptr = floats == 0 ? null : (float*)HostAllocator.Shared.Rent(_bytes, zero: false);
        }

        public float* Ptr { get; }

        public void Dispose()
        {
            if (Ptr != null)
                HostAllocator.Shared.Return((nint)Ptr, _bytes);
        }
    }

    private static float Read(in GemmOperand o, int bi, long r, long c, bool bf16)
    {
        long at = bi * o.BatchStride + r * o.RowStride + c * o.ColStride;
        float v = o.Type switch
        {
            DType.F32 => ((float*)o.Ptr)[at],
            DType.BF16 => Numerics.Bf16ToFloat(((ushort*)o.Ptr)[at]),
            _ => Numerics.F16ToFloat(((ushort*)o.Ptr)[at]),
        };
        return bf16 ? Numerics.Bf16ToFloat(Numerics.FloatToBf16(v)) : v;
    }

    /// <summary>
    /// <paramref name="count"/> contiguous elements of a row as float32 into dst (bf16-rounded where asked), zeros
    /// up to <paramref name="padded"/>; returns dst.
    /// </summary>
    private static float* Widen(byte* src, DType type, int count, int padded, float* dst, bool bf16)
    {
        switch (type, bf16)
        {
            case (DType.F32, false): Widen<F32Element>(src, count, dst); break;
            case (DType.F32, true): RoundToBf16((float*)src, count, dst); break;
            case (DType.BF16, _): Widen<Bf16Element>(src, count, dst); break;
            case (_, false): Widen<F16Element>(src, count, dst); break;
            default: Widen<Bf16Rounded<F16Element>>(src, count, dst); break;
        }
        new Span<float>(dst + count, padded - count).Clear();
        return dst;
    }

    /// <summary>
    /// Bf16Rounded&lt;F32Element&gt; on sixteen lanes at a time (the hot case: float32 activations under bf16 autocast),
    /// by the pair packing's rounding (<see cref="GemmPackBf16.Round"/>) with the low half cleared.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RoundToBf16(float* src, int count, float* dst)
    {
        int i = 0;
        for (; i + Lanes <= count; i += Lanes)
            (GemmPackBf16.Round(Vector512.Load(src + i)) & Vector512.Create(0xFFFF0000u)).AsSingle().Store(dst + i);
        for (; i < count; i++)
            dst[i] = Bf16Rounded<F32Element>.Load(src, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Widen<TE>(void* src, int count, float* dst) where TE : struct, IGemmElement
    {
        int i = 0;
        for (; i + 8 <= count; i += 8)
            TE.Load8(src, i).Store(dst + i);
        for (; i < count; i++)
            dst[i] = TE.Load(src, i);
    }
}
