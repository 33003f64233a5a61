"""fpkernels-mish: the Mish activation for fpkernels, with its own C99 + OpenMP kernel.

Installing the package is all it takes: its entry point (group fpkernels.activations,
name "mish") lets fpkernels find it by name, without importing it by hand:

    >>> import fpkernels as fk
    >>> fk.activations.get("mish").forward([0.0, 1.0])
    array([0.        , 0.86509839])
"""
import math

import numpy as np

import fpkernels as fk
from fpkernels.cplugin import c_array, check
from fpkernels.interfaces import Activation, as_float_array, output_array

from ._mish import ffi, lib

__version__ = "0.1.0"
__all__ = ["Mish", "mish", "mish_derivative"]


# ---- the formulaic reference: what the C kernel computes, one idea per line ----

def mish(xs):
    """Mish of each number in a list: x times tanh(softplus(x))."""
    result = []
    for x in xs:
        softplus = max(x, 0.0) + math.log1p(math.exp(-abs(x)))   # ln(1 + e^x), no overflow
        result.append(x * math.tanh(softplus))
    return result


def mish_derivative(xs):
    """d mish / dx of each number in a list: tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x)."""
    result = []
    for x in xs:
        softplus = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
        t = math.tanh(softplus)
        sigmoid = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        result.append(t + x * (1.0 - t * t) * sigmoid)
    return result


# ---- the fast path: validate, convert, call C ----

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _unary(kernel, x, out):
    x = as_float_array(x)
    x = x if x.flags.c_contiguous else x.copy(order="C")
    out = output_array(out, x.shape, x.dtype)
    function = getattr(lib, f"mish_{kernel}_{_SUFFIX[x.dtype]}")
    check(function(c_array(ffi, x), c_array(ffi, out), x.size, fk.get_num_threads()),
          f"mish {kernel}")
    return out


class Mish(Activation):
    description = """Mish: x times tanh(softplus(x)), a smooth, non-monotonic activation.

    Proposed by Diganta Misra (2019, "Mish: A Self Regularized Non-Monotonic Activation
    Function"). Like Swish it lets small negative values through (its minimum is about
    -0.31 near x = -1.19) and grows like x for large x; unlike ReLU it is smooth
    everywhere, so its gradient never jumps."""
    formula = "f(x) = x · tanh(softplus(x)),  softplus(x) = ln(1 + eˣ)"
    derivative_formula = "f'(x) = tanh(sp) + x · (1 − tanh²(sp)) · σ(x),  sp = softplus(x)"
    formulaic = staticmethod(mish)
    formulaic_derivative = staticmethod(mish_derivative)
    hyperparameters = {}
    when_to_use = ("Hidden layers of deep networks where Swish/GELU work; a drop-in for ReLU "
                   "when smooth gradients help optimisation.")
    pitfalls = ("Costs an exp per element (more than ReLU). Not bounded below by 0: outputs "
                "can be slightly negative.")
    plot_range = (-5.0, 5.0)

    def forward(self, x, out=None):
        """mish(x) element-wise (float32/float64 kept; out= may be x)."""
        return _unary("forward", x, out)

    def derivative(self, x, out=None):
        """d mish / dx element-wise."""
        return _unary("derivative", x, out)

    def backward(self, x, grad_out, out=None):
        """grad_out * mish'(x) in one pass, without storing the derivative."""
        x, grad_out = as_float_array(x), as_float_array(grad_out, "grad_out")
        if x.shape != grad_out.shape:
            raise ValueError(f"x has shape {x.shape} but grad_out has shape {grad_out.shape}")
        dtype = np.result_type(x.dtype, grad_out.dtype)
        x = np.require(x, dtype, "C")
        grad_out = np.require(grad_out, dtype, "C")
        out = output_array(out, x.shape, dtype)
        function = getattr(lib, f"mish_backward_{_SUFFIX[dtype]}")
        check(function(c_array(ffi, x), c_array(ffi, grad_out), c_array(ffi, out), x.size,
                       fk.get_num_threads()), "mish backward")
        return out
