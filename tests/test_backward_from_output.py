"""backward_from_output(y, grad_out) of sigmoid, tanh and softmax: the gradient from the saved
output y = forward(x), as PyTorch's autograd takes it. Checked against the formulaic
references, a float64 evaluation of the same formula at the y given, backward(x, grad_out)
where y is not saturated, and bad inputs, aliasing and large (streaming) outputs."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpkernels as fk
from fpkernels import formulaic

from test_activations import _streaming_size, ulp_distance, whole_range_float32

NAMES = ["sigmoid", "tanh", "softmax"]
FORMULAIC = {"sigmoid": formulaic.sigmoid_backward_from_output,
             "tanh": formulaic.tanh_backward_from_output,
             "softmax": formulaic.softmax_backward_from_output}


def slope_from_output(name, y):
    """f'(x) written in y = f(x), in float64."""
    y = np.asarray(y, np.float64)
    return y * (1 - y) if name == "sigmoid" else (1 - y) * (1 + y)


def softmax_reference(y, g):
    """y (g - sum(g y)) per row, in float64."""
    y, g = np.asarray(y, np.float64), np.asarray(g, np.float64)
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


def inputs(name, shape, dtype, seed=0):
    """A saved output y = forward(x) of random x, and a random grad_out."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    return fk.activations.get(name).forward(x), g


@pytest.mark.parametrize("name", NAMES)
def test_matches_formulaic(name, dtype, threads):
    y, g = inputs(name, (7, 13), dtype)
    want = np.array(FORMULAIC[name](y.astype(float).tolist(), g.astype(float).tolist()))
    got = fk.activations.get(name).backward_from_output(y, g)
    assert got.dtype == dtype and got.shape == y.shape
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_float32_within_2_ulp_of_the_formula_at_the_given_y(name, threads):
    """y = f(x) for random x over the whole float32 range, plus uniform y, times grad_out
    over the whole range and ordinary ones: within 2 ULP of the formula in float64."""
    act = fk.activations.get(name)
    x = whole_range_float32(50_000)
    low = 0.0 if name == "sigmoid" else -1.0
    uniform = np.random.default_rng(2).uniform(low, 1.0, x.size).astype(np.float32)
    y = np.concatenate([act.forward(x), uniform])
    g = np.resize(whole_range_float32(50_000, seed=3), y.size)
    g[::2] = np.random.default_rng(4).uniform(-2, 2, g[::2].size)   # and ordinary gradients
    with np.errstate(all="ignore"):
        want = (g.astype(np.float64) * slope_from_output(name, y)).astype(np.float32)
    got = act.backward_from_output(y, g)
    distance = ulp_distance(got, want)
    worst = int(np.argmax(distance))
    assert distance.max() <= 2, (y[worst], g[worst], got[worst], want[worst])


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_float64_is_the_formula(name, threads):
    y, g = inputs(name, 10_000, np.float64, seed=5)
    got = fk.activations.get(name).backward_from_output(y, g)
    np.testing.assert_allclose(got, g * slope_from_output(name, y), rtol=1e-15, atol=0)


def test_softmax_matches_float64(dtype, threads):
    y, g = inputs("softmax", (300, 257), dtype, seed=6)
    got = fk.activations.get("softmax").backward_from_output(y, g)
    want = softmax_reference(y, g)
    scale = np.abs(y * g).max(axis=-1, keepdims=True)     # the size of the row's terms
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    assert np.all(np.abs(got - want) <= tolerance * scale)


def test_softmax_float32_is_the_formula_at_the_given_y(threads):
    """float32 softmax from y: sum(g y) is taken from exact products, so the result is the
    float64 formula at the same y within 2 ULP, or within the double sum's own rounding
    (1e-12 of the row's largest |g y|) where g - sum(g y) cancels: rows of constant g, and y
    that does not quite sum to 1. Float products were off by 2^-24 of it, thousands of ULP."""
    y, g = inputs("softmax", (300, 257), np.float32, seed=16)
    g[::3] = 0.7                                            # rows of constant g
    y = np.concatenate([y, np.float32([[0.9999, 0.0001] + [0.0] * 255])])
    g = np.concatenate([g, np.float32([[0.37432835, -0.54887307] + [0.0] * 255])])
    got = fk.activations.get("softmax").backward_from_output(y, g)
    want = softmax_reference(y, g)
    scale = np.abs(y * g).max(axis=-1, keepdims=True)
    close = (ulp_distance(got, want.astype(np.float32)) <= 2) | (np.abs(got - want) <= 1e-12 * scale)
    assert close.all()
    assert ulp_distance(got[-1, :2], want[-1, :2].astype(np.float32)).max() <= 1


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_backward_from_x_where_y_is_not_saturated(name, dtype):
    """The two backward forms give the same gradient for |x| <= 1, to a few roundings."""
    act = fk.activations.get(name)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (50, 40)).astype(dtype)
    g = rng.standard_normal((50, 40)).astype(dtype)
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(act.backward_from_output(act.forward(x), g), act.backward(x, g),
                               rtol=tolerance, atol=tolerance)


@given(st.lists(st.floats(-40, 40, width=32), min_size=1, max_size=40),
       st.sampled_from(["sigmoid", "tanh"]))
def test_hypothesis_float32(values, name):
    act = fk.activations.get(name)
    x = np.array(values, np.float32)
    y = act.forward(x)
    g = np.linspace(-3, 3, x.size).astype(np.float32)
    want = (g.astype(np.float64) * slope_from_output(name, y)).astype(np.float32)
    assert ulp_distance(act.backward_from_output(y, g), want).max() <= 2


def test_edge_values():
    sigmoid, tanh = fk.activations.get("sigmoid"), fk.activations.get("tanh")
    for dtype in (np.float32, np.float64):
        y = np.array([0.0, 1.0, 0.5, np.nan, 0.5], dtype)
        g = np.array([5.0, 5.0, 4.0, 1.0, np.inf], dtype)
        np.testing.assert_array_equal(sigmoid.backward_from_output(y, g), [0, 0, 1, np.nan, np.inf])
        t = np.array([-1.0, 1.0, 0.0, -0.0, np.nan], dtype)
        np.testing.assert_array_equal(tanh.backward_from_output(t, np.full(5, 2.0, dtype)),
                                      [0, 0, 2, 2, np.nan])
    row = fk.activations.get("softmax").backward_from_output([[0.0, 1.0, np.nan]], [[1.0, 2, 3]])
    assert np.isnan(row).all()          # a NaN row (softmax of a row with NaN) stays NaN


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_axis(axis):
    act = fk.activations.get("softmax", axis=axis)
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    np.testing.assert_allclose(act.backward_from_output(act.forward(x), g), act.backward(x, g),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_and_aliasing(name, dtype):
    act = fk.activations.get(name)
    y, g = inputs(name, (40, 9), dtype, seed=9)
    want = act.backward_from_output(y, g)
    y2, g2 = y.copy(), g.copy()
    assert act.backward_from_output(y2, g, out=y2) is y2
    np.testing.assert_array_equal(y2, want)
    assert act.backward_from_output(y, g2, out=g2) is g2
    np.testing.assert_array_equal(g2, want)
    buffer = np.concatenate([y.ravel(), [0.0]]).astype(dtype)   # out shifted by one element
    shifted_y, shifted_out = buffer[:-1].reshape(y.shape), buffer[1:].reshape(y.shape)
    want_shifted = act.backward_from_output(shifted_y.copy(), g)
    np.testing.assert_array_equal(act.backward_from_output(shifted_y, g, out=shifted_out),
                                  want_shifted)


@pytest.mark.parametrize("name", NAMES)
def test_conventions_and_bad_input(name):
    act = fk.activations.get(name)
    y, g = inputs(name, (6, 8), np.float64, seed=10)
    np.testing.assert_array_equal(act.backward_from_output(y[:, ::2], g[:, ::2]),
                                  act.backward_from_output(y[:, ::2].copy(), g[:, ::2].copy()))
    assert act.backward_from_output(y.tolist(), g.tolist()).dtype == np.float64
    assert act.backward_from_output(y.astype(np.float32), g.astype(np.float32)).dtype == np.float32
    assert act.backward_from_output(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)
    with pytest.raises(ValueError, match=r"y has shape \(6, 8\).*\(8, 6\)"):
        act.backward_from_output(y, g.T.copy())
    with pytest.raises(TypeError, match="complex"):
        act.backward_from_output(y.astype(complex), g)
    with pytest.raises(TypeError, match="dtype"):
        act.backward_from_output(y, g, out=np.empty((6, 8), np.float32))
    read_only = np.empty((6, 8))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        act.backward_from_output(y, g, out=read_only)


@pytest.mark.parametrize("name", NAMES)
def test_large_outputs_match_small_calls(name, dtype, threads):
    """Outputs past the streaming threshold: the same bits as small calls, at any alignment."""
    cols = 1001
    rows = _streaming_size(dtype) // cols + 1
    y, g = inputs(name, (rows, cols), dtype, seed=11)
    act = fk.activations.get(name)
    pieces = np.array_split(np.arange(rows), 9)
    want = np.concatenate([act.backward_from_output(y[p], g[p]) for p in pieces])
    shifted = np.empty(rows * cols + 1, dtype)[1:].reshape(rows, cols)
    assert np.array_equal(act.backward_from_output(y, g, out=shifted), want)
    in_place = y.copy()
    act.backward_from_output(in_place, g, out=in_place)
    assert np.array_equal(in_place, want)


@pytest.mark.parametrize("name", NAMES)
def test_threads_give_identical_results(name):
    y, g = inputs(name, (512, 300), np.float32, seed=12)
    act = fk.activations.get(name)
    results = []
    for n in (1, 2):
        with fk.num_threads(n):
            results.append(act.backward_from_output(y, g))
    np.testing.assert_array_equal(results[0], results[1])
