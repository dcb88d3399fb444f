using RawLongLoRA.Distributed;
using Xunit;

namespace RawLongLoRA.Tests.Distributed;

/// <summary>
/// NCCL's argument checks and its missing-library message, which need neither a GPU nor NCCL: bad calls are refused
/// before NCCL is called. The communicator wraps no NCCL communicator here and runs on a test device (the strict
/// device) in place of a GPU; collectives on a GPU are not run by these tests.
/// </summary>
public sealed class NcclCommunicatorTests
{
    // Never disposed: disposing calls NCCL to destroy the (made-up) communicator.
    private static NcclCommunicator On(Device device) => new(comm: 1, rank: 0, size: 2, device, stream: 0, backend: null, TimeSpan.FromSeconds(5));

    [Fact]
    public void CreateRefusesAHostDevice() => ThreadGroup.Run(1, host =>
    {
        var e = Assert.Throws<ArgumentException>(() => NcclCommunicator.Create(host, Device.Cpu));
        Assert.StartsWith("nccl: cpu is not a CUDA device; NCCL moves tensors on cuda:N", e.Message);
    });

    [Fact]
    public void TensorsOfAnotherDeviceAreRefused()
    {
        var nccl = On(Device.Cuda(0));
        using var t = Tensor.Zeros([4]);
        var e = Assert.Throws<ArgumentException>(() => nccl.AllReduce(t));
        Assert.StartsWith("all_reduce: tensor is on cpu; this communicator moves tensors on cuda:0", e.Message);
    }

    [Fact]
    public void BadCallsAreRefusedBeforeNcclIsCalled()
    {
        var (device, _) = StrictDevice.New();
        var nccl = On(device);
        using var bytes = Tensor.Zeros([4], DType.U8, device);
        Assert.StartsWith("all_reduce: cannot reduce U8; this communicator reduces F32, BF16, F16, I32, I64",
                          Assert.Throws<ArgumentException>(() => nccl.AllReduce(bytes)).Message);
        using var matrix = Tensor.Zeros([2, 3], DType.F32, device);
        using var transposed = matrix.Transpose(0, 1);
        Assert.StartsWith("broadcast: tensor [3, 2] is not contiguous", Assert.Throws<ArgumentException>(() => nccl.Broadcast(transposed, 0)).Message);
        using var six = Tensor.Zeros([6], DType.F32, device);
        using var three = Tensor.Zeros([3], DType.F32, device);
        Assert.StartsWith("reduce_scatter: src has 3 elements; expected 2 ranks × 6 (dst) = 12",
                          Assert.Throws<ArgumentException>(() => nccl.ReduceScatter(six, three)).Message);
        Assert.StartsWith("all_to_all: sendCounts add up to 5 elements but src has 6",
                          Assert.Throws<ArgumentException>(() => nccl.AllToAll(six, [3, 3], six, [3, 2])).Message);
        Assert.StartsWith("send_receive: to 2 is not a rank of this group (0 … 1)",
                          Assert.Throws<ArgumentOutOfRangeException>(() => nccl.StartSendReceive(three, 2, three, 0)).Message);
        Assert.StartsWith("split: color -2 is negative", Assert.Throws<ArgumentOutOfRangeException>(() => nccl.Split(-2, 0)).Message);
    }

    [Fact]
    public void AGoodCallReachesNcclAndWithoutItSaysWhatIsMissing()
    {
        // Host memory stands in for the GPU's: the strict device's has no address to pass.
        var nccl = On(Device.Cpu);
        using var t = Tensor.Zeros([4]);
        var e = Assert.ThrowsAny<Exception>(() => nccl.AllReduce(t));
        // Where NCCL is installed, it refuses the made-up communicator instead.
        Assert.True(e is DllNotFoundException { Message: var m } ? m.StartsWith("NCCL (libnccl.so.2 / libnccl.so) was not found", StringComparison.Ordinal)
                                                                : e is CommunicatorException { Message: var c } && c.StartsWith("all_reduce failed on rank 0 of 2", StringComparison.Ordinal),
                    e.ToString());
    }

    [Fact]
    public void MissingNcclNamesWhereItLookedAndWhatToInstall()
    {
        var e = Assert.Throws<DllNotFoundException>(() => DistributedLibraries.Find(DistributedLibraries.Nccl, ["/opt/nccl/lib", null], _ => null));
        Assert.Equal("NCCL (libnccl.so.2 / libnccl.so) was not found; searched, in order: /opt/nccl/lib, the system's loader (ldconfig cache, LD_LIBRARY_PATH); " +
                     "install it (apt's libnccl2, or pip's nvidia-nccl-cu12).", e.Message);
        // NCCL is searched for where the CUDA libraries are (pip's nvidia/nccl/lib among them).
        Assert.Equal(RawLongLoRA.Kernels.Cuda.CudaLibraries.Places(_ => null), DistributedLibraries.Places(DistributedLibraries.Nccl, _ => null));
    }
}
