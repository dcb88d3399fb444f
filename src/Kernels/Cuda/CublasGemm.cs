using System.Runtime.CompilerServices;
using RawLongLoRA.Kernels.Gpu;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// The ILGPU backend's GEMM on CUDA: one cuBLAS (or cuBLASLt) call per <see cref="IBackend.Gemm"/>, planned by
/// <see cref="CublasGemmPlan"/>, run inside ILGPU's context on the backend's one stream. Each backend gets a cuBLAS and
/// a cuBLASLt handle and a workspace of its own, made on its first GEMM and kept while the backend lives.
/// </summary>
internal static unsafe class CublasGemm
{
    private const string Op = "gemm";

    /// <summary>Workspace of each handle: cuBLAS's own default on Hopper, so its choice of algorithms is unchanged.</summary>
    internal const long WorkspaceBytes = 32L << 20;

    private static readonly ConditionalWeakTable<IlgpuBackend, Handles> ByBackend = new();

    /// <summary>c = alpha · a @ bt + beta · c with cublasGemmStridedBatchedEx.</summary>
    public static void Run(IlgpuBackend b, Tensor c, Tensor a, Tensor bt, float alpha, float beta)
        => Call(b, c, a, bt, alpha, beta, lt: false);

    /// <summary>c = alpha · a @ bt + beta · c with cublasLtMatmul and the algorithm its heuristic puts first.</summary>
    public static void RunLt(IlgpuBackend b, Tensor c, Tensor a, Tensor bt, float alpha, float beta)
        => Call(b, c, a, bt, alpha, beta, lt: true);

    private static void Call(IlgpuBackend b, Tensor c, Tensor a, Tensor bt, float alpha, float beta, bool lt)
    {
        if (!b.IsCuda)
            throw new InvalidOperationException($"{Op}: cuBLAS runs on CUDA; {b.Device} is ILGPU's {b.Accelerator.AcceleratorType} accelerator");
        b.Require(Op, c, a, bt);
        if (a.DType != bt.DType)
        {
            // cuBLAS multiplies one dtype: widen the 16-bit operand to float32 (exact), as the CPU's packing does.
            var narrow = a.DType == DType.F32 ? bt : a;
            using var wide = Tensor.Empty(narrow.ShapeArray, DType.F32, b.Device).DetachFromScope();
            b.Copy(wide, narrow);
            Call(b, c, ReferenceEquals(narrow, a) ? wide : a, ReferenceEquals(narrow, bt) ? wide : bt, alpha, beta, lt);
            return;
        }
        var plan = CublasGemmPlan.For(c, a, bt);
        if (plan.M == 0 || plan.N == 0 || plan.Batch == 0)
            return;
        var (first, second) = plan.Swapped ? (bt, a) : (a, bt);
        var h = ByBackend.GetValue(b, static x => new Handles(x));
        lock (h)
        {
            CudaHandles.Bind(b);
            if (lt)
                h.Matmul(plan, CudaHandles.Address(first), CudaHandles.Address(second), CudaHandles.Address(c), alpha, beta);
            else
                h.Gemm(plan, CudaHandles.Address(first), CudaHandles.Address(second), CudaHandles.Address(c), alpha, beta);
        }
    }

    /// <summary>One backend's cuBLAS and cuBLASLt handles and their workspace (a block of the backend's allocator).</summary>
    private sealed class Handles
    {
        private readonly IlgpuBackend _backend;
        private readonly nint _cublas, _lt;
        private readonly Storage _workspace;

        public Handles(IlgpuBackend b)
        {
            _backend = b;
            CudaHandles.Bind(b);
            _workspace = b.Allocate(WorkspaceBytes);
            _workspace.Retain();
            try
            {
                Cublas.Check(Cublas.cublasCreate_v2(out _cublas), "cublasCreate");
                Cublas.Check(Cublas.cublasSetWorkspace_v2(_cublas, _workspace.Handle, (nuint)WorkspaceBytes), "cublasSetWorkspace");
                Cublas.Check(CublasLt.cublasLtCreate(out _lt), "cublasLtCreate");
            }
            catch
            {
                // A half-made set is undone, so that the next GEMM tries again from nothing.
                if (_cublas != 0)
                    Cublas.cublasDestroy_v2(_cublas);
                _workspace.Release();
                throw;
            }
        }

        public void Gemm(in CublasGemmPlan p, nint a, nint b, nint c, float alpha, float beta)
        {
            Cublas.Check(Cublas.cublasSetStream_v2(_cublas, CudaHandles.Stream(_backend)), "cublasSetStream");
            Cublas.Check(Cublas.cublasGemmStridedBatchedEx(_cublas, p.TransA, p.TransB, p.M, p.N, p.K,
                &alpha, a, p.TypeA, p.Lda, p.StrideA, b, p.TypeB, p.Ldb, p.StrideB,
                &beta, c, Cublas.R32F, p.Ldc, p.StrideC, p.Batch, p.Compute, Cublas.GemmDefault), "cublasGemmStridedBatchedEx");
        }

        public void Matmul(in CublasGemmPlan p, nint a, nint b, nint c, float alpha, float beta)
        {
            nint desc = 0, la = 0, lb = 0, lc = 0, pref = 0;
            try
            {
                Cublas.Check(CublasLt.cublasLtMatmulDescCreate(out desc, p.Compute, Cublas.R32F), "cublasLtMatmulDescCreate");
                int ta = p.TransA, tb = p.TransB;
                Cublas.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescTransA, &ta, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSA)");
                Cublas.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescTransB, &tb, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSB)");
                // Layouts describe the matrices as stored: op(A) is M × K, so A as stored is K × M when transposed.
                la = Layout(p.TypeA, p.TransA == Cublas.OpN ? p.M : p.K, p.TransA == Cublas.OpN ? p.K : p.M, p.Lda, p.Batch, p.StrideA);
                lb = Layout(p.TypeB, p.TransB == Cublas.OpN ? p.K : p.N, p.TransB == Cublas.OpN ? p.N : p.K, p.Ldb, p.Batch, p.StrideB);
                lc = Layout(Cublas.R32F, p.M, p.N, p.Ldc, p.Batch, p.StrideC);
                Cublas.Check(CublasLt.cublasLtMatmulPreferenceCreate(out pref), "cublasLtMatmulPreferenceCreate");
                ulong max = (ulong)WorkspaceBytes;
                Cublas.Check(CublasLt.cublasLtMatmulPreferenceSetAttribute(pref, CublasLt.PreferenceMaxWorkspace, &max, sizeof(ulong)), "cublasLtMatmulPreferenceSetAttribute");
                CublasLt.HeuristicResult best;
                Cublas.Check(CublasLt.cublasLtMatmulAlgoGetHeuristic(_lt, desc, la, lb, lc, lc, pref, 1, &best, out int found), "cublasLtMatmulAlgoGetHeuristic");
                if (found == 0)
                    throw new InvalidOperationException($"cublasLt: no algorithm for {p}");
                Cublas.Check(CublasLt.cublasLtMatmul(_lt, desc, &alpha, a, la, b, lb, &beta, c, lc, c, lc, best.Algo,
                    _workspace.Handle, (nuint)WorkspaceBytes, CudaHandles.Stream(_backend)), "cublasLtMatmul");
            }
            finally
            {
                // Destroying descriptors is host-side bookkeeping; the queued matmul keeps what it needs.
                if (pref != 0) CublasLt.cublasLtMatmulPreferenceDestroy(pref);
                foreach (nint l in (ReadOnlySpan<nint>)[la, lb, lc])
                    if (l != 0) CublasLt.cublasLtMatrixLayoutDestroy(l);
                if (desc != 0) CublasLt.cublasLtMatmulDescDestroy(desc);
            }
        }

        private static nint Layout(int type, int rows, int cols, int ld, int batch, long stride)
        {
            Cublas.Check(CublasLt.cublasLtMatrixLayoutCreate(out var l, type, (ulong)rows, (ulong)cols, ld), "cublasLtMatrixLayoutCreate");
            Cublas.Check(CublasLt.cublasLtMatrixLayoutSetAttribute(l, CublasLt.LayoutBatchCount, &batch, sizeof(int)), "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)");
            Cublas.Check(CublasLt.cublasLtMatrixLayoutSetAttribute(l, CublasLt.LayoutBatchStride, &stride, sizeof(long)), "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
            return l;
        }
    }
}
