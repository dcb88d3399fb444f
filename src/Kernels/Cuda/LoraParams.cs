using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The one parameter struct of every kernel of kernels.cu/lora.cu, field for field its C struct LoraParams: device
/// addresses (bf16 as raw 16-bit words, float32 outputs), the shape and the options. Each kernel reads its part.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LoraParams
{
    /// <summary>[m×k] bf16 input.</summary>
    public nint X;
    /// <summary>[r×k] bf16 LoRA A.</summary>
    public nint A;
    /// <summary>[n×r] bf16 LoRA B.</summary>
    public nint B;
    /// <summary>[m×n] bf16 gradient of y.</summary>
    public nint Dy;
    /// <summary>[m×r] bf16 x·Aᵀ, written by the forward and read by the backward.</summary>
    public nint Xa;
    /// <summary>[m×r] bf16 s·dy·B, backward scratch.</summary>
    public nint Dxa;
    /// <summary>[m×n] float32 output of the forward.</summary>
    public nint Y;
    /// <summary>[m×k] float32 gradient of x.</summary>
    public nint Dx;
    /// <summary>[r×k] float32 gradient of A.</summary>
    public nint DA;
    /// <summary>[n×r] float32 gradient of B.</summary>
    public nint DB;
    /// <summary>[splits × (n+k) × r] float32 partial sums of dB and dA, backward scratch.</summary>
    public nint Partial;
    /// <summary>Rows of x, y, dy.</summary>
    public int M;
    /// <summary>Output features: columns of y and dy, rows of B.</summary>
    public int N;
    /// <summary>Input features: columns of x, dx and A.</summary>
    public int K;
    /// <summary>The LoRA rank.</summary>
    public int R;
    /// <summary>Columns of y or dx per block of the two-kernel form's second kernel.</summary>
    public int ColsPerBlock;
    /// <summary>Blocks along m of the weight-gradient kernel.</summary>
    public int Splits;
    /// <summary>The LoRA scale s (alpha / r).</summary>
    public float Scale;
    /// <summary>1: y and dx are added to; 0: overwritten.</summary>
    public int AccumulateOut;
    /// <summary>1: dA and dB are added to; 0: overwritten.</summary>
    public int AccumulateGrads;
}
