using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cuda;

namespace RawLongLoRA.Tests;

/// <summary>
/// Runs kernels of kernels.cu/ on the host emulation: the exported emu_&lt;kernel&gt; of the file's library (see
/// <see cref="EmuKernels"/>) with the launch shape and the parameter struct, as a GPU would take them. A fault inside the
/// kernel (an exception, an assert, a misaligned ldmatrix or cp.async, a thread that skipped a barrier) becomes an
/// <see cref="InvalidOperationException"/> with the emulation's message.
/// </summary>
internal sealed unsafe class EmuRunner : IKernelRunner
{
    public static readonly EmuRunner Instance = new();

    public void Run<TParams>(string file, string kernel, KernelLaunch launch, in TParams parameters) where TParams : unmanaged
    {
        nint library = EmuKernels.Library(file);
        if (!NativeLibrary.TryGetExport(library, "emu_" + kernel, out nint entry))
            throw new ArgumentException($"kernels.cu/{file}.cu exports no emu_{kernel}: it needs RAWLORA_HOST_ENTRY({kernel}, <params struct>)", nameof(kernel));
        var lastError = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(library, "emu_last_error");
        fixed (TParams* p = &parameters)
            ((delegate* unmanaged<KernelLaunch*, void*, void>)entry)(&launch, p);
        // emu_last_error is the calling thread's, so no other test's launch can come in between.
        if (lastError() is var error && error != null)
            throw new InvalidOperationException($"kernels.cu/{file}.cu: {Marshal.PtrToStringUTF8((nint)error)}");
    }
}
