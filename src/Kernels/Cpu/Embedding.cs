namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Row gather from an embedding table (any float dtype) and its scatter-add backward.</summary>
internal static unsafe class Embedding
{
    public static void Gather(Tensor y, Tensor weight, Tensor ids)
    {
        const string op = "embedding";
        var idx = Ids(op, ids, weight);
        Check.F32(op, y, "output");
        Check.Shape(op, y, "output", idx.Length, weight.Shape[1]);
        Check.Contiguous(op, y, "output");
        Check.Float(op, weight, "weight");
        int d = weight.Shape[1];
        byte* wp = (byte*)weight.DataPointer, yp = (byte*)y.DataPointer;
        long rowStride = weight.Strides[0] * weight.DType.Size(), colStride = weight.Strides[1];
        CpuThreads.ForRange(idx.Length, Math.Max(1, 16384 / Math.Max(d, 1)), (lo, hi) =>
        {
            for (long n = lo; n < hi; n++)
                Copy.Row(yp + n * d * sizeof(float), 1, DType.F32, wp + idx[n] * rowStride, colStride, weight.DType, d);
        });
    }

    public static void ScatterAdd(Tensor dweight, Tensor dy, Tensor ids)
    {
        const string op = "embedding_backward";
        var idx = Ids(op, ids, dweight);
        Check.F32(op, dweight, "dweight");
        Check.F32(op, dy, "dy");
        Check.Contiguous(op, dweight, "dweight");
        Check.Contiguous(op, dy, "dy");
        int d = dweight.Shape[1];
        Check.Shape(op, dy, "dy", idx.Length, d);
        float* wp = (float*)dweight.DataPointer, gp = (float*)dy.DataPointer;
        // Columns are split across threads: rows repeat in ids, columns never collide.
        CpuThreads.ForRange(d, 64, (c0, c1) =>
        {
            for (long n = 0; n < idx.Length; n++)
            {
                float* dst = wp + idx[n] * d, src = gp + n * d;
                for (long c = c0; c < c1; c++)
                    dst[c] += src[c];
            }
        });
    }

    private static long[] Ids(string op, Tensor ids, Tensor table)
    {
        Check.Index(op, ids, "ids");
        Check.Rank(op, ids, "ids", 1);
        Check.Rank(op, table, "table [vocab, dim]", 2);
        var idx = ids.DType == DType.I64 ? ids.ToArray<long>() : Array.ConvertAll(ids.ToArray<int>(), v => (long)v);
        int v = table.Shape[0];
        foreach (long i in idx)
            if (i < 0 || i >= v)
                throw Check.Fail(op, $"token id {i} is outside the vocabulary of {v}", ids, table);
        return idx;
    }
}
