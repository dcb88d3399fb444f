namespace RawLongLoRA;

/// <summary>
/// Views: new layouts over the same storage (reshape copies only when the strides forbid a view).
/// Gradients map back through the inverse view.
/// </summary>
public static class Views
{
    extension(Tensor x)
    {
        /// <summary>A view with the given shape (one dim may be −1), copying only if the layout forbids a view.</summary>
        public Tensor Reshape(params int[] shape)
        {
            Check.Alive("reshape", x);
            var layout = x.Layout.TryReshape(shape);
            var inShape = x.ShapeArray;
            Tensor y;
            if (layout is not null)
                y = x.Restride(layout);
            else
            {
                using var c = Tensor.Empty(inShape, x.DType, x.Device);
                c.CopyFrom(x);
                y = c.Restride(Layout.Contiguous(Shapes.InferShape(shape, x.Numel, "reshape", x.Shape)));
            }
            return Graph.Record(y, "reshape", [x], (g, _) => [g.Reshape(inShape)]);
        }

        /// <summary>As Reshape, but throws instead of copying (torch.view).</summary>
        public Tensor View(params int[] shape)
        {
            Check.Alive("view", x);
            var layout = x.Layout.TryReshape(shape)
                ?? throw Check.Fail("view", $"cannot view strides ({string.Join(", ", x.Strides.ToArray())}) as shape {Shapes.Format(shape)}; use Reshape", x);
            var inShape = x.ShapeArray;
            return Graph.Record(x.Restride(layout), "view", [x], (g, _) => [g.Reshape(inShape)]);
        }

        /// <summary>
        /// Dims <paramref name="startDim"/>..<paramref name="endDim"/> merged into one (a view where the strides
        /// allow, else a copy).
        /// </summary>
        public Tensor Flatten(int startDim = 0, int endDim = -1)
        {
            Check.Alive("flatten", x);
            int s = x.Layout.NormalizeDim(startDim, "flatten"), e = x.Layout.NormalizeDim(endDim, "flatten");
            var shape = new List<int>();
            for (int i = 0; i < s; i++)
                shape.Add(x.Shape[i]);
            shape.Add(-1);
            for (int i = e + 1; i < x.Rank; i++)
                shape.Add(x.Shape[i]);
            return x.Numel == 0 ? x.Reshape(x.ShapeArray) : x.Reshape([.. shape]);
        }

        /// <summary>Dims <paramref name="a"/> and <paramref name="b"/> swapped, as a view.</summary>
        public Tensor Transpose(int a, int b)
        {
            Check.Alive("transpose", x);
            return Graph.Record(x.Restride(x.Layout.Transpose(a, b)), "transpose", [x], (g, _) => [g.Transpose(a, b)]);
        }

        /// <summary>The dims reordered (dim i of the result is dim <paramref name="dims"/>[i]), as a view.</summary>
        public Tensor Permute(params int[] dims)
        {
            Check.Alive("permute", x);
            var layout = x.Layout.Permute(dims);
            var inverse = new int[dims.Length];
            for (int i = 0; i < dims.Length; i++)
                inverse[x.Layout.NormalizeDim(dims[i], "permute")] = i;
            return Graph.Record(x.Restride(layout), "permute", [x], (g, _) => [g.Permute(inverse)]);
        }

        /// <summary>Elements [start, start + length) along dim, as a view.</summary>
        public Tensor Narrow(int dim, int start, int length)
        {
            Check.Alive("narrow", x);
            var layout = x.Layout.Narrow(dim, start, length);
            var inShape = x.ShapeArray;
            int d = x.Layout.NormalizeDim(dim, "narrow");
            return Graph.Record(x.Restride(layout), "narrow", [x], (g, _) =>
            {
                var full = Tensor.Zeros(inShape, DType.F32, g.Device);
                using var window = full.Restride(full.Layout.Narrow(d, start, length));
                window.CopyFrom(g);
                return [full];
            });
        }

        /// <summary>Broadcasts size-1 dims (−1 keeps a dim) without copying.</summary>
        public Tensor Expand(params int[] shape)
        {
            Check.Alive("expand", x);
            var inShape = x.ShapeArray;
            return Graph.Record(x.Restride(x.Layout.Expand(shape)), "expand", [x], (g, _) => [Graph.SumToShape(g, inShape)]);
        }

        /// <summary>A size-1 dim inserted at <paramref name="dim"/>, as a view.</summary>
        public Tensor Unsqueeze(int dim)
        {
            Check.Alive("unsqueeze", x);
            var inShape = x.ShapeArray;
            return Graph.Record(x.Restride(x.Layout.Unsqueeze(dim)), "unsqueeze", [x], (g, _) => [g.Reshape(inShape)]);
        }

        /// <summary>Dim <paramref name="dim"/> removed if its size is 1 (else unchanged), as a view.</summary>
        public Tensor Squeeze(int dim)
        {
            Check.Alive("squeeze", x);
            var inShape = x.ShapeArray;
            return Graph.Record(x.Restride(x.Layout.Squeeze(dim)), "squeeze", [x], (g, _) => [g.Reshape(inShape)]);
        }

        /// <summary>x itself if contiguous (a new handle), else a contiguous copy.</summary>
        public Tensor Contiguous()
        {
            Check.Alive("contiguous", x);
            if (x.IsContiguous)
                return Graph.Record(x.Restride(x.Layout), "contiguous", [x], (g, _) => [g]);
            var y = Tensor.Empty(x.ShapeArray, x.DType, x.Device);
            y.CopyFrom(x);
            return Graph.Record(y, "contiguous", [x], (g, _) => [g]);
        }

        /// <summary>A copy with its own storage (differentiable).</summary>
        public Tensor Clone()
        {
            Check.Alive("clone", x);
            var y = Tensor.Empty(x.ShapeArray, x.DType, x.Device);
            y.CopyFrom(x);
            return Graph.Record(y, "clone", [x], (g, _) => [g]);
        }

        /// <summary>The same data with no history and no gradient.</summary>
        public Tensor Detach()
        {
            Check.Alive("detach", x);
            return x.Restride(x.Layout);
        }
    }
}
