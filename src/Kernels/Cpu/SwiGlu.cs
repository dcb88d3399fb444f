using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>y = silu(gate)·up; backward dgate = dy·up·silu'(gate), dup = dy·silu(gate).</summary>
internal static unsafe class SwiGlu
{
    public static void Forward(Tensor y, Tensor gate, Tensor up)
    {
        CheckForward(y, gate, up);
        float* yp = (float*)y.DataPointer, gp = (float*)gate.DataPointer, upp = (float*)up.DataPointer;
        bool stream = Rows.Streams(y.Numel * sizeof(float));
        CpuThreads.ForRange(y.Numel, 16384, (lo, hi) =>
        {
            long i = Vector512.IsHardwareAccelerated ? Forward<V512>(yp, gp, upp, lo, hi, stream)
                   : Vector256.IsHardwareAccelerated ? Forward<V256>(yp, gp, upp, lo, hi, stream) : lo;
            Forward<V1>(yp, gp, upp, i, hi, false);
            Rows.Fence(stream);
        });
    }

    public static void Backward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
    {
        CheckBackward(dgate, dup, dy, gate, up);
        float* dgp = (float*)dgate.DataPointer, dupp = (float*)dup.DataPointer, dyp = (float*)dy.DataPointer;
        float* gp = (float*)gate.DataPointer, upp = (float*)up.DataPointer;
        bool stream = Rows.Streams(2 * dy.Numel * sizeof(float));
        CpuThreads.ForRange(dy.Numel, 16384, (lo, hi) =>
        {
            long i = Vector512.IsHardwareAccelerated ? Backward<V512>(dgp, dupp, dyp, gp, upp, lo, hi, stream)
                   : Vector256.IsHardwareAccelerated ? Backward<V256>(dgp, dupp, dyp, gp, upp, lo, hi, stream) : lo;
            Backward<V1>(dgp, dupp, dyp, gp, upp, i, hi, false);
            Rows.Fence(stream);
        });
    }

    /// <summary>Whole TV vectors of [lo, hi); returns where the rest starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Forward<TV>(float* y, float* gate, float* up, long lo, long hi, bool stream) where TV : unmanaged, IVec<TV>
    {
        long i = lo;
        for (; i <= hi - TV.Count; i += TV.Count)
        {
            var g = TV.Load(gate + i);
            (g * VMath.Sigmoid(g) * TV.Load(up + i)).Store(y + i, stream);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Backward<TV>(float* dgate, float* dup, float* dy, float* gate, float* up, long lo, long hi, bool stream) where TV : unmanaged, IVec<TV>
    {
        long i = lo;
        for (; i <= hi - TV.Count; i += TV.Count)
        {
            TV g = TV.Load(gate + i), d = TV.Load(dy + i), s = VMath.Sigmoid(g);
            (d * TV.Load(up + i) * VMath.SiluGrad(g, s)).Store(dgate + i, stream);
            (d * g * s).Store(dup + i, stream);
        }
        return i;
    }

    /// <summary>The forward's argument checks (every backend's): float32 contiguous operands of one shape.</summary>
    public static void CheckForward(Tensor y, Tensor gate, Tensor up) => Validate("swiglu", y, gate, up);

    /// <summary>The backward's argument checks (every backend's).</summary>
    public static void CheckBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
    {
        Validate("swiglu_backward", dgate, gate, up);
        Validate("swiglu_backward", dup, dy, up);
    }

    private static void Validate(string op, params Tensor[] ts)
    {
        foreach (var t in ts)
        {
            Check.F32(op, t, "operand");
            Check.Contiguous(op, t, "operand");
            Check.SameShape(op, t, ts[0]);
        }
    }
}
