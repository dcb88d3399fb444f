using System.Text;
using RawLongLoRA.Kernels.Cuda;
using RawLongLoRA.Kernels.Gpu;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The driver pieces ILGPU lacks, on a real GPU: external PTX loaded and launched on the backend's stream, its attributes and occupancy, events.</summary>
public sealed unsafe class CudaDriverTests
{
    // fill_f32(p, v, n): p[i] = v for i < n, one thread per element (clang-14's PTX for sm_80 of the one-line CUDA C).
    private const string FillPtx = """
        .version 7.0
        .target sm_80
        .address_size 64
        .visible .entry fill_f32(.param .u64 fill_f32_param_0, .param .f32 fill_f32_param_1, .param .u32 fill_f32_param_2)
        {
            .reg .pred %p<2>;
            .reg .b32 %r<6>;
            .reg .f32 %f<2>;
            .reg .b64 %rd<5>;
            ld.param.u32 %r1, [fill_f32_param_2];
            mov.u32 %r2, %ctaid.x;
            mov.u32 %r3, %ntid.x;
            mov.u32 %r4, %tid.x;
            mad.lo.s32 %r5, %r2, %r3, %r4;
            setp.ge.u32 %p1, %r5, %r1;
            @%p1 bra LBB0_2;
            ld.param.f32 %f1, [fill_f32_param_1];
            ld.param.u64 %rd2, [fill_f32_param_0];
            cvta.to.global.u64 %rd3, %rd2;
            mul.wide.u32 %rd4, %r5, 4;
            add.s64 %rd1, %rd3, %rd4;
            st.global.f32 [%rd1], %f1;
        LBB0_2:
            ret;
        }
        """;

    [CudaFact]
    public void ExternalPtxRunsOnTheBackendsStreamInsideIlgpusContext()
    {
        var gpu = (IlgpuBackend)Device.Cuda(0).Backend;
        using var x = Tensor.Empty([1000], DType.F32, gpu.Device);
        gpu.Fill(x, -1.0);
        CudaHandles.Bind(gpu);
        nint module = CudaDriver.LoadModule(Encoding.ASCII.GetBytes(FillPtx));
        try
        {
            nint f = CudaDriver.Function(module, "fill_f32");
            CudaDriver.Check(CudaDriver.cuFuncSetAttribute(f, CudaDriver.MaxDynamicSharedBytes, 64 << 10), "cuFuncSetAttribute");
            CudaDriver.Check(CudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, f, 256, 0), "cuOccupancyMaxActiveBlocksPerMultiprocessor");
            Assert.True(blocks > 0);
            nint p = CudaHandles.Address(x.Narrow(0, 1, 998));
            float v = 3.5f;
            uint n = 998;
            void** args = stackalloc void*[] { &p, &v, &n };
            CudaDriver.Check(CudaDriver.cuEventCreate(out var start, CudaDriver.EventDefault), "cuEventCreate");
            CudaDriver.Check(CudaDriver.cuEventCreate(out var end, CudaDriver.EventDefault), "cuEventCreate");
            nint stream = CudaHandles.Stream(gpu);
            CudaDriver.Check(CudaDriver.cuEventRecord(start, stream), "cuEventRecord");
            CudaDriver.Check(CudaDriver.cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, stream, args, null), "cuLaunchKernel");
            CudaDriver.Check(CudaDriver.cuEventRecord(end, stream), "cuEventRecord");
            CudaDriver.Check(CudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
            CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
            Assert.True(ms >= 0);
            CudaDriver.Check(CudaDriver.cuEventDestroy(start), "cuEventDestroy");
            CudaDriver.Check(CudaDriver.cuEventDestroy(end), "cuEventDestroy");
        }
        finally
        {
            CudaDriver.Check(CudaDriver.cuModuleUnload(module), "cuModuleUnload");
        }
        using var back = Tensor.Empty([1000]);
        gpu.Copy(back, x);
        var values = back.ToArray<float>();
        Assert.Equal(-1f, values[0]);
        Assert.Equal(-1f, values[999]);
        Assert.All(values[1..999], v => Assert.Equal(3.5f, v));
    }
}
