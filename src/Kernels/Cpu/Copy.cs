using System.Numerics.Tensors;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Strided copy with dtype conversion (round to nearest even into BF16/F16), and fill.</summary>
internal static unsafe class Copy
{
    public static void Run(Tensor dst, Tensor src)
    {
        Check.SameShape("copy", dst, src);
        var plan = new StridedPlan(dst.Shape, dst.Strides.ToArray(), src.Strides.ToArray());
        byte* d0 = (byte*)dst.DataPointer, s0 = (byte*)src.DataPointer;
        DType dt = dst.DType, st = src.DType;
        int ds = dt.Size(), ss = st.Size();
        plan.ForEachRow(true, (_, o) =>
            Row(d0 + o[0] * ds, plan.InnerStrides[0], dt, s0 + o[1] * ss, plan.InnerStrides[1], st, plan.Inner));
    }

    /// <summary>One row of n elements: dst stride sd (elements of dt), src stride ss (elements of st).</summary>
    public static void Row(byte* d, long sd, DType dt, byte* s, long ss, DType st, int n)
    {
        if (sd == 1 && ss == 1)
        {
            if (dt == st)
            {
                Buffer.MemoryCopy(s, d, (long)n * dt.Size(), (long)n * dt.Size());
                return;
            }
            if (dt == DType.F32 && st == DType.F16)
            {
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(s, n), new Span<float>(d, n));
                return;
            }
            if (dt == DType.F16 && st == DType.F32)
            {
                TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(s, n), new Span<Half>(d, n));
                return;
            }
        }
        if (dt == DType.F32 && st == DType.BF16)
        {
            float* dp = (float*)d;
            ushort* sp = (ushort*)s;
            for (int i = 0; i < n; i++)
                dp[i * sd] = Numerics.Bf16ToFloat(sp[i * ss]);
            return;
        }
        if (dt == DType.BF16 && st == DType.F32)
        {
            ushort* dp = (ushort*)d;
            float* sp = (float*)s;
            for (int i = 0; i < n; i++)
                dp[i * sd] = Numerics.FloatToBf16(sp[i * ss]);
            return;
        }
        for (int i = 0; i < n; i++)
            Write(d + i * sd * dt.Size(), dt, Read(s + i * ss * st.Size(), st));
    }

    /// <summary>One element as double: exact for every float type and for integers below 2^53.</summary>
    public static double Read(byte* p, DType t) => t switch
    {
        DType.F32 => *(float*)p,
        DType.BF16 => Numerics.Bf16ToFloat(*(ushort*)p),
        DType.F16 => Numerics.F16ToFloat(*(ushort*)p),
        DType.I32 => *(int*)p,
        DType.I64 => *(long*)p,
        _ => *p,
    };

    public static void Write(byte* p, DType t, double v)
    {
        switch (t)
        {
            case DType.F32: *(float*)p = (float)v; break;
            case DType.BF16: *(ushort*)p = Numerics.FloatToBf16((float)v); break;
            case DType.F16: *(ushort*)p = Numerics.FloatToF16((float)v); break;
            case DType.I32: *(int*)p = checked((int)v); break;
            case DType.I64: *(long*)p = checked((long)v); break;
            default: *p = checked((byte)v); break;
        }
    }

    public static void Fill(Tensor dst, double value)
    {
        var plan = new StridedPlan(dst.Shape, dst.Strides.ToArray());
        byte* d0 = (byte*)dst.DataPointer;
        DType t = dst.DType;
        int size = t.Size();
        plan.ForEachRow(true, (_, o) =>
        {
            byte* d = d0 + o[0] * size;
            long sd = plan.InnerStrides[0];
            int n = plan.Inner;
            if (sd == 1 && t == DType.F32)
            {
                new Span<float>(d, n).Fill((float)value);
                return;
            }
            for (int i = 0; i < n; i++)
                Write(d + i * sd * size, t, value);
        });
    }
}
