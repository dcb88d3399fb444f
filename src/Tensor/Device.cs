namespace RawLongLoRA;

/// <summary>The kind of memory a tensor lives in.</summary>
public enum DeviceType : byte
{
    /// <summary>Host memory; served by the SIMD CPU backend of RawLongLoRA.Kernels.</summary>
    Cpu,
    /// <summary>
    /// An NVIDIA GPU (a backend for it must be registered through <see cref="Backends.Register(DeviceType, Func{int, IBackend})"/>).
    /// </summary>
    Cuda,
    /// <summary>
    /// A device of a backend from outside this library, as PyTorch's PrivateUse1 ("privateuseone"): whoever
    /// registers a backend for it through <see cref="Backends.Register(DeviceType, Func{int, IBackend})"/> says what it is (the tests' strict
    /// device, whose memory the host cannot read, is one).
    /// </summary>
    PrivateUse1,
}

/// <summary>Where a tensor's storage lives: the host, CUDA device n, or device n of an outside backend.</summary>
public readonly record struct Device(DeviceType Type, int Index = 0)
{
    private const string PrivateName = "privateuseone";

    /// <summary>The host: where tensors are made when no device is given.</summary>
    public static readonly Device Cpu = new(DeviceType.Cpu);

    /// <summary>CUDA device <paramref name="index"/> (0 = the first GPU).</summary>
    public static Device Cuda(int index = 0) => new(DeviceType.Cuda, index);

    /// <summary>Device <paramref name="index"/> of the backend registered for <see cref="DeviceType.PrivateUse1"/>.</summary>
    public static Device PrivateUse1(int index = 0) => new(DeviceType.PrivateUse1, index);

    /// <summary>True for the host.</summary>
    public bool IsCpu => Type == DeviceType.Cpu;

    /// <summary>The backend that runs ops on this device (<see cref="Backends.Get"/>).</summary>
    public IBackend Backend => Backends.Get(this);

    /// <summary>"cpu", "cuda:N" or "privateuseone:N", as PyTorch writes devices and <see cref="Parse"/> reads them.</summary>
    public override string ToString() => Type switch
    {
        DeviceType.Cpu => "cpu",
        DeviceType.Cuda => $"cuda:{Index}",
        _ => $"{PrivateName}:{Index}",
    };

    /// <summary>Parses "cpu", "cuda", "cuda:N", "privateuseone" or "privateuseone:N".</summary>
    public static Device Parse(string s)
        => TryParse(s, out var device) ? device : throw new FormatException($"device '{s}': expected 'cpu', 'cuda', 'cuda:N' or '{PrivateName}:N'");

    /// <summary>What <see cref="Parse"/> reads, or false (and the CPU) for anything else.</summary>
    public static bool TryParse(string s, out Device device)
    {
        var t = s.Trim().ToLowerInvariant();
        device = Cpu;
        if (t == "cpu")
            return true;
        foreach (var (name, type) in new[] { ("cuda", DeviceType.Cuda), (PrivateName, DeviceType.PrivateUse1) })
        {
            if (t == name)
                device = new(type);
            else if (t.StartsWith(name + ":", StringComparison.Ordinal) && int.TryParse(t.AsSpan(name.Length + 1), out int n) && n >= 0)
                device = new(type, n);
            else
                continue;
            return true;
        }
        return false;
    }
}
