using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Unary pointwise ops, each on a contiguous leaf and on transposed, narrowed, expanded and strided views of it.</summary>
public class PointwiseGradTests
{
    /// <summary>Domains: "any" (normals), "positive" [0.5, 2), "nonzero" (|x| ≥ 0.2, away from relu's kink).</summary>
    private static readonly Dictionary<string, (Func<Tensor, Tensor> F, string Domain)> Ops = new()
    {
        ["neg"] = (x => x.Neg(), "any"),
        ["exp"] = (x => x.Exp(), "any"),
        ["log"] = (x => x.Log(), "positive"),
        ["sqrt"] = (x => x.Sqrt(), "positive"),
        ["rsqrt"] = (x => x.Rsqrt(), "positive"),
        ["reciprocal"] = (x => x.Reciprocal(), "positive"),
        ["sigmoid"] = (x => x.Sigmoid(), "any"),
        ["silu"] = (x => x.Silu(), "any"),
        ["tanh"] = (x => x.Tanh(), "any"),
        ["relu"] = (x => x.Relu(), "nonzero"),
        ["square"] = (x => x.Square(), "any"),
        ["pow"] = (x => x.Pow(2.5f), "positive"),
        ["pow_negative"] = (x => x.Pow(-1.5f), "positive"),
        ["scale"] = (x => x.Scale(-0.7f), "any"),
        ["add_scalar"] = (x => x.AddScalar(1.5f), "any"),
    };

    public static TheoryData<string> Names() => [.. Ops.Keys];

    private static Tensor Leaf(string domain, ulong seed, params int[] shape) => domain switch
    {
        "positive" => Input.Uniform(seed, 0.5f, 2f, shape),
        "nonzero" => Input.AwayFromZero(seed, 0.2f, shape),
        _ => Input.Randn(seed, shape),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Contiguous(string name)
    {
        var (f, domain) = Ops[name];
        GradCheck.Assert(x => f(x[0]), [Leaf(domain, 1, 3, 5)]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Transposed(string name)
    {
        var (f, domain) = Ops[name];
        GradCheck.Assert(x => f(x[0].Transpose(0, 1)), [Leaf(domain, 2, 3, 5)]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Narrowed(string name)
    {
        var (f, domain) = Ops[name];
        GradCheck.Assert(x => f(x[0].Narrow(1, 2, 4).Narrow(0, 1, 2)), [Leaf(domain, 3, 3, 7)]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Expanded(string name)
    {
        // Each leaf element feeds several outputs: its gradient sums them.
        var (f, domain) = Ops[name];
        GradCheck.Assert(x => f(x[0].Expand(4, 3, 5)), [Leaf(domain, 4, 3, 1)]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Strided(string name)
    {
        var (f, domain) = Ops[name];
        GradCheck.Assert(x => f(Input.Strided(x[0])), [Leaf(domain, 5, 2, 3, 4)]);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Scalar(string name)
    {
        var (f, domain) = Ops[name];
        GradCheck.Assert(x => f(x[0]), [Leaf(domain, 6)]);
    }

    [Fact]
    public void Composition()
        => GradCheck.Assert(x => (x[0].Sigmoid() * x[0].Tanh() + x[0].Silu().Square()).Exp().AddScalar(1f).Log().Sqrt(),
            [Input.Randn(7, 4, 4)]);

    [Fact]
    public void PowAtZero()
    {
        // As torch: x⁰ has gradient 0 everywhere, x¹ gradient 1, x² gradient 2x — also at x = 0.
        foreach (var (p, expected) in new[] { (0f, 0f), (1f, 1f), (2f, 0f) })
        {
            var x = Tensor.Zeros([3], requiresGrad: true);
            x.Pow(p).Sum().Backward();
            Assert.All(x.Grad!.ToFloatArray(), v => Assert.Equal(expected, v));
        }
    }

    [Fact]
    public void ReluPassesGradientOnlyWherePositive()
    {
        var x = Input.AwayFromZero(8, 0.2f, 5, 4);
        x.Relu().Sum().Backward();
        var v = x.ToFloatArray();
        Assert.Equal(Array.ConvertAll(v, e => e > 0 ? 1f : 0f), x.Grad!.ToFloatArray());
    }
}
