using System.Numerics.Tensors;
using RawLongLoRA.Bench.Kernels;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Samples;

/// <summary>
/// A variant of the swiglu op: y = silu(gate) · up, and its backward, as separate TensorPrimitives passes over
/// memory (σ, ×gate, ×up, ...) split across the cores, where the backend's kernel makes one fused pass. It answers
/// "what does fusing buy?" in the bench's GB/s. Every other primitive runs on the CPU backend.
/// </summary>
internal sealed class SwiGluTensorPrimitives() : DelegatingBackend(CpuBackend.Instance)
{
    public override void SwiGlu(Tensor y, Tensor gate, Tensor up)
    {
        if (!Fits(y, gate, up))
        {
            base.SwiGlu(y, gate, up);
            return;
        }
        InChunks(y.Numel, (start, length) =>
        {
            Span<float> ys = Slice(y, start, length), g = Slice(gate, start, length), u = Slice(up, start, length);
            TensorPrimitives.Sigmoid(g, ys);   // σ(g)
            TensorPrimitives.Multiply(ys, g, ys); // silu(g) = g·σ(g)
            TensorPrimitives.Multiply(ys, u, ys); // silu(g)·up
        });
    }

    public override void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
    {
        if (!Fits(dgate, dup, dy, gate, up))
        {
            base.SwiGluBackward(dgate, dup, dy, gate, up);
            return;
        }
        InChunks(dy.Numel, (start, length) =>
        {
            Span<float> dg = Slice(dgate, start, length), du = Slice(dup, start, length), d = Slice(dy, start, length);
            Span<float> g = Slice(gate, start, length), u = Slice(up, start, length);
            TensorPrimitives.Sigmoid(g, dg);              // s = σ(g)
            TensorPrimitives.Multiply(g, dg, du);         // silu = g·s
            TensorPrimitives.Subtract(g, du, du);         // g − silu
            TensorPrimitives.MultiplyAdd(dg, du, dg, du); // silu'(g) = s·(g − silu) + s
            TensorPrimitives.Multiply(du, d, du);         // dy·silu'(g)
            TensorPrimitives.Multiply(du, u, dg);         // dgate = dy·up·silu'(g)
            TensorPrimitives.Sigmoid(g, du);
            TensorPrimitives.Multiply(du, g, du);
            TensorPrimitives.Multiply(du, d, du);         // dup = dy·silu(g)
        });
    }

    /// <summary>The fast path's condition: contiguous float32 host tensors of one size.</summary>
    private static bool Fits(params Tensor[] tensors) =>
        tensors.All(t => t.DType == DType.F32 && t.IsContiguous && t.Device.IsCpu && t.Numel == tensors[0].Numel);

    private static Span<float> Slice(Tensor t, int start, int length) => t.AsSpan<float>().Slice(start, length);

    /// <summary>Splits [0, count) into one contiguous chunk per CPU thread the kernels use.</summary>
    private static void InChunks(long count, Action<int, int> body)
    {
        int chunks = CpuThreads.Count;
        long per = (count + chunks - 1) / chunks;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, i =>
        {
            long start = i * per, end = Math.Min(count, start + per);
            if (end > start)
                body((int)start, (int)(end - start));
        });
    }
}
