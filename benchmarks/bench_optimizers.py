"""Benchmarks: optimizer steps and initializers against PyTorch and NumPy.

Cases (see benchmarks/bench.py for the table):
  adam / adamw step on one 16M-element float32 tensor, against three torch.optim.Adam(W)
    implementations, named in the case: "fused" (fused=True, one C++ kernel),
    "foreach" (foreach=True, multi-tensor ops) and "for-loop" (foreach=False, the
    single-tensor code; this is torch's default on CPU). bytes = 28 n: the step reads
    param, grad, m, v and writes param, m, v, 4 bytes each.
  adam over 200 tensors of a model-like parameter list (40 blocks of 5 layers, 3.3M values)
    against torch fused and for-loop.
  initializers at 16M float32 (xavier_uniform, he_normal) against numpy.random.Generator
    drawing the same distribution into a new array (random/standard_normal, then scaled in
    place).
  zscore (whole array and per column) and minmax at 16M float32 against NumPy's expressions
    (into a preallocated out on both sides). bytes: 12 n (read for the statistics, read and
    write for the result; 16 n for columns, whose statistics read twice).
Each case runs at 1 and 2 threads.

Standalone: `flock /tmp/fpk-bench.lock python benchmarks/bench_optimizers.py [--quick]`
prints the cases' times.
"""
import math
import sys
import time

import numpy as np

import fpkernels as fk

N_BIG = 16 * 1024 * 1024
BLOCK_SHAPES = [(128, 128), (128,), (512, 128), (512,), (128,)]   # 82,688 values per block


def _model_shapes(blocks=40):
    return [shape for _ in range(blocks) for shape in BLOCK_SHAPES]


def _adam_cases(torch, name, threads, n):
    rng = np.random.default_rng(0)
    param = rng.standard_normal(n, dtype=np.float32)
    grad = rng.standard_normal(n, dtype=np.float32)
    opt = fk.optimizers.get(name)
    fpk = lambda: opt.step(param, grad)  # noqa: E731
    cases = []
    variants = [("fused", {"fused": True}), ("foreach", {"foreach": True}),
                ("for-loop", {"foreach": False})]
    for label, options in variants:
        torch_call = None
        if torch is not None:
            t_param = torch.from_numpy(param.copy())
            t_param.grad = torch.from_numpy(grad.copy())
            cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
            t_opt = cls([t_param], **options)
            torch_call = t_opt.step
        cases.append({"name": f"{name} step {n / 2**20:.0f}M f32 vs torch {label}",
                      "threads": threads,
                      "fpk": fpk, "numpy": None, "torch": torch_call, "bytes": 28 * n,
                      "flops": None})
    return cases


def _many_cases(torch, threads, blocks):
    rng = np.random.default_rng(1)
    shapes = _model_shapes(blocks)
    params = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    grads = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    total = sum(p.size for p in params)
    opt = fk.optimizers.get("adam")
    fpk = lambda: opt.step(params, grads)  # noqa: E731
    cases = []
    for label, options in [("fused", {"fused": True}), ("for-loop", {"foreach": False})]:
        torch_call = None
        if torch is not None:
            tensors = [torch.from_numpy(p.copy()) for p in params]
            for t, g in zip(tensors, grads):
                t.grad = torch.from_numpy(g.copy())
            torch_call = torch.optim.Adam(tensors, **options).step
        cases.append({"name": f"adam step {len(shapes)} tensors ({total / 1e6:.1f}M) f32 "
                              f"vs torch {label}", "threads": threads, "fpk": fpk,
                      "numpy": None, "torch": torch_call, "bytes": 28 * total, "flops": None})
    return cases


def _init_cases(threads, n):
    shape = (n // 4096, 4096)
    fan_in, fan_out = shape[1], shape[0]
    bound = math.sqrt(6 / (fan_in + fan_out))
    std = math.sqrt(2 / fan_in)
    generator = np.random.default_rng(0)
    xavier = fk.initializers.get("xavier_uniform")
    he = fk.initializers.get("he_normal")

    def numpy_uniform():
        w = generator.random(shape, dtype=np.float32)
        w *= 2 * bound
        w -= bound
        return w

    def numpy_normal():
        w = generator.standard_normal(shape, dtype=np.float32)
        w *= std
        return w

    return [
        {"name": f"xavier_uniform init {n / 2**20:.0f}M f32 vs numpy Generator", "threads": threads,
         "fpk": lambda: xavier(shape, rng=1), "numpy": numpy_uniform, "torch": None,
         "bytes": 4 * n, "flops": None},
        {"name": f"he_normal init {n / 2**20:.0f}M f32 vs numpy Generator", "threads": threads,
         "fpk": lambda: he(shape, rng=1), "numpy": numpy_normal, "torch": None,
         "bytes": 4 * n, "flops": None},
    ]


def _normalize_cases(threads, n):
    x = np.random.default_rng(2).standard_normal((n // 64, 64), dtype=np.float32)
    out = np.empty_like(x)
    label = f"{n / 2**20:.0f}M f32"

    def numpy_zscore():
        np.subtract(x, x.mean(), out=out)
        np.divide(out, x.std(ddof=1), out=out)

    def numpy_zscore_columns():
        np.subtract(x, x.mean(axis=0), out=out)
        np.divide(out, x.std(axis=0, ddof=1), out=out)

    def numpy_minmax():
        low = x.min()
        np.subtract(x, low, out=out)
        np.divide(out, x.max() - low, out=out)

    return [
        {"name": f"zscore {label} vs numpy", "threads": threads,
         "fpk": lambda: fk.zscore(x, out=out), "numpy": numpy_zscore, "torch": None,
         "bytes": 12 * x.size, "flops": None},
        {"name": f"zscore axis=0 {label} (n, 64) vs numpy", "threads": threads,
         "fpk": lambda: fk.zscore(x, axis=0, out=out), "numpy": numpy_zscore_columns,
         "torch": None, "bytes": 16 * x.size, "flops": None},
        {"name": f"minmax {label} vs numpy", "threads": threads,
         "fpk": lambda: fk.minmax(x, out=out), "numpy": numpy_minmax, "torch": None,
         "bytes": 12 * x.size, "flops": None},
    ]


def cases(quick=False):
    try:
        import torch
    except ImportError:
        torch = None
    n = N_BIG // 8 if quick else N_BIG
    blocks = 10 if quick else 40
    result = []
    for threads in (1, 2):
        result += _adam_cases(torch, "adam", threads, n)
        result += _adam_cases(torch, "adamw", threads, n)
        result += _many_cases(torch, threads, blocks)
        result += _init_cases(threads, n)
        result += _normalize_cases(threads, n)
    return result


def _best(call, repeat):
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    try:
        import torch
    except ImportError:
        torch = None
    for case in cases(quick):
        with fk.num_threads(case["threads"]):
            if torch is not None:
                torch.set_num_threads(case["threads"])
            ours = _best(case["fpk"], 5)
            line = f"{case['name']:<58} t={case['threads']}  fpk {ours * 1e3:8.2f} ms"
            if case["bytes"]:
                line += f" ({case['bytes'] / ours / 1e9:5.1f} GB/s)"
            for other in ("torch", "numpy"):
                if case[other] is not None:
                    theirs = _best(case[other], 5)
                    line += f"  {other} {theirs * 1e3:8.2f} ms  x{theirs / ours:5.2f}"
            print(line, flush=True)
