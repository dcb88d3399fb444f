using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The host caching allocator on its own (a private instance each, so no other test's blocks mix in).</summary>
public unsafe class HostAllocatorTests
{
    private const long NoPressure = long.MaxValue;

    [Theory]
    [InlineData(0, 64)]
    [InlineData(1, 64)]
    [InlineData(64, 64)]
    [InlineData(65, 80)]
    [InlineData(1000, 1024)]
    [InlineData(1025, 1280)]
    [InlineData(64L << 20, 64L << 20)]
    [InlineData((64L << 20) + 1, 80L << 20)]
    public void SizeClassesAreFourPerPowerOfTwo(long bytes, long expected) => Assert.Equal(expected, HostAllocator.SizeClass(bytes));

    [Fact]
    public void ASizeClassHoldsItsRequestAndWastesAtMostAQuarter()
    {
        for (long bytes = 65; bytes < 1L << 34; bytes = bytes * 9 / 8 + 7)
        {
            long size = HostAllocator.SizeClass(bytes);
            Assert.InRange(size, bytes, bytes + bytes / 4);
        }
    }

    [Fact]
    public void AFreedBlockServesTheNextRequestOfItsClassAndNoOther()
    {
        var a = new HostAllocator(NoPressure);
        nint first = a.Rent(1000, zero: false);
        a.Return(first, 1000);
        Assert.Equal(first, a.Rent(900, zero: false)); // 900 and 1000 share the 1024-byte class
        nint other = a.Rent(1000, zero: false);       // the cache is empty again: a new block
        Assert.NotEqual(first, other);
        Assert.Equal(2048, a.ReservedBytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(4096 + 8)]
    [InlineData(3 << 20)]
    public void BlocksAreAlignedToACacheLineAndBigOnesToAHugePage(long bytes)
    {
        var a = new HostAllocator(NoPressure);
        var blocks = Enumerable.Range(0, 5).Select(_ => a.Rent(bytes, zero: false)).ToList();
        long alignment = HostAllocator.SizeClass(bytes) >= HostMemory.HugePage ? HostMemory.HugePage : HostMemory.Alignment;
        Assert.All(blocks, b => Assert.Equal(0, b % alignment));
        blocks.ForEach(b => a.Return(b, bytes));
        a.Trim();
    }

    [Fact]
    public void ZeroIsAskedForAndOtherwiseTheLastUsersBytesStay()
    {
        var a = new HostAllocator(NoPressure);
        const int n = 5000;
        nint b = a.Rent(n, zero: false);
        new Span<byte>((void*)b, n).Fill(0xAB);
        a.Return(b, n);
        nint again = a.Rent(n, zero: false);
        Assert.Equal(b, again);
        Assert.True(new Span<byte>((void*)again, n).IndexOfAnyExcept((byte)0xAB) < 0);
        a.Return(again, n);
        nint zeroed = a.Rent(n, zero: true);
        Assert.Equal(b, zeroed);
        Assert.True(new Span<byte>((void*)zeroed, n).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void ReservedCountsBlocksInUseAndCachedUntilATrim()
    {
        var a = new HostAllocator(NoPressure);
        nint x = a.Rent(1 << 20, zero: false), y = a.Rent(100, zero: false);
        Assert.Equal((1 << 20) + 112, a.ReservedBytes);
        Assert.Equal(0, a.CachedBytes);
        a.Return(x, 1 << 20);
        Assert.Equal(1 << 20, a.CachedBytes);
        Assert.Equal((1 << 20) + 112, a.ReservedBytes);
        Assert.Equal(1 << 20, a.Trim());
        Assert.Equal(0, a.CachedBytes);
        Assert.Equal(112, a.ReservedBytes);
        a.Return(y, 100);
        Assert.Equal(112, a.Trim());
        Assert.Equal(0, a.ReservedBytes);
    }

    [Fact]
    public void UnderPressureANewBlockTrimsTheCacheFirst()
    {
        var a = new HostAllocator(pressureBytes: 3 << 20);
        nint x = a.Rent(2 << 20, zero: false);
        a.Return(x, 2 << 20);
        nint small = a.Rent(1 << 10, zero: false); // within the limit: the 2 MiB block stays cached
        Assert.Equal(2 << 20, a.CachedBytes);
        nint y = a.Rent(3 << 19, zero: false);    // 1.5 MiB more would pass 3 MiB: the cache goes first
        Assert.Equal(0, a.CachedBytes);
        Assert.Equal((3 << 19) + 1024, a.ReservedBytes);
        a.Return(y, 3 << 19);
        a.Return(small, 1 << 10);
        a.Trim();
    }

    [Fact]
    public void ThreadsRentingAndReturningAtOnceNeverShareABlock()
    {
        var a = new HostAllocator(NoPressure);
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, thread =>
        {
            var random = new Random(thread);
            var held = new List<(nint Block, int Bytes)>();
            for (int i = 0; i < 2000; i++)
            {
                if (held.Count > 0 && random.Next(2) == 0)
                {
                    int k = random.Next(held.Count);
                    var (block, bytes) = held[k];
                    // Plain allocation would give this thread the block to itself: so must the cache.
                    Assert.True(new Span<byte>((void*)block, bytes).IndexOfAnyExcept((byte)(thread + 1)) < 0);
                    a.Return(block, bytes);
                    held.RemoveAt(k);
                }
                else
                {
                    int bytes = 64 << random.Next(8);
                    nint block = a.Rent(bytes, zero: false);
                    new Span<byte>((void*)block, bytes).Fill((byte)(thread + 1));
                    held.Add((block, bytes));
                }
            }
            foreach (var (block, bytes) in held)
                a.Return(block, bytes);
        });
        Assert.Equal(a.ReservedBytes, a.CachedBytes);
        Assert.Equal(a.ReservedBytes, a.Trim());
        Assert.Equal(0, a.ReservedBytes);
    }
}
