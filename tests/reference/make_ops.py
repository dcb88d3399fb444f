#!/usr/bin/env python3
"""PyTorch reference values for the autograd ops, read by tests/Autograd/TorchFixtureTests.cs.

Regenerate from the repository root with Debian's python3-torch (no other package needed):

    /usr/bin/python3 tests/reference/make_ops.py

It rewrites tests/reference/ops.safetensors, byte for byte the same on a re-run (fixed seeds, sorted
keys). Commit the file: the tests read it and need no Python.

Each op case `<case>` stores its inputs `<case>.<input>` (float32; ids, targets and positions as
int64), the output `<case>.out`, a fixed random upstream gradient `<case>.grad_out` and the input
gradients `<case>.grad.<input>`. Inputs are drawn, rounded to float32, and everything after that is
computed in float64 from the rounded values with the PyTorch formulation a user would compare with,
then stored as float32. Attention cases add `<case>.spec` = [GroupSize, QueryStart] (int64) and, where
used, `<case>.sequence_starts` and `<case>.scale`; their masks are built from the AttentionSpec
definition in src/Tensor/IBackend.cs (torch 1.13 has no scaled_dot_product_attention, so the
attention is written out: softmax(q k^T * scale + mask) v, GQA by repeat_interleave of K/V heads).
`convert.*` holds float32 values and torch's bfloat16 / float16 roundings
of them (round to nearest even), for the dtype conversion tests.
"""

import json
import math
import os
import struct
import zlib

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.safetensors")
F64 = torch.float64

tensors = {}


def gen_for(name):
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def randn(g, *shape):
    return torch.randn(tuple(shape), generator=g, dtype=F64).float().double()


def uniform(g, lo, hi, *shape):
    return (torch.rand(tuple(shape), generator=g, dtype=F64) * (hi - lo) + lo).float().double()


def put(key, t):
    assert key not in tensors, key
    tensors[key] = t.detach().clone().contiguous()


def case(name, fn, inputs, constants=(), grad_out_dtype=None):
    """Runs fn(**inputs) in float64; float inputs not in constants get gradients."""
    g = gen_for(name + "/grad_out")
    leaves = {}
    inputs = {k: v.float().double() if v.is_floating_point() else v for k, v in inputs.items()}  # exact in float32
    for k, v in inputs.items():
        if v.is_floating_point() and k not in constants:
            leaves[k] = v.clone().requires_grad_(True)
        else:
            leaves[k] = v
    out = fn(**leaves)
    grad_out = randn(g, *out.shape)
    if grad_out_dtype is not None:
        grad_out = grad_out.to(grad_out_dtype).double()
    out.backward(grad_out)
    for k, v in inputs.items():
        put(f"{name}.{k}", v.float() if v.is_floating_point() else v.long())
        if leaves[k].requires_grad:
            put(f"{name}.grad.{k}", leaves[k].grad.float())
    put(f"{name}.out", out.float())
    put(f"{name}.grad_out", grad_out.float())


# ---------------------------------------------------------------- arithmetic and pointwise

def arithmetic():
    g = gen_for("arithmetic")
    case("add", lambda a, b: a + b, {"a": randn(g, 3, 4), "b": randn(g, 4)})
    case("sub", lambda a, b: a - b, {"a": randn(g, 3, 1), "b": randn(g, 1, 4)})
    case("mul", lambda a, b: a * b, {"a": randn(g, 2, 3, 4), "b": randn(g, 3, 1)})
    case("div", lambda a, b: a / b, {"a": randn(g, 3, 4), "b": uniform(g, 0.5, 2.0, 1, 4)})
    case("scalar_ops", lambda x: (2.0 - x * 3.0 + x / 4.0 - 0.5) / (1.5 + x * x) * 0.25 + 1.0 / (2.0 + x * x),
         {"x": randn(g, 3, 4)})


def pointwise():
    g = gen_for("pointwise")
    pos = lambda: uniform(g, 0.5, 2.0, 3, 5)
    away_from_zero = lambda: torch.sign(randn(g, 3, 5)) * uniform(g, 0.2, 2.0, 3, 5)
    case("neg", lambda x: -x, {"x": randn(g, 3, 5)})
    case("exp", lambda x: torch.exp(x), {"x": randn(g, 3, 5)})
    case("log", lambda x: torch.log(x), {"x": pos()})
    case("sqrt", lambda x: torch.sqrt(x), {"x": pos()})
    case("rsqrt", lambda x: torch.rsqrt(x), {"x": pos()})
    case("reciprocal", lambda x: torch.reciprocal(x), {"x": pos()})
    case("sigmoid", lambda x: torch.sigmoid(x), {"x": randn(g, 3, 5) * 3})
    case("silu", lambda x: F.silu(x), {"x": randn(g, 3, 5) * 3})
    case("tanh", lambda x: torch.tanh(x), {"x": randn(g, 3, 5)})
    case("relu", lambda x: F.relu(x), {"x": away_from_zero()})
    case("square", lambda x: torch.square(x), {"x": randn(g, 3, 5)})
    case("pow", lambda x: torch.pow(x, 2.5), {"x": pos()})
    case("scale", lambda x: x * 0.7, {"x": randn(g, 3, 5)})
    case("add_scalar", lambda x: x + 1.5, {"x": randn(g, 3, 5)})


# ---------------------------------------------------------------- linear algebra

def linear_algebra():
    g = gen_for("linear_algebra")
    case("matmul_2d", lambda a, b: torch.matmul(a, b), {"a": randn(g, 3, 4), "b": randn(g, 4, 5)})
    case("matmul_nd_2d", lambda a, b: torch.matmul(a, b), {"a": randn(g, 2, 3, 4), "b": randn(g, 4, 5)})
    case("matmul_3d", lambda a, b: torch.matmul(a, b), {"a": randn(g, 2, 3, 4), "b": randn(g, 2, 4, 5)})
    case("matmul_4d", lambda a, b: torch.matmul(a, b), {"a": randn(g, 2, 2, 3, 4), "b": randn(g, 2, 2, 4, 5)})
    case("linear", lambda input, weight, bias: F.linear(input, weight, bias), {"input": randn(g, 2, 3, 4), "weight": randn(g, 5, 4), "bias": randn(g, 5)})
    case("linear_nobias", lambda input, weight: F.linear(input, weight), {"input": randn(g, 3, 4), "weight": randn(g, 5, 4)})


# ---------------------------------------------------------------- reductions, views, softmax

def reductions_and_views():
    g = gen_for("reductions")
    case("sum_dim", lambda x: x.sum(1), {"x": randn(g, 2, 3, 4)})
    case("sum_keepdim", lambda x: x.sum((0, 2), keepdim=True), {"x": randn(g, 2, 3, 4)})
    case("sum_all", lambda x: x.sum(), {"x": randn(g, 2, 3, 4)})
    case("mean_dim", lambda x: x.mean(-1), {"x": randn(g, 2, 3, 4)})
    case("mean_keepdim", lambda x: x.mean((0, 1), keepdim=True), {"x": randn(g, 2, 3, 4)})
    case("mean_all", lambda x: x.mean(), {"x": randn(g, 2, 3, 4)})
    # permute -> reshape (copies) -> narrow -> transpose -> unsqueeze -> expand -> flatten
    case("view_chain",
         lambda x: x.permute(2, 0, 1).reshape(4, 6)[:, 1:5].t().unsqueeze(0).expand(2, 4, 4).flatten(1),
         {"x": randn(g, 2, 3, 4)})
    case("cat", lambda a, b, c: torch.cat([a, b, c], dim=1), {"a": randn(g, 2, 3), "b": randn(g, 2, 2), "c": randn(g, 2, 1)})
    x = randn(g, 3, 6)
    x[1, 2] = 30.0  # a large logit: the max subtraction matters
    case("softmax", lambda x: F.softmax(x, dim=-1), {"x": x})


# ---------------------------------------------------------------- the model's fused ops

def rms_norm_hf(x, weight, eps):
    # Hugging Face LlamaRMSNorm (torch 1.13 has no F.rms_norm)
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def model_ops():
    g = gen_for("model_ops")
    case("rms_norm", lambda x, weight: rms_norm_hf(x, weight, 1e-6),
         {"x": randn(g, 2, 3, 8), "weight": uniform(g, 0.5, 1.5, 8)})

    # RoPE, HF rotate-half: tables [P, D/2] from inv_freq; x [B, T, H, D], one position per token.
    d, p = 8, 16
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=F64) / d))
    freqs = torch.outer(torch.arange(p, dtype=F64), inv_freq)
    cos, sin = freqs.cos().float().double(), freqs.sin().float().double()
    positions = torch.tensor([[5, 2, 9], [15, 0, 7]], dtype=torch.int64)

    def rope(x, cos, sin, positions):
        c = torch.cat((cos, cos), dim=-1)[positions].unsqueeze(-2)  # [B, T, 1, D]
        s = torch.cat((sin, sin), dim=-1)[positions].unsqueeze(-2)
        return x * c + rotate_half(x) * s

    case("rope", rope, {"x": randn(g, 2, 3, 2, d), "cos": cos, "sin": sin, "positions": positions},
         constants=("cos", "sin"))

    case("swiglu", lambda gate, up: F.silu(gate) * up, {"gate": randn(g, 3, 6) * 2, "up": randn(g, 3, 6)})

    ids = torch.tensor([[3, 1, 3, 9], [0, 3, 1, 1]], dtype=torch.int64)
    case("embedding", lambda weight, ids: F.embedding(ids, weight), {"weight": randn(g, 10, 4), "ids": ids})

    targets = torch.tensor([2, -100, 0, 4, -100, 1], dtype=torch.int64)
    case("cross_entropy", lambda logits, targets: F.cross_entropy(logits, targets, ignore_index=-100, reduction="mean"),
         {"logits": randn(g, 6, 5) * 2, "targets": targets})

    # Cast: the output is bf16-rounded; the upstream gradient is made bf16-representable, because torch
    # rounds the gradient into the output's dtype while RawLongLoRA keeps every gradient in float32.
    case("to_bf16", lambda x: x.to(torch.bfloat16).double(), {"x": randn(g, 3, 5)}, grad_out_dtype=torch.bfloat16)
    case("to_f16", lambda x: x.to(torch.float16).double(), {"x": randn(g, 3, 5)}, grad_out_dtype=torch.float16)


# ---------------------------------------------------------------- attention

def attention_mask(b, t, s, hq, group, starts):
    """[B, Hq, T, S], True where allowed, from AttentionSpec's definition (src/Tensor/IBackend.cs):
    query t (absolute position t + QueryStart, QueryStart = S - T) sees keys [lo, t + QueryStart], lo the
    largest of 0, the start of its packed sequence and the start of its S2-Attn group; heads
    [Hq/2, Hq) use groups shifted by G/2: [0, G/2), [G/2, 3G/2), ..."""
    off = s - t
    mask = torch.zeros(b, hq, t, s, dtype=torch.bool)
    for r in range(b):
        for h in range(hq):
            for q in range(t):
                lo = 0
                token = r * t + q
                row_starts = [st - r * t for st in (starts or []) if r * t <= st <= token]
                if row_starts:
                    lo = max(lo, max(row_starts))
                if group:
                    if h < hq // 2:
                        gs = (q // group) * group
                    else:
                        half = group // 2
                        gs = 0 if q < half else half + ((q - half) // group) * group
                    lo = max(lo, gs)
                mask[r, h, q, lo: q + off + 1] = True
    return mask


def attention(q, k, v, mask, scale):
    hq, hkv = q.shape[2], k.shape[2]
    k = k.repeat_interleave(hq // hkv, dim=2)  # GQA: query head h uses kv head h // (Hq / Hkv)
    v = v.repeat_interleave(hq // hkv, dim=2)
    qh, kh, vh = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, T, D]
    scores = (qh @ kh.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~mask, float("-inf"))
    return (F.softmax(scores, dim=-1) @ vh).transpose(1, 2)


def attention_cases():
    specs = [
        # name, B, T, S, Hq, Hkv, D, group, starts, scale (None = 1/sqrt(D))
        ("attn_causal", 1, 6, 6, 2, 2, 4, 0, None, None),
        ("attn_gqa", 2, 5, 5, 4, 2, 4, 0, None, None),
        ("attn_s2", 1, 8, 8, 4, 4, 4, 4, None, None),
        ("attn_varlen", 2, 6, 6, 2, 1, 4, 0, [0, 2, 6, 9], 0.3),
        ("attn_kv_offset", 1, 3, 7, 2, 2, 4, 0, None, None),
        ("attn_s2_varlen_gqa", 2, 8, 8, 4, 2, 4, 4, [3, 8, 13], None),
    ]
    for name, b, t, s, hq, hkv, d, group, starts, scale in specs:
        g = gen_for(name)
        mask = attention_mask(b, t, s, hq, group, starts)
        sc = scale if scale is not None else 1.0 / math.sqrt(d)
        case(name, lambda q, k, v: attention(q, k, v, mask, sc),
             {"q": randn(g, b, t, hq, d), "k": randn(g, b, s, hkv, d), "v": randn(g, b, s, hkv, d)})
        put(f"{name}.spec", torch.tensor([group, s - t], dtype=torch.int64))  # GroupSize, QueryStart (keys from 0)
        if starts:
            put(f"{name}.sequence_starts", torch.tensor(starts, dtype=torch.int64))
        if scale is not None:
            put(f"{name}.scale", torch.tensor([scale], dtype=torch.float32))


# ---------------------------------------------------------------- dtype conversions

def conversions():
    f32 = torch.finfo(torch.float32)
    values = [
        0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, math.pi, -2.5e-3, 1e-5, 1e4, -123.456,
        1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -(1 + 2 ** -8),  # bf16 ties and just above
        1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, -(1 + 3 * 2 ** -11),  # f16 ties
        65504.0, 65519.0, 65520.0, -65520.0, 3.0e38, f32.max, -f32.max,  # f16 max, f16 overflow, bf16 overflow
        f32.tiny, 1e-40, 2 ** -149, -(2 ** -149), 3 * 2 ** -140,  # float32 smallest normal and subnormals
        2 ** -24, 2 ** -25, 3 * 2 ** -26, 6e-8, 2 ** -14, 2 ** -14 - 2 ** -24,  # float16 subnormals and ties
        float("inf"), float("-inf"), float("nan"),
    ]
    g = gen_for("conversions")
    x = torch.cat([torch.tensor(values, dtype=torch.float32), torch.randn(24, generator=g).float() * 10])
    put("convert.f32", x)
    put("convert.bf16", x.to(torch.bfloat16))
    put("convert.f16", x.to(torch.float16))
    put("convert.bf16_to_f32", x.to(torch.bfloat16).float())
    put("convert.f16_to_f32", x.to(torch.float16).float())


# ---------------------------------------------------------------- safetensors writer

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8",
}


def to_bytes(t):
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # little-endian on every machine torch runs on here


def save(path, named):
    header, blobs, offset = {}, [], 0
    for key in sorted(named):
        t = named[key]
        data = to_bytes(t)
        header[key] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"generator": "tests/reference/make_ops.py", "torch": torch.__version__}
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    torch.set_num_threads(1)
    arithmetic()
    pointwise()
    linear_algebra()
    reductions_and_views()
    model_ops()
    attention_cases()
    conversions()
    save(OUT, tensors)
    print(f"wrote {len(tensors)} tensors, {os.path.getsize(OUT)} bytes to {OUT}")


if __name__ == "__main__":
    main()
