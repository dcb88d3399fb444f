using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>What a LoRA projection variant returns: y, and after a backward dX, dA and dB; the caller disposes them.</summary>
public sealed record LoraOutputs(Tensor Y, Tensor? DX = null, Tensor? DA = null, Tensor? DB = null) : IDisposable
{
    /// <summary>The outputs present, in the order of <see cref="Names"/>.</summary>
    public Tensor?[] All => [Y, DX, DA, DB];

    /// <summary>Their names.</summary>
    public static readonly string[] Names = ["y", "dx", "dA", "dB"];

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in All)
            t?.Dispose();
    }
}

/// <summary>
/// A variant of the LoRA projection y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ as `bench lora` runs it on the problem's device, under bf16
/// autocast (the caller's scope). Its outputs are tensors it makes: the harness poisons the allocator's free blocks
/// before a validation run, so an element it leaves unwritten fails there.
/// </summary>
public abstract class LoraProjection
{
    /// <summary>False for the CPU reference: it validates the others and is never timed.</summary>
    public virtual bool Timed => true;

    /// <summary>Why the variant cannot run on <paramref name="device"/>, or null where it can.</summary>
    public virtual string? Unavailable(IBackend device) => null;

    /// <summary>
    /// Whether it multiplies the bf16 copies (X16, DY16, ...): then it is held against the plain projection of bf16
    /// operands, else against the engine's of float32 activations (<see cref="LoraVariants.Plains"/>).
    /// </summary>
    public virtual bool Bf16Operands => false;

    /// <summary>y, as inference runs it (no gradient recorded).</summary>
    public abstract LoraOutputs Forward(LoraTensors t);

    /// <summary>y, then dX, dA and dB from t.DY, as training runs it.</summary>
    public abstract LoraOutputs ForwardBackward(LoraTensors t);
}

/// <summary>
/// The engine's LoRA projection (<see cref="LoraLinearOp"/>) through autograd on the device's backend, its update by
/// two GEMMs (cuBLAS on CUDA; the update's scale and sum ride on the second one's alpha and beta), or with
/// <paramref name="useCudaCKernels"/> on CUDA by the backend's side path through kernels.cu/lora.cu
/// (<see cref="IlgpuBackend.UseCudaCKernels"/>).
/// </summary>
public sealed class OpLoraProjection(bool useCudaCKernels) : LoraProjection
{
    /// <inheritdoc/>
    public override string? Unavailable(IBackend device) =>
        useCudaCKernels && !BenchDevice.IsCuda(device) ? "kernels.cu's kernels run on CUDA only" : null;

    /// <inheritdoc/>
    public override LoraOutputs Forward(LoraTensors t)
    {
        Configure(t);
        using (Autograd.NoGrad())
            return new(t.X.LoraLinear(t.W, null, t.A, t.B, t.Scale));
    }

    /// <inheritdoc/>
    public override LoraOutputs ForwardBackward(LoraTensors t)
    {
        Configure(t);
        var y = t.X.LoraLinear(t.W, null, t.A, t.B, t.Scale);
        y.Backward(t.DY);
        return new(y, TakeGrad(t.X), TakeGrad(t.A), TakeGrad(t.B));
    }

    private void Configure(LoraTensors t)
    {
        if (t.X.Device.Backend is IlgpuBackend backend)
            backend.UseCudaCKernels = useCudaCKernels;
    }

    /// <summary>The leaf's gradient, handed over: the next run's starts afresh instead of adding to it.</summary>
    internal static Tensor TakeGrad(Tensor leaf)
    {
        var g = leaf.Grad ?? throw new InvalidOperationException($"backward left no gradient on {leaf.Describe()}");
        leaf.Grad = null;
        return g;
    }
}

/// <summary>
/// The plain projection x·Wᵀ alone, forward and dX = dY·W, through cuBLAS on CUDA: the baseline the LoRA projection's
/// time is held against. Of float32 activations as the engine runs it (<see cref="LinearOp"/>; W is widened to float32
/// for cuBLAS), or of the bf16 copies (one bf16 GEMM each), which is what kernels.cu's side path adds to. Its y and dX
/// are the reference's without the update.
/// </summary>
public sealed class PlainProjection(bool bf16) : LoraProjection
{
    /// <inheritdoc/>
    public override bool Bf16Operands => bf16;

    /// <inheritdoc/>
    public override LoraOutputs Forward(LoraTensors t)
    {
        if (bf16)
            return new(Product(t));
        using (Autograd.NoGrad())
            return new(t.X.Linear(t.W));
    }

    /// <inheritdoc/>
    public override LoraOutputs ForwardBackward(LoraTensors t)
    {
        if (bf16)
            return new(Product(t), InputGradient(t));
        var y = t.X.Linear(t.W);
        y.Backward(t.DY);
        return new(y, OpLoraProjection.TakeGrad(t.X));
    }

    /// <summary>y = x·Wᵀ [M, N] from the bf16 copy of x.</summary>
    internal static Tensor Product(LoraTensors t)
    {
        var y = Tensor.Empty([t.Shape.M, t.Shape.N], DType.F32, t.X.Device);
        using var wt = t.W.Transpose(0, 1);
        t.X.Device.Backend.Gemm(y, t.X16, wt);
        return y;
    }

    /// <summary>dX = dY·W [M, K] from the bf16 copy of dY.</summary>
    internal static Tensor InputGradient(LoraTensors t)
    {
        var dx = Tensor.Empty([t.Shape.M, t.Shape.K], DType.F32, t.X.Device);
        t.X.Device.Backend.Gemm(dx, t.DY16, t.W);
        return dx;
    }
}

/// <summary>
/// The projection in float64 on the host from the device's values: t = x·Aᵀ, y = x·Wᵀ + s·t·Bᵀ, u = dY·B,
/// dX = dY·W + s·u·A, dA = s·uᵀ·x, dB = s·dYᵀ·t (the plain projection's outputs: the same without the update). What
/// the others are validated against; O(M·N·K) on one core, so it is not timed.
/// </summary>
public sealed class ReferenceLoraProjection(bool withUpdate = true) : LoraProjection
{
    /// <inheritdoc/>
    public override bool Timed => false;

    /// <inheritdoc/>
    public override LoraOutputs Forward(LoraTensors t) => new(Upload(Compute(t, backward: false)[0], t.Shape.M, t.Shape.N, t));

    /// <inheritdoc/>
    public override LoraOutputs ForwardBackward(LoraTensors t)
    {
        var (m, k, n, r) = (t.Shape.M, t.Shape.K, t.Shape.N, t.Shape.R);
        var o = Compute(t, backward: true);
        return withUpdate
            ? new(Upload(o[0], m, n, t), Upload(o[1], m, k, t), Upload(o[2], r, k, t), Upload(o[3], n, r, t))
            : new(Upload(o[0], m, n, t), Upload(o[1], m, k, t));
    }

    private double[][] Compute(LoraTensors p, bool backward)
    {
        var (m, k, n, r) = (p.Shape.M, p.Shape.K, p.Shape.N, p.Shape.R);
        double s = withUpdate ? p.Scale : 0;
        double[] x = Values(p.X), w = Values(p.W), a = Values(p.A), b = Values(p.B);
        var t = Product(x, a, m, k, r, (i, c) => i * k + c, (j, c) => j * k + c);
        var y = Product(x, w, m, k, n, (i, c) => i * k + c, (j, c) => j * k + c);
        Accumulate(y, s, Product(t, b, m, r, n, (i, c) => i * r + c, (j, c) => j * r + c));
        if (!backward)
            return [y];
        double[] dy = Values(p.DY);
        var u = Product(dy, b, m, n, r, (i, c) => i * n + c, (j, c) => c * r + j);
        var dx = Product(dy, w, m, n, k, (i, c) => i * n + c, (j, c) => c * k + j);
        Accumulate(dx, s, Product(u, a, m, r, k, (i, c) => i * r + c, (j, c) => c * k + j));
        var da = new double[r * k];
        Accumulate(da, s, Product(u, x, r, m, k, (i, c) => c * r + i, (j, c) => c * k + j));
        var db = new double[n * r];
        Accumulate(db, s, Product(dy, t, n, m, r, (i, c) => c * n + i, (j, c) => c * r + j));
        return [y, dx, da, db];
    }

    private static double[] Values(Tensor t) => Array.ConvertAll(t.ToFloatArray(), v => (double)v);

    /// <summary>C [rows, cols] with C[i, j] = Σ_c L[left(i, c)] · R[right(j, c)] over c &lt; inner.</summary>
    private static double[] Product(double[] l, double[] r, int rows, int inner, int cols, Func<int, int, int> left, Func<int, int, int> right)
    {
        var c = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double sum = 0;
                for (int q = 0; q < inner; q++)
                    sum += l[left(i, q)] * r[right(j, q)];
                c[i * cols + j] = sum;
            }
        return c;
    }

    /// <summary>into += s · x.</summary>
    private static void Accumulate(double[] into, double s, double[] x)
    {
        for (int i = 0; i < into.Length; i++)
            into[i] += s * x[i];
    }

    private static Tensor Upload(double[] values, int rows, int cols, LoraTensors p) =>
        Tensor.FromArray(Array.ConvertAll(values, v => (float)v), [rows, cols], DType.F32, p.X.Device);
}
