using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The report plots render real PNGs here: no GPU, no X server, SkiaSharp's own native library.</summary>
public class PlotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-plots-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The colour ScottPlot gives the i-th series or bar.</summary>
    public static ScottPlot.Color Palette(int i) => new ScottPlot.Plot().Add.Palette.GetColor(i);

    private static StepLog Step(int step, double loss, float lr, bool skipped = false) =>
        new(step, 20, loss, lr, 1.5, 4096, 0.5, skipped, 1 << 20, 200 << 20, 300 << 20);

    [Fact]
    public void LossAndLrDrawsBothCurvesWithSkippedSteps()
    {
        var steps = Enumerable.Range(1, 20).Select(i => i == 7 ? Step(i, double.NaN, 1e-3f, skipped: true) : Step(i, 3.0 / i, Math.Min(i, 5) * 2e-4f)).ToList();
        string path = Path.Combine(_dir, "loss.png");
        TrainingPlots.LossAndLr(path, steps);
        var png = PngImage.Read(path);
        Assert.Equal((900, 500), (png.Width, png.Height));
        // The loss (3/step) falls: its line sits higher in the left third than in the right third. The
        // learning rate (a dashed line) warms up, so it sits lower on the left than on the right.
        var loss = PngImage.Near(Palette(0));
        var lr = PngImage.Near(Palette(1));
        Assert.True(png.MeanRow(loss, 0, 300) < png.MeanRow(loss, 600, 900) - 50, $"loss line: mean row {png.MeanRow(loss, 0, 300):F0} on the left, {png.MeanRow(loss, 600, 900):F0} on the right");
        Assert.True(png.MeanRow(lr, 0, 300) > png.MeanRow(lr, 600, 900) + 50, $"learning rate line: mean row {png.MeanRow(lr, 0, 300):F0} on the left, {png.MeanRow(lr, 600, 900):F0} on the right");
        // The skipped step's mark: translucent red on white, a pink neither line has.
        Assert.True(png.Count(c => c.Red > 230 && c.Green is > 100 and < 200 && Math.Abs(c.Green - c.Blue) < 20) > 100, "no red mark for the skipped step");
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
        var png = PngImage.Read(path);
        // Viridis: the best cell (length 256, depth 0) is yellow, the worst (1024, 0.75) dark purple; both
        // fill a cell-sized area left of the colour bar (which spans the right fifth): a sixteenth of the
        // plot's share per cell at least.
        int cell = png.Width * png.Height / (lengths.Length * depths.Length * 16);
        int left = png.Width * 4 / 5;
        Assert.True(png.Count(c => c.Red > 200 && c.Green > 200 && c.Blue < 100, 0, png.Width / 2) > cell, "no yellow (high accuracy) cell on the left");
        Assert.True(png.Count(c => c.Red is > 50 and < 110 && c.Green < 60 && c.Blue > 80, 0, left) > cell, "no dark purple (low accuracy) cell");
        Assert.Contains("expected [lengths 3, depths 5]",
            Assert.Throws<ArgumentException>(() => PasskeyPlots.Heatmap(path, lengths, depths, new double[5, 3], "t")).Message);
    }

    [Fact]
    public void BarsDrawOneLabelledBarAValue()
    {
        string path = Path.Combine(_dir, "bars.png");
        double[] values = [0.15, 0.3, 0.0, 0.75];
        ComparisonPlots.Bars(path, ["none", "YaRN", "LoRA + S2", "LoRA + full"], values, "passkey accuracy", "at 1024 tokens");
        var png = PngImage.Read(path);
        Assert.Equal((4 * 140, 450), (png.Width, png.Height));
        // Each bar is filled with its own colour over an area that grows with its value: none for 0.
        int[] area = [.. Enumerable.Range(0, values.Length).Select(i => png.Count(PngImage.Near(Palette(i), 2)))];
        Assert.True(area[2] < area[0] && area[0] < area[1] && area[1] < area[3], $"bar areas {string.Join(", ", area)} for values {string.Join(", ", values)}");
        Assert.InRange(area[3] / (double)area[0], 3, 7);
        Assert.Throws<ArgumentException>(() => ComparisonPlots.Bars(path, ["a"], [1, 2], "y", "t"));
    }

    [Fact]
    public void ABlankImageIsNotAPlot()
    {
        string path = Path.Combine(_dir, "blank.png");
        using (var blank = new SkiaSharp.SKBitmap(300, 200))
        {
            blank.Erase(SkiaSharp.SKColors.White);
            using var data = blank.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }
        Assert.Contains("blank plot", Assert.Throws<Xunit.Sdk.TrueException>(() => PngImage.Read(path)).Message);
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
