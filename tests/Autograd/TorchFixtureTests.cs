using RawLongLoRA;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Every op against PyTorch (tests/reference/ops.safetensors, made by tests/reference/make_ops.py in
/// float64): the output and the input gradients for a fixed upstream gradient, by normalised max error,
/// with the inputs contiguous, strided (last dim stride 2) and column-major. A key the test expects and
/// the file lacks fails the test.
/// </summary>
public class TorchFixtureTests
{
    internal static readonly SafeTensorsFile Fx = new(Path.Combine(AppContext.BaseDirectory, "reference", "ops.safetensors"));

    /// <summary>A stored tensor as a leaf that wants a gradient (zero-copy over the mapped file).</summary>
    internal static Tensor Leaf(string key)
    {
        var t = Fx.Load(key);
        t.RequiresGrad = true;
        return t;
    }

    private static float[] Floats(string key)
    {
        using var t = Fx.Load(key);
        return t.ToFloatArray();
    }

    private static T[] Values<T>(string key) where T : unmanaged
    {
        using var t = Fx.Load(key);
        return t.ToArray<T>();
    }

    /// <summary>Differentiable inputs (they get gradients), constants (ids, tables; loaded as stored), the op, the tolerance.</summary>
    internal sealed record Case(string[] Inputs, string[] Constants, Func<Tensor[], Tensor[], Tensor> Run, double Tolerance = 1e-5);

    private static Case Unary(Func<Tensor, Tensor> f) => new(["x"], [], (x, _) => f(x[0]));

    private static Case Binary(Func<Tensor, Tensor, Tensor> f) => new(["a", "b"], [], (x, _) => f(x[0], x[1]));

    private static Case Attention(string name)
    {
        var spec = Values<long>(name + ".spec");
        var attention = new AttentionSpec
        {
            GroupSize = (int)spec[0],
            QueryStart = (int)spec[1],
            Scale = Fx.Contains(name + ".scale") ? Floats(name + ".scale")[0] : float.NaN,
        };
        int[]? starts = Fx.Contains(name + ".sequence_starts") ? Array.ConvertAll(Values<long>(name + ".sequence_starts"), v => (int)v) : null;
        // The starts index the B · S stream of the keys' rows (the queries end where the keys do).
        return new(["q", "k", "v"], [], (x, _) => x[0].Attention(x[1], x[2],
            starts is null ? attention : attention with { SequenceStarts = PackedStarts.Of(starts, (long)x[1].Shape[0] * x[1].Shape[1]) }), 1e-5);
    }

    internal static readonly Dictionary<string, Case> Cases = new()
    {
        ["add"] = Binary((a, b) => a + b),
        ["sub"] = Binary((a, b) => a - b),
        ["mul"] = Binary((a, b) => a * b),
        ["div"] = Binary((a, b) => a / b),
        ["scalar_ops"] = Unary(x => (2f - x * 3f + x / 4f - 0.5f) / (1.5f + x * x) * 0.25f + 1f / (2f + x * x)),
        ["neg"] = Unary(x => -x),
        ["exp"] = Unary(x => x.Exp()),
        ["log"] = Unary(x => x.Log()),
        ["sqrt"] = Unary(x => x.Sqrt()),
        ["rsqrt"] = Unary(x => x.Rsqrt()),
        ["reciprocal"] = Unary(x => x.Reciprocal()),
        ["sigmoid"] = Unary(x => x.Sigmoid()),
        ["silu"] = Unary(x => x.Silu()),
        ["tanh"] = Unary(x => x.Tanh()),
        ["relu"] = Unary(x => x.Relu()),
        ["square"] = Unary(x => x.Square()),
        ["pow"] = Unary(x => x.Pow(2.5f)),
        ["scale"] = Unary(x => x.Scale(0.7f)),
        ["add_scalar"] = Unary(x => x.AddScalar(1.5f)),
        ["matmul_2d"] = Binary((a, b) => a.MatMul(b)),
        ["matmul_nd_2d"] = Binary((a, b) => a.MatMul(b)),
        ["matmul_3d"] = Binary((a, b) => a.MatMul(b)),
        ["matmul_4d"] = Binary((a, b) => a.MatMul(b)),
        ["linear"] = new(["input", "weight", "bias"], [], (x, _) => x[0].Linear(x[1], x[2])),
        ["linear_nobias"] = new(["input", "weight"], [], (x, _) => x[0].Linear(x[1])),
        ["sum_dim"] = Unary(x => x.Sum([1])),
        ["sum_keepdim"] = Unary(x => x.Sum([0, 2], keepDim: true)),
        ["sum_all"] = Unary(x => x.Sum()),
        ["mean_dim"] = Unary(x => x.Mean([-1])),
        ["mean_keepdim"] = Unary(x => x.Mean([0, 1], keepDim: true)),
        ["mean_all"] = Unary(x => x.Mean()),
        ["view_chain"] = Unary(x => x.Permute(2, 0, 1).Reshape(4, 6).Narrow(1, 1, 4).Transpose(0, 1).Unsqueeze(0).Expand(2, 4, 4).Flatten(1)),
        ["cat"] = new(["a", "b", "c"], [], (x, _) => Cat.Concat(1, x)),
        ["softmax"] = Unary(x => x.Softmax()),
        ["rms_norm"] = new(["x", "weight"], [], (x, _) => x[0].RmsNorm(x[1], 1e-6f)),
        ["rope"] = new(["x"], ["cos", "sin", "positions"], (x, c) => x[0].Rope(c[0], c[1], c[2])),
        ["swiglu"] = new(["gate", "up"], [], (x, _) => x[0].SwiGlu(x[1])),
        ["embedding"] = new(["weight"], ["ids"], (x, c) => x[0].Embedding(c[0])),
        ["cross_entropy"] = new(["logits"], ["targets"], (x, c) => x[0].CrossEntropy(c[0])),
        ["to_bf16"] = Unary(x => x.To(DType.BF16)),
        ["to_f16"] = Unary(x => x.To(DType.F16)),
        ["attn_causal"] = Attention("attn_causal"),
        ["attn_gqa"] = Attention("attn_gqa"),
        ["attn_s2"] = Attention("attn_s2"),
        ["attn_varlen"] = Attention("attn_varlen"),
        ["attn_kv_offset"] = Attention("attn_kv_offset"),
        ["attn_s2_varlen_gqa"] = Attention("attn_s2_varlen_gqa"),
    };

    public enum InputLayout
    {
        Contiguous,
        Strided,
        ColumnMajor,
    }

    public static TheoryData<string, InputLayout> CaseNames()
    {
        var data = new TheoryData<string, InputLayout>();
        foreach (var name in Cases.Keys)
            foreach (var layout in Enum.GetValues<InputLayout>())
                data.Add(name, layout);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesTorch(string name, InputLayout layout)
    {
        using var scope = new DisposeScope();
        var c = Cases[name];
        var leaves = c.Inputs.Select(i => Leaf($"{name}.{i}")).ToArray();
        var constants = c.Constants.Select(i => Fx.Load($"{name}.{i}")).ToArray();
        var inputs = leaves.Select(t => layout switch
        {
            InputLayout.Strided => Input.Strided(t),
            InputLayout.ColumnMajor when t.Rank >= 2 && t.Shape[^1] > 1 && t.Shape[^2] > 1 => Input.ColumnMajor(t),
            InputLayout.ColumnMajor => Input.Strided(t),
            _ => t,
        }).ToArray();
        if (layout != InputLayout.Contiguous)
            Assert.All(inputs.Where(t => t.Rank >= 1 && t.Numel > 1), t => Assert.False(t.IsContiguous));

        var y = c.Run(inputs, constants);
        Assert.Equal(Fx.Info($"{name}.out").Shape, y.ShapeArray);
        Approx.Close(Floats($"{name}.out"), y, c.Tolerance, $"{name}.out");
        y.Backward(Fx.Load($"{name}.grad_out"));
        for (int i = 0; i < leaves.Length; i++)
        {
            string key = $"{name}.grad.{c.Inputs[i]}";
            Assert.True(leaves[i].Grad is not null, $"{key}: no gradient");
            Assert.Equal(Fx.Info(key).Shape, leaves[i].Grad!.ShapeArray);
            Approx.Close(Floats(key), leaves[i].Grad!, c.Tolerance, key);
        }
    }

    [Fact]
    public void EveryFixtureCaseIsTested()
    {
        var inFile = Fx.Names.Select(k => k[..k.IndexOf('.')]).Where(k => k != "convert").ToHashSet();
        Assert.Empty(inFile.Except(Cases.Keys));
        Assert.Empty(Cases.Keys.Except(inFile));
    }

    // ---- dtype conversions: round to nearest even, as torch

    private static float[] ConvertValues => Floats("convert.f32");

    /// <summary>Bit patterns equal, except that any NaN matches any NaN (torch drops a NaN's sign into bf16).</summary>
    private static void SameBits(ushort[] expected, ushort[] actual, float[] source, DType dtype)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool bothNaN = IsNaN(expected[i], dtype) && IsNaN(actual[i], dtype);
            Assert.True(bothNaN || expected[i] == actual[i],
                $"{source[i]:R} (0x{BitConverter.SingleToUInt32Bits(source[i]):X8}) to {dtype.TorchName()}: torch 0x{expected[i]:X4}, ours 0x{actual[i]:X4}");
        }
    }

    private static bool IsNaN(ushort bits, DType dtype)
        => dtype == DType.BF16 ? float.IsNaN(Numerics.Bf16ToFloat(bits)) : float.IsNaN(Numerics.F16ToFloat(bits));

    [Theory]
    [InlineData(DType.BF16, "convert.bf16")]
    [InlineData(DType.F16, "convert.f16")]
    public void FloatToHalfMatchesTorch(DType dtype, string key)
    {
        var values = ConvertValues;
        Assert.Equal(dtype, Fx.Info(key).DType);
        var expected = Values<ushort>(key);
        using var x = Tensor.FromArray(values);
        using var h = x.To(dtype);
        SameBits(expected, h.ToArray<ushort>(), values, dtype);
        // Strided source: the element-by-element path.
        var pairs = new float[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
            pairs[2 * i + 1] = values[i];
        using var buffer = Tensor.FromArray(pairs, [values.Length, 2]);
        using var strided = buffer.Narrow(1, 1, 1).Squeeze(1);
        Assert.False(strided.IsContiguous);
        using var hs = strided.To(dtype);
        SameBits(expected, hs.ToArray<ushort>(), values, dtype);
        // Strided destination.
        using var dst = Tensor.Zeros([2, values.Length], dtype);
        using var row = dst.Transpose(0, 1).Narrow(1, 1, 1).Squeeze(1);
        row.CopyFrom(x);
        SameBits(expected, row.ToArray<ushort>(), values, dtype);
        // The scalar conversions.
        var scalar = Array.ConvertAll(values, v => dtype == DType.BF16 ? Numerics.FloatToBf16(v) : Numerics.FloatToF16(v));
        SameBits(expected, scalar, values, dtype);
    }

    [Theory]
    [InlineData(DType.BF16, "convert.bf16", "convert.bf16_to_f32")]
    [InlineData(DType.F16, "convert.f16", "convert.f16_to_f32")]
    public void HalfToFloatMatchesTorch(DType dtype, string bitsKey, string floatKey)
    {
        var bits = Values<ushort>(bitsKey);
        var expected = Floats(floatKey);
        using var h = Tensor.FromBits(bits, [bits.Length], dtype);
        var actual = h.To(DType.F32).ToFloatArray();
        using var hs = h.Unsqueeze(1).Expand(bits.Length, 3).Narrow(1, 2, 1).Squeeze(1);
        var strided = hs.ToFloatArray();
        for (int i = 0; i < bits.Length; i++)
        {
            if (float.IsNaN(expected[i]))
            {
                Assert.True(float.IsNaN(actual[i]) && float.IsNaN(strided[i]));
                continue;
            }
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected[i]), BitConverter.SingleToUInt32Bits(actual[i]));
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected[i]), BitConverter.SingleToUInt32Bits(strided[i]));
        }
    }
}
