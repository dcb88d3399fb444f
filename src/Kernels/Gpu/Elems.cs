using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// A tensor's elements of any dtype as one ILGPU kernel parameter: the view of its dtype is set (from the element at
/// its layout offset on), the others are empty, and <see cref="Kind"/> says which. Kernels that take several dtypes
/// (casts, bf16 weights) read and write float32 through it; the branch on Kind is uniform across a launch.
/// </summary>
public struct Elems
{
    /// <summary>F32 elements.</summary>
    public ArrayView<float> F;
    /// <summary>BF16 or F16 elements, as 16-bit words.</summary>
    public ArrayView<ushort> H;
    /// <summary>I32 elements.</summary>
    public ArrayView<int> I;
    /// <summary>I64 elements.</summary>
    public ArrayView<long> L;
    /// <summary>U8 elements.</summary>
    public ArrayView<byte> B;
    /// <summary>The <see cref="DType"/> as a byte.</summary>
    public byte Kind;

    /// <summary>True for BF16, F16 and F32.</summary>
    public readonly bool IsFloat => Kind <= (byte)DType.F16;

    /// <summary>Element <paramref name="i"/> as float32 (integers past 2²⁴ round).</summary>
    public readonly float Load(long i) => Kind switch
    {
        (byte)DType.F32 => F[i],
        (byte)DType.BF16 => Half16.Bf16ToFloat(H[i]),
        (byte)DType.F16 => Half16.F16ToFloat(H[i]),
        (byte)DType.I32 => I[i],
        (byte)DType.I64 => L[i],
        _ => B[i],
    };

    /// <summary>Element <paramref name="i"/> as an integer (floats truncate toward zero).</summary>
    public readonly long LoadInteger(long i) => Kind switch
    {
        (byte)DType.I32 => I[i],
        (byte)DType.I64 => L[i],
        (byte)DType.U8 => B[i],
        _ => (long)Load(i),
    };

    /// <summary>Writes <paramref name="v"/> at element <paramref name="i"/>, rounded to nearest even into 16 bits.</summary>
    public readonly void Store(long i, float v)
    {
        switch (Kind)
        {
            case (byte)DType.F32: F[i] = v; break;
            case (byte)DType.BF16: H[i] = Half16.FloatToBf16(v); break;
            case (byte)DType.F16: H[i] = Half16.FloatToF16(v); break;
            case (byte)DType.I32: I[i] = (int)v; break;
            case (byte)DType.I64: L[i] = (long)v; break;
            default: B[i] = (byte)v; break;
        }
    }

    /// <summary>Writes the integer <paramref name="v"/> at element <paramref name="i"/> (exactly, into integer dtypes).</summary>
    public readonly void StoreInteger(long i, long v)
    {
        switch (Kind)
        {
            case (byte)DType.I32: I[i] = (int)v; break;
            case (byte)DType.I64: L[i] = v; break;
            case (byte)DType.U8: B[i] = (byte)v; break;
            default: Store(i, v); break;
        }
    }
}
