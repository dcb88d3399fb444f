"""What every PyTorch peer of `bench` shares: the line protocol bench/Peer.cs speaks, and the timer.

A peer started with --threads N prints one JSON line describing itself ({"torch": version, "threads":
N, "blas": ...} or {"error": reason}), then answers each JSON request line on stdin with one JSON line.
"""
import json
import statistics
import sys
import time


def timed(fn, min_time, min_runs, max_runs, warmup=True):
    """Median seconds of fn() over at least min_runs calls and min_time seconds (at most max_runs)."""
    if warmup:
        fn()  # first-touch allocation, BLAS/OpenMP thread start
    times = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def serve(answer, describe=None, command_line=None):
    """Runs a peer: answer(torch, request) -> reply dict; describe(torch) adds to the hello line;
    command_line(torch, args) handles leftover command-line arguments instead of the stdin loop."""
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
    torch.manual_seed(0)
    if args and command_line:
        return command_line(torch, args)
    blas = "openblas" if "openblas" in open("/proc/self/maps").read() else "unknown"
    hello = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas}
    try:
        hello.update(describe(torch) if describe else {})
    except ImportError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 1
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(answer(torch, json.loads(line))), flush=True)
    return 0
