using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The strict test device: its memory refuses host access, only copies cross (and are counted), and every op
/// refuses operands on two devices, naming the op and both devices.
/// </summary>
public class StrictDeviceTests
{
    [Fact]
    public void Its_memory_has_no_host_address_and_only_copies_cross_counted()
    {
        var (device, backend) = StrictDevice.New();
        using var scope = new DisposeScope();
        var t = Tensor.FromArray([1f, 2f, 3f], device: device);
        Assert.Equal((1, 0), (backend.HostToDevice, backend.DeviceToHost));

        Assert.Throws<InvalidOperationException>(() => t.AsSpan<float>().Length);
        var e = Assert.Throws<InvalidOperationException>(() => t.DataPointer);
        Assert.Contains(device.ToString(), e.Message);

        Assert.Equal([2f, 4f, 6f], (t * 2f).ToFloatArray());
        Assert.Equal((1, 1), (backend.HostToDevice, backend.DeviceToHost));
    }

    [Fact]
    public void The_device_parses_and_prints_as_pytorch_writes_it()
    {
        Assert.Equal(Device.PrivateUse1(3), Device.Parse("privateuseone:3"));
        Assert.Equal("privateuseone:3", Device.PrivateUse1(3).ToString());
        Assert.Equal(Device.PrivateUse1(), Device.Parse("PrivateUseOne"));
        Assert.False(Device.TryParse("privateuseone:-1", out _));
    }

    public static TheoryData<string, Func<Tensor, Tensor, Tensor>> MixedOps() => new()
    {
        { "add", (d, h) => d + h },
        { "mul", (d, h) => d * h },
        { "swiglu", (d, h) => d.SwiGlu(h) },
        { "rope", (d, h) => d.Rope(Tensor.Ones([4, 1], device: d.Device), Tensor.Zeros([4, 1], device: d.Device), Tensor.FromArray(new long[] { 0, 1 })) },
        { "embedding", (d, h) => d.Embedding(Tensor.FromArray(new long[] { 0, 1 })) },
        { "linear", (d, h) => d.Linear(h) },
        { "cross_entropy", (d, h) => d.CrossEntropy(Tensor.FromArray(new long[] { 0, 1 })) },
        { "attention", (d, h) => d.Reshape(1, 2, 1, 2).Attention(h.Reshape(1, 2, 1, 2), h.Reshape(1, 2, 1, 2)) },
        // The packed starts are an operand too: on the host beside q, k, v on the device, and the other way round.
        { "attention", (d, h) => d.Reshape(1, 2, 1, 2).Attention(d.Reshape(1, 2, 1, 2), d.Reshape(1, 2, 1, 2), new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 1], 2) }) },
        { "attention_part", (d, h) => h.Reshape(1, 2, 1, 2).AttentionPart(h.Reshape(1, 2, 1, 2), h.Reshape(1, 2, 1, 2), new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 1], 2, d.Device) }).O },
    };

    [Theory]
    [MemberData(nameof(MixedOps))]
    public void An_op_on_two_devices_throws_naming_the_op_and_both(string op, Func<Tensor, Tensor, Tensor> run)
    {
        var (device, _) = StrictDevice.New();
        using var scope = new DisposeScope();
        var onDevice = Tensor.FromArray([1f, 2f, 3f, 4f], [2, 2], device: device);
        var onHost = Tensor.FromArray([1f, 2f, 3f, 4f], [2, 2]);
        var e = Assert.Throws<ArgumentException>(() => run(onDevice, onHost));
        Assert.StartsWith(op + ":", e.Message);
        Assert.Contains(device.ToString(), e.Message);
        Assert.Contains("cpu", e.Message);
    }
}
