using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.Bench.GpuCheck;

/// <summary>
/// The tiny model's training step (<see cref="TinyTrainingStep"/>) on the CPU and on the device. In float32, two steps
/// each (the second gives the LoRA A matrices a gradient): the loss, every trainable gradient and the trained tensors
/// after AdamW must agree within bf16's tolerance. With bf16 autocast, the first step's loss and gradients: AdamW
/// divides each gradient by its own size, so a tiny gradient that two correct bf16 computations round to opposite signs
/// moves its parameter by +lr on one side and −lr on the other, and from then on the two runs are different runs.
/// </summary>
internal static class StepCheck
{
    public const int Steps = 2;

    /// <summary>
    /// The rows of the comparison, in float32 and then with bf16 autocast (GEMMs on bfloat16 operands) on both sides;
    /// <paramref name="trained"/> is the device's float32 model after its steps, or null where they did not run.
    /// </summary>
    public static List<CheckRow> Run(Device device, int layers, out TinyTrainingStep? trained)
    {
        var rows = Run(device, layers, Precision.F32, out trained);
        if (trained is not null)
        {
            rows.AddRange(Run(device, layers, Precision.Bf16, out var bf16));
            bf16?.Dispose();
        }
        return rows;
    }

    private static List<CheckRow> Run(Device device, int layers, Precision precision, out TinyTrainingStep? trained)
    {
        var rows = new List<CheckRow>();
        var config = TinyTrainingStep.TinyConfig(layers);
        using var cpu = new TinyTrainingStep(Device.Cpu, config: config, precision: precision);
        trained = new TinyTrainingStep(device, config: config, precision: precision);
        int steps = precision == Precision.F32 ? Steps : 1;
        for (int step = 1; step <= steps; step++)
        {
            string variant = $"{precision.Name()}, step {step} of {steps}";
            var want = cpu.Step();
            TinyStepResult got;
            try
            {
                got = trained.Step();
            }
            catch (Exception e)
            {
                rows.Add(CheckRow.Threw("training step", variant, PrimitiveCases.Bf16, e));
                trained.Dispose();
                trained = null;
                return rows;
            }
            rows.Add(CheckRow.Compared("training step: loss", variant, Math.Abs(got.Loss - want.Loss) / Math.Abs(want.Loss), PrimitiveCases.Bf16,
                detail: $"{got.Loss:F6} on {device}, {want.Loss:F6} on cpu"));
            rows.Add(Worst("training step: gradients", variant, got.Gradients, want.Gradients));
            if (precision == Precision.F32)
                rows.Add(Worst("training step: trained tensors after AdamW", variant, got.After, want.After));
        }
        return rows;
    }

    /// <summary>The worst tensor's error, named.</summary>
    private static CheckRow Worst(string check, string variant, IReadOnlyDictionary<string, float[]> got, IReadOnlyDictionary<string, float[]> want)
    {
        var (name, error) = want.Select(w => (w.Key, MaxRelativeError.Of(got[w.Key], w.Value))).MaxBy(e => e.Item2);
        return CheckRow.Compared(check, variant, error, PrimitiveCases.Bf16, detail: $"{want.Count} tensors, worst {name}");
    }
}
