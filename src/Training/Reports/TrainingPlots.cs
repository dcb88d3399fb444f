using ScottPlot;

namespace RawLongLoRA.Training;

/// <summary>A run's curves as a PNG, for a user who wants to see at a glance whether the loss fell and what the schedule did.</summary>
internal static class TrainingPlots
{
    /// <summary>
    /// The loss (left axis) and the learning rate (right axis) against the step. Skipped steps (NaN/Inf)
    /// leave a gap in the loss line and a red mark on the step axis.
    /// </summary>
    public static void LossAndLr(string pngPath, IReadOnlyList<StepLog> steps)
    {
        if (steps.Count == 0)
            throw new ArgumentException("no steps to plot", nameof(steps));
        var plot = new Plot();
        double[] x = [.. steps.Select(s => (double)s.Step)];
        var loss = plot.Add.ScatterLine(x, [.. steps.Select(s => s.Skipped || !double.IsFinite(s.Loss) ? double.NaN : s.Loss)]);
        loss.LegendText = "loss";
        loss.LineWidth = 2;
        var lr = plot.Add.ScatterLine(x, [.. steps.Select(s => (double)s.Lr)]);
        lr.LegendText = "learning rate";
        lr.Axes.YAxis = plot.Axes.Right;
        lr.LinePattern = LinePattern.Dashed;
        foreach (var skipped in steps.Where(s => s.Skipped))
        {
            var line = plot.Add.VerticalLine(skipped.Step);
            line.Color = Colors.Red.WithAlpha(0.4);
        }
        plot.Title($"training: {steps.Count} logged steps, last loss {steps.LastOrDefault(s => double.IsFinite(s.Loss))?.Loss:F4}");
        plot.XLabel("step");
        plot.YLabel("loss");
        plot.Axes.Right.Label.Text = "learning rate";
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(pngPath, 900, 500);
    }
}
