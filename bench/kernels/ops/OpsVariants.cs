using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// The variants `bench ops` times, per op (<see cref="OpCase.Op"/>: "swiglu", "rmsnorm", ...). A variant is a
/// backend the op's case runs on, usually a <see cref="DelegatingBackend"/> that replaces the op's primitives and
/// leaves the others to the CPU backend; V1 of every op is the CPU backend's own kernel.
/// </summary>
public static class OpsVariants
{
    private static readonly Dictionary<string, KernelVariants<IBackend>> ByOp = [];

    /// <summary>The variants of <paramref name="op"/>; add yours to it before the verb runs.</summary>
    public static KernelVariants<IBackend> For(string op)
    {
        if (!ByOp.TryGetValue(op, out var variants))
            ByOp[op] = variants = new(new KernelVariant<IBackend>("backend", "the CPU backend's kernel (src/Kernels/Cpu)", CpuBackend.Instance));
        return variants;
    }
}
