"""Losses: values and gradients against the formulaic references, float64 NumPy references and
finite differences; reductions, labels, shapes, determinism across threads."""
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpkernels as fk
from fpkernels import formulaic

ELEMENTWISE = ["mae", "mse", "hinge", "huber", "bce"]
ROWS = ["cce", "softmax_cross_entropy"]
REDUCTIONS = ["mean", "sum", "none"]


def make(name, **hyper):
    return fk.losses.get(name, **hyper)


def sample(name, shape, dtype=np.float64, seed=0):
    """A prediction and a valid target for an element-wise loss."""
    rng = np.random.default_rng(seed)
    if name == "bce":
        pred = rng.uniform(0.01, 0.99, shape)
        target = rng.uniform(0, 1, shape)
        target.flat[::3] = np.round(target.flat[::3])
    elif name == "hinge":
        pred = rng.standard_normal(shape) * 2
        target = rng.choice([-1.0, 1.0], shape)
    else:
        pred = rng.standard_normal(shape) * 3
        target = rng.standard_normal(shape) * 3
    return pred.astype(dtype), target.astype(dtype)


def per_element(name, p, y, delta=1.0):
    """float64 NumPy reference of the per-element losses and derivatives."""
    p = np.asarray(p, np.float64)
    y = np.asarray(y, np.float64)
    e = p - y
    if name == "mae":
        return np.abs(e), np.sign(e)
    if name == "mse":
        return e * e, 2 * e
    if name == "hinge":
        m = 1 - y * p
        return np.maximum(m, 0), np.where(m > 0, -y, 0.0)
    if name == "huber":
        small = np.abs(e) <= delta
        return np.where(small, 0.5 * e * e, delta * (np.abs(e) - 0.5 * delta)), \
            np.where(small, e, delta * np.sign(e))
    if name == "bce":
        q = np.clip(p, 1e-7, 1 - 1e-7)
        return -(y * np.log(q) + (1 - y) * np.log1p(-q)), (q - y) / (q * (1 - q))
    raise KeyError(name)


def sum_rtol(name, dtype):
    """How close a float32 or float64 sum of per-element losses is to the float64 formula: the
    float32 kernels sum the double formula (1e-12), except bce's value on vector lanes, whose
    logarithms are float (each loss within 3 ULP)."""
    return 6e-7 if name == "bce" and dtype == np.float32 else 1e-12


FORMULAIC = {name: (getattr(formulaic, name), getattr(formulaic, name + "_gradient"))
             for name in ELEMENTWISE + ROWS}


# ---- element-wise losses ----------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_formulaic(name, reduction, dtype):
    pred, target = sample(name, 23, dtype)
    loss = make(name, reduction=reduction)
    value_ref, grad_ref = FORMULAIC[name]
    p, y = pred.astype(np.float64).tolist(), target.astype(np.float64).tolist()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    value = loss.value(pred, target)
    if reduction == "none":
        assert value.dtype == dtype and value.shape == pred.shape
    else:
        assert type(value) is float
    np.testing.assert_allclose(value, value_ref(p, y, reduction=reduction), rtol=rtol)
    gradient = loss.gradient(pred, target)
    assert gradient.dtype == dtype and gradient.shape == pred.shape
    np.testing.assert_allclose(gradient, grad_ref(p, y, reduction=reduction), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_large_matches_numpy(name, dtype, threads):
    pred, target = sample(name, (300, 401), dtype, seed=1)
    values, slopes = per_element(name, pred, target)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(make(name, reduction="sum").value(pred, target), values.sum(),
                               rtol=sum_rtol(name, dtype))
    np.testing.assert_allclose(make(name).value(pred, target), values.mean(),
                               rtol=sum_rtol(name, dtype))
    np.testing.assert_allclose(make(name, reduction="none").value(pred, target), values,
                               rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(make(name).gradient(pred, target), slopes / pred.size, rtol=rtol,
                               atol=1e-30)
    np.testing.assert_allclose(make(name, reduction="none").gradient(pred, target), slopes,
                               rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("delta", [0.1, 1.0, 2.5])
def test_huber_delta(delta):
    pred, target = sample("huber", 50)
    p, y = pred.tolist(), target.tolist()
    loss = make("huber", delta=delta)
    assert loss.value(pred, target) == pytest.approx(formulaic.huber(p, y, delta), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(pred, target), formulaic.huber_gradient(p, y, delta),
                               rtol=1e-12)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="delta"):
            make("huber", delta=bad)
    with pytest.raises(TypeError):
        make("huber", delta="1")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_gradient_by_finite_differences(name, reduction):
    pred, target = sample(name, 12, seed=2)
    if name in ("mae", "hinge", "huber"):      # stay away from the kinks
        pred = pred + 0.01 * np.sign(pred - target)
    loss = make(name, reduction=reduction)
    h = 1e-6
    numeric = np.zeros_like(pred)
    for i in range(pred.size):
        up, down = pred.copy(), pred.copy()
        up[i] += h
        down[i] -= h
        difference = np.asarray(loss.value(up, target)) - np.asarray(loss.value(down, target))
        numeric[i] = (difference.sum() if reduction == "none" else difference) / (2 * h)
    np.testing.assert_allclose(loss.gradient(pred, target), numeric, rtol=1e-5, atol=1e-8)


def test_special_values():
    nan = np.nan
    assert make("mae").gradient([1.0, 2.0], [1.0, 3.0]).tolist() == [0.0, -0.5]
    assert make("hinge", reduction="none").gradient([1.0, 0.5], [1.0, 1.0]).tolist() == [0.0, -1.0]
    assert np.isnan(make("mse").value([nan, 1.0], [0.0, 1.0]))
    assert np.isnan(make("mae", reduction="none").gradient([nan], [0.0])).all()
    assert np.isnan(make("bce").value([nan], [1.0]))
    # bce clamps: p = 0 and 1 give finite values and gradients
    assert np.isfinite(make("bce").value([0.0, 1.0], [1.0, 0.0]))
    assert np.isfinite(make("bce").gradient([0.0, 1.0], [1.0, 0.0])).all()
    assert make("bce", reduction="none").value([0.0], [1.0])[0] == pytest.approx(-np.log(1e-7))
    # empty input: mean is NaN (as numpy and torch), sum is 0
    assert np.isnan(make("mse").value([], []))
    assert make("mse", reduction="sum").value([], []) == 0.0
    assert make("mse").gradient([], []).shape == (0,)


def test_bad_targets():
    with pytest.raises(ValueError, match=r"-1 or \+1; found 0\.0 at index 1"):
        make("hinge").value([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="-1 or"):
        make("hinge", reduction="none").gradient([1.0, 2.0], [1.0, 0.5])
    with pytest.raises(ValueError, match=r"in \[0, 1\]; found 1\.5"):
        make("bce").value([0.5, 0.5], [1.0, 1.5])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        make("bce").gradient([0.5], [np.nan])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        make("bce", reduction="none").value(np.full((3, 3), 0.5), -np.ones((3, 3)))


@pytest.mark.parametrize("name", ELEMENTWISE + ROWS)
def test_shape_mismatch_names_both_shapes(name):
    loss = make(name)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        loss.value(np.full((2, 3), 0.5), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        loss.gradient(np.full((2, 3), 0.5), np.zeros((3, 2)))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_dtypes_and_conventions(name):
    loss = make(name)
    pred, target = sample(name, (4, 5))
    assert loss.gradient(pred.astype(np.float32), target.astype(np.float32)).dtype == np.float32
    assert loss.gradient(pred.astype(np.float16), target.astype(np.float16)).dtype == np.float32
    assert loss.gradient(pred, target.astype(np.float32)).dtype == np.float64
    labels = np.rint(target).astype(np.int64) if name != "bce" else (target > 0.5).astype(np.int64)
    # integer targets do not promote a float32 prediction
    assert loss.gradient(pred.astype(np.float32), labels).dtype == np.float32
    assert loss.gradient(pred.tolist(), target.tolist()).dtype == np.float64
    np.testing.assert_allclose(loss.value(pred[:, ::2], target[:, ::2]),
                               loss.value(pred[:, ::2].copy(), target[:, ::2].copy()))
    for bad in (np.array([1j]), np.array(["a"])):
        with pytest.raises(TypeError):
            loss.value(bad, bad)
    out = np.empty_like(pred)
    assert loss.gradient(pred, target, out=out) is out
    with pytest.raises(TypeError):
        loss.gradient(pred, target, out=np.empty((4, 5), np.float32))
    with pytest.raises(ValueError):
        loss.gradient(pred, target, out=np.empty((5, 4)))
    with pytest.raises(ValueError, match="reduction"):
        make(name, reduction="average")


@pytest.mark.parametrize("name", ELEMENTWISE + ROWS)
def test_sums_bitwise_equal_across_threads(name):
    if name in ROWS:
        rng = np.random.default_rng(3)
        pred = rng.uniform(0.01, 1, (3000, 37)).astype(np.float32)
        target = rng.integers(0, 37, 3000)
    else:
        pred, target = sample(name, 300_001, np.float32, seed=3)
    values = []
    for n in (1, 2):
        with fk.num_threads(n):
            values.append((make(name).value(pred, target), make(name, reduction="sum").value(pred, target)))
    assert values[0] == values[1]


# ---- row losses: cce and softmax cross-entropy ------------------------------------------------

def rows_sample(shape=(6, 5), dtype=np.float64, seed=4, probabilities=False):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal(shape) * 3
    if probabilities:
        e = np.exp(scores - scores.max(-1, keepdims=True))
        scores = e / e.sum(-1, keepdims=True)
    labels = rng.integers(0, shape[-1], shape[:-1])
    one_hot = np.eye(shape[-1])[labels]
    return scores.astype(dtype), labels, one_hot.astype(dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ROWS)
def test_rows_match_formulaic(name, reduction, dtype):
    pred, labels, one_hot = rows_sample(dtype=dtype, probabilities=name == "cce")
    loss = make(name, reduction=reduction)
    value_ref, grad_ref = FORMULAIC[name]
    p = pred.astype(np.float64).tolist()
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    for target, ref_target in ((labels, labels.tolist()), (one_hot, one_hot.astype(np.float64).tolist())):
        value = loss.value(pred, target)
        np.testing.assert_allclose(value, value_ref(p, ref_target, reduction=reduction), rtol=rtol)
        if reduction == "none":
            assert value.shape == (6,) and value.dtype == dtype
        gradient = loss.gradient(pred, target)
        assert gradient.shape == pred.shape and gradient.dtype == dtype
        np.testing.assert_allclose(gradient, grad_ref(p, ref_target, reduction=reduction),
                                   rtol=rtol, atol=1e-7 if dtype == np.float32 else 1e-15)


def test_softmax_cross_entropy_is_cce_of_softmax():
    logits, labels, one_hot = rows_sample((50, 10), seed=5)
    probabilities = fk.activations.get("softmax").forward(logits)
    assert make("softmax_cross_entropy").value(logits, labels) == pytest.approx(
        make("cce").value(probabilities, labels), rel=1e-12)
    np.testing.assert_allclose(make("softmax_cross_entropy").gradient(logits, labels),
                               (probabilities - one_hot) / 50, atol=1e-16)


def test_softmax_cross_entropy_is_stable():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], np.float32)
    labels = np.array([0, 0])
    per_row = make("softmax_cross_entropy", reduction="none").value(logits, labels)
    np.testing.assert_allclose(per_row, [0.0, 2e4])
    gradient = make("softmax_cross_entropy", reduction="sum").gradient(logits, labels)
    np.testing.assert_allclose(gradient, [[0, 0, 0], [-1, 1, 0]])


@pytest.mark.parametrize("name", ROWS)
def test_rows_finite_differences(name):
    pred, labels, one_hot = rows_sample((4, 3), seed=6, probabilities=name == "cce")
    if name == "cce":
        pred = 0.5 * pred + 0.5 / 3          # no tiny probabilities: h stays small beside them
    for target in (labels, one_hot * 0.7 + 0.1):
        loss = make(name)
        h = 1e-7
        numeric = np.zeros_like(pred)
        for i in np.ndindex(pred.shape):
            up, down = pred.copy(), pred.copy()
            up[i] += h
            down[i] -= h
            numeric[i] = (loss.value(up, target) - loss.value(down, target)) / (2 * h)
        np.testing.assert_allclose(loss.gradient(pred, target), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ROWS)
def test_rows_labels_and_shapes(name):
    pred, labels, one_hot = rows_sample((4, 3), seed=7, probabilities=True)
    loss = make(name)
    with pytest.raises(ValueError, match=r"\[0, 3\).*found 3 at index 2"):
        loss.value(pred, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"\[0, 3\).*found -1"):
        loss.gradient(pred, np.array([0, -1, 2, 0]))
    with pytest.raises(ValueError, match="whole numbers"):
        loss.value(pred, np.array([0, 1.5, 2, 0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        loss.value(pred, one_hot * 2)
    # float labels holding whole numbers are fine; so are 1-D single examples and N-d batches
    assert loss.value(pred, labels.astype(np.float64)) == loss.value(pred, labels)
    assert loss.value(pred[0], labels[0]) == pytest.approx(loss.value(pred[:1], labels[:1]))
    batch = np.stack([pred, pred])
    assert make(name, reduction="none").value(batch, np.stack([labels, labels])).shape == (2, 4)
    assert loss.gradient(pred.astype(np.float32), labels).dtype == np.float32
    with pytest.raises(ValueError, match="last axis"):
        loss.value(np.float64(1.0), 0)
    assert np.isnan(loss.value(np.zeros((0, 3)), np.zeros(0, np.int64)))
    assert loss.gradient(np.zeros((0, 3)), np.zeros(0, np.int64)).shape == (0, 3)


# ---- registry and metadata --------------------------------------------------------------------

def test_registry_and_metadata():
    for name in ELEMENTWISE + ROWS:
        assert name in fk.losses.names()
        loss = make(name)
        info = fk.losses.info(name)
        assert info["description"] and info["formula"]
        assert info["defaults"]["reduction"] == "mean"
        assert callable(loss.formulaic) and loss.when_to_use and loss.pitfalls
        assert loss.formulaic is FORMULAIC[name][0]
    assert fk.losses.info("huber")["defaults"] == {"delta": 1.0, "reduction": "mean"}
    assert make("huber", delta=2.0).value([0.0], [3.0]) == pytest.approx(2.0 * (3.0 - 1.0))
    with pytest.raises(TypeError, match="delta"):
        make("huber", beta=1.0)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40), st.sampled_from(REDUCTIONS))
def test_mse_hypothesis(values, reduction):
    pred = np.array(values)
    target = pred[::-1].copy()
    got = make("mse", reduction=reduction).value(pred, target)
    want = formulaic.mse(pred.tolist(), target.tolist(), reduction=reduction)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["mse", "huber", "softmax_cross_entropy"])
def test_gradient_out_partly_overlapping_pred(name):
    """out= overlapping pred shifted by an element gives what fresh memory would."""
    loss = fk.losses.get(name)
    buffer = np.random.default_rng(8).standard_normal(101)
    pred, out = buffer[:100].reshape(10, 10), buffer[1:].reshape(10, 10)
    target = (np.arange(10) % 10 if name == "softmax_cross_entropy"
              else np.random.default_rng(9).standard_normal((10, 10)))
    want = loss.gradient(pred.copy(), target)
    assert np.array_equal(loss.gradient(pred, target, out=out), want)


@pytest.mark.parametrize("cols", [3, 4097])             # 4097: past float32's vector path
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ROWS)
def test_gradient_in_place(name, dtype, cols):
    """out=pred (in place) gives what fresh memory would, with labels and with one-hot rows."""
    pred, labels, one_hot = rows_sample((5, cols), seed=10, probabilities=name == "cce")
    pred = pred.astype(dtype)
    for target in (labels, one_hot.astype(dtype)):
        want = make(name).gradient(pred, target)
        in_place = pred.copy()
        assert make(name).gradient(in_place, target, out=in_place) is in_place
        np.testing.assert_array_equal(in_place, want)


def _softmax_limits(z, labels):
    """-log softmax(z)[label] and softmax(z) - one_hot from fpkernels' softmax activation,
    which takes a row's lone +inf as the limit (1 there, 0 elsewhere)."""
    s = fk.activations.get("softmax").forward(z.astype(np.float64))
    one_hot = np.eye(z.shape[1])[labels]
    with np.errstate(divide="ignore"):
        return -np.log(s[np.arange(len(z)), labels]), s - one_hot


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_limits_at_infinity(dtype):
    """A row holding one +inf gives the limit of the loss (SPEC: +-inf give the limit), the
    -log of the softmax activation's own limit; two +inf, all -inf or a NaN give NaN, as the
    activation does. Labels and one-hot rows agree, -inf at a class of weight 0 included."""
    inf, nan = np.inf, np.nan
    z = np.array([[inf, 0, 1, 2], [0, inf, 1, 2], [-inf, 0, 1, inf], [0, -inf, 1, 2],
                  [inf, 0, inf, 2], [-inf] * 4, [inf, nan, 0, 0]], dtype)
    labels = np.array([0, 0, 3, 0, 0, 1, 0])
    want_value, want_gradient = _softmax_limits(z, labels)
    assert want_value[:3].tolist() == [0, inf, 0] and np.isfinite(want_value[3])
    assert np.isnan(want_value[4:]).all()
    one_hot = np.eye(4, dtype=dtype)[labels]
    for target in (labels, one_hot):
        value = make("softmax_cross_entropy", reduction="none").value(z, target)
        gradient = make("softmax_cross_entropy", reduction="sum").gradient(z, target)
        np.testing.assert_allclose(value, want_value, rtol=1e-6)
        np.testing.assert_allclose(gradient, want_gradient, rtol=1e-6, atol=1e-7)


def test_softmax_cross_entropy_float32_rows_wider_than_float_range():
    """float32 rows whose spread exceeds FLT_MAX (z - max overflows), or 2^48 (the rounding
    error of z - max is then huge, though e^(z - max) is 0), are still exact."""
    z = np.float32([[3e38, -3e38], [-3e38, 3e38], [3e38, -3e38], [3e38, -1e30], [1.6201841e13, -5.5073555e15]])
    labels = np.array([1, 1, 0, 0, 0])
    value = make("softmax_cross_entropy", reduction="none").value(z, labels)
    assert value.tolist() == [np.inf, 0, 0, 0, 0]            # 6e38 rounds to inf in float32
    np.testing.assert_array_equal(make("softmax_cross_entropy", reduction="sum").gradient(z, labels),
                                  [[1, -1], [0, 0], [0, 0], [0, 0], [0, 0]])


def test_settings_changed_after_construction():
    """A hyper-parameter set later is checked as the constructor checks it and takes effect
    on the next call (as setting loss.reduction does in PyTorch)."""
    loss = make("mse")
    loss.reduction = "sum"
    assert loss.value([1.0, 2.0], [0.0, 0.0]) == 5.0
    loss.reduction = "none"
    assert loss.value([1.0, 2.0], [0.0, 0.0]).tolist() == [1.0, 4.0]
    for bad in ("bogus", None):
        with pytest.raises(ValueError, match="reduction must be"):
            loss.reduction = bad
    assert loss.reduction == "none"
    huber = make("huber")
    huber.delta = 2.0
    assert huber.value([3.0], [0.0]) == make("huber", delta=2.0).value([3.0], [0.0])
    with pytest.raises(ValueError, match="delta must be a finite number > 0"):
        huber.delta = -1.0
    with pytest.raises(ValueError, match="delta"):
        make("huber", delta=2 ** 1100)              # beyond float: not a bare OverflowError
    assert huber.delta == 2.0 and repr(huber) == "Huber(delta=2.0, reduction='mean')"
    rows = make("softmax_cross_entropy")
    rows.reduction = "sum"
    assert rows.value(np.zeros((2, 2)), [0, 1]) == pytest.approx(2 * np.log(2))


def test_label_errors_name_the_label_as_given():
    """Labels are checked before any conversion could wrap them (uint64, huge floats)."""
    sce, hinge = make("softmax_cross_entropy"), make("hinge")
    for label, shown in ((np.uint64(2 ** 64 - 1), "18446744073709551615"), (1e19, "1e+19")):
        with pytest.raises(ValueError, match=re.escape(f"found {shown} at index 0")):
            sce.value(np.zeros((1, 3)), np.array([label]))
    with pytest.raises(ValueError, match="found 16777217 at index 1"):
        hinge.value(np.zeros(2, np.float32), np.array([1, 16777217]))
    for method in (sce.value, sce.gradient, make("cce").gradient):
        with pytest.raises(ValueError, match=r"shape \(2, 0\); it needs a last axis of \(at least one\)"):
            method(np.zeros((2, 0)), np.zeros((2, 0)))


# ---- float32 fast paths: accuracy against float64, tails, streaming stores ----------------------

def ulps(got, want):
    """|got - want| in units of the float32 spacing at want (want computed in float64)."""
    want = np.asarray(want, np.float64)
    return np.abs(np.asarray(got, np.float64) - want) / np.spacing(np.abs(want).astype(np.float32))


@pytest.mark.parametrize("n", [1, 15, 16, 17, 4096 * 3 + 5])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_float32_against_double(name, n, threads):
    """float32 sums equal the double per-element formula to 1e-12 and outputs are rounded once
    (bce's value on vector lanes: within 3 ULP each, see test_bce_float32_value_within_3_ulp)."""
    pred, target = sample(name, n, np.float32, seed=n)
    if name == "bce":                        # saturated, exactly 0/1 and mixed targets
        pred[::7], pred[1::7] = 0.0, 1.0
        target[: n // 2] = np.round(target[: n // 2])
    values, slopes = per_element(name, pred, target)
    assert make(name, reduction="sum").value(pred, target) == pytest.approx(
        values.sum(), rel=sum_rtol(name, np.float32))
    value_ulps = 3 if name == "bce" else 0.5001
    assert ulps(make(name, reduction="none").value(pred, target), values).max() <= value_ulps
    assert ulps(make(name, reduction="sum").gradient(pred, target), slopes).max() <= 0.5001


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mae_float32_gradient_bits(reduction, threads):
    """mae's float32 gradient is taken in float lanes (p - y rounds, its sign never changes):
    the bits of sign(p - y) * float32(scale), and +0 where p = y (the kink, as PyTorch takes
    it, p = y = +-inf too), for neighbouring floats, signed zeros, subnormals, infinities and
    NaN, from gradient and value_and_gradient alike."""
    tiny = np.float32(1e-45)
    specials = np.array([0.0, -0.0, tiny, -tiny, 1.0, np.nextafter(np.float32(1), np.float32(2)),
                         np.inf, -np.inf, np.nan, 3e38, -3e38], np.float32)
    pred = np.concatenate([np.repeat(specials, specials.size),
                           np.random.default_rng(0).standard_normal(4099).astype(np.float32)])
    target = np.concatenate([np.tile(specials, specials.size),
                             np.random.default_rng(1).standard_normal(4099).astype(np.float32)])
    target[-4099::3] = pred[-4099::3]                                   # some equal pairs
    scale = 1.0 / pred.size if reduction == "mean" else 1.0
    with np.errstate(invalid="ignore"):
        difference = pred.astype(np.float64) - target
        want = np.where(pred == target, 0.0,
                        np.sign(difference) * np.float32(scale)).astype(np.float32)
    mae = make("mae", reduction=reduction)
    for got in (mae.gradient(pred, target), mae.value_and_gradient(pred, target)[1]):
        assert np.array_equal(got, want, equal_nan=True)
        assert not np.signbit(got[pred == target]).any()


@pytest.mark.parametrize("name, delta", [("mse", None), ("huber", 1.0), ("huber", 0.1),
                                         ("huber", 1e-30), ("huber", 3e38)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_huber_float32_gradient_rounded_once(name, delta, reduction):
    """mse's float32 gradient is scaled as (2 scale)(p - y), huber's clamped after rounding:
    both still equal the double formula rounded once, bit for bit, over values of every size,
    NaN, infinities and equal pairs."""
    rng = np.random.default_rng(5)
    n = 20_011
    pred = (rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, n)).astype(np.float32)
    target = (rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, n)).astype(np.float32)
    pred[::97], target[::101], pred[::103] = np.nan, np.inf, target[::103]
    scale = 1.0 / n if reduction == "mean" else 1.0
    with np.errstate(invalid="ignore"):
        d = pred.astype(np.float64) - target
        slope = 2.0 * d if name == "mse" else np.clip(d, -delta, delta)
        want = (scale * slope).astype(np.float32)
        loss = make(name, reduction=reduction, **({} if delta is None else {"delta": delta}))
        for got in (loss.gradient(pred, target), loss.value_and_gradient(pred, target)[1]):
            assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_float32_gradient_rounded_once(reduction, threads):
    """bce's float32 gradient with 0/1 targets is -scale/p or scale/(1 - p) on float lanes, 1 - p
    and scale carried in two parts: still the double formula rounded once (within 0.5 ULP, up
    to near-ties), for p near 0, near 1, at the clamps and NaN, from gradient and
    value_and_gradient alike. Vectors with a soft target or a clamped p take the formula in
    double."""
    rng = np.random.default_rng(6)
    n = 300_001
    pred = np.concatenate([rng.uniform(0, 1, n), 10.0 ** rng.uniform(-8, 0, n),
                           1 - 10.0 ** rng.uniform(-8, -0.3, n),
                           [0, 1e-8, 1e-7, 1.00000001e-7, 0.5, 0.99999988, 0.99999994, 1,
                            2.0 ** -24, 1 - 2.0 ** -24, np.nan]]).astype(np.float32)
    target = np.round(rng.uniform(0, 1, pred.size)).astype(np.float32)
    target[5 * n // 2:5 * n // 2 + 64] = 0.25                       # soft targets, in a few vectors
    scale = 1.0 / pred.size if reduction == "mean" else 1.0
    q = np.clip(pred.astype(np.float64), 1e-7, 1 - 1e-7)
    want = scale * (q - target) / (q * (1 - q))
    loss = make("bce", reduction=reduction)
    for got in (loss.gradient(pred, target), loss.value_and_gradient(pred, target)[1]):
        assert np.isnan(got[-1])
        assert ulps(got[:-1], want[:-1]).max() <= 0.5 + 1e-6


@pytest.mark.parametrize("hard", [True, False], ids=["0-1 targets", "soft targets"])
def test_bce_float32_value_within_3_ulp(hard, threads):
    """bce's float32 value (float logarithms on vector lanes) against the double formula, for
    p over the whole float range, near 0 and 1 and at the clamps, with targets 0 and 1 (one
    logarithm, within 1 ULP: log(1 - p) is reduced from p, not from 1 - p rounded, which was
    1.3 ULP off) or anywhere in [0, 1] (two); sums within 6e-7."""
    rng = np.random.default_rng(4)
    n = 200_000
    bits = np.abs(rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32))
    pred = np.concatenate([
        bits[~np.isnan(bits)], rng.uniform(0, 1, n), 10.0 ** rng.uniform(-12, 0, n),
        1 - 10.0 ** rng.uniform(-9, 0, n),
        [0, 1e-8, 1e-7, 1.00000001e-7, 0.5, 0.99999988, 0.99999994, 1, 2, np.inf, -np.inf, -1],
    ]).astype(np.float32)
    target = rng.uniform(0, 1, pred.size).astype(np.float32)
    if hard:
        target = np.round(target)
    values, _ = per_element("bce", pred, target)
    assert ulps(make("bce", reduction="none").value(pred, target), values).max() <= (1 if hard else 3)
    assert make("bce", reduction="sum").value(pred, target) == pytest.approx(values.sum(), rel=6e-7)
    assert np.isnan(make("bce", reduction="none").value(np.float32([0.5, np.nan]), [1, 1])[1])


@pytest.mark.parametrize("name", ["hinge", "bce"])
def test_float32_bad_label_at_any_lane(name):
    """The float32 vector kernels find a bad label in any lane of a whole or a partial vector,
    and ignore the lanes past the end (n = 4096 + 23: a last block of whole vectors and a tail)."""
    n = 4096 + 23
    pred, target = sample(name, n, np.float32, seed=3)
    for at in list(range(0, 17)) + list(range(4096, n)):
        bad = target.copy()
        bad[at] = 0.5 if name == "hinge" else 1.5
        for reduction in ("sum", "none"):
            with pytest.raises(ValueError):
                make(name, reduction=reduction).value(pred, bad)
        with pytest.raises(ValueError):
            make(name).gradient(pred, bad)
        with pytest.raises(ValueError):                   # a tail of `at + 1` elements
            make(name).value(pred[: at + 1], bad[: at + 1])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float32_nan_at_any_lane(name):
    """A NaN prediction in any lane of a float32 vector, whole or partial, reaches the sum."""
    pred, target = sample(name, 40, np.float32, seed=4)
    for n in (1, 7, 8, 9, 16, 17, 40):
        for at in range(n):
            nan_pred = pred[:n].copy()
            nan_pred[at] = np.nan
            assert np.isnan(make(name, reduction="sum").value(nan_pred, target[:n]))
            assert np.isnan(make(name, reduction="none").value(nan_pred, target[:n])[at])


def test_softmax_cross_entropy_float32_accuracy(threads):
    """float32 rows: values within 2e-7 relative and slopes within 3 ULP of float64, also when
    the label is nearly certain (loss and its slope far below 1; the portable path computes
    lse - z_label, accurate to 1e-15 absolute only), and for rows longer than the 4096
    exponentials the gradient keeps (it takes them again)."""
    fast = fk.runtime.info()["simd"] in ("avx512", "avx2")      # the vector path of losses.c
    rng = np.random.default_rng(8)
    for scale, cols in ((1.0, 1000), (6.0, 37), (30.0, 5), (3.0, 5000)):
        logits = (rng.standard_normal((500, cols)) * scale).astype(np.float32)
        labels = rng.integers(0, cols, 500)
        logits[:50, :] -= 25
        logits[np.arange(50), labels[:50]] += 25      # p_label ~ 1 - 1e-9 .. 1 - 1e-4
        z = logits.astype(np.float64)
        m = z.max(1, keepdims=True)
        e = np.exp(z - m)
        p = e / e.sum(1, keepdims=True)
        rows = np.arange(500)
        p_other = np.where(np.eye(cols, dtype=bool)[labels], 0.0, p).sum(1)
        want = np.log1p(p_other / p[rows, labels])      # lse - z_label, without cancellation
        slope = p.copy()
        slope[rows, labels] = -p_other
        loss = make("softmax_cross_entropy", reduction="none")
        summed = make("softmax_cross_entropy", reduction="sum")
        if fast:
            np.testing.assert_allclose(loss.value(logits, labels), want, rtol=2e-7)
            assert ulps(loss.gradient(logits, labels), slope).max() <= 3
            assert ulps(summed.gradient(logits, labels), slope).max() <= 3
            value, gradient = loss.value_and_gradient(logits, labels)
            np.testing.assert_allclose(value, want, rtol=2e-7)
            assert ulps(gradient, slope).max() <= 3
        else:                                           # accurate to 1e-15 absolute
            np.testing.assert_allclose(loss.value(logits, labels), want, rtol=2e-7, atol=1e-13)
            np.testing.assert_allclose(summed.gradient(logits, labels), slope, rtol=4e-7, atol=1e-13)


def test_softmax_cross_entropy_float32_special_rows():
    """Rows with NaN, +-inf or one column mean on the float32 fast path what they mean for
    float64."""
    inf, nan = np.inf, np.nan
    logits = np.array([[0, 1, nan, 2], [inf, 0, 1, 2], [0, inf, 1, 2], [-inf, 0, 1, 2],
                       [-inf] * 4, [1, 2, 3, -inf], [nan, 0, 0, 0]], np.float32)
    labels = np.array([0, 0, 0, 0, 1, 3, 1])
    for reduction in ("none", "sum"):
        loss = make("softmax_cross_entropy", reduction=reduction)
        np.testing.assert_array_equal(loss.value(logits, labels),
                                      np.float32(loss.value(logits.astype(np.float64), labels)))
        np.testing.assert_array_equal(loss.gradient(logits, labels),
                                      loss.gradient(logits.astype(np.float64), labels).astype(np.float32))
    values = make("softmax_cross_entropy", reduction="none").value(logits, labels)
    assert values.tolist()[1:4] == [0, inf, inf] and values[5] == inf
    assert np.isnan(values[[0, 4, 6]]).all()
    one = make("softmax_cross_entropy", reduction="none")
    assert one.value(np.ones((3, 1), np.float32), np.zeros(3, np.int64)).tolist() == [0, 0, 0]


def test_softmax_cross_entropy_one_hot_rows_as_labels(threads):
    """float32 one-hot rows (a single nonzero weight, 1; -0 counts as 0) take the labels'
    kernels: the same numbers as their labels. Other weight rows (soft, two ones, a NaN or a
    2 among zeros) keep float64's numbers, and a bad weight still raises."""
    rng = np.random.default_rng(12)
    rows, cols = 3000, 37
    logits = (rng.standard_normal((rows, cols)) * 3).astype(np.float32)
    labels = rng.integers(0, cols, rows)
    target = np.eye(cols, dtype=np.float32)[labels]
    target[::7] = np.where(target[::7] == 0, np.float32(-0.0), target[::7])
    one_hot = np.ones(rows, bool)
    target[1::7] = rng.dirichlet(np.ones(cols), rows // 7 + 1)[: len(target[1::7])]
    twos, halves = np.arange(2, rows, 7), np.arange(3, rows, 7)
    target[twos, (labels[twos] + 1) % cols] = 1
    target[halves, labels[halves]] = 0.5
    one_hot[1::7] = one_hot[2::7] = one_hot[3::7] = False
    for reduction in ("none", "sum"):
        loss = make("softmax_cross_entropy", reduction=reduction)
        value, slope = loss.value_and_gradient(logits, target)
        want_value, want_slope = loss.value_and_gradient(logits.astype(np.float64), target)
        np.testing.assert_allclose(value, want_value, rtol=2e-6)
        np.testing.assert_allclose(loss.gradient(logits, target), want_slope, rtol=2e-6, atol=1e-12)
        np.testing.assert_allclose(slope, want_slope, rtol=2e-6, atol=1e-12)
    loss = make("softmax_cross_entropy", reduction="none")
    assert np.array_equal(loss.value(logits, target)[one_hot], loss.value(logits, labels)[one_hot])
    assert np.array_equal(loss.gradient(logits, target)[one_hot], loss.gradient(logits, labels)[one_hot])
    with_nan = target.copy()
    with_nan[0, (labels[0] + 1) % cols] = np.nan
    with pytest.raises(ValueError):
        loss.value(logits, with_nan)
    with_two = target.copy()
    with_two[0] = 0
    with_two[0, 0] = 2
    with pytest.raises(ValueError):
        loss.gradient(logits, with_two)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cce_one_hot_rows_as_labels(dtype, threads):
    """One-hot cce rows take their labels' formula: the same loss as their labels, and the
    weighted formula's gradient (-0 for each weight of 0). A class of weight 0 adds nothing
    whatever its probability (a NaN or infinite one too, which a label would not read either),
    and soft rows keep the weighted formula."""
    rng = np.random.default_rng(13)
    rows, cols = 2000, 29
    p = rng.dirichlet(np.ones(cols), rows).astype(dtype)
    labels = rng.integers(0, cols, rows)
    target = np.eye(cols, dtype=dtype)[labels]
    other = (labels + 1) % cols
    p[0, other[0]], p[1, other[1]], p[2, labels[2]] = np.nan, np.inf, 0
    target[3] = rng.dirichlet(np.ones(cols))
    loss = make("cce", reduction="none")
    with np.errstate(all="ignore"):
        value, slope = loss.value_and_gradient(p, target)
        gradient = loss.gradient(p, target)
    labelled = loss.value(p, labels)
    assert np.array_equal(value[:3], labelled[:3]) and np.array_equal(value[4:], labelled[4:])
    assert slope[0, other[0]] == 0 and slope[1, other[1]] == 0
    assert value[3] == pytest.approx(-np.sum(target[3] * np.log(p[3].astype(np.float64))))
    want = np.where(target == 1, -1 / np.maximum(p, 1e-12 if dtype == np.float64 else 1e-7), -0.0)
    one_hot = np.arange(rows) >= 4
    assert np.array_equal(gradient[one_hot], slope[one_hot])
    assert np.array_equal(np.signbit(gradient[one_hot]), np.signbit(want[one_hot].astype(dtype)))
    np.testing.assert_allclose(gradient[one_hot], want[one_hot], rtol=1e-6)


@pytest.mark.parametrize("cols", [1, 2, 7, 8, 9, 10, 15, 16, 17])
def test_softmax_cross_entropy_narrow_rows(cols, threads):
    """Rows of at most a vector's width take a block of rows at a time, one row on each lane:
    float64's numbers for every reduction, with labels and one-hot rows, also in place, for a
    row count that leaves a partial block, and with rows that the row kernels must take among
    them (NaN, +inf, only -inf, soft weights, a logit far below the rest)."""
    rng = np.random.default_rng(cols)
    rows = 203
    logits = (rng.standard_normal((rows, cols)) * 4).astype(np.float32)
    labels = rng.integers(0, cols, rows)
    logits[5, 0], logits[17, -1], logits[18] = np.nan, np.inf, -np.inf
    logits[40, labels[40]] = -200                     # p_c underflows: log S - (z_c - m)
    logits[41] *= 1e6
    target = np.eye(cols, dtype=np.float32)[labels]
    target[60] = 1 / cols                             # a soft row among one-hot ones
    for reduction in ("none", "sum", "mean"):
        loss = make("softmax_cross_entropy", reduction=reduction)
        for y in (labels, target):
            with np.errstate(all="ignore"):
                value, slope = loss.value_and_gradient(logits, y)
                want_value, want_slope = loss.value_and_gradient(logits.astype(np.float64), y)
                np.testing.assert_allclose(value, want_value, rtol=2e-6, atol=1e-30)
                np.testing.assert_allclose(loss.value(logits, y), want_value, rtol=2e-6, atol=1e-30)
                np.testing.assert_allclose(slope, want_slope, rtol=2e-6, atol=1e-12)
                np.testing.assert_allclose(loss.gradient(logits, y), want_slope, rtol=2e-6,
                                           atol=1e-12)
                in_place = logits.copy()
                loss.gradient(in_place, y, out=in_place)
                np.testing.assert_allclose(in_place, want_slope, rtol=2e-6, atol=1e-12)
                in_place = logits.copy()
                value, _ = loss.value_and_gradient(in_place, y, out=in_place)
                np.testing.assert_allclose(value, want_value, rtol=2e-6, atol=1e-30)
                np.testing.assert_allclose(in_place, want_slope, rtol=2e-6, atol=1e-12)
    for wrong in (cols, -1):                  # the block reads 16 labels at once: still checked
        bad = labels.copy()
        bad[100] = wrong
        with pytest.raises(ValueError):
            make("softmax_cross_entropy").value_and_gradient(logits, bad)


def sce_reference(z, labels):
    """Per-row softmax cross-entropy and its gradient in float64, accurate as p_c -> 1:
    loss = log1p(sum_{j != c} e^(z_j - z_c)), gradient softmax(z) - one_hot(c) with
    softmax(z)_c - 1 taken as -sum_{j != c} softmax(z)_j."""
    rows = np.arange(len(z))
    shifted = np.exp(z - z[rows, labels][:, None])
    shifted[rows, labels] = 0
    e = np.exp(z - z.max(-1, keepdims=True))
    slope = e / e.sum(-1, keepdims=True)
    slope[rows, labels] = 0
    slope[rows, labels] = -slope.sum(-1)
    return np.log1p(shifted.sum(-1)), slope


@pytest.mark.parametrize("cols", [1, 2, 3, 10, 24, 25, 1000])
def test_softmax_cross_entropy_float64_rows(cols, threads):
    """float64 rows with a class: up to 24 classes a block of 32 rows at a time as one flat
    array, wider ones a row at a time, one exponential an entry. Each row keeps its own maximum
    and sums across block edges (203 rows, rows 700 apart), its loss is accurate as p_c -> 1
    (a margin of 30: loss 1.4e-12, within 1e-14 relative), and the rows the row kernels take
    (NaN, +inf, only -inf, soft weights, a bad label) sit among them; labels and one-hot
    targets, every reduction, also in place."""
    rng = np.random.default_rng(cols)
    rows = 203
    z = rng.standard_normal((rows, cols)) * 4
    z += np.array([-700.0, 0, 700])[np.arange(rows) % 3, None]
    labels = rng.integers(0, cols, rows)
    z[7] = 0
    z[7, labels[7]] = 30                              # p_c = 1 - 9e-13 * (cols - 1)
    z[5, 0], z[17, -1], z[18] = np.nan, np.inf, -np.inf
    plain = np.ones(rows, bool)
    plain[[5, 17, 18]] = False
    want_value, want_slope = sce_reference(z[plain], labels[plain])
    target = np.eye(cols)[labels]
    target[60] = 1 / cols                             # a soft row among one-hot ones
    for y in (labels, target):
        loss = make("softmax_cross_entropy", reduction="none")
        with np.errstate(all="ignore"):
            value, slope = loss.value_and_gradient(z, y)
            want_rows = loss.value(z, y), loss.gradient(z, y)
        # the same formulas, but value's sums may go in another order (AVX2: 1e-14 at 1000)
        np.testing.assert_allclose(value, want_rows[0], rtol=1e-13)
        np.testing.assert_array_equal(slope, want_rows[1])
        keep = plain & (np.arange(rows) != 60)
        np.testing.assert_allclose(value[keep], want_value[keep[plain]], rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(slope[keep], want_slope[keep[plain]], rtol=1e-13, atol=1e-16)
        assert np.isnan(value[5]) and np.isnan(slope[5]).all()
        assert np.isnan(value[18])
        for reduction in ("sum", "mean"):
            total = make("softmax_cross_entropy", reduction=reduction)
            with np.errstate(all="ignore"):
                assert np.isnan(total.value(z, y))
                ok = z[keep], y[keep]
                got, got_slope = total.value_and_gradient(*ok)
            scale = 1.0 if reduction == "sum" else 1 / keep.sum()
            assert got == pytest.approx(want_value[keep[plain]].sum() * scale, rel=1e-13)
            np.testing.assert_allclose(got_slope, want_slope[keep[plain]] * scale, rtol=1e-13,
                                       atol=1e-16)
        in_place = z.copy()
        with np.errstate(all="ignore"):
            loss.value_and_gradient(in_place, y, out=in_place)
        np.testing.assert_array_equal(in_place, slope)
    bad = labels.copy()
    bad[100] = cols
    with pytest.raises(ValueError):
        make("softmax_cross_entropy").value_and_gradient(z, bad)


def test_softmax_cross_entropy_rows_far_apart(threads):
    """Each float32 row's maximum is found while the row before it is computed: rows whose
    logits sit 1000 apart (e^(z - max) overflows or vanishes under a neighbour's maximum), and
    rows that take the scalar path (NaN, +inf) between them, give float64's numbers; also
    for the gradient written over the logits."""
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((3000, 100)).astype(np.float32)
    logits += np.float32([-1000, 1000, 0])[np.arange(3000) % 3, None]
    logits[10::97, 5] = np.nan
    logits[20::89, 7] = np.inf
    labels = rng.integers(0, 100, 3000)
    for reduction in ("none", "sum"):
        loss = make("softmax_cross_entropy", reduction=reduction)
        want_value, want_slope = loss.value_and_gradient(logits.astype(np.float64), labels)
        np.testing.assert_allclose(loss.value(logits, labels), want_value, rtol=2e-7)
        np.testing.assert_allclose(loss.gradient(logits, labels), want_slope, rtol=4e-7, atol=1e-30)
        value, slope = loss.value_and_gradient(logits, labels)
        np.testing.assert_allclose(value, want_value, rtol=2e-7)
        np.testing.assert_allclose(slope, want_slope, rtol=4e-7, atol=1e-30)
        in_place = logits.copy()
        np.testing.assert_allclose(loss.value_and_gradient(in_place, labels, out=in_place)[0],
                                   want_value, rtol=2e-7)
        np.testing.assert_allclose(in_place, want_slope, rtol=4e-7, atol=1e-30)


@pytest.mark.parametrize("name", ["mse", "bce", "softmax_cross_entropy"])
def test_float32_streaming_outputs(name):
    """Outputs above FPK_STREAM_BYTES are written with streaming stores: same numbers, at any
    alignment of out."""
    from fpkernels._fpkernels import lib
    n = lib.FPK_STREAM_BYTES // 4 + 1000
    if name == "softmax_cross_entropy":
        rng = np.random.default_rng(9)
        pred, target = rng.standard_normal((n // 1000, 1000), np.float32), rng.integers(0, 1000, n // 1000)
        small = slice(0, 3)
    else:
        pred, target = sample(name, n, np.float32, seed=9)
        small = slice(0, 3000)
    loss = make(name, reduction="sum")
    buffer = np.empty(pred.size + 1, np.float32)
    for offset in (0, 1):
        out = buffer[offset:offset + pred.size].reshape(pred.shape)
        loss.gradient(pred, target, out=out)
        np.testing.assert_array_equal(out[small], loss.gradient(pred[small], target[small]))
        np.testing.assert_array_equal(out[-3:], loss.gradient(pred[-3:], target[-3:]))
    if name != "softmax_cross_entropy":
        per = make(name, reduction="none").value(pred, target)
        np.testing.assert_array_equal(per[-5:], make(name, reduction="none").value(pred[-5:], target[-5:]))


@pytest.mark.parametrize("method", ["gradient", "value_and_gradient"])
@pytest.mark.parametrize("case", ["hinge-target", "hinge-pred", "bce-target", "bce-pred",
                                  "cce-target", "cce-pred", "softmax_cross_entropy-target"])
def test_rejected_target_in_place_writes_nothing(case, method):
    """With out= an input, a target the kernel rejects used to be found after part of the
    gradient overwrote that input (and the error named a value that was never there): the
    targets are now checked first, and the inputs stay as given."""
    name, where = case.split("-")
    rows = name in ("cce", "softmax_cross_entropy")
    if rows:
        pred = np.full((2, 3), 1 / 3)
        target = np.array([[1.0, 0, 0], [0, 1.5, 0]])
        found = "1.5 at index (1, 1)"
    else:
        pred = np.array([0.25, 0.5, 0.75])
        target = np.array([1.0, 1.0, 0.0 if name == "hinge" else 2.0])
        found = f"{target[2].item()!r} at index 2"
    given_pred, given_target = pred.copy(), target.copy()
    out = target if where == "target" else pred
    with pytest.raises(ValueError, match=re.escape(found)):
        getattr(make(name), method)(pred, target, out=out)
    np.testing.assert_array_equal(pred, given_pred)
    np.testing.assert_array_equal(target, given_target)


def test_kernels_agree_with_formulaic_at_weight_zero_and_kinks():
    """A class of weight 0 adds nothing (cce: whatever its p, as with a class index;
    softmax_cross_entropy: even at a logit of -inf), and mae's gradient is 0 where p = y,
    p = y = +-inf too, NaN for a NaN p: kernels and formulaic references alike."""
    cce, sce = make("cce"), make("softmax_cross_entropy")
    p, one_hot = [[np.nan, 0.5, 0.5]], [[0.0, 1.0, 0.0]]
    assert cce.value(p, [1]) == cce.value(p, one_hot) == pytest.approx(formulaic.cce(p, one_hot))
    z = [[-np.inf, 0.0, 1.0]]
    assert sce.value(z, one_hot) == pytest.approx(formulaic.softmax_cross_entropy(z, one_hot))
    assert sce.value(z, one_hot) == pytest.approx(np.log1p(np.e))
    pred, target = [np.inf, -np.inf, np.nan, 1.0, 2.0], [np.inf, -np.inf, 0.0, 1.0, 0.0]
    want = [0.0, 0.0, np.nan, 0.0, 1.0]
    for dtype in (np.float32, np.float64):
        got = make("mae", reduction="none").gradient(np.array(pred, dtype), np.array(target, dtype))
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(formulaic.mae_gradient(pred, target, reduction="none"), want)
