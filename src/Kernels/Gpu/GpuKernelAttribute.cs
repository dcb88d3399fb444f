namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// Marks a static method as an ILGPU kernel, so that the tests find every one and compile it to PTX for sm_80 and
/// sm_90 without a GPU. A first parameter of Index1D (or 2D, 3D) makes it implicitly grouped; otherwise it is
/// explicitly grouped (launched with a group size; shared memory and barriers).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class GpuKernelAttribute : Attribute;
