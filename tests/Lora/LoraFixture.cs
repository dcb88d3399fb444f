using System.Text.Json;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// One case of tests/reference/make_lora.py: a tiny model with an adapter whose A, B (and DoRA
/// magnitude) hold the fixture's values, the fixture's ids, and PyTorch's loss and gradients.
/// </summary>
internal sealed class LoraFixture : IDisposable
{
    public static TheoryData<string> Cases =>
        ["llama-gqa", "llama-gqa-s2-embed-norm", "qwen2-tied-embed-norm", "qwen3-s2-all-linear", "llama-gqa-rslora", "llama-gqa-dora"];

    private readonly SafeTensorsFile _file;

    public LoraFixture(string name)
    {
        _file = new SafeTensorsFile(Path.Combine(AppContext.BaseDirectory, "reference", "lora", name + ".safetensors"));
        T Meta<T>(string key) => JsonSerializer.Deserialize<T>(_file.Metadata[key])!;
        S2 = Meta<bool>("s2");
        Config = new LoraConfig
        {
            R = Meta<int>("r"),
            Alpha = Meta<double>("alpha"),
            UseRsLora = Meta<bool>("rslora"),
            UseDora = Meta<bool>("dora"),
            TargetModules = Meta<string>("targets").Split(','),
            ModulesToSave = Meta<bool>("embed_norm") ? LoraConfig.EmbeddingAndNorms : [],
        };
        Model = CausalLM.Load(CausalLMTests.Dir(Meta<string>("model")));
        Model.AddAdapter("default", Config, seed: 0);
        foreach (var (param, tensor) in Model.NamedParameters())
            if (FixtureKey(param) is { } key)
                using (var value = _file.Load(key))
                    tensor.CopyFrom(value);
        using var ids = _file.Load("input_ids");
        Ids = ids.ToArray<long>();
        using var loss = _file.Load("loss");
        Loss = loss.ToFloatArray()[0];
    }

    public CausalLM Model { get; }
    public LoraConfig Config { get; }
    public bool S2 { get; }
    public long[] Ids { get; }
    public float Loss { get; }

    /// <summary>The next-token loss over the fixture's ids (S2-Attn with G = T/4 where the case has it), in vocabulary tiles.</summary>
    public Tensor ComputeLoss()
    {
        int t = Ids.Length;
        var targets = Ids.Skip(1).Append(CrossEntropyOp.IgnoreIndex).ToArray();
        var spec = S2 ? new AttentionSpec { GroupSize = t / 4 } : null;
        var hidden = Model.Hidden(Tensor.FromArray(Ids, [1, t]), spec: spec);
        return hidden.Reshape(t, -1).LinearCrossEntropy(Model.HeadWeight, Tensor.FromArray(targets), vocabChunk: 128, tokenChunk: 16);
    }

    /// <summary>PyTorch's gradient of one of our parameters.</summary>
    public float[] ExpectedGrad(string name) => Load(GradKey(name));

    private float[] Load(string key)
    {
        using var t = _file.Load(key);
        return t.ToFloatArray();
    }

    /// <summary>Our "…q_proj.lora_A.default.weight" is the fixture's "…q_proj.lora_A.weight"; DoRA's vector has no ".weight" there.</summary>
    private static string? FixtureKey(string name) => !name.Contains(".default.")
        ? null
        : name.Contains(".lora_magnitude_vector.") ? name.Replace(".default.weight", "") : name.Replace(".default.", ".");

    private static string GradKey(string name) => FixtureKey(name) is { } key
        ? (key.EndsWith(".weight", StringComparison.Ordinal) ? key[..^".weight".Length] : key) + ".grad"
        : name + ".grad";

    public void Dispose()
    {
        Model.Dispose();
        _file.Dispose();
    }
}
