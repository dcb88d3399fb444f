using static RawLongLoRA.Bench.Kernels.OpsCases;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// Embedding gather of N ids from a [V, D] table (float32, or bfloat16 as checkpoints ship) into float32
/// rows, and its scatter-add backward into a float32 [V, D] gradient; one id in five repeats an earlier
/// one. Gather moves the N table rows in and the output out; scatter-add moves dy in and every distinct
/// gradient row in and out. The gather is checked exactly on sampled rows, the scatter-add's sums in double.
/// </summary>
internal static unsafe class EmbeddingCase
{
    public static OpCase Make(int n, int v, int d, DType table, bool quick) =>
        new($"embedding {Dims(n)} from {Dims(v, d)} {table.TorchName()}", quick, be => Runs(be, n, v, d, table));

    private static OpRun[] Runs(IBackend be, int n, int v, int d, DType table)
    {
        var rng = new Random(7);
        var ids = new long[n];
        for (int i = 0; i < n; i++)
            ids[i] = i % 5 == 4 ? ids[i / 2] : rng.Next(v);
        int distinct = ids.Distinct().Count();
        var gen = new Generator(7);
        var w = Tensor.Uniform([v, d], -1, 1, gen);
        if (table != DType.F32)
        {
            var narrow = Tensor.Empty([v, d], table);
            be.Copy(narrow, w);
            w.Dispose();
            w = narrow;
        }
        var idt = Tensor.FromArray(ids);
        var y = Tensor.Empty([n, d]);
        void Gather() => be.EmbeddingGather(y, w, idt);

        double CheckGather()
        {
            Gather();
            float* yp = F(y);
            byte* wp = (byte*)w.DataPointer;
            var check = new OpsCheck();
            foreach (long t in OpsCheck.Sample(n, 64))
                for (long j = 0; j < d; j++)
                {
                    long k = ids[t] * d + j;
                    // bfloat16 is the top half of a float32: widening is a shift.
                    float e = table == DType.F32 ? ((float*)wp)[k] : BitConverter.UInt32BitsToSingle((uint)((ushort*)wp)[k] << 16);
                    check.Add(e, yp[t * d + j]);
                }
            return check.Error;
        }

        var peerGather = Request("embedding", "fwd", n, v, d);
        peerGather["dtype"] = table.TorchName();
        var gather = new OpRun("fwd", (double)n * d * (table.Size() + 4) + 8.0 * n, Gather, CheckGather, peerGather) { Tolerance = 0 };
        if (table != DType.F32)
            return [gather];

        var dw = Tensor.Empty([v, d]);
        var dy = Tensor.Uniform([n, d], -1, 1, gen);
        void Scatter() => be.EmbeddingScatterAdd(dw, dy, idt);

        double CheckScatter()
        {
            be.Fill(dw, 0);
            Scatter();
            float* dwp = F(dw), dyp = F(dy);
            var check = new OpsCheck();
            foreach (long row in OpsCheck.Sample(n, 64).Select(t => ids[t]).Distinct())
                for (long j = 0; j < d; j++)
                {
                    double sum = 0;
                    for (int t = 0; t < n; t++)
                        if (ids[t] == row)
                            sum += dyp[(long)t * d + j];
                    check.Add(sum, dwp[row * d + j]);
                }
            return check.Error;
        }

        return [gather, new OpRun("bwd", 4.0 * n * d + 8.0 * distinct * d + 8.0 * n, Scatter, CheckScatter, Request("embedding", "bwd", n, v, d))];
    }
}
