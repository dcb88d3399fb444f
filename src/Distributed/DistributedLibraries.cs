using System.Reflection;
using System.Runtime.InteropServices;

namespace RawLongLoRA.Distributed;

/// <summary>
/// Finds the native libraries the communicators' <c>LibraryImport</c> bindings call, by logical name: OpenMPI's
/// <c>libmpi.so.40</c> and NCCL's <c>libnccl.so.2</c>. The resolver is set on this assembly by the first binding used;
/// a single process never uses one, so it never loads either library. A library found nowhere is one
/// <see cref="DllNotFoundException"/> naming it, every place searched and how to install it.
/// </summary>
internal static class DistributedLibraries
{
    /// <summary>Logical names, as the bindings spell them.</summary>
    public const string Mpi = "rawlora-mpi", Nccl = "rawlora-nccl";

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, nint> Loaded = [];
    private static bool _resolverSet;

    /// <summary>Sets the resolver on this assembly, once; the binding classes call it from their static constructors.</summary>
    public static void UseResolver()
    {
        lock (Gate)
        {
            if (_resolverSet)
                return;
            NativeLibrary.SetDllImportResolver(typeof(DistributedLibraries).Assembly, Resolve);
            _resolverSet = true;
        }
    }

    /// <summary>The handle of <paramref name="library"/> (a logical name), loaded on first use.</summary>
    public static nint Load(string library)
    {
        UseResolver();
        lock (Gate)
        {
            if (!Loaded.TryGetValue(library, out var handle))
                Loaded[library] = handle = Find(library, Places(library, Environment.GetEnvironmentVariable), TryLoad);
            return handle;
        }
    }

    /// <summary>What each library is, its file names, and how to install it.</summary>
    public static (string What, string[] Files, string Install) Describe(string library) => library switch
    {
        Mpi => ("OpenMPI", ["libmpi.so.40"], "install it with `apt-get install openmpi-bin libopenmpi-dev`"),
        Nccl => ("NCCL", ["libnccl.so.2", "libnccl.so"], "install it (apt's libnccl2, or pip's nvidia-nccl-cu12)"),
        _ => throw new ArgumentException($"distributed: no library is known as '{library}'", nameof(library)),
    };

    /// <summary>
    /// The places searched for <paramref name="library"/>, in order (null is the system's loader): for OpenMPI, the
    /// folder of <c>RAWLORA_MPI_LIB</c>'s file, <c>MPI_HOME</c>'s lib, the loader and the usual folders; for NCCL,
    /// the CUDA libraries' places (toolkit, loader, pip's nvidia/*/lib).
    /// </summary>
    public static List<string?> Places(string library, Func<string, string?> env)
    {
        if (library == Nccl)
            return Kernels.Cuda.CudaLibraries.Places(env);
        var places = new List<string?>();
        if (env("RAWLORA_MPI_LIB") is { Length: > 0 } file)
            places.Add(Path.GetDirectoryName(file));
        if (env("MPI_HOME") is { Length: > 0 } home)
            places.Add(Path.Combine(home, "lib"));
        places.AddRange([null, "/usr/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/openmpi/lib", "/usr/lib64/openmpi/lib", "/usr/local/lib", "/opt/openmpi/lib"]);
        return [.. places.Distinct()];
    }

    /// <summary>
    /// The first of <paramref name="library"/>'s files that <paramref name="tryLoad"/> loads, place by place; throws one
    /// line naming every place otherwise.
    /// </summary>
    public static nint Find(string library, IReadOnlyList<string?> places, Func<string, nint?> tryLoad)
    {
        var (what, files, install) = Describe(library);
        foreach (string? folder in places)
            foreach (string f in files)
                if (tryLoad(folder is null ? f : Path.Combine(folder, f)) is { } handle)
                    return handle;
        var searched = places.Select(p => p ?? "the system's loader (ldconfig cache, LD_LIBRARY_PATH)");
        throw new DllNotFoundException($"{what} ({string.Join(" / ", files)}) was not found; searched, in order: {string.Join(", ", searched)}; {install}.");
    }

    // NCCL's poll calls the CUDA driver, found where the GPU backend finds it.
    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) => name switch
    {
        Mpi or Nccl => Load(name),
        Kernels.Cuda.CudaLibraries.Driver => Kernels.Cuda.CudaLibraries.Load(name),
        _ => 0,
    };

    private static nint? TryLoad(string path) => NativeLibrary.TryLoad(path, out var h) ? h : null;
}
