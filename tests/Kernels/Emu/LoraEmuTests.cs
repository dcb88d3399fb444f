using System.Runtime.InteropServices;
using RawLongLoRA.Kernels.Cuda;
using Xunit;
using Xunit.Abstractions;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// kernels.cu/lora.cu through <see cref="LoraKernels"/> on the host emulation, against float64 references from the
/// same bf16 inputs: each result both within bf16 rounding of the exact product and, given the kernel's own bf16
/// intermediate (xa, dxa), within float32 summation error of what it must then be — so a misplaced element fails
/// either way. Shapes have m, n and k off the 64-wide tiles; outputs that are written, not added to, start as NaN.
/// </summary>
public sealed unsafe class LoraEmuTests(ITestOutputHelper output) : IDisposable
{
    // m, n, k: a single row; tails of every tile; several tiles of each with tails.
    private static readonly (int M, int N, int K)[] Shapes = [(1, 8, 8), (70, 136, 72), (200, 72, 264)];
    private const float Scale = 1.5f;

    // Relative to the sum of the terms' magnitudes: bf16 rounding of the intermediate (2^-9) with room for float32
    // sums; and float32 sums alone, of at most a few hundred terms.
    private const double Bf16Tolerance = 1.0 / 256;
    private const double FloatTolerance = 1e-4;

    private readonly List<nint> _blocks = [];

    public static TheoryData<int> AllRanks() => new() { 8, 16, 32, 64 };

    [Theory]
    [MemberData(nameof(AllRanks))]
    public void Forward_forms_give_the_same_bits_and_match_the_reference(int rank)
    {
        foreach (int s in ShapesFor(rank))
        {
            var q = new Problem(Shape(s, rank), seed: s);
            var fused = RunForward(q, LoraOptions.Default);
            var two = RunForward(q, new LoraOptions { Form = LoraForm.TwoKernel, ColumnsPerBlock = s % 2 == 0 ? 64 : 256 });
            Assert.Equal(fused.Xa, two.Xa);
            Assert.Equal(Bits(fused.Y), Bits(two.Y));
            CheckForward(q, fused.Xa, fused.Y, accumulated: true);
        }
    }

    [Theory]
    [MemberData(nameof(AllRanks))]
    public void Backward_forms_give_the_same_bits_and_match_the_reference(int rank)
    {
        foreach (int s in ShapesFor(rank))
        {
            var q = new Problem(Shape(s, rank), seed: 10 + s);
            ushort[] xa = RunForward(q, LoraOptions.Default).Xa;
            var fused = RunBackward(q, xa, LoraOptions.Default);
            var two = RunBackward(q, xa, new LoraOptions { Form = LoraForm.TwoKernel, ColumnsPerBlock = s % 2 == 0 ? 64 : 256 });
            Assert.Equal(fused.Dxa, two.Dxa);
            Assert.Equal(Bits(fused.Dx), Bits(two.Dx));
            Assert.Equal(Bits(fused.DA), Bits(two.DA));
            Assert.Equal(Bits(fused.DB), Bits(two.DB));
            CheckBackward(q, xa, fused, dxAccumulated: true, gradsAccumulated: false);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Outputs_are_overwritten_or_added_to_as_asked(bool twoKernel)
    {
        var form = twoKernel ? LoraForm.TwoKernel : LoraForm.Fused;
        var q = new Problem(new LoraShape(130, 80, 136, 16), seed: 20);
        var forward = RunForward(q, new LoraOptions { Form = form, AccumulateOutput = false });
        CheckForward(q, forward.Xa, forward.Y, accumulated: false);
        var backward = RunBackward(q, forward.Xa, new LoraOptions { Form = form, AccumulateOutput = false, AccumulateWeightGradients = true, Splits = 2 });
        CheckBackward(q, forward.Xa, backward, dxAccumulated: false, gradsAccumulated: true);
    }

    [Fact]
    public void Fused_forward_without_xa_gives_the_same_y()
    {
        var q = new Problem(new LoraShape(70, 136, 72, 16), seed: 30);
        Assert.Equal(Bits(RunForward(q, LoraOptions.Default).Y), Bits(RunForward(q, LoraOptions.Default, storeXa: false).Y));
    }

    [Fact]
    public void Backward_is_deterministic_and_splits_only_reorder_sums()
    {
        var q = new Problem(new LoraShape(250, 72, 200, 16), seed: 40);
        ushort[] xa = RunForward(q, LoraOptions.Default).Xa;
        var four = new LoraOptions { Splits = 4 };
        var first = RunBackward(q, xa, four);
        var again = RunBackward(q, xa, four);
        Assert.Equal(Bits(first.DA), Bits(again.DA));
        Assert.Equal(Bits(first.DB), Bits(again.DB));
        Assert.Equal(Bits(first.Dx), Bits(again.Dx));
        CheckBackward(q, xa, RunBackward(q, xa, new LoraOptions { Splits = 1 }), dxAccumulated: true, gradsAccumulated: false);
        CheckBackward(q, xa, first, dxAccumulated: true, gradsAccumulated: false);
    }

    [Fact]
    public void Launch_shapes_follow_lora_cu()
    {
        var shape = new LoraShape(200, 136, 264, 16);
        var runner = new RecordingRunner<LoraParams>(LoraKernels.File);
        LoraKernels.Forward(runner, shape, new(16, 16, 16, 16, 16), Scale);
        LoraKernels.Forward(runner, shape, new(16, 16, 16, 16, 16), Scale, new LoraOptions { Form = LoraForm.TwoKernel, ColumnsPerBlock = 128 });
        LoraKernels.Backward(runner, shape, new(16, 16, 16, 16, 16, 16, 16, 16, 16), Scale, new LoraOptions { Form = LoraForm.TwoKernel, ColumnsPerBlock = 128, Splits = 3 });
        Assert.Equal(
        [
            "lora_fwd_r16 (4,1,1)x128",
            "lora_xa_r16 (4,1,1)x128", "lora_y_r16 (2,4,1)x128",
            "lora_dxa_r16 (4,1,1)x128", "lora_dx_r16 (3,4,1)x128", "lora_wgrad_r16 (8,3,1)x128", "lora_reduce (25,1,1)x256",
        ], runner.Launches.Select(l => $"{l.Kernel} ({l.Launch.GridX},{l.Launch.GridY},{l.Launch.GridZ})x{l.Launch.BlockX}"));
        // dxa (6400 bytes, a multiple of the 256 the partial sums are aligned to), then 3 splits of dB's and dA's sums.
        Assert.Equal(200 * 16 * 2 + 3 * (136 + 264) * 16 * 4, LoraKernels.BackwardScratchBytes(shape, new LoraOptions { Splits = 3 }));
        Assert.Equal(4, LoraKernels.Splits(shape, 0));  // 264 blocks wanted over 8 column tiles, at most the 4 row tiles
    }

    [Fact]
    public void Bad_arguments_are_refused_by_name_before_any_launch()
    {
        var runner = new RecordingRunner<LoraParams>(LoraKernels.File);
        var shape = new LoraShape(200, 136, 264, 16);
        var fwd = new LoraForwardBuffers(16, 16, 16, 16, 16);
        var bwd = new LoraBackwardBuffers(16, 16, 16, 16, 16, 16, 16, 16, 16);
        void Refused(string name, Action call) => Assert.Contains(name, Assert.ThrowsAny<ArgumentException>(call).Message);
        Refused("shape.Rank", () => LoraKernels.Forward(runner, shape with { Rank = 12 }, fwd, Scale));
        Refused("shape.M", () => LoraKernels.Forward(runner, shape with { M = 0 }, fwd, Scale));
        Refused("shape.N", () => LoraKernels.Forward(runner, shape with { N = 132 }, fwd, Scale));
        Refused("shape.K", () => LoraKernels.Backward(runner, shape with { K = 4 }, bwd, Scale));
        Refused("scale", () => LoraKernels.Forward(runner, shape, fwd, float.NaN));
        Refused("options.ColumnsPerBlock", () => LoraKernels.Forward(runner, shape, fwd, Scale, new LoraOptions { ColumnsPerBlock = 96 }));
        Refused("splits", () => LoraKernels.Backward(runner, shape, bwd, Scale, new LoraOptions { Splits = 5 }));
        Refused("buffers.Y", () => LoraKernels.Forward(runner, shape, fwd with { Y = 0 }, Scale));
        Refused("buffers.X: must be 16-byte aligned", () => LoraKernels.Forward(runner, shape, fwd with { X = 24 }, Scale));
        Refused("buffers.Xa", () => LoraKernels.Forward(runner, shape, fwd with { Xa = 0 }, Scale, new LoraOptions { Form = LoraForm.TwoKernel }));
        Refused("buffers.Xa", () => LoraKernels.Backward(runner, shape, bwd with { Xa = 0 }, Scale));
        Refused("buffers.Scratch", () => LoraKernels.Backward(runner, shape, bwd with { Scratch = 8 }, Scale));
        Assert.Empty(runner.Launches);
    }

    public void Dispose()
    {
        foreach (nint p in _blocks)
            NativeMemory.AlignedFree((void*)p);
    }

    // Ranks 32 and 64 take the most emulated collectives: the shape with every tail only.
    private static int[] ShapesFor(int rank) => rank <= 16 ? [0, 1, 2] : [1];

    private static LoraShape Shape(int index, int rank) => new(Shapes[index].M, Shapes[index].N, Shapes[index].K, rank);

    // ---- runs ----

    private (ushort[] Xa, float[] Y) RunForward(Problem q, LoraOptions options, bool storeXa = true)
    {
        var (m, n, r) = (q.Shape.M, q.Shape.N, q.Shape.Rank);
        nint y = options.AccumulateOutput ? Put(q.Y0) : Put(Nan(m * n));
        nint xa = storeXa ? Put(Enumerable.Repeat((ushort)0xffff, m * r).ToArray()) : 0;
        LoraKernels.Forward(EmuRunner.Instance, q.Shape, new(Put(q.X), Put(q.A), Put(q.B), y, xa), Scale, options);
        return (storeXa ? Get<ushort>(xa, m * r) : [], Get<float>(y, m * n));
    }

    private sealed record Gradients(ushort[] Dxa, float[] Dx, float[] DA, float[] DB);

    private Gradients RunBackward(Problem q, ushort[] xa, LoraOptions options)
    {
        var (m, n, k, r) = (q.Shape.M, q.Shape.N, q.Shape.K, q.Shape.Rank);
        nint dx = options.AccumulateOutput ? Put(q.Dx0) : Put(Nan(m * k));
        nint da = options.AccumulateWeightGradients ? Put(q.DA0) : Put(Nan(r * k));
        nint db = options.AccumulateWeightGradients ? Put(q.DB0) : Put(Nan(n * r));
        nint scratch = Put(Nan((int)(LoraKernels.BackwardScratchBytes(q.Shape, options) / sizeof(float))));
        LoraKernels.Backward(EmuRunner.Instance, q.Shape, new(Put(q.X), Put(q.A), Put(q.B), Put(q.Dy), Put(xa), dx, da, db, scratch), Scale, options);
        // The scratch starts with dxa (BackwardScratchBytes).
        return new(Get<ushort>(scratch, m * r), Get<float>(dx, m * k), Get<float>(da, r * k), Get<float>(db, n * r));
    }

    // ---- references ----

    private void CheckForward(Problem q, ushort[] xa, float[] y, bool accumulated)
    {
        var (m, n, k, r) = (q.Shape.M, q.Shape.N, q.Shape.K, q.Shape.Rank);
        var exact = Product(m, r, k, (i, l) => q.X[i * k + l], (l, j) => q.A[j * k + l], 1);
        double[]? y0 = accumulated ? Array.ConvertAll(q.Y0, v => (double)v) : null;
        Report($"forward r={r} {m}x{n}x{k}",
            ("xa", Within(Widen(xa), exact, Bf16Tolerance)),
            ("y|xa", Within(y, Product(m, n, r, (i, j) => xa[i * r + j], (j, c) => q.B[c * r + j], Scale, y0), FloatTolerance)),
            ("y", Within(y, Chain(m, n, r, exact, (j, c) => Numerics.Bf16ToFloat(q.B[c * r + j]), Scale, y0), Bf16Tolerance)));
    }

    private void CheckBackward(Problem q, ushort[] xa, Gradients g, bool dxAccumulated, bool gradsAccumulated)
    {
        var (m, n, k, r) = (q.Shape.M, q.Shape.N, q.Shape.K, q.Shape.Rank);
        var dxa = Product(m, r, n, (i, c) => q.Dy[i * n + c], (c, j) => q.B[c * r + j], Scale);
        double[]? dx0 = dxAccumulated ? Array.ConvertAll(q.Dx0, v => (double)v) : null;
        double[]? da0 = gradsAccumulated ? Array.ConvertAll(q.DA0, v => (double)v) : null;
        double[]? db0 = gradsAccumulated ? Array.ConvertAll(q.DB0, v => (double)v) : null;
        Report($"backward r={r} {m}x{n}x{k}",
            ("dxa", Within(Widen(g.Dxa), dxa, Bf16Tolerance)),
            ("dx|dxa", Within(g.Dx, Product(m, k, r, (i, j) => g.Dxa[i * r + j], (j, c) => q.A[j * k + c], 1, dx0), FloatTolerance)),
            ("dx", Within(g.Dx, Chain(m, k, r, dxa, (j, c) => Numerics.Bf16ToFloat(q.A[j * k + c]), 1, dx0), Bf16Tolerance)),
            ("dA|dxa", Within(g.DA, Product(r, k, m, (j, i) => g.Dxa[i * r + j], (i, c) => q.X[i * k + c], 1, da0), FloatTolerance)),
            ("dA", Within(g.DA, Chain(r, k, m, Transpose(dxa, m, r), (i, c) => Numerics.Bf16ToFloat(q.X[i * k + c]), 1, da0), Bf16Tolerance)),
            ("dB", Within(g.DB, Product(n, r, m, (c, i) => q.Dy[i * n + c], (i, j) => xa[i * r + j], Scale, db0), FloatTolerance)));
    }

    /// <summary>Values and the sums of the terms' magnitudes (the scale an error is measured against).</summary>
    private sealed record Reference(double[] Value, double[] Magnitude);

    // scale·left·right (+ start), left [rows × inner] and right [inner × cols] given element-wise as bf16 words.
    private static Reference Product(int rows, int cols, int inner, Func<int, int, ushort> left, Func<int, int, ushort> right, double scale, double[]? start = null)
        => Chain(rows, cols, inner, Product(rows, inner, left), (l, c) => Numerics.Bf16ToFloat(right(l, c)), scale, start);

    private static Reference Product(int rows, int cols, Func<int, int, ushort> words)
    {
        var value = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < cols; c++)
                value[i * cols + c] = Numerics.Bf16ToFloat(words(i, c));
        return new(value, Array.ConvertAll(value, Math.Abs));
    }

    // scale·left·right (+ start) where left is itself a reference: magnitudes multiply through.
    private static Reference Chain(int rows, int cols, int inner, Reference left, Func<int, int, double> right, double scale, double[]? start)
    {
        var value = new double[rows * cols];
        var magnitude = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < cols; c++)
            {
                double sum = 0, abs = 0;
                for (int l = 0; l < inner; l++)
                {
                    double w = right(l, c);
                    sum += left.Value[i * inner + l] * w;
                    abs += left.Magnitude[i * inner + l] * Math.Abs(w);
                }
                value[i * cols + c] = (start?[i * cols + c] ?? 0) + scale * sum;
                magnitude[i * cols + c] = Math.Abs(start?[i * cols + c] ?? 0) + Math.Abs(scale) * abs;
            }
        return new(value, magnitude);
    }

    private static Reference Transpose(Reference a, int rows, int cols)
    {
        var value = new double[rows * cols];
        var magnitude = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < cols; c++)
            {
                value[c * rows + i] = a.Value[i * cols + c];
                magnitude[c * rows + i] = a.Magnitude[i * cols + c];
            }
        return new(value, magnitude);
    }

    // The largest error as a fraction of the magnitude; fails if any exceeds the tolerance (a NaN always does).
    private static double Within(float[] actual, Reference expected, double tolerance)
    {
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected.Value[i]), magnitude = Math.Max(expected.Magnitude[i], 1e-30);
            Assert.True(error <= tolerance * magnitude, $"element {i}: {actual[i]} where {expected.Value[i]} ± {tolerance * magnitude} was expected");
            worst = Math.Max(worst, error / magnitude);
        }
        return worst;
    }

    private void Report(string what, params (string Name, double Error)[] errors)
        => output.WriteLine($"{what}: " + string.Join(", ", errors.Select(e => $"{e.Name} {e.Error:0.0e0}")));

    private static float[] Widen(ushort[] words) => Array.ConvertAll(words, Numerics.Bf16ToFloat);

    private static int[] Bits(float[] values) => Array.ConvertAll(values, BitConverter.SingleToInt32Bits);

    private static float[] Nan(int count) => Enumerable.Repeat(float.NaN, count).ToArray();

    // ---- native buffers (the emulation's "device" memory) ----

    private nint Put<T>(T[] data) where T : unmanaged
    {
        nint p = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(16, data.Length * sizeof(T)), 64);
        _blocks.Add(p);
        data.CopyTo(new Span<T>((void*)p, data.Length));
        return p;
    }

    private static T[] Get<T>(nint p, int count) where T : unmanaged => new ReadOnlySpan<T>((void*)p, count).ToArray();

    /// <summary>Random bf16 inputs in [-1, 1] and float32 starting contents of every output that can be added to.</summary>
    private sealed class Problem
    {
        public readonly LoraShape Shape;
        public readonly ushort[] X, A, B, Dy;
        public readonly float[] Y0, Dx0, DA0, DB0;

        public Problem(LoraShape shape, int seed)
        {
            var random = new Random(seed);
            ushort[] Words(int count) => Enumerable.Range(0, count).Select(_ => Numerics.FloatToBf16(Value())).ToArray();
            float[] Floats(int count) => Enumerable.Range(0, count).Select(_ => Value()).ToArray();
            float Value() => (float)(random.NextDouble() * 2 - 1);
            var (m, n, k, r) = (shape.M, shape.N, shape.K, shape.Rank);
            Shape = shape;
            X = Words(m * k);
            A = Words(r * k);
            B = Words(n * r);
            Dy = Words(m * n);
            Y0 = Floats(m * n);
            Dx0 = Floats(m * k);
            DA0 = Floats(r * k);
            DB0 = Floats(n * r);
        }
    }
}
