using System.Buffers.Binary;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The report plots render real PNGs here: no GPU, no X server, SkiaSharp's own native library.</summary>
public class PlotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-plots-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The PNG signature, an IHDR of a plausible size, and more than a blank image's bytes.</summary>
    public static (int Width, int Height) AssertPng(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1024, $"{path}: {bytes.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        Assert.Equal("IHDR"u8.ToArray(), bytes[12..16]);
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static StepLog Step(int step, double loss, float lr, bool skipped = false) =>
        new(step, 20, loss, lr, 1.5, 4096, 0.5, skipped, 1 << 20, 200 << 20, 300 << 20);

    [Fact]
    public void LossAndLrDrawsBothCurvesWithSkippedSteps()
    {
        var steps = Enumerable.Range(1, 20).Select(i => i == 7 ? Step(i, double.NaN, 1e-3f, skipped: true) : Step(i, 3.0 / i, Math.Min(i, 5) * 2e-4f)).ToList();
        string path = Path.Combine(_dir, "loss.png");
        TrainingPlots.LossAndLr(path, steps);
        Assert.Equal((900, 500), AssertPng(path));
        Assert.Throws<ArgumentException>(() => TrainingPlots.LossAndLr(path, []));
    }

    [Fact]
    public void HeatmapDrawsLengthsAcrossAndDepthsDown()
    {
        int[] lengths = [256, 512, 1024];
        double[] depths = [0, 0.25, 0.5, 0.75, 1];
        var accuracy = new double[lengths.Length, depths.Length];
        for (int l = 0; l < lengths.Length; l++)
            for (int d = 0; d < depths.Length; d++)
                accuracy[l, d] = 1.0 - l * 0.4 - d * 0.05;
        accuracy[2, 4] = double.NaN;
        string path = Path.Combine(_dir, "passkey.png");
        PasskeyPlots.Heatmap(path, lengths, depths, accuracy, "passkey retrieval");
        AssertPng(path);
        Assert.Contains("expected [lengths 3, depths 5]",
            Assert.Throws<ArgumentException>(() => PasskeyPlots.Heatmap(path, lengths, depths, new double[5, 3], "t")).Message);
    }

    [Fact]
    public void BarsDrawOneLabelledBarAValue()
    {
        string path = Path.Combine(_dir, "bars.png");
        ComparisonPlots.Bars(path, ["none", "YaRN", "LoRA + S2", "LoRA + full"], [0.15, 0.15, 0.0, 0.75], "passkey accuracy", "at 1024 tokens");
        AssertPng(path);
        Assert.Throws<ArgumentException>(() => ComparisonPlots.Bars(path, ["a"], [1, 2], "y", "t"));
    }

    [Fact]
    public void MetricsLogReadsBackWhatItWroteAndTheLaterOfARepeatedStep()
    {
        string path = Path.Combine(_dir, MetricsLog.FileName);
        using (var log = new MetricsLog(path))
        {
            log.Write(Step(1, 2.0, 1e-4f));
            log.Write(Step(2, double.NaN, 1e-4f, skipped: true));
            log.Write(Step(3, 1.5, 1e-4f));
        }
        using (var resumed = new MetricsLog(path))
        {
            resumed.Write(Step(3, 1.25, 1e-4f) with { ResidentBytes = null });
            resumed.Write(Step(4, 1.0, 1e-4f));
        }
        var steps = MetricsLog.Read(path);
        Assert.Equal([1, 2, 3, 4], steps.Select(s => s.Step));
        Assert.Equal(Step(1, 2.0, 1e-4f), steps[0]);
        Assert.True(double.IsNaN(steps[1].Loss) && steps[1].Skipped);
        Assert.Equal((1.25, (long?)null), (steps[2].Loss, steps[2].ResidentBytes));

        File.AppendAllText(path, "{\"step\": 5, \"lo\n");
        Assert.StartsWith($"{path}:6: not a step record", Assert.Throws<FormatException>(() => MetricsLog.Read(path)).Message);
    }
}
