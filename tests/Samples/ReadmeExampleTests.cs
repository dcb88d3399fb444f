using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The README's library examples: each is a region of this file, which the README's csharp block must end with
/// verbatim (the README may set up variables before it), and which runs here, so the README keeps compiling and working.
/// </summary>
public sealed partial class ReadmeExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("tensors")]
    [InlineData("training loop")]
    public void TheReadmeShowsTheExampleVerbatim(string example)
    {
        string region = Region(example);
        var blocks = CsharpBlock().Matches(File.ReadAllText(Path.Combine(Repository.Root, "README.md"))).Select(m => m.Groups[1].Value.TrimEnd());
        Assert.True(blocks.Any(b => b.EndsWith(region, StringComparison.Ordinal)), $"no csharp block of README.md ends with the '{example}' example:\n{region}");
    }

    [Fact]
    public void TensorsExampleFillsTheGradient()
    {
        var w = TensorsExample();
        Assert.Equal([64, 32], w.Grad!.ShapeArray);
        Assert.Contains(w.Grad.ToFloatArray(), v => v != 0);
        Assert.All(w.Grad.ToFloatArray(), v => Assert.True(float.IsFinite(v)));
        w.Grad.Dispose();
        w.Dispose();
    }

    [Fact]
    public void TrainingLoopExampleTrainsTheAdapter()
    {
        string model = TinyModelFolder.Create(Path.Combine(_dir, "model"), "llama-gqa-tiny"), books = Path.Combine(_dir, "books.jsonl");
        File.WriteAllLines(books, Enumerable.Range(0, 8).Select(i => $$"""{"text": "{{string.Concat(Enumerable.Repeat($"book {i}: the pass key is {1000 + i}. ", 12))}}"}"""));
        TrainingLoopExample(model, books, Path.Combine(_dir, "run1"), context: 256, steps: 3);

        using var trained = CausalLM.Load(model);
        Assert.True(PeftAdapter.ExtendContextFrom(trained, Path.Combine(_dir, "run1", "adapter")));
        Assert.Equal(256, trained.Config.MaxPositionEmbeddings);
        PeftAdapter.Load(trained, Path.Combine(_dir, "run1", "adapter"));
        var b = trained.LinearLayers().First().Layer.Adapters["default"].B;
        Assert.Contains(b.ToFloatArray(), v => v != 0); // B starts at zero: three AdamW steps moved it
    }

    private static Tensor TensorsExample()
    {
        // README: tensors
        using var scope = new DisposeScope();                 // frees every tensor made inside it
        var w = Tensor.Randn([64, 32], requiresGrad: true).MoveToOuterScope();
        var x = Tensor.Randn([8, 16, 32]);
        var loss = x.Linear(w).RmsNorm(Tensor.Ones([64]), 1e-5f).Silu().Square().Mean();
        loss.Backward();                                      // w.Grad now holds dL/dw
        // README end
        return w;
    }

    private static void TrainingLoopExample(string modelDir, string books, string output, int context, int steps)
    {
        // README: training loop
        using var model = CausalLM.Load(modelDir, DType.BF16);     // frozen weights kept in bf16
        model.ExtendContext(context);                               // linear RoPE interpolation
        model.AddAdapter("default", new LoraConfig { ModulesToSave = LoraConfig.EmbeddingAndNorms }, seed: 42);
        model.GradientCheckpointing = true;
        model.Train();
        using var data = PackedDataset.FromDocuments([books], Tokenizer.Load(modelDir), new DataOptions { MaxLength = context });
        var loader = new DataLoader(data, batchSize: 1, seed: 42);
        using var optimizer = new AdamW(model.TrainableParameters(), new AdamWOptions { Lr = 2e-5f });
        for (int step = 0; step < steps; step++)
        {
            using (new DisposeScope())
                BatchLoss.Of(model, loader.Next(), groupSize: context / 4).Backward();   // S2-Attn groups
            GradClip.ClipByGlobalNorm(model.TrainableParameters().Select(p => p.Tensor), 1.0);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        PeftAdapter.Save(model, "default", Path.Combine(output, "adapter"), baseModelPath: modelDir);
        // README end
    }

    /// <summary>The lines between "// README: name" and "// README end" in this file, without their common indent.</summary>
    private static string Region(string name, [CallerFilePath] string path = "")
    {
        string[] lines = File.ReadAllLines(path);
        int begin = Array.FindIndex(lines, l => l.Trim() == $"// README: {name}") + 1;
        int end = Array.FindIndex(lines, begin, l => l.Trim() == "// README end");
        string[] body = lines[begin..end];
        int indent = body.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join('\n', body.Select(l => l.Length > indent ? l[indent..] : ""));
    }

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();
}
