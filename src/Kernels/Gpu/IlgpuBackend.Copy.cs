using ILGPU;
using ILGPU.Runtime;
using CpuKernels = RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Kernels.Gpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// Within the device: one kernel (any strides, any dtypes). To or from the host: bytes move as they are when both
    /// sides are contiguous of one dtype; otherwise the host side is made contiguous (by the CPU backend, which also
    /// converts) and the device side by the copy kernel, so exactly one transfer crosses.
    /// </remarks>
    public void Copy(Tensor dst, Tensor src)
    {
        Check.Alive("copy", dst, src);
        bool toHere = dst.Device == Device, fromHere = src.Device == Device;
        if (!(toHere && (fromHere || src.Device.IsCpu) || fromHere && dst.Device.IsCpu))
            throw Check.Fail("copy", $"{Device} copies within itself and to and from the cpu only", dst, src);
        Check.SameShape("copy", dst, src);
        _lastOp = "copy";
        if (dst.Numel == 0)
            return;
        if (toHere && fromHere)
            CopyWithin(dst, src);
        else if (toHere)
            Upload(dst, src);
        else
            Download(dst, src);
    }

    /// <inheritdoc/>
    public unsafe void Fill(Tensor dst, double value)
    {
        Require("fill", dst);
        if (dst.Numel == 0)
            return;
        // The element's bits as the CPU backend writes them (its rounding into 16 bits from double included).
        long bits = 0;
        CpuKernels.Copy.Write((byte*)&bits, dst.DType, value);
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, Elems, Strided, long>(CopyKernels.Fill));
        k(Stream, Extent("fill", dst.Numel, dst), Elems(dst), Strided.Of("fill", dst), bits);
    }

    private void CopyWithin(Tensor dst, Tensor src)
    {
        if (dst.DType == src.DType && dst.IsContiguous && src.IsContiguous)
        {
            long n = dst.Numel * dst.DType.Size();
            ContiguousBytes(src).SubView(0, n).CopyTo(Stream, ContiguousBytes(dst).SubView(0, n));
            return;
        }
        var k = Kernel(static a => a.LoadAutoGroupedKernel<Index1D, Elems, Strided, Elems, Strided>(CopyKernels.Copy));
        k(Stream, Extent("copy", dst.Numel, dst, src), Elems(dst), Strided.Of("copy", dst), Elems(src), Strided.Of("copy", src));
    }

    private unsafe void Upload(Tensor dst, Tensor src)
    {
        if (dst.IsContiguous && src.IsContiguous && dst.DType == src.DType)
        {
            long n = dst.Numel * dst.DType.Size();
            ContiguousBytes(dst).SubView(0, n).CopyFromCPU(Stream, ref *(byte*)src.DataPointer, n);
            Stream.Synchronize(); // the host's bytes may change or be freed as soon as this returns
            return;
        }
        using var host = Tensor.Empty(src.ShapeArray, dst.DType, Device.Cpu).DetachFromScope();
        CpuKernels.Copy.Run(host, src);
        if (dst.IsContiguous)
        {
            Upload(dst, host);
            return;
        }
        using var staged = Tensor.Empty(src.ShapeArray, dst.DType, Device).DetachFromScope();
        Upload(staged, host);
        CopyWithin(dst, staged);
    }

    private unsafe void Download(Tensor dst, Tensor src)
    {
        if (!src.IsContiguous)
        {
            using var packed = Tensor.Empty(src.ShapeArray, src.DType, Device).DetachFromScope();
            CopyWithin(packed, src);
            Download(dst, packed);
            return;
        }
        if (dst.IsContiguous && dst.DType == src.DType)
        {
            long n = dst.Numel * dst.DType.Size();
            ContiguousBytes(src).SubView(0, n).CopyToCPU(Stream, ref *(byte*)dst.DataPointer, n);
            Synchronize(); // a read waits for the stream: where a kernel's fault report surfaces
            return;
        }
        using var host = Tensor.Empty(src.ShapeArray, src.DType, Device.Cpu).DetachFromScope();
        Download(host, src);
        CpuKernels.Copy.Run(dst, host);
    }

    /// <summary>The bytes of contiguous <paramref name="t"/> from its first element on.</summary>
    private static ArrayView<byte> ContiguousBytes(Tensor t)
    {
        var bytes = ((GpuStorage)t.Storage).Bytes;
        long start = t.Layout.Offset * t.DType.Size();
        return bytes.SubView(start, bytes.Length - start);
    }
}
