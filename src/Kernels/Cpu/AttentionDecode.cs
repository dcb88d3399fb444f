using System.Runtime.CompilerServices;

namespace RawLongLoRA.Kernels.Cpu;

public static unsafe partial class Attention
{
    /// <summary>
    /// A few query rows (decoding with a KV cache; the odd rows at the end of a sequence), one at a time:
    /// a dot product per key and the online softmax over 16 keys at a time, K and V read in place. A
    /// 64-query tile would be almost all padding here. Float32 at bf16 too: bf16 packing would cost more than
    /// these few rows' products save (so a sequence's last ≤ 4 rows are float32 under autocast).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long ForwardRows<TV>(in Problem p, int bh, int t0, int rows)
        where TV : unmanaged, IVec<TV>
    {
        int b = bh / p.Hq, h = bh % p.Hq, kvh = p.KvHead(h), d = p.D;
        int* rowLo = p.RowLo(b, h);
        using var scratch = new Scratch(2L * d + 16);
        float* qs = scratch.Floats(d), acc = scratch.Floats(d), sc = scratch.Floats(16);
        long work = 0;
        for (int i = 0; i < rows; i++)
        {
            int t = t0 + i, hi = p.Hi(t);
            LoadRows<TV>(qs, d, p.Q + p.QIndex(b, t, h), 0, 1, d, p.Scale);
            new Span<float>(acc, d).Clear();
            float m = float.NegativeInfinity, l = 0;
            // The first key of a nonempty range is always seen, so m is finite from the first block on.
            for (int j0 = rowLo[t]; j0 <= hi; j0 += 16)
            {
                int n = Math.Min(16, hi - j0 + 1);
                // Rows sit Hkv·D floats apart, two or so to a page: fetched four blocks ahead, decoding over S = 32K runs 3× faster.
                Prefetch(p.K + p.KIndex(b, j0 + 64, kvh), p.Ldk, Math.Min(16, hi - j0 - 63), d);
                Prefetch(p.V + p.KIndex(b, j0 + 64, kvh), p.Ldk, Math.Min(16, hi - j0 - 63), d);
                for (int j = 0; j < 16; j++)
                    sc[j] = j < n ? Dot<TV>(qs, p.K + p.KIndex(b, j0 + j, kvh), d) : float.NegativeInfinity;
                float mNew = m;
                for (int v = 0; v < 16; v += TV.Count)
                    mNew = Math.Max(mNew, TV.Load(sc + v).MaxAcross());
                float sum = 0;
                for (int v = 0; v < 16; v += TV.Count)
                {
                    var e = VMath.ExpFlushToZero(TV.Load(sc + v) - TV.Splat(mNew));
                    e.Store(sc + v);
                    sum += e.Sum();
                }
                float alpha = MathF.Exp(m - mNew);
                l = l * alpha + sum;
                m = mNew;
                Axpy<TV>(acc, alpha, acc, d);
                for (int j = 0; j < n; j++)
                    Axpy<TV>(acc, sc[j], p.V + p.KIndex(b, j0 + j, kvh), d, accumulate: true);
            }
            // A row that saw no key (l = 0) gets o = 0 and lse = −∞.
            float* dst = p.O + p.QIndex(b, t, h);
            float inverse = l > 0 ? 1f / l : 0f;
            for (int c = 0; c < d; c++)
                dst[c] = acc[c] * inverse;
            p.Lse[p.LseIndex(b, h, t)] = m + MathF.Log(l);
            work += Math.Max(0, hi - rowLo[t] + 1);
        }
        return work;
    }

    private static float Dot<TV>(float* x, float* y, int n)
        where TV : unmanaged, IVec<TV>
    {
        int w = TV.Count;
        var acc = TV.Splat(0f);
        int c = 0;
        for (; c <= n - w; c += w)
            acc = TV.Fma(TV.Load(x + c), TV.Load(y + c), acc);
        float sum = acc.Sum();
        for (; c < n; c++)
            sum += x[c] * y[c];
        return sum;
    }

    /// <summary>dst = a·x (+ dst when accumulating), n floats; dst may be x.</summary>
    private static void Axpy<TV>(float* dst, float a, float* x, int n, bool accumulate = false)
        where TV : unmanaged, IVec<TV>
    {
        int w = TV.Count;
        var av = TV.Splat(a);
        int c = 0;
        for (; c <= n - w; c += w)
        {
            var ax = av * TV.Load(x + c);
            (accumulate ? ax + TV.Load(dst + c) : ax).Store(dst + c);
        }
        for (; c < n; c++)
            dst[c] = a * x[c] + (accumulate ? dst[c] : 0f);
    }
}
