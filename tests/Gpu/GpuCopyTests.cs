using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>Copy (strided, casting, both directions) and Fill on the ILGPU backend, against the CPU backend's.</summary>
public sealed class GpuCopyTests
{
    public static TheoryData<DType, DType, View, View> Pairs()
    {
        var d = new TheoryData<DType, DType, View, View>();
        foreach (var (to, from) in new[] { (DType.F32, DType.F32), (DType.BF16, DType.F32), (DType.F32, DType.BF16), (DType.F16, DType.F32), (DType.F32, DType.F16), (DType.I64, DType.I32), (DType.I32, DType.I64), (DType.F32, DType.I64) })
            foreach (var (vd, vs) in new[] { (View.Contiguous, View.Contiguous), (View.Padded, View.Transposed), (View.Stepped, View.Reversed) })
                d.Add(to, from, vd, vs);
        return d;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void CopyWithinTheDeviceMatchesTheCpu(DType to, DType from, View dstView, View srcView)
    {
        using var scope = new DisposeScope();
        int[] shape = [3, 5, 7];
        var values = Source(shape, from);
        var src = Place(values, shape, from, srcView);
        var want = Output(shape, to, dstView);
        Cpu.Copy(want, src);
        var dst = IlgpuDevice.Mirror(Output(shape, to, dstView));
        IlgpuDevice.Backend.Copy(dst, IlgpuDevice.Mirror(src));
        var got = IlgpuDevice.Back(dst);
        AssertExact($"copy {from}→{to}", Read(want), Read(got));
        AssertGapsUntouched(got, "copy");
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void CopyToAndFromTheHostMatchesTheCpu(DType to, DType from, View dstView, View srcView)
    {
        using var scope = new DisposeScope();
        int[] shape = [4, 6];
        var src = Place(Source(shape, from), shape, from, srcView);
        var want = Output(shape, to, dstView);
        Cpu.Copy(want, src);

        // Up: a host source into a (strided, poisoned) device tensor.
        var up = IlgpuDevice.Mirror(Output(shape, to, dstView));
        IlgpuDevice.Backend.Copy(up, src);
        AssertExact("host → device", Read(want), Read(IlgpuDevice.Back(up)));
        AssertGapsUntouched(IlgpuDevice.Back(up), "host → device");

        // Down: a device source into a (strided, poisoned) host tensor.
        var down = Output(shape, to, dstView);
        IlgpuDevice.Backend.Copy(down, IlgpuDevice.Mirror(src));
        AssertExact("device → host", Read(want), Read(down));
        AssertGapsUntouched(down, "device → host");
    }

    [Theory]
    [InlineData(DType.F32, View.Padded, 1.5)]
    [InlineData(DType.BF16, View.Stepped, 3.14159)]
    [InlineData(DType.F16, View.Transposed, -2.7182818)]
    [InlineData(DType.I64, View.Reversed, 123456789012)]
    [InlineData(DType.I32, View.Contiguous, -7)]
    [InlineData(DType.U8, View.Padded, 200)]
    public void FillMatchesTheCpu(DType dtype, View view, double value)
    {
        using var scope = new DisposeScope();
        int[] shape = [5, 3];
        var want = Output(shape, dtype, view);
        Cpu.Fill(want, value);
        var got = IlgpuDevice.Mirror(Output(shape, dtype, view));
        IlgpuDevice.Backend.Fill(got, value);
        var back = IlgpuDevice.Back(got);
        AssertExact("fill", Read(want), Read(back));
        AssertGapsUntouched(back, "fill");
    }

    [Fact]
    public void CopyBetweenTwoOutsideDevicesIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var (strict, _) = StrictDevice.New();
        var a = Tensor.Zeros([2], device: strict);
        var b = IlgpuDevice.Mirror(Tensor.Zeros([2]));
        AssertThrows(() => IlgpuDevice.Backend.Copy(b, a), "copy", "to and from the cpu only");
    }

    private static double[] Source(int[] shape, DType dtype)
    {
        var rng = new Random(shape.Sum() + (int)dtype);
        var v = Uniform(rng, BackendReference.Numel(shape), -300, 300);
        return dtype.IsFloat() ? Round(v, dtype) : Array.ConvertAll(v, Math.Round);
    }
}
