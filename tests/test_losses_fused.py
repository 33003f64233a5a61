"""value_and_gradient: a loss's value and gradient in one pass, with the numbers of value() and
gradient(): every loss and reduction, float32 and float64, 1 and 2 threads, block and
streaming boundaries, in place, bad labels, NaN and infinite inputs, plugins."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fpkernels as fk
from fpkernels.interfaces import Loss
from test_losses import ELEMENTWISE, REDUCTIONS, ROWS, make, rows_sample, sample

# element counts around the kernels' 4096-element blocks
SIZES = [1, 17, 4095, 4096 * 2 + 5, 3 * 2**18 + 3]
STREAMED = 2**23 + 3        # float32 outputs from 32 MB on are written with streaming stores


def value_rtol(name, dtype, reduction):
    """How far the fused value may be from value(): totals are summed in another order on
    vectors, and float32 softmax_cross_entropy takes its exponentials from the gradient."""
    if name == "softmax_cross_entropy" and dtype == np.float32:
        return 3e-7
    return 0 if reduction == "none" else 1e-12


def check_fused(loss, pred, target, dtype):
    value, gradient = loss.value(pred, target), loss.gradient(pred, target)
    fused_value, fused_gradient = loss.value_and_gradient(pred, target)
    np.testing.assert_array_equal(fused_gradient, gradient)
    assert fused_gradient.dtype == gradient.dtype and fused_gradient.shape == gradient.shape
    assert type(fused_value) is type(value)
    rtol = value_rtol(loss.kernel, dtype, loss.reduction)
    np.testing.assert_allclose(fused_value, value, rtol=rtol, atol=0)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_fused_is_value_and_gradient(name, reduction, n, dtype, threads):
    pred, target = sample(name, n + 1, dtype, seed=n)
    # one element in: the arrays start off the vector alignment (the streaming stores' head)
    check_fused(make(name, reduction=reduction), pred[1:], target[1:], dtype)


@pytest.mark.parametrize("name", ["mse", "bce"])
def test_streamed_outputs(name, threads):
    pred, target = sample(name, STREAMED + 1, np.float32, seed=5)
    for reduction in ("mean", "none"):
        check_fused(make(name, reduction=reduction), pred[1:], target[1:], np.float32)


def test_streamed_rows(threads):
    rng = np.random.default_rng(6)
    logits = rng.standard_normal(2**23 + 2048 + 1, np.float32)[1:].reshape(-1, 2048)
    check_fused(make("softmax_cross_entropy"), logits, rng.integers(0, 2048, len(logits)),
                np.float32)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (300, 10), (3, 1000), (2, 4097)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ROWS)
def test_rows_fused_is_value_and_gradient(name, reduction, shape, dtype, threads):
    pred, labels, one_hot = rows_sample(shape, seed=shape[1], probabilities=name == "cce")
    pred = pred.astype(dtype)
    loss = make(name, reduction=reduction)
    check_fused(loss, pred, labels, dtype)
    check_fused(loss, pred, one_hot.astype(dtype), dtype)


@pytest.mark.parametrize("name", ELEMENTWISE + ROWS)
def test_empty_inputs(name, dtype):
    pred = np.zeros((0, 3), dtype)
    target = (np.zeros(0, np.int64) if name in ROWS
              else np.ones((0, 3), dtype) if name == "hinge" else np.zeros((0, 3), dtype))
    for reduction, want in (("mean", np.nan), ("sum", 0.0)):
        value, gradient = make(name, reduction=reduction).value_and_gradient(pred, target)
        np.testing.assert_equal(value, want)
        assert gradient.shape == (0, 3) and gradient.dtype == dtype
    value, _ = make(name, reduction="none").value_and_gradient(pred, target)
    assert value.shape == ((0,) if name in ROWS else (0, 3))


def test_totals_bitwise_equal_across_threads():
    for name in ELEMENTWISE + ROWS:
        if name in ROWS:
            pred, labels, _ = rows_sample((3000, 17), seed=1, probabilities=name == "cce")
            pred, target = pred.astype(np.float32), labels
        else:
            pred, target = sample(name, 100_003, np.float32)
        results = []
        for n in (1, 2):
            with fk.num_threads(n):
                results.append(make(name).value_and_gradient(pred, target))
        assert results[0][0] == results[1][0], name
        np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("name", ELEMENTWISE + ROWS)
def test_in_place_and_overlapping_out(name, dtype):
    """out=pred overwrites pred with the gradient; out overlapping pred shifted by one element
    gives what fresh memory would."""
    if name in ROWS:
        pred, target, _ = rows_sample((40, 7), seed=3, probabilities=name == "cce")
        buffer = np.concatenate([pred.ravel(), [0.5]]).astype(dtype)
        shape = (40, 7)
    else:
        pred, target = sample(name, 300, dtype, seed=3)
        buffer = np.concatenate([pred, [0.5]]).astype(dtype)
        shape = (300,)
    pred = buffer[:-1].reshape(shape)
    loss = make(name)
    value, gradient = loss.value_and_gradient(pred.copy(), target)

    in_place = pred.copy()
    got_value, got = loss.value_and_gradient(in_place, target, out=in_place)
    assert got is in_place and got_value == value
    np.testing.assert_array_equal(in_place, gradient)

    shifted = buffer.copy()
    got_value, got = loss.value_and_gradient(shifted[:-1].reshape(shape), target,
                                             out=shifted[1:].reshape(shape))
    assert got_value == value
    np.testing.assert_array_equal(got, gradient)


def test_bad_labels_raise_as_value_does():
    cases = [("hinge", np.zeros(4), np.array([1.0, 0.0, -1.0, 1.0])),
             ("bce", np.full(4, 0.5), np.array([0.0, 1.0, 1.5, 0.0])),
             ("cce", np.full((2, 3), 1 / 3), np.array([0, 3])),
             ("softmax_cross_entropy", np.zeros((2, 3)), np.array([-1, 0])),
             ("softmax_cross_entropy", np.zeros((2, 3)), np.array([[0, 1, 0], [0, 2, 0]]))]
    for name, pred, target in cases:
        with pytest.raises(ValueError) as expected:
            make(name).value(pred, target)
        with pytest.raises(ValueError, match=re.escape(str(expected.value))):
            make(name).value_and_gradient(pred, target)


def test_nan_and_infinite_inputs_match_value_and_gradient():
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 0.5])
    for dtype in (np.float32, np.float64):
        for name in ("mae", "mse", "huber", "bce"):
            pred = specials.astype(dtype)
            target = np.full(len(pred), 0.25 if name == "bce" else 1.0, dtype)
            for reduction in REDUCTIONS:
                loss = make(name, reduction=reduction)
                value, gradient = loss.value_and_gradient(pred, target)
                np.testing.assert_array_equal(value, loss.value(pred, target))
                np.testing.assert_array_equal(gradient, loss.gradient(pred, target))
        logits = np.array([[np.inf, 0, 1], [np.nan, 0, 1], [np.inf, np.inf, 0],
                           [-np.inf, 0, 1], [3e38, -3e38, 0]], dtype)
        for reduction in ("none", "sum"):
            loss = make("softmax_cross_entropy", reduction=reduction)
            value, gradient = loss.value_and_gradient(logits, np.array([0, 1, 2, 0, 1]))
            np.testing.assert_array_equal(value, loss.value(logits, np.array([0, 1, 2, 0, 1])))
            np.testing.assert_array_equal(gradient,
                                          loss.gradient(logits, np.array([0, 1, 2, 0, 1])))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["mse", "huber", "mae", "softmax_cross_entropy"]),
       st.sampled_from(REDUCTIONS), st.integers(1, 40), st.integers(1, 9),
       st.sampled_from([np.float32, np.float64]),
       st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=360))
def test_fused_hypothesis(name, reduction, rows, cols, dtype, values):
    values = np.resize(np.array(values, dtype), rows * cols).reshape(rows, cols)
    rng = np.random.default_rng(rows * cols)
    target = (rng.integers(0, cols, rows) if name in ROWS
              else rng.standard_normal((rows, cols)).astype(dtype))
    check_fused(make(name, reduction=reduction), values, target, dtype)


class Cube(Loss):
    """A plugin's loss with only value and gradient: sum of (p - y)^3."""

    def value(self, pred, target):
        pred, target = self.check_inputs(pred, target)
        return self.reduce((pred - target) ** 3)

    def gradient(self, pred, target):
        pred, target = self.check_inputs(pred, target)
        return self.reduce_gradient(3 * (pred - target) ** 2)


def test_a_plugin_loss_gets_value_and_gradient_from_its_two_methods():
    pred, target = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    value, gradient = Cube().value_and_gradient(pred, target)
    assert value == 4.5
    np.testing.assert_array_equal(gradient, [1.5, 6.0])


def test_fit_trains_with_losses_with_or_without_value_and_gradient():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X[:, :1] > 0).astype(np.float32)

    class ValueAndGradientOnly:               # duck-typed: no Loss base class
        def value(self, pred, target):
            return float(np.mean((pred - target) ** 2))

        def gradient(self, pred, target):
            return 2 * (pred - target) / pred.size

    for loss in ("mse", ValueAndGradientOnly()):
        net = fk.nn.Sequential([fk.nn.Dense(2, 4, "tanh", rng=0), fk.nn.Dense(4, 1, rng=1)])
        history = net.fit(X, y, loss=loss, optimizer=fk.optimizers.get("sgd", lr=0.1),
                          epochs=20, batch_size=16, verbose=False)
        assert history["loss"][-1] < 0.5 * history["loss"][0]


def test_a_subclass_overriding_value_or_gradient_is_not_skipped():
    """value_and_gradient (and so fit) calls a subclass's own value and gradient: the fused
    kernel would compute the built-in loss instead."""
    class ClippedMSE(fk.losses.MSE):
        def gradient(self, pred, target, out=None):
            return np.clip(super().gradient(pred, target, out), -1e-3, 1e-3)

    class ScaledCCE(fk.losses.get("cce").__class__):
        def value(self, pred, target):
            return 100 * super().value(pred, target)

    pred, target = np.array([[0.0, 5.0]]), np.array([[1.0, -5.0]])
    value, gradient = ClippedMSE().value_and_gradient(pred, target)
    assert value == fk.losses.get("mse").value(pred, target)
    np.testing.assert_array_equal(gradient, [[-1e-3, 1e-3]])
    probabilities, labels = np.array([[0.25, 0.75]]), np.array([1])
    value, gradient = ScaledCCE().value_and_gradient(probabilities, labels)
    assert value == pytest.approx(-100 * np.log(0.75))
    np.testing.assert_allclose(gradient, fk.losses.get("cce").gradient(probabilities, labels))
    X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    net = fk.nn.Sequential([fk.nn.Dense(4, 1, rng=0)])
    before = net.layers[0].weight.copy()
    net.fit(X, 100 * X[:, :1], loss=ClippedMSE(), optimizer=fk.optimizers.get("sgd", lr=1.0),
            epochs=1, batch_size=64, verbose=0, metrics=())
    step = np.abs(net.layers[0].weight - before).max()
    assert 0 < step <= 1e-3 * np.abs(X).sum(axis=0).max() * 1.0001     # clipped: X^T g
