using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Per-thread pack buffers for A and B blocks: 64-byte aligned native memory that grows and is reused,
/// so a GEMM call allocates nothing once warm. Each thread packs into and reads only its own.
/// </summary>
internal static unsafe class GemmBuffers
{
    [ThreadStatic] private static Buffer? _a;
    [ThreadStatic] private static Buffer? _b;

    public static float* A(long floats) => (_a ??= new Buffer()).Get(floats);

    public static float* B(long floats) => (_b ??= new Buffer()).Get(floats);

    /// <summary>Freed by the finalizer once its thread is gone.</summary>
    private sealed class Buffer
    {
        private float* _ptr;
        private long _capacity;

        public float* Get(long floats)
        {
            if (floats > _capacity)
            {
                NativeMemory.AlignedFree(_ptr);
                _ptr = null;
                _ptr = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
                _capacity = floats;
            }
            return _ptr;
        }

        ~Buffer() => NativeMemory.AlignedFree(_ptr);
    }
}
