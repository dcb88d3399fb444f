using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>SwiGLU and its backward over contiguous float32 operands of one shape, one thread per element.</summary>
internal static class SwiGluKernels
{
    /// <summary>y = g·σ(g)·up.</summary>
    [GpuKernel]
    public static void Forward(Index1D i, ArrayView<float> y, ArrayView<float> gate, ArrayView<float> up)
    {
        float g = gate[i];
        y[i] = g * Sigmoid(g) * up[i];
    }

    /// <summary>dgate = dy·up·σ(g)(1 + g(1 − σ(g))), dup = dy·g·σ(g); each element is read before it is written.</summary>
    [GpuKernel]
    public static void Backward(Index1D i, ArrayView<float> dgate, ArrayView<float> dup, ArrayView<float> dy, ArrayView<float> gate, ArrayView<float> up)
    {
        float g = gate[i], d = dy[i], u = up[i], s = Sigmoid(g);
        dgate[i] = d * u * (s * (1f + g * (1f - s)));
        dup[i] = d * g * s;
    }

    private static float Sigmoid(float g) => 1f / (1f + GpuMath.Exp(-g));
}
