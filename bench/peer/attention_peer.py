#!/usr/bin/python3
"""PyTorch peer for `bench attention`: times the naive attention of torch_llama.py (`causal_attention`,
`s2_attention`: the whole [T, T] score matrix, or [G, G] per S2-Attn group) in float32.

torch_llama.py is ../shared/peers/torch_llama.py next to the repository; where that is missing (a
published bench), the copy beside this script.

Protocol: peer_protocol.py; each JSON line on stdin
{"t", "heads", "kv_heads", "head_dim", "kind": "causal" | "s2", "group", "pass": "forward" |
"forward_backward", "min_time", "min_runs", "max_runs", "warmup", "memory"} is answered with one JSON line
{"seconds": median, "runs": count}; with "memory", {"peak_extra_bytes", "seconds"} of one call: the
growth of this process's peak resident memory over it, measured as bench/kernels/attention does for ours.
"""
import ctypes
import time

from peer_protocol import import_torch_llama, serve, timed


def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_growth(fn):
    """Bytes the peak resident set grows by over one fn() (free heap handed back first, then VmHWM
    reset), and the seconds that call took."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status_kib("VmRSS")
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return (status_kib("VmHWM") - before) * 1024, seconds


def make_call(torch, tl, req):
    t, h, hkv, d = req["t"], req["heads"], req["kv_heads"], req["head_dim"]
    g = torch.Generator().manual_seed(1)
    q = torch.randn(1, h, t, d, generator=g)
    k = torch.randn(1, hkv, t, d, generator=g)
    v = torch.randn(1, hkv, t, d, generator=g)
    dout = torch.randn(1, h, t, d, generator=g)
    kind, group = req["kind"], req.get("group", t)

    def attention(q, k, v):
        # As torch_llama's Model.forward: kv heads repeated for grouped-query attention.
        k, v = k.repeat_interleave(h // hkv, dim=1), v.repeat_interleave(h // hkv, dim=1)
        return tl.s2_attention(q, k, v, group) if kind == "s2" else tl.causal_attention(q, k, v)

    if req["pass"] == "forward":
        def forward():
            with torch.no_grad():
                attention(q, k, v)
        return forward

    for x in (q, k, v):
        x.requires_grad_(True)

    def forward_backward():
        attention(q, k, v).backward(dout)
        for x in (q, k, v):
            x.grad = None
    return forward_backward


def run(torch, req):
    fn = make_call(torch, import_torch_llama(), req)
    if req.get("memory"):
        growth, seconds = peak_growth(fn)
        return {"peak_extra_bytes": growth, "seconds": seconds}
    seconds, runs = timed(fn, req.get("min_time", 1.0), req.get("min_runs", 5), req.get("max_runs", 200), req.get("warmup", True))
    return {"seconds": seconds, "runs": runs}


if __name__ == "__main__":
    raise SystemExit(serve(run, describe=lambda torch: {"source": import_torch_llama().__file__}))
