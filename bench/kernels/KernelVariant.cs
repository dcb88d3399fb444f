namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// One variant of a kernel (the llm.c dev/cuda habit: bench/kernels/&lt;op&gt;/ keeps a reference and variants
/// V1..Vn): the name `--variant` picks it by and the table shows, the header line that says what it is, and
/// the kernel itself, in whatever form its verb runs (a GEMM micro-kernel family, a backend for `bench ops`).
/// </summary>
public sealed record KernelVariant<TKernel>(string Name, string What, TKernel Kernel);
