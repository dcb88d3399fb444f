namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The variants of one kernel, built-in ones first, in the order they were added; a variant of your own is added
/// before the verb runs (samples/KernelVariant shows how). The verb validates each variant it is asked for against
/// the kernel's reference and times only those that pass.
/// </summary>
public sealed class KernelVariants<TKernel>(params KernelVariant<TKernel>[] builtIn)
{
    private readonly List<KernelVariant<TKernel>> _all = [.. builtIn];

    /// <summary>Every variant, V1 first.</summary>
    public IReadOnlyList<KernelVariant<TKernel>> All => _all;

    /// <summary>Adds a variant after the others; its name must be new.</summary>
    public void Add(KernelVariant<TKernel> variant)
    {
        if (variant.Name == "all" || _all.Any(v => v.Name == variant.Name))
            throw new ArgumentException($"bench: a kernel variant may not be named '{variant.Name}': the name is taken", nameof(variant));
        _all.Add(variant);
    }

    /// <summary>The variants <paramref name="name"/> picks: the one of that name, or every one for "all"; null for a name none has.</summary>
    public KernelVariant<TKernel>[]? Select(string name) => name == "all" ? [.. _all] : _all.Where(v => v.Name == name).ToArray() is { Length: 1 } one ? one : null;

    /// <summary>"avx512, avx2, all": what --variant takes, for messages.</summary>
    public string Names => string.Join(", ", _all.Select(v => v.Name).Append("all"));

    /// <summary>The header line of each variant, "V1 name: what it is", for the report's notes.</summary>
    public IEnumerable<string> Header() => _all.Select((v, i) => $"V{i + 1} {v.Name}: {v.What}");
}
