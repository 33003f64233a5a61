"""The activations of fpkernels and their registry (`get`, `names`, `info`, `register`)."""
from .registry import Registry

registry = Registry("activations")
get, names, info, register = registry.get, registry.names, registry.info, registry.register

# ---- the built-in activations (activations developer) ----------------------------------------
import numpy as np

from . import formulaic as _formulaic
from ._core import (apart, as_array, check, contiguous, float_dtype, integer, kernel, output,
                    ptr, real_number)
from .interfaces import Activation, Setting

__all__ = ["get", "names", "info", "register", "erf", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Swish", "GELU", "GELUTanh", "Softmax"]


def _unary(name, x, out, *hyper):
    """out = fpk_<name>(x) element-wise, for float32/float64 x."""
    x = as_array(x, "x")
    dtype = float_dtype(x)
    x = contiguous(x, dtype)
    out = output(out, x.shape, dtype)
    x = apart(x, out)
    check(kernel(name, dtype)(ptr(x), ptr(out), x.size, *hyper), name)
    return out


def _binary(name, x, grad_out, out, *hyper, x_name="x"):
    """out = fpk_<name>(x, grad_out) element-wise; the two shapes must be equal."""
    x = as_array(x, x_name)
    grad_out = as_array(grad_out, "grad_out")
    if x.shape != grad_out.shape:
        raise ValueError(f"{x_name} has shape {x.shape} but grad_out has shape "
                         f"{grad_out.shape}; they must be equal")
    dtype = float_dtype(x, grad_out)
    x = contiguous(x, dtype)
    grad_out = contiguous(grad_out, dtype)
    out = output(out, x.shape, dtype)
    x, grad_out = apart(x, out), apart(grad_out, out)
    check(kernel(name, dtype)(ptr(x), ptr(grad_out), ptr(out), x.size, *hyper), name)
    return out


def erf(x, out=None):
    """The error function erf(x) = 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt, element-wise.

    >>> import fpkernels as fk
    >>> fk.erf([0.0, 1.0]).round(6)
    array([0.      , 0.842701])
    """
    return _unary("erf", x, out)


class _ElementWise(Activation):
    """An element-wise activation backed by the C kernels fpk_<kernel>_{forward,derivative,backward}."""

    kernel = ""

    def _hyper(self):
        return ()

    def forward(self, x, out=None):
        """f(x), element-wise; a new array, or `out` (which may be x)."""
        return _unary(self.kernel + "_forward", x, out, *self._hyper())

    def derivative(self, x, out=None):
        """f'(x), element-wise."""
        return _unary(self.kernel + "_derivative", x, out, *self._hyper())

    def backward(self, x, grad_out, out=None):
        """grad_out * f'(x), fused (f'(x) is never stored); x and grad_out have one shape."""
        return _binary(self.kernel + "_backward", x, grad_out, out, *self._hyper())

    def __call__(self, x, out=None):
        return self.forward(x, out=out)

    def __repr__(self):
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({hyper})"


@register("relu")
class ReLU(_ElementWise):
    description = """Rectified linear unit: keeps positive values and replaces negatives with 0.

    The default hidden-layer activation: cheap, and its gradient is exactly 1 for every
    positive input, so deep networks still learn. At x = 0 the derivative is taken as 0."""
    formula = "ReLU(x) = max(0, x)"
    derivative_formula = "ReLU′(x) = 1 if x > 0 else 0"
    formulaic = staticmethod(_formulaic.relu)
    formulaic_derivative = staticmethod(_formulaic.relu_derivative)
    when_to_use = "Hidden layers of most feed-forward and convolutional networks."
    pitfalls = ("Units whose input stays negative get zero gradient and stop learning "
                "('dying ReLU'); a smaller learning rate or leaky_relu helps.")
    plot_range = (-3.0, 3.0)
    kernel = "relu"


@register("leaky_relu")
class LeakyReLU(_ElementWise):
    description = """Leaky ReLU: like ReLU, but negative inputs keep a small slope alpha.

    The small negative slope keeps a gradient flowing through units whose input is negative,
    so they cannot 'die' the way ReLU units can."""
    formula = "LeakyReLU(x) = x if x > 0 else α·x"
    derivative_formula = "LeakyReLU′(x) = 1 if x > 0 else α"
    formulaic = staticmethod(_formulaic.leaky_relu)
    formulaic_derivative = staticmethod(_formulaic.leaky_relu_derivative)
    hyperparameters = {"alpha": "slope for negative inputs (a small positive number, 0.01 by default)"}
    when_to_use = "Instead of ReLU when many units die, or in GAN discriminators."
    pitfalls = "alpha is a fixed choice, not learnt; very large alpha makes the unit almost linear."
    plot_range = (-3.0, 3.0)
    kernel = "leaky_relu"

    alpha = Setting(real_number)

    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def _hyper(self):
        return (self.alpha,)


class _BackwardFromOutput:
    """backward_from_output(y, grad_out): the gradient from the saved output y = forward(x)."""

    def backward_from_output(self, y, grad_out, out=None):
        """grad_out * f'(x) from y = forward(x) instead of x, as PyTorch's autograd does.

        No exponential, so it runs at memory speed. It is exact to a rounding or two for the
        y given, but y is itself rounded: where y is near 1 (sigmoid, x beyond about 2 in
        float32) or near ±1 (tanh, |x| beyond about 2), fewer digits are right than
        backward(x, grad_out) gives.

        >>> import numpy as np, fpkernels as fk
        >>> sigmoid = fk.activations.get("sigmoid")
        >>> x, grad = np.array([-1.0, 0.0, 2.0]), np.ones(3)
        >>> y = sigmoid.forward(x)                      # kept from the forward pass
        >>> sigmoid.backward_from_output(y, grad).round(4)
        array([0.1966, 0.25  , 0.105 ])
        >>> np.allclose(sigmoid.backward_from_output(y, grad), sigmoid.backward(x, grad))
        True
        """
        return _binary(self.kernel + "_backward_from_output", y, grad_out, out, x_name="y")


@register("sigmoid")
class Sigmoid(_BackwardFromOutput, _ElementWise):
    description = """Logistic sigmoid: squashes any real number into (0, 1).

    Reads as a probability, so it is the output activation of binary classifiers. Computed
    from e^-|x| so that it never overflows, even for x = ±inf."""
    formula = "σ(x) = 1 / (1 + e⁻ˣ)"
    derivative_formula = "σ′(x) = σ(x)·(1 − σ(x))"
    formulaic = staticmethod(_formulaic.sigmoid)
    formulaic_derivative = staticmethod(_formulaic.sigmoid_derivative)
    when_to_use = "The output of binary (or multi-label) classifiers; gates in recurrent cells."
    pitfalls = ("Saturates: for |x| > 5 the derivative is below 0.007, so deep stacks of "
                "sigmoids learn slowly (vanishing gradients). Pair it with bce for training.")
    plot_range = (-8.0, 8.0)
    kernel = "sigmoid"


@register("tanh")
class Tanh(_BackwardFromOutput, _ElementWise):
    description = """Hyperbolic tangent: squashes any real number to between −1 and 1, centred on 0.

    A zero-centred sigmoid (tanh(x) = 2σ(2x) − 1), which often makes hidden layers train
    faster than the sigmoid does."""
    formula = "tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ)"
    derivative_formula = "tanh′(x) = 1 − tanh²(x)"
    formulaic = staticmethod(_formulaic.tanh)
    formulaic_derivative = staticmethod(_formulaic.tanh_derivative)
    when_to_use = "Hidden layers of small networks and recurrent cells; outputs in (−1, 1)."
    pitfalls = "Saturates like the sigmoid for |x| > 3: gradients vanish in deep stacks."
    plot_range = (-4.0, 4.0)
    kernel = "tanh"


@register("swish", aliases=("silu",))
class Swish(_ElementWise):
    description = """Swish (SiLU when beta = 1): x times sigmoid(beta·x), which rises smoothly from 0 to 1.

    Like ReLU with the corner rounded: large positive inputs pass almost unchanged, large
    negative ones become about 0. It is slightly below 0 for every negative x, lowest (about
    −0.28) at x ≈ −1.28 for β = 1. It often trains a little better than ReLU in deep
    networks."""
    formula = "swish(x) = x·σ(βx)"
    derivative_formula = "swish′(x) = σ(βx) + βx·σ(βx)·(1 − σ(βx))"
    formulaic = staticmethod(_formulaic.swish)
    formulaic_derivative = staticmethod(_formulaic.swish_derivative)
    hyperparameters = {"beta": "sharpness of the gate: 1 is SiLU, large beta approaches ReLU, 0 gives x/2"}
    when_to_use = "Deep networks where ReLU works but a smooth activation may do a little better."
    pitfalls = "Costs an exponential per element, more than ReLU."
    plot_range = (-5.0, 5.0)
    kernel = "swish"

    beta = Setting(real_number)

    def __init__(self, beta=1.0):
        self.beta = beta

    def _hyper(self):
        return (self.beta,)


@register("gelu")
class GELU(_ElementWise):
    description = """Gaussian error linear unit: x times the chance that a random bell-curve number is below x.

    It lets large positive inputs through almost unchanged and turns large negative inputs
    into about 0, blending smoothly in between; on the way it dips slightly below 0 (lowest
    about −0.17, at x ≈ −0.75). Think of a ReLU with its corner rounded off. This is the
    exact version; gelu_tanh is a cheaper approximation of it."""
    formula = "GELU(x) = x·Φ(x) = ½·x·(1 + erf(x / √2))"
    derivative_formula = ("GELU′(x) = Φ(x) + x·φ(x)   (the product rule on x·Φ(x)),\n"
                          "   with φ(x) = e^(−x²/2) / √(2π)")
    formulaic = staticmethod(_formulaic.gelu)
    formulaic_derivative = staticmethod(_formulaic.gelu_derivative)
    when_to_use = ("Transformers and other deep networks: BERT uses this exact form (GPT-2 used "
                   "the tanh approximation, gelu_tanh). Matches PyTorch's "
                   "gelu(approximate='none').")
    pitfalls = ("Slower than ReLU. Not the same numbers as gelu_tanh: they differ by up to "
                "about 5e-4, so a network trained with one should be run (for inference) "
                "with the same one.")
    plot_range = (-4.0, 4.0)
    kernel = "gelu"


@register("gelu_tanh")
class GELUTanh(_ElementWise):
    description = """GELU, approximated with tanh (the form GPT-2 used): cheaper, within 5e-4 of gelu.

    To the eye the same curve as gelu; it avoids the error function, which is slow on
    hardware without a fast erf."""
    formula = "GELU(x) ≈ ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))"
    derivative_formula = ("GELU′(x) ≈ ½·(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), "
                          "t = tanh(√(2/π)·(x + 0.044715·x³))")
    formulaic = staticmethod(_formulaic.gelu_tanh)
    formulaic_derivative = staticmethod(_formulaic.gelu_tanh_derivative)
    when_to_use = "Reproducing models trained with the tanh form (GPT-2); PyTorch's approximate='tanh'."
    pitfalls = "An approximation: do not mix it with exact gelu between training and inference."
    plot_range = (-4.0, 4.0)
    kernel = "gelu_tanh"


@register("softmax")
class Softmax(Activation):
    description = """Softmax: turns each row of scores into probabilities that sum to 1.

    Works on whole rows (the last axis by default), not element by element. The largest value
    is subtracted first so nothing overflows. A row holding one +inf gives 1 there and 0
    elsewhere; a row with two or more +inf, only -inf, or any NaN has no limit and gives NaN
    (as PyTorch does for those). derivative(x) is the diagonal of each row's Jacobian,
    s·(1 − s); backward(x, g) is the full Jacobian-vector product s·(g − Σ g·s).
    float32 results are within 4 ULP of float64's: x − max rounds in float32 (by up to
    |x − max|·2⁻²⁴, 64 ULP of e^(x − max) in a row spanning 60, as torch.softmax shows), so
    that rounding error is put back. derivative(x) is computed in double, with 1 − s taken
    as the sum of the other entries where s is near 1 (1 − s would round to 0 there)."""
    formula = "softmax(x)ᵢ = e^(xᵢ − max x) / Σⱼ e^(xⱼ − max x)"
    derivative_formula = "∂sᵢ/∂xⱼ = sᵢ·(δᵢⱼ − sⱼ);  backward: sᵢ·(gᵢ − Σⱼ gⱼ·sⱼ)"
    formulaic = staticmethod(_formulaic.softmax)
    formulaic_derivative = staticmethod(_formulaic.softmax_derivative)
    hyperparameters = {"axis": "the axis whose entries sum to 1 (-1, the last axis, by default)"}
    when_to_use = ("The output layer of a multi-class classifier; for training, prefer the fused "
                   "softmax_cross_entropy loss on the logits.")
    pitfalls = ("derivative() is only the Jacobian's diagonal: use backward() for gradients. "
                "softmax followed by log loses precision; use softmax_cross_entropy.")
    plot_range = (-5.0, 5.0)

    elementwise = False
    axis = Setting(integer)

    def __init__(self, axis=-1):
        self.axis = axis

    def _rows(self, x):
        """x with the softmax axis moved last (a view), and that axis's length."""
        if not -max(x.ndim, 1) <= self.axis < max(x.ndim, 1):   # 0-d: axis 0 or -1, as torch
            raise ValueError(f"axis {self.axis} is out of range for an array of shape {x.shape}")
        if x.ndim == 0:
            return x, 1
        if self.axis in (-1, x.ndim - 1):
            return x, x.shape[-1]
        return np.moveaxis(x, self.axis, -1), x.shape[self.axis]

    def _run(self, name, x, grad_out, out, x_name="x"):
        x = as_array(x, x_name)
        arrays = [x]
        if grad_out is not None:
            grad_out = as_array(grad_out, "grad_out")
            if grad_out.shape != x.shape:
                raise ValueError(f"{x_name} has shape {x.shape} but grad_out has shape "
                                 f"{grad_out.shape}; they must be equal")
            arrays.append(grad_out)
        dtype = float_dtype(*arrays)
        out = output(out, x.shape, dtype)
        moved, cols = self._rows(x)
        last = x.ndim == 0 or self.axis in (-1, x.ndim - 1)
        target = out if last else np.empty(moved.shape, dtype)
        xr = apart(contiguous(moved, dtype), target)
        rows = xr.size // cols if cols else 0
        fn = kernel("softmax_" + name, dtype)
        if grad_out is None:
            check(fn(ptr(xr), ptr(target), rows, cols), "softmax")
        else:
            gr = apart(contiguous(self._rows(grad_out)[0], dtype), target)
            check(fn(ptr(xr), ptr(gr), ptr(target), rows, cols), "softmax")
        if not last:
            np.copyto(out, np.moveaxis(target, -1, self.axis))
        return out

    def forward(self, x, out=None):
        """Softmax along `axis`; a new array or `out` (which may be x)."""
        return self._run("forward", x, None, out)

    def derivative(self, x, out=None):
        """s·(1 − s): the diagonal of each row's Jacobian (use backward for gradients)."""
        return self._run("derivative", x, None, out)

    def backward(self, x, grad_out, out=None):
        """The Jacobian-vector product s·(g − Σ g·s) along `axis`, with s = softmax(x)."""
        return self._run("backward", x, grad_out, out)

    def backward_from_output(self, y, grad_out, out=None):
        """The same product y·(g − Σ g·y) from the saved output y = forward(x) (entries in
        [0, 1]), as PyTorch's autograd does: no exponentials, so it runs at memory speed."""
        return self._run("backward_from_output", y, grad_out, out, x_name="y")

    def __call__(self, x, out=None):
        return self.forward(x, out=out)

    def __repr__(self):
        return f"Softmax(axis={self.axis})"
