using System.Buffers.Binary;
using System.Text.Json;
using RawLongLoRA;

namespace RawLongLoRA.Tests;

/// <summary>
/// A minimal safetensors reader for the committed PyTorch fixtures (tests/reference/*.safetensors,
/// copied next to the test dll under reference/). It trusts its input; the validated reader is the
/// model layer's. Keys are looked up strictly: a missing key throws naming it and the file.
/// </summary>
public sealed class Fixtures
{
    private readonly string _path;
    private readonly byte[] _data;
    private readonly long _dataStart;
    private readonly Dictionary<string, (DType DType, int[] Shape, long Begin, long End)> _entries = [];

    private Fixtures(string path)
    {
        _path = path;
        _data = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(_data);
        _dataStart = 8 + headerLength;
        using var header = JsonDocument.Parse(_data.AsMemory(8, checked((int)headerLength)));
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
                continue;
            var dtypeName = entry.Value.GetProperty("dtype").GetString()!;
            if (!DTypeInfo.TryParseSafetensors(dtypeName, out var dtype))
                throw new InvalidDataException($"{path}: tensor '{entry.Name}' has dtype {dtypeName}, which the fixture reader does not know");
            var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            _entries[entry.Name] = (dtype, shape, offsets[0], offsets[1]);
        }
    }

    private static readonly Dictionary<string, Fixtures> Cache = [];

    /// <summary>reference/<paramref name="name"/>.safetensors from the test output directory (read once).</summary>
    public static Fixtures Load(string name)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out var f))
                Cache[name] = f = new Fixtures(Path.Combine(AppContext.BaseDirectory, "reference", name + ".safetensors"));
            return f;
        }
    }

    public IEnumerable<string> Keys => _entries.Keys;

    public bool Contains(string key) => _entries.ContainsKey(key);

    public DType DTypeOf(string key) => Entry(key).DType;

    public int[] ShapeOf(string key) => (int[])Entry(key).Shape.Clone();

    /// <summary>The tensor under <paramref name="key"/> as a new CPU tensor of its stored dtype.</summary>
    public Tensor Tensor(string key, bool requiresGrad = false)
    {
        var (dtype, shape, _, _) = Entry(key);
        var t = dtype switch
        {
            DType.F32 => RawLongLoRA.Tensor.FromArray(Read<float>(key), shape),
            DType.BF16 or DType.F16 => RawLongLoRA.Tensor.FromBits(Read<ushort>(key), shape, dtype),
            DType.I64 => RawLongLoRA.Tensor.FromArray(Read<long>(key), shape),
            DType.I32 => RawLongLoRA.Tensor.FromArray(Read<int>(key), shape),
            DType.U8 => RawLongLoRA.Tensor.FromArray(Read<byte>(key), shape),
            _ => throw new InvalidDataException($"{_path}: '{key}' has dtype {dtype}"),
        };
        t.RequiresGrad = requiresGrad;
        return t;
    }

    public float[] Floats(string key) => Read<float>(key, DType.F32);

    public long[] Longs(string key) => Read<long>(key, DType.I64);

    /// <summary>Raw 16-bit patterns of a BF16 or F16 tensor.</summary>
    public ushort[] Bits(string key) => Read<ushort>(key, DTypeOf(key) is DType.BF16 ? DType.BF16 : DType.F16);

    private T[] Read<T>(string key, DType expected) where T : struct
    {
        var e = Entry(key);
        if (e.DType != expected)
            throw new InvalidDataException($"{_path}: '{key}' is {e.DType}, not {expected}");
        return Read<T>(key);
    }

    private T[] Read<T>(string key) where T : struct
    {
        var (dtype, shape, begin, end) = Entry(key);
        long count = Shapes.Numel(shape);
        if (end - begin != count * dtype.Size() || _dataStart + end > _data.Length)
            throw new InvalidDataException($"{_path}: '{key}' has offsets [{begin}, {end}) that do not fit shape {Shapes.Format(shape)} of {dtype}");
        var span = _data.AsSpan(checked((int)(_dataStart + begin)), checked((int)(end - begin)));
        // The file is little-endian, as is every machine these tests run on.
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(span).ToArray();
    }

    private (DType DType, int[] Shape, long Begin, long End) Entry(string key)
        => _entries.TryGetValue(key, out var e) ? e : throw new KeyNotFoundException($"{_path}: no tensor '{key}' (regenerate with /usr/bin/python3 tests/reference/make_ops.py)");
}
