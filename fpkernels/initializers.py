"""The initializers of fpkernels and their registry (`get`, `names`, `info`, `register`)."""
from .registry import Registry

registry = Registry("initializers")
get, names, info, register = registry.get, registry.names, registry.info, registry.register

# ---- built-in initializers: counter-based random numbers in C (csrc/random.c) ----
#
#     w = fpkernels.initializers.get("xavier_uniform")((128, 784), rng=0)
#
# rng: an int seed (0 <= seed < 2**64), a numpy.random.Generator (one 64-bit seed is drawn from
# it, advancing it), or None (a fresh seed from the operating system's entropy). The numbers
# come from Philox4x32-10: element i depends only on (seed, i), so a seed gives the same array
# on every run, machine and thread count (the stream layout is in csrc/fpkernels.h).
#
# Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
# fan_out = out * prod(kernel). A shape with fewer than 2 dimensions has no fans: xavier and he
# raise ValueError for it (as torch.nn.init does); use zeros or uniform for biases.
#
# Settings are checked when the initializer is made (low <= high, both finite; gain finite and
# >= 0, where 0 gives all zeros as in torch); a call whose values could overflow the dtype asked
# for (uniform(low=-1e308, high=1e308) as float32) raises ValueError naming the settings and
# the dtype. zeros checks rng like the others, though it draws nothing from it.
import math as _math
from numbers import Integral as _Integral

import numpy as _np

from . import interfaces as _interfaces
from ._core import (FLOAT32 as _F32, FLOAT64 as _F64, check as _check, ffi as _ffi, lib as _lib,
                    real_number as _real_number)
from .formulaic import training as _reference

_ARRAY = {_F32: "float[]", _F64: "double[]"}
_SUFFIX = {_F32: "f32", _F64: "f64"}


def _check_rng(rng):
    """TypeError/ValueError unless `rng` is None, an int seed in [0, 2**64) or a numpy
    Generator (nothing is drawn from it)."""
    if rng is None or isinstance(rng, _np.random.Generator):
        return
    if isinstance(rng, (bool, _np.bool_)) or not isinstance(rng, _Integral):
        raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, "
                        f"not {type(rng).__name__}")
    if not 0 <= int(rng) < 2**64:
        raise ValueError(f"a seed must be in [0, 2**64), not {rng}")


def seed_from(rng):
    """The 64-bit seed an initializer uses for `rng` (None, an int, or a numpy Generator)."""
    _check_rng(rng)
    if rng is None:
        return int(_np.random.SeedSequence().generate_state(1, _np.uint64)[0])
    if isinstance(rng, _np.random.Generator):
        return int(rng.integers(0, 2**64, dtype=_np.uint64))
    return int(rng)


def _shape(shape):
    if isinstance(shape, _Integral) and not isinstance(shape, (bool, _np.bool_)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a sequence of ints, not {shape!r}") from None
    for d in dims:
        if isinstance(d, (bool, _np.bool_)) or not isinstance(d, _Integral):
            raise TypeError(f"shape must hold ints, not {d!r} (in {shape!r})")
        if d < 0:
            raise ValueError(f"shape cannot have negative sizes: {dims}")
    return tuple(int(d) for d in dims)


def _dtype(dtype):
    """(the dtype asked for, the dtype the C kernel fills)."""
    dtype = _np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"initializers make floating-point arrays, not {dtype}")
    return dtype, (_F32 if dtype.itemsize <= 4 else _F64)


# Box-Muller's draws stay within about 6.7 (float32) and 8.6 (float64) standard deviations.
_NORMAL_REACH = 9.0


def _fill(kind, shape, rng, dtype, a, b, settings):
    """A new array of `shape` filled by fpk_random_<kind> with parameters (a, b): (low, high)
    or (mean, std). ValueError naming `settings` (the arguments that gave a and b) if the
    values could overflow the dtype asked for (checked before rng is drawn from)."""
    shape = _shape(shape)
    wanted, computed = _dtype(dtype)
    reach = max(abs(a), abs(b)) if kind == "uniform" else abs(a) + _NORMAL_REACH * b
    largest = float(_np.finfo(wanted).max)
    if not reach <= largest:
        raise ValueError(f"{settings} gives values up to {reach:.3g}, which do not fit "
                         f"{wanted} (largest {largest:.3g}); use a smaller range or a wider "
                         "dtype")
    seed = seed_from(rng)
    out = _np.empty(shape, computed)
    if out.size:
        _check(getattr(_lib, f"fpk_random_{kind}_{_SUFFIX[computed]}")(
            out.size, _ffi.from_buffer(_ARRAY[computed], out), seed, 0, a, b), kind)
    return out if wanted == computed else out.astype(wanted)


def _fans(shape):
    shape = _shape(shape)
    return _reference.fans(shape)


_RNG_HELP = ("rng: None (fresh entropy), an int seed, or a numpy.random.Generator; "
             "dtype: float32 (default) or float64")


@register("zeros")
class Zeros(_interfaces.Initializer):
    """All zeros (the usual bias initializer). rng is checked as the others check it (so a
    mistake shows up here too), but nothing is drawn from it.

    >>> import fpkernels as fk
    >>> fk.initializers.get("zeros")((2, 3))
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """

    description = ("All zeros: right for biases; for weights, every neuron would learn the same thing.\nRight for biases. Wrong for weights: every unit of a layer would "
                   "compute the same output and receive the same gradient, so it fails to break "
                   "the symmetry between units and they never learn different features.")
    formula = "w = 0"
    formulaic = staticmethod(_reference.zeros)
    hyperparameters = {}
    when_to_use = "Biases (bias_init='zeros')."
    pitfalls = "Never for weights: it fails to break symmetry, so all units stay identical."

    def __call__(self, shape, rng=None, dtype=_np.float32):
        shape = _shape(shape)
        wanted, _ = _dtype(dtype)
        _check_rng(rng)
        return _np.zeros(shape, wanted)


@register("uniform")
class Uniform(_interfaces.Initializer):
    """U(low, high) for every element, whatever the shape.

    >>> import fpkernels as fk
    >>> w = fk.initializers.get("uniform", low=-1.0, high=1.0)((2, 2), rng=0)
    >>> bool(((-1 <= w) & (w <= 1)).all())
    True
    """

    description = ("Every weight drawn uniformly between low and high.\nIt breaks symmetry, but its "
                   "scale ignores the layer's size, so deep or wide layers may saturate or "
                   "vanish.")
    formula = "w ~ U(low, high)"
    formulaic = staticmethod(_reference.uniform)
    hyperparameters = {"low": "smallest value (finite)",
                       "high": "largest value (finite, >= low; low = high gives a constant)"}
    when_to_use = "Small shallow networks, or when you want a fixed, known range."
    pitfalls = "The right range depends on the layer's fan: prefer xavier or he for deep nets."

    low, high = _interfaces.Setting(_real_number), _interfaces.Setting(_real_number)

    def __init__(self, low=-0.5, high=0.5):
        self.low, self.high = low, high
        self._check_order()

    def _check_order(self):
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")

    def __call__(self, shape, rng=None, dtype=_np.float32):
        self._check_order()                  # low and high may have been set one at a time
        return _fill("uniform", shape, rng, dtype, self.low, self.high,
                     f"uniform(low={self.low!r}, high={self.high!r})")


_GAIN = _interfaces.Setting(lambda name, value: _real_number(name, value, low=0.0))


@register("xavier_uniform", aliases=("xavier", "glorot", "glorot_uniform"))
class XavierUniform(_interfaces.Initializer):
    """Glorot/Xavier uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).

    >>> import fpkernels as fk
    >>> fk.initializers.get("xavier")((128, 784), rng=0).shape
    (128, 784)
    """

    description = ("Xavier (Glorot) uniform: weights spread evenly between −b and b, b = √(6 / (fan_in + fan_out)).\nIt keeps the variance of activations and of gradients "
                   "about the same from layer to layer, for tanh and sigmoid units. Variance "
                   "gain² · 2 / (fan_in + fan_out).")
    formula = "w ~ U(−b, b),  b = gain·√(6 / (fan_in + fan_out))"
    aliases = ("xavier", "glorot", "glorot_uniform")
    formulaic = staticmethod(_reference.xavier_uniform)
    hyperparameters = {"gain": "scale factor, finite and >= 0 (1 for tanh/sigmoid/linear; "
                               "0 gives all zeros)"}
    when_to_use = "Layers followed by tanh, sigmoid, softmax or nothing; also swish in practice."
    pitfalls = "Under-scales ReLU layers (half the units are off): use he_uniform/he_normal."

    gain = _GAIN

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, rng=None, dtype=_np.float32):
        fan_in, fan_out = _fans(shape)
        bound = self.gain * _math.sqrt(6.0 / max(fan_in + fan_out, 1))
        return _fill("uniform", shape, rng, dtype, -bound, bound,
                     f"xavier_uniform(gain={self.gain!r}) for shape {_shape(shape)}")


@register("xavier_normal", aliases=("glorot_normal",))
class XavierNormal(_interfaces.Initializer):
    """Glorot/Xavier normal: N(0, std²), std = gain * sqrt(2 / (fan_in + fan_out))."""

    description = ("Xavier (Glorot) normal: bell-curve weights with variance 2/(fan_in + fan_out).\nThe same variance as xavier_uniform, "
                   "gain² · 2 / (fan_in + fan_out), from a normal distribution.")
    formula = "w ~ N(0, σ²),  σ = gain·√(2 / (fan_in + fan_out))"
    aliases = ("glorot_normal",)
    formulaic = staticmethod(_reference.xavier_normal)
    hyperparameters = {"gain": "scale factor, finite and >= 0 (1 for tanh/sigmoid/linear; "
                               "0 gives all zeros)"}
    when_to_use = "As xavier_uniform, when you prefer a bell-shaped spread."
    pitfalls = "Under-scales ReLU layers: use he_normal."

    gain = _GAIN

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, rng=None, dtype=_np.float32):
        fan_in, fan_out = _fans(shape)
        std = self.gain * _math.sqrt(2.0 / max(fan_in + fan_out, 1))
        return _fill("normal", shape, rng, dtype, 0.0, std,
                     f"xavier_normal(gain={self.gain!r}) for shape {_shape(shape)}")


@register("he_normal", aliases=("he", "kaiming", "kaiming_normal"))
class HeNormal(_interfaces.Initializer):
    """He/Kaiming normal: N(0, 2 / fan_in), for ReLU layers."""

    description = ("He (Kaiming) normal: bell-curve weights with variance 2/fan_in, for ReLU layers.\nVariance 2 / fan_in keeps the activations' "
                   "variance steady through ReLU layers (a ReLU zeroes half its inputs).")
    formula = "w ~ N(0, σ²),  σ = √(2 / fan_in)"
    aliases = ("he", "kaiming", "kaiming_normal")
    formulaic = staticmethod(_reference.he_normal)
    hyperparameters = {}
    when_to_use = "Layers followed by ReLU, leaky ReLU, GELU or swish in deep networks."
    pitfalls = "Too large for tanh/sigmoid layers (they saturate): use xavier there."

    def __call__(self, shape, rng=None, dtype=_np.float32):
        fan_in, _ = _fans(shape)
        return _fill("normal", shape, rng, dtype, 0.0, _math.sqrt(2.0 / max(fan_in, 1)),
                     "he_normal")


@register("he_uniform", aliases=("kaiming_uniform",))
class HeUniform(_interfaces.Initializer):
    """He/Kaiming uniform: U(-b, b), b = sqrt(6 / fan_in) (variance 2 / fan_in)."""

    description = ("He (Kaiming) uniform: weights spread evenly between −b and b, b = √(6 / fan_in), for ReLU layers.\nThe He variance "
                   "2 / fan_in from a uniform distribution, for ReLU layers.")
    formula = "w ~ U(−b, b),  b = √(6 / fan_in)"
    aliases = ("kaiming_uniform",)
    formulaic = staticmethod(_reference.he_uniform)
    hyperparameters = {}
    when_to_use = "As he_normal, with bounded values."
    pitfalls = "Too large for tanh/sigmoid layers: use xavier there."

    def __call__(self, shape, rng=None, dtype=_np.float32):
        fan_in, _ = _fans(shape)
        bound = _math.sqrt(6.0 / max(fan_in, 1))
        return _fill("uniform", shape, rng, dtype, -bound, bound, "he_uniform")
