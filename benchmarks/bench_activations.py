"""Benchmark cases: activations (forward, fused backward), softmax and losses.

Every case does one call on preallocated inputs and outputs. fpkernels runs against PyTorch's
own out= kernels and against NumPy's natural expression (with out= where it has one).
Bytes moved, for n float32 elements: 8n forward (read x, write out), 12n backward (read x and
grad, write out; or the saved output y and grad for backward_from_output, what torch's sigmoid,
tanh and softmax backward kernels read), 8n for a loss value (read pred and target), 12n for a
loss gradient; twice as many per element for float64.

    flock /tmp/fpk-bench.lock python benchmarks/bench_activations.py [--quick]
"""
import sys
import time

import numpy as np

import fpkernels as fk

N = 16 * 1024 * 1024
SOFTMAX_SHAPE = (4096, 4096)


def _with_threads(threads, call, torch=None):
    """`call` run on `threads` threads (fpkernels' and, when given, torch's)."""
    if torch is not None:
        def run():
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            call()
        return run

    def run():
        with fk.num_threads(threads):
            call()
    return run


def _numpy_forward(name, x, out, tmp):
    """NumPy's natural expression of each activation, using out= where it can."""
    if name == "relu":
        return lambda: np.maximum(x, 0, out=out)
    if name == "leaky_relu":
        return lambda: (np.multiply(x, np.float32(0.01), out=tmp), np.maximum(x, tmp, out=out))
    if name == "sigmoid":
        return lambda: (np.negative(x, out=out), np.exp(out, out=out), np.add(out, 1, out=out),
                        np.reciprocal(out, out=out))
    if name == "tanh":
        return lambda: np.tanh(x, out=out)
    if name == "swish":
        return lambda: (np.negative(x, out=out), np.exp(out, out=out), np.add(out, 1, out=out),
                        np.divide(x, out, out=out))
    if name == "gelu_tanh":
        c = np.float32(np.sqrt(2 / np.pi))
        return lambda: (np.multiply(x, x, out=out), np.multiply(out, np.float32(0.044715), out=out),
                        np.add(out, 1, out=out), np.multiply(out, x, out=out),
                        np.multiply(out, c, out=out), np.tanh(out, out=out),
                        np.add(out, 1, out=out), np.multiply(out, x, out=out),
                        np.multiply(out, np.float32(0.5), out=out))
    return None   # gelu: NumPy has no erf


def _numpy_backward(name, x, g, out, tmp):
    """NumPy's natural expression of grad * f'(x)."""
    if name == "relu":
        return lambda: (np.greater(x, 0, out=tmp), np.multiply(g, tmp, out=out))
    if name == "leaky_relu":
        return lambda: (np.greater(x, 0, out=tmp), np.multiply(tmp, np.float32(0.99), out=tmp),
                        np.add(tmp, np.float32(0.01), out=tmp), np.multiply(g, tmp, out=out))
    if name == "sigmoid":
        return lambda: (np.negative(x, out=tmp), np.exp(tmp, out=tmp), np.add(tmp, 1, out=tmp),
                        np.reciprocal(tmp, out=tmp), np.subtract(1, tmp, out=out),
                        np.multiply(out, tmp, out=out), np.multiply(out, g, out=out))
    if name == "tanh":
        return lambda: (np.tanh(x, out=tmp), np.multiply(tmp, tmp, out=tmp),
                        np.subtract(1, tmp, out=tmp), np.multiply(g, tmp, out=out))
    if name == "swish":   # s + x s (1 - s) = s (1 + x (1 - s))
        return lambda: (np.negative(x, out=tmp), np.exp(tmp, out=tmp), np.add(tmp, 1, out=tmp),
                        np.reciprocal(tmp, out=tmp), np.subtract(1, tmp, out=out),
                        np.multiply(out, x, out=out), np.add(out, 1, out=out),
                        np.multiply(out, tmp, out=out), np.multiply(out, g, out=out))
    if name == "gelu_tanh":  # with t = tanh(u): (1 + t)/2 + x (1 - t^2) u'/2
        c, a = np.float32(np.sqrt(2 / np.pi)), np.float32(0.044715)   # = (1 + t)(1 + x u' (1 - t))/2
        return lambda: (np.multiply(x, x, out=tmp), np.multiply(tmp, 3 * a, out=out),
                        np.add(out, 1, out=out), np.multiply(out, c, out=out),      # u'
                        np.multiply(tmp, a, out=tmp), np.add(tmp, 1, out=tmp),
                        np.multiply(tmp, x, out=tmp), np.multiply(tmp, c, out=tmp),  # u
                        np.tanh(tmp, out=tmp), np.subtract(1, tmp, out=tmp),         # 1 - t
                        np.multiply(out, x, out=out), np.multiply(out, tmp, out=out),
                        np.add(out, 1, out=out), np.subtract(2, tmp, out=tmp),       # 1 + t
                        np.multiply(out, tmp, out=out), np.multiply(out, np.float32(0.5), out=out),
                        np.multiply(out, g, out=out))
    return None   # gelu: NumPy has no erf


def _numpy_from_output(name, y, g, out, tmp):
    """NumPy's natural expression of grad * f'(x) written in the output y = f(x)."""
    if name == "sigmoid":
        return lambda: (np.subtract(1, y, out=tmp), np.multiply(tmp, y, out=tmp),
                        np.multiply(g, tmp, out=out))
    return lambda: (np.multiply(y, y, out=tmp), np.subtract(1, tmp, out=tmp),
                    np.multiply(g, tmp, out=out))


def _torch_kernels(name, torch, tx, tg, ty, tout):
    """PyTorch's own out= kernels of an activation, (forward, backward), writing into tout;
    sigmoid's and tanh's backward take the forward output, which is left in ty."""
    aten = torch.ops.aten
    approximate = "tanh" if name == "gelu_tanh" else "none"
    forward = {
        "relu": lambda: torch.clamp_min(tx, 0, out=tout),
        "leaky_relu": lambda: aten.leaky_relu.out(tx, 0.01, out=tout),
        "sigmoid": lambda: torch.sigmoid(tx, out=tout),
        "tanh": lambda: torch.tanh(tx, out=tout),
        "swish": lambda: aten.silu.out(tx, out=tout),
        "gelu": lambda: aten.gelu.out(tx, approximate="none", out=tout),
        "gelu_tanh": lambda: aten.gelu.out(tx, approximate="tanh", out=tout),
    }[name]
    if name in ("sigmoid", "tanh"):
        getattr(torch, name)(tx, out=ty)
    backward = {
        "relu": lambda: aten.threshold_backward.grad_input(tg, tx, 0, grad_input=tout),
        "leaky_relu": lambda: aten.leaky_relu_backward.grad_input(tg, tx, 0.01, False,
                                                                  grad_input=tout),
        "sigmoid": lambda: aten.sigmoid_backward.grad_input(tg, ty, grad_input=tout),
        "tanh": lambda: aten.tanh_backward.grad_input(tg, ty, grad_input=tout),
        "swish": lambda: aten.silu_backward.grad_input(tg, tx, grad_input=tout),
        "gelu": lambda: aten.gelu_backward.grad_input(tg, tx, approximate="none", grad_input=tout),
        "gelu_tanh": lambda: aten.gelu_backward.grad_input(tg, tx, approximate=approximate,
                                                           grad_input=tout),
    }[name]
    return forward, backward


def _short(dtype):
    """The dtype's name in the case names: f32 or f64."""
    return {np.float32: "f32", np.float64: "f64"}[np.dtype(dtype).type]


def _elementwise_cases(names, x, g, threads, torch):
    """forward and backward of each activation named, then erf, on x and g (one dtype)."""
    n, dtype = x.size, _short(x.dtype)
    size = x.itemsize
    out, tmp = np.empty_like(x), np.empty_like(x)
    if torch is not None:
        tx, tg = torch.from_numpy(x), torch.from_numpy(g)
        tout, ty = torch.empty_like(tx), torch.empty_like(tx)
    result = []
    for name in names:
        act = fk.activations.get(name)
        torch_forward = torch_backward = None
        if torch is not None:
            forward, backward = _torch_kernels(name, torch, tx, tg, ty, tout)
            torch_forward = _with_threads(threads, forward, torch)
            torch_backward = _with_threads(threads, backward, torch)
        result.append({
            "name": f"{name} forward {dtype} n={n}", "threads": threads,
            "fpk": _with_threads(threads, lambda a=act: a.forward(x, out=out)),
            "numpy": _numpy_forward(name, x, out, tmp), "torch": torch_forward,
            "bytes": 2 * size * n, "flops": None})
        result.append({
            "name": f"{name} backward {dtype} n={n}", "threads": threads,
            "fpk": _with_threads(threads, lambda a=act: a.backward(x, g, out=out)),
            "numpy": _numpy_backward(name, x, g, out, tmp), "torch": torch_backward,
            "bytes": 3 * size * n, "flops": None})
        if name in ("sigmoid", "tanh"):     # torch's own work: from the output
            y = act.forward(x)
            result.append({
                "name": f"{name} backward_from_output {dtype} n={n}", "threads": threads,
                "fpk": _with_threads(threads, lambda a=act, y=y: a.backward_from_output(
                    y, g, out=out)),
                "numpy": _numpy_from_output(name, y, g, out, tmp), "torch": torch_backward,
                "bytes": 3 * size * n, "flops": None})
    # the error function on its own (NumPy has none)
    result.append({
        "name": f"erf {dtype} n={n}", "threads": threads,
        "fpk": _with_threads(threads, lambda: fk.erf(x, out=out)), "numpy": None,
        "torch": _with_threads(threads, lambda: torch.erf(tx, out=tout), torch)
        if torch is not None else None,
        "bytes": 2 * size * n, "flops": None})
    return result


def _softmax_cases(z, zg, dtype, threads, torch):
    """softmax forward, backward and backward_from_output on rows z (grad_out zg) in dtype."""
    z, zg = z.astype(dtype), zg.astype(dtype)
    zout, shape, name = np.empty_like(z), z.shape, _short(dtype)
    softmax = fk.activations.get("softmax")
    zs = softmax.forward(z)
    torch_sm = torch_smb = None
    if torch is not None:
        tz, tzg, tzs, tzout = (torch.from_numpy(a) for a in (z, zg, zs, zout))
        torch_sm = _with_threads(threads, lambda: torch.softmax(tz, -1, out=tzout), torch)
        torch_smb = _with_threads(threads, lambda: torch.ops.aten._softmax_backward_data.out(
            tzg, tzs, -1, tz.dtype, grad_input=tzout), torch)

    def numpy_softmax():
        np.subtract(z, z.max(axis=1, keepdims=True), out=zout)
        np.exp(zout, out=zout)
        np.divide(zout, zout.sum(axis=1, keepdims=True), out=zout)

    def numpy_from_output(s=zs):
        np.multiply(zg, s, out=zout)
        dot = zout.sum(axis=1, keepdims=True)
        np.subtract(zg, dot, out=zout)
        np.multiply(zout, s, out=zout)

    s_again = np.empty_like(z)

    def numpy_backward():                   # from z, as softmax.backward: s first, then the same
        np.subtract(z, z.max(axis=1, keepdims=True), out=s_again)
        np.exp(s_again, out=s_again)
        np.divide(s_again, s_again.sum(axis=1, keepdims=True), out=s_again)
        numpy_from_output(s_again)
    size = z.itemsize * z.size
    return [{"name": f"softmax forward {name} {shape}", "threads": threads,
             "fpk": _with_threads(threads, lambda: softmax.forward(z, out=zout)),
             "numpy": numpy_softmax, "torch": torch_sm, "bytes": 2 * size, "flops": None},
            {"name": f"softmax backward {name} {shape}", "threads": threads,
             "fpk": _with_threads(threads, lambda: softmax.backward(z, zg, out=zout)),
             "numpy": numpy_backward, "torch": torch_smb, "bytes": 3 * size, "flops": None},
            {"name": f"softmax backward_from_output {name} {shape}", "threads": threads,
             "fpk": _with_threads(threads, lambda: softmax.backward_from_output(zs, zg, out=zout)),
             "numpy": numpy_from_output, "torch": torch_smb, "bytes": 3 * size, "flops": None}]


def cases(quick=False):
    """The benchmark cases of this family (see benchmarks/bench.py)."""
    try:
        import torch
    except ImportError:
        torch = None
    n = N // 16 if quick else N
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32) * 3
    g = rng.standard_normal(n, dtype=np.float32)
    out = np.empty_like(x)
    tmp = np.empty_like(x)
    if torch is not None:
        tx, tout = torch.from_numpy(x), torch.empty(n)
        F, aten = torch.nn.functional, torch.ops.aten
    # float64: the same bytes as float32's cases (half the elements), where the work differs
    x64, g64 = x[:n // 2].astype(np.float64), g[:n // 2].astype(np.float64)
    result = []
    for threads in (1, 2):
        result += _elementwise_cases(["relu", "leaky_relu", "sigmoid", "tanh", "swish", "gelu",
                                      "gelu_tanh"], x, g, threads, torch)
        result += _elementwise_cases(["sigmoid", "tanh", "swish", "gelu", "gelu_tanh"],
                                     x64, g64, threads, torch)

        # swish with another beta: its own vector path (z = beta x in two parts); neither
        # library has a kernel for it, so their natural expressions x sigmoid(beta x)
        beta = 1.702
        swish_beta = fk.activations.get("swish", beta=beta)
        torch_swish_beta = None
        if torch is not None:
            torch_swish_beta = _with_threads(threads, lambda: (
                torch.mul(tx, beta, out=tout), torch.sigmoid(tout, out=tout),
                torch.mul(tout, tx, out=tout)), torch)
        result.append({
            "name": f"swish beta={beta} forward f32 n={n}", "threads": threads,
            "fpk": _with_threads(threads, lambda: swish_beta.forward(x, out=out)),
            "numpy": lambda: (np.multiply(x, np.float32(-beta), out=tmp), np.exp(tmp, out=tmp),
                              np.add(tmp, 1, out=tmp), np.divide(x, tmp, out=out)),
            "torch": torch_swish_beta, "bytes": 8 * n, "flops": None})
        result.append({
            "name": f"swish beta={beta} backward f32 n={n}", "threads": threads,
            "fpk": _with_threads(threads, lambda: swish_beta.backward(x, g, out=out)),
            "numpy": None, "torch": None, "bytes": 12 * n, "flops": None})

        # softmax over rows: the target's square batch, and a classifier's 10 classes
        for dtype, rows, cols in [(np.float32, *SOFTMAX_SHAPE), (np.float64, *SOFTMAX_SHAPE),
                                  (np.float32, N // 16, 10), (np.float64, N // 16, 10)]:
            shape = (rows // (16 if quick else 1), cols)
            result += _softmax_cases(rng.standard_normal(shape) * 3, rng.standard_normal(shape),
                                     dtype, threads, torch)

        # losses: value, gradient, and both in one pass (what a training step needs)
        p = rng.uniform(0.01, 0.99, n).astype(np.float32)
        y = (rng.uniform(0, 1, n) > 0.5).astype(np.float32)
        grad = np.empty_like(p)
        sign = np.where(y > 0, 1, -1).astype(np.float32)    # hinge's targets are -1 and +1
        for name in ["mae", "mse", "huber", "bce", "hinge"]:
            loss = fk.losses.get(name)
            target = sign if name == "hinge" else y
            torch_value = torch_gradient = None
            if torch is not None and name != "hinge":       # (torch has no such hinge loss)
                tp, tyy, tgrad = torch.from_numpy(p), torch.from_numpy(y), torch.empty(n)
                fn = {"mae": F.l1_loss, "mse": F.mse_loss, "huber": F.huber_loss,
                      "bce": F.binary_cross_entropy}[name]
                torch_value = _with_threads(threads, lambda f=fn: f(tp, tyy), torch)
                one = torch.tensor(1.0)
                gradient = {
                    "mse": lambda: aten.mse_loss_backward.grad_input(one, tp, tyy, 1, grad_input=tgrad),
                    "huber": lambda: aten.huber_loss_backward.out(one, tp, tyy, 1, 1.0, grad_input=tgrad),
                    "bce": lambda: aten.binary_cross_entropy_backward.grad_input(
                        one, tp, tyy, None, 1, grad_input=tgrad),
                }.get(name)
                torch_gradient = gradient and _with_threads(threads, gradient, torch)
            numpy_value = {
                "mae": lambda: (np.subtract(p, y, out=grad), np.abs(grad, out=grad), grad.mean()),
                "mse": lambda: (np.subtract(p, y, out=grad), np.square(grad, out=grad), grad.mean()),
                "huber": None,
                "bce": lambda: (np.log(p, out=grad), np.multiply(grad, y, out=grad),
                                np.subtract(1, p, out=out), np.log(out, out=out),
                                np.subtract(1, y, out=tmp), np.multiply(out, tmp, out=out),
                                np.add(grad, out, out=grad), -grad.mean()),
                "hinge": lambda: (np.multiply(p, sign, out=grad), np.subtract(1, grad, out=grad),
                                  np.maximum(grad, 0, out=grad), grad.mean()),
            }[name]
            result.append({"name": f"{name} value f32 n={n}", "threads": threads,
                           "fpk": _with_threads(threads, lambda lo=loss, t=target: lo.value(p, t)),
                           "numpy": numpy_value, "torch": torch_value, "bytes": 8 * n,
                           "flops": None})
            result.append({"name": f"{name} gradient f32 n={n}", "threads": threads,
                           "fpk": _with_threads(threads, lambda lo=loss, t=target: lo.gradient(
                               p, t, out=grad)),
                           "numpy": None, "torch": torch_gradient, "bytes": 12 * n, "flops": None})
            torch_both = torch_gradient and (lambda v=torch_value, g=torch_gradient: (v(), g()))
            result.append({"name": f"{name} value_and_gradient f32 n={n}", "threads": threads,
                           "fpk": _with_threads(threads, lambda lo=loss, t=target: lo.value_and_gradient(
                               p, t, out=grad)),
                           "numpy": None, "torch": torch_both, "bytes": 12 * n, "flops": None})
        # cce on a (16384, 1000) batch of probabilities, with labels and with one-hot rows;
        # torch and NumPy have no cce on probabilities: their natural expressions (nll_loss of
        # the logarithm; -(y log p) summed over classes), torch's gradient through autograd
        rows = (1024 if quick else 16384)
        probs = rng.uniform(0.01, 1, (rows, 1000)).astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
        labels = rng.integers(0, 1000, rows)
        one_hot = np.zeros_like(probs)
        one_hot[np.arange(rows), labels] = 1
        pgrad = np.empty_like(probs)
        cce = fk.losses.get("cce")
        torch_cce = {}
        if torch is not None:
            tprobs, tlabels, tone_hot = map(torch.from_numpy, (probs, labels, one_hot))
            trainable = tprobs.clone().requires_grad_()
            torch_cce = {
                "value one-hot": lambda: -(tone_hot * torch.log(tprobs)).sum(1).mean(),
                "value_and_gradient labels": lambda t=trainable: torch.autograd.grad(
                    F.nll_loss(torch.log(t), tlabels), t),
                "value_and_gradient one-hot": lambda t=trainable: torch.autograd.grad(
                    -(tone_hot * torch.log(t)).sum(1).mean(), t)}
        for what, call, numpy_call, passes in [      # (defaults bind the arrays: the cases
                ("value one-hot", lambda p=probs, y=one_hot: cce.value(p, y),   # run later)
                 lambda p=probs, y=one_hot: -(y * np.log(p)).sum(1).mean(), 2),
                ("gradient labels", lambda p=probs, y=labels: cce.gradient(p, y, out=pgrad),
                 None, 1),
                ("value_and_gradient labels", lambda p=probs, y=labels: cce.value_and_gradient(
                    p, y, out=pgrad), None, 1),
                ("value_and_gradient one-hot", lambda p=probs, y=one_hot: cce.value_and_gradient(
                    p, y, out=pgrad), None, 3)]:
            torch_call = torch_cce.get(what)
            result.append({"name": f"cce {what} f32 ({rows}, 1000)", "threads": threads,
                           "fpk": _with_threads(threads, call), "numpy": numpy_call,
                           "torch": torch_call and _with_threads(threads, torch_call, torch),
                           "bytes": passes * probs.nbytes, "flops": None})

        # softmax cross-entropy on a (16384, 1000)-ish batch of logits, on a vocabulary's worth
        # of classes (rows longer than the 4096 exponentials the gradient keeps), and on 10
        # classes (rows narrower than a vector, taken a block of rows at a time); float64 too
        sizes = ((1024, 1000), (64, 32000), (65536, 10)) if quick else (
            (16384, 1000), (512, 32000), (1 << 20, 10))
        for dtype, rows, cols in [(np.float32, *size) for size in sizes] + [
                (np.float64, *size) for size in (sizes[0], sizes[2])]:
            logits = rng.standard_normal((rows, cols)).astype(dtype)
            labels = rng.integers(0, cols, rows)
            lgrad = np.empty_like(logits)
            sce = fk.losses.get("softmax_cross_entropy")
            torch_sce = torch_sce_both = None
            if torch is not None:
                tl, tlab = torch.from_numpy(logits), torch.from_numpy(labels)
                torch_sce = _with_threads(
                    threads, lambda tl=tl, tlab=tlab: F.cross_entropy(tl, tlab), torch)
                trainable = tl.clone().requires_grad_()   # value and gradient, as autograd does
                torch_sce_both = _with_threads(
                    threads, lambda t=trainable, tlab=tlab: torch.autograd.grad(
                        F.cross_entropy(t, tlab), t), torch)
            shape = f"{_short(dtype)} ({rows}, {cols})"

            def sce_case(what, call, torch_call, passes, shape=shape, size=logits.nbytes):
                return {"name": f"softmax_cross_entropy {what} {shape}", "threads": threads,
                        "fpk": _with_threads(threads, call), "numpy": None, "torch": torch_call,
                        "bytes": passes * size, "flops": None}
            result += [      # (defaults bind this shape's arrays: the cases run later)
                sce_case("value", lambda z=logits, y=labels: sce.value(z, y), torch_sce, 1),
                sce_case("gradient", lambda z=logits, y=labels, g=lgrad: sce.gradient(
                    z, y, out=g), None, 2),          # passes over the logits' bytes: read, write
                sce_case("value_and_gradient", lambda z=logits, y=labels, g=lgrad:
                         sce.value_and_gradient(z, y, out=g), torch_sce_both, 2)]
            if cols != 1000 or dtype != np.float32:
                continue
            # one-hot target rows instead of labels (the labels' kernels take them)
            one_hot = np.zeros_like(logits)
            one_hot[np.arange(rows), labels] = 1
            torch_one_hot = None
            if torch is not None:
                torch_one_hot = _with_threads(
                    threads, lambda t=trainable, y=torch.from_numpy(one_hot): torch.autograd.grad(
                        F.cross_entropy(t, y), t), torch)
            result.append(sce_case("value_and_gradient one-hot", lambda z=logits, y=one_hot,
                                   g=lgrad: sce.value_and_gradient(z, y, out=g), torch_one_hot, 3))
    return result


def _best_time(call, repeats=5):
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(f"{'case':48s} {'thr':>3s} {'fpk ms':>8s} {'GB/s':>6s} {'numpy':>7s} {'torch':>7s}")
    for case in cases(quick):
        if only and not any(word in case["name"] for word in only):
            continue
        t = _best_time(case["fpk"])
        ratios = []
        for other in ("numpy", "torch"):
            ratios.append(f"{_best_time(case[other]) / t:7.2f}" if case[other] else "      -")
        rate = case["bytes"] / t / 1e9 if case["bytes"] else 0
        print(f"{case['name']:48s} {case['threads']:3d} {t * 1e3:8.2f} {rate:6.1f} "
              f"{ratios[0]} {ratios[1]}", flush=True)


if __name__ == "__main__":
    main()
