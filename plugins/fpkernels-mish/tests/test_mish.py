"""fpkernels-mish passes fpkernels' conformance kit and matches its formulaic reference."""
import numpy as np
import pytest

import fpkernels as fk
from fpkernels import testing
from fpkernels_mish import Mish, mish, mish_derivative


def test_conforms():
    testing.check_activation(Mish)


def test_found_by_name_through_the_entry_point():
    assert "mish" in fk.activations.names()
    assert fk.activations.info("mish")["distribution"] == "fpkernels-mish"
    testing.check_activation("mish")


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_matches_the_formulaic_reference(dtype, rtol):
    x = np.concatenate([np.linspace(-30, 30, 601), [0.0, -0.0, 1e-30, -1e-30, 19.9, 20.1]])
    mish_ = Mish()
    assert np.allclose(mish_.forward(x.astype(dtype)), mish(list(x)), rtol=rtol, atol=1e-30)
    assert np.allclose(mish_.derivative(x.astype(dtype)), mish_derivative(list(x)),
                       rtol=rtol * 10, atol=1e-30)


def test_edges():
    x = np.array([-np.inf, np.inf, np.nan, -1000.0, 1000.0])
    y, d = Mish().forward(x), Mish().derivative(x)
    assert y[0] == 0 and y[1] == np.inf and np.isnan(y[2]) and y[3] == 0 and y[4] == 1000
    assert d[0] == 0 and d[1] == 1 and np.isnan(d[2])


def test_threads_give_identical_results():
    x = np.random.default_rng(0).normal(size=200_000) * 5
    with fk.num_threads(1):
        one = Mish().backward(x, x)
    with fk.num_threads(2):
        two = Mish().backward(x, x)
    assert np.array_equal(one, two)
    assert np.allclose(one, x * Mish().derivative(x), rtol=1e-15)
