namespace RawLongLoRA.Model;

/// <summary>
/// Whether a model folder holds the tensors its config implies, from the safetensors headers alone: each
/// of <see cref="CausalLM.ExpectedParameters"/> present with its shape and a float dtype, and nothing else
/// but what Hugging Face also ignores. <see cref="CausalLM.Load(string, DType)"/> refuses a folder with any problem and
/// rawlora inspect lists them all, so the two cannot disagree.
/// </summary>
public static class CheckpointCheck
{
    /// <summary>Every problem: those of the expected tensors in the order the model reads them, then the unexpected ones by name.</summary>
    public static IReadOnlyList<TensorProblem> Problems(ModelConfig config, SafeTensorsCheckpoint checkpoint)
    {
        var problems = new List<TensorProblem>();
        var expected = CausalLM.ExpectedParameters(config);
        foreach (var p in expected)
        {
            string shape = $"shape {Shapes.Format(p.Shape)}";
            if (!checkpoint.Contains(p.Name))
            {
                problems.Add(new(TensorProblemKind.Missing, p.Name, shape, "no such tensor"));
                continue;
            }
            var info = checkpoint.Info(p.Name);
            if (!Shapes.Equal(info.Shape, p.Shape))
                problems.Add(new(TensorProblemKind.Misshaped, p.Name, shape, $"shape {Shapes.Format(info.Shape)}"));
            else if (!info.DType.IsFloat())
                problems.Add(new(TensorProblemKind.WrongDtype, p.Name, "a float dtype (F32, BF16 or F16)", info.DType.SafetensorsName()));
        }
        var names = expected.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string name in checkpoint.Names.Where(n => !names.Contains(n) && !Ignorable(n, config.TieWordEmbeddings)).Order(StringComparer.Ordinal))
        {
            var info = checkpoint.Info(name);
            problems.Add(new(TensorProblemKind.Unexpected, name, "no such tensor", $"{info.DType.SafetensorsName()} {Shapes.Format(info.Shape)}"));
        }
        return problems;
    }

    /// <summary>"2 tensors missing, 1 mis-shaped, 1 of a wrong dtype": the count of each kind, in the kinds' order.</summary>
    public static string Summary(IReadOnlyList<TensorProblem> problems)
    {
        var parts = problems.GroupBy(p => p.Kind).OrderBy(g => g.Key)
            .Select(g => (Count: g.Count(), Label: g.Key == TensorProblemKind.WrongDtype ? "of a wrong dtype" : g.First().Label)).ToList();
        return string.Join(", ", parts.Select((p, i) => i == 0 ? $"{p.Count} {(p.Count == 1 ? "tensor" : "tensors")} {p.Label}" : $"{p.Count} {p.Label}"));
    }

    /// <summary>Throws for the first problem, with the count of all where there are more.</summary>
    public static void ThrowIfAny(IReadOnlyList<TensorProblem> problems, string checkpointPath)
    {
        if (problems.Count == 0)
            return;
        var first = problems[0];
        string more = problems.Count == 1 ? "" : $" ({Summary(problems)} in all; rawlora inspect lists them)";
        throw new SafeTensorsException(checkpointPath, first.Tensor, first.Rule, first.Detail + more);
    }

    /// <summary>A redundant lm_head beside tied embeddings, and rotary buffers some exporters saved: Hugging Face skips them too.</summary>
    private static bool Ignorable(string name, bool tied) => (tied && name == "lm_head.weight") || name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);
}
