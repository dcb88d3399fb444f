using System.Diagnostics;
using RawLongLoRA.Kernels.Cpu;
using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.Bench.GpuCheck;

/// <summary>
/// One row of gpu-check's tables: what was checked, how it came out ("ok", "FAILED", "not implemented", "error"),
/// the max relative error against the CPU and the tolerance, the device's median time where it was timed, and why.
/// </summary>
internal sealed record CheckRow(string Check, string Variant, string Status, double? MaxRelativeError, double Tolerance, double? DeviceMicroseconds = null, string? Detail = null)
{
    public const string Ok = "ok", Failed = "FAILED", NotImplemented = "not implemented", Error = "error", Skipped = "skipped";

    /// <summary>A row for what threw: a primitive without a kernel yet (NotSupportedException), or an error.</summary>
    public static CheckRow Threw(string check, string variant, double tolerance, Exception e) =>
        new(check, variant, e is NotSupportedException ? NotImplemented : Error, null, tolerance, null, OneLine(e.Message));

    /// <summary>A row whose status follows from its error and tolerance.</summary>
    public static CheckRow Compared(string check, string variant, double error, double tolerance, double? micros = null, string? detail = null) =>
        new(check, variant, error <= tolerance ? Ok : Failed, error, tolerance, micros, detail);

    public static string OneLine(string text) => text.ReplaceLineEndings(" ");
}

/// <summary>Runs a <see cref="PrimitiveCase"/> on the CPU backend and on the device's, compares, and times the device.</summary>
internal static class PrimitiveCheck
{
    private const int Seed = 1337, TimedRuns = 5;

    public static CheckRow Run(PrimitiveCase c, IBackend device, bool time)
    {
        using var scope = new DisposeScope();
        var reference = c.Make(CpuBackend.Instance, new CaseTensors(Device.Cpu, Seed));
        reference.Run();
        var want = reference.Outputs.Select(o => o.ToFloatArray()).ToArray();
        if (want.Any(w => w.All(float.IsNaN)))
            return new(c.Primitive, c.Variant, CheckRow.Error, null, c.Tolerance, null, "the cpu left an output all NaN: the case checks nothing");

        PrimitiveCall call;
        float[][] got;
        try
        {
            call = c.Make(device, new CaseTensors(device.Device, Seed));
            call.Run();
            got = call.Outputs.Select(o => o.ToFloatArray()).ToArray();
        }
        catch (Exception e)
        {
            return CheckRow.Threw(c.Primitive, c.Variant, c.Tolerance, e);
        }
        double error = want.Zip(got, (w, g) => MaxRelativeError.Of(g, w)).Max();
        return CheckRow.Compared(c.Primitive, c.Variant, error, c.Tolerance, time ? MedianMicroseconds(call.Run, device) : null);
    }

    /// <summary>The median of a few runs of <paramref name="run"/>, each waited for (its outputs are scratch by now).</summary>
    private static double MedianMicroseconds(Action run, IBackend device)
    {
        var times = new double[TimedRuns];
        for (int i = 0; i < TimedRuns; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            device.Synchronize();
            times[i] = clock.Elapsed.TotalMicroseconds;
        }
        Array.Sort(times);
        return times[TimedRuns / 2];
    }
}
