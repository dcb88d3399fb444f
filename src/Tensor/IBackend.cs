namespace RawLongLoRA;

/// <summary>
/// The closed list of primitives every device implements. Outputs are allocated by the caller and
/// passed first; the backend checks what it relies on and throws naming the op, the shapes and the
/// dtypes. Floating-point math is float32 (BF16/F16 are accepted where weights come in those types:
/// Copy, Gemm operands, embedding and RMSNorm weights). Row kernels want their last dim contiguous;
/// Copy, Fill, Unary, Binary, Reduce and Gemm take any strides.
/// </summary>
public interface IBackend
{
    /// <summary>The device whose memory this backend allocates and computes on.</summary>
    Device Device { get; }

    /// <summary>Uninitialised memory for <paramref name="bytes"/> bytes.</summary>
    Storage Allocate(long bytes);

    /// <summary>
    /// Takes back <paramref name="storage"/>, which this device's <see cref="Allocate"/> made, once its last reference is
    /// gone (<see cref="Storage.Release"/> calls it): the CPU returns the block to its cache at once; a GPU backend
    /// may keep it until the work queued before has run, then reuse it.
    /// </summary>
    void Free(Storage storage);

    /// <summary>Waits until queued work is done (a no-op on the CPU; timing on a GPU needs it).</summary>
    void Synchronize();

    // ---- data movement
    /// <summary>dst = src, same shape, any strides; converts dtype (round to nearest even into BF16/F16).</summary>
    void Copy(Tensor dst, Tensor src);

    /// <summary>
    /// Sets every element of <paramref name="dst"/> (any strides, any dtype) to <paramref name="value"/>, converted
    /// to its dtype.
    /// </summary>
    void Fill(Tensor dst, double value);

    /// <summary>
    /// Philox4x32-10 numbers into a contiguous F32 tensor: element i comes from counter block
    /// offset + i/4, word i%4, key = seed — the same stream on every device.
    /// </summary>
    void Random(Tensor dst, RandomKind kind, ulong seed, ulong offset, float a, float b);

    // ---- linear algebra
    /// <summary>
    /// c = alpha · a @ b + beta · c over the last two dims; rank 2, or rank 3 with a batch dim
    /// (stride 0 broadcasts). Transposes are views: an operand may have either of its last two
    /// strides equal to 1. Computes at the calling thread's <see cref="Autocast"/> precision.
    /// </summary>
    void Gemm(Tensor c, Tensor a, Tensor b, float alpha = 1f, float beta = 0f);

    // ---- elementwise
    /// <summary>
    /// dst = op(src) elementwise, same shape, any strides; <paramref name="alpha"/> is the scalar of Scale, AddScalar
    /// and Pow. dst may be src (in place).
    /// </summary>
    void Unary(UnaryOp op, Tensor dst, Tensor src, float alpha = 0f);

    /// <summary>dst = a (op) b with a and b broadcast to dst's shape.</summary>
    void Binary(BinaryOp op, Tensor dst, Tensor a, Tensor b);

    /// <summary>
    /// Reduces src into dst, which has src's rank with size 1 in every reduced dim (keepdim form).
    /// ArgMax reduces one dim into an I64 dst.
    /// </summary>
    void Reduce(ReduceOp op, Tensor dst, Tensor src);

    // ---- row kernels (rows are the last dim)
    /// <summary>Softmax of each row (the last dim) of x into y.</summary>
    void Softmax(Tensor y, Tensor x);
    /// <summary>The softmax gradient from its output: dx = y · (dy − Σ dy·y) per row.</summary>
    void SoftmaxBackward(Tensor dx, Tensor y, Tensor dy);

    /// <summary>y = x · rsqrt(mean(x²) + eps) · weight over rows of x [N, D]; rstd [N] kept for backward.</summary>
    void RmsNorm(Tensor y, Tensor rstd, Tensor x, Tensor weight, float eps);

    /// <summary>dx written; dweight (if given) written with the sum over rows.</summary>
    void RmsNormBackward(Tensor dx, Tensor? dweight, Tensor dy, Tensor x, Tensor weight, Tensor rstd);

    /// <summary>
    /// Rotary embedding in HF's rotate-half layout on x [N, H, D]: token n uses row positions[n] of
    /// cos/sin [P, D/2]. inverse rotates by −θ, which is the backward. y may alias x.
    /// </summary>
    void Rope(Tensor y, Tensor x, Tensor cos, Tensor sin, Tensor positions, bool inverse);

    /// <summary>y = silu(gate) · up.</summary>
    void SwiGlu(Tensor y, Tensor gate, Tensor up);
    /// <summary>The SwiGLU gradients: dgate = dy · up · silu'(gate) and dup = dy · silu(gate).</summary>
    void SwiGluBackward(Tensor dgate, Tensor dup, Tensor dy, Tensor gate, Tensor up);

    /// <summary>y [N, D] = weight[ids[n]]; ids [N] I32/I64.</summary>
    void EmbeddingGather(Tensor y, Tensor weight, Tensor ids);

    /// <summary>dweight [V, D] += dy[n] at row ids[n].</summary>
    void EmbeddingScatterAdd(Tensor dweight, Tensor dy, Tensor ids);

    /// <summary>
    /// Folds one vocabulary chunk of logits [N, C] (columns vocabStart … vocabStart + C − 1) into the
    /// running per-row log-sum-exp lse [N] (start it at −∞), and copies the target's logit into
    /// targetLogit [N] for rows whose target falls in the chunk. The loss is lse − targetLogit; the
    /// full [N × V] logits never need to exist at once.
    /// </summary>
    void CrossEntropy(Tensor lse, Tensor targetLogit, Tensor logits, Tensor targets, int vocabStart);

    /// <summary>dlogits [N, C] = (exp(logits − lse) − onehot(target − vocabStart)) · dloss[n]; rows with dloss 0 get 0.</summary>
    void CrossEntropyBackward(Tensor dlogits, Tensor dloss, Tensor logits, Tensor lse, Tensor targets, int vocabStart);

    /// <summary>
    /// Causal attention o [B, T, Hq, D] from q [B, T, Hq, D], k and v [B, S, Hkv, D] (Hq a multiple of
    /// Hkv: grouped-query heads share K/V), with the masks of <paramref name="spec"/>; lse [B, Hq, T]
    /// is kept for backward.
    /// </summary>
    void AttentionForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec);

    /// <summary>
    /// The gradients dq, dk, dv of <see cref="AttentionForward"/> from dout, the forward's inputs, its output o and
    /// its lse, with the same masks. dk and dv are summed over the query heads that share a key/value head. dlse
    /// [B, Hq, T], where given, is the gradient of lse as an output too (a part that is merged).
    /// </summary>
    void AttentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, AttentionSpec spec, Tensor? dlse = null);

    /// <summary>
    /// Merges two parts of one attention over disjoint sets of keys by the online-softmax rule: lse =
    /// log(e^lseA + e^lseB), o = e^(lseA − lse)·oA + e^(lseB − lse)·oB; o like q [B, T, Hq, D], lse [B, Hq, T]. A
    /// part with lse = −∞ (no key seen) weighs 0; if both are, o = 0 and lse = −∞.
    /// </summary>
    void AttentionMerge(Tensor o, Tensor lse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB);

    /// <summary>
    /// The gradients of <see cref="AttentionMerge"/>'s parts from those of its result (dlse null = 0): with wA =
    /// e^(lseA − lse), doA = wA·dout and dlseA = wA·(dlse + rowsum(dout ∘ (oA − o))); the same for B.
    /// </summary>
    void AttentionMergeBackward(Tensor doA, Tensor dlseA, Tensor doB, Tensor dlseB, Tensor dout, Tensor? dlse, Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse);

    /// <summary>One AdamW step in place on param, m and v (float32), as torch.optim.AdamW.</summary>
    void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step);
}

/// <summary>
/// The distribution of <see cref="IBackend.Random"/>; its two parameters a and b mean what each member says.
/// </summary>
public enum RandomKind : byte
{
    /// <summary>Uniform on [a, b).</summary>
    Uniform,

    /// <summary>Normal with mean a and standard deviation b.</summary>
    Normal,

    /// <summary>1 with probability a, else 0.</summary>
    Bernoulli,
}

/// <summary>The pointwise ops of <see cref="IBackend.Unary"/>; the autograd ops build on them.</summary>
public enum UnaryOp : byte
{
    /// <summary>−x</summary>
    Neg,
    /// <summary>eˣ</summary>
    Exp,
    /// <summary>ln x</summary>
    Log,
    /// <summary>√x</summary>
    Sqrt,
    /// <summary>1 / √x</summary>
    Rsqrt,
    /// <summary>1 / x</summary>
    Reciprocal,
    /// <summary>1 / (1 + e⁻ˣ)</summary>
    Sigmoid,
    /// <summary>x · sigmoid(x), the SiLU (swish) of Llama's MLP.</summary>
    Silu,
    /// <summary>tanh x</summary>
    Tanh,
    /// <summary>max(x, 0)</summary>
    Relu,
    /// <summary>|x|</summary>
    Abs,
    /// <summary>x²</summary>
    Square,

    /// <summary>alpha · x</summary>
    Scale,

    /// <summary>x + alpha</summary>
    AddScalar,

    /// <summary>x ^ alpha</summary>
    Pow,
}

/// <summary>
/// The elementwise two-input ops of <see cref="IBackend.Binary"/>, with broadcasting; the *Backward members fuse an
/// activation's gradient.
/// </summary>
public enum BinaryOp : byte
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a − b</summary>
    Sub,
    /// <summary>a · b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
    /// <summary>max(a, b)</summary>
    Maximum,
    /// <summary>min(a, b)</summary>
    Minimum,

    /// <summary>b · silu'(a): the gradient of silu at a, times the incoming gradient b.</summary>
    SiluBackward,

    /// <summary>b · a(1 − a): the gradient of sigmoid given its output a.</summary>
    SigmoidBackward,

    /// <summary>b · (1 − a²): the gradient of tanh given its output a.</summary>
    TanhBackward,

    /// <summary>b where a &gt; 0, else 0.</summary>
    ReluBackward,
}

/// <summary>The reductions of <see cref="IBackend.Reduce"/>.</summary>
public enum ReduceOp : byte
{
    /// <summary>Σ over the reduced dims.</summary>
    Sum,
    /// <summary>The mean over the reduced dims.</summary>
    Mean,
    /// <summary>The largest element over the reduced dims.</summary>
    Max,
    /// <summary>The smallest element over the reduced dims.</summary>
    Min,
    /// <summary>The index (I64) of the largest element along one dim; the first one on ties.</summary>
    ArgMax,
    /// <summary>Σ x² over the reduced dims, without a squared copy: gradient norms for clipping, on the device.</summary>
    SumOfSquares,
}

/// <summary>
/// The masks of the one attention kernel, all causal, by absolute position, so that a call may cover any
/// block of a row: its queries sit at positions [<see cref="QueryStart"/>, QueryStart + T), its keys at
/// [<see cref="KeyStart"/>, KeyStart + S). The query at position p sees the keys at positions [lo, p], where lo
/// is the largest of: 0; the start of its packed sequence (<see cref="SequenceStarts"/>); the start of its
/// S2-Attn group (<see cref="GroupSize"/>). S2-Attn follows LongLoRA's flash-attn form: heads [0, H/2) of all
/// H heads use groups [kG, (k+1)G), heads [H/2, H) groups shifted by G/2 — [0, G/2), [G/2, 3G/2), … — with no
/// wrap-around; a call holding some of the heads says which (<see cref="HeadStart"/>, <see cref="TotalHeads"/>).
/// A query that sees no key of the call gets o = 0 and lse = −∞: it merges as an empty part.
/// </summary>
public sealed record AttentionSpec
{
    /// <summary>Softmax scale; NaN means 1/√D.</summary>
    public float Scale { get; init; } = float.NaN;

    /// <summary>Position of the call's first query in its row (with a KV cache: the tokens cached before it).</summary>
    public int QueryStart { get; init; }

    /// <summary>Position of the call's first key in its row.</summary>
    public int KeyStart { get; init; }

    /// <summary>
    /// Tokens in a whole row, the stream <see cref="SequenceStarts"/> indexes (B · RowLength) and S2-Attn's
    /// groups divide; 0 = the call's positions end the row: the later of QueryStart + T and KeyStart + S.
    /// </summary>
    public int RowLength { get; init; }

    /// <summary>S2-Attn group size G (0 = off). Must be even and divide the row length.</summary>
    public int GroupSize { get; init; }

    /// <summary>
    /// Packed samples: an I32 [n] tensor on the operands' device of strictly ascending indices into the flattened
    /// B · RowLength token stream where a sequence begins (as flash-attn's cu_seqlens without the final total); every
    /// row start is a start too. Null = one sequence per row. Made once per batch by <see cref="PackedStarts.Of"/>,
    /// which checks the values on the host; kernels check its dtype, rank and device. The CPU kernel reads it to build
    /// each query's key lower bound per call; a GPU kernel finds a query's sequence by binary search in it per tile,
    /// as flash-attn does in cu_seqlens, with no copy to the host.
    /// </summary>
    public Tensor? SequenceStarts { get; init; }

    /// <summary>Global index of the call's first query head, which decides the S2-Attn half of its heads.</summary>
    public int HeadStart { get; init; }

    /// <summary>Query heads of the whole model layer (0 = the call's Hq: it holds them all).</summary>
    public int TotalHeads { get; init; }

    /// <summary>Plain causal attention over one sequence per row, scale 1/√D.</summary>
    public static readonly AttentionSpec Causal = new();

    /// <summary>
    /// The softmax scale for heads of <paramref name="headDim"/> dims: <see cref="Scale"/>, or 1/√headDim when it is
    /// NaN.
    /// </summary>
    public float ScaleFor(int headDim) => float.IsNaN(Scale) ? 1f / MathF.Sqrt(headDim) : Scale;
}

/// <summary>
/// One AdamW update's hyper-parameters; Step counts from 1 (bias correction). Double, as torch's Python
/// floats are: 1 − β2 from 0.999 is 0.001, from 0.999f it is 1.3e-5 off.
/// </summary>
public readonly record struct AdamWStep(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, int Step);
