using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace RawLongLoRA.Kernels.Gpu;

/// <summary>
/// The GPU backend: every <see cref="IBackend"/> primitive as ILGPU kernels on one accelerator and its one stream —
/// CUDA on an NVIDIA GPU (<see cref="DeviceType.Cuda"/>), or ILGPU's CPU accelerator, which runs the same kernels
/// with one OS thread per GPU thread (slow; the tests' device). Memory comes from a caching allocator; the host
/// reaches it only through <see cref="Copy"/>. The primitives live in the partial files beside this one, the kernels in
/// the *Kernels classes.
/// </summary>
public sealed partial class IlgpuBackend : IBackend
{
    [ThreadStatic]
    private static string? _lastOp;

    private readonly Context? _ownedContext;
    private readonly ConcurrentDictionary<MethodInfo, Delegate> _kernels = new();
    private readonly GpuAllocator _allocator;
    private readonly DeviceFaults _faults;

    /// <summary>
    /// A backend for <paramref name="device"/> over <paramref name="accelerator"/>, whose memory it may fill up to
    /// <paramref name="memoryLimit"/> bytes (default: the accelerator's memory). The backend owns neither the
    /// accelerator nor its context.
    /// </summary>
    public IlgpuBackend(Device device, Accelerator accelerator, long? memoryLimit = null)
        : this(device, accelerator, memoryLimit, null)
    {
    }

    private IlgpuBackend(Device device, Accelerator accelerator, long? memoryLimit, Context? owned)
    {
        if (device.IsCpu)
            throw new ArgumentException("the ILGPU backend serves a GPU or an outside device, not the host's cpu device", nameof(device));
        Device = device;
        Accelerator = accelerator;
        _ownedContext = owned;
        _allocator = new GpuAllocator(accelerator, DeviceMemory.Of(device), memoryLimit ?? accelerator.MemorySize);
        _faults = new DeviceFaults(accelerator, device);
    }

    // The CUDA devices are served by this backend; made on first use of cuda:n, so the CPU path never loads CUDA.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterCuda() => Backends.Register(DeviceType.Cuda, ForCuda);

    /// <summary>The backend of CUDA device <paramref name="index"/>, on a context of its own; a clear error where there is none.</summary>
    public static IlgpuBackend ForCuda(int index)
    {
        Context context;
        try
        {
            context = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O2));
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"cuda:{index}: ILGPU could not start CUDA ({e.Message}); is this a machine with an NVIDIA GPU and its driver?", e);
        }
        var devices = context.GetCudaDevices();
        if (index >= devices.Count)
        {
            context.Dispose();
            throw new InvalidOperationException($"cuda:{index}: this machine has {devices.Count} CUDA device(s)");
        }
        return new IlgpuBackend(Device.Cuda(index), devices[index].CreateAccelerator(context), null, context);
    }

    /// <summary>
    /// A backend over ILGPU's CPU accelerator, as <paramref name="device"/> (an outside device: PrivateUse1): groups of
    /// <paramref name="warpSize"/> × <paramref name="warpsPerGroup"/> threads, <paramref name="multiprocessors"/> groups
    /// at once — small, since each GPU thread is an OS thread. For tests and kernel development.
    /// </summary>
    public static IlgpuBackend ForCpuAccelerator(Device device, int warpSize = 4, int warpsPerGroup = 4, int multiprocessors = 2, long memoryLimit = 1L << 30)
    {
        var context = Context.Create(b => b.CPU(new CPUDevice(warpSize, warpsPerGroup, multiprocessors)).Optimize(OptimizationLevel.O1));
        return new IlgpuBackend(device, context.CreateCPUAccelerator(0), memoryLimit, context);
    }

    /// <inheritdoc/>
    public Device Device { get; }

    /// <summary>The ILGPU accelerator the kernels run on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The one stream every kernel and copy of this backend is queued on.</summary>
    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>True on CUDA (a real GPU), false on ILGPU's CPU accelerator.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>
    /// Whether a primitive that kernels.cu has a tensor-core kernel for runs it on CUDA (true, the default) or runs the
    /// ILGPU kernel (false: for benches and comparisons). Attention under bf16 autocast with head dim 64 or 128 is one.
    /// </summary>
    public bool UseCudaCKernels { get; set; } = true;

    /// <summary>
    /// Whether kernels.cu's attention backward sums dq in a fixed order (true, the default: the same bits every run, as
    /// a resumed run needs) or with float atomics from the dk/dv kernel (false: one pass over the scores fewer).
    /// </summary>
    public bool DeterministicAttention { get; set; } = true;

    /// <summary>The runner of kernels.cu's kernels on this backend's context and stream, made on first use (CUDA only).</summary>
    internal Cuda.CudaKernelRunner KernelRunner => _kernelRunner ??= new Cuda.CudaKernelRunner(this);

    private Cuda.CudaKernelRunner? _kernelRunner;

    /// <summary>Bytes the caching allocator holds (in use and cached).</summary>
    public long ReservedBytes => _allocator.ReservedBytes;

    /// <summary>Bytes the caching allocator keeps for reuse.</summary>
    public long CachedBytes => _allocator.CachedBytes;

    /// <summary>The primitive that last ran on the calling thread, for out-of-memory messages.</summary>
    internal static string? LastOp => _lastOp;

    /// <inheritdoc/>
    public Storage Allocate(long bytes) => new GpuStorage(Device, _allocator, bytes);

    /// <inheritdoc/>
    public void Free(Storage storage)
    {
        if (storage is not GpuStorage || storage.Device != Device)
            throw new ArgumentException($"free: {Device} cannot free a storage on {storage.Device}", nameof(storage));
        storage.Free();
    }

    /// <inheritdoc/>
    /// <remarks>Throws here a fault a kernel reported since the last read or synchronize (<see cref="DeviceFault"/>).</remarks>
    public void Synchronize()
    {
        Stream.Synchronize();
        _faults.ThrowIfAny();
    }

    /// <summary>
    /// The kernel <paramref name="load"/> makes on this accelerator, loaded (compiled) once per backend: the lambda's
    /// method is the key, so each call site holds one kernel.
    /// </summary>
    internal T Kernel<T>(Func<Accelerator, T> load) where T : Delegate
        => (T)_kernels.GetOrAdd(load.Method, _ => load(Accelerator));

    /// <summary>Notes <paramref name="op"/> as the running primitive and checks every given tensor is alive and here.</summary>
    internal void Require(string op, params ReadOnlySpan<Tensor?> tensors)
    {
        _lastOp = op;
        foreach (var t in tensors)
        {
            if (t is null)
                continue;
            Check.Alive(op, t);
            if (t.Device != Device)
                throw Check.Fail(op, $"every tensor must be on {Device}, got one on {t.Device}", [.. tensors]);
        }
    }

    /// <summary>Elements of <paramref name="t"/> (on this device) from its layout offset to the end of its storage.</summary>
    internal static ArrayView<T> View<T>(Tensor t) where T : unmanaged
    {
        var bytes = ((GpuStorage)t.Storage).Bytes;
        int size = Unsafe.SizeOf<T>();
        long count = bytes.Length / size;
        return bytes.SubView(0, count * size).Cast<T>().SubView(t.Layout.Offset, count - t.Layout.Offset);
    }

    /// <summary><paramref name="t"/>'s elements as a kernel parameter of any dtype.</summary>
    internal static Elems Elems(Tensor t) => t.DType switch
    {
        DType.F32 => new Elems { F = View<float>(t), Kind = (byte)t.DType },
        DType.BF16 or DType.F16 => new Elems { H = View<ushort>(t), Kind = (byte)t.DType },
        DType.I32 => new Elems { I = View<int>(t), Kind = (byte)t.DType },
        DType.I64 => new Elems { L = View<long>(t), Kind = (byte)t.DType },
        _ => new Elems { B = View<byte>(t), Kind = (byte)t.DType },
    };

    /// <summary>A launch extent of <paramref name="n"/> threads; throws naming the op past int.MaxValue.</summary>
    internal static Index1D Extent(string op, long n, params Tensor?[] tensors)
        => n <= int.MaxValue ? new Index1D((int)n) : throw Check.Fail(op, $"{n} elements is past one launch's {int.MaxValue}", tensors);
}
