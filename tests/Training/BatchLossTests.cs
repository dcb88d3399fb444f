using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A packed batch is the documents it holds: positions restart and attention stays inside each.</summary>
public class BatchLossTests
{
    private static float Loss(CausalLM model, TrainingBatch batch)
    {
        using var scope = new DisposeScope();
        using var noGrad = Autograd.NoGrad();
        return BatchLoss.Of(model, batch).ToFloatArray()[0];
    }

    private static TrainingBatch Alone(long[] doc) =>
        new(1, doc.Length, doc, [.. doc.Skip(1), TrainingBatch.IgnoreIndex], [.. Enumerable.Range(0, doc.Length).Select(i => (long)i)], [0]);

    [Fact]
    public void A_packed_row_has_the_loss_of_its_documents_apart()
    {
        using var model = CausalLM.Load(CausalLMTests.Dir("llama-gqa-tiny"));
        long[] first = [1, 17, 250, 3, 99, 42, 7], second = [1, 123, 5, 64, 200];
        var packed = new TrainingBatch(1, 12, [.. first, .. second],
            [.. first.Skip(1), TrainingBatch.IgnoreIndex, .. second.Skip(1), TrainingBatch.IgnoreIndex],
            [.. Enumerable.Range(0, 7).Select(i => (long)i), .. Enumerable.Range(0, 5).Select(i => (long)i)], [0, 7]);
        double expected = (Loss(model, Alone(first)) * 6 + Loss(model, Alone(second)) * 4) / 10;
        Assert.Equal(expected, Loss(model, packed), 5);

        // Without the boundary the second document would see the first: a different loss.
        var leaky = packed with { Positions = [.. Enumerable.Range(0, 12).Select(i => (long)i)], SequenceStarts = [0] };
        Assert.NotEqual(Loss(model, packed), Loss(model, leaky), 3);
    }
}
