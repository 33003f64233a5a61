"""Two or more builds of fpkernels, timed in turn in one process: an A/B of a change.

    git archive HEAD~1 | tar -x -C /tmp/base && (cd /tmp/base && python build_ffi.py)
    flock /tmp/fpk-bench.lock python benchmarks/ab_builds.py softmax_forward /tmp/base .

Each build's compiled module is loaded under a name of its own and its C function called
directly, the builds taking turns call by call (40 each, 2 threads); printed: each build's
best and median milliseconds. A shared machine's memory speed swings by half within minutes,
so runs in separate processes, even alternated, hid differences of 10-20% that this shows.
`torch` in place of a build directory takes a turn with PyTorch's own out= kernel for the
case (softmax's and sigmoid's backward from the saved output, as torch's autograd runs them):

    flock /tmp/fpk-bench.lock python benchmarks/ab_builds.py gelu_tanh_backward . torch

Not part of bench.py (its name does not start with bench_).
"""
import glob
import importlib.util
import sys
import time

import numpy as np

rng = np.random.default_rng(0)
LABELS = rng.integers(0, 1000, 16384)
TEN_LABELS = rng.integers(0, 10, 1 << 20)
TARGETS = (rng.uniform(0, 1, 1 << 24) > 0.5).astype(np.float32)     # bce's, as bench.py's


def square():
    return (rng.standard_normal((4096, 4096)) * 3).astype(np.float32)


def long_array():
    return (rng.standard_normal(1 << 24) * 3).astype(np.float32)


def square_f64():
    return rng.standard_normal((4096, 4096)) * 3


def long_array_f64():
    return rng.standard_normal(1 << 23) * 3


def probabilities():
    return rng.uniform(0.01, 0.99, 1 << 24).astype(np.float32)


def logits():
    return rng.standard_normal((16384, 1000)).astype(np.float32)


def ten_classes():
    """A classifier's rows: (1048576, 10) float32, as bench.py's short-row cases."""
    return (rng.standard_normal((1 << 20, 10)) * 3).astype(np.float32)


def torch_softmax(aten, x, g, y, o):
    return aten._softmax.out(x, -1, False, out=o)


def torch_softmax_backward(aten, x, g, y, o):
    return aten._softmax_backward_data.out(g, y, -1, x.dtype, grad_input=o)


CASES = {   # name: (the input's maker, the C function's call(lib, ffi, x, g, out), torch's
            #        call(aten, x, g, y, out), y the softmax (rows) or sigmoid of x)
    "softmax_forward": (square, lambda lib, ffi, x, g, o:
                        lib.fpk_softmax_forward_f32(x, o, 4096, 4096), torch_softmax),
    "softmax_backward": (square, lambda lib, ffi, x, g, o:
                         lib.fpk_softmax_backward_f32(x, g, o, 4096, 4096),
                         torch_softmax_backward),
    "softmax_from_output": (square, lambda lib, ffi, x, g, o:
                            lib.fpk_softmax_backward_from_output_f32(x, g, o, 4096, 4096),
                            lambda aten, x, g, y, o: torch_softmax_backward(aten, x, g, x, o)),
    "swish_backward": (long_array, lambda lib, ffi, x, g, o:
                       lib.fpk_swish_backward_f32(x, g, o, 1 << 24, 1.0),
                       lambda aten, x, g, y, o: aten.silu_backward.grad_input(g, x, grad_input=o)),
    "gelu_forward": (long_array, lambda lib, ffi, x, g, o: lib.fpk_gelu_forward_f32(x, o, 1 << 24),
                     lambda aten, x, g, y, o: aten.gelu.out(x, approximate="none", out=o)),
    "gelu_tanh_backward": (long_array, lambda lib, ffi, x, g, o:
                           lib.fpk_gelu_tanh_backward_f32(x, g, o, 1 << 24),
                           lambda aten, x, g, y, o: aten.gelu_backward.grad_input(
                               g, x, approximate="tanh", grad_input=o)),
    "softmax_forward_f64": (square_f64, lambda lib, ffi, x, g, o:
                            lib.fpk_softmax_forward_f64(x, o, 4096, 4096), torch_softmax),
    "softmax_backward_f64": (square_f64, lambda lib, ffi, x, g, o:
                             lib.fpk_softmax_backward_f64(x, g, o, 4096, 4096),
                             torch_softmax_backward),
    "softmax_forward_10": (ten_classes, lambda lib, ffi, x, g, o:
                           lib.fpk_softmax_forward_f32(x, o, 1 << 20, 10), torch_softmax),
    "softmax_backward_10": (ten_classes, lambda lib, ffi, x, g, o:
                            lib.fpk_softmax_backward_f32(x, g, o, 1 << 20, 10),
                            torch_softmax_backward),
    "sce_value_10": (ten_classes, lambda lib, ffi, x, g, o:
                     lib.fpk_softmax_cross_entropy_value_f32(
                         x, ffi.cast("int64_t *", TEN_LABELS.ctypes.data), ffi.NULL, 1 << 20, 10,
                         1, ffi.NULL, ffi.new("double *")), None),
    "sce_gradient_10": (ten_classes, lambda lib, ffi, x, g, o:
                        lib.fpk_softmax_cross_entropy_gradient_f32(
                            x, ffi.cast("int64_t *", TEN_LABELS.ctypes.data), ffi.NULL, o,
                            1 << 20, 10, 1), None),
    "sce_value_and_gradient_10": (ten_classes, lambda lib, ffi, x, g, o:
                                  lib.fpk_softmax_cross_entropy_value_and_gradient_f32(
                                      x, ffi.cast("int64_t *", TEN_LABELS.ctypes.data), ffi.NULL,
                                      o, 1 << 20, 10, 1, ffi.NULL, ffi.new("double *")), None),
    "sigmoid_backward_f64": (long_array_f64, lambda lib, ffi, x, g, o:
                             lib.fpk_sigmoid_backward_f64(x, g, o, 1 << 23),
                             lambda aten, x, g, y, o: aten.sigmoid_backward.grad_input(
                                 g, y, grad_input=o)),
    "bce_value_and_gradient": (probabilities, lambda lib, ffi, x, g, o:
                               lib.fpk_bce_value_and_gradient_f32(
                                   x, ffi.cast("float *", TARGETS.ctypes.data), o, 1 << 24, 1,
                                   ffi.NULL, ffi.new("double *")), None),
    "sce_gradient": (logits, lambda lib, ffi, x, g, o: lib.fpk_softmax_cross_entropy_gradient_f32(
        x, ffi.cast("int64_t *", LABELS.ctypes.data), ffi.NULL, o, 16384, 1000, 1), None),
    "sce_value_and_gradient": (logits, lambda lib, ffi, x, g, o:
                               lib.fpk_softmax_cross_entropy_value_and_gradient_f32(
                                   x, ffi.cast("int64_t *", LABELS.ctypes.data), ffi.NULL, o,
                                   16384, 1000, 1, ffi.NULL, ffi.new("double *")), None),
}


def torch_call(call_torch, x, g, out):
    """PyTorch's turn: its kernel on tensors sharing x's, g's and out's memory, 2 threads."""
    import torch
    torch.set_num_threads(2)
    tx, tg, tout = (torch.from_numpy(a) for a in (x, g, out))
    y = torch.softmax(tx, -1) if tx.dim() == 2 else torch.sigmoid(tx)
    return lambda: call_torch(torch.ops.aten, tx, tg, y, tout)


def load(build, k):
    path = glob.glob(f"{build}/fpkernels/_fpkernels*.so")[0]
    spec = importlib.util.spec_from_file_location(f"build{k}._fpkernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.lib.fpk_set_num_threads(2)
    return module


def main(case, builds, calls=40):
    make, call, call_torch = CASES[case]
    x = make()
    g = rng.standard_normal(x.shape).astype(x.dtype)
    out = np.empty_like(x)
    functions = []
    for k, build in enumerate(builds):
        if build == "torch":
            if call_torch is None:
                sys.exit(f"{case}: no PyTorch kernel to compare with")
            functions.append(torch_call(call_torch, x, g, out))
            functions[-1]()                                           # a warm-up
            continue
        module = load(build, k)
        c_type = "double *" if x.dtype == np.float64 else "float *"
        pointers = [module.ffi.cast(c_type, a.ctypes.data) for a in (x, g, out)]
        functions.append(lambda m=module, p=pointers: call(m.lib, m.ffi, *p))
        assert functions[-1]() == 0, f"{build}: {case} failed"     # and a warm-up
    times = [[] for _ in builds]
    for _ in range(calls):
        for k, f in enumerate(functions):
            start = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - start) * 1e3)
    for build, t in zip(builds, times):
        print(f"{case:18s} {build:24s} best {min(t):.2f} ms, median {np.median(t):.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in CASES:
        sys.exit(f"usage: ab_builds.py {{{','.join(CASES)}}} BUILD_DIR|torch BUILD_DIR|torch ...")
    main(sys.argv[1], sys.argv[2:])
