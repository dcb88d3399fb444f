namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// A device allocation that did not fit even after the allocator gave its cached blocks back: the message names the
/// request, the device's live / reserved / peak bytes and the primitive that ran last on the calling thread.
/// </summary>
public sealed class GpuOutOfMemoryException(string message, Exception? inner = null) : OutOfMemoryException(message, inner);
