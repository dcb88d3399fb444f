using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        bool stream = dt == DType.F32 && Rows.Streams(plan, dst.Numel * ds);
        plan.ForEachRow(true, true, (o, n) =>
        {
            Row(d0 + o[0] * ds, plan.InnerStrides[0], dt, s0 + o[1] * ss, plan.InnerStrides[1], st, n, stream);
            Rows.Fence(stream);
        });
    }

    /// <summary>
    /// One row of n elements: dst stride sd (elements of dt), src stride ss (elements of st). With stream,
    /// contiguous float32 rows are written with non-temporal stores (see Rows.Streams).
    /// </summary>
    public static void Row(byte* d, long sd, DType dt, byte* s, long ss, DType st, int n, bool stream = false)
    {
        if (sd == 1 && ss == 1)
        {
            // bfloat16 widens in vectors; float32 takes this loop only to stream (memcpy is as fast otherwise).
            if (dt == DType.F32 && (st == DType.BF16 || st == DType.F32 && stream))
            {
                int i = Vector512.IsHardwareAccelerated ? ToFloat<V512>((float*)d, s, st, n, stream)
                      : Vector256.IsHardwareAccelerated ? ToFloat<V256>((float*)d, s, st, n, stream) : 0;
                ToFloat<V1>((float*)d + i, s + i * st.Size(), st, n - i, false);
                return;
            }
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
        if (dt == st)
        {
            // Same dtype: move the bits. Going through double would round I64 values past 2^53 (and
            // overflow on long.MaxValue).
            switch (dt.Size())
            {
                case 8: for (int i = 0; i < n; i++) ((ulong*)d)[i * sd] = ((ulong*)s)[i * ss]; break;
                case 4: for (int i = 0; i < n; i++) ((uint*)d)[i * sd] = ((uint*)s)[i * ss]; break;
                case 2: for (int i = 0; i < n; i++) ((ushort*)d)[i * sd] = ((ushort*)s)[i * ss]; break;
                default: for (int i = 0; i < n; i++) d[i * sd] = s[i * ss]; break;
            }
            return;
        }
        for (int i = 0; i < n; i++)
            Write(d + i * sd * dt.Size(), dt, Read(s + i * ss * st.Size(), st));
    }

    /// <summary>Whole TV vectors of a contiguous float32 or bfloat16 row into float32; returns how many elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ToFloat<TV>(float* d, byte* s, DType st, int n, bool stream) where TV : unmanaged, IVec<TV>
    {
        int i = 0;
        if (st == DType.BF16)
            for (; i <= n - TV.Count; i += TV.Count)
                TV.LoadBf16((ushort*)s + i).Store(d + i, stream);
        else
            for (; i <= n - TV.Count; i += TV.Count)
                TV.Load((float*)s + i).Store(d + i, stream);
        return i;
    }

    /// <summary>One element as double: exact for every float type and for integers below 2^53.</summary>
    public static double Read(byte* p, DType t) => t switch
    {
        // The (double) matters: without it the switch's type is float, and integers past 2^24 round.
        DType.F32 => (double)*(float*)p,
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
            case DType.BF16: *(ushort*)p = Numerics.FloatToBf16(ToFloatRoundOdd(v)); break;
            case DType.F16: *(ushort*)p = Numerics.FloatToF16(ToFloatRoundOdd(v)); break;
            case DType.I32: *(int*)p = checked((int)v); break;
            case DType.I64: *(long*)p = checked((long)v); break;
            default: *p = checked((byte)v); break;
        }
    }

    /// <summary>
    /// v as float32 rounded to odd: double → float → 16 bits would round twice (the integer
    /// 2^24 + 2^16 + 1 becomes the bf16 tie 2^24 + 2^16, then 2^24, not 2^24 + 2^17). An inexact
    /// result with its last bit forced to 1 keeps the lost bits' sign, so the second rounding is right.
    /// </summary>
    private static float ToFloatRoundOdd(double v)
    {
        float f = (float)v;
        if ((double)f == v || !float.IsFinite(f))
            return f; // exact, NaN, or far past every 16-bit format's overflow
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 1) == 0)
            u = Math.Abs((double)f) > Math.Abs(v) ? u - 1 : u + 1; // step toward v, onto the odd neighbour
        return BitConverter.UInt32BitsToSingle(u);
    }

    public static void Fill(Tensor dst, double value)
    {
        var plan = new StridedPlan(dst.Shape, dst.Strides.ToArray());
        byte* d0 = (byte*)dst.DataPointer;
        DType t = dst.DType;
        int size = t.Size();
        plan.ForEachRow(true, true, (o, n) =>
        {
            byte* d = d0 + o[0] * size;
            long sd = plan.InnerStrides[0];
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
