using RawLongLoRA.Kernels.Gpu;
using Xunit;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests;

/// <summary>
/// Flash attention forward and backward on the ILGPU backend against the CPU backend, for every mask kind of
/// AttentionSpec (the packed starts on the device), into poisoned outputs, on tiny shapes: the CPU accelerator's tiles
/// are 4 wide, so these cross many query and key tile edges.
/// </summary>
public sealed partial class GpuAttentionTests
{
    /// <summary>Max |ILGPU − CPU| over max |CPU|: both sum in float32, in different orders, over at most 24 terms.</summary>
    private const double Tolerance = 1e-5;

    private sealed record Case(int B, int T, int S, int Hq, int Hkv, int D, AttentionSpec Spec, int[]? Starts = null, bool Dlse = false);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["causal, grouped-query heads"] = new(2, 13, 13, 4, 2, 5, AttentionSpec.Causal),
        ["query and key blocks"] = new(1, 7, 11, 2, 1, 8, new AttentionSpec { QueryStart = 9, KeyStart = 2, RowLength = 20 }, Dlse: true),
        ["queries before the keys see nothing"] = new(2, 9, 6, 2, 2, 4, new AttentionSpec { KeyStart = 4 }),
        ["decoding one query over a cache"] = new(2, 1, 13, 4, 1, 8, new AttentionSpec { QueryStart = 12 }),
        ["packed sequences"] = new(2, 12, 12, 2, 1, 6, AttentionSpec.Causal, [0, 5, 12, 15, 20]),
        ["S2-Attn, both head halves"] = new(1, 16, 16, 4, 2, 4, new AttentionSpec { GroupSize = 4 }),
        ["S2-Attn, a slice of the heads"] = new(1, 12, 12, 4, 2, 5, new AttentionSpec { GroupSize = 6, HeadStart = 2, TotalHeads = 8 }, Dlse: true),
        ["S2-Attn, packed, blocks"] = new(2, 8, 12, 2, 1, 5, new AttentionSpec { GroupSize = 4, QueryStart = 8, KeyStart = 4, RowLength = 16 }, [0, 6, 16, 19, 27], Dlse: true),
    };

    public static TheoryData<string> Names() => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void ForwardMatchesTheCpu(string name) => AssertForwardMatches(IlgpuDevice.Backend, name);

    [Theory]
    [MemberData(nameof(Names))]
    public void BackwardMatchesTheCpu(string name) => AssertBackwardMatches(IlgpuDevice.Backend, name);

    /// <summary>
    /// Groups of 32 threads in warps of 8: tiles of 8 rows, more threads than a tile has rows — the other side of the
    /// thread/tile ratio from the 16-thread groups above, as on a GPU.
    /// </summary>
    [Theory]
    [InlineData("causal, grouped-query heads")]
    [InlineData("S2-Attn, packed, blocks")]
    public void WiderGroupsMatchTheCpu(string name)
    {
        AssertForwardMatches(Wide.Value, name);
        AssertBackwardMatches(Wide.Value, name);
    }

    /// <summary>dk and dv have one writer each and sum the heads sharing a kv head in a fixed order: the same bits every run.</summary>
    [Fact]
    public void BackwardIsDeterministic()
    {
        using var scope = new DisposeScope();
        var c = Cases["causal, grouped-query heads"];
        var (q, k, v) = Inputs(c);
        var (o, lse) = CpuForward(c, q, k, v);
        var gpu = IlgpuDevice.Backend;
        var inputs = Array.ConvertAll([o, q, k, v, o, lse], IlgpuDevice.Mirror); // o stands in for dout
        double[][] Run()
        {
            var (dq, dk, dv) = (IlgpuDevice.Mirror(Output(q.ShapeArray)), IlgpuDevice.Mirror(Output(k.ShapeArray)), IlgpuDevice.Mirror(Output(v.ShapeArray)));
            gpu.AttentionBackward(dq, dk, dv, inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], DeviceSpec(c, gpu));
            return [Read(IlgpuDevice.Back(dq)), Read(IlgpuDevice.Back(dk)), Read(IlgpuDevice.Back(dv))];
        }
        var (first, second) = (Run(), Run());
        for (int i = 0; i < 3; i++)
            AssertExact($"backward run twice, gradient {i}", first[i], second[i]);
    }

    [Fact]
    public void AQueryThatSeesNoKeyGetsZeroAndMinusInfinity()
    {
        using var scope = new DisposeScope();
        var c = Cases["queries before the keys see nothing"];
        var (q, k, v) = Inputs(c);
        var go = IlgpuDevice.Mirror(Output([c.B, c.T, c.Hq, c.D]));
        var glse = IlgpuDevice.Mirror(Output([c.B, c.Hq, c.T]));
        IlgpuDevice.Backend.AttentionForward(go, glse, IlgpuDevice.Mirror(q), IlgpuDevice.Mirror(k), IlgpuDevice.Mirror(v), DeviceSpec(c, IlgpuDevice.Backend));
        var o = Read(IlgpuDevice.Back(go));
        var lse = Read(IlgpuDevice.Back(glse));
        // Queries 0…3 (positions before KeyStart 4) see nothing; query 4 sees key 0.
        for (int b = 0; b < c.B; b++)
            for (int h = 0; h < c.Hq; h++)
                for (int t = 0; t < c.T; t++)
                {
                    Assert.Equal(t < 4, double.IsNegativeInfinity(lse[(b * c.Hq + h) * c.T + t]));
                    for (int i = 0; i < c.D; i++)
                        Assert.True(t >= 4 || o[((b * c.T + t) * c.Hq + h) * c.D + i] == 0, $"o[{b}, {t}, {h}, {i}] of a query that sees no key");
                }
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        using var scope = new DisposeScope();
        var c = Cases["causal, grouped-query heads"];
        var (hq, hk, hv) = Inputs(c);
        var (q, k, v) = (IlgpuDevice.Mirror(hq), IlgpuDevice.Mirror(hk), IlgpuDevice.Mirror(hv));
        var gpu = IlgpuDevice.Backend;
        Tensor Out(params int[] shape) => IlgpuDevice.Mirror(Output(shape));
        var o = Out(c.B, c.T, c.Hq, c.D);
        var lse = Out(c.B, c.Hq, c.T);

        AssertThrows(() => gpu.AttentionForward(o, Out(c.B, c.T, c.Hq), q, k, v, AttentionSpec.Causal), "attention", "lse");
        AssertThrows(() => gpu.AttentionForward(o, lse, IlgpuDevice.Mirror(Output([c.B, c.T, c.Hq, c.D], DType.BF16)), k, v, AttentionSpec.Causal), "attention", "q", "bfloat16");
        AssertThrows(() => gpu.AttentionForward(o, lse, q, k, Out(c.B, c.S, c.Hkv, c.D + 1), AttentionSpec.Causal), "attention");
        AssertThrows(() => gpu.AttentionForward(o, lse, hq, k, v, AttentionSpec.Causal), "attention", IlgpuDevice.Device.ToString());
        AssertThrows(() => gpu.AttentionForward(o, lse, q, k, v, new AttentionSpec { GroupSize = 3 }), "GroupSize");
        // Packed starts left on the host: the kernel reads them on the device, never copies them across.
        AssertThrows(() => gpu.AttentionForward(o, lse, q, k, v, new AttentionSpec { SequenceStarts = PackedStarts.Of([0, 7], 2 * c.T) }), "SequenceStarts", "cpu");

        // Past 48 KB of shared memory even at tiles of one row.
        var wide = Out(1, 1, 1, 3100);
        AssertThrows(() => gpu.AttentionForward(wide, Out(1, 1, 1), wide, wide, wide, AttentionSpec.Causal), "attention", "head dim 3100");

        var dq = Out(c.B, c.T, c.Hq, c.D);
        var (dk, dv) = (Out(c.B, c.S, c.Hkv, c.D), Out(c.B, c.S, c.Hkv, c.D));
        AssertThrows(() => gpu.AttentionBackward(dq, dk, Out(c.B, c.S, c.Hq, c.D), o, q, k, v, o, lse, AttentionSpec.Causal), "attention_backward", "dv");
        AssertThrows(() => gpu.AttentionBackward(dq, dk, dv, o, q, k, v, o, lse, AttentionSpec.Causal, Out(c.B, c.T, c.Hq)), "attention_backward", "dlse");
    }

    private static readonly Lazy<IlgpuBackend> Wide = new(() => IlgpuDevice.Another(13, warpSize: 8, warpsPerGroup: 4));

    private static void AssertForwardMatches(IlgpuBackend gpu, string name)
    {
        using var scope = new DisposeScope();
        var c = Cases[name];
        var (q, k, v) = Inputs(c);
        var (cpu, dev) = Forwards(gpu, c, q, k, v);
        AssertClose($"{name}: o", cpu[0], dev[0], Tolerance);
        AssertClose($"{name}: lse", cpu[1], dev[1], Tolerance);
    }

    private static void AssertBackwardMatches(IlgpuBackend gpu, string name)
    {
        using var scope = new DisposeScope();
        var c = Cases[name];
        var (q, k, v) = Inputs(c);
        var (dout, dlse) = OutputGradients(c, name);
        var (cpu, dev) = Backwards(gpu, c, q, k, v, dout, dlse);
        string[] names = ["dq", "dk", "dv"];
        for (int i = 0; i < 3; i++)
            AssertClose($"{name}: {names[i]}", cpu[i], dev[i], Tolerance);
    }

    /// <summary>o and lse of the case from the CPU backend and from gpu, at the calling thread's Autocast precision.</summary>
    private static (double[][] Cpu, double[][] Gpu) Forwards(IlgpuBackend gpu, Case c, Tensor q, Tensor k, Tensor v)
    {
        var (o, lse) = CpuForward(c, q, k, v);
        var go = Up(gpu, Output([c.B, c.T, c.Hq, c.D]));
        var glse = Up(gpu, Output([c.B, c.Hq, c.T]));
        gpu.AttentionForward(go, glse, Up(gpu, q), Up(gpu, k), Up(gpu, v), DeviceSpec(c, gpu));
        return ([Read(o), Read(lse)], [Read(Down(go)), Read(Down(glse))]);
    }

    /// <summary>dq, dk and dv from the CPU backend and from gpu, both from the CPU forward's o and lse, at the calling thread's precision.</summary>
    private static (double[][] Cpu, double[][] Gpu) Backwards(IlgpuBackend gpu, Case c, Tensor q, Tensor k, Tensor v, Tensor dout, Tensor? dlse)
    {
        var (o, lse) = CpuForward(c, q, k, v);
        Tensor Grad(Tensor like) => Output(like.ShapeArray);
        var (dq, dk, dv) = (Grad(q), Grad(k), Grad(v));
        Cpu.AttentionBackward(dq, dk, dv, dout, q, k, v, o, lse, HostSpec(c), dlse);

        var (gdq, gdk, gdv) = (Up(gpu, Grad(q)), Up(gpu, Grad(k)), Up(gpu, Grad(v)));
        gpu.AttentionBackward(gdq, gdk, gdv, Up(gpu, dout), Up(gpu, q), Up(gpu, k), Up(gpu, v), Up(gpu, o), Up(gpu, lse), DeviceSpec(c, gpu),
            dlse is null ? null : Up(gpu, dlse));
        return ([Read(dq), Read(dk), Read(dv)], [Read(Down(gdq)), Read(Down(gdk)), Read(Down(gdv))]);
    }

    /// <summary>dout, and dlse where the case has one, seeded by the case's name.</summary>
    private static (Tensor Dout, Tensor? Dlse) OutputGradients(Case c, string name)
    {
        var rng = new Random(name.Length);
        var dout = Place(Uniform(rng, (long)c.B * c.T * c.Hq * c.D, -1, 1), [c.B, c.T, c.Hq, c.D]);
        return (dout, c.Dlse ? Place(Uniform(rng, (long)c.B * c.Hq * c.T, -1, 1), [c.B, c.Hq, c.T]) : null);
    }

    /// <summary>A copy of contiguous host tensor <paramref name="t"/> (sentinels of a poisoned output included) on gpu's device.</summary>
    private static Tensor Up(IlgpuBackend gpu, Tensor t) => Tensor.Empty(t.ShapeArray, t.DType, gpu.Device).CopyFrom(t);

    private static Tensor Down(Tensor t) => Tensor.Empty(t.ShapeArray, t.DType).CopyFrom(t);

    private static (Tensor Q, Tensor K, Tensor V) Inputs(Case c)
    {
        var rng = new Random(c.T * 31 + c.S);
        Tensor Make(params int[] shape) => Place(Uniform(rng, BackendReference.Numel(shape), -2, 2), shape);
        return (Make(c.B, c.T, c.Hq, c.D), Make(c.B, c.S, c.Hkv, c.D), Make(c.B, c.S, c.Hkv, c.D));
    }

    private static (Tensor O, Tensor Lse) CpuForward(Case c, Tensor q, Tensor k, Tensor v)
    {
        var o = Output([c.B, c.T, c.Hq, c.D]);
        var lse = Output([c.B, c.Hq, c.T]);
        Cpu.AttentionForward(o, lse, q, k, v, HostSpec(c));
        return (o, lse);
    }

    private static long Tokens(Case c) => (long)c.B * (c.Spec.RowLength > 0 ? c.Spec.RowLength : Math.Max(c.Spec.QueryStart + c.T, c.Spec.KeyStart + c.S));

    private static AttentionSpec HostSpec(Case c) => c.Starts is null ? c.Spec : c.Spec with { SequenceStarts = PackedStarts.Of(c.Starts, Tokens(c)) };

    private static AttentionSpec DeviceSpec(Case c, IlgpuBackend gpu) => c.Starts is null ? c.Spec : c.Spec with { SequenceStarts = PackedStarts.Of(c.Starts, Tokens(c), gpu.Device) };
}
