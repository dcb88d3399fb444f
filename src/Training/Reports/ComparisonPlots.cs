using System.Globalization;
using ScottPlot;

namespace RawLongLoRA.Training;

/// <summary>A results table's one column as bars, for a reader who looks before reading numbers.</summary>
internal static class ComparisonPlots
{
    /// <summary>One labelled bar a value, its number written above it.</summary>
    public static void Bars(string pngPath, string[] labels, double[] values, string yLabel, string title)
    {
        if (labels.Length != values.Length || labels.Length == 0)
            throw new ArgumentException($"{labels.Length} labels and {values.Length} values; expected as many of each, at least one", nameof(values));
        var plot = new Plot();
        var bars = plot.Add.Bars(values);
        for (int i = 0; i < values.Length; i++)
        {
            bars.Bars[i].Label = values[i].ToString("G3", CultureInfo.InvariantCulture);
            bars.Bars[i].FillColor = plot.Add.Palette.GetColor(i);
        }
        plot.Axes.Bottom.SetTicks([.. labels.Select((_, i) => (double)i)], labels);
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.SavePng(pngPath, Math.Max(500, 140 * labels.Length), 450);
    }
}
