using System.Reflection;
using System.Runtime.InteropServices;

namespace RawLongLoRA.Kernels.Cuda;

/// <summary>
/// Finds the NVIDIA libraries our <c>LibraryImport</c> bindings call. The bindings name a library by a logical name
/// (<see cref="Driver"/>, <see cref="Cublas"/>, ...); the resolver, set on this assembly by the first binding class
/// used (never by the CPU path), looks for the library's files in order: the folders of
/// <c>RAWLORA_CUDA_LIBS</c>, the CUDA toolkit (CUDA_HOME, CUDA_PATH, /usr/local/cuda*), the system's loader
/// (ldconfig names, LD_LIBRARY_PATH) and its usual folders, and Python's <c>site-packages/nvidia/*/lib</c> (where pip
/// puts cuBLAS and NVTX; under /usr/lib, /usr/local/lib, ~/.local/lib and $VIRTUAL_ENV/lib) — folders found by
/// listing, without running Python. A library found nowhere is one
/// <see cref="DllNotFoundException"/> naming it and every place searched.
/// </summary>
internal static class CudaLibraries
{
    /// <summary>The environment variable whose folders (separated by ':') are searched first.</summary>
    public const string Override = "RAWLORA_CUDA_LIBS";

    /// <summary>Logical names of the libraries, as the bindings' <c>LibraryImport</c> spell them.</summary>
    public const string Driver = "rawlora-cuda", Cublas = "rawlora-cublas", CublasLt = "rawlora-cublaslt", Nvtx = "rawlora-nvtx";

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, nint> Loaded = [];
    private static bool _resolverSet;
    private static int _requests;

    /// <summary>What each logical name is, and its file names, newest first.</summary>
    public static (string What, string[] Files) Describe(string library) => library switch
    {
        Driver => ("the CUDA driver", ["libcuda.so.1", "libcuda.so"]),
        Cublas => ("cuBLAS", ["libcublas.so.13", "libcublas.so.12", "libcublas.so"]),
        CublasLt => ("cuBLASLt", ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"]),
        Nvtx => ("NVTX", ["libnvToolsExt.so.1", "libnvToolsExt.so", "libnvtx3interop.so.1"]),
        _ => throw new ArgumentException($"cuda: no library is known as '{library}'", nameof(library)),
    };

    /// <summary>How many times a library has been asked for in this process (the CPU path never asks).</summary>
    public static int Requests => Volatile.Read(ref _requests);

    /// <summary>Sets the resolver on this assembly, once; the binding classes call it from their static constructors.</summary>
    public static void UseResolver()
    {
        lock (Gate)
        {
            if (_resolverSet)
                return;
            NativeLibrary.SetDllImportResolver(typeof(CudaLibraries).Assembly, Resolve);
            _resolverSet = true;
        }
    }

    /// <summary>The handle of <paramref name="library"/> (a logical name), loaded on first use from the places searched.</summary>
    public static nint Load(string library)
    {
        UseResolver();
        Interlocked.Increment(ref _requests);
        lock (Gate)
        {
            if (!Loaded.TryGetValue(library, out var handle))
                Loaded[library] = handle = Find(library, Places(Environment.GetEnvironmentVariable), TryLoad);
            return handle;
        }
    }

    /// <summary>Whether <paramref name="library"/> loads; false (not an error) where it is absent.</summary>
    public static bool TryGet(string library)
    {
        try
        {
            Load(library);
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
        => name is Driver or Cublas or CublasLt or Nvtx ? Load(name) : 0;

    private static nint? TryLoad(string path) => NativeLibrary.TryLoad(path, out var h) ? h : null;

    /// <summary>
    /// The first of <paramref name="library"/>'s files that <paramref name="tryLoad"/> loads, trying each place in order
    /// (a null folder stands for the system's loader, given the bare file name); throws naming every place otherwise.
    /// </summary>
    public static nint Find(string library, IReadOnlyList<string?> places, Func<string, nint?> tryLoad)
    {
        var (what, files) = Describe(library);
        foreach (string? folder in places)
            foreach (string file in files)
                if (tryLoad(folder is null ? file : Path.Combine(folder, file)) is { } handle)
                    return handle;
        var searched = places.Select(p => p ?? "the system's loader (ldconfig cache, LD_LIBRARY_PATH)");
        throw new DllNotFoundException(
            $"cuda: {what} ({string.Join(" / ", files)}) was not found; searched, in order: {string.Join(", ", searched)}. " +
            $"Install it, or name the folder that holds it in {Override} (folders separated by ':').");
    }

    /// <summary>
    /// The places searched, in order, from the environment <paramref name="env"/> gives: the override's folders, the
    /// CUDA toolkit's, the system (null) and its usual folders, then Python's nvidia/*/lib folders.
    /// </summary>
    public static List<string?> Places(Func<string, string?> env)
    {
        var places = new List<string?>();
        foreach (string f in (env(Override) ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            places.Add(f);
        foreach (string? home in new[] { env("CUDA_HOME"), env("CUDA_PATH") })
            if (!string.IsNullOrEmpty(home))
                places.Add(Path.Combine(home, "lib64"));
        places.Add("/usr/local/cuda/lib64");
        places.AddRange(Folders("/usr/local", "cuda-*").OrderDescending(StringComparer.Ordinal).Select(f => Path.Combine(f, "lib64")));
        places.Add(null);
        places.AddRange(["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib"]);
        var pythonRoots = new List<string> { "/usr/lib", "/usr/local/lib" };
        if (env("HOME") is { Length: > 0 } userHome)
            pythonRoots.Add(Path.Combine(userHome, ".local", "lib"));
        if (env("VIRTUAL_ENV") is { Length: > 0 } venv)
            pythonRoots.Add(Path.Combine(venv, "lib"));
        foreach (string root in pythonRoots)
            foreach (string python in Folders(root, "python3*").Order(StringComparer.Ordinal))
                foreach (string packages in new[] { "site-packages", "dist-packages" })
                    places.AddRange(Folders(Path.Combine(python, packages, "nvidia"), "*").Order(StringComparer.Ordinal).Select(f => Path.Combine(f, "lib")));
        return [.. places.Distinct()];
    }

    private static IEnumerable<string> Folders(string parent, string pattern)
        => Directory.Exists(parent) ? Directory.EnumerateDirectories(parent, pattern) : [];
}
