using RawLongLoRA.Bench;
using RawLongLoRA.Bench.Kernels;
using RawLongLoRA.Samples;

// The bench with V2 of the swiglu op added to its registry: it validates the variant against the bench's reference
// evaluation first, then times it beside V1 (the backend's fused kernel) and PyTorch, as it does every variant.
//
//   dotnet run -c Release --project samples/KernelVariant -- ops --only swiglu --variant all
OpsVariants.For("swiglu").Add(new("tensorprimitives", "silu(gate)·up and its backward as separate TensorPrimitives passes on every core, unfused",
                                  new SwiGluTensorPrimitives()));

// The bench's own entry point (its top-level statements) with this command line: every verb and option it has.
return (int)typeof(Verb).Assembly.EntryPoint!.Invoke(null, [args])!;
