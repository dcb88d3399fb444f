"""What every PyTorch peer of `bench` shares: the line protocol bench/Peer.cs speaks, the timer, and
the choice of OpenBLAS's core type.

A peer started with --threads N prints one JSON line describing itself ({"torch": version, "threads":
N, "blas": ..., "openblas_core": ..., "openblas_cores": [...]} or {"error": reason}), then answers each
JSON request line on stdin with one JSON line.

OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, and old builds misdetect newer CPUs, so
environments pin one (this one inherits Haswell: AVX2 kernels on an AVX-512 machine). Before torch
loads it, the peer tries each candidate core type in a child process (`peer_protocol.py
--check-openblas N`): a 2048³ sgemm timed through OpenBLAS's cblas_sgemm and 16 of its rows checked
against a float64 product made without BLAS; it keeps the fastest whose result checks out.
"""
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

# OpenBLAS's own detection (None), then the AVX2 and AVX-512 core types of x86-64 builds.
OPENBLAS_CANDIDATES = [None, "Haswell", "Zen", "SkylakeX", "CooperLake", "SapphireRapids"]
CHECK_SIZE = 2048


def check_openblas(threads):
    """In a child process: which core OpenBLAS runs, the median seconds of a CHECK_SIZE³ sgemm and whether
    sampled rows are within the float32 dot-product bound n·2⁻²⁴·Σ|a·b| of the float64 product."""
    import ctypes
    import numpy as np
    lib = ctypes.CDLL("libopenblas.so.0")  # the library torch links
    lib.openblas_get_corename.restype = ctypes.c_char_p
    lib.openblas_set_num_threads(threads)
    n = CHECK_SIZE
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    c = np.empty((n, n), dtype=np.float32)
    one, zero = ctypes.c_float(1), ctypes.c_float(0)

    def sgemm():  # row-major, no transposes
        lib.cblas_sgemm(101, 111, 111, n, n, n, one, ctypes.c_void_p(a.ctypes.data), n,
                        ctypes.c_void_p(b.ctypes.data), n, zero, ctypes.c_void_p(c.ctypes.data), n)

    sgemm()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        sgemm()
        times.append(time.perf_counter() - t0)
    worst = 0.0
    b64 = b.astype(np.float64)
    for r in range(0, n, n // 16):
        products = a[r].astype(np.float64)[:, None] * b64  # elementwise: no BLAS in the reference
        worst = max(worst, float((np.abs(c[r] - products.sum(0)) / np.abs(products).sum(0)).max()))
    return {"core": lib.openblas_get_corename().decode(), "seconds": statistics.median(times),
            "relative_error": worst, "ok": bool(worst <= n * 2.0 ** -24)}


def choose_openblas_core(threads):
    """Tries every candidate core type in a child process, sets OPENBLAS_CORETYPE to the fastest whose
    product checked out (before torch loads OpenBLAS) and returns what each did."""
    tried, seen = [], set()
    for asked in [os.environ.get("OPENBLAS_CORETYPE")] + OPENBLAS_CANDIDATES:
        if asked in seen:
            continue
        seen.add(asked)
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        if asked:
            env["OPENBLAS_CORETYPE"] = asked
        child = subprocess.run([sys.executable, __file__, "--check-openblas", str(threads)], env=env,
                               capture_output=True, text=True, timeout=300)
        result = json.loads(child.stdout) if child.returncode == 0 and child.stdout.strip() else \
            {"core": None, "ok": False, "error": f"exit {child.returncode}: {child.stderr.strip()[-200:]}"}
        tried.append({"asked": asked or "detected"} | result)
    good = [t for t in tried if t["ok"]]
    if good:
        best = min(good, key=lambda t: t["seconds"])
        os.environ["OPENBLAS_CORETYPE"] = best["core"]
    return tried


def openblas_loaded():
    """The OpenBLAS this process loaded (with torch): its version and the core it runs, or None."""
    import ctypes
    path = next((p for p in open("/proc/self/maps").read().split() if "libopenblas" in p), None)
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
    return {"blas": " ".join(lib.openblas_get_config().decode().split()[:2]), "openblas_core": lib.openblas_get_corename().decode()}


def import_torch_llama():
    """torch_llama.py: ../shared/peers/torch_llama.py next to the repository, or where that is missing
    (a published bench) the copy beside this script."""
    here = pathlib.Path(__file__).resolve().parent
    shared = next((a.parent / "shared" / "peers" for a in here.parents
                   if (a.parent / "shared" / "peers" / "torch_llama.py").is_file()), None)
    sys.path.insert(0, str(shared or here))
    import torch_llama
    return torch_llama


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


def cuda_timed(torch, fn, copies, target_seconds, min_runs, max_runs, once_above):
    """Median seconds of fn(c) on the GPU, c the copy a run takes (run i takes copy i mod copies), CUDA events around
    each run, every run queued before one wait; one warm-up run sizes the rest as bench/kernels/DeviceTiming.cs does:
    as many as target_seconds holds, at least min_runs, at most max_runs, none past a warm-up of once_above seconds
    (then the warm-up is the one run). Returns (median, runs)."""
    def runs(n, first):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
        for i, (start, end) in enumerate(events):
            start.record()
            fn((first + i) % copies)
            end.record()
        torch.cuda.synchronize()
        return [start.elapsed_time(end) / 1e3 for start, end in events]

    warmup = runs(1, 0)[0]
    if warmup >= once_above:
        return warmup, 1
    n = min(max(math.ceil(target_seconds / max(warmup, 1e-9)), min_runs), max_runs)
    return statistics.median(runs(n, 1)), n


def serve(answer, describe=None, command_line=None, gpu=False):
    """Runs a peer: answer(torch, request) -> reply dict; describe(torch) adds to the hello line;
    command_line(torch, args) handles leftover command-line arguments instead of the stdin loop. A gpu peer
    skips the OpenBLAS probe, needs torch to see a CUDA GPU, and names it in the hello line ("gpu")."""
    args = sys.argv[1:]
    threads = None
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    cores = choose_openblas_core(threads or os.cpu_count()) if not (gpu or (args and command_line)) else []
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"error": f"no torch: {e}"}), flush=True)
        return 1
    if gpu and not torch.cuda.is_available():
        print(json.dumps({"error": f"torch {torch.__version__} sees no CUDA GPU"}), flush=True)
        return 1
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    if args and command_line:
        return command_line(torch, args)
    hello = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": "unknown", "openblas_cores": cores}
    hello.update(openblas_loaded() or {})
    if gpu:
        hello["gpu"] = torch.cuda.get_device_name(0)
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


if __name__ == "__main__" and sys.argv[1:2] == ["--check-openblas"]:
    print(json.dumps(check_openblas(int(sys.argv[2]))), flush=True)
