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

Finite data whose statistics overflow the dtype raise OverflowError rather than give inf, NaN
or 0: a max - min or a distance from the mean beyond the largest float, or, for zscore in
float64, a spread beyond about 1e154 (the sum of squares overflows, as in NumPy). So does an
inverse whose result does not fit. `out=` may be any of the inputs, or overlap them.
"""
import math
import operator
from numbers import Real

import numpy as np

from ._core import apart, as_array, check, contiguous, ffi, flag, float_dtype, kernel, output

__all__ = ["zscore", "zscore_inverse", "minmax", "minmax_inverse"]

_ARRAY = {np.dtype(np.float32): "float[]", np.dtype(np.float64): "double[]"}
_AxisError = getattr(np, "exceptions", np).AxisError


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


def _check_fits(what, x, axis, *stats):
    """OverflowError if a slice of finite data got a non-finite statistic (rare: looked at
    only when some statistic is not finite)."""
    finite_stats = np.logical_and.reduce([np.isfinite(s) for s in stats])
    if not finite_stats.all() and (np.isfinite(x).all(axis=axis, keepdims=True)
                                   & ~finite_stats).any():
        raise OverflowError(f"{what}: the statistics of x overflow {x.dtype} (its values are "
                            "too far apart); scale x down"
                            + (" or convert it to float64" if x.dtype == np.float32 else ""))


def _inverse(what, out, inputs, steps):
    """out = the result of steps(target), NumPy steps in float64 (float32's intermediate
    products may pass its range where the result does not), written to out itself only when
    out is float64 and overlaps no input. OverflowError if the result does not fit."""
    direct = out.dtype == np.float64 and not any(np.may_share_memory(a, out) for a in inputs)
    target = out if direct else np.empty(out.shape, np.float64)
    try:
        with np.errstate(over="raise"):
            steps(target)
            if target is not out:
                out[...] = target
    except FloatingPointError:
        raise OverflowError(f"{what}: the result overflows {out.dtype}") from None
    return out


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
    flag("return_stats", return_stats)
    x, dtype, outer, n, inner, stats_shape = _prepare(x, axis, "zscore")
    out = output(out, x.shape, dtype)
    x = apart(x, out)
    mean = np.empty(stats_shape, dtype)
    std = np.empty(stats_shape, dtype)
    if x.size:
        check(kernel("mean_std", dtype)(outer, n, inner, _ptr(x), _ptr(mean), _ptr(std)),
              "zscore")
        # |x - mean| must fit too. It is at most std sqrt(n - 1); where that bound is not
        # finite, it is measured (rare; with an inf in x, inf - inf is NaN there, as the mean)
        with np.errstate(over="ignore", invalid="ignore"):
            distance = std * dtype.type(math.sqrt(max(n - 1, 1)))
            if not np.isfinite(distance).all():
                distance = np.abs(x - mean.astype(np.float64)).max(axis=axis, keepdims=True)
            _check_fits("zscore", x, axis, mean, std, distance.astype(dtype))
        check(kernel("zscore_apply", dtype)(outer, n, inner, _ptr(x), _ptr(mean), _ptr(std),
                                            _ptr(out)), "zscore")
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
    out = output(out, shape, dtype)

    def steps(target):
        np.multiply(z, std, out=target, dtype=np.float64)
        np.add(target, mean, out=target, dtype=np.float64)
    return _inverse("zscore_inverse", out, (z, mean, std), steps)


def _feature_range(feature_range, dtype):
    """(low, high) as `dtype` holds them: finite there, low < high, high - low finite."""
    try:
        low, high = feature_range
    except (TypeError, ValueError):
        raise ValueError(f"feature_range must be a pair (low, high), not {feature_range!r}") \
            from None
    for v in (low, high):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, Real) or not math.isfinite(v):
            raise ValueError(f"feature_range must hold finite numbers, not {feature_range!r}")
    with np.errstate(over="ignore"):
        low, high = dtype.type(low), dtype.type(high)
        width = high - low
    if not np.isfinite(width):                  # (then low and high are finite too)
        raise ValueError(f"feature_range {feature_range!r} is too wide for {dtype}")
    if not low < high:
        raise ValueError(f"feature_range needs low < high (in {dtype}), got {feature_range!r}")
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
    flag("return_stats", return_stats)
    x, dtype, outer, n, inner, stats_shape = _prepare(x, axis, "minmax")
    low, high = _feature_range(feature_range, dtype)
    out = output(out, x.shape, dtype)
    x = apart(x, out)
    data_min = np.empty(stats_shape, dtype)
    data_max = np.empty(stats_shape, dtype)
    if x.size:
        check(kernel("min_max", dtype)(outer, n, inner, _ptr(x), _ptr(data_min), _ptr(data_max)),
              "minmax")
        with np.errstate(over="ignore", invalid="ignore"):
            _check_fits("minmax", x, axis, data_max - data_min)
        check(kernel("minmax_apply", dtype)(outer, n, inner, _ptr(x), _ptr(data_min),
                                            _ptr(data_max), low, high, _ptr(out)), "minmax")
    return (out, data_min, data_max) if return_stats else out


def minmax_inverse(y, data_min, data_max, feature_range=(0, 1), *, out=None):
    """Undo minmax: (y - low) / (high - low) * (data_max - data_min) + data_min.

    >>> import fpkernels as fk
    >>> y, lo, hi = fk.minmax([3.0, 5.0, 11.0], return_stats=True)
    >>> fk.minmax_inverse(y, lo, hi)
    array([ 3.,  5., 11.])
    """
    y, data_min, data_max = (as_array(a, name) for a, name in
                             ((y, "y"), (data_min, "data_min"), (data_max, "data_max")))
    dtype = float_dtype(y, data_min, data_max)
    low, high = _feature_range(feature_range, dtype)
    try:
        shape = np.broadcast_shapes(y.shape, data_min.shape, data_max.shape)
    except ValueError:
        raise ValueError(f"y has shape {y.shape}, data_min {data_min.shape} and data_max "
                         f"{data_max.shape}: they do not broadcast together") from None
    out = output(out, shape, dtype)

    def steps(target):
        span = np.subtract(data_max, data_min, dtype=np.float64)
        np.subtract(y, low, out=target, dtype=np.float64)
        np.divide(target, high - low, out=target)
        np.multiply(target, span, out=target)
        np.add(target, data_min, out=target, dtype=np.float64)
    return _inverse("minmax_inverse", out, (y, data_min, data_max), steps)
