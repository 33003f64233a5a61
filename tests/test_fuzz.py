"""Fuzzing the public API: random dtypes, shapes, strides, read-only arrays, NaN/inf/denormals and
out= arguments at every entry point. Allowed outcomes: the right answer, or a documented exception
(TypeError for non-real dtypes and bad out= dtypes; ValueError for bad shapes, empty reductions and
bad out=). Run longer with HYPOTHESIS_PROFILE=fuzz (see docs/hardening.md)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import fpkernels as fk

REAL_DTYPES = ["bool", "int8", "uint8", "int32", "int64", "float16", "float32", "float64"]
BAD_DTYPES = ["complex64", "complex128", "object", "U3"]
SPECIAL = [0.0, -0.0, 1e-40, -1e-40, 1e-30, -1e-30, 20.0, -20.0, 88.0, -88.0, 1e4, -1e4,
           math.inf, -math.inf, math.nan]

erf64 = np.vectorize(math.erf, otypes=[np.float64])
erfc64 = np.vectorize(math.erfc, otypes=[np.float64])


def sigmoid64(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


UNARY = {  # name -> (fpkernels call, float64 oracle)
    "abs": (lambda x, **k: fk.abs(x, **k), np.abs),
    "erf": (lambda x, **k: fk.erf(x, **k), erf64),
    "relu": (lambda x, **k: fk.activations.get("relu").forward(x, **k), lambda x: np.maximum(x, 0)),
    "sigmoid": (lambda x, **k: fk.activations.get("sigmoid").forward(x, **k), sigmoid64),
    "tanh": (lambda x, **k: fk.activations.get("tanh").forward(x, **k), np.tanh),
    "swish": (lambda x, **k: fk.activations.get("swish").forward(x, **k),
              lambda x: np.where(np.isinf(x), np.maximum(x, 0), x * sigmoid64(x))),
    "gelu": (lambda x, **k: fk.activations.get("gelu").forward(x, **k),
             lambda x: np.where(np.isinf(x), np.maximum(x, 0), 0.5 * x * erfc64(-x / math.sqrt(2)))),
}
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
def median(x, axis=None):
    """numpy.median, but the mean of the two middle values cannot overflow (nor can fpkernels')."""
    halves = np.median(np.asarray(x) / 2, axis=axis)
    return halves * 2 if np.all(np.isfinite(halves) | np.isnan(halves)) else np.median(x, axis=axis)


REDUCTIONS = {"sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max,
              "median": median, "std": np.std}


@st.composite
def arrays(draw, dtype=None, shape=None, bound=None):
    """An array of a random real dtype and shape, maybe reversed/strided/transposed/read-only;
    floats include NaN, +-inf and denormals unless `bound` limits their magnitude."""
    dtype = np.dtype(dtype or draw(st.sampled_from(REAL_DTYPES)))
    shape = shape if shape is not None else draw(hnp.array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=5)
                                                 | st.sampled_from([(0,), (1,), (13,), (31, 7), (2, 0, 3)]))
    elements = None
    if dtype.kind == "f" and bound:
        elements = st.floats(-bound, bound, width=dtype.itemsize * 8)
    elif dtype.kind == "f":
        special = [float(dtype.type(v)) for v in SPECIAL]  # exactly representable in dtype
        elements = st.floats(width=dtype.itemsize * 8, allow_subnormal=True) | st.sampled_from(special)
    elif bound and dtype.kind in "iu":
        info = np.iinfo(dtype)
        elements = st.integers(max(-bound, info.min), min(bound, info.max))
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    layout = draw(st.sampled_from(["plain", "reversed", "strided", "transposed"]))
    if layout == "reversed" and x.ndim:
        x = x[::-1]
    elif layout == "strided" and x.ndim:
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    elif layout == "transposed":
        x = np.ascontiguousarray(x.T).T
    if draw(st.booleans()):
        x.flags.writeable = False
    return x


def expected_dtype(*xs):
    dtype = np.result_type(*xs)
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize <= 4 else np.dtype(np.float64)


def assert_matches(got, want, dtype):
    assert isinstance(got, np.ndarray) and got.dtype == dtype, (type(got), getattr(got, "dtype", None), dtype)
    assert got.shape == want.shape
    assert got.flags.c_contiguous
    tolerance = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)
    with np.errstate(over="ignore"):            # beyond float32's range the oracle is inf too
        want = want.astype(dtype)
    np.testing.assert_allclose(got, want, equal_nan=True, **tolerance)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=arrays())
def test_unary_entry_points(name, x):
    call, oracle = UNARY[name]
    with np.errstate(all="ignore"):
        want = oracle(x.astype(np.float64))
    assert_matches(call(x), want, expected_dtype(x))


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_out_argument(name, data):
    call, oracle = UNARY[name]
    dtype = np.dtype(data.draw(st.sampled_from(["float32", "float64"])))
    x = data.draw(arrays(dtype=dtype, shape=data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6)))).copy()
    with np.errstate(all="ignore"):
        want = oracle(x.astype(np.float64))
    result = call(x, out=x)  # in place: out aliases the input
    assert result is x
    assert_matches(x, want, dtype)
    with pytest.raises(ValueError):
        call(x, out=np.empty(x.shape + (2,), dtype))
    with pytest.raises(TypeError):
        call(x, out=np.empty(x.shape, np.float16))
    read_only = np.empty_like(x)
    read_only.flags.writeable = False
    with pytest.raises(ValueError):
        call(x, out=read_only)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_entry_points_broadcast_like_numpy(name, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=5, max_side=4))
    a = data.draw(arrays(shape=shapes.input_shapes[0]))
    b = data.draw(arrays(shape=shapes.input_shapes[1]))
    with np.errstate(all="ignore"):
        want = BINARY[name](a.astype(np.float64), b.astype(np.float64))
    assert_matches(getattr(fk, name)(a, b), want, expected_dtype(a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_entry_points_name_both_shapes_when_they_clash(name):
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)|\(4,\).*\(2, 3\)"):
        getattr(fk, name)(np.ones((2, 3)), np.ones(4))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data())
def test_reductions(name, data):
    x = data.draw(arrays())
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    # An output element that reduces an empty set is undefined (but sum's is 0); with no output
    # elements at all (an empty kept axis) the result is simply empty, as in NumPy.
    reduced = x.size if axis is None else x.shape[axis]
    outputs = 1 if axis is None else int(np.prod(np.delete(x.shape, axis)))
    if name != "sum" and reduced == 0 and outputs > 0:
        with pytest.raises(ValueError):
            getattr(fk, name)(x, axis=axis)
        return
    got = np.asarray(getattr(fk, name)(x, axis=axis))
    if outputs == 0:  # NumPy's min/max raise here even so; an empty result is the cleaner answer
        assert got.shape == tuple(np.delete(x.shape, axis))
        return
    dtype = expected_dtype(x)
    with np.errstate(all="ignore"):
        want = np.asarray(REDUCTIONS[name](x.astype(np.float64), axis=axis))
        # float32 data may overflow in float32 (as NumPy's own float32 reduction does) where the
        # float64 evaluation does not: either answer is right.
        native = np.asarray(REDUCTIONS[name](x.astype(dtype), axis=axis))
    assert got.shape == want.shape
    # Sums cancel: the error scales with the inputs' magnitude and count, not with the result's.
    # (Capped at float64's largest: an infinite atol would pass anything.)
    largest = float(np.nan_to_num(np.abs(x.astype(np.float64)), posinf=0).max(initial=0))
    magnitude = min(largest * max(reduced, 1), np.finfo(np.float64).max) if largest else 0.0
    epsilon = 1e-5 if dtype == np.float32 else 1e-12
    tolerance = dict(rtol=epsilon * 10, atol=epsilon * max(magnitude, 1.0))
    close = lambda reference: np.isclose(got, reference.astype(dtype), equal_nan=True, **tolerance)  # noqa: E731
    # Homogeneous reductions can also be checked on data scaled by a power of two, out of the
    # overflow range. Where partial sums (or std's squares) can overflow, a non-finite answer is
    # what NumPy gives too (an overflow meeting an infinity gives NaN in any summation order).
    exponent = int(np.frexp(max(largest, 1.0))[1])
    with np.errstate(all="ignore"):
        scaled = np.ldexp(np.asarray(REDUCTIONS[name](np.ldexp(x.astype(np.float64), -exponent),
                                                      axis=axis)), exponent)
    limit = float(np.finfo(dtype).max) / 4
    overflow_range = magnitude > (np.sqrt(limit) if name == "std" else limit)
    right = close(want) | close(native) | close(scaled) | (overflow_range & ~np.isfinite(got))
    assert right.all(), (got, want, native, scaled)


@given(data=st.data())
def test_matmul_against_numpy(data):
    m, k, n = (data.draw(st.integers(0, 9)) for _ in range(3))
    k_b = k if data.draw(st.integers(0, 9)) else k + 1  # now and then the inner sizes clash
    a = data.draw(arrays(shape=(m, k), bound=100))
    b = data.draw(arrays(shape=(k_b, n), bound=100))
    if k_b != k:
        with pytest.raises(ValueError):
            fk.matmul(a, b)
        return
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = fk.matmul(a, b)
    assert got.dtype == expected_dtype(a, b)
    np.testing.assert_allclose(got, want.astype(got.dtype), rtol=1e-3, atol=1e-3 * max(1.0, np.abs(want).max(initial=0)))


@pytest.mark.parametrize("call", [
    lambda x: fk.add(x, x), lambda x: fk.sum(x), lambda x: fk.median(x), lambda x: fk.matmul(x, x),
    lambda x: fk.activations.get("tanh").forward(x), lambda x: fk.losses.get("mse").value(x, x),
    lambda x: fk.std(x), lambda x: fk.zscore(x),
], ids=["add", "sum", "median", "matmul", "tanh", "mse", "std", "zscore"])
@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_non_real_dtypes_raise_type_error_naming_the_dtype(call, dtype):
    x = np.ones((2, 2), dtype=dtype)
    with pytest.raises(TypeError, match=str(np.dtype(dtype))):
        call(x)


@pytest.mark.parametrize("call", [
    fk.abs, fk.erf, fk.transpose, lambda x: fk.add(x, x), lambda x: fk.power(x, 2),
    lambda x: fk.activations.get("swish").backward(x, x), lambda x: fk.losses.get("mse").gradient(x, x),
], ids=["abs", "erf", "transpose", "add", "power", "swish.backward", "mse.gradient"])
@pytest.mark.parametrize("dtype", REAL_DTYPES)
def test_zero_dimensional_inputs_stay_zero_dimensional(call, dtype):
    assert np.shape(call(np.array(1, dtype=dtype))) == ()


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_optimizers_take_zero_dimensional_parameters(name):
    param = np.array(1.0, np.float32)
    fk.optimizers.get(name).step([param], [np.array(2)])  # an int gradient converts to float32
    assert param.shape == () and param < 1.0


def misaligned(values):
    """A float64 array whose data starts one byte past an 8-byte boundary."""
    raw = np.zeros(8 * len(values) + 1, np.uint8)[1:].view(np.float64)
    raw[:] = values
    assert not raw.flags.aligned
    return raw


@pytest.mark.parametrize("call", [
    fk.abs, fk.erf, fk.sum, fk.median, fk.std, lambda x: fk.add(x, x), lambda x: fk.dot(x, x),
    lambda x: fk.matmul(x[None, :], x[:, None]), lambda x: fk.activations.get("tanh").forward(x),
    lambda x: fk.losses.get("mse").value(x, x), lambda x: fk.zscore(x),
], ids=["abs", "erf", "sum", "median", "std", "add", "dot", "matmul", "tanh", "mse", "zscore"])
def test_misaligned_inputs_are_copied_not_read_misaligned(call):
    values = np.linspace(-2, 2, 11)
    np.testing.assert_allclose(call(misaligned(values)), call(values), rtol=1e-15)


def test_misaligned_out_is_refused():
    with pytest.raises(ValueError, match="aligned"):
        fk.erf(np.ones(11), out=misaligned(np.zeros(11)))
