using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Row gather from an embedding table (any float dtype) and its scatter-add backward.</summary>
internal static unsafe class Embedding
{
    public static void Gather(Tensor y, Tensor weight, Tensor ids)
    {
        var idx = CheckGather(y, weight, ids);
        int d = weight.Shape[1];
        byte* wp = (byte*)weight.DataPointer, yp = (byte*)y.DataPointer;
        long rowStride = weight.Strides[0] * weight.DType.Size(), colStride = weight.Strides[1];
        bool stream = Rows.Streams(y.Numel * sizeof(float));
        Rows.For(idx.Length, d, (lo, hi) =>
        {
            for (long n = lo; n < hi; n++)
                Copy.Row(yp + n * d * sizeof(float), 1, DType.F32, wp + idx[n] * rowStride, colStride, weight.DType, d, stream);
            Rows.Fence(stream);
        });
    }

    /// <summary>
    /// Rows of dweight are split across threads, each summing its rows' gradients in token order: the
    /// result does not depend on the thread count, and every row is added to as a whole, in vectors.
    /// </summary>
    public static void ScatterAdd(Tensor dweight, Tensor dy, Tensor ids)
    {
        var idx = CheckScatterAdd(dweight, dy, ids);
        int d = dweight.Shape[1];
        float* wp = (float*)dweight.DataPointer, gp = (float*)dy.DataPointer;
        // Tokens ordered by id, then by position: each distinct id's tokens form one run, in token order.
        var order = new int[idx.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        Array.Sort(order, (a, b) => idx[a] != idx[b] ? idx[a].CompareTo(idx[b]) : a.CompareTo(b));
        var runs = new List<int>();
        for (int i = 0; i < order.Length; i++)
            if (i == 0 || idx[order[i]] != idx[order[i - 1]])
                runs.Add(i);
        runs.Add(order.Length);
        Rows.For(runs.Count - 1, d, (lo, hi) =>
        {
            for (long r = lo; r < hi; r++)
                for (int k = runs[(int)r]; k < runs[(int)r + 1]; k++)
                {
                    float* dst = wp + idx[order[k]] * d, src = gp + (long)order[k] * d;
                    int j = Vector512.IsHardwareAccelerated ? AddRow<V512>(dst, src, d) : Vector256.IsHardwareAccelerated ? AddRow<V256>(dst, src, d) : 0;
                    AddRow<V1>(dst + j, src + j, d - j);
                }
        });
    }

    /// <summary>dst += src over whole TV vectors; returns how many elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int AddRow<TV>(float* dst, float* src, int n) where TV : unmanaged, IVec<TV>
    {
        int j = 0;
        for (; j <= n - TV.Count; j += TV.Count)
            (TV.Load(dst + j) + TV.Load(src + j)).Store(dst + j);
        return j;
    }

    /// <summary>
    /// The gather's argument checks on the host: <see cref="CheckGatherShapes"/>, and every id inside the vocabulary
    /// (read here; a device tensor's ids would be copied down). Returns the ids.
    /// </summary>
    public static long[] CheckGather(Tensor y, Tensor weight, Tensor ids)
    {
        CheckGatherShapes(y, weight, ids);
        return InVocabulary("embedding", ids, weight);
    }

    /// <summary>
    /// The gather's checks that need no element (every backend's): ids [N] I32/I64, weight [V, D] of any float dtype and
    /// strides, y [N, D] float32 contiguous. The ids' values are each backend's to check: the CPU reads them, a GPU
    /// kernel reports one out of range.
    /// </summary>
    public static void CheckGatherShapes(Tensor y, Tensor weight, Tensor ids)
    {
        const string op = "embedding";
        IdsShape(op, ids, weight);
        Check.F32(op, y, "output");
        Check.Shape(op, y, "output", ids.Shape[0], weight.Shape[1]);
        Check.Contiguous(op, y, "output");
        Check.Float(op, weight, "weight");
    }

    /// <summary>The scatter-add's argument checks on the host: <see cref="CheckScatterAddShapes"/> and the ids' range. Returns the ids.</summary>
    public static long[] CheckScatterAdd(Tensor dweight, Tensor dy, Tensor ids)
    {
        CheckScatterAddShapes(dweight, dy, ids);
        return InVocabulary("embedding_backward", ids, dweight);
    }

    /// <summary>The scatter-add's checks that need no element (every backend's): dweight [V, D] and dy [N, D] float32 contiguous.</summary>
    public static void CheckScatterAddShapes(Tensor dweight, Tensor dy, Tensor ids)
    {
        const string op = "embedding_backward";
        IdsShape(op, ids, dweight);
        Check.F32(op, dweight, "dweight");
        Check.F32(op, dy, "dy");
        Check.Contiguous(op, dweight, "dweight");
        Check.Contiguous(op, dy, "dy");
        Check.Shape(op, dy, "dy", ids.Shape[0], dweight.Shape[1]);
    }

    private static void IdsShape(string op, Tensor ids, Tensor table)
    {
        Check.Index(op, ids, "ids");
        Check.Rank(op, ids, "ids", 1);
        Check.Rank(op, table, "table [vocab, dim]", 2);
    }

    private static long[] InVocabulary(string op, Tensor ids, Tensor table)
    {
        var idx = ids.DType == DType.I64 ? ids.ToArray<long>() : Array.ConvertAll(ids.ToArray<int>(), v => (long)v);
        int v = table.Shape[0];
        foreach (long i in idx)
            if (i < 0 || i >= v)
                throw Check.Fail(op, $"token id {i} is outside the vocabulary of {v}", ids, table);
        return idx;
    }
}
