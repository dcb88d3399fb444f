using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A file written by the PyTorch peer (tests/reference/torch_format.safetensors, made by
/// tests/reference/make_safetensors.py): every value recomputed here, the data after "a.u8" misaligned,
/// and the same tensors written back by our writer.
/// </summary>
public sealed class SafeTensorsTorchTests : IDisposable
{
    private static readonly string TorchFile = Path.Combine(AppContext.BaseDirectory, "reference", "torch_format.safetensors");
    private readonly SafeTensorsScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static float[] Floats(int n, Func<int, float> f) => [.. Enumerable.Range(0, n).Select(f)];

    private static void Matches(SafeTensorsFile file)
    {
        Assert.Equal(["a.u8", "b.f32", "c.bf16", "d.f16", "e.i64", "f.i32", "g.scalar", "h.empty"], file.Names);
        using var a = file.Load("a.u8");
        Assert.Equal([1, 128, 255], a.ToArray<byte>());
        using var b = file.Load("b.f32");
        Assert.Equal([3, 4], b.ShapeArray);
        Assert.Equal(Floats(12, i => i / 4f - 1), b.ToFloatArray());
        using var c = file.Load("c.bf16");
        Assert.Equal(DType.BF16, c.DType);
        Assert.Equal([2, 6], c.ShapeArray);
        Assert.Equal(Floats(12, i => i / 8f - 0.5f), c.ToFloatArray());
        using var d = file.Load("d.f16");
        Assert.Equal(DType.F16, d.DType);
        Assert.Equal(Floats(12, i => i / 16f + 0.25f), d.ToFloatArray());
        using var e = file.Load("e.i64");
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (i - 6) * 1_000_000_007L), e.ToArray<long>());
        using var f = file.Load("f.i32");
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (i - 6) * 1_000_003), f.ToArray<int>());
        using var g = file.Load("g.scalar");
        Assert.Equal((0, 3.5f), (g.Rank, g.Item()));
        using var h = file.Load("h.empty");
        Assert.Equal([0, 4], h.ShapeArray);
    }

    [Fact]
    public void ATorchWrittenFileReadsExactly()
    {
        using var file = new SafeTensorsFile(TorchFile);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("make_safetensors.py", file.Metadata["source"]);
        Matches(file);
    }

    [Fact]
    public void MisalignedZeroCopyTensorsComputeLikeAlignedCopies()
    {
        using var scope = new DisposeScope();
        using var file = new SafeTensorsFile(TorchFile);
        var mapped = file.Load("b.f32");
        Assert.NotEqual(0, mapped.DataPointer % 4);
        var aligned = file.Load("b.f32", DType.F32);
        Assert.Equal(aligned.MatMul(aligned.Transpose(0, 1)).Sum([1]).ToFloatArray(), mapped.MatMul(mapped.Transpose(0, 1)).Sum([1]).ToFloatArray());
        var weight = file.Load("c.bf16");
        Assert.NotEqual(0, weight.DataPointer % 2);
        Assert.Equal([-1.125f, 3.375f], Tensor.Ones([1, 6]).Linear(weight).ToFloatArray());
    }

    [Fact]
    public void OurWriterRoundTripsWhatTorchWrote()
    {
        using var torch = new SafeTensorsFile(TorchFile);
        var tensors = torch.Names.Select(n => (n, torch.Load(n))).ToList();
        string path = _scratch.PathOf("rewritten.safetensors");
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string>(torch.Metadata));
        foreach (var (_, t) in tensors)
            t.Dispose();
        using var ours = new SafeTensorsFile(path);
        Assert.Equal(torch.Metadata, ours.Metadata);
        Matches(ours);
    }
}
