namespace RawLongLoRA;

/// <summary>Shape arithmetic shared by every layer: element counts, strides, broadcasting, formatting.</summary>
public static class Shapes
{
    /// <summary>The number of elements of <paramref name="shape"/> (1 for the empty shape of a scalar).</summary>
    public static long Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
            n *= d;
        return n;
    }

    /// <summary>The row-major strides of <paramref name="shape"/>, in elements: the last dim 1.</summary>
    public static long[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var st = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    /// <summary>"[2, 3]", the form every message uses.</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>True when both shapes have the same rank and sizes.</summary>
    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>NumPy broadcasting of two shapes; throws naming the op and both shapes.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int r = Math.Max(a.Length, b.Length);
        var s = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} do not broadcast (dim {i}: {da} vs {db})");
            s[i] = da == 1 ? db : da;
        }
        return s;
    }

    /// <summary>Resolves one -1 in a requested shape and checks the element count.</summary>
    public static int[] InferShape(ReadOnlySpan<int> requested, long numel, string op, ReadOnlySpan<int> from)
    {
        var s = requested.ToArray();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0)
                    throw new ArgumentException($"{op}: more than one -1 in {Format(requested)}");
                infer = i;
            }
            else if (s[i] < 0)
                throw new ArgumentException($"{op}: negative dimension in {Format(requested)}");
            else
                known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"{op}: cannot view shape {Format(from)} ({numel} elements) as {Format(requested)}");
            s[infer] = checked((int)(numel / known));
        }
        else if (known != numel)
            throw new ArgumentException($"{op}: cannot view shape {Format(from)} ({numel} elements) as {Format(requested)} ({known} elements)");
        return s;
    }
}
