"""Benchmarks of fk.nn: one training step (forward, backward, Adam) of the demo's network shape,
against the same step in plain NumPy and in PyTorch CPU; and the whole demo's wall time and
peak memory.

    python benchmarks/bench_nn.py            # this file alone: table + demo time and memory
    python benchmarks/bench.py               # every family (collects cases() from here)

Each step: a batch of 64 rows of float32, Dense layers Swish/Swish/sigmoid, squared error,
Adam (PyTorch: torch.nn.Linear + SiLU, MSELoss, torch.optim.Adam(fused=True)). The input
needs no gradient, so no framework computes dLoss/dX of the first layer.
"""
import os
import subprocess
import sys
import tempfile
import time

from pathlib import Path

import numpy as np

try:
    import fpkernels as fk
except ImportError:  # run as a script from a source tree where fpkernels is built in place
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fpkernels as fk

SHAPES = [(10000, 128, 64), (10000, 512, 256)]
BATCH = 64


def _data(inputs, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(BATCH, inputs)).astype(np.float32)
    y = (rng.uniform(size=(BATCH, 1)) > 0.5).astype(np.float32)
    return x, y


def step_flops(sizes, batch=BATCH):
    """Multiply-adds x2 of forward (a W^T), dW (dz^T a) and da (dz W, all but the first layer)."""
    dims = list(sizes) + [1]
    pairs = list(zip(dims, dims[1:]))
    forward = sum(2 * batch * a * b for a, b in pairs)
    return forward * 2 + sum(2 * batch * a * b for a, b in pairs[1:])


def fpk_step(sizes):
    """One fit step on fpkernels, with the buffers fit uses (nothing allocated per step but the
    small loss gradient)."""
    x, y = _data(sizes[0])
    rng = np.random.default_rng(1)
    dims = list(sizes) + [1]
    net = fk.nn.Sequential([fk.nn.Dense(a, b, "swish" if b != 1 else "sigmoid", rng=rng)
                            for a, b in zip(dims, dims[1:])])
    loss, adam = fk.losses.get("mse"), fk.optimizers.get("adam", lr=1e-4)
    params, grads = net.parameters(), net.gradients()

    def step():
        pred = net._forward(x)
        net._backward(loss.gradient(pred, y), input_grad=False)
        adam.step(params, grads)
    return step


def numpy_step(sizes):
    """The same step written with NumPy (matmul through NumPy's BLAS)."""
    x, y = _data(sizes[0])
    rng = np.random.default_rng(1)
    dims = list(sizes) + [1]
    params = []
    for a, b in zip(dims, dims[1:]):
        bound = np.sqrt(6.0 / (a + b))
        params += [rng.uniform(-bound, bound, (b, a)).astype(np.float32), np.zeros(b, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0]
    lr, b1, b2, eps = 1e-4, 0.9, 0.999, 1e-8

    def step():
        inputs, zs = [x], []
        a = x
        for i in range(0, len(params), 2):
            z = a @ params[i].T + params[i + 1]
            s = 1.0 / (1.0 + np.exp(-z))
            zs.append((z, s))
            a = z * s if i < len(params) - 2 else s
            inputs.append(a)
        grad = 2.0 * (a - y) / a.size
        grads = [None] * len(params)
        for i in range(len(params) - 2, -1, -2):
            z, s = zs[i // 2]
            dz = grad * (s * (1 - s) if i == len(params) - 2 else s + z * s * (1 - s))
            grads[i] = dz.T @ inputs[i // 2]
            grads[i + 1] = dz.sum(axis=0)
            if i:
                grad = dz @ params[i]
        t[0] += 1
        c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        for p, g, mi, vi in zip(params, grads, m, v):
            mi *= b1
            mi += (1 - b1) * g
            vi *= b2
            vi += (1 - b2) * g * g
            p -= lr * (mi / c1) / (np.sqrt(vi / c2) + eps)
    return step


def torch_step(sizes):
    """The same step in PyTorch: Linear + SiLU, MSELoss, Adam(fused=True)."""
    import torch
    x, y = (torch.from_numpy(a) for a in _data(sizes[0]))
    dims = list(sizes) + [1]
    layers = []
    for a, b in zip(dims, dims[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.SiLU() if b != 1 else torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    try:
        adam = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    except (RuntimeError, TypeError):
        adam = torch.optim.Adam(model.parameters(), lr=1e-4)
    mse = torch.nn.MSELoss()

    def step():
        adam.zero_grad(set_to_none=True)
        mse(model(x), y).backward()
        adam.step()
    return step


def _with_threads(step, threads, torch=None):
    def call():
        if fk.get_num_threads() != threads:
            fk.set_num_threads(threads)
        if torch is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        step()
    return call


def cases(quick=False):
    try:
        import torch
    except ImportError:
        torch = None
    shapes = SHAPES[:1] if quick else SHAPES
    result = []
    for sizes in shapes:
        fpk, numpy_, torch_ = fpk_step(sizes), numpy_step(sizes), None
        if torch is not None:
            torch_ = torch_step(sizes)
        for threads in (1, 2):
            result.append({
                "name": f"nn train step {'-'.join(map(str, sizes))}-1 b{BATCH}",
                "threads": threads,
                "fpk": _with_threads(fpk, threads),
                "numpy": _with_threads(numpy_, threads),
                "torch": None if torch_ is None else _with_threads(torch_, threads, torch),
                "bytes": None,
                "flops": step_flops(sizes),
            })
    return result


def _best(call, seconds=1.0, repeats=5):
    call()
    call()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.1:
        call()
        n += 1
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - start) / n)
    return best


DEMO_CODE = """
import resource, sys, time
from fpkernels import demo
start = time.perf_counter()
code = demo.main(["--quiet", "--out", sys.argv[1]] + sys.argv[2:])
print("wall", time.perf_counter() - start)
try:   # this process's own peak (ru_maxrss would also count the parent's pages at fork)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("maxrss_kb", peak)
sys.exit(code)
"""


def demo_run(threads=2, extra=()):
    """(wall seconds inside the process, peak RSS in MB, the demo's result line)."""
    with tempfile.TemporaryDirectory() as out:
        package_parent = str(Path(fk.__file__).resolve().parents[1])
        env = dict(os.environ, OMP_NUM_THREADS=str(threads),
                   PYTHONPATH=os.pathsep.join(filter(None, [package_parent,
                                                            os.environ.get("PYTHONPATH")])))
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", DEMO_CODE, out, *extra], env=env,
                              capture_output=True, text=True, check=True)
        total = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    facts = dict(line.split() for line in lines if line.startswith(("wall", "maxrss_kb")))
    result = next(line for line in lines if line.startswith("held-out"))
    return total, float(facts["wall"]), int(facts["maxrss_kb"]) / 1024, result


def main():
    print(f"{'case':40s} {'thr':>3s} {'fpk ms':>9s} {'numpy ms':>9s} {'torch ms':>9s} "
          f"{'GFLOP/s':>8s} {'vs numpy':>8s} {'vs torch':>8s}")
    for case in cases():
        fpk = _best(case["fpk"])
        numpy_ = _best(case["numpy"]) if case["numpy"] else float("nan")
        torch_ = _best(case["torch"]) if case["torch"] else float("nan")
        print(f"{case['name']:40s} {case['threads']:3d} {fpk * 1e3:9.3f} {numpy_ * 1e3:9.3f} "
              f"{torch_ * 1e3:9.3f} {case['flops'] / fpk / 1e9:8.1f} {numpy_ / fpk:7.2f}x "
              f"{torch_ / fpk:7.2f}x", flush=True)
    for threads in (1, 2):
        total, wall, rss, result = demo_run(threads)
        print(f"demo, {threads} thread(s): {total:.2f} s with start-up ({wall:.2f} s in main), "
              f"peak RSS {rss:.0f} MB; {result}")


if __name__ == "__main__":
    main()
