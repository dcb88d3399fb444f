namespace RawLongLoRA.Bench.Kernels;

/// <summary>
/// A LoRA projection variant against the host reference before it is timed, on a small problem of the same rank
/// (<see cref="Small"/>): its forward's y, then its forward+backward's y, dX, dA and dB. A variant makes its outputs,
/// so before each call the allocator's free blocks are emptied and blocks of every output's size are filled with NaN
/// and freed (<see cref="PoisonFreeBlocks"/>): the caching allocator hands them back, and an element the variant
/// leaves unwritten fails. Errors are <see cref="AttentionValidation.Error"/> per output, within one bf16 step of the
/// largest value (<see cref="AttentionValidation.Bf16Tolerance"/>): the inputs are bf16 already; t and u may be rounded
/// to bf16 as GEMM operands, or not.
/// </summary>
internal static class LoraValidation
{
    /// <summary>How many blocks of each output's size are poisoned: more than a call holds of one size at once.</summary>
    private const int BlocksPerOutput = 4;

    /// <summary>The validation problem's largest M, K and N: distinct, so no two outputs share a block size.</summary>
    public const int MaxM = 256, MaxK = 384, MaxN = 320;

    /// <summary>The validation problem for a timed <paramref name="shape"/>: at most <see cref="MaxM"/> × <see cref="MaxK"/> → <see cref="MaxN"/>, the same rank.</summary>
    public static LoraProjectionShape Small(LoraProjectionShape shape) => new(Math.Min(shape.M, MaxM), Math.Min(shape.K, MaxK), Math.Min(shape.N, MaxN), shape.R);

    /// <summary>The names of the errors <see cref="Errors"/> returns.</summary>
    public static string[] Names(int outputs) => ["fwd y", .. LoraOutputs.Names.Take(outputs)];

    /// <summary>What <paramref name="reference"/> computes on <paramref name="t"/>: its forward+backward's outputs.</summary>
    public static float[][] Expected(LoraProjection reference, LoraTensors t)
    {
        using var o = reference.ForwardBackward(t);
        return o.All.OfType<Tensor>().Select(x => x.ToFloatArray()).ToArray();
    }

    /// <summary>The errors of <paramref name="p"/>'s forward y, then of each output of its forward+backward, each call on poisoned free blocks.</summary>
    public static double[] Errors(LoraProjection p, LoraTensors t, float[][] expected)
    {
        var errors = new List<double>();
        PoisonFreeBlocks(t);
        using (var forward = p.Forward(t))
            errors.Add(AttentionValidation.Error(expected[0], forward.Y.ToFloatArray()));
        PoisonFreeBlocks(t);
        using var both = p.ForwardBackward(t);
        var outputs = both.All;
        for (int i = 0; i < expected.Length; i++)
            errors.Add(outputs[i] is { } o ? AttentionValidation.Error(expected[i], o.ToFloatArray()) : double.NaN);
        return [.. errors];
    }

    /// <summary>
    /// Empties the device allocator's cache, then fills <see cref="BlocksPerOutput"/> new blocks of each output's size
    /// (y, dX, dA, dB) with NaN and frees them into it.
    /// </summary>
    public static void PoisonFreeBlocks(LoraTensors t)
    {
        var device = t.X.Device;
        DeviceMemory.Of(device).ReleaseCached();
        var s = t.Shape;
        var blocks = new List<Tensor>();
        foreach (int[] shape in new[] { new[] { s.M, s.N }, [s.M, s.K], [s.R, s.K], [s.N, s.R] })
            for (int i = 0; i < BlocksPerOutput; i++)
                blocks.Add(Tensor.Empty(shape, DType.F32, device).DetachFromScope().Fill(double.NaN));
        device.Backend.Synchronize();
        foreach (var b in blocks)
            b.Dispose();
    }
}
