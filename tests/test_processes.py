"""Processes and memory: fork after OpenMP ran, spawn, flat memory over many calls, MemoryError."""
import multiprocessing
import sys

import numpy as np
import pytest

import fpkernels as fk

BIG = 1 << 20  # large enough that kernels enter their parallel region


def child_work(_):
    x = np.linspace(-3, 3, BIG, dtype=np.float32)
    return float(fk.sum(fk.mul(x, x))), fk.get_num_threads()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_children_run_kernels_after_the_parent_used_openmp(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    with fk.num_threads(2):
        expected, _ = child_work(None)  # the parent's OpenMP thread pool now exists
    context = multiprocessing.get_context(method)
    with context.Pool(2) as pool:
        results = pool.map_async(child_work, range(4)).get(timeout=120)
    assert [value for value, _ in results] == [expected] * 4
    if method == "fork":  # libgomp's pool does not survive fork: children stay on one thread
        assert {threads for _, threads in results} == {1}


def raise_thread_count(_):
    try:
        fk.set_num_threads(2)
    except RuntimeError as error:
        return str(error)
    return "no error"


def test_a_forked_child_refuses_more_threads_instead_of_hanging():
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("fork is not available here")
    with multiprocessing.get_context("fork").Pool(1) as pool:
        message = pool.map_async(raise_thread_count, [0]).get(timeout=60)[0]
    assert "spawn" in message


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_100k_calls_per_family_leave_memory_flat():
    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(8, 8)
    y = np.linspace(0.1, 0.9, 64, dtype=np.float32).reshape(8, 8)
    out = np.empty_like(x)
    swish = fk.activations.get("swish")
    mse = fk.losses.get("mse")
    adam = fk.optimizers.get("adam")
    param = x.copy()
    families = {
        "element-wise": lambda: fk.add(x, y, out=out),
        "reduction": lambda: fk.std(x),
        "median": lambda: fk.median(x),
        "matmul": lambda: fk.matmul(x, y, out=out),
        "activation": lambda: swish.backward(x, y, out=out),
        "loss": lambda: mse.gradient(x, y),
        "optimizer": lambda: adam.step([param], [y]),
        "initializer": lambda: fk.initializers.get("he_normal")((8, 8), rng=1),
    }
    for name, call in families.items():
        for _ in range(2000):  # warm up caches and allocator pools
            call()
        before = resident_bytes()
        for _ in range(100_000):
            call()
        grown = resident_bytes() - before
        assert grown < 4 << 20, f"{name}: resident memory grew by {grown} bytes over 100,000 calls"


def test_a_result_too_large_to_allocate_raises_memory_error():
    column, row = np.ones((1 << 20, 1), np.float32), np.ones((1, 1 << 20), np.float32)
    with pytest.raises(MemoryError):
        fk.matmul(column, row)  # a 4 TiB result


def test_a_c_allocation_failure_raises_memory_error(run_python):
    # Cap the address space so the kernel's own scratch allocation (median's copy) fails.
    code = (
        "import resource, numpy as np, fpkernels as fk\n"
        "x = np.ones(64 << 20, np.float32)\n"
        "status = open('/proc/self/status').read()\n"
        "used = int(status.split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + x.nbytes // 2, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    fk.median(x)\n"
        "except MemoryError as e:\n"
        "    print('MemoryError', e)\n"
    )
    printed = run_python(code, check=False)
    assert "MemoryError" in printed.stdout, printed.stderr[-2000:]
