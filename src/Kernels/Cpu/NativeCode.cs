using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// Machine code for instructions .NET has no intrinsic for: copied into a fresh page that is then made
/// read-and-execute (never writable and executable at once) and kept for the life of the process.
/// </summary>
internal static unsafe partial class NativeCode
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2, MapAnonymous = 0x20;

    /// <summary>The address of an executable copy of <paramref name="code"/> (Linux and other System V platforms).</summary>
    public static void* Load(ReadOnlySpan<byte> code)
    {
        nuint size = (nuint)((code.Length + 4095) & ~4095);
        nint p = Mmap(0, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (p == -1)
            throw new InvalidOperationException($"native code: mmap of {size} bytes failed (errno {Marshal.GetLastPInvokeError()})");
        code.CopyTo(new Span<byte>((void*)p, code.Length));
        if (Mprotect(p, size, ProtRead | ProtExec) != 0)
            throw new InvalidOperationException($"native code: mprotect to read+execute failed (errno {Marshal.GetLastPInvokeError()})");
        return (void*)p;
    }

    [LibraryImport("libc.so.6", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc.so.6", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint addr, nuint length, int prot);
}
