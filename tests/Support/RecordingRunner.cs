using System.Runtime.CompilerServices;
using RawLongLoRA.Kernels.Cuda;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A runner that records the launches of kernels.cu/<c>file</c>.cu instead of running them: the kernel, its launch
/// shape and its parameter struct, for the launchers' tests.
/// </summary>
internal sealed class RecordingRunner<TParams>(string file) : IKernelRunner where TParams : unmanaged
{
    public readonly List<(string Kernel, KernelLaunch Launch, TParams Params)> Launches = [];

    public void Run<T>(string launched, string kernel, KernelLaunch launch, in T parameters) where T : unmanaged
    {
        Assert.Equal(file, launched);
        Launches.Add((kernel, launch, Unsafe.As<T, TParams>(ref Unsafe.AsRef(in parameters))));
    }
}
