using System.Diagnostics;
using RawLongLoRA.Kernels.Cuda;
using Xunit;
using Xunit.Abstractions;
using static RawLongLoRA.Tests.Kernels.Emu.Probe;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// The block-level side of the host emulation (kernels.cu/emu/cuda_emu.h): __syncthreads, the launch's grid and ids,
/// shared memory, cp.async groups, atomics, its speed, and faults reported as exceptions instead of hangs.
/// </summary>
public sealed unsafe class EmulationTests(ITestOutputHelper output)
{
    [EmuFact]
    public void Syncthreads_orders_shared_memory_across_warps_in_every_block_of_a_3d_grid()
    {
        var launch = new KernelLaunch(2, 3, 2, 32, 2, 2, SharedBytes: 128 * 4);
        const int Blocks = 12, Threads = 128, Rounds = 20;
        var sums = new float[Blocks * Threads];
        var ids = new uint[4 * Blocks * Threads];
        var firstWords = new uint[Blocks * Threads];
        fixed (float* ps = sums)
        fixed (uint* pi = ids, pf = firstWords)
            Run("probe_barrier", launch, new Barriers { Out = ps, Ids = pi, FirstWord = pf, Rounds = Rounds });
        for (int block = 0; block < Blocks; block++)
            for (int i = 0; i < Threads; i++)
            {
                float expected = 0;
                for (int round = 0; round < Rounds; round++)
                    expected += block * 1000 + round * 100 + (i + 37 * round) % Threads;
                int t = block * Threads + i;
                Assert.True(expected == sums[t], $"block {block}, thread {i}: expected {expected}, got {sums[t]}");
                uint Packed(int x, int y, int z) => (uint)(x | y << 8 | z << 16);
                Assert.Equal(new[] { Packed(i % 32, i / 32 % 2, i / 64), Packed(block % 2, block / 2 % 3, block / 6), Packed(32, 2, 2), Packed(2, 3, 2) },
                             ids[(4 * t)..(4 * t + 4)]);
            }
        // Every block starts with dynamic shared memory of 0xff bytes (NaN as bf16 and float), not the last block's.
        Assert.All(firstWords, w => Assert.Equal(uint.MaxValue, w));
    }

    [EmuFact]
    public void Cp_async_completes_a_group_only_at_the_wait_for_it_and_zero_fills_past_the_source_size()
    {
        var random = new Random(18);
        using var source = new Aligned<byte>(new byte[32 * 16]);
        random.NextBytes(source.Span);
        byte[] src = source.Span.ToArray();
        int[] srcBytes = [.. Enumerable.Range(0, 32).Select(i => i < 4 ? 16 * (i % 2) : 4 * random.Next(0, 5))];
        var afterWait1 = new byte[src.Length];
        var afterWait0 = new byte[src.Length];
        fixed (byte* p1 = afterWait1, p0 = afterWait0)
        fixed (int* pb = srcBytes)
            Run("probe_cp_async", Blocks(1, 32), new CpAsync { Src = source.Pointer, SrcBytes = pb, AfterWait1 = p1, AfterWait0 = p0 });
        for (int i = 0; i < 32; i++)
        {
            byte[] copied = [.. Enumerable.Range(16 * i, 16).Select(k => k - 16 * i < srcBytes[i] ? src[k] : (byte)0)];
            // Even threads copied in the first group, which wait_group 1 completes; odd ones in the second, still pending.
            Assert.Equal(i % 2 == 0 ? copied : Enumerable.Repeat((byte)0xee, 16), afterWait1[(16 * i)..(16 * i + 16)]);
            Assert.Equal(copied, afterWait0[(16 * i)..(16 * i + 16)]);
        }
    }

    private static float Count(KernelLaunch launch)
    {
        float counter = 0;
        Run("probe_atomic", launch, new Atomic { Counter = &counter });
        return counter;
    }

    [EmuFact]
    public void Bf16_conversions_round_to_nearest_even_as_the_engine_does_and_fast_exp2_is_2_to_the_x()
    {
        var random = new Random(19);
        // Zeros, denormals, infinities, NaNs (quiet and signalling), halfway cases (to even, both ways), just above and
        // below halfway, and the largest floats, which round to infinity or to bf16's largest.
        uint[] special = [0, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffa00001, 0x7f800001,
                          0x3f808000, 0x3f818000, 0x3f808001, 0x3f7fffff, 0x7f7fffff, 0x7f7f8000, 0x7f7f7fff];
        float[] input = [.. special.Concat(Enumerable.Range(0, 3000).Select(_ => (uint)random.NextInt64(0, 1L << 32))).Select(BitConverter.UInt32BitsToSingle),
                         .. Enumerable.Range(0, 1000).Select(_ => (float)(random.NextDouble() * 60 - 30))];
        int n = input.Length;
        var bf16 = new ushort[n];
        var back = new float[n];
        var packed = new uint[n];
        var exp2 = new float[n];
        fixed (float* pi = input, pb = back, pe = exp2)
        fixed (ushort* ph = bf16)
        fixed (uint* pp = packed)
            Run("probe_convert", Blocks(3, 128), new Probe.Convert { In = pi, Bf16 = ph, Back = pb, Packed = pp, Exp2 = pe, N = n });
        for (int i = 0; i < n; i++)
        {
            ushort expected = Numerics.FloatToBf16(input[i]);
            Assert.True(expected == bf16[i], $"{BitConverter.SingleToUInt32Bits(input[i]):x8}: expected {expected:x4}, got {bf16[i]:x4}");
            Assert.Equal(BitConverter.SingleToUInt32Bits(Numerics.Bf16ToFloat(expected)), BitConverter.SingleToUInt32Bits(back[i]));
            Assert.Equal(expected | (uint)Numerics.FloatToBf16(input[(i + 1) % n]) << 16, packed[i]);
            if (i >= n - 1000)
                Assert.Equal(MathF.Pow(2, input[i]), exp2[i], MathF.Pow(2, input[i]) * 1e-6f);
        }
    }

    [EmuFact]
    public void AtomicAdd_counts_every_thread_of_every_block() => Assert.Equal(1024f, Count(Blocks(4, 256)));

    [EmuFact]
    public void Launches_from_several_threads_at_once_each_get_their_own_results()
        => Parallel.For(0, 6, i => Assert.Equal(64f * (i + 1), Count(Blocks((uint)i + 1, 64))));

    [EmuTheory]
    [InlineData(0, "thread (3,0,0): ldmatrix row address")]
    [InlineData(1, "cp.async shared address")]
    [InlineData(2, "parted ways: 0 in a warp collective, ")]
    [InlineData(3, "the 32 threads of a warp parted ways: 31 in a warp collective, 0 at __syncthreads, 1 at the end of the kernel")]
    [InlineData(4, "thread (40,0,0): assert(i != 40) failed at")]
    [InlineData(5, "is in a different warp collective")]
    [InlineData(6, "the 32 threads of a warp parted ways: 16 in a warp collective, 16 at __syncthreads, 0 at the end of the kernel")]
    [InlineData(7, "thread (63,0,0): assert(!(i == 63 && k == 50)) failed")]
    public void A_fault_in_a_kernel_thread_fails_the_launch_with_its_message_and_the_next_launch_runs(int mode, string message)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Run("probe_fault", Blocks(1, 64), new Fault { Mode = mode }));
        Assert.Contains("kernel probe_fault, block (0,0,0)", e.Message);
        Assert.Contains(message, e.Message);
        AtomicAdd_counts_every_thread_of_every_block();
    }

    [EmuFact]
    public void A_launch_shape_no_GPU_runs_is_refused_with_the_shape()
    {
        var tooMany = Assert.Throws<InvalidOperationException>(() => Count(Blocks(1, 2048)));
        Assert.Contains("block (2048,1,1) must have 1 to 1024 threads", tooMany.Message);
        var tooMuch = Assert.Throws<InvalidOperationException>(() => Count(Blocks(1, 32, 300_000)));
        Assert.Contains("dynamic shared memory 300000 bytes is more than a block may have", tooMuch.Message);
    }

    [EmuFact]
    public void A_kernel_or_file_without_a_host_entry_is_named_in_the_error()
    {
        var kernel = Assert.Throws<ArgumentException>(() => Run("probe_missing", Blocks(1, 32), new Fault()));
        Assert.Contains("exports no emu_probe_missing: it needs RAWLORA_HOST_ENTRY(probe_missing", kernel.Message);
        var file = Assert.Throws<ArgumentException>(() => EmuRunner.Instance.Run("emu/missing", "k", Blocks(1, 32), new Fault()));
        Assert.Contains("missing.cu", file.Message);
    }

    [EmuFact]
    public void A_compile_error_shows_the_compiler_output()
    {
        using var folder = new TempFolder("emu-bad-");
        File.WriteAllText(folder.File("bad.cu"), "extern \"C\" void k() { undeclared_thing(); }\n");
        var e = Assert.Throws<InvalidOperationException>(() => EmuKernels.Build(folder.Path, "bad", folder.Path));
        Assert.Contains("g++ failed to compile kernels.cu/bad.cu", e.Message);
        Assert.Contains("undeclared_thing", e.Message);
        Assert.Equal(["bad.cu"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
    }

    [EmuFact]
    public void A_128_thread_block_of_ldmatrix_mma_and_syncthreads_runs_in_well_under_a_second()
    {
        const int Steps = 100;  // per warp: 100 ldmatrix.x4, 400 mma; per block: 100 __syncthreads
        var sums = new float[128];
        fixed (float* ps = sums)
        {
            Run("probe_busy", Blocks(1, 128), new Busy { Out = ps, Steps = 1 });  // the pool's threads started
            var clock = Stopwatch.StartNew();
            Run("probe_busy", Blocks(1, 128), new Busy { Out = ps, Steps = Steps });
            output.WriteLine($"{Steps} steps of 4 warps: {clock.Elapsed.TotalMilliseconds:F0} ms");
            // Generous for a loaded 2-core machine; a spinning or serialized emulation takes many seconds.
            Assert.InRange(clock.Elapsed.TotalSeconds, 0, 3);
        }
        Assert.All(sums, s => Assert.True(float.IsFinite(s) && s != 0));
    }
}
