"""Activations and losses against PyTorch (skipped when torch is not installed)."""
import numpy as np
import pytest

import fpkernels as fk

torch = pytest.importorskip("torch")
F = torch.nn.functional

ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "swish": F.silu,
    "gelu": lambda t: F.gelu(t, approximate="none"),
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "softmax": lambda t: torch.softmax(t, dim=-1),
}


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_and_backward_match_torch(name, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 33)) * 4).astype(dtype)
    g = rng.standard_normal((64, 33)).astype(dtype)
    # torch in float64 is the yardstick (its float32 gelu_tanh backward cancels: 1 - t*t)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = ACTIVATIONS[name](tx)
    ty.backward(torch.tensor(g.astype(np.float64)))
    act = fk.activations.get(name)
    np.testing.assert_allclose(act.forward(x), ty.detach().numpy(), **tolerance(dtype))
    np.testing.assert_allclose(act.backward(x, g), tx.grad.numpy(), **tolerance(dtype))


FROM_OUTPUT = {
    "sigmoid": lambda g, y: torch.ops.aten.sigmoid_backward(g, y),
    "tanh": lambda g, y: torch.ops.aten.tanh_backward(g, y),
    "softmax": lambda g, y: torch.ops.aten._softmax_backward_data(g, y, -1, y.dtype),
}


@pytest.mark.parametrize("name", sorted(FROM_OUTPUT))
def test_backward_from_output_matches_torch(name, dtype):
    """The same inputs as torch's own backward from the saved output, the same result."""
    rng = np.random.default_rng(4)
    act = fk.activations.get(name)
    y = act.forward((rng.standard_normal((64, 33)) * 4).astype(dtype))
    g = rng.standard_normal((64, 33)).astype(dtype)
    theirs = FROM_OUTPUT[name](torch.from_numpy(g), torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(act.backward_from_output(y, g), theirs, **tolerance(dtype))


LOSSES = {
    "mae": lambda p, y, r: F.l1_loss(p, y, reduction=r),
    "mse": lambda p, y, r: F.mse_loss(p, y, reduction=r),
    "huber": lambda p, y, r: F.huber_loss(p, y, reduction=r, delta=1.0),
    "bce": lambda p, y, r: F.binary_cross_entropy(p, y, reduction=r),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_match_torch(name, reduction, dtype):
    rng = np.random.default_rng(1)
    if name == "bce":
        pred = rng.uniform(0.02, 0.98, 200).astype(dtype)
        target = rng.uniform(0, 1, 200).astype(dtype)
    else:
        pred = (rng.standard_normal(200) * 2).astype(dtype)
        target = (rng.standard_normal(200) * 2).astype(dtype)
    tp = torch.tensor(pred, requires_grad=True)
    tv = LOSSES[name](tp, torch.tensor(target), reduction)
    tv.sum().backward()
    loss = fk.losses.get(name, reduction=reduction)
    np.testing.assert_allclose(loss.value(pred, target), tv.detach().numpy(), **tolerance(dtype))
    np.testing.assert_allclose(loss.gradient(pred, target), tp.grad.numpy(), **tolerance(dtype))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_matches_torch(reduction, dtype):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((40, 7)) * 3).astype(dtype)
    labels = rng.integers(0, 7, 40)
    soft = rng.dirichlet(np.ones(7), 40).astype(dtype)
    loss = fk.losses.get("softmax_cross_entropy", reduction=reduction)
    for target, ttarget in ((labels, torch.tensor(labels)), (soft, torch.tensor(soft))):
        tz = torch.tensor(logits, requires_grad=True)
        tv = F.cross_entropy(tz, ttarget, reduction=reduction)
        tv.sum().backward()
        np.testing.assert_allclose(loss.value(logits, target), tv.detach().numpy(), **tolerance(dtype))
        np.testing.assert_allclose(loss.gradient(logits, target), tz.grad.numpy(), **tolerance(dtype))


def test_softmax_infinities_follow_torch_where_no_limit_exists():
    inf = float("inf")
    x = np.array([[inf, inf, 1.0], [-inf, -inf, -inf]], np.float32)
    ours = fk.activations.get("softmax").forward(x)
    theirs = torch.softmax(torch.tensor(x), dim=-1).numpy()
    assert np.isnan(ours).all() and np.isnan(theirs).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cce_matches_torch_nll_of_log(reduction, dtype):
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(5), 30).astype(dtype) * 0.98 + 0.004
    labels = rng.integers(0, 5, 30)
    tp = torch.tensor(probabilities, requires_grad=True)
    tv = F.nll_loss(torch.log(tp), torch.tensor(labels), reduction=reduction)
    tv.sum().backward()
    loss = fk.losses.get("cce", reduction=reduction)
    np.testing.assert_allclose(loss.value(probabilities, labels), tv.detach().numpy(), **tolerance(dtype))
    np.testing.assert_allclose(loss.gradient(probabilities, labels), tp.grad.numpy(), **tolerance(dtype))
