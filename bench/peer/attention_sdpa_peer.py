#!/usr/bin/env python3
"""GPU peer for `bench attention --device cuda`: torch.nn.functional.scaled_dot_product_attention in bf16 on the
same problems as ours (B = 1; q, k, v, dout uniform in [-1, 1), laid out [B, H, T, D] as SDPA wants them), timed
with CUDA events like ours and rotated through as many copies as the bench asks for, so neither side reads from L2.
Full causal: is_causal=True. S2-Attn with groups of G: LongLoRA's (longlora_s2.py). Grouped-query heads: enable_gqa.

Protocol (peer_protocol.py, as a GPU peer: no OpenBLAS probe): one JSON line about itself ({"torch", "gpu", ...} or
{"error": reason}), then each JSON line on stdin {"t", "heads", "kv_heads", "head_dim", "kind": "causal" | "s2",
"group", "pass": "forward" | "forward_backward", "copies", "target_seconds", "min_runs", "max_runs", "once_above"} is
answered with {"seconds": median, "runs": count}, or {"error": reason} where torch cannot run it (out of memory).
"""
import argparse

import longlora_s2
from peer_protocol import cuda_timed, serve


def make_call(torch, req):
    """fn(c): one pass on copy c of the problem, and the copies (kept alive by the closure)."""
    t, h, hkv, d, group = req["t"], req["heads"], req["kv_heads"], req["head_dim"], req["group"]
    g = torch.Generator(device="cuda").manual_seed(1)

    def uniform(heads, grad):
        x = torch.rand(1, heads, t, d, generator=g, device="cuda", dtype=torch.bfloat16) * 2 - 1
        return x.requires_grad_(grad)

    backward = req["pass"] == "forward_backward"
    copies = [(uniform(h, backward), uniform(hkv, backward), uniform(hkv, backward), uniform(h, False)) for _ in range(req["copies"])]

    def attention(q, k, v):
        if req["kind"] == "s2":
            return longlora_s2.s2_attention(torch, q, k, v, group)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=hkv != h)

    def forward(c):
        q, k, v, _ = copies[c]
        with torch.no_grad():
            attention(q, k, v)

    def forward_backward(c):
        q, k, v, dout = copies[c]
        attention(q, k, v).backward(dout)
        q.grad = k.grad = v.grad = None

    return forward_backward if backward else forward


def run(torch, req):
    try:
        fn = make_call(torch, req)
        seconds, runs = cuda_timed(torch, fn, req["copies"], req["target_seconds"], req["min_runs"], req["max_runs"], req["once_above"])
        return {"seconds": seconds, "runs": runs}
    except torch.cuda.OutOfMemoryError as e:
        return {"error": f"out of memory: {str(e).splitlines()[0]}"}
    except Exception as e:  # one request that torch refuses must not end the peer: the bench goes on without its figure
        return {"error": f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"}


def main():
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    return serve(run, gpu=True)


if __name__ == "__main__":
    raise SystemExit(main())
