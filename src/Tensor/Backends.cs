using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace RawLongLoRA;

/// <summary>
/// Which backend serves a device. Backends live in RawLongLoRA.Kernels (a layer above this one), so
/// they register themselves; if nothing is registered yet for the CPU, the Kernels assembly is loaded
/// and its module initializer does the registration. Every op asks for its backend, so a backend already made is
/// found without a lock.
/// </summary>
public static class Backends
{
    private static readonly Dictionary<DeviceType, Func<int, IBackend>> Factories = [];
    private static readonly ConcurrentDictionary<Device, IBackend> Instances = new();
    private static readonly ConcurrentDictionary<IBackend, IBackend> Profiled = new(ReferenceEqualityComparer.Instance);
    private static readonly Lock Gate = new();
    private static Func<IBackend, IBackend>? _profiling;

    /// <summary>
    /// Makes <paramref name="factory"/> the maker of the backend for devices of <paramref name="type"/>; it is called
    /// once per device index, on first use. A backend assembly calls this from its module initializer.
    /// </summary>
    public static void Register(DeviceType type, Func<int, IBackend> factory)
    {
        lock (Gate)
            Factories[type] = factory;
    }

    /// <summary>
    /// Makes <paramref name="backend"/> the one that serves <paramref name="device"/>, ahead of its type's factory: a
    /// backend made by its user rather than on first use (the ILGPU backend over ILGPU's CPU accelerator, which the
    /// tests run as a device of <see cref="DeviceType.PrivateUse1"/>). Throws if the device already has another.
    /// </summary>
    public static void Register(Device device, IBackend backend)
    {
        if (backend.Device != device)
            throw new ArgumentException($"register: the backend serves {backend.Device}, not {device}", nameof(backend));
        lock (Gate)
        {
            if (Instances.TryGetValue(device, out var had) && !ReferenceEquals(had, backend))
                throw new InvalidOperationException($"register: {device} is already served by {had.GetType().Name}");
            Instances[device] = backend;
        }
    }

    /// <summary>
    /// The wrapper that times and counts every primitive while the profiler records (RawLongLoRA.Kernels
    /// registers it with the CPU backend); <see cref="Get"/> hands out wrapped backends only then.
    /// </summary>
    public static void RegisterProfiling(Func<IBackend, IBackend> wrap)
    {
        lock (Gate)
            _profiling = wrap;
    }

    /// <summary>
    /// The backend that serves <paramref name="device"/>, made on first use and shared afterwards; throws when no
    /// backend is registered for its type.
    /// </summary>
    public static IBackend Get(Device device)
    {
        var b = Unwrapped(device);
        return Profiling.Profiler.IsRecording ? WithProfiling(b) : b;
    }

    private static IBackend WithProfiling(IBackend b)
    {
        if (Profiled.TryGetValue(b, out var p))
            return p;
        lock (Gate)
            return _profiling is null ? b : Profiled.GetOrAdd(b, _profiling);
    }

    private static IBackend Unwrapped(Device device)
    {
        if (Instances.TryGetValue(device, out var made))
            return made;
        if (!IsRegistered(device.Type))
            LoadKernels();
        lock (Gate)
        {
            if (Instances.TryGetValue(device, out var b))
                return b;
            if (!Factories.TryGetValue(device.Type, out var f))
                throw new InvalidOperationException($"no backend is registered for device {device}" +
                    device.Type switch
                    {
                        DeviceType.Cpu => " (reference RawLongLoRA.Kernels)",
                        DeviceType.Cuda => " (is this a machine with an NVIDIA GPU and the CUDA backend loaded?)",
                        _ => " (register the outside backend with Backends.Register first)",
                    });
            b = f(device.Index);
            Instances[device] = b;
            return b;
        }
    }

    private static bool IsRegistered(DeviceType t)
    {
        lock (Gate)
            return Factories.ContainsKey(t);
    }

    private static void LoadKernels()
    {
        try
        {
            var asm = Assembly.Load("RawLongLoRA.Kernels");
            RuntimeHelpers.RunModuleConstructor(asm.ManifestModule.ModuleHandle);
        }
        catch (FileNotFoundException)
        {
            // Reported by Get as "no backend is registered".
        }
    }
}
