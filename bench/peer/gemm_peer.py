#!/usr/bin/python3
"""PyTorch peer for `bench gemm`: times torch.matmul on the shapes it is asked for.

Protocol: peer_protocol.py; each JSON line on stdin
{"m", "n", "k", "trans_a", "trans_b", "batch", "min_time", "min_runs", "max_runs"} is answered with one JSON
line {"seconds": median, "gflops": ..., "runs": count}. For a look by hand, shapes on the command
line (MxNxK, optional suffix t: B transposed) are timed and printed as one JSON list.
"""
import json

from peer_protocol import serve, timed




def run(torch, req):
    m, n, k, batch = req["m"], req["n"], req["k"], req.get("batch", 1)
    # Weights stored [out, in] are multiplied as views: the transpose is a stride, as in nn.Linear.
    a = torch.randn(batch, k, m).transpose(1, 2) if req.get("trans_a") else torch.randn(batch, m, k)
    b = torch.randn(batch, n, k).transpose(1, 2) if req.get("trans_b") else torch.randn(batch, k, n)
    if batch == 1:
        a, b = a[0], b[0]
    c = torch.empty(*a.shape[:-1], n)
    mm = torch.mm if batch == 1 else torch.bmm
    seconds, runs = timed(lambda: mm(a, b, out=c), req.get("min_time", 1.0), req.get("min_runs", 5), req.get("max_runs", 200))
    return {"seconds": seconds, "gflops": 2.0 * batch * m * n * k / seconds / 1e9, "runs": runs}


def parse_shape(text):
    trans_b = text.endswith("t")
    m, n, k = (int(x) for x in text.rstrip("t").split("x"))
    return {"m": m, "n": n, "k": k, "trans_b": trans_b}


def command_line(torch, args):
    print(json.dumps([dict(parse_shape(s), **run(torch, parse_shape(s))) for s in args]))
    return 0


if __name__ == "__main__":
    raise SystemExit(serve(run, command_line=command_line))
