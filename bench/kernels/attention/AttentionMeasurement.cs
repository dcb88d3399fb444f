using System.Diagnostics;
using System.Text.Json.Nodes;
using RawLongLoRA.Kernels.Cpu;

namespace RawLongLoRA.Bench.Kernels;

internal sealed record AttentionShape(int T, int Hq, int Hkv, int D);

/// <summary>A mask the bench times, the share of full causal attention's FLOPs it is credited, and the precision it computes at.</summary>
internal sealed record AttentionCase(string Name, AttentionSpec Spec, double FlopShare, Precision Precision = Precision.F32)
{
    /// <summary>The mask's name, with the precision after it at bf16.</summary>
    public string Label => Precision == Precision.Bf16 ? $"{Name} bf16" : Name;

    /// <summary>Full causal attention.</summary>
    public static AttentionCase Causal(Precision precision) => new("causal", AttentionSpec.Causal, 1, precision);

    /// <summary>
    /// S2-Attn with groups of T/4, credited causal / 4: the work its groups leave (the shifted half-groups at either
    /// end do a little less).
    /// </summary>
    public static AttentionCase S2(int t, Precision precision) => new("S2-Attn", new AttentionSpec { GroupSize = t / 4 }, 0.25, precision);

    /// <summary>Whether S2-Attn with G = T/4 applies: G even (the shift is G/2) and an even head count (half the heads shift).</summary>
    public static bool S2Fits(int t, int hq) => t % 4 == 0 && t / 4 % 2 == 0 && hq % 2 == 0;

    /// <summary>
    /// Forward FLOPs in FlashAttention's convention (B = 1): 4·T²·D·Hq for the two products of full attention,
    /// halved for causal, times <see cref="FlopShare"/>.
    /// </summary>
    public double ForwardFlops(AttentionShape s) => 2.0 * s.T * s.T * s.D * s.Hq * FlopShare;

    /// <summary>Forward and backward: the backward's five products count 2.5 × the forward's two.</summary>
    public double ForwardBackwardFlops(AttentionShape s) => 3.5 * ForwardFlops(s);
}

/// <summary>Best seconds of ours and the peer's (null where it did not run), and peak extra bytes of one forward+backward.</summary>
internal sealed record AttentionResult(double Forward, double ForwardBackward, double? PeerForward, double? PeerForwardBackward, long KernelBytes, long? ResidentBytes, long? PeerBytes);

/// <summary>
/// One mask at one T: peak memory over one forward+backward of ours and of the peer's, then their times
/// in rounds that the caller interleaves with the other masks' — ours and the peer's alternate within a
/// round, full causal and S2-Attn alternate across them, so a burst of other work on the machine slows
/// every side alike and the best round of each stands (see GemmBench). A call that takes seconds gets
/// fewer runs: the validation and the memory run before it ran the same code, so it needs no warm-up,
/// and the memory run counts as one of its samples.
/// </summary>
internal sealed class AttentionMeasurement
{
    /// <summary>A forward+backward this long (seconds) is timed once per round, from the memory run on.</summary>
    public const double Long = 2.0;

    /// <summary>... and this long, only by the memory run.</summary>
    private const double VeryLong = 15.0;

    private readonly AttentionProblem _p;
    private readonly AttentionShape _shape;
    private readonly AttentionCase _mask;
    private readonly Peer? _peer;
    private readonly double _first, _peerFirst;
    private readonly Timing.Plan _plan, _peerPlan;
    private readonly long _kernelBytes;
    private readonly long? _residentBytes, _peerBytes;
    private double _forward = double.MaxValue, _forwardBackward = double.MaxValue;
    private double? _peerForward, _peerForwardBackward;

    /// <summary>Measures memory now; peer is null where the peer does not run at this size.</summary>
    public AttentionMeasurement(AttentionProblem p, AttentionShape shape, AttentionCase mask, bool quick, Peer? peer)
    {
        (_p, _shape, _mask, _peer) = (p, shape, mask, peer);
        AttentionMemory.ResetPeak();
        double first = 0;
        _residentBytes = PeakResidentMemory.Growth(() => first = Seconds(() => p.ForwardBackward(mask.Spec, mask.Precision)));
        _first = first;
        _kernelBytes = AttentionMemory.PeakBytes + p.LseBytes;
        if (peer is not null)
        {
            var request = Request("forward_backward", null);
            request["memory"] = true;
            var answer = peer.Ask(request);
            (_peerBytes, _peerFirst) = (answer["peak_extra_bytes"]!.GetValue<long>(), answer["seconds"]!.GetValue<double>());
        }
        _plan = PlanFor(_first, quick);
        _peerPlan = PlanFor(_peerFirst, quick);
        if (_first >= Long)
            _forwardBackward = _first;
        if (_peerFirst >= Long)
            _peerForwardBackward = _peerFirst;
    }

    /// <summary>How a forward+backward of this many seconds was timed, for the report's notes.</summary>
    public static string HowTimed(double seconds) =>
        seconds >= VeryLong ? "timed once" : seconds >= Long ? "best of single runs in alternating rounds" : "best of alternating rounds' medians";

    public int Rounds => Math.Max(_plan.Rounds, _peer is null ? 0 : _peerPlan.Rounds);

    public AttentionResult Result => new(_forward, _forwardBackward, _peerForward, _peerForwardBackward, _kernelBytes, _residentBytes, _peerBytes);

    public void Round(int round)
    {
        bool peer = _peer is not null && round < _peerPlan.Rounds, ours = round < _plan.Rounds;
        if (peer)
            _peerForward = Math.Min(_peerForward ?? double.MaxValue, AskSeconds(Request("forward", _peerPlan)));
        if (ours)
            _forward = Math.Min(_forward, Time(() => _p.Forward(_mask.Spec, _mask.Precision), _plan));
        if (peer && _peerFirst < VeryLong)
            _peerForwardBackward = Math.Min(_peerForwardBackward ?? double.MaxValue, AskSeconds(Request("forward_backward", _peerPlan)));
        if (ours && _first < VeryLong)
            _forwardBackward = Math.Min(_forwardBackward, Time(() => _p.ForwardBackward(_mask.Spec, _mask.Precision), _plan));
    }

    private static Timing.Plan PlanFor(double first, bool quick) =>
        first >= Long ? new Timing.Plan(quick || first >= VeryLong ? 1 : 2, 0, 1, 1)
        : first >= 0.1 ? new Timing.Plan(2, 0, quick ? 2 : 3, quick ? 2 : 3)
        : quick ? new Timing.Plan(2, 0.2) : new Timing.Plan(3, 0.5);

    /// <summary>The median of a plan's runs after a warm-up; a single run where the plan allows only one.</summary>
    private static double Time(Action run, Timing.Plan plan) => plan.MaxRuns > 1 ? Timing.Median(run, plan).Seconds : Seconds(run);

    private static double Seconds(Action run)
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private double AskSeconds(JsonObject request) => _peer!.Ask(request)["seconds"]!.GetValue<double>();

    private JsonObject Request(string pass, Timing.Plan? plan)
    {
        var request = new JsonObject
        {
            ["t"] = _shape.T, ["heads"] = _shape.Hq, ["kv_heads"] = _shape.Hkv, ["head_dim"] = _shape.D,
            ["kind"] = _mask.Spec.GroupSize > 0 ? "s2" : "causal", ["group"] = _mask.Spec.GroupSize > 0 ? _mask.Spec.GroupSize : _shape.T,
            ["pass"] = pass,
        };
        if (plan is not null)
        {
            request["min_time"] = plan.MinSeconds;
            request["min_runs"] = plan.MinRuns;
            request["max_runs"] = plan.MaxRuns;
            request["warmup"] = plan.MaxRuns > 1;
        }
        return request;
    }
}
