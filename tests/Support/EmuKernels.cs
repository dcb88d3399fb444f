using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace RawLongLoRA.Tests;

/// <summary>
/// The kernels of kernels.cu/ built as host C++ against kernels.cu/emu/cuda_emu.h: one shared library per .cu file,
/// compiled with g++ on first use into a cache folder keyed by a hash of every source under kernels.cu/ and of the
/// command (so an edit rebuilds, and later test runs reuse it), and loaded once per test process.
/// </summary>
internal static class EmuKernels
{
    // -fno-strict-aliasing: kernels move bf16 words through uint4 and uint32_t pointers, as CUDA C allows.
    // -fvisibility=hidden: only the emu_ entries are exported, so libraries loaded side by side share nothing.
    private static readonly string[] Flags =
        ["-std=c++20", "-O2", "-g", "-shared", "-fPIC", "-pthread", "-fno-strict-aliasing", "-fvisibility=hidden", "-DRAWLORA_HOST_EMU"];

    private static readonly ConcurrentDictionary<string, Lazy<nint>> Loaded = new();
    private static readonly Lazy<string> Cache = new(CacheFolder);

    /// <summary>Why the emulated kernel tests are skipped off Linux.</summary>
    public const string NotLinux = "the host emulation of kernels.cu/ is built by g++ as a Linux shared library";

    /// <summary>kernels.cu/ of the checkout the tests were built from.</summary>
    public static string SourceFolder => Path.Combine(Repository.Root, "kernels.cu");

    /// <summary>
    /// The loaded library of kernels.cu/<paramref name="file"/>.cu (e.g. "flash_attention", or "emu/probe"), built if the
    /// cache lacks it. A failed build fails every later call the same way, without building again.
    /// </summary>
    public static nint Library(string file) => Loaded.GetOrAdd(file, f => new Lazy<nint>(() => NativeLibrary.Load(Build(SourceFolder, f, Cache.Value)))).Value;

    /// <summary>
    /// The library built from <paramref name="folder"/>/<paramref name="file"/>.cu in <paramref name="cache"/> (built
    /// there unless already present); the tests of this class build broken sources with it.
    /// </summary>
    public static string Build(string folder, string file, string cache)
    {
        string source = Path.Combine(folder, file + ".cu");
        if (!File.Exists(source))
            throw new ArgumentException($"there is no {source}", nameof(file));
        string library = Path.Combine(cache, "lib" + file.Replace('/', '_') + ".so");
        if (File.Exists(library))
            return library;
        string compiler = ProgramPath.Find("g++") ?? throw new InvalidOperationException(
            "g++ is not installed: the emulated kernel tests compile kernels.cu/ as host C++ (apt-get install g++; ./build.sh test does so when run as root)");
        // Built under a name of its own and renamed, so test processes running side by side never load half a file.
        string partial = $"{library}.{Environment.ProcessId}.{Guid.NewGuid():N}";
        var (code, output) = ChildProcess.Run(compiler, [.. Flags, "-I", folder, "-x", "c++", source, "-o", partial], folder);
        if (code != 0)
        {
            File.Delete(partial);
            throw new InvalidOperationException($"g++ failed to compile kernels.cu/{file}.cu for the host emulation (exit code {code}):\n{output}");
        }
        File.Move(partial, library, overwrite: true);
        return library;
    }

    // ~/.cache/rawlora/emu/<hash of the sources and flags>/ (XDG_CACHE_HOME if set).
    private static string CacheFolder()
    {
        var hash = new StringBuilder(string.Join(' ', Flags)).Append('\n');
        foreach (string path in Directory.EnumerateFiles(SourceFolder, "*", SearchOption.AllDirectories)
                     .Where(p => p.EndsWith(".cu") || p.EndsWith(".cuh") || p.EndsWith(".h"))
                     .Order(StringComparer.Ordinal))
            hash.Append(Path.GetRelativePath(SourceFolder, path)).Append('\n').Append(File.ReadAllText(path)).Append('\0');
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(hash.ToString())))[..16];
        string root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Directory.CreateDirectory(Path.Combine(root, "rawlora", "emu", key)).FullName;
    }
}
