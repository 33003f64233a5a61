"""Conformance kit: check an activation, loss, initializer or optimizer in one call.

Meant for a plugin's own test suite (and used on every built-in):

    import fpkernels.testing as fkt

    def test_mish_conforms():
        fkt.check_activation("mish")              # a registry name, a class, or an object

    def test_lion_conforms():
        fkt.check_optimizer("lion", reference_step=my_reference_step)

Each check_* runs a list of named checks (interface, metadata, dtypes, shapes, out=, bad
input, finite differences, determinism, ...) and raises AssertionError naming the object,
the check that failed and why, e.g.

    AssertionError: check_activation(Mish) failed 'dtype preserved': forward(float32 x)
    returned float64

It returns the list of check names that passed (handy to print). No pytest needed.

What "conforms" means follows the SPEC's conventions: float32 and float64 in -> the same dtype
out, integers promote to float64, complex input raises TypeError, shapes are preserved, out=
is honoured (when the method takes it), inputs are not modified, results are deterministic
and the same on 1 and 2 threads, and derivatives/gradients agree with central finite
differences in float64.
"""
import copy
import inspect
import io
import pickle

import numpy as np

__all__ = ["check_activation", "check_loss", "check_initializer", "check_optimizer",
           "finite_difference"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _Checks:
    """Runs named checks and turns any failure into an AssertionError naming the check."""

    def __init__(self, function, label):
        self.function = function
        self.label = label
        self.passed = []

    def fail(self, check, message):
        raise AssertionError(f"{self.function}({self.label}) failed {check!r}: {message}")

    def run(self, check, body, *args):
        message = None
        try:
            body(*args)
        except AssertionError as error:
            if str(error).startswith(f"{self.function}("):
                raise
            message = str(error) or "assertion failed"
        except Exception as error:  # noqa: BLE001 - report any crash as a failed check
            message = f"raised {type(error).__name__}: {error}"
        if message is not None:
            self.fail(check, message)
        self.passed.append(check)


def _label(obj):
    if isinstance(obj, str):
        return repr(obj)
    if isinstance(obj, type):
        return obj.__name__
    return type(obj).__name__


def _resolve(kind, obj, hyperparams):
    """A registry name, a class (instantiated with defaults) or an object -> an object."""
    if isinstance(obj, str):
        import fpkernels
        return getattr(fpkernels, kind).get(obj, **hyperparams)
    if isinstance(obj, type):
        return obj(**hyperparams)
    return obj


def _threads(n):
    import fpkernels
    return fpkernels.num_threads(n)


def _accepts(method, parameter):
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _same(a, b):
    """Bitwise-equal arrays (NaN equal to NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind not in "fc":
        return np.array_equal(a, b)
    bits = lambda v: np.ascontiguousarray(v).reshape(-1).view(np.uint8)  # noqa: E731
    return np.array_equal(bits(a), bits(b))


def _close(actual, expected, rtol, atol, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        i = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} values differ beyond "
                             f"rtol={rtol}, atol={atol}; first at index {tuple(int(k) for k in i)}:"
                             f" got {actual[i]!r}, expected {expected[i]!r}")


def finite_difference(f, x, h=1e-6):
    """Central differences of the scalar function f at every element of the float64 array x."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        step = h * max(1.0, abs(keep))
        flat[i] = keep + step
        up = f(x)
        flat[i] = keep - step
        down = f(x)
        flat[i] = keep
        out[i] = (up - down) / (2 * step)
    return grad


def _check_metadata(checks, obj, names=("description", "formula", "formulaic")):
    def body():
        missing = []
        for name in names:
            value = getattr(obj, name, None)
            if name == "formulaic":
                if value is None or not callable(value):
                    missing.append("formulaic (a callable plain-Python reference)")
            elif not (isinstance(value, str) and value.strip()):
                missing.append(name)
        if missing:
            raise AssertionError("missing teaching metadata: " + ", ".join(missing))
    checks.run("metadata present", body)


def _check_methods(checks, obj, methods):
    def body():
        missing = [m for m in methods if not callable(getattr(obj, m, None))]
        if missing:
            raise AssertionError(f"{type(obj).__name__} lacks callable {', '.join(missing)}")
    checks.run("interface", body)


# ---- activations ---------------------------------------------------------------------------

def check_activation(activation, *, hyperparams=None, metadata=True, low=-4.0, high=4.0,
                     rtol=1e-5, atol=1e-7, seed=0, elementwise=None):
    """Check an activation (registry name, class or object) against the interface and the
    conventions; derivative and backward against central finite differences of forward.

    Inputs are drawn uniformly from [low, high] (keep away from kinks at 0: points within
    1e-3 of 0 are moved). Row-wise activations (softmax) are recognised by the class
    attribute `elementwise = False` (or pass elementwise=False): their backward is checked
    as a Jacobian-vector product and derivative is not checked. Returns the names of the
    checks that passed.
    """
    checks = _Checks("check_activation", _label(activation))
    act = None

    def make():
        nonlocal act
        act = _resolve("activations", activation, hyperparams or {})
    checks.run("create", make)
    _check_methods(checks, act, ("forward", "derivative", "backward"))
    if metadata:
        _check_metadata(checks, act)
    if elementwise is None:
        elementwise = getattr(act, "elementwise", True)
    rng = np.random.default_rng(seed)

    def sample(shape, dtype):
        x = rng.uniform(low, high, size=shape)
        x[np.abs(x) < 1e-3] = 0.5
        return x.astype(dtype)

    def dtypes_and_shapes():
        for dtype in FLOATS:
            for shape in ((), (7,), (3, 5), (2, 3, 4)) if elementwise else ((7,), (3, 5)):
                x = sample(shape, dtype)
                g = sample(shape, dtype)
                for name, result in (("forward", act.forward(x)),
                                     ("backward", act.backward(x, g))) + \
                        ((("derivative", act.derivative(x)),) if elementwise else ()):
                    if not isinstance(result, np.ndarray) and not (
                            x.ndim == 0 and isinstance(result, np.generic)):
                        raise AssertionError(f"{name}({dtype.name} x) returned "
                                             f"{type(result).__name__}, not a numpy.ndarray")
                    if np.asarray(result).dtype != dtype:
                        raise AssertionError(f"{name}({dtype.name} x) returned {result.dtype}")
                    if np.shape(result) != x.shape:
                        raise AssertionError(f"{name}(x of shape {x.shape}) returned shape "
                                             f"{result.shape}")
    checks.run("dtype and shape preserved", dtypes_and_shapes)

    def integers_promote():
        result = act.forward(np.arange(-3, 4))
        if result.dtype != np.float64:
            raise AssertionError(f"forward(int64 x) returned {result.dtype}, expected float64")
    checks.run("integers promote to float64", integers_promote)

    def float32_accuracy():
        x = sample((257,), np.float64)
        _close(act.forward(x.astype(np.float32)), act.forward(x), 1e-5, 1e-6,
               "forward(float32) vs forward(float64)")
        _close(act.backward(x.astype(np.float32), np.ones(257, np.float32)),
               act.backward(x, np.ones(257)), 1e-4, 1e-5, "backward(float32) vs backward(float64)")
    checks.run("float32 agrees with float64", float32_accuracy)

    def empty_and_lists():
        result = act.forward(np.zeros((0,) if elementwise else (0, 3)))
        if result.shape != ((0,) if elementwise else (0, 3)):
            raise AssertionError(f"forward(empty) returned shape {result.shape}")
        listed = act.forward([0.5, -0.25, 1.5])
        _close(listed, act.forward(np.array([0.5, -0.25, 1.5])), 0, 0, "forward(list)")
    checks.run("empty input and lists", empty_and_lists)

    def non_contiguous():
        x = sample((6, 8), np.float64)
        _close(act.forward(x[:, ::2]), act.forward(np.ascontiguousarray(x[:, ::2])), 0, 0,
               "forward(strided x)")
        _close(act.forward(x.T), act.forward(np.ascontiguousarray(x.T)), 0, 0,
               "forward(transposed x)")
    checks.run("non-contiguous input", non_contiguous)

    def inputs_untouched():
        x = sample((4, 5), np.float64)
        g = sample((4, 5), np.float64)
        x0, g0 = x.copy(), g.copy()
        act.forward(x)
        act.backward(x, g)
        if elementwise:
            act.derivative(x)
        if not (_same(x, x0) and _same(g, g0)):
            raise AssertionError("an input array was modified (without out=)")
        x.flags.writeable = False
        g.flags.writeable = False
        act.forward(x)
        act.backward(x, g)
    checks.run("inputs not modified, read-only inputs work", inputs_untouched)

    def out_honoured():
        for method, args in (("forward", 1), ("derivative", 1), ("backward", 2)):
            function = getattr(act, method)
            if (method == "derivative" and not elementwise) or not _accepts(function, "out"):
                continue
            for dtype in FLOATS:
                x = sample((3, 4), dtype)
                g = sample((3, 4), dtype)
                inputs = (x, g)[:args]
                expected = function(*inputs)
                out = np.full(x.shape, np.nan, dtype)
                result = function(*inputs, out=out)
                if result is not out:
                    raise AssertionError(f"{method}(..., out=out) did not return out")
                _close(out, expected, 0, 0, f"{method}(..., out=out) values")
                if elementwise:                  # out may alias x (in place)
                    alias = x.copy()
                    function(*((alias,) + inputs[1:]), out=alias)
                    _close(alias, expected, 0, 0, f"{method}(x, ..., out=x) in place")
                wrong = np.empty(x.shape, np.complex128)
                try:
                    function(*inputs, out=wrong)
                except (TypeError, ValueError):
                    pass
                else:
                    raise AssertionError(f"{method}(..., out=complex array) did not raise")
    checks.run("out= honoured", out_honoured)

    def bad_input():
        for bad in (np.ones(3, np.complex128), np.array(["a", "b"]), np.array([None, 1.0])):
            try:
                act.forward(bad)
            except TypeError:
                continue
            except Exception as error:  # noqa: BLE001
                raise AssertionError(f"forward({bad.dtype} x) raised {type(error).__name__}, "
                                     "expected TypeError") from None
            raise AssertionError(f"forward({bad.dtype} x) did not raise TypeError")
        if elementwise:
            try:
                act.backward(np.ones(3), np.ones(4))
            except ValueError:
                pass
            else:
                raise AssertionError("backward(x of shape (3,), grad_out of shape (4,)) did not "
                                     "raise ValueError")
    checks.run("bad input raises", bad_input)

    def nan_propagates():
        if not elementwise:
            return
        result = act.forward(np.array([np.nan, 1.0]))
        if not np.isnan(result[0]):
            raise AssertionError(f"forward(NaN) returned {result[0]!r}")
    checks.run("NaN propagates", nan_propagates)

    def gradients():
        x = sample((2, 5) if not elementwise else (11,), np.float64)
        g = sample(x.shape, np.float64)
        if elementwise:
            numeric = finite_difference(lambda v: float(np.sum(act.forward(v))), x)
            _close(act.derivative(x), numeric, rtol, atol * 10 + 1e-6,
                   "derivative(x) vs finite differences of forward")
            _close(act.backward(x, g), g * act.derivative(x), 1e-12, 1e-12,
                   "backward(x, g) vs g * derivative(x)")
        numeric = finite_difference(lambda v: float(np.sum(g * act.forward(v))), x)
        _close(act.backward(x, g), numeric, rtol, atol * 10 + 1e-6,
               "backward(x, g) vs finite differences of sum(g * forward(x))")
    checks.run("derivative vs finite differences (float64)", gradients)

    def deterministic():
        for dtype in FLOATS:
            x = sample((1000,) if elementwise else (10, 100), dtype)
            g = sample(x.shape, dtype)
            if not (_same(act.forward(x), act.forward(x))
                    and _same(act.backward(x, g), act.backward(x, g))):
                raise AssertionError(f"two calls on the same {dtype.name} input differ")
    checks.run("deterministic", deterministic)

    def thread_count_independent():
        x = sample((300_000,) if elementwise else (3000, 100), np.float32)
        g = sample(x.shape, np.float32)
        results = []
        for threads in (1, 2):
            with _threads(threads):
                results.append((act.forward(x), act.backward(x, g)))
        if not all(_same(a, b) for a, b in zip(*results)):
            raise AssertionError("1 and 2 threads give different results")
    checks.run("same result on 1 and 2 threads", thread_count_independent)

    def formulaic_agrees():
        reference = getattr(act, "formulaic", None)
        if not callable(reference):
            return
        x = sample((3, 4), np.float64)
        kwargs = _formulaic_kwargs(reference, act)
        variants = [(lambda: reference(x.tolist(), **kwargs), x)]      # rows of numbers
        if elementwise:
            variants.append((lambda: reference(x[0].tolist(), **kwargs), x[0]))  # one list
        if not _compare_formulaic(variants, act.forward, "forward(x)"):
            checks.passed.append("formulaic reference not comparable (skipped)")
    if metadata:
        checks.run("formulaic reference agrees", formulaic_agrees)
    return checks.passed


def _compare_formulaic(variants, fast, what):
    """Call the formulaic reference the first way that works (nested rows or one flat list)
    and compare with the fast result; False when no way of calling it works."""
    mismatch = None
    for call, x in variants:
        try:
            expected = np.asarray(call(), np.float64)
        except (TypeError, ValueError):
            continue
        actual = fast(x)
        if expected.shape != np.shape(actual):
            mismatch = f"the formulaic reference returned shape {expected.shape}, {what} " \
                       f"returned {np.shape(actual)}"
            continue
        _close(actual, expected, 1e-9, 1e-12, f"{what} vs its formulaic reference")
        return True
    if mismatch:
        raise AssertionError(mismatch)
    return False


def _formulaic_kwargs(reference, obj):
    """The hyper-parameters of obj that the formulaic function also takes by name."""
    config = obj.config() if callable(getattr(obj, "config", None)) else {}
    return {k: v for k, v in config.items() if _accepts(reference, k)}


# ---- losses -----------------------------------------------------------------------------

def _default_loss_inputs(rng, dtype):
    pred = rng.uniform(0.05, 0.95, size=(4, 6))
    target = rng.uniform(0.0, 1.0, size=(4, 6))
    return pred.astype(dtype), target.astype(dtype)


def check_loss(loss, *, hyperparams=None, inputs=None, metadata=True, rtol=1e-5, atol=1e-8,
               seed=0):
    """Check a loss (registry name, class or object): value is a float, gradient keeps pred's
    dtype and shape and matches central finite differences of value (float64), for each
    reduction the loss accepts; bad input raises.

    inputs: a function (rng, dtype) -> (pred, target) of valid inputs for this loss (default:
    the loss's own `example_inputs(rng, dtype)` if it has one, else pred in (0.05, 0.95) and
    target in [0, 1], both of shape (4, 6)).
    """
    checks = _Checks("check_loss", _label(loss))
    hyperparams = dict(hyperparams or {})
    objects = {}

    def make():
        objects["default"] = _resolve("losses", loss, hyperparams)
    checks.run("create", make)
    obj = objects["default"]
    _check_methods(checks, obj, ("value", "gradient"))
    if metadata:
        _check_metadata(checks, obj)
    if inputs is None:
        inputs = getattr(obj, "example_inputs", None) or _default_loss_inputs
    rng = np.random.default_rng(seed)
    factory = type(obj) if not isinstance(loss, str) else None

    def with_reduction(reduction):
        settings = dict(hyperparams, reduction=reduction)
        if isinstance(loss, str):
            import fpkernels
            return fpkernels.losses.get(loss, **settings)
        return factory(**settings)

    reductions = {}
    try:
        for reduction in ("mean", "sum", "none"):
            reductions[reduction] = with_reduction(reduction)
    except (TypeError, ValueError):
        pass
    if not reductions:
        reductions["default"] = obj

    def value_and_gradient_types():
        for dtype in FLOATS:
            pred, target = inputs(rng, dtype)
            for reduction, each in reductions.items():
                value = each.value(pred, target)
                if reduction == "none":
                    if not isinstance(value, np.ndarray):
                        raise AssertionError("value with reduction='none' is not an array")
                elif not isinstance(value, (float, np.floating)) or np.ndim(value) != 0:
                    raise AssertionError(f"value ({reduction}) returned {type(value).__name__}, "
                                         "expected a float")
                gradient = each.gradient(pred, target)
                if not isinstance(gradient, np.ndarray) or gradient.dtype != dtype \
                        or gradient.shape != np.shape(pred):
                    raise AssertionError(
                        f"gradient ({reduction}) of {dtype.name} pred {np.shape(pred)} returned "
                        f"{getattr(gradient, 'dtype', type(gradient).__name__)} "
                        f"{getattr(gradient, 'shape', '')}")
    checks.run("value is a float, gradient keeps dtype and shape", value_and_gradient_types)

    def gradients():
        pred, target = inputs(rng, np.float64)
        for reduction, each in reductions.items():
            if reduction == "none":
                continue
            numeric = finite_difference(lambda p: float(each.value(p, target)), pred)
            _close(each.gradient(pred, target), numeric, rtol, atol,
                   f"gradient ({reduction}) vs finite differences of value")
    checks.run("gradient vs finite differences (float64)", gradients)

    def value_and_gradient_agree():
        for dtype in FLOATS:
            pred, target = inputs(rng, dtype)
            for reduction, each in reductions.items():
                both = getattr(each, "value_and_gradient", None)
                if both is None:
                    continue
                value, gradient = both(pred, target)
                _close(value, each.value(pred, target), rtol, atol,
                       f"value_and_gradient's value ({reduction}, {dtype.name}) vs value")
                _close(gradient, each.gradient(pred, target), rtol, atol,
                       f"value_and_gradient's gradient ({reduction}, {dtype.name}) vs gradient")
    checks.run("value_and_gradient agrees with value and gradient", value_and_gradient_agree)

    def float32_accuracy():
        pred, target = inputs(np.random.default_rng(seed), np.float32)
        wide = lambda a: np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a  # noqa: E731
        _close(obj.value(pred, target), obj.value(wide(pred), wide(target)), 1e-4, 1e-6,
               "value(float32) vs value(float64)")
    checks.run("float32 agrees with float64", float32_accuracy)

    def inputs_untouched_and_deterministic():
        pred, target = inputs(rng, np.float64)
        p0, t0 = np.copy(pred), np.copy(target)
        first = (obj.value(pred, target), obj.gradient(pred, target))
        second = (obj.value(pred, target), obj.gradient(pred, target))
        if not (_same(pred, p0) and _same(target, t0)):
            raise AssertionError("pred or target was modified")
        if not (_same(np.float64(first[0]), np.float64(second[0])) and _same(first[1], second[1])):
            raise AssertionError("two calls on the same input differ")
    checks.run("inputs not modified, deterministic", inputs_untouched_and_deterministic)

    def thread_count_independent():
        pred, target = inputs(np.random.default_rng(seed), np.float32)
        pred, target = np.asarray(pred), np.asarray(target)
        copies = max(1, 300_000 // max(1, pred.size))
        pred = np.tile(pred, (copies,) + (1,) * (pred.ndim - 1))
        target = np.tile(target, (copies,) + (1,) * (target.ndim - 1))
        results = []
        for threads in (1, 2):
            with _threads(threads):
                results.append((np.float64(obj.value(pred, target)), obj.gradient(pred, target)))
        if not all(_same(a, b) for a, b in zip(*results)):
            raise AssertionError("1 and 2 threads give different results (reductions must be "
                                 "bitwise identical whatever the thread count)")
    checks.run("same result on 1 and 2 threads", thread_count_independent)

    def bad_input():
        pred, target = inputs(rng, np.float64)
        for method in ("value", "gradient"):
            try:
                getattr(obj, method)(np.asarray(pred).astype(np.complex128), target)
            except TypeError:
                pass
            else:
                raise AssertionError(f"{method}(complex pred, target) did not raise TypeError")
        if np.shape(pred) == np.shape(target) and np.ndim(pred) >= 1:
            wrong = np.asarray(target).reshape(-1)[:-1]
            try:
                obj.value(pred, wrong)
            except ValueError as error:
                if str(np.shape(pred)) not in str(error) or str(wrong.shape) not in str(error):
                    raise AssertionError(f"the shape error does not name both shapes: "
                                         f"{error}") from None
            else:
                raise AssertionError(f"value(pred {np.shape(pred)}, target {wrong.shape}) did "
                                     "not raise ValueError")
    checks.run("bad input raises", bad_input)

    def formulaic_agrees():
        reference = getattr(obj, "formulaic", None)
        if not callable(reference):
            return
        pred, target = inputs(np.random.default_rng(seed + 1), np.float64)
        pred, target = np.asarray(pred), np.asarray(target)
        kwargs = _formulaic_kwargs(reference, obj)
        variants = [(lambda: reference(pred.tolist(), target.tolist(), **kwargs), None)]
        if pred.shape == target.shape:
            variants.append((lambda: reference(pred.ravel().tolist(), target.ravel().tolist(),
                                               **kwargs), None))
        if not _compare_formulaic(variants, lambda _: obj.value(pred, target), "value(pred, target)"):
            checks.passed.append("formulaic reference not comparable (skipped)")
    if metadata:
        checks.run("formulaic reference agrees", formulaic_agrees)
    return checks.passed


# ---- initializers -----------------------------------------------------------------------

def check_initializer(initializer, *, hyperparams=None, metadata=True, shape=(64, 32)):
    """Check an initializer (registry name, class or object): new array of the shape and
    dtype asked (float32 by default), finite, reproducible from a seed (int or Generator),
    different seeds differ (unless constant), bad dtype raises TypeError."""
    checks = _Checks("check_initializer", _label(initializer))
    objects = {}

    def make():
        objects["init"] = _resolve("initializers", initializer, hyperparams or {})
    checks.run("create", make)
    init = objects["init"]

    def interface():
        if not callable(init):
            raise AssertionError(f"{type(init).__name__} is not callable as init(shape, rng=...)")
    checks.run("interface", interface)
    if metadata:
        _check_metadata(checks, init, ("description", "formula"))

    def shapes_and_dtypes():
        default = init(shape, rng=0)
        if not isinstance(default, np.ndarray) or default.dtype != np.float32:
            raise AssertionError(f"init{shape} returned {getattr(default, 'dtype', default)!r}, "
                                 "expected a float32 array by default")
        for dtype in FLOATS:
            for each in (shape, (5, 3), list(shape)):
                w = init(each, rng=0, dtype=dtype)
                if w.dtype != dtype or w.shape != tuple(each):
                    raise AssertionError(f"init({each}, dtype={dtype.name}) returned "
                                         f"{w.dtype} of shape {w.shape}")
                if not np.all(np.isfinite(w)):
                    raise AssertionError(f"init({each}) returned non-finite values")
                if not w.flags.c_contiguous or not w.flags.writeable:
                    raise AssertionError("the result is not a writable C-contiguous array")
    checks.run("dtype and shape", shapes_and_dtypes)

    def reproducible():
        for dtype in FLOATS:
            a, b = init(shape, rng=123, dtype=dtype), init(shape, rng=123, dtype=dtype)
            if not _same(a, b):
                raise AssertionError(f"the same seed gave different {dtype.name} values")
            c = init(shape, rng=124, dtype=dtype)
            if _same(a, c) and np.unique(a).size > 1:
                raise AssertionError("different seeds gave the same values")
        g1 = init(shape, rng=np.random.default_rng(5))
        g2 = init(shape, rng=np.random.default_rng(5))
        if not _same(g1, g2):
            raise AssertionError("two Generators with one seed gave different values")
        init(shape)                                      # rng=None works too
    checks.run("reproducible from a seed", reproducible)

    def bad_input():
        try:
            init(shape, rng=0, dtype=np.complex128)
        except TypeError:
            pass
        else:
            raise AssertionError("dtype=complex128 did not raise TypeError")
        for bad in ((-1, 3), (2.5, 3)):
            try:
                init(bad, rng=0)
            except (TypeError, ValueError):
                pass
            else:
                raise AssertionError(f"shape {bad} did not raise ValueError or TypeError")
    checks.run("bad input raises", bad_input)
    return checks.passed


# ---- optimizers -------------------------------------------------------------------------

def _fresh_factory(optimizer, hyperparams):
    if isinstance(optimizer, str):
        import fpkernels
        return lambda: fpkernels.optimizers.get(optimizer, **hyperparams)
    if isinstance(optimizer, type):
        return lambda: optimizer(**hyperparams)
    template = copy.deepcopy(optimizer)
    return lambda: copy.deepcopy(template)


def check_optimizer(optimizer, reference_step=None, *, hyperparams=None, metadata=True,
                    steps=3, seed=0):
    """Check an optimizer (registry name, class or a fresh object: it is deep-copied).

    reference_step(param, grad, state, t, hyperparameters) -> new param: the plugin's plain
    NumPy statement of one update, given float64 copies, its own per-parameter `state` dict
    (empty at first; keep what you need in it), the step number t (1 for the first step) and
    the optimizer's config() (hyper-parameters). The kit runs `steps` steps of both on
    float64 parameters and compares them (rtol 1e-10), then on float32 (rtol 1e-5).

    Also checks: interface, params updated in place keeping dtype and identity, gradients not
    modified, bad input raises, deterministic, and state_dict() round-trips through
    numpy.savez/numpy.load and pickle so a resumed run is bit-identical.
    """
    checks = _Checks("check_optimizer", _label(optimizer))
    fresh = _fresh_factory(optimizer, dict(hyperparams or {}))
    objects = {}

    def make():
        objects["opt"] = fresh()
    checks.run("create", make)
    opt = objects["opt"]
    _check_methods(checks, opt, ("step", "state_dict", "load_state_dict"))
    if metadata:
        _check_metadata(checks, opt, ("description", "formula"))
    rng = np.random.default_rng(seed)
    shapes = ((4, 3), (7,))

    def problem(dtype, count=steps):
        params = [rng.standard_normal(s).astype(dtype) for s in shapes]
        grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(count)]
        return params, grads

    def in_place():
        for dtype in FLOATS:
            o = fresh()
            params, grads = problem(dtype, 1)
            ids, before = [id(p) for p in params], [p.copy() for p in params]
            g_before = [g.copy() for g in grads[0]]
            o.step(params, grads[0])
            for i, p in enumerate(params):
                if id(p) != ids[i] or p.dtype != dtype or p.shape != shapes[i]:
                    raise AssertionError(f"parameter {i} changed identity, dtype or shape")
                if _same(p, before[i]):
                    raise AssertionError(f"parameter {i} ({dtype.name}) was not updated in place")
            if not all(_same(g, g0) for g, g0 in zip(grads[0], g_before)):
                raise AssertionError("a gradient array was modified")
    checks.run("updates in place, keeps dtype", in_place)

    def against_reference():
        if reference_step is None:
            return
        config = opt.config() if callable(getattr(opt, "config", None)) else {}
        for dtype, tolerance in ((np.float64, 1e-10), (np.float32, 1e-5)):
            o = fresh()
            params, grads = problem(dtype)
            expected = [p.astype(np.float64) for p in params]
            states = [{} for _ in params]
            for t, step_grads in enumerate(grads, start=1):
                o.step(params, step_grads)
                expected = [np.asarray(reference_step(e.copy(), g.astype(np.float64), s, t,
                                                      dict(config)), np.float64)
                            for e, g, s in zip(expected, step_grads, states)]
                for i, (p, e) in enumerate(zip(params, expected)):
                    _close(p, e, tolerance, tolerance,
                           f"parameter {i} after step {t} ({np.dtype(dtype).name}) vs reference")
    checks.run("steps match the reference", against_reference)

    def deterministic_and_resumable():
        params, grads = problem(np.float32, 4)
        straight = fresh()
        run = [p.copy() for p in params]
        for g in grads:
            straight.step(run, g)
        for how in ("numpy.savez", "pickle"):
            first = fresh()
            resumed_params = [p.copy() for p in params]
            for g in grads[:2]:
                first.step(resumed_params, g)
            state = first.state_dict()
            if how == "numpy.savez":
                buffer = io.BytesIO()
                np.savez(buffer, **state)
                buffer.seek(0)
                with np.load(buffer, allow_pickle=True) as loaded:
                    state = {k: loaded[k] for k in loaded.files}
            else:
                state = pickle.loads(pickle.dumps(state))
            second = fresh()
            second.load_state_dict(state)
            for g in grads[2:]:
                second.step(resumed_params, g)
            for i, (a, b) in enumerate(zip(resumed_params, run)):
                if not _same(a, b):
                    raise AssertionError(f"after a {how} round trip of state_dict(), parameter "
                                         f"{i} differs from an uninterrupted run")
        again = [p.copy() for p in params]
        other = fresh()
        for g in grads:
            other.step(again, g)
        if not all(_same(a, b) for a, b in zip(again, run)):
            raise AssertionError("two runs from the same start differ")
        fresh().state_dict()                           # works before the first step
    checks.run("deterministic, state_dict round-trips", deterministic_and_resumable)

    def thread_count_independent():
        big = np.random.default_rng(seed)
        start = big.standard_normal(300_000).astype(np.float32)
        grads = [big.standard_normal(300_000).astype(np.float32) for _ in range(2)]
        results = []
        for threads in (1, 2):
            o, p = fresh(), start.copy()
            with _threads(threads):
                for g in grads:
                    o.step([p], [g])
            results.append(p)
        if not _same(*results):
            raise AssertionError("1 and 2 threads give different parameters")
    checks.run("same result on 1 and 2 threads", thread_count_independent)

    def bad_input():
        o = fresh()
        params, grads = problem(np.float64, 1)
        for args, error, what in (
                ((params, grads[0][:1]), ValueError, "fewer gradients than parameters"),
                ((params, [np.ones((3, 4)), grads[0][1]]), ValueError, "a gradient of the wrong shape"),
                ((params, [g.astype(np.complex128) for g in grads[0]]), TypeError, "complex gradients")):
            try:
                o.step(*args)
            except error:
                pass
            except Exception as other:  # noqa: BLE001
                raise AssertionError(f"step with {what} raised {type(other).__name__}, expected "
                                     f"{error.__name__}") from None
            else:
                raise AssertionError(f"step with {what} did not raise {error.__name__}")
    checks.run("bad input raises", bad_input)
    return checks.passed
