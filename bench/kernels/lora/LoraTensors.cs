namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The shape of a LoRA projection y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ: M tokens, K in-features, N out-features, rank R, and
/// its FLOPs (2 per multiply-add). The backward wants dX, dA and dB; W is frozen, so no dW.
/// </summary>
public sealed record LoraProjectionShape(int M, int K, int N, int R)
{
    /// <summary>The plain projection x·Wᵀ: 2·M·N·K.</summary>
    public double PlainForwardFlops => 2.0 * M * N * K;

    /// <summary>The plain projection's forward and dX = dY·W.</summary>
    public double PlainForwardBackwardFlops => 2 * PlainForwardFlops;

    /// <summary>x·Wᵀ, t = x·Aᵀ and t·Bᵀ.</summary>
    public double ForwardFlops => PlainForwardFlops + 2.0 * M * R * ((double)K + N);

    /// <summary>The forward, dY·W, u = dY·B, u·A, dA = uᵀ·x and dB = dYᵀ·t.</summary>
    public double ForwardBackwardFlops => ForwardFlops + PlainForwardFlops + 4.0 * M * R * ((double)K + N);

    /// <summary>"M=8192 K=4096 N=4096": the plain projection's shape.</summary>
    public string Projection => $"M={M} K={K} N={N}";

    /// <summary>"M=8192 K=4096 N=4096 r=8".</summary>
    public override string ToString() => $"{Projection} r={R}";
}

/// <summary>
/// One LoRA projection problem on a device: x [M, K] and dY [M, N] float32, W [N, K] bf16 (frozen, as the base model's
/// weights are in training), A [R, K] and B [N, R] float32, and s = 16 / R (PEFT's lora_alpha = 16). Every value is
/// uniform in [-1, 1) rounded to bf16, so every variant and the reference see the same numbers whatever they round;
/// B is not zero (as it starts in training), so the update weighs as much as x·Wᵀ and a variant that drops it fails.
/// x, A and B want gradients. Beside them, bf16 copies of x, A, B and dY (exact: the values are bf16) for the variants
/// that take bf16 operands, as kernels.cu's do.
/// </summary>
public sealed class LoraTensors : IDisposable
{
    /// <summary>PEFT's lora_alpha, over the rank: the update's scale.</summary>
    public const float Alpha = 16;

    private LoraTensors(LoraProjectionShape shape, Tensor x, Tensor w, Tensor a, Tensor b, Tensor dy)
    {
        (Shape, X, W, A, B, DY) = (shape, x, w, a, b, dy);
        X.RequiresGrad = A.RequiresGrad = B.RequiresGrad = true;
        (X16, A16, B16, DY16) = (Bf16(x), Bf16(a), Bf16(b), Bf16(dy));
    }

    /// <summary>The problem's shape.</summary>
    public LoraProjectionShape Shape { get; }

    /// <summary>The input [M, K].</summary>
    public Tensor X { get; }

    /// <summary>The frozen weight [N, K], bf16.</summary>
    public Tensor W { get; }

    /// <summary>LoRA's down projection [R, K].</summary>
    public Tensor A { get; }

    /// <summary>LoRA's up projection [N, R].</summary>
    public Tensor B { get; }

    /// <summary>The gradient of y the backward starts from [M, N].</summary>
    public Tensor DY { get; }

    /// <summary>x, A, B and dY as bf16 tensors.</summary>
    public Tensor X16 { get; }

    /// <inheritdoc cref="X16"/>
    public Tensor A16 { get; }

    /// <inheritdoc cref="X16"/>
    public Tensor B16 { get; }

    /// <inheritdoc cref="X16"/>
    public Tensor DY16 { get; }

    /// <summary>s = <see cref="Alpha"/> / R.</summary>
    public float Scale => Alpha / Shape.R;

    /// <summary>Bytes of the inputs (both forms) and of the outputs y [M, N] and dX [M, K]: what a forward+backward's copy holds.</summary>
    public long Bytes => Inputs.Sum(t => t.Numel * t.DType.Size()) + 4L * Shape.M * (Shape.N + Shape.K);

    private Tensor[] Inputs => [X, W, A, B, DY, X16, A16, B16, DY16];

    /// <summary>A problem of <paramref name="shape"/> on <paramref name="device"/> drawn from <paramref name="seed"/>.</summary>
    internal static LoraTensors Make(LoraProjectionShape shape, Device device, int seed)
    {
        var rng = new Random(seed);
        return new(shape, Bf16Inputs.Uniform([shape.M, shape.K], rng, device), Bf16Inputs.Uniform([shape.N, shape.K], rng, device, DType.BF16),
                   Bf16Inputs.Uniform([shape.R, shape.K], rng, device), Bf16Inputs.Uniform([shape.N, shape.R], rng, device),
                   Bf16Inputs.Uniform([shape.M, shape.N], rng, device));
    }

    /// <summary>Another problem with the same values in storages of its own: a copy to rotate through.</summary>
    public LoraTensors Copy() => new(Shape, Bf16Inputs.Clone(X), Bf16Inputs.Clone(W), Bf16Inputs.Clone(A), Bf16Inputs.Clone(B), Bf16Inputs.Clone(DY));

    private static Tensor Bf16(Tensor t) => Tensor.EmptyLike(t, DType.BF16).DetachFromScope().CopyFrom(t);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in Inputs)
        {
            t.Grad?.Dispose();
            t.Dispose();
        }
    }
}
