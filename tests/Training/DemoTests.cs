using System.Text;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The demo's pieces: its passkey text, its byte tokenizer, the shipped base, and a miniature run end to end.</summary>
[Collection(SerialCollection.Name)]
public class DemoTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-demo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(256, 0.0)]
    [InlineData(1024, 0.5)]
    [InlineData(300, 1.0)]
    public void A_prompt_has_the_length_the_key_at_its_depth_and_ends_with_the_question(int length, double depth)
    {
        string prompt = PasskeyDocuments.Prompt(length, 31415, depth, fillerOffset: 5);
        Assert.Equal(length, Encoding.UTF8.GetByteCount(prompt));
        Assert.EndsWith(PasskeyDocuments.Question, prompt);
        int at = prompt.IndexOf(PasskeyDocuments.KeyLine(31415), StringComparison.Ordinal);
        int filler = length - PasskeyDocuments.KeyLine(31415).Length - PasskeyDocuments.Question.Length;
        Assert.Equal((int)Math.Round(depth * filler), at);
    }

    [Fact]
    public void Training_documents_are_exact_rows_with_their_answer_and_are_the_same_for_a_seed()
    {
        var a = new SplitMix64(9);
        var b = new SplitMix64(9);
        var doc = PasskeyDocuments.Document(256, ref a);
        Assert.Equal(doc, PasskeyDocuments.Document(256, ref b));
        Assert.NotEqual(doc, PasskeyDocuments.Document(256, ref a));
        Assert.Equal(256, doc.Length);
        Assert.Equal(DemoTokenizer.EndOfText, doc[^1]);
        string text = Encoding.UTF8.GetString(doc[..^1].Select(t => (byte)t).ToArray());
        string key = text[(text.IndexOf("The pass key is ", StringComparison.Ordinal) + 16)..][..5];
        Assert.EndsWith($"{PasskeyDocuments.Question} {key}.", text);
    }

    [Fact]
    public void The_demo_tokenizer_maps_bytes_to_their_values()
    {
        DemoTokenizer.Write(_dir);
        var tokenizer = Tokenizer.Load(_dir);
        const string text = "The pass key is 12345.\n  é";
        Assert.Equal(Encoding.UTF8.GetBytes(text).Select(b => (int)b), tokenizer.Encode(text));
        Assert.Equal([DemoTokenizer.EndOfText], tokenizer.EosIds);
        Assert.Equal(DemoTokenizer.VocabSize, tokenizer.VocabSize);
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void The_shipped_base_retrieves_passkeys_at_its_own_context()
    {
        ShippedBase.ExtractTo(_dir);
        using var model = CausalLM.Load(_dir);
        Assert.Equal(DemoBase.Context, model.Config.MaxPositionEmbeddings);
        var (_, overall) = DemoEvaluation.Passkey(model, DemoBase.Context, trials: 4, seed: 5);
        Assert.True(overall >= 0.9, $"the shipped base retrieved {overall:P0} at {DemoBase.Context}");
    }

    [Fact]
    public void A_miniature_demo_runs_every_row_and_writes_its_adapters()
    {
        string baseDir = Path.Combine(_dir, "base");
        DemoBase.Make(baseDir, new DemoBase.Recipe(Steps: 3, Batch: 2));
        var options = new DemoOptions { Output = Path.Combine(_dir, "out"), Base = baseDir, Steps = 2, Batch = 2, Trials = 1, PerplexityDocuments = 1, Context = 512 };
        var lines = new List<string>();
        var rows = DemoRun.Run(options, lines.Add);
        Assert.Equal(["(a) as is", "(b) position interpolation", "(c) YaRN", "(d) LongLoRA, S2-Attn", "(e) LoRA+, full attention"], rows.Select(r => r.Name));
        Assert.All(rows, r => Assert.InRange(r.Passkey, 0, 1));
        Assert.All(rows, r => Assert.True(double.IsFinite(r.Perplexity) && r.Perplexity > 1));
        Assert.All(rows.Skip(3), r => Assert.True(r.StepSeconds > 0 && r.PeakMiB > 0 && File.Exists(Path.Combine(r.Adapter!, "adapter_model.safetensors"))));
        Assert.Contains("S2", rows[3].Attention);
        Assert.True(File.Exists(Path.Combine(options.Output, "demo.json")));
    }
}
