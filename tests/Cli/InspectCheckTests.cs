using System.Text.RegularExpressions;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// rawlora inspect checks a folder's tensors against its config from the headers: each broken tiny folder
/// (a tensor removed, transposed, added, of an integer dtype) is described, its problems listed, and the
/// command fails; CausalLM.Load fails on exactly those folders, naming the same tensor.
/// </summary>
[Collection(SerialCollection.Name)]
public class InspectCheckTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("rawlora-inspect-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    /// <summary>A copy of a tiny model folder whose weights file is rewritten through <paramref name="edit"/>.</summary>
    private string Variant(string model, Func<List<(string Name, Tensor T)>, List<(string Name, Tensor T)>> edit)
    {
        string dir = TinyModelFolder.Create(Path.Combine(_tmp, Guid.NewGuid().ToString("N")), model);
        string weights = Path.Combine(dir, "model.safetensors");
        using var scope = new DisposeScope();
        List<(string Name, Tensor T)> tensors;
        using (var source = new SafeTensorsFile(weights))
            tensors = source.Names.Select(n => (n, source.Load(n, source.Info(n).DType))).ToList();
        SafeTensorsWriter.Write(weights, edit(tensors));
        return dir;
    }

    private static List<(string Name, Tensor T)> Replace(List<(string Name, Tensor T)> tensors, string name, Func<Tensor, Tensor> change)
        => tensors.Select(t => t.Name == name ? (t.Name, change(t.T)) : t).ToList();

    private static List<(string Name, Tensor T)> Remove(List<(string Name, Tensor T)> tensors, string name)
    {
        Assert.Contains(tensors, t => t.Name == name);
        return tensors.Where(t => t.Name != name).ToList();
    }

    /// <summary>Inspect exits 1 after the description and a problems section; the error line counts them.</summary>
    private static string InspectFails(string dir, string summary)
    {
        var (code, output, err) = CliTests.Run("inspect", dir);
        Assert.Equal(1, code);
        Assert.Contains("family", output);
        Assert.Contains($"tensors     {summary}: the folder does not load (problems below)", output);
        Assert.Contains("\nproblems\n", output);
        Assert.Equal($"rawlora: error: {dir}: does not load: {summary} (see above) [config-mismatch]", err.TrimEnd());
        return output;
    }

    private static void ProblemListed(string output, string label, string tensor, string expected, string found)
        => Assert.Matches($@"(?m)^  {Regex.Escape(label)} +{Regex.Escape(tensor)} +expected {Regex.Escape(expected)}; found {Regex.Escape(found)}$", output);

    private static SafeTensorsException LoadFails(string dir, string rule, string tensor)
    {
        var e = Assert.Throws<SafeTensorsException>(() => CausalLM.Load(dir));
        Assert.Equal(rule, e.Rule);
        Assert.Equal(tensor, e.Tensor);
        Assert.Contains("model.safetensors", e.File);
        return e;
    }

    [Theory]
    [InlineData("llama-gqa-tiny")]
    [InlineData("llama-gqa-tiny-bf16")]
    [InlineData("qwen2-tiny")]
    [InlineData("qwen3-tiny-yarn")]
    public void A_folder_that_loads_passes(string model)
    {
        var (code, output, err) = CliTests.Run("inspect", CausalLMTests.Dir(model));
        Assert.True(code == 0, err);
        Assert.Contains("tensors     each one config.json implies, with its shape and a float dtype: the folder loads", output);
        Assert.DoesNotContain("problems", output);
        using var loaded = CausalLM.Load(CausalLMTests.Dir(model));
    }

    [Fact]
    public void A_removed_tensor_is_missing()
    {
        const string name = "model.layers.1.mlp.up_proj.weight";
        string dir = Variant("llama-gqa-tiny", t => Remove(t, name));
        ProblemListed(InspectFails(dir, "1 tensor missing"), "missing", name, "shape [176, 64]", "no such tensor");
        LoadFails(dir, "missing-tensor", name);
    }

    [Fact]
    public void A_transposed_embedding_is_mis_shaped()
    {
        const string name = "model.embed_tokens.weight";
        string dir = Variant("llama-gqa-tiny", t => Replace(t, name, e => e.Transpose(0, 1)));
        ProblemListed(InspectFails(dir, "1 tensor mis-shaped"), "mis-shaped", name, "shape [300, 64]", "shape [64, 300]");
        Assert.Contains("[64, 300]", LoadFails(dir, "shape", name).Message);
    }

    [Fact]
    public void An_extra_tensor_is_unexpected()
    {
        const string name = "model.layers.0.mlp.extra_proj.weight";
        string dir = Variant("llama-gqa-tiny", t => [.. t, (name, Tensor.Zeros([3]))]);
        ProblemListed(InspectFails(dir, "1 tensor unexpected"), "unexpected", name, "no such tensor", "F32 [3]");
        LoadFails(dir, "unexpected-tensor", name);
    }

    [Fact]
    public void An_integer_norm_has_a_wrong_dtype()
    {
        const string name = "model.norm.weight";
        string dir = Variant("llama-gqa-tiny", t => Replace(t, name, n => Tensor.FromArray(new int[n.Shape[0]], [n.Shape[0]])));
        ProblemListed(InspectFails(dir, "1 tensor of a wrong dtype"), "wrong dtype", name, "a float dtype (F32, BF16 or F16)", "I32");
        LoadFails(dir, "dtype", name);
    }

    [Fact]
    public void Every_problem_is_listed_and_the_load_error_counts_them()
    {
        string dir = Variant("llama-gqa-tiny", t =>
        {
            t = Remove(Remove(t, "lm_head.weight"), "model.layers.0.self_attn.k_proj.weight");
            t = Replace(t, "model.layers.1.mlp.down_proj.weight", w => w.Transpose(0, 1));
            return [.. t, ("model.layers.2.input_layernorm.weight", Tensor.Ones([64]))];
        });
        string output = InspectFails(dir, "2 tensors missing, 1 mis-shaped, 1 unexpected");
        ProblemListed(output, "missing", "lm_head.weight", "shape [300, 64]", "no such tensor");
        ProblemListed(output, "missing", "model.layers.0.self_attn.k_proj.weight", "shape [32, 64]", "no such tensor");
        ProblemListed(output, "mis-shaped", "model.layers.1.mlp.down_proj.weight", "shape [64, 176]", "shape [176, 64]");
        ProblemListed(output, "unexpected", "model.layers.2.input_layernorm.weight", "no such tensor", "F32 [64]");
        // The loader meets the tensors in the model's order: the first layer's k_proj before the LM head.
        var e = LoadFails(dir, "missing-tensor", "model.layers.0.self_attn.k_proj.weight");
        Assert.Contains("2 tensors missing, 1 mis-shaped, 1 unexpected in all", e.Message);
    }

    [Fact]
    public void Family_specific_tensors_are_expected_as_the_loader_expects_them()
    {
        const string bias = "model.layers.1.self_attn.v_proj.bias", qNorm = "model.layers.0.self_attn.q_norm.weight";
        string qwen2 = Variant("qwen2-tiny", t => Remove(t, bias));
        ProblemListed(InspectFails(qwen2, "1 tensor missing"), "missing", bias, "shape [32]", "no such tensor");
        LoadFails(qwen2, "missing-tensor", bias);

        string qwen3 = Variant("qwen3-tiny-yarn", t => Remove(t, qNorm));
        ProblemListed(InspectFails(qwen3, "1 tensor missing"), "missing", qNorm, "shape [32]", "no such tensor");
        LoadFails(qwen3, "missing-tensor", qNorm);
    }

    [Fact]
    public void What_Hugging_Face_ignores_passes_both()
    {
        // A tied model's redundant lm_head and a saved rotary buffer: the loader skips them, so inspect does.
        string dir = Variant("qwen2-tiny", t =>
        [
            .. t, ("lm_head.weight", t.Single(e => e.Name == "model.embed_tokens.weight").T),
            ("model.layers.0.self_attn.rotary_emb.inv_freq", Tensor.Ones([16])),
        ]);
        var (code, output, err) = CliTests.Run("inspect", dir);
        Assert.True(code == 0, err);
        Assert.Contains("the folder loads", output);
        using var model = CausalLM.Load(dir);

        // The same lm_head in an untied model's folder is one it needs, the buffer still ignored.
        string untied = Variant("llama-gqa-tiny", t => [.. t, ("model.layers.1.self_attn.rotary_emb.inv_freq", Tensor.Ones([8]))]);
        Assert.Equal(0, CliTests.Run("inspect", untied).Code);
        using var other = CausalLM.Load(untied);
    }
}
