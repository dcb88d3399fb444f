using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>Which micro-kernel family <see cref="Gemm"/> uses.</summary>
public enum GemmIsa
{
    /// <summary>The widest family this CPU runs: AVX-512, else AVX2, else scalar.</summary>
    Auto,
    /// <summary>14 × 32 micro-kernel on Vector512 with FMA (28 zmm accumulators).</summary>
    Avx512,
    /// <summary>6 × 16 micro-kernel on Vector256 with FMA (12 ymm accumulators).</summary>
    Avx2,
    /// <summary>Plain C#, for CPUs without AVX2 + FMA and for tests.</summary>
    Scalar,
    /// <summary>
    /// 14 × 32 micro-kernel with AVX512-BF16's vdpbf16ps on bf16 pair panels, for <see cref="Precision.Bf16"/>
    /// (Auto picks it there where the CPU has it); float32 products forced to it run the Avx512 kernel.
    /// </summary>
    Avx512Bf16,
}

/// <summary>
/// Packed, cache-blocked, multi-threaded GEMM on the CPU (the Goto / BLIS scheme): blocks of B are
/// packed into NR-column panels and blocks of A into MR-row panels (converted to float32, transposes
/// and strides resolved), and a register-blocked micro-kernel multiplies panel pairs.
/// </summary>
public static unsafe class Gemm
{
    private static GemmIsa _forceIsa = ReadIsaOverride();

    /// <summary>
    /// Forces a micro-kernel family process-wide (for the bench; tests pass theirs to RunWith); Auto picks the widest the CPU has.
    /// Starts from RAWLORA_GEMM_ISA (auto, avx512, avx2, scalar) when set.
    /// </summary>
    public static GemmIsa ForceIsa
    {
        get => _forceIsa;
        set => _forceIsa = IsSupported(value) ? value : throw new PlatformNotSupportedException($"gemm: this CPU cannot run the {value} kernels");
    }

    /// <summary>The family Run uses now for float32 products.</summary>
    public static GemmIsa Isa => _forceIsa is not (GemmIsa.Auto or GemmIsa.Avx512Bf16) ? _forceIsa
        : IsSupported(GemmIsa.Avx512) ? GemmIsa.Avx512
        : IsSupported(GemmIsa.Avx2) ? GemmIsa.Avx2
        : GemmIsa.Scalar;

    /// <summary>
    /// The family Run uses now at <paramref name="precision"/>: for bf16, the vdpbf16ps kernel unless another
    /// family is forced, else a float32 kernel on operands rounded to bf16 as they are packed.
    /// </summary>
    public static GemmIsa IsaFor(Precision precision) =>
        precision == Precision.Bf16 && _forceIsa is (GemmIsa.Auto or GemmIsa.Avx512Bf16) && IsSupported(GemmIsa.Avx512Bf16) ? GemmIsa.Avx512Bf16 : Isa;

    /// <summary>True when this CPU can run <paramref name="isa"/>'s micro-kernel (Auto and Scalar always).</summary>
    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => Vector512.IsHardwareAccelerated && Avx512F.VL.IsSupported && Fma.IsSupported,
        GemmIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        GemmIsa.Avx512Bf16 => IsSupported(GemmIsa.Avx512) && GemmKernelBf16Avx512.IsSupported,
        _ => true,
    };

    /// <summary>
    /// C[b] = alpha · A[b] (m × k) @ B[b] (k × n) + beta · C[b], b in [0, batch). A and B: F32, BF16 or
    /// F16, any strides (BatchStride 0 broadcasts). C: F32, any strides, fastest with RowStride or
    /// ColStride 1. beta == 0 never reads C, so it may hold garbage. At <see cref="Precision.Bf16"/> the
    /// operands are rounded to bfloat16 (nearest even) and the products summed in float32. Products with a dim
    /// of at most 16 (LoRA's rank r) take <see cref="GemmSkinny"/>'s streaming kernels where the AVX-512 families run.
    /// </summary>
    public static void Run(int batch, int m, int n, int k, float alpha, in GemmOperand a, in GemmOperand b, float beta, in GemmOperand c,
                           Precision precision = Precision.F32)
        => RunWith(IsaFor(precision), batch, m, n, k, alpha, a, b, beta, c, precision, skinny: true);

    /// <summary>
    /// Run with the micro-kernel family given, not the process-wide <see cref="ForceIsa"/>: tests check each
    /// family this way while other tests run beside them on the default one. Avx512Bf16 serves bf16 only.
    /// <paramref name="skinny"/>: let <see cref="GemmSkinny"/> take the products it serves (Avx512 families only).
    /// </summary>
    internal static void RunWith(GemmIsa isa, int batch, int m, int n, int k, float alpha, in GemmOperand a, in GemmOperand b, float beta, in GemmOperand c,
                                 Precision precision = Precision.F32, bool skinny = false)
    {
        Validate(batch, m, n, k, a, b, c);
        if (batch == 0 || m == 0 || n == 0)
            return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(batch, m, n, beta, c);
            return;
        }
        bool bf16 = precision == Precision.Bf16;
        if (isa == GemmIsa.Avx512Bf16 && !bf16)
            throw new ArgumentException("gemm: the Avx512Bf16 kernels multiply at bf16 precision only", nameof(isa));
        if (skinny && isa is GemmIsa.Avx512 or GemmIsa.Avx512Bf16 && GemmSkinny.TryRun(batch, m, n, k, alpha, a, b, beta, c, bf16))
            return;
        switch (isa)
        {
            case GemmIsa.Avx512Bf16: GemmDriver<GemmKernelBf16Avx512>.Run(batch, m, n, k, alpha, a, b, beta, c, simd: true, bf16); break;
            case GemmIsa.Avx512: GemmDriver<GemmKernelAvx512>.Run(batch, m, n, k, alpha, a, b, beta, c, simd: true, bf16); break;
            case GemmIsa.Avx2: GemmDriver<GemmKernelAvx2>.Run(batch, m, n, k, alpha, a, b, beta, c, simd: true, bf16); break;
            default: GemmDriver<GemmKernelScalar>.Run(batch, m, n, k, alpha, a, b, beta, c, simd: false, bf16); break;
        }
    }

    private static void Validate(int batch, int m, int n, int k, in GemmOperand a, in GemmOperand b, in GemmOperand c)
    {
        if (batch < 0 || m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(batch), $"gemm: negative size batch={batch} m={m} n={n} k={k}");
        if (!a.Type.IsFloat() || !b.Type.IsFloat())
            throw new ArgumentException($"gemm: operands must be float32, bfloat16 or float16, not {a.Type.TorchName()} @ {b.Type.TorchName()}");
        if (c.Type != DType.F32)
            throw new ArgumentException($"gemm: output must be float32, not {c.Type.TorchName()}");
        CheckOutputBatch(batch, m, n, c.BatchStride);
        bool empty = batch == 0 || m == 0 || n == 0;
        if (!empty && (c.Ptr == null || (k > 0 && (a.Ptr == null || b.Ptr == null))))
            throw new ArgumentNullException(nameof(a), "gemm: null operand pointer");
    }

    /// <summary>Refuses an output every batch item would write to (batch stride 0); shared with the tensor-level checks.</summary>
    internal static void CheckOutputBatch(int batch, int m, int n, long batchStride)
    {
        if (batch > 1 && batchStride == 0 && m > 0 && n > 0)
            throw new ArgumentException("gemm: output batch stride 0 would make every batch item write the same matrix");
    }

    /// <summary>C = beta · C, for k == 0 or alpha == 0 (BLAS semantics: A and B are not read).</summary>
    private static void ScaleC(int batch, int m, int n, float beta, in GemmOperand c)
    {
        for (int bi = 0; bi < batch; bi++)
        {
            float* item = (float*)c.Item(bi);
            for (long i = 0; i < m; i++)
            {
                for (long j = 0; j < n; j++)
                {
                    float* p = item + i * c.RowStride + j * c.ColStride;
                    *p = beta == 0f ? 0f : beta * *p;
                }
            }
        }
    }

    private static GemmIsa ReadIsaOverride()
    {
        var env = Environment.GetEnvironmentVariable("RAWLORA_GEMM_ISA");
        return Enum.TryParse(env, ignoreCase: true, out GemmIsa isa) && IsSupported(isa) ? isa : GemmIsa.Auto;
    }
}
