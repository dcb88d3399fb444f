using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Profiling;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The profiler: a valid, properly nested Chrome trace; FLOPs, self times and memory that add up; nothing
/// at all while it is off. Serial: the profiler and Storage's counters are process-wide.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ProfilerTests : IDisposable
{
    private readonly TempFolder _dir = new("rawlora-profile-");

    public void Dispose() => _dir.Dispose();

    private static void SomeWork()
    {
        using var scope = new DisposeScope();
        using (Profiler.Record("forward"))
        {
            var w = Tensor.Randn([24, 32], requiresGrad: true);
            var x = Tensor.Randn([4, 6, 32]);
            var loss = (x.Linear(w).Silu() * 2f).Sum();
            using (Profiler.Record("backward"))
                loss.Backward();
            w.Grad!.Dispose();
        }
    }

    [Fact]
    public void TheTraceIsChromeJsonWithOneNestedCompleteEventPerRecord()
    {
        ProfileSession session;
        using (session = Profiler.Start())
            SomeWork();
        string path = _dir.File("trace.json");
        string table = session.Save(path);

        var trace = new TraceFile(path);
        trace.AssertMatches(session);
        Assert.Contains(trace.Events, e => e.Name == "linear" && e.Category == "op" && e.Args.GetProperty("shapes").GetString() == "[4, 6, 32], [24, 32]"
                                            && e.Args.GetProperty("dtype").GetString() == "float32" && e.Args.GetProperty("device").GetString() == "cpu");
        var gemm = trace.Events.First(e => e.Name == "cpu::gemm");
        Assert.Equal("kernel", gemm.Category);
        Assert.True(gemm.Args.GetProperty("flops").GetDouble() > 0);
        Assert.Contains(trace.Events, e => e.Name == "linear.backward" && e.Category == "backward" && e.Args.GetProperty("phase").GetString() == "backward");
        Assert.Contains(trace.Events, e => e.Name == "[alloc]" && e.Args.GetProperty("bytes").GetInt64() > 0);
        Assert.Equal(_dir.File("trace.txt"), table);
        Assert.StartsWith("Profile of the whole recording", File.ReadAllText(table));
    }

    [Fact]
    public void ALinearCostsTwoMnkFlops()
    {
        using var session = Profiler.Start();
        using (new DisposeScope())
            Tensor.Randn([5, 7, 32]).Linear(Tensor.Randn([24, 32]));
        session.Stop();
        double expected = 2.0 * (5 * 7) * 24 * 32;
        var gemm = Assert.Single(session.Events, e => e.Name == "cpu::gemm");
        Assert.Equal(expected, gemm.Flops);
        Assert.Equal(expected, session.Summary().Row("linear")!.Flops);
        Assert.Equal(expected, session.Summary(byShape: true).Row("cpu::gemm [35, 24], [35, 32], [32, 24]")!.Flops);
        Assert.Equal(ProfileKind.Op, session.Events[gemm.Parent].Kind);
    }

    [Fact]
    public void SelfTimesWithTheOutsideRowsSumToTheRecordedWallTime()
    {
        ProfileSession session;
        using (session = Profiler.Start())
        {
            SomeWork();
            SomeWork();
        }
        var summary = session.Summary();
        Assert.Equal(session.WallNs, summary.WallNs);
        Assert.InRange(summary.SelfTotalNs, 0.95 * summary.WallNs, 1.05 * summary.WallNs);
        Assert.Contains(summary.Rows, r => r.Name == "[outside ops] in forward" && r.IsOutsideOps && r.Calls == 2);
        Assert.Contains(summary.Rows, r => r.Name == "[outside ops] autograd engine");
        Assert.Contains(summary.Rows, r => r.Name == "[outside ops] allocation" && r.BytesAllocated > 0);
        var linear = summary.Row("linear")!;
        Assert.Equal(2, linear.Calls);
        Assert.True(linear.TotalNs >= linear.SelfNs);
        Assert.Equal(summary.Rows.OrderByDescending(r => r.TotalNs).Select(r => r.TotalNs), summary.Rows.Select(r => r.TotalNs));

        // Restricted to the "backward" scopes, the rows share out exactly those scopes' time.
        var backward = session.Summary("backward");
        Assert.Equal(2, backward.Scopes);
        Assert.Equal(session.Events.Where(e => e.Name == "backward").Sum(e => e.DurationNs), backward.WallNs);
        Assert.InRange(backward.SelfTotalNs, 0.95 * backward.WallNs, 1.05 * backward.WallNs);
        Assert.Null(backward.Row("linear"));
        Assert.NotNull(backward.Row("linear.backward"));
    }

    [Fact]
    public void MemoryCountersAndTheTensorsAtThePeakMatchStorage()
    {
        using var kept = Tensor.Zeros([256, 256]);
        Storage.ResetPeak();
        ProfileSession session;
        using (session = Profiler.Start())
        {
            using var scope = new DisposeScope();
            var a = Tensor.Ones([512, 256]);
            var b = a * 2f;
            a.Dispose();
            var c = b + b.Scale(0.5f);
        }
        long peak = Storage.PeakBytes;
        var memory = Assert.Single(session.Summary().Memory);
        Assert.Equal(Device.Cpu, memory.Device);
        Assert.Equal(peak, memory.PeakBytes);
        Assert.Equal(peak, session.MemorySamples.Max(s => s.LiveBytes));
        Assert.Equal(memory.PeakBytes, memory.BeforeRecordingBytes + memory.Largest.Sum(t => t.Bytes));
        Assert.True(memory.BeforeRecordingBytes >= 256 * 256 * 4);
        // At the peak: b = a·2 and b·0.5 (scale ops) and their sum (add); a was freed before.
        Assert.Equal(3, memory.AliveCount);
        Assert.All(memory.Largest, t => Assert.Equal("[512, 256]", t.Shape));
        Assert.Equal(["add", "scale", "scale"], memory.Largest.Select(t => t.MadeBy).Order());

        session.Save(_dir.File("memory.json"));
        var trace = new TraceFile(_dir.File("memory.json"));
        Assert.Equal(session.MemorySamples.Count, trace.Counters.Count);
        Assert.Equal(peak, trace.Counters.Max(c => c.Peak));
        Assert.Equal(peak, trace.Counters.Max(c => c.Live));
    }

    [Fact]
    public void NothingIsRecordedWhileOff()
    {
        Assert.False(Profiler.IsRecording);
        Assert.Same(CpuBackend.Instance, Device.Cpu.Backend);
        Assert.Equal(default, Profiler.Record("nothing"));
        Assert.Null(Profiler.Backward());

        var session = Profiler.Start();
        Assert.NotSame(CpuBackend.Instance, Device.Cpu.Backend);
        SomeWork();
        session.Stop();
        int events = session.Events.Count, samples = session.MemorySamples.Count;
        Assert.True(events > 0 && samples > 0);

        SomeWork();
        using (Profiler.Record("after"))
            SomeWork();
        Assert.Equal(events, session.Events.Count);
        Assert.Equal(samples, session.MemorySamples.Count);
        Assert.Same(CpuBackend.Instance, Device.Cpu.Backend);
    }

    [Fact]
    public void ASessionStopsByItselfWhenFull()
    {
        using var session = Profiler.Start(maxEvents: 10);
        SomeWork();
        Assert.False(session.IsRecording);
        Assert.False(Profiler.IsRecording);
        Assert.True(session.StoppedFull);
        Assert.Equal(10, session.Events.Count);
        var summary = session.Summary();
        Assert.Equal(session.WallNs, summary.StoppedFullAtNs);
        Assert.Contains("recording stopped by itself", summary.Format());
        Assert.InRange(summary.SelfTotalNs, 0.95 * summary.WallNs, 1.05 * summary.WallNs);
    }

    [Fact]
    public void OneSessionAtATime()
    {
        using var session = Profiler.Start();
        Assert.Throws<InvalidOperationException>(() => Profiler.Start());
        session.Stop();
        using var next = Profiler.Start();
        Assert.True(next.IsRecording);
    }
}
