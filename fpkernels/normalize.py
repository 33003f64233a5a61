"""Normalisation: z-score standardisation and min-max scaling, with their inverses.

Both work on the whole array (axis=None) or along one axis (each slice x[..., :, ...] along
`axis` gets its own statistics: axis=0 on a (samples, features) table scales each feature).
The statistics can be returned (return_stats=True) to undo the scaling later or to apply the
same scaling to new data. They come back with the reduced axes kept as length 1 (numpy's
keepdims), so they broadcast against the data directly.

Constant data never gives NaN:
  - zscore: where std == 0 (a constant slice, or a single element, whose sample std is taken as
    0) the result is 0, as scikit-learn's StandardScaler does;
  - minmax: where max == min the result is feature_range's low end, as scikit-learn's
    MinMaxScaler does.
NaN in a slice makes that slice's statistics and results NaN.

Finite data near the float range limit (a spread, std or feature_range wider than the largest
float) still gives the right result: those slices are computed on data scaled down by a power
of two. Where a result itself does not fit the dtype (the std of float32 data beyond float32's
range, asked for with return_stats=True; an inverse beyond the range; a feature_range end beyond
float32), the call raises OverflowError rather than returning inf, NaN or 0.

`out=` may be any of the inputs, or overlap them: inputs are read as if before out is written.
"""
import math
import operator
from numbers import Real

import numpy as np

from ._core import (apart, as_array, check, contiguous, ffi, float_dtype, kernel, output)

__all__ = ["zscore", "zscore_inverse", "minmax", "minmax_inverse"]

_ARRAY = {np.dtype(np.float32): "float[]", np.dtype(np.float64): "double[]"}
_AxisError = getattr(np, "exceptions", np).AxisError
_LARGEST = {dtype: float(np.finfo(dtype).max) for dtype in _ARRAY}


def _layout(shape, axis):
    """(outer, len, inner, stats shape) of normalising `shape` along `axis` (None: all)."""
    if axis is None:
        size = math.prod(shape)
        return 1, size, 1, (1,) * len(shape)
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError("axis must be an int or None, not a bool")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an int or None, not {type(axis).__name__}") from None
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise _AxisError(axis, ndim)
    axis %= ndim
    outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    stats_shape = tuple(1 if d == axis else n for d, n in enumerate(shape))
    return outer, shape[axis], inner, stats_shape


def _ptr(array):
    return ffi.from_buffer(_ARRAY[array.dtype], array)


def _spread_fits(data_min, data_max):
    """Whether every max - min is finite in the dtype, cheaply (NaN answers False too)."""
    limit = _LARGEST[data_min.dtype]
    if data_min.size == 1:                    # a double subtraction; float32 rarely says False
        return data_max.item() - data_min.item() <= limit
    with np.errstate(over="ignore", invalid="ignore"):
        return bool((data_max - data_min <= limit).all())


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__} ({value!r})")


def _scaled_down(x, axis, overflowed):
    """(x * scale, scale): scale, per slice, is the power of two that brings the slices where
    `overflowed` (stats shape) into [-1, 1], and 1 elsewhere. Exact, but for subnormal bits far
    below such a slice's spread, so the scaled slice normalises to the same values."""
    largest = np.abs(x).max(axis=axis, keepdims=True)
    scale = np.where(overflowed, np.ldexp(x.dtype.type(1), -np.frexp(largest)[1]), 1)
    scale = scale.astype(x.dtype)
    return x * scale, scale


def _unusual(mean, std):
    """False for the common case: every std finite and above rounding noise of its mean (checked
    cheaply, as Python floats for one slice), so no slice needs _zero_constant_std or
    rescaling."""
    if mean.size == 1:
        return not abs(mean.item()) * 2.0**-20 < std.item() < math.inf
    return not ((np.abs(mean) * 2.0**-20 < std) & (std < math.inf)).all()


def _zero_constant_std(x, outer, n, inner, mean, std):
    """Set std (and mean) exactly for constant slices, in place. The kernel's mean of a
    constant slice can be off by a rounding (3 * 0.1 / 3 != 0.1), leaving a std of rounding
    noise that would turn the zeros into +-0.8; a std that small relative to the mean is
    checked against the slice's min and max."""
    suspect = (std != 0) & (std <= np.abs(mean) * 2.0**-20)
    if suspect.any():
        low, high = np.empty_like(mean), np.empty_like(mean)
        check(kernel("min_max", x.dtype)(outer, n, inner, _ptr(x), _ptr(low), _ptr(high)),
              "zscore")
        constant = low == high
        std[constant] = 0
        mean[constant] = low[constant]


def _target(out, shape, dtype, *inputs):
    """(out, where an inverse writes): a new array, or the validated `out` itself unless it
    shares memory with an input (several NumPy steps write it and read the inputs after)."""
    if out is None:
        out = np.empty(shape, dtype)
        return out, out
    out = output(out, shape, dtype)
    if any(np.may_share_memory(a, out) for a in inputs):
        return out, np.empty_like(out)
    return out, out


def _prepare(x, axis, what):
    x = as_array(x, "x")
    dtype = float_dtype(x)
    x = contiguous(x, dtype)
    if not x.flags.aligned:                 # C needs aligned floats: copy a misaligned view
        x = x.copy()
    outer, n, inner, stats_shape = _layout(x.shape, axis)
    if n == 0 and (axis is None or outer * inner > 0):
        raise ValueError(f"{what} of an empty {'array' if axis is None else 'axis'} "
                         f"(shape {x.shape}, axis={axis}) has no statistics")
    return x, dtype, outer, n, inner, stats_shape


def zscore(x, axis=None, *, return_stats=False, out=None):
    """(x - mean) / std with the sample standard deviation (n - 1), over all of x or along axis.

    A slice with std == 0 (constant, or a single element) becomes 0. return_stats=True also
    returns (mean, std), shaped to broadcast against x, for zscore_inverse.

    >>> import fpkernels as fk
    >>> fk.zscore([1.0, 2.0, 3.0])
    array([-1.,  0.,  1.])
    >>> z, mean, std = fk.zscore([[1.0, 10.0], [3.0, 10.0]], axis=0, return_stats=True)
    >>> z, mean, std
    (array([[-0.70710678,  0.        ],
           [ 0.70710678,  0.        ]]), array([[ 2., 10.]]), array([[1.41421356, 0.        ]]))
    """
    _check_flag(return_stats, "return_stats")
    x, dtype, outer, n, inner, stats_shape = _prepare(x, axis, "zscore")
    out = output(out, x.shape, dtype)
    x = apart(x, out)
    mean = np.empty(stats_shape, dtype)
    std = np.empty(stats_shape, dtype)
    if x.size:
        mean_std = kernel("mean_std", dtype)
        check(mean_std(outer, n, inner, _ptr(x), _ptr(mean), _ptr(std)), "zscore")
        scale = None
        if _unusual(mean, std) and not (np.isfinite(mean).all() and np.isfinite(std).all()):
            # inf or NaN statistics of finite data overflowed (sums, squares, or a std beyond
            # the dtype): recompute on x scaled down in those slices, scale the stats back.
            overflowed = (np.isfinite(x).all(axis=axis, keepdims=True)
                          & ~(np.isfinite(mean) & np.isfinite(std)))
            if overflowed.any():
                x, scale = _scaled_down(x, axis, overflowed)
                check(mean_std(outer, n, inner, _ptr(x), _ptr(mean), _ptr(std)), "zscore")
        if _unusual(mean, std):
            _zero_constant_std(x, outer, n, inner, mean, std)
        if scale is None:
            stats = mean, std
        else:
            with np.errstate(over="ignore"):
                stats = mean / scale, std / scale
            if return_stats and not np.isfinite(stats[1][overflowed]).all():
                hint = "convert x to float64, or " if dtype == np.float32 else ""
                raise OverflowError(
                    f"zscore: the standard deviation of x (dtype {dtype}, axis={axis}) is beyond "
                    f"{dtype}'s range, so return_stats=True cannot return it ({hint}call "
                    "without return_stats)")
        check(kernel("zscore_apply", dtype)(outer, n, inner, _ptr(x), _ptr(mean), _ptr(std),
                                            _ptr(out)), "zscore")
        mean, std = stats
    return (out, mean, std) if return_stats else out


def zscore_inverse(z, mean, std, *, out=None):
    """Undo zscore: z * std + mean (mean and std as zscore(..., return_stats=True) gave them).

    >>> import fpkernels as fk
    >>> z, mean, std = fk.zscore([2.0, 4.0, 9.0], return_stats=True)
    >>> fk.zscore_inverse(z, mean, std)
    array([2., 4., 9.])
    """
    z, mean, std = (as_array(a, name) for a, name in ((z, "z"), (mean, "mean"), (std, "std")))
    dtype = float_dtype(z, mean, std)
    try:
        shape = np.broadcast_shapes(z.shape, mean.shape, std.shape)
    except ValueError:
        raise ValueError(f"z has shape {z.shape}, mean {mean.shape} and std {std.shape}: "
                         "they do not broadcast together") from None
    out, target = _target(out, shape, dtype, z, mean, std)
    try:
        with np.errstate(over="raise"):
            np.multiply(z, std, out=target, dtype=dtype, casting="unsafe")
            np.add(target, mean, out=target, dtype=dtype, casting="unsafe")
    except FloatingPointError:
        # z * std overflowed: the same sum in halves, doubled at the end
        def in_halves():
            np.multiply(z, _half(std, dtype), out=target, dtype=dtype, casting="unsafe")
            np.add(target, _half(mean, dtype), out=target)
            np.multiply(target, 2, out=target)
        _in_halves("zscore_inverse", dtype, in_halves)
    if target is not out:
        out[...] = target
    return out


def _half(a, dtype):
    return np.multiply(a, 0.5, dtype=dtype, casting="unsafe")


def _in_halves(what, dtype, compute):
    """Run `compute` (NumPy steps on halved operands) and turn an overflow, which means the
    result itself does not fit, into OverflowError."""
    try:
        with np.errstate(over="raise"):
            compute()
    except FloatingPointError:
        raise OverflowError(f"{what}: the result overflows {dtype}") from None


_FLOAT32_LIMIT = float(np.finfo(np.float32).max) + 2.0**103   # the doubles float32 rounds to inf


def _range_in(dtype, low, high, feature_range):
    """feature_range's ends as `dtype` holds them (Python floats), and whether high - low
    overflows there."""
    if dtype == np.float32:
        if not (abs(low) < _FLOAT32_LIMIT and abs(high) < _FLOAT32_LIMIT):
            raise OverflowError(f"feature_range {feature_range!r} does not fit in float32")
        low, high = float(np.float32(low)), float(np.float32(high))
        if not low < high:
            raise ValueError(f"feature_range {feature_range!r} has low == high in float32")
        return low, high, high - low >= _FLOAT32_LIMIT
    return low, high, not math.isfinite(high - low)


def _feature_range(feature_range):
    try:
        low, high = feature_range
    except (TypeError, ValueError):
        raise ValueError(f"feature_range must be a pair (low, high), not {feature_range!r}") \
            from None
    for v in (low, high):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, Real) or not math.isfinite(v):
            raise ValueError(f"feature_range must hold finite numbers, not {feature_range!r}")
    if not low < high:
        raise ValueError(f"feature_range needs low < high, got {feature_range!r}")
    return float(low), float(high)


def minmax(x, axis=None, feature_range=(0, 1), *, return_stats=False, out=None):
    """Rescale x linearly so its minimum maps to feature_range[0] and its maximum to [1].

    Over all of x, or per slice along axis. A constant slice (max == min) maps to
    feature_range[0]. return_stats=True also returns (data_min, data_max), shaped to broadcast
    against x, for minmax_inverse.

    >>> import fpkernels as fk
    >>> fk.minmax([2.0, 4.0, 6.0])
    array([0. , 0.5, 1. ])
    >>> fk.minmax([0.0, 255.0], feature_range=(-1, 1))
    array([-1.,  1.])
    """
    _check_flag(return_stats, "return_stats")
    low, high = _feature_range(feature_range)
    x, dtype, outer, n, inner, stats_shape = _prepare(x, axis, "minmax")
    low, high, wide = _range_in(dtype, low, high, feature_range)
    out = output(out, x.shape, dtype)
    x = apart(x, out)
    data_min = np.empty(stats_shape, dtype)
    data_max = np.empty(stats_shape, dtype)
    if x.size:
        check(kernel("min_max", dtype)(outer, n, inner, _ptr(x), _ptr(data_min), _ptr(data_max)),
              "minmax")
        applied = x, data_min, data_max
        if not _spread_fits(data_min, data_max):
            # a spread beyond the dtype (finite min and max): those slices are scaled down
            with np.errstate(over="ignore", invalid="ignore"):
                spread = data_max - data_min                  # as the kernel computes it
            overflowed = np.isfinite(data_min) & np.isfinite(data_max) & ~np.isfinite(spread)
            if overflowed.any():
                scaled, scale = _scaled_down(x, axis, overflowed)
                applied = scaled, data_min * scale, data_max * scale
        if wide:   # high - low overflows: map to (low/2, high/2), then double
            check(kernel("minmax_apply", dtype)(outer, n, inner, *map(_ptr, applied), low / 2,
                                                high / 2, _ptr(out)), "minmax")
            with np.errstate(over="ignore"):
                np.multiply(out, 2, out=out)
            np.clip(out, low, high, out=out)                  # rounding may pass high
        else:
            check(kernel("minmax_apply", dtype)(outer, n, inner, *map(_ptr, applied), low, high,
                                                _ptr(out)), "minmax")
    return (out, data_min, data_max) if return_stats else out


def minmax_inverse(y, data_min, data_max, feature_range=(0, 1), *, out=None):
    """Undo minmax: (y - low) / (high - low) * (data_max - data_min) + data_min.

    >>> import fpkernels as fk
    >>> y, lo, hi = fk.minmax([3.0, 5.0, 11.0], return_stats=True)
    >>> fk.minmax_inverse(y, lo, hi)
    array([ 3.,  5., 11.])
    """
    low, high = _feature_range(feature_range)
    y, data_min, data_max = (as_array(a, name) for a, name in
                             ((y, "y"), (data_min, "data_min"), (data_max, "data_max")))
    dtype = float_dtype(y, data_min, data_max)
    try:
        shape = np.broadcast_shapes(y.shape, data_min.shape, data_max.shape)
    except ValueError:
        raise ValueError(f"y has shape {y.shape}, data_min {data_min.shape} and data_max "
                         f"{data_max.shape}: they do not broadcast together") from None
    low, high, wide = _range_in(dtype, low, high, feature_range)
    out, target = _target(out, shape, dtype, y, data_min, data_max)
    overflowed = wide
    if not wide:
        try:
            with np.errstate(over="raise"):
                span = np.subtract(data_max, data_min, dtype=dtype, casting="unsafe")
                np.subtract(y, low, out=target, dtype=dtype, casting="unsafe")
                np.divide(target, high - low, out=target)
                np.multiply(target, span, out=target)
                np.add(target, data_min, out=target, dtype=dtype, casting="unsafe")
        except FloatingPointError:
            overflowed = True
    if overflowed:
        # a width, spread or step beyond the dtype: the same in halves, doubled at the end
        def in_halves():
            half_min = _half(data_min, dtype)
            np.subtract(_half(y, dtype), low / 2, out=target)
            np.divide(target, dtype.type(high / 2) - dtype.type(low / 2), out=target)
            np.multiply(target, _half(data_max, dtype) - half_min, out=target)
            np.add(target, half_min, out=target)
            np.multiply(target, 2, out=target)
        _in_halves("minmax_inverse", dtype, in_halves)
    if target is not out:
        out[...] = target
    return out
