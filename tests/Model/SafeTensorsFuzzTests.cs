using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using Xunit;
using Xunit.Abstractions;

namespace RawLongLoRA.Tests;

/// <summary>
/// Valid files mutated with a fixed seed: bit flips, truncation, appended garbage, header-length edits,
/// overwritten header bytes, and edits of the header's JSON (dtype, shape and offsets changed, entries
/// duplicated, dropped, renamed or replaced, fields dropped or added, metadata of the wrong kind). Each
/// case either opens, and then every tensor reads whole, or throws SafeTensorsException naming the
/// file; any other exception fails the test.
/// </summary>
public sealed class SafeTensorsFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Cases = 4000;
    private const int Seed = 1234;
    private readonly SafeTensorsScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void MutatedFilesOpenOrThrowSafeTensorsException()
    {
        var bases = BaseFiles();
        var rng = new Random(Seed);
        string path = _scratch.PathOf("fuzz.safetensors");
        int accepted = 0;
        var rules = new SortedDictionary<string, int>();
        for (int i = 0; i < Cases; i++)
        {
            var (bytes, what) = Mutate(bases[rng.Next(bases.Count)], rng);
            File.WriteAllBytes(path, bytes);
            try
            {
                ReadEverything(path);
                accepted++;
            }
            catch (SafeTensorsException e)
            {
                rules[e.Rule] = rules.GetValueOrDefault(e.Rule) + 1;
                Assert.Contains("fuzz.safetensors", e.Message);
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} ({what}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        // The mutations must reach deep into validation, and leave some files valid.
        string summary = $"accepted {accepted}; " + string.Join(", ", rules.Select(r => $"{r.Key} {r.Value}"));
        output.WriteLine(summary);
        Assert.True(accepted >= 50, summary);
        Assert.True(rules.Count >= 14, summary);
    }

    private static void ReadEverything(string path)
    {
        using var file = new SafeTensorsFile(path);
        foreach (var name in file.Names)
        {
            using var t = file.Load(name);
            Assert.Equal(t.Numel, t.ToFloatArray().Length);
        }
    }

    private List<byte[]> BaseFiles()
    {
        var kinds = SafeTensorsRoundTripTests.AllKinds();
        using var w = Tensor.FromArray([.. Enumerable.Range(0, 24).Select(i => i * 0.5f)], [2, 3, 4]);
        using var b = Tensor.FromBits([1, 2, 3, 4, 5, 6], [6], DType.BF16);
        string all = _scratch.PathOf("all.safetensors"), small = _scratch.PathOf("small.safetensors");
        SafeTensorsWriter.Write(all, kinds, new Dictionary<string, string> { ["step"] = "10" });
        SafeTensorsWriter.Write(small, [("model.w", w), ("model.b", b)]);
        foreach (var (_, t) in kinds)
            t.Dispose();
        return [File.ReadAllBytes(all), File.ReadAllBytes(small)];
    }

    private static (byte[] Bytes, string What) Mutate(byte[] valid, Random rng)
    {
        var b = (byte[])valid.Clone();
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(b);
        switch (rng.Next(8))
        {
            case 0:
                return (FlipBits(b, headerEnd, rng), "bit flips in the header");
            case 1:
                return (FlipBits(b, b.Length, rng), "bit flips anywhere");
            case 2:
                return (b[..rng.Next(b.Length)], "truncated");
            case 3:
                return ([.. b, .. RandomBytes(rng.Next(1, 17), rng)], "garbage appended");
            case 4:
                ulong[] lengths = [0, 1, 7, (ulong)headerEnd - 9, (ulong)headerEnd - 7, (ulong)headerEnd, (ulong)b.Length, (ulong)b.Length - 8,
                    100_000_000, 100_000_001, long.MaxValue, ulong.MaxValue, (ulong)rng.NextInt64()];
                ulong length = lengths[rng.Next(lengths.Length)];
                BinaryPrimitives.WriteUInt64LittleEndian(b, length);
                return (b, $"header length {length}");
            case 5:
                int at = rng.Next(8, headerEnd);
                RandomBytes(Math.Min(rng.Next(1, 9), headerEnd - at), rng).CopyTo(b, at);
                return (b, $"garbage over header bytes at {at}");
            default:
                return EditJson(b, headerEnd, rng);
        }
    }

    private static byte[] FlipBits(byte[] b, int within, Random rng)
    {
        for (int i = rng.Next(1, 5); i > 0; i--)
            b[rng.Next(within)] ^= (byte)(1 << rng.Next(8));
        return b;
    }

    private static byte[] RandomBytes(int n, Random rng)
    {
        var bytes = new byte[n];
        rng.NextBytes(bytes);
        return bytes;
    }

    private static readonly JsonNode?[] DTypes = ["F32", "BF16", "F16", "I32", "I64", "U8", "F64", "BOOL", "f32", "", "0", 5, null];
    private static readonly JsonNode?[] Numbers = [0, 1, 2, 3, 7, 24, -1, 2147483648L, 4294967297L, 4611686018427387904L, long.MaxValue, ulong.MaxValue, 1.5, "2", null];

    /// <summary>The header as a list of keys and values (so keys can repeat), edited once or twice, then written back.</summary>
    private static (byte[] Bytes, string What) EditJson(byte[] b, int headerEnd, Random rng)
    {
        var root = JsonNode.Parse(b.AsSpan(8, headerEnd - 8))!.AsObject();
        var entries = root.Select(p => (Key: p.Key, Value: p.Value?.DeepClone())).ToList();
        var what = new List<string>();
        for (int edits = rng.Next(1, 3); edits > 0 && entries.Count > 0; edits--)
        {
            int i = rng.Next(entries.Count);
            var (key, value) = entries[i];
            var entry = value as JsonObject;
            switch (rng.Next(12))
            {
                case 0 when entry is not null:
                    entry["dtype"] = DTypes[rng.Next(DTypes.Length)]?.DeepClone();
                    break;
                case 1 when entry is not null && entry["shape"] is JsonArray shape:
                    if (shape.Count > 0 && rng.Next(3) == 0)
                        shape.RemoveAt(rng.Next(shape.Count));
                    else if (shape.Count > 0 && rng.Next(2) == 0)
                        shape[rng.Next(shape.Count)] = Numbers[rng.Next(Numbers.Length)]?.DeepClone();
                    else
                        shape.Add(Numbers[rng.Next(Numbers.Length)]?.DeepClone());
                    break;
                case 2 when entry is not null && entry["shape"] is JsonArray shape:
                    entry["shape"] = new JsonArray([.. shape.Reverse().Select(d => d?.DeepClone())]);
                    break;
                case 3 when entry is not null && entry["data_offsets"] is JsonArray offsets && offsets.Count == 2 && offsets.All(o => o is JsonValue v && v.TryGetValue<long>(out _)):
                    int which = rng.Next(3), shift = rng.Next(-9, 10);
                    for (int k = 0; k < 2; k++)
                        if (which == k || which == 2)
                            offsets[k] = offsets[k]!.GetValue<long>() + shift;
                    break;
                case 4 when entry is not null && entry["data_offsets"] is JsonArray { Count: >= 2 } offsets:
                    offsets[rng.Next(2)] = Numbers[rng.Next(Numbers.Length)]?.DeepClone();
                    if (rng.Next(3) == 0)
                        offsets.Add(4);
                    break;
                case 5:
                    entries.RemoveAt(i);
                    break;
                case 6:
                    entries.Insert(rng.Next(entries.Count + 1), (key, value?.DeepClone()));
                    break;
                case 7:
                    entries[i] = (rng.Next(3) == 0 ? "__metadata__" : entries[rng.Next(entries.Count)].Key, value);
                    break;
                case 8 when entry is not null:
                    string[] fields = ["dtype", "shape", "data_offsets"];
                    entry.Remove(fields[rng.Next(fields.Length)]);
                    break;
                case 9 when entry is not null:
                    entry[rng.Next(2) == 0 ? "extra" : "dtype "] = Numbers[rng.Next(Numbers.Length)]?.DeepClone();
                    break;
                case 10:
                    JsonNode?[] metadata = [new JsonObject { ["format"] = "pt", ["n"] = 1 }, new JsonArray(), "pt", null, new JsonObject { ["x"] = new JsonObject() }];
                    entries.Add(("__metadata__", metadata[rng.Next(metadata.Length)]));
                    break;
                default:
                    entries[i] = (key, Numbers[rng.Next(Numbers.Length)]?.DeepClone());
                    break;
            }
            what.Add($"edit near '{key}'");
        }
        string json = "{" + string.Join(",", entries.Select(e => JsonSerializer.Serialize(e.Key) + ":" + (e.Value?.ToJsonString() ?? "null"))) + "}";
        var header = Encoding.UTF8.GetBytes(rng.Next(4) == 0 ? json : json.PadRight((json.Length + 7) / 8 * 8));
        long length = header.Length + (rng.Next(10) == 0 ? rng.Next(-8, 9) : 0);
        var bytes = new byte[8 + header.Length + b.Length - headerEnd];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, length);
        header.CopyTo(bytes, 8);
        b.AsSpan(headerEnd).CopyTo(bytes.AsSpan(8 + header.Length));
        return (bytes, string.Join("; ", what) + $": {json}");
    }
}
