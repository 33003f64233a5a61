"""Tensor operations and statistics: element-wise add/mul, whole-array reductions and median at
16M float32 elements, and the call overhead of a 16-element add, against NumPy and PyTorch."""
import numpy as np

import fpkernels as fk

N = 16 * 1024 * 1024
QUICK_N = 1024 * 1024
THREADS = (1, 2)


def cases(quick=False):
    try:
        import torch
    except ImportError:
        torch = None
    n = QUICK_N if quick else N
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    out_fpk, out_numpy = np.empty(n, np.float32), np.empty(n, np.float32)
    ta = tb = tout = None
    if torch is not None:
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.empty(n, dtype=torch.float32)

    found = []
    for threads in THREADS:
        # element-wise: read a and b, write out (12 bytes per element)
        for name, np_op, torch_op in (("add", np.add, "add"), ("mul", np.multiply, "mul")):
            fpk_op = getattr(fk, name)
            found.append({
                "name": f"{name} f32 n={n} out=",
                "threads": threads,
                "fpk": lambda f=fpk_op: f(a, b, out=out_fpk),
                "numpy": lambda f=np_op: f(a, b, out=out_numpy),
                "torch": None if torch is None else
                (lambda f=getattr(torch, torch_op): f(ta, tb, out=tout)),
                "bytes": 12 * n,
                "flops": n,
            })
        # reductions: read x once (4 bytes per element)
        reductions = [
            ("sum", fk.sum, np.sum, None if torch is None else (lambda: torch.sum(ta))),
            ("mean", fk.mean, np.mean, None if torch is None else (lambda: torch.mean(ta))),
            ("min", fk.min, np.min, None if torch is None else (lambda: torch.min(ta))),
            ("max", fk.max, np.max, None if torch is None else (lambda: torch.max(ta))),
            ("std", fk.std, np.std, None if torch is None else (lambda: torch.std(ta, correction=0))),
            ("median", fk.median, np.median, None if torch is None else (lambda: torch.median(ta))),
        ]
        for name, fpk_op, np_op, torch_call in reductions:
            found.append({
                "name": f"{name} f32 n={n}",
                "threads": threads,
                "fpk": lambda f=fpk_op: f(a),
                "numpy": lambda f=np_op: f(a),
                "torch": torch_call,
                "bytes": 4 * n,
                "flops": None,
            })

    # call overhead: 16 elements, out given, one thread. Each library gets its own arrays
    # (owned, aligned, C-contiguous float32); a first call checks both compute the same sum, so
    # the case can never time an error or fallback path by accident.
    small_a, small_b = a[:16].copy(), b[:16].copy()
    small_out_fpk, small_out_numpy = np.empty(16, np.float32), np.empty(16, np.float32)
    assert fk.add(small_a, small_b, out=small_out_fpk) is small_out_fpk
    np.testing.assert_array_equal(small_out_fpk, np.add(small_a, small_b, out=small_out_numpy))
    small_torch = None
    if torch is not None:
        sa, sb = torch.from_numpy(small_a), torch.from_numpy(small_b)
        so = torch.empty(16, dtype=torch.float32)
        small_torch = lambda: torch.add(sa, sb, out=so)  # noqa: E731
    found.append({
        "name": "add f32 n=16 out= (call overhead)",
        "threads": 1,
        "fpk": lambda: fk.add(small_a, small_b, out=small_out_fpk),
        "numpy": lambda: np.add(small_a, small_b, out=small_out_numpy),
        "torch": small_torch,
        "bytes": None,
        "flops": None,
    })
    # a layer's bias on a small batch: rows op one row, in place (what fk.nn does per layer)
    z_fpk, z_numpy = np.ones((64, 128), np.float32), np.ones((64, 128), np.float32)
    bias = b[:128].copy()
    bias_torch = None
    if torch is not None:
        tz, tbias = torch.ones(64, 128), torch.from_numpy(bias)
        bias_torch = lambda: tz.add_(tbias)  # noqa: E731
    found.append({
        "name": "add f32 (64, 128) + (128,) in place (a bias)",
        "threads": 1,
        "fpk": lambda: fk.add(z_fpk, bias, out=z_fpk),
        "numpy": lambda: np.add(z_numpy, bias, out=z_numpy),
        "torch": bias_torch,
        "bytes": None,
        "flops": None,
    })
    return found
