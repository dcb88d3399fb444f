using RawLongLoRA.Kernels.Cuda;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Where the CUDA libraries are searched, in which order, and the one message when one is nowhere.</summary>
public sealed class CudaLibrariesTests
{
    [Fact]
    public void TheOverrideComesFirstThenTheToolkitThenTheSystemThenPythonsNvidiaFolders()
    {
        using var home = new TempFolder("cuda-home");
        string pip = Path.Combine(home.Path, ".local", "lib", "python3.12", "site-packages", "nvidia", "cublas", "lib");
        Directory.CreateDirectory(pip);
        string venv = Path.Combine(home.Path, "venv"), venvPip = Path.Combine(venv, "lib", "python3.12", "site-packages", "nvidia", "nvtx", "lib");
        Directory.CreateDirectory(venvPip);
        var env = new Dictionary<string, string>
        {
            [CudaLibraries.Override] = "/opt/a: /opt/b",
            ["CUDA_HOME"] = "/opt/cuda-home",
            ["CUDA_PATH"] = "/opt/cuda-path",
            ["HOME"] = home.Path,
            ["VIRTUAL_ENV"] = venv,
        };
        var places = CudaLibraries.Places(env.GetValueOrDefault);
        Assert.Equal(["/opt/a", "/opt/b", "/opt/cuda-home/lib64", "/opt/cuda-path/lib64", "/usr/local/cuda/lib64"], places.Take(5));
        int system = places.IndexOf(null);
        Assert.True(system > 4, "the system's loader comes after the toolkit folders");
        Assert.True(places.IndexOf(pip) > system, $"pip's nvidia/cublas/lib comes after the system: {string.Join(", ", places)}");
        Assert.True(places.IndexOf(venvPip) > system, $"a virtual environment's nvidia/nvtx/lib comes after the system: {string.Join(", ", places)}");
    }

    [Fact]
    public void TheFirstPlaceThatLoadsWinsNewestFileNameFirst()
    {
        var tried = new List<string>();
        nint? Loader(string path)
        {
            tried.Add(path);
            return path is "/b/libcublas.so.12" or "libcublas.so.13" ? 42 : null;
        }
        Assert.Equal(42, CudaLibraries.Find(CudaLibraries.Cublas, ["/a", "/b", null], Loader));
        Assert.Equal(["/a/libcublas.so.13", "/a/libcublas.so.12", "/a/libcublas.so", "/b/libcublas.so.13", "/b/libcublas.so.12"], tried);
    }

    [Fact]
    public void AMissingLibraryIsOneMessageNamingItAndEveryPlaceSearched()
    {
        var e = Assert.Throws<DllNotFoundException>(() => CudaLibraries.Find(CudaLibraries.Driver, ["/opt/x/lib64", null, "/usr/lib/python3/dist-packages/nvidia/cuda_runtime/lib"], _ => null));
        foreach (string part in new[] { "the CUDA driver", "libcuda.so.1", "/opt/x/lib64", "the system's loader", "/usr/lib/python3/dist-packages/nvidia/cuda_runtime/lib", CudaLibraries.Override })
            Assert.Contains(part, e.Message);
    }

    [Fact]
    public void NvtxRangesAndMarksNeverFailWhetherTheLibraryIsThereOrNot()
    {
        Assert.Equal(CudaLibraries.TryGet(CudaLibraries.Nvtx), Nvtx.Available);
        Nvtx.Push("model.layers.0");
        Nvtx.Mark("step");
        Nvtx.Pop();
    }
}
