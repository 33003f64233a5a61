"""The log-cosh loss: squared error for small errors, absolute error for large ones."""
import math

import numpy as np

from fpkernels.interfaces import Loss

LOG2 = math.log(2.0)


def log_cosh(pred, target):
    """Mean of log(cosh(p - y)) over two lists of numbers (the formulaic reference)."""
    total = 0.0
    for p, y in zip(pred, target):
        e = abs(p - y)
        total += e + math.log1p(math.exp(-2 * e)) - LOG2      # log(cosh(e)) without overflow
    return total / len(pred)


class LogCosh(Loss):
    description = """Log-cosh: the logarithm of the hyperbolic cosine of the error.

    About e²/2 for small errors (like half the squared error) and about |e| − log 2 for large
    ones (like the absolute error), and smooth everywhere: a Huber loss without a delta to
    choose. Its gradient is tanh(p − y), bounded by 1, so outliers cannot blow it up."""
    formula = "L = mean over i of log(cosh(pᵢ − yᵢ)),  ∂L/∂pᵢ = tanh(pᵢ − yᵢ) / n"
    formulaic = staticmethod(log_cosh)
    hyperparameters = {"reduction": "'mean' (default), 'sum' or 'none' (per element)"}
    when_to_use = "Regression with occasional outliers, when a smooth loss is wanted."
    pitfalls = "For very large errors the gradient saturates at ±1/n, like MAE: slow late progress."

    def __init__(self, reduction="mean"):
        super().__init__(reduction)

    def value(self, pred, target):
        p, y = self.check_inputs(pred, target)
        e = np.abs(p - y)
        return self.reduce(e + np.log1p(np.exp(-2 * e)) - p.dtype.type(LOG2))

    def gradient(self, pred, target):
        p, y = self.check_inputs(pred, target)
        return self.reduce_gradient(np.tanh(p - y))
