namespace RawLongLoRA.Kernels.Cpu;

/// <summary>
/// The pack buffers of A and B for one thread's block of a GEMM, rented from the host's caching
/// allocator and given back when the block is done. Thread-static buffers grew anew in every thread
/// the pool started (the LM head's 8 MiB B panel: about 1,000 page faults a call in `bench step`);
/// rented ones come back warm whichever thread asks.
/// </summary>
internal readonly unsafe ref struct GemmBuffers
{
    private readonly long _aBytes, _bBytes;

    public GemmBuffers(long aFloats, long bFloats)
    {
        (_aBytes, _bBytes) = (aFloats * sizeof(float), bFloats * sizeof(float));
        A = (float*)HostAllocator.Shared.Rent(_aBytes, zero: false);
        B = (float*)HostAllocator.Shared.Rent(_bBytes, zero: false);
    }

    /// <summary>Packed rows of A, 64-byte aligned.</summary>
    public float* A { get; }

    /// <summary>Packed columns of B, 64-byte aligned.</summary>
    public float* B { get; }

    public void Dispose()
    {
        HostAllocator.Shared.Return((nint)A, _aBytes);
        HostAllocator.Shared.Return((nint)B, _bBytes);
    }
}
