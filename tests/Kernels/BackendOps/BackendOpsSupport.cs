using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>How a test lays a logical tensor out in memory.</summary>
public enum View
{
    /// <summary>Row-major, no gaps.</summary>
    Contiguous,

    /// <summary>The last two dims swapped in memory (a transpose view); rank 1 falls back to <see cref="Stepped"/>.</summary>
    Transposed,

    /// <summary>Every dim reversed in memory (a permute view with all strides positive).</summary>
    Reversed,

    /// <summary>A narrow of a larger buffer: every dim has spare elements around it and the view starts past them.</summary>
    Padded,

    /// <summary>Every other element of the last dim (stride 2), starting at an odd offset.</summary>
    Stepped,
}

/// <summary>
/// The backend-op tests' own plumbing, independent of the kernels under test: tensors are written and
/// read element by element through their layout with plain pointer arithmetic (never through the
/// backend's Copy), gaps of strided buffers hold a sentinel so stray reads and writes show, and
/// results are compared by normalised max error as ggml's test-backend-ops does.
/// </summary>
public static unsafe class Ops
{
    public static IBackend Cpu => Device.Cpu.Backend;

    // ---- making tensors

    /// <summary>
    /// A tensor of <paramref name="shape"/> holding <paramref name="logical"/> (row-major, rounded to
    /// <paramref name="dtype"/>), laid out as <paramref name="view"/> inside a buffer whose other
    /// elements hold <see cref="Sentinel"/>.
    /// </summary>
    public static Tensor Place(double[] logical, int[] shape, DType dtype, View view = View.Contiguous)
    {
        Assert.Equal(BackendReference.Numel(shape), logical.LongLength);
        var (strides, offset) = Arrange(shape, view);
        var layout = new Layout((int[])shape.Clone(), strides, offset);
        long extent = Math.Max(layout.Extent, 1);
        using var buffer = Tensor.Empty([checked((int)extent)], dtype);
        byte* p = (byte*)buffer.DataPointer;
        int size = dtype.Size();
        for (long i = 0; i < extent; i++)
            WriteRaw(p + i * size, dtype, Sentinel(dtype));
        var t = buffer.Restride(layout);
        for (long i = 0; i < logical.LongLength; i++)
            WriteRaw(p + Position(layout, i) * size, dtype, logical[i]);
        return t;
    }

    public static Tensor Place(double[] logical, int[] shape, View view = View.Contiguous) => Place(logical, shape, DType.F32, view);

    /// <summary>An output tensor of <paramref name="shape"/> laid out as <paramref name="view"/>, every element (and gap) the sentinel.</summary>
    public static Tensor Output(int[] shape, DType dtype = DType.F32, View view = View.Contiguous)
    {
        var sentinel = new double[BackendReference.Numel(shape)];
        Array.Fill(sentinel, Sentinel(dtype));
        return Place(sentinel, shape, dtype, view);
    }

    /// <summary>A stride-0 view of <paramref name="small"/> (shape <paramref name="smallShape"/>) broadcast to <paramref name="shape"/>.</summary>
    public static Tensor Expanded(double[] small, int[] smallShape, int[] shape)
    {
        using var t = Place(small, smallShape, DType.F32);
        return t.Restride(t.Layout.Expand(shape));
    }

    public static Tensor Ids(long[] ids, DType dtype) => Place(Array.ConvertAll(ids, v => (double)v), [ids.Length], dtype);

    /// <summary>(strides, offset) of a view of <paramref name="shape"/>; see <see cref="View"/>.</summary>
    public static (long[] Strides, long Offset) Arrange(int[] shape, View view)
    {
        int r = shape.Length;
        if (view == View.Transposed && r < 2)
            view = View.Stepped;
        switch (view)
        {
            case View.Transposed:
            {
                var phys = (int[])shape.Clone();
                (phys[r - 2], phys[r - 1]) = (phys[r - 1], phys[r - 2]);
                var ps = ContiguousStrides(phys);
                var st = (long[])ps.Clone();
                (st[r - 2], st[r - 1]) = (ps[r - 1], ps[r - 2]);
                return (st, 0);
            }
            case View.Reversed:
            {
                var phys = shape.Reverse().ToArray();
                var ps = ContiguousStrides(phys);
                return (Enumerable.Range(0, r).Select(d => ps[r - 1 - d]).ToArray(), 0);
            }
            case View.Padded:
            {
                var phys = shape.Select((s, d) => s + (d == r - 1 ? 3 : 1)).ToArray();
                var ps = ContiguousStrides(phys);
                long offset = 0;
                for (int d = 0; d < r; d++)
                    offset += (d == r - 1 ? 2 : 1) * ps[d];
                return (ps, offset);
            }
            case View.Stepped:
            {
                if (r == 0)
                    return ([], 1);
                var phys = (int[])shape.Clone();
                phys[r - 1] *= 2;
                var ps = ContiguousStrides(phys);
                ps[r - 1] = 2;
                return (ps, 1);
            }
            default:
                return (ContiguousStrides(shape), 0);
        }
    }

    private static long[] ContiguousStrides(int[] shape)
    {
        var st = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            st[d] = s;
            s *= shape[d];
        }
        return st;
    }

    /// <summary>Storage index (from the start of the storage) of logical element i.</summary>
    private static long Position(Layout layout, long i)
    {
        var idx = BackendReference.Unravel(i, layout.ShapeArray);
        long pos = layout.Offset;
        for (int d = 0; d < idx.Length; d++)
            pos += idx[d] * layout.Strides[d];
        return pos;
    }

    // ---- reading tensors

    /// <summary>The logical elements, row-major, read one by one through the layout.</summary>
    public static double[] Read(Tensor t)
    {
        byte* p = (byte*)t.Storage.Handle;
        int size = t.DType.Size();
        var y = new double[t.Numel];
        for (long i = 0; i < y.LongLength; i++)
            y[i] = ReadRaw(p + Position(t.Layout, i) * size, t.DType);
        return y;
    }

    public static long[] ReadLongs(Tensor t)
    {
        Assert.Equal(DType.I64, t.DType);
        byte* p = (byte*)t.Storage.Handle;
        var y = new long[t.Numel];
        for (long i = 0; i < y.LongLength; i++)
            y[i] = *(long*)(p + Position(t.Layout, i) * 8);
        return y;
    }

    /// <summary>Asserts that every storage element outside the view still holds the sentinel: nothing wrote past the view.</summary>
    public static void AssertGapsUntouched(Tensor view, string what)
    {
        int size = view.DType.Size();
        long total = view.Storage.ByteLength / size;
        var covered = new HashSet<long>();
        for (long i = 0; i < view.Numel; i++)
            covered.Add(Position(view.Layout, i));
        byte* p = (byte*)view.Storage.Handle;
        double s = Sentinel(view.DType);
        for (long k = 0; k < total; k++)
        {
            if (covered.Contains(k))
                continue;
            double v = ReadRaw(p + k * size, view.DType);
            Assert.True(v.Equals(s), $"{what}: storage element {k} outside the view was overwritten with {v}");
        }
    }

    /// <summary>NaN for float buffers (a stray read then poisons the result), a distinctive integer otherwise.</summary>
    public static double Sentinel(DType t) => t switch
    {
        DType.U8 => 171,
        DType.I32 or DType.I64 => -123457,
        _ => double.NaN,
    };

    /// <summary>Reads one element, widening exactly to double; BF16/F16 decoded from their bits by the reference.</summary>
    public static double ReadRaw(byte* p, DType t) => t switch
    {
        DType.F32 => *(float*)p,
        DType.BF16 => BackendReference.Bf16Value(*(ushort*)p),
        DType.F16 => BackendReference.F16Value(*(ushort*)p),
        DType.I32 => *(int*)p,
        DType.I64 => *(long*)p,
        _ => *p,
    };

    /// <summary>Writes v rounded to t by the reference (round to nearest even; integers truncate).</summary>
    public static void WriteRaw(byte* p, DType t, double v)
    {
        switch (t)
        {
            case DType.F32: *(float*)p = (float)BackendReference.ToF32(v); break;
            case DType.BF16: *(ushort*)p = BackendReference.Bf16Bits(BackendReference.ToBf16(v)); break;
            case DType.F16: *(ushort*)p = BackendReference.F16Bits(BackendReference.ToF16(v)); break;
            case DType.I32: *(int*)p = (int)v; break;
            case DType.I64: *(long*)p = (long)v; break;
            default: *p = (byte)v; break;
        }
    }

    // ---- data

    /// <summary>n values uniform in [lo, hi), already float32 so the kernel and the reference see the same numbers.</summary>
    public static double[] Uniform(Random rng, long n, double lo, double hi)
    {
        var x = new double[n];
        for (long i = 0; i < n; i++)
            x[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return x;
    }

    public static double[] Round(double[] x, DType t) => Array.ConvertAll(x, v => BackendReference.Cast(v, t));

    // ---- comparing

    /// <summary>
    /// max |actual − expected| / max |expected| over finite expected values must be at most tol; where
    /// expected is NaN or infinite, actual must be the same. <paramref name="scaleFloor"/> is a lower
    /// bound for the scale where the result is a small difference of larger terms (float32 cancellation).
    /// </summary>
    public static void AssertClose(string what, double[] expected, double[] actual, double tol = 1e-5, double scaleFloor = 0)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        double scale = scaleFloor, error = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!double.IsFinite(e))
            {
                Assert.True(e.Equals(a), $"{what}[{i}]: expected {e}, got {a}");
                continue;
            }
            scale = Math.Max(scale, Math.Abs(e));
            double err = Math.Abs(a - e);
            if (!(err <= error))
                (error, worst) = (err, i);
        }
        double normalised = error == 0 ? 0 : error / scale; // all-zero expected values must be matched exactly
        Assert.True(normalised <= tol,
            $"{what}: normalised max error {normalised:E2} > {tol:E0} at [{worst}] (backend {(worst < 0 ? 0 : actual[worst]):R}, reference {(worst < 0 ? 0 : expected[worst]):R}, scale {scale:G4})");
    }

    /// <summary>Equal as doubles bit for bit (NaN matches NaN, −0 does not match +0).</summary>
    public static void AssertExact(string what, double[] expected, double[] actual)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = double.IsNaN(expected[i]) ? double.IsNaN(actual[i])
                : BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]);
            Assert.True(same, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>The call throws an ArgumentException (or a subclass) whose message contains every fragment.</summary>
    public static ArgumentException AssertThrows(Action call, params string[] fragments)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(call);
        foreach (var f in fragments)
            Assert.True(ex.Message.Contains(f, StringComparison.Ordinal), $"message does not name '{f}': {ex.Message}");
        return ex;
    }
}
