#!/usr/bin/python3
"""PyTorch peer for `bench gemm`: times torch.matmul on the shapes it is asked for.

Protocol (what bench/Peer.cs speaks): with --threads N, it prints one JSON line describing itself
({"torch": version, "threads": N, ...} or {"error": reason}), then answers each JSON line on stdin
{"m", "n", "k", "trans_a", "trans_b", "batch", "min_time", "min_runs", "max_runs"} with one JSON
line {"seconds": median, "gflops": ..., "runs": count}. For a look by hand, shapes on the command
line (MxNxK, optional suffix t: B transposed) are timed and printed as one JSON list.
"""
import json
import statistics
import sys
import time


def timed(fn, min_time, min_runs, max_runs):
    fn()  # warm-up: first-touch allocation, BLAS thread start
    times = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


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


def main():
    args = sys.argv[1:]
    threads = None
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"error": f"no torch: {e}"}), flush=True)
        return 1
    if threads:
        torch.set_num_threads(threads)
    if args:
        print(json.dumps([dict(parse_shape(s), **run(torch, parse_shape(s))) for s in args]))
        return 0
    blas = "openblas" if "openblas" in open("/proc/self/maps").read() else "unknown"
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(torch, json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
