#!/usr/bin/python3
"""RoPE reference values, read by tests/Model/RopeScalingTests.cs, RopeTablesTests.cs and the config
parsing tests.

Run from the repository root: /usr/bin/python3 tests/reference/make_rope.py. It rewrites
tests/reference/rope.safetensors, the same bytes on a re-run. Commit the file: the tests need no Python.

The frequencies follow Hugging Face transformers' rope utilities (modeling_rope_utils.py:
standardize_rope_params, the _compute_*_parameters functions, and the dynamic / longrope updates of
dynamic_rope_update), written out here with the same float32 torch operations, because the tables
at 32K positions are only as close as the float32 roundings of inv_freq and of position × inv_freq.
Each case stores:
  <case>.config            the model's config.json (UTF-8 bytes, U8)
  <case>.seq_len           the sequence length the frequencies are for (I64 [1])
  <case>.inv_freq          F32 [head_dim / 2]
  <case>.attention_factor  F32 [1]
and cases with tables add <case>.positions (I64 [K]) with <case>.cos and <case>.sin (F32 [K, head_dim / 2]):
the rows at those positions of HF's cos/sin (freqs = inv_freq @ positions in float32, then
cos/sin times the attention factor), for a sequence of seq_len tokens.
The four configs of ../shared/peers/configs are the peer_* cases, unchanged.
"""
import copy
import json
import math
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "peers"
sys.path.insert(0, str(SHARED if (SHARED / "torch_llama.py").is_file() else ROOT / "bench" / "peer"))
import torch_llama as tl  # noqa: E402

OUT = HERE / "rope.safetensors"
TABLE_POSITIONS = sorted(set(range(32)) | {round(32767 * (k / 99) ** 1.5) for k in range(1, 100)})


# ---------------------------------------------------------------- transformers' rope utilities

def rope_parameters(cfg):
    """standardize_rope_params: one dict with rope_type, rope_theta and, for the kinds that scale
    from a pretraining length, original_max_position_embeddings (a top-level one wins, as Phi-3's)."""
    rp = dict(cfg.get("rope_scaling") or cfg.get("rope_parameters") or {})
    rp.setdefault("rope_type", rp.get("type", "default"))
    rp.setdefault("rope_theta", cfg.get("rope_theta", 10000.0))
    if rp["rope_type"] in ("llama3", "yarn", "longrope"):
        if "original_max_position_embeddings" in cfg:
            rp["original_max_position_embeddings"] = cfg["original_max_position_embeddings"]
        rp.setdefault("original_max_position_embeddings", cfg["max_position_embeddings"])
    return rp


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def default_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def inv_freq_and_attention(cfg, seq_len):
    rp, dim, mpe = rope_parameters(cfg), head_dim(cfg), cfg["max_position_embeddings"]
    base, kind = rp["rope_theta"], rp["rope_type"]
    if kind == "default":
        return default_inv_freq(base, dim), 1.0
    if kind == "linear":
        inv = default_inv_freq(base, dim)
        inv /= rp["factor"]
        return inv, 1.0
    if kind == "dynamic":
        # at or below max_position_embeddings the init-time frequencies stay; above, the update
        # recomputes them with seq_len = max(position_ids) + 1, a tensor: the base becomes float32
        if seq_len <= mpe:
            return default_inv_freq(base, dim), 1.0
        factor = rp["factor"]
        s = torch.maximum(torch.tensor(seq_len), torch.tensor(mpe))
        base = base * ((factor * s / mpe) - (factor - 1)) ** (dim / (dim - 2))
        return default_inv_freq(base, dim), 1.0
    if kind == "yarn":
        return yarn(rp, dim, mpe)
    if kind == "llama3":
        return llama3(rp, dim), 1.0
    if kind == "longrope":
        return longrope(rp, dim, mpe, seq_len)
    raise ValueError(kind)


def yarn(rp, dim, mpe):
    base, factor = rp["rope_theta"], rp["factor"]
    ompe = rp["original_max_position_embeddings"]
    if factor is None:
        factor = mpe / ompe

    def get_mscale(scale, m=1):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    att = rp.get("attention_factor")
    if att is None:
        m, mad = rp.get("mscale"), rp.get("mscale_all_dim")
        att = float(get_mscale(factor, m) / get_mscale(factor, mad)) if (m and mad) else get_mscale(factor)
    beta_fast, beta_slow = rp.get("beta_fast") or 32, rp.get("beta_slow") or 1

    def correction_dim(rotations):
        return (dim * math.log(ompe / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if rp.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    extrapolation, interpolation = 1.0 / pos_freqs, 1.0 / (factor * pos_freqs)
    extra_factor = 1 - ramp
    return interpolation * (1 - extra_factor) + extrapolation * extra_factor, att


def llama3(rp, dim):
    inv = default_inv_freq(rp["rope_theta"], dim)
    factor, lo, hi = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
    old = rp["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    out = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, out)


def longrope(rp, dim, mpe, seq_len):
    ompe = rp["original_max_position_embeddings"]
    factor = rp.get("factor")
    if factor is None:
        factor = mpe / ompe
    att = rp.get("attention_factor")
    if att is None:
        att = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(ompe))
    ext = torch.tensor(rp["long_factor"] if seq_len and seq_len > ompe else rp["short_factor"], dtype=torch.float32)
    shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    return 1.0 / (ext * rp["rope_theta"] ** shape), att


def cos_sin(inv, att, positions):
    """LlamaRotaryEmbedding.forward: float32 matmul of inv_freq and positions, then cos/sin × factor."""
    freqs = (inv[None, :, None].float() @ positions[None, None, :].float()).transpose(1, 2)[0]
    emb = torch.cat((freqs, freqs), dim=-1)
    half = inv.shape[0]
    return (emb.cos() * att)[:, :half], (emb.sin() * att)[:, :half]


# ---------------------------------------------------------------- cases

def peer(name):
    return json.loads((SHARED / "configs" / f"{name}.json").read_text())


def edit(base, **changes):
    cfg = copy.deepcopy(peer(base))
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


def llama3_model(hidden, layers, factor):
    return edit("llama2-7b", hidden_size=hidden, num_hidden_layers=layers, num_key_value_heads=8, vocab_size=128256,
                max_position_embeddings=131072, rope_theta=500000.0,
                rope_scaling={"factor": factor, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192, "rope_type": "llama3"})


def longrope_factors(n, scale):
    return [round(1.0 + scale * (i / n) ** 2, 6) for i in range(n)]


def longrope_model(**rope):
    cfg = edit("llama2-7b", hidden_size=3072, max_position_embeddings=131072)
    cfg["rope_scaling"] = {"type": "longrope", "short_factor": longrope_factors(48, 0.5),
                           "long_factor": longrope_factors(48, 40.0), **rope}
    return cfg


DYNAMIC = {"rope_type": "dynamic", "factor": 2.0}
CASES = [
    # name, config, seq_len, with tables
    ("peer_cpu_small", peer("cpu-small"), 512, False),
    ("peer_llama2_7b", peer("llama2-7b"), 32768, True),
    ("peer_qwen2_tiny", peer("qwen2-tiny"), 128, False),
    ("peer_qwen3_tiny_yarn", peer("qwen3-tiny-yarn"), 512, False),
    ("linear_longlora", edit("llama2-7b", max_position_embeddings=32768,
                             rope_scaling={"type": "linear", "factor": 8.0}), 32768, True),
    ("linear_rope_parameters", edit("llama2-7b", rope_theta=None,
                                    rope_parameters={"rope_type": "linear", "rope_theta": 20000.0, "factor": 2.5}),
     8192, False),
    ("dynamic_below_max", edit("llama2-7b", rope_scaling=DYNAMIC), 4096, False),
    ("dynamic_above_max", edit("llama2-7b", rope_scaling=DYNAMIC), 10000, False),
    ("dynamic_odd_factor", edit("llama2-7b", max_position_embeddings=3000,
                                rope_scaling={"type": "dynamic", "factor": 2.7}), 7777, False),
    ("dynamic_tables", edit("llama2-7b", rope_scaling={"rope_type": "dynamic", "factor": 4.0}), 32768, True),
    ("yarn_qwen3_long", edit("qwen3-tiny-yarn", head_dim=128, max_position_embeddings=131072,
                             rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                           "original_max_position_embeddings": 32768}), 32768, True),
    ("yarn_mscale", edit("llama2-7b", head_dim=64, max_position_embeddings=163840,
                         rope_scaling={"type": "yarn", "factor": 40.0, "mscale": 0.707, "mscale_all_dim": 1.0,
                                       "beta_fast": 32, "beta_slow": 1,
                                       "original_max_position_embeddings": 4096}), 4096, False),
    ("yarn_mscale_only", edit("llama2-7b", head_dim=64, max_position_embeddings=163840,
                              rope_scaling={"type": "yarn", "factor": 40.0, "mscale": 0.707,
                                            "original_max_position_embeddings": 4096}), 4096, False),
    ("yarn_attention_factor", edit("llama2-7b", rope_theta=500000.0, max_position_embeddings=16384,
                                   rope_scaling={"rope_type": "yarn", "factor": 8.0, "attention_factor": 0.8,
                                                 "beta_fast": 16.0, "beta_slow": 2.0,
                                                 "original_max_position_embeddings": 2048}), 2048, False),
    ("yarn_no_truncate", edit("llama2-7b", head_dim=64, rope_theta=150000.0, max_position_embeddings=131072,
                              rope_scaling={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                                            "truncate": False, "original_max_position_embeddings": 4096}),
     4096, False),
    ("yarn_no_original_max", edit("llama2-7b", rope_scaling={"rope_type": "yarn", "factor": 2.0}), 4096, False),
    # max_position_embeddings is not factor × original (Qwen3's 40960 = 1.25 × 32768 with factor 4; and one above):
    # the factor given wins over their ratio, for the frequencies and the attention factor alike.
    ("yarn_factor_over_ratio_below", edit("qwen3-tiny-yarn", head_dim=128, max_position_embeddings=40960,
                                          rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                                        "original_max_position_embeddings": 32768}), 32768, False),
    ("yarn_factor_over_ratio_above", edit("llama2-7b", head_dim=64, max_position_embeddings=65536,
                                          rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                                        "original_max_position_embeddings": 4096}), 4096, False),
    ("yarn_rope_parameters", edit("qwen3-tiny-yarn", head_dim=128, rope_theta=None, max_position_embeddings=131072,
                                  rope_scaling=None,
                                  rope_parameters={"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                                                   "original_max_position_embeddings": 32768}), 32768, False),
    ("llama3_8b", llama3_model(4096, 32, 8.0), 32768, True),
    ("llama3_1b", llama3_model(2048, 16, 32.0), 8192, False),
    ("longrope_short", longrope_model() | {"original_max_position_embeddings": 4096}, 4096, False),
    ("longrope_long", longrope_model() | {"original_max_position_embeddings": 4096}, 32768, True),
    ("longrope_factor_given", longrope_model(factor=16.0, original_max_position_embeddings=4096), 8192, False),
    ("longrope_attention_given", longrope_model(attention_factor=1.25, original_max_position_embeddings=4096),
     2048, False),
]


def main():
    torch.set_num_threads(1)
    out = {}
    for name, cfg, seq_len, with_tables in CASES:
        inv, att = inv_freq_and_attention(cfg, seq_len)
        out[f"{name}.config"] = torch.tensor(list(json.dumps(cfg, indent=2).encode()), dtype=torch.uint8)
        out[f"{name}.seq_len"] = torch.tensor([seq_len], dtype=torch.int64)
        out[f"{name}.inv_freq"] = inv.float().contiguous()
        out[f"{name}.attention_factor"] = torch.tensor([att], dtype=torch.float32)
        if with_tables:
            positions = torch.tensor(TABLE_POSITIONS, dtype=torch.int64)
            cos, sin = cos_sin(inv, att, positions)
            out[f"{name}.positions"] = positions
            out[f"{name}.cos"] = cos.contiguous()
            out[f"{name}.sin"] = sin.contiguous()
    tl.save_safetensors(str(OUT), out, {"generator": "tests/reference/make_rope.py", "torch": torch.__version__})
    print(f"wrote {len(out)} tensors, {OUT.stat().st_size} bytes to {OUT}")


if __name__ == "__main__":
    main()
