using RawLongLoRA.Kernels.Gpu;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Token ids and RoPE positions out of range on the ILGPU backend: the kernel reports them (it cannot throw, and a
/// host-side check would copy them down at every call), and the next read or synchronize throws what the CPU backend
/// throws at the call. On a backend of their own: a fault surfaces at whichever read comes next, and the shared test
/// device serves other test classes at the same time.
/// </summary>
public sealed class GpuDeviceFaultTests
{
    private static readonly Lazy<IlgpuBackend> Own = new(() => IlgpuDevice.Another(3));

    public static TheoryData<string, string> Cases() => new()
    {
        { "gather", "embedding: token id 4 is outside the vocabulary of 4" },
        { "gather negative", "embedding: token id -1 is outside the vocabulary of 4" },
        { "scatter-add", "embedding_backward: token id 9 is outside the vocabulary of 4" },
        { "rope", "rope: position 3 is outside the cos/sin table of 3 positions" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheNextReadThrowsWhatTheCpuThrowsAtTheCall(string what, string message)
    {
        using var scope = new DisposeScope();
        var b = Own.Value;
        var args = Args(what);
        var cpuError = Assert.ThrowsAny<ArgumentException>(() => Call(what, Cpu, Array.ConvertAll(args, IlgpuDevice.Clone)));
        Assert.Contains(message, cpuError.Message);

        var device = Array.ConvertAll(args, t => IlgpuDevice.Across(t, b.Device));
        Call(what, b, device); // queued: the kernel has only reported it
        var e = Assert.ThrowsAny<ArgumentException>(() => IlgpuDevice.Across(device[0], Device.Cpu));
        Assert.Contains(message, e.Message);
        Assert.Contains("reported at the first read or synchronize", e.Message);

        // Reported once: the backend goes on, and the good tokens were computed.
        b.Synchronize();
        var back = Read(IlgpuDevice.Across(device[0], Device.Cpu));
        Assert.All(back, v => Assert.False(double.IsNaN(v), $"{what}: an output element was left unwritten"));
    }

    [Fact]
    public void SynchronizeThrowsItToo()
    {
        using var scope = new DisposeScope();
        var b = Own.Value;
        var device = Array.ConvertAll(Args("rope"), t => IlgpuDevice.Across(t, b.Device));
        Call("rope", b, device);
        var e = Assert.ThrowsAny<ArgumentException>(b.Synchronize);
        Assert.Contains("rope: position 3", e.Message);
        b.Synchronize();
    }

    private static Tensor[] Args(string what) => what switch
    {
        "gather" => [Output([2, 3]), Weights(4, 3), Ids([1, 4], DType.I64)],
        "gather negative" => [Output([2, 3]), Weights(4, 3), Ids([-1, 0], DType.I32)],
        "scatter-add" => [Place(new double[12], [4, 3]), Weights(2, 3), Ids([0, 9], DType.I64)],
        _ => [Output([2, 1, 4]), Weights(2, 4).Reshape([2, 1, 4]), Weights(3, 2), Weights(3, 2), Ids([0, 3], DType.I64)],
    };

    private static void Call(string what, IBackend b, Tensor[] t)
    {
        switch (what)
        {
            case "gather" or "gather negative": b.EmbeddingGather(t[0], t[1], t[2]); break;
            case "scatter-add": b.EmbeddingScatterAdd(t[0], t[1], t[2]); break;
            default: b.Rope(t[0], t[1], t[2], t[3], t[4], false); break;
        }
    }

    private static Tensor Weights(int rows, int cols) => Place(Uniform(new Random(rows * cols), rows * cols, -1, 1), [rows, cols]);
}
