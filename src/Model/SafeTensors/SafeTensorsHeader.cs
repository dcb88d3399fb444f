using System.Buffers.Binary;
using System.Text.Json;

namespace RawLongLoRA.Model;

/// <summary>
/// Reads and validates a safetensors header as the reference implementation (huggingface/safetensors)
/// does: 8 bytes of little-endian header length (at most 100 MB, inside the file), a UTF-8 JSON object
/// starting with '{' (trailing spaces pad it), a known dtype per tensor, shape × dtype size equal to the
/// byte range, ranges that tile the data section from 0 to the end of the file without gap or overlap,
/// and string metadata values. Like the reference, fields of a tensor entry other than dtype, shape and
/// data_offsets are ignored; unlike serde's maps, a key given twice is an error rather than "last wins",
/// since a file that names a tensor twice is ambiguous. All arithmetic on header numbers is checked, so
/// a validated header cannot point outside the file.
/// </summary>
internal sealed class SafeTensorsHeader
{
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    private SafeTensorsHeader(long dataStart, List<SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        DataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>File offset of the data section.</summary>
    public long DataStart { get; }

    /// <summary>In file order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>How many leading bytes of a file of <paramref name="fileLength"/> bytes <see cref="Parse"/> wants.</summary>
    public static long PrefixLength(long fileLength) => Math.Min(fileLength, 8 + MaxHeaderBytes);

    public static SafeTensorsException TooSmall(string file, long fileLength)
        => new(file, null, "too-small", $"the file has {fileLength} bytes; expected at least 8 (the header length)");

    /// <summary>The validated header; a broken rule throws <see cref="SafeTensorsException"/>.</summary>
    /// <param name="file">The file's name, for messages.</param>
    /// <param name="prefix">The first <see cref="PrefixLength"/> bytes of the file.</param>
    /// <param name="fileLength">The file's length in bytes: the data ranges must tile it to the end.</param>
    public static SafeTensorsHeader Parse(string file, ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (fileLength < 8)
            throw TooSmall(file, fileLength);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw new SafeTensorsException(file, null, "header-length", $"header length {n} is over the limit of {MaxHeaderBytes} bytes");
        if (8 + (long)n > fileLength)
            throw new SafeTensorsException(file, null, "header-length", $"header length {n} runs past the end of the file ({fileLength} bytes)");
        var header = prefix.Slice(8, (int)n);
        if (header.IsEmpty || header[0] != (byte)'{')
            throw new SafeTensorsException(file, null, "header-start", "the header does not start with '{'");
        using (var doc = JsonText.Parse(file, header, "header"))
        {
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var tensors = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!keys.Add(p.Name))
                    throw new SafeTensorsException(file, p.Name == MetadataKey ? null : p.Name, "duplicate-key", $"the header has the key {SafeTensorsException.Quote(p.Name)} twice");
                if (p.Name == MetadataKey)
                    ReadMetadata(file, p.Value, metadata);
                else
                    tensors.Add(ReadEntry(file, p.Name, p.Value));
            }
            long dataStart = 8 + (long)n;
            return new SafeTensorsHeader(dataStart, Tile(file, tensors, fileLength - dataStart), metadata);
        }
    }

    private static void ReadMetadata(string file, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsException(file, null, "metadata", $"{MetadataKey} is a JSON {JsonText.Kind(value)}; expected an object of strings");
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsException(file, null, "metadata", $"{MetadataKey} value of {SafeTensorsException.Quote(p.Name)} is a JSON {JsonText.Kind(p.Value)}; expected a string");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
                throw new SafeTensorsException(file, null, "duplicate-key", $"{MetadataKey} has the key {SafeTensorsException.Quote(p.Name)} twice");
        }
    }

    private static SafeTensorInfo ReadEntry(string file, string name, JsonElement entry)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsException(file, name, "entry", $"the entry is a JSON {JsonText.Kind(entry)}; expected an object with dtype, shape and data_offsets");
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var f in entry.EnumerateObject())
            if (f.Name is "dtype" or "shape" or "data_offsets" && !fields.TryAdd(f.Name, f.Value))
                throw new SafeTensorsException(file, name, "duplicate-key", $"the entry has '{f.Name}' twice");
        JsonElement Field(string field) => fields.TryGetValue(field, out var v) ? v
            : throw new SafeTensorsException(file, name, "entry", $"the entry has no '{field}'");

        var dtypeElement = Field("dtype");
        string? dtypeName = dtypeElement.ValueKind == JsonValueKind.String ? dtypeElement.GetString() : null;
        if (dtypeName is null || !DTypeInfo.TryParseSafetensors(dtypeName, out var dtype))
            throw new SafeTensorsException(file, name, "dtype",
                $"dtype {SafeTensorsException.Quote(dtypeName ?? dtypeElement.GetRawText())} is not one of {string.Join(", ", Enum.GetValues<DType>().Select(d => d.SafetensorsName()))}");

        var shapeElement = Field("shape");
        var shape = Integers(shapeElement, int.MaxValue)
            ?? throw new SafeTensorsException(file, name, "shape", $"shape {SafeTensorsException.Quote(shapeElement.GetRawText())} is not a list of integers in [0, 2^31)");

        var offsetsElement = Field("data_offsets");
        var offsets = Integers(offsetsElement, long.MaxValue);
        if (offsets is not { Length: 2 })
            throw new SafeTensorsException(file, name, "byte-range", $"data_offsets {SafeTensorsException.Quote(offsetsElement.GetRawText())} is not two integers in [0, 2^63)");
        long begin = offsets[0], end = offsets[1];
        if (end < begin)
            throw new SafeTensorsException(file, name, "byte-range", $"data_offsets [{begin}, {end}) end before they begin");

        long bytes = dtype.Size();
        try
        {
            foreach (long d in shape)
                bytes = checked(bytes * d);
        }
        catch (OverflowException)
        {
            throw new SafeTensorsException(file, name, "shape", $"shape {Shapes.Format(ToInts(shape))} of {dtype.SafetensorsName()} has more bytes than a file can hold");
        }
        if (bytes != end - begin)
            throw new SafeTensorsException(file, name, "byte-range",
                $"shape {Shapes.Format(ToInts(shape))} of {dtype.SafetensorsName()} needs {bytes} bytes but data_offsets [{begin}, {end}) hold {end - begin}");
        return new SafeTensorInfo(name, dtype, ToInts(shape), begin, end);
    }

    /// <summary>The ranges sorted by position must cover [0, dataLength) exactly; returns them in that order.</summary>
    private static List<SafeTensorInfo> Tile(string file, List<SafeTensorInfo> tensors, long dataLength)
    {
        var sorted = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long end = 0;
        foreach (var t in sorted)
        {
            if (t.Begin > end)
                throw new SafeTensorsException(file, t.Name, "gap", $"data starts at byte {t.Begin} of the data section but the tensor before ends at {end}; expected no bytes between tensors");
            if (t.Begin < end)
                throw new SafeTensorsException(file, t.Name, "overlap", $"data [{t.Begin}, {t.End}) overlaps the tensor before, which ends at {end}");
            end = t.End;
        }
        if (end > dataLength)
            throw new SafeTensorsException(file, sorted[^1].Name, "truncated", $"data ends at byte {end} of the data section but the file holds {dataLength} bytes after the header");
        if (end < dataLength)
            throw new SafeTensorsException(file, null, "trailing-bytes", $"the tensors end at byte {end} of the data section but the file holds {dataLength} bytes after the header; expected them to end with the file");
        return sorted;
    }

    /// <summary>A JSON array of integers in [0, max], or null.</summary>
    private static long[]? Integers(JsonElement e, long max)
    {
        if (e.ValueKind != JsonValueKind.Array)
            return null;
        var values = new long[e.GetArrayLength()];
        int i = 0;
        foreach (var item in e.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0 || v > max)
                return null;
            values[i++] = v;
        }
        return values;
    }

    private static int[] ToInts(long[] dims) => Array.ConvertAll(dims, d => (int)d);
}
