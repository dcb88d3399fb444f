namespace RawLongLoRA;

/// <summary>The kind of memory a tensor lives in.</summary>
public enum DeviceType : byte
{
    /// <summary>Host memory; served by the SIMD CPU backend of RawLongLoRA.Kernels.</summary>
    Cpu,
    /// <summary>
    /// An NVIDIA GPU (a backend for it must be registered through <see cref="Backends.Register"/>).
    /// </summary>
    Cuda,
}

/// <summary>Where a tensor's storage lives: the host, or CUDA device n.</summary>
public readonly record struct Device(DeviceType Type, int Index = 0)
{
    /// <summary>The host: where tensors are made when no device is given.</summary>
    public static readonly Device Cpu = new(DeviceType.Cpu);

    /// <summary>CUDA device <paramref name="index"/> (0 = the first GPU).</summary>
    public static Device Cuda(int index = 0) => new(DeviceType.Cuda, index);

    /// <summary>True for the host.</summary>
    public bool IsCpu => Type == DeviceType.Cpu;

    /// <summary>The backend that runs ops on this device (<see cref="Backends.Get"/>).</summary>
    public IBackend Backend => Backends.Get(this);

    /// <summary>"cpu" or "cuda:N", as PyTorch writes devices and <see cref="Parse"/> reads them.</summary>
    public override string ToString() => Type == DeviceType.Cpu ? "cpu" : $"cuda:{Index}";

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string s)
    {
        var t = s.Trim().ToLowerInvariant();
        if (t == "cpu")
            return Cpu;
        if (t == "cuda")
            return Cuda();
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out int n) && n >= 0)
            return Cuda(n);
        throw new FormatException($"device '{s}': expected 'cpu', 'cuda' or 'cuda:N'");
    }
}
