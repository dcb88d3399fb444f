using System.Text;
using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The demo's pieces: its passkey text, its byte tokenizer, the shipped base, and a miniature run end to
/// end. Serial: the demo's training runs reseed and draw from Generator.Default, and reset Storage's peak.
/// </summary>
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
    public void Making_a_base_pretrains_it_from_uniform_guesses()
    {
        string dir = Path.Combine(_dir, "base");
        var losses = new List<double>();
        DemoBase.Make(dir, new DemoBase.Recipe(Steps: 30, Batch: 2, Warmup: 5), (_, loss, _) => losses.Add(loss));
        // Random initial weights guess bytes about uniformly (loss ln V); the filler's bytes alone are far
        // from uniform, so any learning takes off more than a nat.
        double uniform = Math.Log(DemoTokenizer.VocabSize);
        Assert.Equal(30, losses.Count);
        Assert.InRange(losses[0], uniform - 0.5, uniform + 0.5);
        Assert.True(losses.TakeLast(5).Average() < uniform - 1, $"pretraining losses {string.Join(", ", losses.Select(l => l.ToString("F2")))}");
        using var model = CausalLM.Load(dir);
        Assert.Equal(DemoBase.Context, model.Config.MaxPositionEmbeddings);
    }

    [Fact]
    public void A_miniature_demo_runs_every_row_and_writes_its_adapters()
    {
        // The shipped base at 2× its context, fine-tuned for a few steps: small enough for a test, and the
        // base retrieves passkeys there, so a broken evaluation, RoPE scaling or fine-tuning shows.
        var options = new DemoOptions { Output = Path.Combine(_dir, "out"), Steps = 16, Batch = 2, Trials = 2, PerplexityDocuments = 1, Context = 2 * DemoBase.Context };
        var lines = new List<string>();
        var losses = new List<List<double>>();
        var rows = DemoRun.Run(options, lines.Add, s =>
        {
            if (s.Step == 1)
                losses.Add([]);
            losses[^1].Add(s.Loss);
        });
        Assert.Equal(["(a) as is", "(b) position interpolation", "(c) YaRN", "(d) LongLoRA, S2-Attn", "(e) LoRA+, full attention"], rows.Select(r => r.Name));
        Assert.All(rows, r => Assert.True(double.IsFinite(r.Perplexity) && r.Perplexity > 1));
        Assert.Contains("S2", rows[3].Attention);
        // Above chance (a guessed five-digit key is right once in 90,000): the base still retrieves some keys
        // at 2× its context (as is or scaled), and fine-tuning with full attention (e) keeps that.
        string table = string.Join("\n", lines);
        Assert.True(rows.Take(3).Max(r => r.Passkey) > 0 && rows[4].Passkey > 0, table);
        // Fine-tuning learns: held-out perplexity falls below that of the scaling both runs started from,
        // and full attention's training loss falls (S2-Attn's is too noisy over a few steps to say).
        var start = rows.Single(r => r.Rope == rows[3].Rope && r.Adapter is null);
        Assert.All(rows.Skip(3), r => Assert.True(r.Perplexity < start.Perplexity, table));
        Assert.Equal([options.Steps, options.Steps], losses.Select(l => l.Count));
        Assert.True(losses[1].TakeLast(4).Average() < losses[1].Take(4).Average(), $"fine-tuning losses {string.Join(", ", losses[1].Select(l => l.ToString("F3")))}");
        foreach (var row in rows.Skip(3))
        {
            Assert.True(row.StepSeconds > 0 && row.PeakMiB > 0);
            // Trained adapters: LoRA's B starts at zero, so a run that did not train leaves it there.
            using var adapter = new SafeTensorsFile(Path.Combine(row.Adapter!, "adapter_model.safetensors"));
            var bs = adapter.Names.Where(n => n.Contains("lora_B", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(bs);
            Assert.All(bs, n =>
            {
                using var b = adapter.Load(n);
                Assert.Contains(b.ToFloatArray(), v => v != 0);
            });
        }
        // demo.json holds the rows returned; the two plots draw a bar per row.
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(options.Output, "demo.json")));
        Assert.Equal(rows.Select(r => r.Passkey), json.RootElement.EnumerateArray().Select(e => e.GetProperty("passkey").GetDouble()));
        foreach (string plot in new[] { "passkey.png", "perplexity.png" })
            Assert.Equal(5 * 140, PngImage.Read(Path.Combine(options.Output, plot)).Width);
    }
}
