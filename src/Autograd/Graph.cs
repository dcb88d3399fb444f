namespace RawLongLoRA;

/// <summary>
/// How ops record themselves: one node type whose backward is a closure over what the op saved.
/// Each op's file reads as its forward followed by its gradient rule, a line per input.
/// </summary>
internal static class Graph
{
    /// <summary>Whether an op on these inputs must record a node.</summary>
    public static bool Wants(params Tensor?[] inputs)
    {
        bool any = false;
        foreach (var t in inputs)
            any |= t is { RequiresGrad: true };
        GradMode.Note(any);
        return any && GradMode.Enabled;
    }

    /// <summary>
    /// Attaches a node to <paramref name="output"/> if any input wants a gradient. The backward gets the
    /// output's gradient and which inputs need one, and returns one gradient (or null) per input.
    /// </summary>
    public static Tensor Record(Tensor output, string name, Tensor?[] inputs, Func<Tensor, bool[], Tensor?[]> backward)
        => Record(output, name, inputs, [], backward);

    /// <summary>
    /// As Record, for ops that saved extra tensors for backward: the node owns them (they go with the
    /// output), or, when nothing is recorded, they are disposed at once.
    /// </summary>
    public static Tensor Record(Tensor output, string name, Tensor?[] inputs, Tensor[] saved, Func<Tensor, bool[], Tensor?[]> backward)
    {
        if (Wants(inputs))
        {
            var node = new ClosureNode(name, inputs, backward);
            foreach (var t in saved)
                node.Own(t);
            output.SetGradFn(node);
        }
        else
            foreach (var t in saved)
                t.Dispose();
        return output;
    }

    /// <summary>A float32 tensor on the device of <paramref name="like"/>.</summary>
    public static Tensor Empty(int[] shape, Tensor like) => Tensor.Empty(shape, DType.F32, like.Device);

    /// <summary>
    /// The backend of the device every operand (nulls skipped) is on, for <paramref name="op"/>; throws naming the op
    /// and the devices where they differ. Every op dispatches through here, so no kernel sees a foreign pointer.
    /// </summary>
    public static IBackend Backend(string op, params Tensor?[] operands)
    {
        Check.SameDevice(op, operands);
        foreach (var t in operands)
            if (t is not null)
                return t.Device.Backend;
        throw new ArgumentException($"{op}: no operand to dispatch on");
    }

    /// <summary>A contiguous handle on x's data with no history (a copy only where x is not contiguous); the caller disposes it.</summary>
    public static Tensor ContiguousData(Tensor x)
    {
        if (x.IsContiguous)
            return x.Restride(x.Layout);
        var c = Tensor.Empty(x.ShapeArray, x.DType, x.Device);
        c.CopyFrom(x);
        return c;
    }

    /// <summary>A handle GEMM can read as is (one of the last two strides is 1), copying otherwise; the caller disposes it.</summary>
    public static Tensor GemmReady(Tensor t) => t.Strides[^1] == 1 || t.Strides[^2] == 1 ? t.Restride(t.Layout) : ContiguousData(t);

    /// <summary>Sums a broadcast gradient back to <paramref name="shape"/> (leading dims and size-1 dims).</summary>
    public static Tensor SumToShape(Tensor g, ReadOnlySpan<int> shape)
    {
        if (Shapes.Equal(g.Shape, shape))
            return g;
        int lead = g.Rank - shape.Length;
        var keep = new int[g.Rank];
        for (int i = 0; i < g.Rank; i++)
            keep[i] = i < lead ? 1 : shape[i - lead];
        var sum = Empty(keep, g);
        Backend("sum_to_shape", g).Reduce(ReduceOp.Sum, sum, g);
        var view = sum.Restride(Layout.Contiguous(shape.ToArray()));
        sum.Dispose();
        return view;
    }

    private sealed class ClosureNode(string name, Tensor?[] inputs, Func<Tensor, bool[], Tensor?[]> backward) : Node(inputs)
    {
        public override string Name => name;

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var needs = new bool[Inputs.Length];
            for (int i = 0; i < needs.Length; i++)
                needs[i] = NeedsGrad(i);
            return backward(gradOutput, needs);
        }
    }
}
