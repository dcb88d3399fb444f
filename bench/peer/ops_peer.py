#!/usr/bin/python3
"""PyTorch peer for `bench ops`: times the row kernels in torch float32 as Hugging Face models run them.

Protocol: peer_protocol.py; each JSON line on stdin
{"op", "pass": "fwd"|"bwd", "shape": [...], "min_time", "min_runs", "max_runs"} is answered with one JSON line
{"seconds": median, "runs": count, "how": what was timed}. Backward is autograd's backward of the
forward formula (torch.autograd.grad with retain_graph), except where noted in `how`.
"""
from peer_protocol import serve, timed




def rms_norm(torch, x, w, eps=1e-5):
    # transformers' LlamaRMSNorm.forward, float32 in and out
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rotate_half(torch, x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(torch, x, cos, sin):
    # transformers' apply_rotary_pos_emb on one of q/k; cos/sin [N, 1, D] already gathered by position
    # (HF gathers them once per forward and shares them across layers)
    return x * cos + rotate_half(torch, x) * sin


def autograd_pass(torch, req, make_inputs, forward):
    """The forward, or autograd's backward of it for a random upstream gradient: (fn, how)."""
    inputs = make_inputs()
    if req["pass"] == "fwd":
        with torch.no_grad():
            return (lambda: forward(*inputs)), "forward"
    grads = [t for t in inputs if t.requires_grad]
    y = forward(*inputs)
    dy = torch.randn_like(y)
    return (lambda: torch.autograd.grad(y, grads, dy, retain_graph=True)), "autograd backward"


def adamw(torch, n, min_time, min_runs, max_runs):
    """torch.optim.AdamW.step on one tensor of n parameters, foreach off and on; the faster one."""
    best = None
    for foreach in (False, True):
        p = torch.nn.Parameter(torch.randn(n))
        p.grad = torch.randn(n)
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01, foreach=foreach)
        seconds, runs = timed(opt.step, min_time, min_runs, max_runs)
        if best is None or seconds < best[0]:
            best = (seconds, runs, f"optim.AdamW(foreach={foreach}).step")
    return best


def run(torch, req):
    F = torch.nn.functional
    op, shape = req["op"], req["shape"]
    timing = (req.get("min_time", 1.0), req.get("min_runs", 5), req.get("max_runs", 200))
    bwd = req["pass"] == "bwd"

    def rand(*s, grad=False):
        return torch.randn(*s).requires_grad_(grad)

    if op == "adamw":
        seconds, runs, how = adamw(torch, shape[0], *timing)
        return {"seconds": seconds, "runs": runs, "how": how}
    if op == "copy":
        src, dst = rand(*shape), torch.empty(*shape)
        fn, how = (lambda: dst.copy_(src)), "dst.copy_(src)"
    elif op == "add":
        a, b, c = rand(*shape), rand(*shape), torch.empty(*shape)
        fn, how = (lambda: torch.add(a, b, out=c)), "torch.add(out=)"
    elif op == "rmsnorm":
        fn, how = autograd_pass(torch, req, lambda: (rand(*shape, grad=True), rand(shape[-1], grad=True)), lambda x, w: rms_norm(torch, x, w))
    elif op == "rope":
        n, h, d = shape
        fn, how = autograd_pass(torch, req, lambda: (rand(n, h, d, grad=True), rand(n, 1, d), rand(n, 1, d)), lambda x, c, s: rope(torch, x, c, s))
    elif op == "swiglu":
        fn, how = autograd_pass(torch, req, lambda: (rand(*shape, grad=True), rand(*shape, grad=True)), lambda g, u: F.silu(g) * u)
    elif op == "softmax":
        fn, how = autograd_pass(torch, req, lambda: (rand(*shape, grad=True),), lambda x: torch.softmax(x, -1))
    elif op == "cross_entropy":
        n, v = shape
        targets = torch.randint(0, v, (n,))
        fn, how = autograd_pass(torch, req, lambda: (rand(n, v, grad=True),), lambda x: F.cross_entropy(x, targets, reduction="none"))
    elif op == "embedding":
        n, v, d = shape
        ids = torch.randint(0, v, (n,))
        if bwd:
            # autograd's dense embedding backward zeroes a [V, D] gradient, then index_add_s into it;
            # the kernel's work is the index_add_ into an existing gradient.
            dw, dy = torch.zeros(v, d), rand(n, d)
            fn, how = (lambda: dw.index_add_(0, ids, dy)), "dweight.index_add_(0, ids, dy)"
        elif req.get("dtype", "float32") == "float32":
            w = rand(v, d)
            fn, how = (lambda: F.embedding(ids, w)), "F.embedding"
        else:
            # a checkpoint's table kept in its dtype: gather, then widen the rows to float32
            w = rand(v, d).to(getattr(torch, req["dtype"]))
            fn, how = (lambda: F.embedding(ids, w).float()), "F.embedding(...).float()"
    else:
        return {"error": f"unknown op {op}"}
    seconds, runs = timed(fn, *timing)
    return {"seconds": seconds, "runs": runs, "how": how}


if __name__ == "__main__":
    raise SystemExit(serve(run))
