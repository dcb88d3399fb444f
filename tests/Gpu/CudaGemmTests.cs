using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Gpu;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>cuBLAS and cuBLASLt GEMMs on a real GPU against the CPU backend: odd shapes, transposes, broadcast batches, poisoned outputs.</summary>
public sealed class CudaGemmTests
{
    [CudaFact]
    public void CublasAndCublasLtMatchTheCpu()
    {
        var gpu = (IlgpuBackend)Device.Cuda(0).Backend;
        var cases = new (int Batch, int M, int K, int N, View A, View B, View C, DType TA, DType TB, Precision P, float Alpha, float Beta)[]
        {
            (0, 3, 5, 7, View.Contiguous, View.Contiguous, View.Contiguous, DType.F32, DType.F32, Precision.F32, 1f, 0f),
            (0, 17, 33, 5, View.Transposed, View.Contiguous, View.Padded, DType.BF16, DType.BF16, Precision.F32, 1.5f, 0f),
            (2, 3, 5, 7, View.Contiguous, View.Transposed, View.Transposed, DType.F32, DType.F32, Precision.Bf16, 1f, 0.5f),
            (3, 1, 13, 1, View.Padded, View.Padded, View.Contiguous, DType.F16, DType.F16, Precision.F32, 1f, 0f),
            (0, 9, 4, 6, View.Contiguous, View.Transposed, View.Contiguous, DType.F32, DType.BF16, Precision.F32, 1f, 0f),
        };
        foreach (var x in cases)
            foreach (bool lt in new[] { false, true })
            {
                using var scope = new DisposeScope();
                var rng = new Random(x.M * 31 + x.N);
                int[] sa = x.Batch > 0 ? [x.Batch, x.M, x.K] : [x.M, x.K], sb = x.Batch > 0 ? [1, x.K, x.N] : [x.K, x.N], sc = x.Batch > 0 ? [x.Batch, x.M, x.N] : [x.M, x.N];
                var a = Place(Uniform(rng, BackendReference.Numel(sa), -1, 1), sa, x.TA, x.A);
                var b = Place(Uniform(rng, BackendReference.Numel(sb), -1, 1), sb, x.TB, x.B);
                var start = Uniform(rng, BackendReference.Numel(sc), -1, 1);
                var want = x.Beta == 0 ? Output(sc, DType.F32, x.C) : Place(start, sc, DType.F32, x.C);
                var c = IlgpuDevice.Across(want, gpu.Device);
                using (Autocast.Scope(x.P))
                {
                    Cpu.Gemm(want, a, b, x.Alpha, x.Beta);
                    var (da, db) = (IlgpuDevice.Across(a, gpu.Device), IlgpuDevice.Across(b, gpu.Device));
                    if (lt)
                        CublasGemm.RunLt(gpu, c, da, db, x.Alpha, x.Beta);
                    else
                        CublasGemm.Run(gpu, c, da, db, x.Alpha, x.Beta);
                }
                var got = IlgpuDevice.Across(c, Device.Cpu);
                string what = $"{(lt ? "cublasLt" : "cublas")} {x}";
                // Under bf16 cuBLAS rounds float32 operands itself: up to one bf16 step (2^-8) per operand, not the CPU's rounding.
                AssertClose(what, Read(want), Read(got), x.P == Precision.Bf16 ? 1e-2 : 1e-5);
                AssertGapsUntouched(got, what);
            }
    }
}
