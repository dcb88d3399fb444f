using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

public sealed class SafeTensorsRoundTripTests : IDisposable
{
    private readonly SafeTensorsScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    /// <summary>Every dtype, with edge values, a 0-dim and two empty tensors; u8 has 3 bytes so the tensors after it are misaligned.</summary>
    internal static List<(string Name, Tensor T)> AllKinds() =>
    [
        ("u8", Tensor.FromArray(new byte[] { 0, 7, 255 })),
        ("f32", Tensor.FromArray([1.5f, -2f, float.MaxValue, float.NegativeInfinity, float.NaN, 1e-45f], [2, 3])),
        ("bf16", Tensor.FromBits([0x3F80, 0xC000, 0x7F80, 0x0001], [2, 2], DType.BF16)),
        ("f16", Tensor.FromBits([0x3C00, 0xFC00, 0x7E00], [3], DType.F16)),
        ("i32", Tensor.FromArray(new[] { int.MinValue, 0, int.MaxValue })),
        ("i64", Tensor.FromArray(new[] { long.MinValue, -1L, long.MaxValue }, [3, 1])),
        ("scalar", Tensor.Scalar(4.5f)),
        ("empty", Tensor.Zeros([0, 3])),
        ("empty.bf16", Tensor.Zeros([2, 0], DType.BF16)),
    ];

    [Fact]
    public void EveryDTypeComesBackWithItsShapeAndBytes()
    {
        var tensors = AllKinds();
        string path = _scratch.PathOf("all.safetensors");
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["note"] = "ä → ü", ["format"] = "pt" });
        using var file = new SafeTensorsFile(path);
        Assert.Equal(tensors.Select(e => e.Name), file.Names);
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ä → ü" }, file.Metadata);
        foreach (var (name, t) in tensors)
        {
            var info = file.Info(name);
            Assert.Equal(t.DType, info.DType);
            Assert.Equal(t.ShapeArray, info.Shape);
            using var loaded = file.Load(name);
            Assert.IsType<MappedStorage>(loaded.Storage);
            Assert.Equal(t.DType, loaded.DType);
            Assert.Equal(t.ShapeArray, loaded.ShapeArray);
            Assert.Equal(SafeTensorsScratch.RawBytes(t), SafeTensorsScratch.RawBytes(loaded));
            t.Dispose();
        }
    }

    [Fact]
    public void HeaderIsSortedAndPaddedAndDataFollowsTheWrittenOrder()
    {
        using var b = Tensor.FromArray([1f, 2f, 3f]);
        using var a = Tensor.FromArray(new byte[] { 9 });
        using var c = Tensor.FromArray(new[] { 5L });
        string path = _scratch.PathOf("order.safetensors");
        SafeTensorsWriter.Write(path, [("b", b), ("a", a), ("c", c)]);

        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        Assert.Equal(8 + n + 12 + 1 + 8, bytes.Length);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\"},\"a\":", header);
        Assert.Matches("^[^ ]*} *$", header);
        using var doc = JsonDocument.Parse(header);
        Assert.Equal(["__metadata__", "a", "b", "c"], doc.RootElement.EnumerateObject().Select(p => p.Name));

        using var file = new SafeTensorsFile(path);
        Assert.Equal(["b", "a", "c"], file.Names);
        Assert.Equal((0L, 12L), (file.Info("b").Begin, file.Info("b").End));
        Assert.Equal((12L, 13L), (file.Info("a").Begin, file.Info("a").End));
        Assert.Equal((13L, 21L), (file.Info("c").Begin, file.Info("c").End));
    }

    [Fact]
    public void NoTensorsIsAValidFile()
    {
        string path = _scratch.PathOf("none.safetensors");
        SafeTensorsWriter.Write(path, []);
        using var file = new SafeTensorsFile(path);
        Assert.Empty(file.Names);
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Fact]
    public void StridedViewsAreWrittenInRowMajorOrder()
    {
        using var x = Tensor.FromArray([0f, 1f, 2f, 3f, 4f, 5f], [2, 3]);
        using var transposed = x.Transpose(0, 1);
        using var narrowed = x.Narrow(1, 1, 2);
        string path = _scratch.PathOf("views.safetensors");
        SafeTensorsWriter.Write(path, [("t", transposed), ("n", narrowed)]);
        using var file = new SafeTensorsFile(path);
        using var t = file.Load("t");
        using var n = file.Load("n");
        Assert.Equal([3, 2], t.ShapeArray);
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], t.ToFloatArray());
        Assert.Equal([1f, 2f, 4f, 5f], n.ToFloatArray());
    }

    [Fact]
    public void ConvertingLoadCopiesIntoAlignedHostMemory()
    {
        using var bf16 = Tensor.FromBits([0x3F80, 0xC0A0, 0x3E00], [3], DType.BF16);
        using var f32 = Tensor.FromArray([1f, 1.00390625f, -3.14159f]);
        using var pad = Tensor.FromArray(new byte[] { 1 });
        string path = _scratch.PathOf("convert.safetensors");
        SafeTensorsWriter.Write(path, [("pad", pad), ("bf16", bf16), ("f32", f32)]);
        using var file = new SafeTensorsFile(path);

        using var widened = file.Load("bf16", DType.F32);
        Assert.IsType<HostStorage>(widened.Storage);
        Assert.Equal([1f, -5f, 0.125f], widened.ToFloatArray());

        using var narrowed = file.Load("f32", DType.BF16);
        Assert.Equal(Array.ConvertAll(f32.ToFloatArray(), Numerics.FloatToBf16), narrowed.ToArray<ushort>());

        using var copy = file.Load("f32", DType.F32);
        Assert.IsType<HostStorage>(copy.Storage);
        Assert.Equal(0, copy.DataPointer % 64);
        Assert.Equal(f32.ToFloatArray(), copy.ToFloatArray());
    }

    [Fact]
    public void MappedTensorsOutliveTheFileObjectAndWritesNeverReachTheFile()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f]);
        string path = _scratch.PathOf("cow.safetensors");
        SafeTensorsWriter.Write(path, [("x", x)]);
        var before = File.ReadAllBytes(path);

        Tensor loaded;
        using (var file = new SafeTensorsFile(path))
            loaded = file.Load("x");
        var storage = loaded.Storage;
        Assert.Equal([1f, 2f, 3f], loaded.ToFloatArray());
        loaded.AsSpan<float>()[0] = 42f;
        Assert.Equal([42f, 2f, 3f], loaded.ToFloatArray());
        loaded.Dispose();
        Assert.True(storage.IsFreed);

        Assert.Equal(before, File.ReadAllBytes(path));
        using var again = new SafeTensorsFile(path);
        using var fresh = again.Load("x");
        Assert.Equal([1f, 2f, 3f], fresh.ToFloatArray());
    }

    [Fact]
    public void UsingADisposedFileThrows()
    {
        using var x = Tensor.FromArray([1f]);
        string path = _scratch.PathOf("disposed.safetensors");
        SafeTensorsWriter.Write(path, [("x", x)]);
        var file = new SafeTensorsFile(path);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Load("x"));
    }

    [Fact]
    public void AFailedWriteLeavesThePreviousFileAndNoTemporaryFile()
    {
        using var good = Tensor.FromArray([1f, 2f]);
        string path = _scratch.PathOf("atomic.safetensors");
        SafeTensorsWriter.Write(path, [("good", good)]);
        var before = File.ReadAllBytes(path);

        var gone = Tensor.FromArray([3f]);
        gone.Dispose();
        Assert.Throws<ObjectDisposedException>(() => SafeTensorsWriter.Write(path, [("good", good), ("gone", gone)]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_scratch.Dir));
    }

    [Theory]
    [InlineData("x")]
    [InlineData("__metadata__")]
    public void DuplicateOrReservedNamesAreRefusedBeforeAnythingIsWritten(string second)
    {
        using var x = Tensor.FromArray([1f]);
        string path = _scratch.PathOf("names.safetensors");
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("x", x), (second, x)]));
        Assert.Contains($"'{second}'", e.Message);
        Assert.Empty(Directory.GetFiles(_scratch.Dir));
    }
}
