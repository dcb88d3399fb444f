using System.Text.Json.Nodes;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The shapes `bench ops` measures: the row kernels of a training step at cpu-small's widths (hidden
/// 512, MLP 1376, 8 heads of 64) and at Llama-7B's (4096, 11008, 32 heads of 128), 4096 tokens each;
/// a cross-entropy chunk over a 32000 vocabulary; plain copy and add through the backend as the yardstick
/// of what a streaming kernel reaches.
/// </summary>
internal static unsafe class OpsCases
{
    public static readonly OpCase[] All =
    [
        MemoryCases.Copy(4096, 4096),
        MemoryCases.Add(4096, 4096),
        RmsNormCase.Make(4096, 512, quick: true),
        RmsNormCase.Make(4096, 4096, quick: false),
        RopeCase.Make(4096, 8, 64, quick: true),
        RopeCase.Make(4096, 32, 128, quick: false),
        SwiGluCase.Make(4096, 1376, quick: true),
        SwiGluCase.Make(4096, 11008, quick: false),
        SoftmaxCase.Make(4096, 4096, quick: true),
        CrossEntropyCase.Make(1024, 32000, quick: true),
        EmbeddingCase.Make(4096, 32000, 4096, DType.F32, quick: true),
        EmbeddingCase.Make(4096, 32000, 4096, DType.BF16, quick: false),
        AdamWCase.Make(8 << 20, quick: true),
    ];

    /// <summary>What the peer is asked to time: op, pass and shape (timing fields are added per round).</summary>
    public static JsonObject Request(string op, string pass, params int[] shape) =>
        new() { ["op"] = op, ["pass"] = pass, ["shape"] = new JsonArray(shape.Select(s => JsonValue.Create(s)).ToArray<JsonNode?>()) };

    public static float* F(Tensor t) => (float*)t.DataPointer;

    public static string Dims(params int[] shape) => "[" + string.Join("x", shape) + "]";
}
