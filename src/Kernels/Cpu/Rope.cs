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
        int n = x.Shape[0], h = x.Shape[1], d = x.Shape[2], half = d / 2;
        if (d % 2 != 0)
            throw Check.Fail(op, $"head_dim must be even, got {d}", x);
        Check.Rank(op, cos, "cos [positions, head_dim/2]", 2);
        if (cos.Shape[1] != half)
            throw Check.Fail(op, $"cos/sin must have head_dim/2 = {half} columns", cos, x);
        Check.SameShape(op, sin, cos);
        Check.Shape(op, positions, "positions", n);
        int p = cos.Shape[0];
        var pos = positions.DType == DType.I64 ? positions.ToArray<long>() : Array.ConvertAll(positions.ToArray<int>(), v => (long)v);
        foreach (long q in pos)
            if (q < 0 || q >= p)
                throw Check.Fail(op, $"position {q} is outside the cos/sin table of {p} positions", positions, cos);
        float* xp = (float*)x.DataPointer, yp = (float*)y.DataPointer, cp = (float*)cos.DataPointer, sp = (float*)sin.DataPointer;
        float sign = inverse ? -1f : 1f;
        Rows.For(n, h * d, (lo, hi) =>
        {
            for (long t = lo; t < hi; t++)
            {
                float* c = cp + pos[t] * half, s = sp + pos[t] * half;
                for (int head = 0; head < h; head++)
                {
                    float* xr = xp + (t * h + head) * d, yr = yp + (t * h + head) * d;
                    for (int i = 0; i < half; i++)
                    {
                        float a = xr[i], b = xr[i + half], si = sign * s[i];
                        yr[i] = a * c[i] - b * si;
                        yr[i + half] = b * c[i] + a * si;
                    }
                }
            }
        });
    }
}
