using System.Buffers.Binary;
using System.Text;
using RawLongLoRA.Model;
using Xunit;
using static RawLongLoRA.Tests.SafeTensorsScratch;

namespace RawLongLoRA.Tests;

/// <summary>
/// Each rule the reader checks, broken by one hand-made file: the exception names the file, the tensor
/// where there is one, and the rule, on one line. Then files the reference accepts that look odd.
/// </summary>
public sealed class SafeTensorsValidationTests : IDisposable
{
    private readonly SafeTensorsScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static byte[] WithLength(ulong headerLength, byte[] rest)
    {
        var bytes = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        rest.CopyTo(bytes, 8);
        return bytes;
    }

    private static readonly string A4 = Entry("a", "F32", "[1]", 0, 4);

    /// <summary>case → (file bytes, rule, tensor named or null).</summary>
    private static readonly Dictionary<string, (byte[] Bytes, string Rule, string? Tensor)> Broken = new()
    {
        ["empty file"] = ([], "too-small", null),
        ["7 bytes"] = (new byte[7], "too-small", null),
        ["header over 100 MB"] = (WithLength(100_000_001, new byte[16]), "header-length", null),
        ["header length 2^64-1"] = (WithLength(ulong.MaxValue, new byte[16]), "header-length", null),
        ["header past the end"] = (WithLength(64, Encoding.UTF8.GetBytes("{}      ")), "header-length", null),
        ["leading space"] = (Bytes(" {" + A4 + "}", 4), "header-start", null),
        ["array header"] = (Bytes("[]", 0), "header-start", null),
        ["zero-length header"] = (WithLength(0, []), "header-start", null),
        ["invalid utf-8"] = (Bytes([.. "{\"a"u8, 0xFF, .. "\":{}}"u8], 0), "utf8", null),
        ["unterminated json"] = (Bytes("{\"a\":", 0), "json", null),
        ["garbage after the object"] = (Bytes("{} x", 0), "json", null),
        ["trailing comma"] = (Bytes("{" + A4 + ",}", 4), "json", null),
        ["nesting deeper than 64"] = (Bytes("{\"__metadata__\":" + new string('[', 100) + new string(']', 100) + "}", 0), "json", null),
        ["tensor twice"] = (Bytes("{" + A4 + "," + A4 + "}", 4), "duplicate-key", "a"),
        ["field twice"] = (Bytes("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "duplicate-key", "a"),
        ["metadata key twice"] = (Bytes("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "duplicate-key", null),
        ["entry not an object"] = (Bytes("{\"a\":[0,4]}", 4), "entry", "a"),
        ["entry without shape"] = (Bytes("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "entry", "a"),
        ["unknown dtype"] = (Bytes("{" + Entry("a", "F64", "[1]", 0, 8) + "}", 8), "dtype", "a"),
        ["lower-case dtype"] = (Bytes("{" + Entry("a", "f32", "[1]", 0, 4) + "}", 4), "dtype", "a"),
        ["numeric dtype name"] = (Bytes("{" + Entry("a", "0", "[1]", 0, 4) + "}", 4), "dtype", "a"),
        ["dtype combination"] = (Bytes("{" + Entry("a", "F32, BF16", "[1]", 0, 4) + "}", 4), "dtype", "a"),
        ["dtype not a string"] = (Bytes("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "dtype", "a"),
        ["negative dim"] = (Bytes("{" + Entry("a", "F32", "[-1]", 0, 4) + "}", 4), "shape", "a"),
        ["fractional dim"] = (Bytes("{" + Entry("a", "F32", "[1.0]", 0, 4) + "}", 4), "shape", "a"),
        ["dim of 2^31"] = (Bytes("{" + Entry("a", "U8", "[2147483648]", 0, 4) + "}", 4), "shape", "a"),
        ["shape overflowing 64 bits"] = (Bytes("{" + Entry("a", "F32", "[2147483647,2147483647,2147483647]", 0, 4) + "}", 4), "shape", "a"),
        ["shape not a list"] = (Bytes("{" + Entry("a", "F32", "\"1\"", 0, 4) + "}", 4), "shape", "a"),
        ["size differs from the range"] = (Bytes("{" + Entry("a", "F32", "[2]", 0, 4) + "}", 4), "byte-range", "a"),
        ["range ends before it begins"] = (Bytes("{" + Entry("a", "U8", "[0]", 4, 0) + "}", 4), "byte-range", "a"),
        ["three offsets"] = (Bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4), "byte-range", "a"),
        ["negative offset"] = (Bytes("{" + Entry("a", "F32", "[1]", -4, 0) + "}", 4), "byte-range", "a"),
        ["offset of 2^64"] = (Bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,18446744073709551616]}}", 4), "byte-range", "a"),
        ["gap between tensors"] = (Bytes("{" + A4 + "," + Entry("b", "F32", "[1]", 8, 12) + "}", 12), "gap", "b"),
        ["first tensor after byte 0"] = (Bytes("{" + Entry("a", "F32", "[1]", 4, 8) + "}", 8), "gap", "a"),
        ["overlapping tensors"] = (Bytes("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 4, 12) + "}", 12), "overlap", "b"),
        ["empty tensor inside another"] = (Bytes("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("e", "F32", "[0]", 4, 4) + "}", 8), "overlap", "e"),
        ["data past the end"] = (Bytes("{" + Entry("a", "F32", "[2]", 0, 8) + "}", 4), "truncated", "a"),
        ["huge range past the end"] = (Bytes("{" + Entry("a", "U8", "[1073741824,8]", 0, 8589934592) + "}", 4), "truncated", "a"),
        ["bytes after the last tensor"] = (Bytes("{" + A4 + "}", 8), "trailing-bytes", null),
        ["metadata value not a string"] = (Bytes("{\"__metadata__\":{\"step\":1}}", 0), "metadata", null),
        ["metadata not an object"] = (Bytes("{\"__metadata__\":[\"pt\"]}", 0), "metadata", null),
        ["control characters in a name"] = (Bytes("{" + Entry("a\\nb", "F64", "[1]", 0, 8) + "}", 8), "dtype", "a\nb"),
    };

    public static TheoryData<string> BrokenCases() => [.. Broken.Keys];

    internal static void Named(SafeTensorsException e, string path, string rule, string? tensor = null)
    {
        Assert.Equal(rule, e.Rule);
        Assert.Equal(path, e.File);
        Assert.Equal(tensor, e.Tensor);
        Assert.Contains(Path.GetFileName(path), e.Message);
        Assert.EndsWith($"[{rule}]", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        if (tensor is not null)
            Assert.Contains($"tensor '{tensor.Replace("\n", "\\u000a")}'", e.Message);
    }

    [Theory]
    [MemberData(nameof(BrokenCases))]
    public void ABrokenRuleIsNamedWithTheFileAndTheTensor(string name)
    {
        var (bytes, rule, tensor) = Broken[name];
        string path = _scratch.Write("broken.safetensors", bytes);
        Named(Assert.Throws<SafeTensorsException>(() => new SafeTensorsFile(path)), path, rule, tensor);
    }

    /// <summary>Odd but valid by the reference: each opens.</summary>
    private static readonly Dictionary<string, byte[]> Valid = new()
    {
        ["no tensors"] = Bytes("{}", 0),
        ["extra fields in an entry are ignored"] = Bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"stride\":[1]}}", 4),
        ["entries in any order"] = Bytes("{" + Entry("b", "F32", "[1]", 4, 8) + "," + A4 + "}", 8),
        ["empty tensors share an offset"] = Bytes("{" + Entry("e1", "F32", "[0]", 4, 4) + "," + A4 + "," + Entry("e2", "I64", "[3,0]", 4, 4) + "}", 4),
        ["null metadata"] = Bytes("{\"__metadata__\":null}", 0),
        ["whitespace inside the JSON"] = Bytes("{ \"a\" :\n {\"dtype\" : \"F32\", \"shape\": [ 1 ], \"data_offsets\": [0, 4]} }", 4),
        ["unpadded header"] = WithLength(2, [.. "{}"u8]),
    };

    public static TheoryData<string> ValidCases() => [.. Valid.Keys];

    [Theory]
    [MemberData(nameof(ValidCases))]
    public void WhatTheReferenceAcceptsOpens(string name)
    {
        string path = _scratch.Write("valid.safetensors", Valid[name]);
        using var file = new SafeTensorsFile(path);
        foreach (var tensor in file.Names)
        {
            using var t = file.Load(tensor);
            Assert.Equal(file.Info(tensor).ByteLength, t.Numel * t.DType.Size());
        }
    }

    [Fact]
    public void AMissingFileOrTensorIsNamed()
    {
        string path = _scratch.PathOf("absent.safetensors");
        Named(Assert.Throws<SafeTensorsException>(() => new SafeTensorsFile(path)), path, "missing-file");
        Named(Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(path)), path, "missing-file");
        Named(Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_scratch.Dir)), _scratch.Dir, "missing-file");
        Named(Assert.Throws<SafeTensorsException>(() => new SafeTensorsFile(_scratch.Dir)), _scratch.Dir, "missing-file");

        path = _scratch.Write("one.safetensors", Bytes("{" + A4 + "}", 4));
        using var file = new SafeTensorsFile(path);
        Named(Assert.Throws<SafeTensorsException>(() => file.Load("b")), path, "missing-tensor", "b");
        using var checkpoint = SafeTensorsCheckpoint.Open(path);
        Named(Assert.Throws<SafeTensorsException>(() => checkpoint.Load("b")), path, "missing-tensor", "b");
    }

    // ---- sharded checkpoints: the index against its shards

    private string Index(string weightMap) => _scratch.Write("model.safetensors.index.json",
        Encoding.UTF8.GetBytes($"{{\"metadata\":{{\"total_size\":8}},\"weight_map\":{weightMap}}}"));

    private void Shard(string file, params string[] tensors)
        => _scratch.Write(file, Bytes("{" + string.Join(",", tensors.Select((t, i) => Entry(t, "F32", "[1]", 4 * i, 4 * i + 4))) + "}", 4 * tensors.Length));

    [Fact]
    public void AMissingShardIsNamedWithTheIndex()
    {
        Shard("s1.safetensors", "a");
        string index = Index("{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}");
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_scratch.Dir));
        Named(e, index, "missing-shard");
        Assert.Contains("'s2.safetensors'", e.Message);
    }

    [Fact]
    public void AMappedTensorMissingFromItsShardIsNamed()
    {
        Shard("s1.safetensors", "a");
        Shard("s2.safetensors", "b");
        string index = Index("{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}");
        Named(Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_scratch.Dir)), index, "missing-tensor", "b");
    }

    [Fact]
    public void ATensorInTwoShardsIsNamed()
    {
        Shard("s1.safetensors", "a", "b");
        Shard("s2.safetensors", "b");
        string index = Index("{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}");
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_scratch.Dir));
        Named(e, index, "duplicate-tensor", "b");
        Assert.Contains("'s1.safetensors' and 's2.safetensors'", e.Message);
    }

    [Theory]
    [InlineData("{\"weight_map\":[]}", "index", null)]
    [InlineData("{\"metadata\":{}}", "index", null)]
    [InlineData("{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", "index", "a")]
    [InlineData("{\"weight_map\":{\"a\":\"/tmp/s1.safetensors\"}}", "index", "a")]
    [InlineData("{\"weight_map\":{\"a\":7}}", "index", "a")]
    [InlineData("{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}", "duplicate-key", "a")]
    [InlineData("{\"weight_map\":", "json", null)]
    public void ABrokenIndexIsNamed(string json, string rule, string? tensor)
    {
        Shard("s1.safetensors", "a");
        string index = _scratch.Write("model.safetensors.index.json", Encoding.UTF8.GetBytes(json));
        Named(Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_scratch.Dir)), index, rule, tensor);
    }

    [Fact]
    public void ABrokenShardIsNamedByItself()
    {
        Shard("s1.safetensors", "a");
        string shard = _scratch.Write("s2.safetensors", Bytes("{" + Entry("b", "F32", "[2]", 0, 4) + "}", 4));
        Index("{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}");
        Named(Assert.Throws<SafeTensorsException>(() => SafeTensorsCheckpoint.Open(_scratch.Dir)), shard, "byte-range", "b");
    }
}
