using System.Text.Json;
using RawLongLoRA.Profiling;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A Chrome trace written by the profiler, parsed back with the checks every trace must pass.</summary>
internal sealed class TraceFile
{
    public sealed record Complete(string Name, string Category, decimal Ts, decimal Dur, int Pid, int Tid, JsonElement Args)
    {
        public decimal End => Ts + Dur;

        public bool Contains(Complete other) => other.Ts >= Ts && other.End <= End;
    }

    public List<Complete> Events { get; } = [];

    /// <summary>(ts, live bytes, peak bytes) of each memory counter event.</summary>
    public List<(decimal Ts, long Live, long Peak)> Counters { get; } = [];

    public TraceFile(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (var e in doc.RootElement.GetProperty("traceEvents").EnumerateArray())
        {
            string ph = e.GetProperty("ph").GetString()!;
            if (ph == "X")
                Events.Add(new Complete(e.GetProperty("name").GetString()!, e.GetProperty("cat").GetString()!, e.GetProperty("ts").GetDecimal(),
                    e.GetProperty("dur").GetDecimal(), e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32(), e.GetProperty("args").Clone()));
            else if (ph == "C")
                Counters.Add((e.GetProperty("ts").GetDecimal(), e.GetProperty("args").GetProperty("live_bytes").GetInt64(), e.GetProperty("args").GetProperty("peak_bytes").GetInt64()));
            else
                Assert.Equal("M", ph);
        }
    }

    /// <summary>
    /// One complete event per session event, in the same order, each inside its parent's [ts, ts + dur],
    /// and on each track no two events that overlap without one containing the other.
    /// </summary>
    public void AssertMatches(ProfileSession session)
    {
        var recorded = session.Events;
        Assert.Equal(recorded.Count, Events.Count);
        for (int i = 0; i < recorded.Count; i++)
        {
            Assert.Equal(recorded[i].Name, Events[i].Name);
            Assert.True(Events[i].Dur >= 0, $"{Events[i].Name} has a negative duration");
            if (recorded[i].Parent >= 0)
                Assert.True(Events[recorded[i].Parent].Contains(Events[i]), $"{Events[i].Name} is not inside its parent {Events[recorded[i].Parent].Name}");
        }
        foreach (var track in Events.GroupBy(e => (e.Pid, e.Tid)))
        {
            var open = new Stack<Complete>();
            foreach (var e in track.OrderBy(e => e.Ts).ThenByDescending(e => e.Dur))
            {
                while (open.Count > 0 && open.Peek().End <= e.Ts && !open.Peek().Contains(e))
                    open.Pop();
                Assert.True(open.Count == 0 || open.Peek().Contains(e), $"{e.Name} overlaps {(open.Count > 0 ? open.Peek().Name : "")} without nesting");
                open.Push(e);
            }
        }
    }
}
