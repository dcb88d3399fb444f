using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// One attention shape's native buffers (B = 1): q, o, dout, dq [T, Hq, D]; k, v, dk, dv [T, Hkv, D];
/// lse [Hq, T]. Inputs are uniform in [-1, 1); outputs are written once at allocation, so their pages
/// are resident before any memory is measured. Native, not managed: at T = 32K they are 64 MB each.
/// </summary>
internal sealed unsafe class AttentionProblem : IDisposable
{
    private readonly List<IntPtr> _buffers = [];

    public AttentionProblem(int t, int hq, int hkv, int d)
    {
        (T, Hq, Hkv, D) = (t, hq, hkv, d);
        var rng = new Random(t);
        long qn = (long)t * hq * d, kn = (long)t * hkv * d;
        Q = Buffer(qn, rng);
        K = Buffer(kn, rng);
        V = Buffer(kn, rng);
        DOut = Buffer(qn, rng);
        O = Buffer(qn, null);
        Lse = Buffer((long)hq * t, null);
        DQ = Buffer(qn, null);
        DK = Buffer(kn, null);
        DV = Buffer(kn, null);
    }

    public int T { get; }
    public int Hq { get; }
    public int Hkv { get; }
    public int D { get; }

    public float* Q { get; }
    public float* K { get; }
    public float* V { get; }
    public float* DOut { get; }
    public float* O { get; }
    public float* Lse { get; }
    public float* DQ { get; }
    public float* DK { get; }
    public float* DV { get; }

    public long LseBytes => (long)Hq * T * sizeof(float);

    public void Forward(AttentionSpec spec, Precision precision) => Attention.Forward(O, Lse, Q, K, V, 1, T, T, Hq, Hkv, D, spec, precision);

    public void Backward(AttentionSpec spec, Precision precision) => Attention.Backward(DQ, DK, DV, DOut, Q, K, V, O, Lse, 1, T, T, Hq, Hkv, D, spec, null, precision);

    public void ForwardBackward(AttentionSpec spec, Precision precision)
    {
        Forward(spec, precision);
        Backward(spec, precision);
    }

    /// <summary>n floats from p into a managed array, for the reference.</summary>
    public static float[] Copy(float* p, long n) => new ReadOnlySpan<float>(p, checked((int)n)).ToArray();

    private float* Buffer(long count, Random? rng)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        for (long i = 0; i < count; i++)
            p[i] = rng is null ? 0f : rng.NextSingle() * 2 - 1;
        _buffers.Add((IntPtr)p);
        return p;
    }

    public void Dispose()
    {
        foreach (var p in _buffers)
            NativeMemory.AlignedFree((void*)p);
        _buffers.Clear();
    }
}
