using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// `bench gemm`: float32 C = A @ B on square and LLM-shaped problems, in GFLOP/s, against PyTorch
/// (torch.mm, i.e. its BLAS) on the same shapes in the same run, and against the machine's peak.
/// Reference: GemmReference (one element at a time, summed in double); every variant is checked
/// against it on each shape (in full up to 2^27 multiply-adds, else on 4096 sampled elements) before
/// it is timed. Variants (<see cref="Variants"/>) are micro-kernel families of the same packed, cache-blocked,
/// threaded driver (Gemm.ForceIsa); "auto" is the one Gemm picks on this CPU. The scalar fallback is checked
/// by the tests, not timed.
/// </summary>
public static unsafe class GemmBench
{
    /// <summary>
    /// V1 avx512 and V2 avx2, the families a GEMM may be forced to; V3 avx512-bf16, the bf16 precision's
    /// kernel (operands rounded to bfloat16, checked against the reference at that precision).
    /// </summary>
    public static readonly KernelVariants<GemmIsa> Variants = new(
        new("avx512", "14 × 32 micro-kernel on Vector512 (28 zmm accumulators)", GemmIsa.Avx512),
        new("avx2", "6 × 16 micro-kernel on Vector256 + FMA (12 ymm accumulators)", GemmIsa.Avx2),
        new("avx512-bf16", "bf16 precision: 14 × 32 vdpbf16ps micro-kernel on bf16 pair panels, float32 sums", GemmIsa.Avx512Bf16));

    public static readonly Verb Verb = new(
        "gemm",
        "float32 (and bf16-precision) GEMM GFLOP/s on square and LLM shapes, vs PyTorch and the machine's peak",
        [
            ("--variant NAME", "auto (default: the one this CPU runs), a variant's name, or all"),
            ("--quick", "a few shapes, shorter timing"),
            ("--only TEXT", "only the shapes whose name contains TEXT"),
            ("--no-peer", "do not run the PyTorch peer"),
            ("--cpu-time", "time by this process's CPU time (GFLOP per CPU-second, no peer): compares work on a machine other processes load; best with RAWLORA_THREADS=1"),
            ("--cold", "also time each variant on cold operands, as a training step sees them: A and B, then C, then all three rotated through copies larger than the caches"),
        ],
        Run);

    private sealed record Shape(string Name, int M, int N, int K, bool TransB, bool Quick, bool TransA = false)
    {
        public double Flops => 2.0 * M * N * K;

        /// <summary>float32 bytes of A, B and C, each moved once: what bounds the skinny (rank-r) shapes.</summary>
        public double Bytes => 4.0 * ((double)M * K + (double)K * N + (double)M * N);
    }

    // cpu-small (shared/peers/configs/cpu-small.json): hidden 512, intermediate 1376, at T = 2048 tokens.
    // Weights are stored [out, in], so a forward x @ Wᵀ multiplies by a transposed B.
    private static readonly Shape[] Shapes =
    [
        new("square 512", 512, 512, 512, false, true),
        new("square 1024", 1024, 1024, 1024, false, false),
        new("square 2048", 2048, 2048, 2048, false, true),
        new("square 4096", 4096, 4096, 4096, false, false),
        new("q_proj x@Wt [2048x512]@[512x512]t", 2048, 512, 512, true, true),
        new("up_proj x@Wt [2048x512]@[1376x512]t", 2048, 1376, 512, true, false),
        new("down_proj x@Wt [2048x1376]@[512x1376]t", 2048, 512, 1376, true, false),
        new("up_proj dX=dY@W [2048x1376]@[1376x512]", 2048, 512, 1376, false, true),
        // LoRA r = 8 on the 512-wide q/o projections, forward and backward (u = dY·B, dX += u·A, dA = uᵀ·x, dB = dYᵀ·t).
        new("lora_A x@At [2048x512]@[8x512]t", 2048, 8, 512, true, true),
        new("lora_B h@Bt [2048x8]@[512x8]t", 2048, 512, 8, true, false),
        new("lora_B u=dY@B [2048x512]@[512x8]", 2048, 8, 512, false, false),
        new("lora_A dX+=u@A [2048x8]@[8x512]", 2048, 512, 8, false, false),
        new("lora_A dA=ut@x [2048x8]t@[2048x512]", 8, 512, 2048, false, false, TransA: true),
        new("lora_B dB=dYt@t [2048x512]t@[2048x8]", 512, 8, 2048, false, false, TransA: true),
        new("7B mlp x@Wt [512x4096]@[11008x4096]t", 512, 11008, 4096, true, false),
    ];

    private static int Run(Options options, Report report)
    {
        string variant = options.Value("--variant") ?? "auto";
        var chosen = variant == "auto" ? Variants.All.Where(v => v.Kernel == Gemm.Isa).ToArray() : Variants.Select(variant);
        if (chosen is null)
        {
            Console.Error.WriteLine($"bench gemm: unknown variant '{variant}' (auto, {Variants.Names})");
            return 2;
        }
        chosen = chosen.Where(v => Gemm.IsSupported(v.Kernel)).ToArray();
        if (chosen.Length == 0)
        {
            Console.Error.WriteLine($"bench gemm: this CPU cannot run variant '{variant}'");
            return 2;
        }
        bool quick = options.Flag("--quick");
        var plan = quick ? new Timing.Plan(Rounds: 2, MinSeconds: 0.15) : new Timing.Plan(Rounds: 3, MinSeconds: 0.4);
        // The peak is measured before and after the timings and the higher figure kept: a burst of
        // other work on the machine during one measurement must not inflate every "of peak".
        double peak = report.Machine.MeasurePeakFlops();
        Func<double>? clock = options.Flag("--cpu-time") ? ProcessCpuTime.Seconds : null;
        string reason = clock is null ? "--no-peer" : "--cpu-time";
        using var peer = options.Flag("--no-peer") || clock is not null ? null : Peer.Start("gemm_peer.py", CpuThreads.Count, out reason);
        report.Note(peer is null ? $"peer: skipped ({reason})" : $"peer: {peer.Name}, torch.mm(a, b, out=c) with B a transposed view where marked t");
        foreach (string line in Variants.Header())
            report.Note($"variant {line}");

        bool cold = options.Flag("--cold");
        var forced = Gemm.ForceIsa;
        int rc = 0;
        var records = new List<Record>();
        try
        {
            string only = options.Value("--only") ?? "";
            foreach (var shape in Shapes.Where(s => (!quick || s.Quick) && s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
                rc |= Measure(shape, chosen, peer, plan, records, cold, clock);
        }
        finally
        {
            Gemm.ForceIsa = forced;
        }
        peak = Math.Max(peak, report.Machine.MeasurePeakFlops());
        report.Note(report.Machine.PeakNote(peak));
        foreach (var r in records)
            report.Add(r.Unit == "GFLOP/s" && r.Value > 0 ? r with { FractionOfPeak = r.Value * 1e9 / peak } : r);
        return rc;
    }

    /// <summary>
    /// Validates each variant on one shape, then times the peer and the variants in alternating rounds
    /// and keeps each one's best round: a round slowed by another process on the machine then costs
    /// nobody, and both sides see the same conditions. With cold, each variant is also timed with its
    /// inputs, its output, then all three taken from the next of several copies (<see cref="Operands"/>),
    /// in the same rounds. clock, where given, times each run instead of the wall clock. Returns 1 if a variant failed validation.
    /// </summary>
    private static int Measure(Shape s, KernelVariant<GemmIsa>[] variants, Peer? peer, Timing.Plan plan, List<Record> report, bool cold, Func<double>? clock)
    {
        using var operands = new Operands(s, cold);
        var (opA, opB, opC) = operands.Set(0, 0);
        var precision = Precision.F32;
        var temperature = Temperature.Hot;
        int call = 0;
        void Multiply()
        {
            call++;
            var (a, b, c) = operands.Set(temperature is Temperature.ColdInputs or Temperature.Cold ? call : 0, temperature is Temperature.ColdOutput or Temperature.Cold ? call : 0);
            Gemm.Run(1, s.M, s.N, s.K, 1f, a, b, 0f, c, precision);
        }

        var errors = new Dictionary<KernelVariant<GemmIsa>, double>();
        foreach (var v in variants)
        {
            (Gemm.ForceIsa, precision) = (v.Kernel, PrecisionOf(v));
            Multiply();
            double error = GemmReference.MaxError(1, s.M, s.N, s.K, 1f, opA, opB, 0f, opC, opC, (long)s.M * s.N * s.K <= 1L << 27 ? long.MaxValue : 4096, precision);
            if (error <= GemmReference.Tolerance(s.K))
                errors[v] = error;
            else
                report.Add(new Record(s.Name, v.Name, 0, "GFLOP/s") { Note = $"FAILED validation: normalised error {error:E2} > {GemmReference.Tolerance(s.K):E2}" });
        }

        var request = new JsonObject
        {
            ["m"] = s.M, ["n"] = s.N, ["k"] = s.K, ["trans_a"] = s.TransA, ["trans_b"] = s.TransB,
            ["min_time"] = plan.MinSeconds, ["min_runs"] = plan.MinRuns, ["max_runs"] = plan.MaxRuns,
        };
        double? peerSeconds = null;
        Temperature[] temperatures = cold ? Enum.GetValues<Temperature>() : [Temperature.Hot];
        var timed = errors.Keys.SelectMany(v => temperatures.Select(t => (Variant: v, Temperature: t))).ToArray();
        var best = timed.ToDictionary(x => x, _ => (Seconds: double.MaxValue, Runs: 0));
        for (int round = 0; round < plan.Rounds; round++)
        {
            if (peer is not null)
                peerSeconds = Math.Min(peerSeconds ?? double.MaxValue, peer.Ask(request)["seconds"]!.GetValue<double>());
            foreach (var x in timed)
            {
                (Gemm.ForceIsa, precision, temperature) = (x.Variant.Kernel, PrecisionOf(x.Variant), x.Temperature);
                var t = Timing.Median(Multiply, plan, clock);
                if (t.Seconds < best[x].Seconds)
                    best[x] = t;
            }
        }
        foreach (var ((v, temp), (seconds, runs)) in best)
        {
            double gflops = s.Flops / seconds / 1e9;
            report.Add(new Record(s.Name, temp == Temperature.Hot ? v.Name : $"{v.Name} {Label(temp)}", gflops, clock is null ? "GFLOP/s" : "GFLOP/CPU-s")
            {
                Peer = peer is null ? null : "torch",
                PeerValue = s.Flops / peerSeconds / 1e9,
                Note = $"{s.Bytes / seconds / 1e9:F1} {(clock is null ? "GB/s" : "GB/CPU-s")}, err {errors[v]:E1}, best of {plan.Rounds} medians of {runs}",
            });
        }
        return errors.Count == variants.Length ? 0 : 1;
    }

    /// <summary>Which operands a timed call takes from a copy not touched since the last rotation.</summary>
    private enum Temperature { Hot, ColdInputs, ColdOutput, Cold }

    private static string Label(Temperature t) => t switch
    {
        Temperature.ColdInputs => "cold A,B",
        Temperature.ColdOutput => "cold C",
        _ => "cold A,B,C",
    };

    private static Precision PrecisionOf(KernelVariant<GemmIsa> v) => v.Kernel == GemmIsa.Avx512Bf16 ? Precision.Bf16 : Precision.F32;

    /// <summary>
    /// A, B and C of a shape, and for cold timings more copies of all three: enough that 128 MiB lie between
    /// two uses of one copy, more than this machine's caches hold, so a call finds its copy in memory, as a
    /// training step finds its activations, weights and recycled output blocks.
    /// </summary>
    private sealed class Operands : IDisposable
    {
        private const long ColdBytes = 128L << 20;
        private readonly Shape _s;
        private readonly List<Matrix> _a = [], _b = [], _c = [];

        public Operands(Shape s, bool cold)
        {
            _s = s;
            long bytes = ((long)s.M * s.K + (long)s.K * s.N + (long)s.M * s.N) * sizeof(float);
            int copies = cold ? (int)Math.Max(2, (ColdBytes + bytes - 1) / bytes) : 1;
            for (int i = 0; i < copies; i++)
            {
                _a.Add(new Matrix((long)s.M * s.K, seed: 1));
                _b.Add(new Matrix((long)s.K * s.N, seed: 2));
                _c.Add(new Matrix((long)s.M * s.N, seed: 3));
            }
        }

        /// <summary>The operands of copy <paramref name="inputs"/> (A and B) and copy <paramref name="output"/> (C), modulo the copies.</summary>
        public (GemmOperand A, GemmOperand B, GemmOperand C) Set(int inputs, int output)
        {
            float* a = _a[inputs % _a.Count].Ptr, b = _b[inputs % _b.Count].Ptr, c = _c[output % _c.Count].Ptr;
            return (_s.TransA ? new GemmOperand(a, DType.F32, 1, _s.M, 0) : new GemmOperand(a, DType.F32, _s.K, 1, 0),
                    _s.TransB ? new GemmOperand(b, DType.F32, 1, _s.K, 0) : new GemmOperand(b, DType.F32, _s.N, 1, 0),
                    new GemmOperand(c, DType.F32, _s.N, 1, 0));
        }

        public void Dispose()
        {
            foreach (var m in _a.Concat(_b).Concat(_c))
                m.Dispose();
        }
    }

    /// <summary>Native float32 values in [-1, 1): the big shapes need hundreds of MB, no GC churn.</summary>
    private sealed class Matrix : IDisposable
    {
        public Matrix(long count, int seed)
        {
            Ptr = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
            var rng = new Random(seed);
            for (long i = 0; i < count; i++)
                Ptr[i] = rng.NextSingle() * 2 - 1;
        }

        public float* Ptr { get; }

        public void Dispose() => NativeMemory.AlignedFree(Ptr);
    }
}
