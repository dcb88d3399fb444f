namespace RawLongLoRA.Kernels.Cpu;

/// <summary>y = silu(gate)·up; backward dgate = dy·up·silu'(gate), dup = dy·silu(gate).</summary>
internal static unsafe class SwiGlu
{
    public static void Forward(Tensor y, Tensor gate, Tensor up)
    {
        Validate("swiglu", y, gate, up);
        float* yp = (float*)y.DataPointer, gp = (float*)gate.DataPointer, up0 = (float*)up.DataPointer;
        CpuThreads.ForRange(y.Numel, 16384, (lo, hi) =>
        {
            for (long i = lo; i < hi; i++)
            {
                float g = gp[i];
                yp[i] = g * VMath.Sigmoid(g) * up0[i];
            }
        });
    }

    public static void Backward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up)
    {
        Validate("swiglu_backward", dgate, gate, up);
        Validate("swiglu_backward", dup, dy, up);
        float* dgp = (float*)dgate.DataPointer, dup0 = (float*)dup.DataPointer, dyp = (float*)dy.DataPointer;
        float* gp = (float*)gate.DataPointer, upp = (float*)up.DataPointer;
        CpuThreads.ForRange(dy.Numel, 16384, (lo, hi) =>
        {
            for (long i = lo; i < hi; i++)
            {
                float g = gp[i], d = dyp[i], u = upp[i];
                dgp[i] = d * u * VMath.SiluGrad(g);
                dup0[i] = d * g * VMath.Sigmoid(g);
            }
        });
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
