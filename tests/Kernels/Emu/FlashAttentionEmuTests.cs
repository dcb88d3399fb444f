using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Kernels.Cuda;
using Xunit;
using Xunit.Abstractions;
using static RawLongLoRA.Tests.Ops;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// kernels.cu/flash_attention.cu run by the host emulation through <see cref="FlashAttentionKernels"/> (the launcher a
/// GPU uses too), against the CPU backend at float32 on the same bf16-rounded q, k, v and dout, for every mask of
/// AttentionSpec, both head dims, grouped-query heads, query counts off the tiles, dlse, and both backward paths; every
/// output and scratch buffer starts NaN, so an element left unwritten fails. The kernels round P (and dS) to bf16 before
/// their products, as FlashAttention does, each a rounding of at most 2⁻⁸ of the value (half a bf16 step); the bound is
/// AttentionBf16KernelTests' (one bf16 step, 2⁻⁷, times each output's sum of magnitudes, from AttentionReference, plus
/// float32 summation), which holds them with room.
/// </summary>
public sealed class FlashAttentionEmuTests(ITestOutputHelper output)
{
    private sealed record Case(int B, int T, int S, int Hq, int Hkv, int D, AttentionSpec Spec, int[]? Starts = null, bool Dlse = false)
    {
        public FlashAttentionShape Shape => new(B, T, S, Hq, Hkv, D);
    }

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["causal d64, grouped-query heads 4 over 2, a partial query tile"] = new(1, 100, 100, 4, 2, 64, AttentionSpec.Causal),
        ["causal d128, grouped-query heads 2 over 1"] = new(1, 70, 70, 2, 1, 128, AttentionSpec.Causal),
        ["packed sequences d64"] = new(2, 80, 80, 2, 1, 64, AttentionSpec.Causal, [0, 13, 40, 80, 100, 101, 150]),
        ["S2-Attn d64, both head halves in one kv group"] = new(1, 128, 128, 4, 1, 64, new AttentionSpec { GroupSize = 32 }),
        ["S2-Attn d128, a slice of the heads"] = new(1, 64, 64, 2, 1, 128, new AttentionSpec { GroupSize = 16, HeadStart = 3, TotalHeads = 8 }),
        ["position blocks d64, the first queries see no key"] = new(1, 100, 60, 2, 1, 64, new AttentionSpec { QueryStart = 30, KeyStart = 50, RowLength = 160 }, Dlse: true),
        ["position blocks d128, packed, S2-Attn"] = new(2, 70, 80, 2, 1, 128,
            new AttentionSpec { QueryStart = 100, KeyStart = 60, RowLength = 200, GroupSize = 50 }, [0, 37, 120, 200, 260, 333], Dlse: true),
        ["decoding 5 queries after 60 keys d64"] = new(1, 5, 65, 2, 2, 64, new AttentionSpec { QueryStart = 60 }),
    };

    public static TheoryData<string> Names() => [.. Cases.Keys];

    [EmuTheory]
    [MemberData(nameof(Names))]
    public void ForwardMatchesTheCpu(string name)
    {
        using var scope = new DisposeScope();
        var c = Cases[name];
        var x = Inputs(c, name);
        AssertForwardMatches(name, c, x, x);
    }

    [EmuTheory]
    [MemberData(nameof(Names))]
    public void DeterministicBackwardMatchesTheCpu(string name) => AssertBackwardMatches(name, deterministic: true);

    [EmuTheory]
    [InlineData("S2-Attn d128, a slice of the heads")]
    [InlineData("position blocks d128, packed, S2-Attn")]
    public void AtomicBackwardMatchesTheCpu(string name) => AssertBackwardMatches(name, deterministic: false);

    /// <summary>The deterministic backward's dq, dk and dv are the same bits on a second run.</summary>
    [EmuFact]
    public void DeterministicBackwardRepeatsBitForBit()
    {
        using var scope = new DisposeScope();
        const string name = "S2-Attn d128, a slice of the heads";
        var c = Cases[name];
        var x = Inputs(c, name);
        var (o, lse) = CpuForward(c, x);
        var first = EmuBackward(c, x, o, lse, deterministic: true);
        var second = EmuBackward(c, x, o, lse, deterministic: true);
        for (int i = 0; i < 3; i++)
            Assert.Equal(first[i], second[i]);
    }

    [EmuFact]
    public void AQueryThatSeesNoKeyGetsZeroAndMinusInfinity()
    {
        using var scope = new DisposeScope();
        const string name = "position blocks d64, the first queries see no key";
        var c = Cases[name];
        var x = Inputs(c, name);
        var (o, lse) = EmuForward(c, x);
        var (cpuO, cpuLse) = CpuForward(c, x);
        var dq = EmuBackward(c, x, cpuO, cpuLse, deterministic: true)[0];
        // Positions 30…49 come before KeyStart 50; query 20 (position 50) sees key 0.
        for (int h = 0; h < c.Hq; h++)
            for (int t = 0; t < c.T; t++)
            {
                Assert.Equal(t < 20, float.IsNegativeInfinity(lse[h * c.T + t]));
                for (int i = 0; i < c.D; i++)
                {
                    int at = (t * c.Hq + h) * c.D + i;
                    Assert.True(t >= 20 || o[at] == 0 && dq[at] == 0, $"o or dq [{t}, {h}, {i}] of a query that sees no key");
                }
            }
    }

    /// <summary>
    /// Tiles a mask empties are never visited: q and dout rows of queries that see nothing, and k and v rows no query
    /// sees, are NaN here, in whole tiles; one visit, even with every element masked, would carry a NaN into an output
    /// (0 · NaN in a product). The CPU runs on zeros there.
    /// </summary>
    [EmuTheory]
    [InlineData(64, false)]
    [InlineData(128, true)]
    public void TilesAMaskEmptiesAreNeverVisited(int d, bool deterministic)
    {
        using var scope = new DisposeScope();
        // Queries 0…63 come before every key; keys 64… (positions 128…) after every query.
        var future = new Case(1, 128, 192, 2, 1, d, new AttentionSpec { KeyStart = 64, RowLength = 256 });
        // Each row's second sequence starts at position 128: keys 0…127 are in the past of every query's sequence.
        var past = new Case(2, 64, 192, 2, 1, d, new AttentionSpec { QueryStart = 128, RowLength = 192 }, [0, 128, 192, 320]);
        // Queries 64… start a sequence after the last key: they see nothing, though queries before them see every key.
        var later = new Case(1, 128, 64, 2, 1, d, AttentionSpec.Causal, [0, 64]);
        var cases = new[] { (future, "queries before the keys, keys after the queries", (0, 64), (64, 192)),
                            (past, "keys before the queries' sequences", (0, 0), (0, 128)),
                            (later, "queries in a sequence after the keys", (64, 128), (0, 0)) };
        foreach (var (c, what, skippedQueries, skippedKeys) in cases)
        {
            string name = $"d{d}, {what}";
            var clean = Inputs(c, name);
            var poisoned = clean with { Q = (float[])clean.Q.Clone(), K = (float[])clean.K.Clone(), V = (float[])clean.V.Clone(), DOut = (float[])clean.DOut.Clone() };
            Poison(clean.Q, poisoned.Q, c.B, c.T, c.Hq * c.D, skippedQueries);
            Poison(clean.DOut, poisoned.DOut, c.B, c.T, c.Hq * c.D, skippedQueries);
            Poison(clean.K, poisoned.K, c.B, c.S, c.Hkv * c.D, skippedKeys);
            Poison(clean.V, poisoned.V, c.B, c.S, c.Hkv * c.D, skippedKeys);
            AssertForwardMatches(name, c, clean, poisoned);
            AssertBackwardMatches(name, c, clean, poisoned, deterministic);
        }
    }

    /// <summary>Rows [range) of every batch row: 0 in the CPU's operands, NaN in the kernels'.</summary>
    private static void Poison(float[] clean, float[] poisoned, int b, int rows, int width, (int From, int To) range)
    {
        for (int r = 0; r < b; r++)
        {
            Array.Fill(clean, 0f, (r * rows + range.From) * width, (range.To - range.From) * width);
            Array.Fill(poisoned, float.NaN, (r * rows + range.From) * width, (range.To - range.From) * width);
        }
    }

    private void AssertBackwardMatches(string name, bool deterministic)
    {
        using var scope = new DisposeScope();
        var c = Cases[name];
        var x = Inputs(c, name);
        AssertBackwardMatches(name, c, x, x, deterministic);
    }

    /// <summary>o and lse of the kernel on <paramref name="kernel"/>'s operands against the CPU's on <paramref name="cpu"/>'s.</summary>
    private void AssertForwardMatches(string name, Case c, Operands cpu, Operands kernel)
    {
        var (o, lse) = CpuForward(c, cpu);
        var (ko, klse) = EmuForward(c, kernel);
        var (_, _, size) = AttentionReference.ForwardBounded(cpu.Q, cpu.K, cpu.V, c.B, c.T, c.S, c.Hq, c.Hkv, c.D, cpu.Spec, Precision.Bf16);
        Within($"{name}: o", o.ToFloatArray(), ko, size);
        // lse: float32 sums of the same products, no bf16 rounding on the way.
        var lseRef = lse.ToFloatArray();
        Within($"{name}: lse", lseRef, klse, Array.ConvertAll(lseRef, v => float.IsFinite(v) ? 1.0 + Math.Abs(v) : 0), step: 0);
    }

    /// <summary>dq, dk, dv as <see cref="AssertForwardMatches"/> compares o; both backwards start from the CPU's forward.</summary>
    private void AssertBackwardMatches(string name, Case c, Operands cpu, Operands kernel, bool deterministic)
    {
        var (o, lse) = CpuForward(c, cpu);
        var expected = CpuBackward(c, cpu, o, lse);
        var actual = EmuBackward(c, kernel, o, lse, deterministic);
        var (_, _, _, size) = AttentionReference.BackwardBounded(cpu.DOut, cpu.Q, cpu.K, cpu.V, c.B, c.T, c.S, c.Hq, c.Hkv, c.D, cpu.Spec, cpu.DLse, Precision.Bf16);
        string path = deterministic ? "deterministic" : "atomic";
        Within($"{name}: dq ({path})", expected[0], actual[0], size.Dq);
        Within($"{name}: dk ({path})", expected[1], actual[1], size.Dk);
        Within($"{name}: dv ({path})", expected[2], actual[2], size.Dv);
    }

    /// <summary>AttentionBf16KernelTests' bound, after logging the largest error as a share of it.</summary>
    private void Within(string what, float[] expected, float[] actual, double[] magnitude, double step = AttentionBf16KernelTests.Step)
    {
        double floor = AttentionBf16KernelTests.SumRounding * magnitude.DefaultIfEmpty(0).Max(), worst = 0, error = 0;
        for (int i = 0; i < expected.Length; i++)
            if (float.IsFinite(expected[i]))
            {
                double e = Math.Abs((double)actual[i] - expected[i]);
                error = Math.Max(error, e);
                worst = Math.Max(worst, e / (step * magnitude[i] + floor));
            }
        output.WriteLine($"{what}: max |error| {error:E2}, {worst:P1} of its bound");
        AttentionBf16KernelTests.AssertWithin(expected, actual, magnitude, what, step);
    }

    // ---- the two sides

    /// <summary>The case's operands rounded to bf16 (the kernels' inputs), as float32; dlse where the case has one.</summary>
    private sealed record Operands(float[] Q, float[] K, float[] V, float[] DOut, float[]? DLse, AttentionSpec Spec);

    private static Operands Inputs(Case c, string seed)
    {
        var rng = new Random(seed.Length * 7919 + c.T);
        float[] Make(long n, double range) => Array.ConvertAll(Uniform(rng, n, -range, range), v => Numerics.Bf16ToFloat(Numerics.FloatToBf16((float)v)));
        long qn = (long)c.B * c.T * c.Hq * c.D, kn = (long)c.B * c.S * c.Hkv * c.D;
        var spec = c.Starts is null ? c.Spec : c.Spec with { SequenceStarts = PackedStarts.Of(c.Starts, (long)c.B * AttentionMask.RowLength(c.Spec, c.T, c.S)) };
        return new(Make(qn, 2), Make(kn, 2), Make(kn, 1), Make(qn, 1), c.Dlse ? Make((long)c.B * c.Hq * c.T, 1) : null, spec);
    }

    private static (Tensor O, Tensor Lse) CpuForward(Case c, Operands x)
    {
        var o = Output([c.B, c.T, c.Hq, c.D]);
        var lse = Output([c.B, c.Hq, c.T]);
        Cpu.AttentionForward(o, lse, Tensor.FromArray(x.Q, [c.B, c.T, c.Hq, c.D]), Tensor.FromArray(x.K, [c.B, c.S, c.Hkv, c.D]),
            Tensor.FromArray(x.V, [c.B, c.S, c.Hkv, c.D]), x.Spec);
        return (o, lse);
    }

    private static float[][] CpuBackward(Case c, Operands x, Tensor o, Tensor lse)
    {
        var (dq, dk, dv) = (Output([c.B, c.T, c.Hq, c.D]), Output([c.B, c.S, c.Hkv, c.D]), Output([c.B, c.S, c.Hkv, c.D]));
        Cpu.AttentionBackward(dq, dk, dv, Tensor.FromArray(x.DOut, [c.B, c.T, c.Hq, c.D]), Tensor.FromArray(x.Q, [c.B, c.T, c.Hq, c.D]),
            Tensor.FromArray(x.K, [c.B, c.S, c.Hkv, c.D]), Tensor.FromArray(x.V, [c.B, c.S, c.Hkv, c.D]), o, lse, x.Spec,
            x.DLse is null ? null : Tensor.FromArray(x.DLse, [c.B, c.Hq, c.T]));
        return [dq.ToFloatArray(), dk.ToFloatArray(), dv.ToFloatArray()];
    }

    private static (float[] O, float[] Lse) EmuForward(Case c, Operands x)
    {
        var (q, k, v) = Bf16(c, x);
        var o = Output([c.B, c.T, c.Hq, c.D]);
        var lse = Output([c.B, c.Hq, c.T]);
        FlashAttentionKernels.Forward(EmuRunner.Instance, c.Shape, Mask(c, x), new(q.DataPointer, k.DataPointer, v.DataPointer, o.DataPointer, lse.DataPointer));
        return (o.ToFloatArray(), lse.ToFloatArray());
    }

    /// <summary>dq, dk, dv of the kernels from the forward's o and lse (the CPU's, so both sides start alike).</summary>
    private static float[][] EmuBackward(Case c, Operands x, Tensor o, Tensor lse, bool deterministic)
    {
        var (q, k, v) = Bf16(c, x);
        var dout = Tensor.FromArray(x.DOut, [c.B, c.T, c.Hq, c.D]);
        var dlse = x.DLse is null ? null : Tensor.FromArray(x.DLse, [c.B, c.Hq, c.T]);
        var (dq, dk, dv) = (Output([c.B, c.T, c.Hq, c.D]), Output([c.B, c.S, c.Hkv, c.D]), Output([c.B, c.S, c.Hkv, c.D]));
        var (doutBf16, delta) = (Output([c.B, c.T, c.Hq, c.D], DType.BF16), Output([c.B, c.Hq, c.T]));
        FlashAttentionKernels.Backward(EmuRunner.Instance, c.Shape, Mask(c, x), new(q.DataPointer, k.DataPointer, v.DataPointer, o.DataPointer, lse.DataPointer),
            new(dout.DataPointer, dlse?.DataPointer ?? 0, dq.DataPointer, dk.DataPointer, dv.DataPointer, doutBf16.DataPointer, delta.DataPointer), deterministic);
        return [dq.ToFloatArray(), dk.ToFloatArray(), dv.ToFloatArray()];
    }

    private static (Tensor Q, Tensor K, Tensor V) Bf16(Case c, Operands x)
        => (Tensor.FromArray(x.Q, [c.B, c.T, c.Hq, c.D], DType.BF16), Tensor.FromArray(x.K, [c.B, c.S, c.Hkv, c.D], DType.BF16),
            Tensor.FromArray(x.V, [c.B, c.S, c.Hkv, c.D], DType.BF16));

    private static FlashAttentionMask Mask(Case c, Operands x) => FlashAttentionMask.Of(x.Spec, c.Shape, x.Spec.SequenceStarts?.DataPointer ?? 0);
}
