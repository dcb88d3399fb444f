using System.Globalization;
using System.Text;

namespace RawLongLoRA;

// A short, PyTorch-like printout: large tensors show their first and last three items per dim.
public sealed partial class Tensor
{
    private const int EdgeItems = 3;
    private const long SummarizeAbove = 1000;

    /// <summary>
    /// The values as PyTorch prints them ("tensor([[0.1000, 2.0000], ...], dtype=bfloat16)"); large tensors show
    /// three items at each end of every dim.
    /// </summary>
    public override string ToString()
    {
        if (IsDisposed)
            return "tensor(<disposed>)";
        var values = DType.IsFloat() ? Array.ConvertAll(ToFloatArray(), v => (double)v) : IntegerValues();
        bool summarize = Numel > SummarizeAbove;
        var fmt = ChooseFormat(values);
        var sb = new StringBuilder("tensor(");
        if (Rank == 0)
            sb.Append(fmt(values[0]));
        else
            AppendDim(sb, values, 0, 0, fmt, summarize, "tensor(".Length);
        var extra = new List<string>();
        if (Rank > 0 && Numel == 0)
            extra.Add($"size={Shapes.Format(Shape)}");
        if (DType != DType.F32 && DType != DType.I64)
            extra.Add($"dtype={DType.TorchName()}");
        if (!Device.IsCpu)
            extra.Add($"device='{Device}'");
        if (GradFn is not null)
            extra.Add($"grad_fn=<{GradFn.Name}>");
        else if (RequiresGrad)
            extra.Add("requires_grad=True");
        foreach (var e in extra)
            sb.Append(", ").Append(e);
        return sb.Append(')').ToString();
    }

    private double[] IntegerValues() => DType switch
    {
        DType.I64 => Array.ConvertAll(ToArray<long>(), v => (double)v),
        DType.I32 => Array.ConvertAll(ToArray<int>(), v => (double)v),
        _ => Array.ConvertAll(ToArray<byte>(), v => (double)v),
    };

    private Func<double, string> ChooseFormat(double[] values)
    {
        if (!DType.IsFloat())
            return v => v.ToString("0", CultureInfo.InvariantCulture);
        double maxAbs = 0, minAbs = double.MaxValue;
        foreach (var v in values)
        {
            if (!double.IsFinite(v))
                continue;
            double a = Math.Abs(v);
            maxAbs = Math.Max(maxAbs, a);
            if (a > 0)
                minAbs = Math.Min(minAbs, a);
        }
        bool sci = maxAbs >= 1e8 || (minAbs < 1e-4 && maxAbs / minAbs > 1e3);
        return v => double.IsNaN(v) ? "nan" : double.IsInfinity(v) ? (v > 0 ? "inf" : "-inf")
            : sci ? v.ToString("0.0000e+00", CultureInfo.InvariantCulture) : v.ToString("0.0000", CultureInfo.InvariantCulture);
    }

    private void AppendDim(StringBuilder sb, double[] values, int dim, long baseIndex, Func<double, string> fmt, bool summarize, int indent)
    {
        int n = Shape[dim];
        long inner = 1;
        for (int d = dim + 1; d < Rank; d++)
            inner *= Shape[d];
        sb.Append('[');
        for (int i = 0; i < n; i++)
        {
            if (summarize && n > 2 * EdgeItems && i == EdgeItems)
            {
                sb.Append(dim == Rank - 1 ? "..., " : "...,\n" + new string(' ', indent + 1));
                i = n - EdgeItems - 1;
                continue;
            }
            if (dim == Rank - 1)
                sb.Append(fmt(values[baseIndex + i]));
            else
                AppendDim(sb, values, dim + 1, baseIndex + i * inner, fmt, summarize, indent + 1);
            if (i < n - 1)
                sb.Append(dim == Rank - 1 ? ", " : "," + new string('\n', Rank - 1 - dim) + new string(' ', indent + 1));
        }
        sb.Append(']');
    }
}
