using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RawLongLoRA.Model;

/// <summary>
/// Writes safetensors as the reference does: the header lists tensors by sorted name after
/// __metadata__ ({"format": "pt"} and the caller's entries), padded with spaces to a multiple of 8 bytes
/// so the data section starts aligned; the data follows in the order given, each tensor contiguous.
/// Tensors may be strided or on any device (they are copied through host memory). Every file is
/// written atomically (see <see cref="AtomicFile"/>).
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (name, tensor; any dtype, layout or device) to the safetensors file
    /// <paramref name="path"/>, with <paramref name="metadata"/> added to __metadata__. The caller keeps ownership of
    /// the tensors. A name given twice throws.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor T)> tensors, IDictionary<string, string>? metadata = null)
    {
        var list = Collect(tensors);
        var header = Header(list, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, t) in list)
                WriteData(stream, t);
        });
    }

    /// <summary>
    /// <paramref name="baseName"/>.safetensors if everything fits in <paramref name="maxShardBytes"/>;
    /// else shards <paramref name="baseName"/>-00001-of-0000N.safetensors, filled in the order given (a
    /// tensor larger than the limit gets a shard of its own), and <paramref name="baseName"/>.safetensors.index.json.
    /// Files of an earlier save under the same base name that this one does not use are removed, so the
    /// folder never holds two versions of the weights.
    /// </summary>
    public static void WriteSharded(string dir, IEnumerable<(string Name, Tensor T)> tensors, long maxShardBytes, string baseName = "model")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var shards = new List<List<(string Name, Tensor T)>> { new() };
        long size = 0;
        foreach (var item in Collect(tensors))
        {
            long bytes = Bytes(item.T);
            if (shards[^1].Count > 0 && size + bytes > maxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(item);
            size += bytes;
        }

        Directory.CreateDirectory(dir);
        string single = baseName + ".safetensors", index = single + ".index.json";
        var written = new HashSet<string>(StringComparer.Ordinal);
        if (shards.Count == 1)
        {
            Write(Path.Combine(dir, single), shards[0]);
            written.Add(single);
        }
        else
        {
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < shards.Count; i++)
            {
                string file = $"{baseName}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                Write(Path.Combine(dir, file), shards[i]);
                written.Add(file);
                foreach (var (name, _) in shards[i])
                    weightMap[name] = file;
            }
            SafeTensorsIndex.Write(Path.Combine(dir, index), shards.Sum(s => s.Sum(e => Bytes(e.T))), weightMap);
            written.Add(index);
        }

        var shardName = new Regex($"^{Regex.Escape(baseName)}-[0-9]{{5}}-of-[0-9]{{5}}\\.safetensors$");
        foreach (var file in Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>().ToList())
            if ((file == single || file == index || shardName.IsMatch(file)) && !written.Contains(file))
                File.Delete(Path.Combine(dir, file));
    }

    private static List<(string Name, Tensor T)> Collect(IEnumerable<(string Name, Tensor T)> tensors)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
            if (name == SafeTensorsHeader.MetadataKey || !names.Add(name))
                throw new ArgumentException($"safetensors: the tensor name '{name}' is {(name == SafeTensorsHeader.MetadataKey ? "reserved" : "given twice")}");
        return list;
    }

    private static long Bytes(Tensor t) => t.Numel * t.DType.Size();

    private static byte[] Header(List<(string Name, Tensor T)> list, IDictionary<string, string>? metadata)
    {
        var meta = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            meta[key] = value;
        var ranges = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, t) in list)
        {
            ranges[name] = (offset, offset + Bytes(t));
            offset += Bytes(t);
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartObject(SafeTensorsHeader.MetadataKey);
            foreach (var (key, value) in meta)
                w.WriteString(key, value);
            w.WriteEndObject();
            foreach (var (name, t) in list.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", t.DType.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (int d in t.Shape)
                    w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(ranges[name].Begin);
                w.WriteNumberValue(ranges[name].End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        while (buffer.Length % 8 != 0)
            buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static unsafe void WriteData(Stream stream, Tensor t)
    {
        if (!t.Device.IsCpu || !t.IsContiguous)
        {
            using var host = Tensor.Empty(t.ShapeArray, t.DType).CopyFrom(t);
            WriteData(stream, host);
            return;
        }
        byte* p = (byte*)t.DataPointer;
        for (long done = 0, n = Bytes(t); done < n;)
        {
            int chunk = (int)Math.Min(n - done, 1 << 30);
            stream.Write(new ReadOnlySpan<byte>(p + done, chunk));
            done += chunk;
        }
    }
}
