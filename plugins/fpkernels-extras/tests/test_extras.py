"""fpkernels-extras passes fpkernels' conformance kit and matches its formulaic references."""
import numpy as np

import fpkernels as fk
from fpkernels import testing
from fpkernels_extras.lion import Lion, lion_step
from fpkernels_extras.log_cosh import LogCosh, log_cosh


def lion_reference(param, grad, state, t, hyperparameters):
    """One Lion step in plain NumPy, for the kit to compare against."""
    lr, b1, b2, wd = (hyperparameters[k] for k in ("lr", "beta1", "beta2", "weight_decay"))
    m = state.get("m", np.zeros_like(param))
    param = param * (1 - lr * wd) - lr * np.sign(b1 * m + (1 - b1) * grad)
    state["m"] = b2 * m + (1 - b2) * grad
    return param


def test_lion_conforms():
    testing.check_optimizer(Lion, reference_step=lion_reference)
    testing.check_optimizer(Lion(lr=0.01, weight_decay=0.1), reference_step=lion_reference)


def test_log_cosh_conforms():
    testing.check_loss(LogCosh)


def test_found_by_name_through_entry_points():
    assert "lion" in fk.optimizers.names() and "log_cosh" in fk.losses.names()
    assert fk.optimizers.info("lion")["distribution"] == "fpkernels-extras"
    testing.check_optimizer("lion", reference_step=lion_reference)
    testing.check_loss("log_cosh")


def test_formulaic_references_agree():
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=50), rng.normal(size=50)
    assert np.isclose(LogCosh().value(pred, target), log_cosh(list(pred), list(target)), rtol=1e-12)
    params, grads = rng.normal(size=5), rng.normal(size=5)
    expected = lion_step(list(params), list(grads), [0.0] * 5, lr=0.1, weight_decay=0.01)
    opt = Lion(lr=0.1, weight_decay=0.01)
    opt.step([params], [grads])
    assert np.allclose(params, expected, rtol=1e-14)


def test_log_cosh_does_not_overflow():
    assert np.isfinite(LogCosh().value([1e4], [-1e4]))
    assert np.isclose(LogCosh().value([1e4], [-1e4]), 2e4 - np.log(2))
