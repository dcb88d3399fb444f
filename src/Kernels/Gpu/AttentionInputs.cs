using ILGPU;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>The backward's inputs as one kernel parameter (views from each tensor's first element).</summary>
/// <remarks>Public: ILGPU's kernel launchers need every parameter type visible.</remarks>
public struct AttentionInputs
{
    /// <summary>The forward's operands and its output.</summary>
    public ArrayView<float> Q, K, V, O;
    /// <summary>The forward's log-sum-exp.</summary>
    public ArrayView<float> Lse;
    /// <summary>The gradient of o.</summary>
    public ArrayView<float> DOut;
    /// <summary>The gradient of lse, empty where it has none.</summary>
    public ArrayView<float> DLse;
}
