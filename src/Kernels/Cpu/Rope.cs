using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Rotary embedding, HF rotate-half layout: for i &lt; D/2, (x_i, x_{i+D/2}) turns by the angle of
/// position p and frequency i: y_i = x_i·cos − x_{i+D/2}·sin, y_{i+D/2} = x_{i+D/2}·cos + x_i·sin.
/// The inverse (angle −θ) is the backward, since a rotation's transpose is its inverse.
/// </summary>
internal static unsafe class Rope
{
    public static void Run(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse)
    {
        var pos = CheckArgs(y, x, cos, sin, positions);
        int n = x.Shape[0], h = x.Shape[1], d = x.Shape[2], half = d / 2;
        float* xp = (float*)x.DataPointer, yp = (float*)y.DataPointer, cp = (float*)cos.DataPointer, sp = (float*)sin.DataPointer;
        float sign = inverse ? -1f : 1f;
        bool stream = Rows.Streams(y.Numel * sizeof(float));
        Rows.For(n, h * d, (lo, hi) =>
        {
            for (long t = lo; t < hi; t++)
            {
                float* c = cp + pos[t] * half, s = sp + pos[t] * half, xt = xp + t * h * d, yt = yp + t * h * d;
                int i = Vector512.IsHardwareAccelerated ? Token<V512>(yt, xt, c, s, sign, h, half, 0, stream)
                      : Vector256.IsHardwareAccelerated ? Token<V256>(yt, xt, c, s, sign, h, half, 0, stream) : 0;
                Token<V1>(yt, xt, c, s, sign, h, half, i, stream);
            }
            Rows.Fence(stream);
        });
    }

    /// <summary>
    /// The argument checks on the host: <see cref="CheckShapes"/>, and every position inside the table (read here; a
    /// device tensor's positions would be copied down). Returns them.
    /// </summary>
    public static long[] CheckArgs(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions)
    {
        CheckShapes(y, x, cos, sin, positions);
        int p = cos.Shape[0];
        var pos = positions.DType == DType.I64 ? positions.ToArray<long>() : Array.ConvertAll(positions.ToArray<int>(), v => (long)v);
        foreach (long q in pos)
            if (q < 0 || q >= p)
                throw Check.Fail("rope", $"position {q} is outside the cos/sin table of {p} positions", positions, cos);
        return pos;
    }

    /// <summary>
    /// The checks that need no element (every backend's): float32 contiguous x/y [N, H, D] with D even, cos/sin
    /// [P, D/2], positions [N] I32/I64. The positions' values are each backend's to check: the CPU reads them, a GPU
    /// kernel reports one out of range.
    /// </summary>
    public static void CheckShapes(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions)
    {
        const string op = "rope";
        Check.F32(op, x, "input");
        Check.F32(op, y, "output");
        Check.F32(op, cos, "cos");
        Check.F32(op, sin, "sin");
        Check.Index(op, positions, "positions");
        Check.SameShape(op, y, x);
        Check.Rank(op, x, "input [tokens, heads, head_dim]", 3);
        Check.Contiguous(op, x, "input");
        Check.Contiguous(op, y, "output");
        Check.Contiguous(op, cos, "cos");
        Check.Contiguous(op, sin, "sin");
        Check.Contiguous(op, positions, "positions");
        int n = x.Shape[0], d = x.Shape[2], half = d / 2;
        if (d % 2 != 0)
            throw Check.Fail(op, $"head_dim must be even, got {d}", x);
        Check.Rank(op, cos, "cos [positions, head_dim/2]", 2);
        if (cos.Shape[1] != half)
            throw Check.Fail(op, $"cos/sin must have head_dim/2 = {half} columns", cos, x);
        Check.SameShape(op, sin, cos);
        Check.Shape(op, positions, "positions", n);
    }

    /// <summary>
    /// One token's heads, columns [i0, half) of each half, whole TV vectors at a time; returns where the
    /// rest starts. Heads outer, so each head's row is written front to back (whole cache lines for the
    /// non-temporal stores); its cos/sin slices come from L1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Token<TV>(float* y, float* x, float* cos, float* sin, float sign, int heads, int half, int i0, bool stream) where TV : unmanaged, IVec<TV>
    {
        var vsign = TV.Splat(sign);
        int i = i0;
        for (int head = 0; head < heads; head++)
        {
            float* xr = x + head * 2 * half, yr = y + head * 2 * half;
            for (i = i0; i <= half - TV.Count; i += TV.Count)
            {
                TV c = TV.Load(cos + i), s = vsign * TV.Load(sin + i), a = TV.Load(xr + i), b = TV.Load(xr + i + half);
                (a * c - b * s).Store(yr + i, stream);
                (b * c + a * s).Store(yr + i + half, stream);
            }
        }
        return i;
    }
}
