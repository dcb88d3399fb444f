using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>The kernels of Copy (strided, casting) and Fill: one thread per element of the destination.</summary>
public static class CopyKernels
{
    /// <summary>dst[i] = src[i] over row-major position i of both layouts; integers stay exact between integer dtypes.</summary>
    [GpuKernel]
    public static void Copy(Index1D i, Elems dst, Strided d, Elems src, Strided s)
    {
        long o = d.Offset(i), p = s.Offset(i);
        if (dst.IsFloat || src.IsFloat)
            dst.Store(o, src.Load(p));
        else
            dst.StoreInteger(o, src.LoadInteger(p));
    }

    /// <summary>Writes the element bit pattern <paramref name="bits"/> (converted on the host, as the CPU does) everywhere.</summary>
    [GpuKernel]
    public static void Fill(Index1D i, Elems dst, Strided d, long bits)
    {
        long o = d.Offset(i);
        switch (dst.Kind)
        {
            case (byte)DType.F32: dst.F[o] = Interop.IntAsFloat((uint)bits); break;
            case (byte)DType.BF16 or (byte)DType.F16: dst.H[o] = (ushort)bits; break;
            case (byte)DType.I32: dst.I[o] = (int)bits; break;
            case (byte)DType.I64: dst.L[o] = bits; break;
            default: dst.B[o] = (byte)bits; break;
        }
    }
}
