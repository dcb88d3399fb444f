using System.Globalization;
using ScottPlot;

namespace RawLongLoRA.Training;

/// <summary>Passkey retrieval as the familiar "needle in a haystack" grid: where in how long a context the model still finds the key.</summary>
internal static class PasskeyPlots
{
    /// <summary>
    /// Context length across, the key's depth down (0% at the top: the key at the document's start),
    /// each cell coloured and labelled with its accuracy (0..1, NaN for a cell not measured).
    /// </summary>
    public static void Heatmap(string pngPath, int[] lengths, double[] depths, double[,] accuracy, string title)
    {
        if (accuracy.GetLength(0) != lengths.Length || accuracy.GetLength(1) != depths.Length)
            throw new ArgumentException($"accuracy is [{accuracy.GetLength(0)}, {accuracy.GetLength(1)}]; expected [lengths {lengths.Length}, depths {depths.Length}]", nameof(accuracy));
        if (lengths.Length == 0 || depths.Length == 0)
            throw new ArgumentException("no cells to plot", nameof(accuracy));
        var grid = new double[depths.Length, lengths.Length]; // ScottPlot: [row, column], row 0 at the top
        for (int l = 0; l < lengths.Length; l++)
            for (int d = 0; d < depths.Length; d++)
                grid[d, l] = accuracy[l, d];

        var plot = new Plot();
        var map = plot.Add.Heatmap(grid);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(0, 1);
        plot.Add.ColorBar(map).Label = "accuracy";
        for (int l = 0; l < lengths.Length; l++)
            for (int d = 0; d < depths.Length; d++)
            {
                double a = grid[d, l];
                var text = plot.Add.Text(double.IsNaN(a) ? "n/a" : Percent(a), l, Row(d));
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontColor = double.IsNaN(a) || a > 0.6 ? Colors.Black : Colors.White;
            }
        plot.Axes.Bottom.SetTicks([.. lengths.Select((_, l) => (double)l)], [.. lengths.Select(n => n.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.Left.SetTicks([.. depths.Select((_, d) => Row(d))], [.. depths.Select(Percent)]);
        plot.Title(title);
        plot.XLabel("context length (tokens)");
        plot.YLabel("passkey depth");
        plot.SavePng(pngPath, 160 + 110 * lengths.Length, 140 + 60 * depths.Length);

        // Row d of the grid is drawn at y = rows − 1 − d (cells centred on whole numbers).
        double Row(int d) => depths.Length - 1 - d;
        static string Percent(double x) => (x * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
    }
}
