"""The small interfaces every activation, loss, initializer and optimizer meets.

Built-ins and plugins subclass these. Teaching metadata are class attributes, read by the
registries (`info`) and by `fpkernels explain`:

    description    plain words; the first line is the one-line summary
    formula        the formula in Unicode, readable in a terminal
    formulaic      the plain-Python reference function (fpkernels.formulaic style)
    hyperparameters  {name: what it does}; defaults come from __init__'s signature
    when_to_use, pitfalls   short advice for learners
    plot_range     (low, high) of x for plots
"""
import numpy as np


class Building:
    """Metadata every building block carries."""

    description = ""
    formula = ""
    formulaic = None
    hyperparameters = {}
    when_to_use = ""
    pitfalls = ""
    plot_range = (-5.0, 5.0)


class Activation(Building):
    """An element-wise (or row-wise) function of a layer's pre-activation x.

    Give forward and derivative; backward (grad_out * derivative) comes for free.
    """

    derivative_formula = ""
    formulaic_derivative = None

    def forward(self, x, out=None):
        raise NotImplementedError

    def derivative(self, x, out=None):
        raise NotImplementedError

    def backward(self, x, grad_out, out=None):
        """grad_out * derivative(x): the gradient with respect to x."""
        return np.multiply(grad_out, self.derivative(x), out=out)


class Loss(Building):
    """value(pred, target) -> float (or per-element array) and its gradient with respect to pred."""

    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
        self.reduction = reduction

    def value(self, pred, target):
        raise NotImplementedError

    def gradient(self, pred, target):
        raise NotImplementedError


class Initializer(Building):
    """Called as init(shape, rng=seed_or_generator, dtype=float32) -> new array."""

    def __call__(self, shape, rng=None, dtype=np.float32):
        raise NotImplementedError


class Optimizer(Building):
    """Updates a list of parameter arrays in place from a list of gradient arrays."""

    def step(self, params, grads):
        raise NotImplementedError

    def state_dict(self):
        raise NotImplementedError

    def load_state_dict(self, state):
        raise NotImplementedError
