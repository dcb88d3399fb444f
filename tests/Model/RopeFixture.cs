using System.Text;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// tests/reference/rope.safetensors, made by tests/reference/make_rope.py from transformers' formulas
/// in PyTorch: per case the model's config.json, a sequence length, inv_freq, the attention factor
/// and, for some, cos/sin rows at positions up to 32767. The peer_* cases are ../shared/peers/configs.
/// </summary>
internal static class RopeFixture
{
    public static SafeTensorsFile File { get; } = new(Path.Combine(AppContext.BaseDirectory, "reference", "rope.safetensors"));

    public static IEnumerable<string> Cases => File.Names.Where(k => k.EndsWith(".inv_freq")).Select(k => k[..^".inv_freq".Length]).Order();

    public static TheoryData<string> AllCases => [.. Cases];

    public static TheoryData<string> TableCases => [.. Cases.Where(c => File.Contains(c + ".cos"))];

    public static string ConfigText(string name)
    {
        using var bytes = File.Load(name + ".config");
        return Encoding.UTF8.GetString(bytes.ToArray<byte>());
    }

    public static ModelConfig Config(string name) => ModelConfig.Parse(ConfigText(name), name + "/config.json");

    public static int SeqLen(string name) => checked((int)Longs(name + ".seq_len")[0]);

    public static float[] Floats(string key)
    {
        using var t = File.Load(key);
        return t.ToFloatArray();
    }

    public static long[] Longs(string key)
    {
        using var t = File.Load(key);
        return t.ToArray<long>();
    }
}
