using RawLongLoRA.Profiling;

namespace RawLongLoRA;

/// <summary>
/// Gradient checkpointing: a segment runs its forward without keeping anything for backward, and
/// runs it again, recording, when the gradient reaches it. Parameters used inside the segment get
/// their gradients from that second run. The default generator's offset is restored for the rerun
/// so dropout masks repeat exactly.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Runs <paramref name="segment"/> on <paramref name="inputs"/> and returns its output, keeping only the inputs
    /// for backward (the segment runs again when the gradient arrives). The segment must be a pure function of its
    /// inputs, the parameters it closes over and the default generator. With recording off, it just runs the segment.
    /// </summary>
    public static Tensor Run(Func<Tensor[], Tensor> segment, params Tensor[] inputs)
    {
        if (!GradMode.Enabled)
            return segment(inputs);
        ulong rngOffset = Generator.Default.Offset;
        Tensor output;
        Func<bool> sawRequiresGrad;
        using (GradMode.Probe(out sawRequiresGrad))
            output = KeepOnly(segment, inputs);
        // Read after the probe ends: it reports what it saw only then.
        if (!sawRequiresGrad())
            return output;
        return output.SetGradFn(new SegmentNode(segment, inputs, rngOffset));
    }

    /// <summary>
    /// The segment's output alone: its temporaries are freed as soon as it returns, which is the point
    /// of checkpointing (the recompute in backward makes them again, and frees them after its backward).
    /// </summary>
    private static Tensor KeepOnly(Func<Tensor[], Tensor> segment, Tensor[] inputs)
    {
        Tensor handle;
        using (new DisposeScope())
        {
            var output = segment(inputs);
            handle = output.Restride(output.Layout).DetachFromScope();
        }
        var kept = handle.Restride(handle.Layout);
        handle.Dispose();
        return kept;
    }

    private sealed class SegmentNode(Func<Tensor[], Tensor> segment, Tensor[] inputs, ulong rngOffset) : Node(inputs)
    {
        public override string Name => "checkpoint";

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var detached = Inputs.Select(x =>
            {
                x!.ThrowIfDisposed();
                var d = x.Detach();
                d.RequiresGrad = x.RequiresGrad;
                return d;
            }).ToArray();
            ulong resume = Generator.Default.Offset;
            Generator.Default.Offset = rngOffset;
            try
            {
                using (GradMode.Enable())
                using (new DisposeScope())
                {
                    Tensor output;
                    using (Profiler.Recompute())
                        output = segment(detached);
                    if (!output.RequiresGrad)
                        throw new InvalidOperationException("checkpoint: the recomputed segment does not require grad");
                    output.Backward(gradOutput);
                }
            }
            finally
            {
                Generator.Default.Offset = resume;
            }
            var grads = new Tensor?[detached.Length];
            for (int i = 0; i < detached.Length; i++)
            {
                // A handle in the rule's scope (the engine takes its own); the leaf's gradient handle goes.
                var g = detached[i].Grad;
                grads[i] = g?.Restride(g.Layout);
                g?.Dispose();
                detached[i].Grad = null;
                detached[i].Dispose();
            }
            return grads;
        }
    }
}
