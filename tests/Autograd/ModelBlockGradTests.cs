using RawLongLoRA;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The ops composed as a Llama decoder layer and LM head (tiny sizes), checked by finite differences
/// for every parameter: the seams between ops (views between heads and tokens, shared inputs, residuals)
/// are where single-op tests see nothing.
/// </summary>
public class ModelBlockGradTests
{
    private const int Vocab = 7, Dim = 8, Heads = 2, KvHeads = 1, HeadDim = 4, Hidden = 6, Tokens = 4;

    private static (Tensor Cos, Tensor Sin) Tables()
    {
        var cos = new float[16 * HeadDim / 2];
        var sin = new float[16 * HeadDim / 2];
        for (int p = 0; p < 16; p++)
            for (int i = 0; i < HeadDim / 2; i++)
            {
                double angle = p / Math.Pow(10000.0, 2.0 * i / HeadDim);
                cos[p * HeadDim / 2 + i] = (float)Math.Cos(angle);
                sin[p * HeadDim / 2 + i] = (float)Math.Sin(angle);
            }
        return (Tensor.FromArray(cos, [16, HeadDim / 2]), Tensor.FromArray(sin, [16, HeadDim / 2]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void DecoderLayerAndHead(int groupSize)
    {
        var (cos, sin) = Tables();
        using var ids = Tensor.FromArray(new long[] { 3, 1, 3, 6, 0, 2, 2, 5 }, [2, Tokens]);
        using var positions = Tensor.FromArray(new long[] { 0, 1, 2, 3, 5, 6, 7, 8 }, [2, Tokens]);
        using var targets = Tensor.FromArray(new long[] { 1, 3, 6, -100, 2, 2, 5, 4 });
        var spec = new AttentionSpec { GroupSize = groupSize };
        Tensor[] p =
        [
            Input.Randn(1, Vocab, Dim),                    // 0 embed_tokens
            Input.Uniform(2, 0.5f, 1.5f, Dim),             // 1 input_layernorm
            Input.Randn(3, Heads * HeadDim, Dim),          // 2 q_proj
            Input.Randn(4, KvHeads * HeadDim, Dim),        // 3 k_proj
            Input.Randn(5, KvHeads * HeadDim, Dim),        // 4 v_proj
            Input.Randn(6, Dim, Heads * HeadDim),          // 5 o_proj
            Input.Uniform(7, 0.5f, 1.5f, Dim),             // 6 post_attention_layernorm
            Input.Randn(8, 2 * Hidden, Dim),               // 7 gate_up (fused, split by narrow)
            Input.Randn(9, Dim, Hidden),                   // 8 down_proj
            Input.Uniform(10, 0.5f, 1.5f, Dim),            // 9 norm
        ];
        foreach (var t in p)
            using (Autograd.NoGrad())
                t.CopyFrom(t * 0.5f);
        Tensor Loss(Tensor[] w)
        {
            var h = w[0].Embedding(ids);                                            // [B, T, D]
            var x = h.RmsNorm(w[1], 1e-6f);
            var q = x.Linear(w[2]).Reshape(2, Tokens, Heads, HeadDim).Rope(cos, sin, positions);
            var k = x.Linear(w[3]).Reshape(2, Tokens, KvHeads, HeadDim).Rope(cos, sin, positions);
            var v = x.Linear(w[4]).View(2, Tokens, KvHeads, HeadDim);
            var a = q.Attention(k, v, spec).Reshape(2, Tokens, Heads * HeadDim);
            h = h + a.Linear(w[5]);
            var gu = h.RmsNorm(w[6], 1e-6f).Linear(w[7]);
            h = h + gu.Narrow(-1, 0, Hidden).SwiGlu(gu.Narrow(-1, Hidden, Hidden)).Linear(w[8]);
            var logits = h.RmsNorm(w[9], 1e-6f).Linear(w[0]);                       // tied head
            return logits.Reshape(-1, Vocab).CrossEntropy(targets);
        }
        GradCheck.Assert(Loss, p, maxProbes: 12);
    }
}
