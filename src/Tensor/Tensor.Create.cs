namespace RawLongLoRA;

// Creation: every new tensor is a leaf; random ones draw from a Philox generator.
public sealed partial class Tensor
{
    /// <summary>
    /// A new contiguous tensor of <paramref name="shape"/> with uninitialised elements, on <paramref name="device"/>
    /// (default: the CPU). It belongs to the current <see cref="DisposeScope"/>, if any; else the caller disposes it.
    /// </summary>
    public static Tensor Empty(int[] shape, DType dtype = DType.F32, Device? device = null)
    {
        var dev = device ?? Device.Cpu;
        var layout = Layout.Contiguous((int[])shape.Clone());
        return new Tensor(dev.Backend.Allocate(layout.Numel * dtype.Size()), layout, dtype);
    }

    /// <summary>
    /// A new uninitialised tensor with <paramref name="t"/>'s shape and device, of <paramref name="dtype"/> (default:
    /// t's).
    /// </summary>
    public static Tensor EmptyLike(Tensor t, DType? dtype = null) => Empty(t.ShapeArray, dtype ?? t.DType, t.Device);

    /// <summary>
    /// A new tensor of <paramref name="shape"/> with every element <paramref name="value"/>; a leaf that wants a
    /// gradient when <paramref name="requiresGrad"/> (floating dtypes only).
    /// </summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.F32, Device? device = null, bool requiresGrad = false)
    {
        var t = Empty(shape, dtype, device);
        t.Device.Backend.Fill(t, value);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>A new tensor of zeros; see <see cref="Full"/>.</summary>
    public static Tensor Zeros(int[] shape, DType dtype = DType.F32, Device? device = null, bool requiresGrad = false)
        => Full(shape, 0, dtype, device, requiresGrad);

    /// <summary>A new tensor of ones; see <see cref="Full"/>.</summary>
    public static Tensor Ones(int[] shape, DType dtype = DType.F32, Device? device = null, bool requiresGrad = false)
        => Full(shape, 1, dtype, device, requiresGrad);

    /// <summary>
    /// A new tensor of zeros with <paramref name="t"/>'s shape and device, of <paramref name="dtype"/> (default:
    /// t's).
    /// </summary>
    public static Tensor ZerosLike(Tensor t, DType? dtype = null) => Zeros(t.ShapeArray, dtype ?? t.DType, t.Device);

    /// <summary>A 0-dim tensor.</summary>
    public static Tensor Scalar(float value, Device? device = null, bool requiresGrad = false) => Full([], value, DType.F32, device, requiresGrad);

    /// <summary>start, start+step, … below end (as torch.arange), I64 unless told otherwise.</summary>
    public static Tensor Arange(long start, long end, long step = 1, DType dtype = DType.I64, Device? device = null)
    {
        if (step == 0 || (end - start) / (double)step < 0)
            throw new ArgumentException($"arange: empty or endless range start={start} end={end} step={step}");
        long n = (end - start + step - Math.Sign(step)) / step;
        var values = new double[n];
        for (long i = 0; i < n; i++)
            values[i] = start + i * step;
        return FromDoubles(values, [checked((int)n)], dtype, device);
    }

    /// <summary>0, 1, …, end − 1: see <see cref="Arange(long, long, long, DType, Device?)"/>.</summary>
    public static Tensor Arange(long end, DType dtype = DType.I64, Device? device = null) => Arange(0, end, 1, dtype, device);

    /// <summary>
    /// A new tensor holding a copy of <paramref name="data"/> (row-major) in <paramref name="shape"/> (default: 1-D),
    /// converted to <paramref name="dtype"/> (F32, BF16 or F16) on <paramref name="device"/>.
    /// </summary>
    public static Tensor FromArray(float[] data, int[]? shape = null, DType dtype = DType.F32, Device? device = null, bool requiresGrad = false)
    {
        var t = FromHost<float>(data, shape, DType.F32, dtype, device);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>
    /// A new I32 tensor holding a copy of <paramref name="data"/> (row-major) in <paramref name="shape"/> (default:
    /// 1-D).
    /// </summary>
    public static Tensor FromArray(int[] data, int[]? shape = null, Device? device = null) => FromHost<int>(data, shape, DType.I32, DType.I32, device);

    /// <summary>
    /// A new I64 tensor holding a copy of <paramref name="data"/> (row-major) in <paramref name="shape"/> (default:
    /// 1-D): token ids, targets, positions.
    /// </summary>
    public static Tensor FromArray(long[] data, int[]? shape = null, Device? device = null) => FromHost<long>(data, shape, DType.I64, DType.I64, device);

    /// <summary>
    /// A new U8 tensor holding a copy of <paramref name="data"/> (row-major) in <paramref name="shape"/> (default:
    /// 1-D).
    /// </summary>
    public static Tensor FromArray(byte[] data, int[]? shape = null, Device? device = null) => FromHost<byte>(data, shape, DType.U8, DType.U8, device);

    /// <summary>Raw 16-bit patterns as BF16 or F16.</summary>
    public static Tensor FromBits(ushort[] bits, int[] shape, DType dtype, Device? device = null)
    {
        if (dtype is not (DType.BF16 or DType.F16))
            throw new ArgumentException($"from_bits: dtype must be bfloat16 or float16, not {dtype.TorchName()}");
        return FromHost<ushort>(bits, shape, dtype, dtype, device);
    }

    private static Tensor FromDoubles(double[] values, int[] shape, DType dtype, Device? device)
    {
        return dtype switch
        {
            DType.I64 => FromArray(Array.ConvertAll(values, v => (long)v), shape, device),
            DType.I32 => FromArray(Array.ConvertAll(values, v => (int)v), shape, device),
            DType.U8 => FromArray(Array.ConvertAll(values, v => (byte)v), shape, device),
            _ => FromArray(Array.ConvertAll(values, v => (float)v), shape, dtype, device),
        };
    }

    private static unsafe Tensor FromHost<T>(T[] data, int[]? shape, DType hostType, DType dtype, Device? device) where T : unmanaged
    {
        shape ??= [data.Length];
        if (Shapes.Numel(shape) != data.Length)
            throw new ArgumentException($"from_array: {data.Length} values cannot fill shape {Shapes.Format(shape)}");
        var host = Empty(shape, hostType, Device.Cpu);
        data.AsSpan().CopyTo(new Span<T>((void*)host.DataPointer, data.Length));
        if (hostType == dtype && (device ?? Device.Cpu).IsCpu)
            return host;
        using (host)
        {
            var t = Empty(shape, dtype, device);
            t.Device.Backend.Copy(t, host);
            return t;
        }
    }

    /// <summary>
    /// A new float32 tensor uniform on [0, 1), drawn from <paramref name="gen"/> (default:
    /// <see cref="Generator.Default"/>), the same numbers on every device.
    /// </summary>
    public static Tensor Rand(int[] shape, Generator? gen = null, Device? device = null, bool requiresGrad = false)
        => Random(shape, RandomKind.Uniform, 0, 1, gen, device, requiresGrad);

    /// <summary>
    /// A new float32 tensor uniform on [<paramref name="low"/>, <paramref name="high"/>), drawn from
    /// <paramref name="gen"/> (default: <see cref="Generator.Default"/>).
    /// </summary>
    public static Tensor Uniform(int[] shape, float low, float high, Generator? gen = null, Device? device = null, bool requiresGrad = false)
        => Random(shape, RandomKind.Uniform, low, high, gen, device, requiresGrad);

    /// <summary>
    /// A new float32 tensor of normal numbers with <paramref name="mean"/> and standard deviation
    /// <paramref name="std"/>, drawn from <paramref name="gen"/> (default: <see cref="Generator.Default"/>).
    /// </summary>
    public static Tensor Randn(int[] shape, Generator? gen = null, Device? device = null, bool requiresGrad = false, float mean = 0, float std = 1)
        => Random(shape, RandomKind.Normal, mean, std, gen, device, requiresGrad);

    /// <summary>1 with probability p, else 0 (float32): dropout masks.</summary>
    public static Tensor Bernoulli(int[] shape, float p, Generator? gen = null, Device? device = null)
        => Random(shape, RandomKind.Bernoulli, p, 0, gen, device, false);

    private static Tensor Random(int[] shape, RandomKind kind, float a, float b, Generator? gen, Device? device, bool requiresGrad)
    {
        gen ??= Generator.Default;
        var t = Empty(shape, DType.F32, device);
        t.Device.Backend.Random(t, kind, gen.Seed, gen.Next(t.Numel), a, b);
        t.RequiresGrad = requiresGrad;
        return t;
    }
}
