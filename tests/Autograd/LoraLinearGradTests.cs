using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The fused LoRA linear y = x Wᵀ + b + s·(dropout(x) Aᵀ) Bᵀ: finite differences for every input, and values and
/// gradients against the composition of the ops it replaces (same dropout mask), with and without dropout and bias,
/// for float32 and bfloat16 weights, and under bf16 autocast.
/// </summary>
public class LoraLinearGradTests
{
    private const float S = 0.75f;

    [Fact]
    public void EveryInputTrainableWithBias()
        => GradCheck.Assert(t => t[0].LoraLinear(t[1], t[2], t[3], t[4], S),
            [Input.Randn(1, 2, 3, 6), Input.Randn(2, 5, 6), Input.Randn(3, 5), Input.Randn(4, 2, 6), Input.Randn(5, 5, 2)]);

    [Fact]
    public void FrozenWeightNoBias()
    {
        using var w = Tensor.Randn([5, 6], new Generator(6));
        var x = Input.Randn(7, 4, 6);
        GradCheck.Assert(t => t[0].LoraLinear(t[1], null, t[2], t[3], S), [x, w, Input.Randn(8, 3, 6), Input.Randn(9, 5, 3)]);
        Assert.Null(w.Grad);
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void DropoutWithTheGeneratorResetPerEvaluation()
        => GradCheck.Assert(t => t[0].LoraLinear(t[1], t[2], t[3], t[4], S, dropout: 0.4f, generator: new Generator(10)),
            [Input.Randn(11, 3, 6), Input.Randn(12, 5, 6), Input.Randn(13, 5), Input.Randn(14, 2, 6), Input.Randn(15, 5, 2)]);

    [Theory]
    [InlineData(0f, true, DType.F32)]
    [InlineData(0f, false, DType.F32)]
    [InlineData(0.25f, true, DType.F32)]
    [InlineData(0.25f, false, DType.BF16)]
    [InlineData(0f, true, DType.F16)]
    public void MatchesTheUnfusedComposition(float dropout, bool withBias, DType weightType)
        => CompareWithComposition(dropout, withBias, weightType, S, tolerance: 1e-5);

    [Fact]
    public void UnderBf16AutocastMatchesTheCompositionUnderIt()
    {
        // Both round every GEMM operand to bf16 and sum in float32. The composition rounds s·dY where the fused op
        // rounds dY and scales after; with s a power of two those are equal, so the two agree to float32 level (summation
        // order), far inside bf16's 2^-9, and a GEMM left at float32 or an operand rounded twice would show.
        using (Autocast.Bf16())
            CompareWithComposition(0.25f, true, DType.F32, 0.5f, tolerance: 1e-5);
    }

    [Fact]
    public void BadShapesAndDropoutAreRejectedNamingTheField()
    {
        using var x = Tensor.Randn([3, 6], new Generator(20));
        using var w = Tensor.Randn([5, 6], new Generator(21));
        using var a = Tensor.Randn([2, 6], new Generator(22));
        using var b = Tensor.Randn([5, 2], new Generator(23));
        using var aWrong = Tensor.Randn([2, 7], new Generator(24));
        using var bWrong = Tensor.Randn([5, 3], new Generator(25));
        Assert.Contains("lora_A", Assert.ThrowsAny<ArgumentException>(() => x.LoraLinear(w, null, aWrong, b, S)).Message);
        Assert.Contains("lora_B", Assert.ThrowsAny<ArgumentException>(() => x.LoraLinear(w, null, a, bWrong, S)).Message);
        Assert.Contains("dropout", Assert.ThrowsAny<ArgumentException>(() => x.LoraLinear(w, null, a, b, S, dropout: 1f)).Message);
    }

    /// <summary>
    /// 2 × 70 rows, in 40, out 36, r 8: large enough that the rank-r products take the skinny GEMMs. The adapter's
    /// tensors and the bias train, the weight is frozen; an uneven upstream gradient checks every output's path.
    /// </summary>
    private static void CompareWithComposition(float dropout, bool withBias, DType weightType, float scale, double tolerance)
    {
        using var w32 = Tensor.Randn([36, 40], new Generator(30));
        using var w = weightType == DType.F32 ? w32.Restride(w32.Layout) : w32.To(weightType);
        using var gy = Tensor.Randn([2, 70, 36], new Generator(31));
        var (fused, fusedGrads) = Run(w, gy, withBias, (x, b, la, lb) => x.LoraLinear(w, b, la, lb, scale, dropout, new Generator(32)));
        var (composed, composedGrads) = Run(w, gy, withBias, (x, b, la, lb) =>
        {
            var dropped = dropout > 0 ? x.Dropout(dropout, generator: new Generator(32)) : x;
            return x.Linear(w, b) + dropped.Linear(la).Linear(lb).Scale(scale);
        });
        Approx.Close(composed, fused, tolerance, "y");
        string[] names = ["dx", "db", "dA", "dB"];
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(composedGrads[i] is null, fusedGrads[i] is null);
            if (composedGrads[i] is { } want)
                Approx.Close(want, fusedGrads[i]!, tolerance, names[i]);
        }
    }

    private static (float[] Y, float[]?[] Grads) Run(Tensor w, Tensor gy, bool withBias, Func<Tensor, Tensor?, Tensor, Tensor, Tensor> f)
    {
        var x = Input.Randn(33, 2, 70, 40);
        var b = withBias ? Input.Randn(34, 36) : null;
        var la = Input.Randn(35, 8, 40);
        var lb = Input.Randn(36, 36, 8);
        var y = f(x, b, la, lb);
        y.Backward(gy);
        return (y.ToFloatArray(), [x.Grad!.ToFloatArray(), b?.Grad!.ToFloatArray(), la.Grad!.ToFloatArray(), lb.Grad!.ToFloatArray()]);
    }
}
