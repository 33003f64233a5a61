"""Plugins that misbehave at run time (wrong shapes, wrong dtypes, NaN) are reported clearly by the
conformance kit and by the layers that use them, and never break the other names."""
import numpy as np
import pytest

import fpkernels as fk
from fpkernels.interfaces import Activation


def reference(rows):
    """Whatever: the kit fails these plugins before it compares with the reference."""
    return rows


class Misbehaving(Activation):
    description = "a plugin activation that breaks its promise"
    formula = "f(x) = x"
    formulaic = staticmethod(reference)
    formulaic_derivative = staticmethod(reference)

    def derivative(self, x, out=None):
        return np.ones_like(np.asarray(x, float))


class WrongShape(Misbehaving):
    def forward(self, x, out=None):
        return np.asarray(x)[..., :1]


class WrongDtype(Misbehaving):
    def forward(self, x, out=None):
        return np.asarray(x, np.float64) * 2


class ReturnsNaN(Misbehaving):
    def forward(self, x, out=None):
        return np.full(np.shape(x), np.nan, np.asarray(x).dtype)


@pytest.mark.parametrize("plugin, words", [(WrongShape, "shape"), (WrongDtype, "dtype"), (ReturnsNaN, "NaN")])
def test_the_kit_names_what_is_wrong(plugin, words):
    with pytest.raises(AssertionError, match=words):
        fk.testing.check_activation(plugin())


def test_a_layer_names_itself_and_both_shapes_when_its_activation_returns_the_wrong_shape():
    net = fk.nn.Sequential([fk.nn.Dense(4, 3, WrongShape()), fk.nn.Dense(3, 1, "sigmoid")])
    with pytest.raises(ValueError, match=r"WrongShape\.forward returned shape \(2, 1\).*\(2, 3\)"):
        net.forward(np.ones((2, 4), np.float32))


def test_a_layer_keeps_its_dtype_when_an_activation_computes_in_float64():
    net = fk.nn.Sequential([fk.nn.Dense(4, 3, WrongDtype(), rng=0), fk.nn.Dense(3, 1, "sigmoid", rng=1)])
    assert net.forward(np.ones((2, 4), np.float32)).dtype == np.float32


def test_misbehaving_registered_plugins_do_not_break_other_names():
    for plugin in (WrongShape, WrongDtype, ReturnsNaN):
        fk.activations.register(plugin.__name__.lower(), plugin, origin="test-plugin 0.0")
    try:
        assert fk.activations.get("swish").forward([1.0])[0] == pytest.approx(0.7310586)
        assert "wrongshape" in fk.activations.names()
        net = fk.nn.Sequential([fk.nn.Dense(4, 3, "returnsnan"), fk.nn.Dense(3, 1, "relu")])
        assert np.isnan(net.forward(np.ones((2, 4)))).all()  # NaN propagates, as IEEE says
    finally:
        for plugin in (WrongShape, WrongDtype, ReturnsNaN):
            fk.activations.registry.unregister(plugin.__name__.lower())
