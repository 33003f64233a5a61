"""The binding layer: validate and convert NumPy inputs, call a C kernel, turn its status into
an exception. Every public function of fpkernels goes through these few helpers.

The pattern of a wrapper, from top to bottom:

    x = as_array(x, "x")                      # anything numpy.asarray takes; TypeError for complex/object/str
    dtype = float_dtype(x)                    # float32 or float64, by NumPy's promotion rules
    x = contiguous(x, dtype)                  # C-contiguous copy only when needed
    out = output(out, x.shape, dtype)         # validated out= or a new array
    check(kernel("relu", dtype)(ptr(x), ptr(out), x.size))
"""
import math
from numbers import Integral, Real

import numpy as np

from ._fpkernels import ffi, lib

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)
_C_ARRAYS = {FLOAT32: ffi.typeof("float[]"), FLOAT64: ffi.typeof("double[]")}
_SUFFIXES = {FLOAT32: "f32", FLOAT64: "f64"}

# The helpers run on every call, where a small call's time goes: each attribute read of an
# ndarray costs ~15 ns (x.flags builds a new object each time), so they read each one once.
_OK = lib.FPK_OK
_ndarray = np.ndarray
_from_buffer = ffi.from_buffer

_ERRORS = {
    lib.FPK_ERR_NULL: ValueError,
    lib.FPK_ERR_SHAPE: ValueError,
    lib.FPK_ERR_VALUE: ValueError,
    lib.FPK_ERR_EMPTY: ValueError,
    lib.FPK_ERR_NOMEM: MemoryError,
    lib.FPK_ERR_OVERFLOW: OverflowError,
}


def check(status, what=""):
    """Raise the exception that a C status code stands for (FPK_OK returns quietly)."""
    if status != _OK:
        message = ffi.string(lib.fpk_status_string(status)).decode()
        raise _ERRORS.get(status, RuntimeError)(f"{what}: {message}" if what else message)


def as_array(x, name="x"):
    """`x` as a NumPy array of a real dtype; TypeError naming the dtype otherwise."""
    if type(x) is _ndarray:
        array = x
    elif isinstance(x, np.ma.MaskedArray):          # asarray would drop the mask silently
        raise TypeError(f"{name} is a masked array; fpkernels has no masks: pass "
                        f"{name}.filled(value) or {name}.compressed()")
    else:
        array = np.asarray(x)
    dtype = array.dtype
    if dtype is not FLOAT32 and dtype is not FLOAT64 and dtype.kind not in "fiub":
        raise TypeError(f"{name} has dtype {array.dtype}; fpkernels computes on real numbers "
                        "(float32, float64, or integers and bools, which promote to float64)")
    return array


def check_disjoint(params):
    """ValueError if two parameters share memory: an in-place update would change the shared
    elements twice. Only views and repeats can share, so arrays owning their memory pass at
    once; otherwise each pair is checked (parameter lists are short)."""
    if len(set(map(id, params))) == len(params) and all(p.base is None for p in params):
        return
    for j, b in enumerate(params):
        for i, a in enumerate(params[:j]):
            if np.shares_memory(a, b):
                what = "are the same array" if a is b else "overlap in memory (views of one array)"
                raise ValueError(f"params[{i}] and params[{j}] {what}: the shared elements would "
                                 "be updated twice per step; list each parameter once")


def flag(name, value):
    """`value` as a bool: TypeError unless it is True or False (numpy.bool_ too), so that
    "False" or NaN is not taken for true."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def integer(name, value, low=None, high=None):
    """`value` as an int: TypeError unless it is an integer (numpy ints are, bools are not),
    ValueError unless low <= value <= high."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bound = (f"between {low} and {high}" if low is not None and high is not None
                 else f">= {low}" if low is not None else f"<= {high}")
        raise ValueError(f"{name} must be {bound}, not {value}")
    return value


def real_number(name, value, low=None, low_open=False, below=None):
    """A hyper-parameter as a float: TypeError unless it is a real number (a bool is not),
    ValueError unless it is finite and in range (>= low, or > low when low_open; < below)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    bound = "" if low is None else f" {'>' if low_open else '>='} {low:g}"
    if below is not None:
        bound += f"{' and' if bound else ''} < {below:g}"
    try:
        number = float(value)
    except OverflowError:                           # an int beyond the float range
        raise ValueError(f"{name} must be a finite number{bound}; the value given is too "
                         "large for a float") from None
    too_low = low is not None and (number <= low if low_open else number < low)
    if not math.isfinite(number) or too_low or (below is not None and number >= below):
        raise ValueError(f"{name} must be a finite number{bound}, not {value!r}")
    return number


def float_dtype(*arrays):
    """The dtype a kernel computes in: float32 or float64, following NumPy's promotion rules.

    Integers and bools promote to float64; float16 computes (and returns) float32; anything
    wider than float64 (longdouble) computes in float64.
    """
    dtype = arrays[0].dtype if len(arrays) == 1 else np.result_type(*arrays)
    if dtype == FLOAT32 or dtype == FLOAT64:
        return dtype
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return FLOAT32
    return FLOAT64


def contiguous(x, dtype):
    """`x` as an aligned C-contiguous array of `dtype`, copying only when it is not one already."""
    if x.dtype == dtype:
        flags = x.flags
        if flags.c_contiguous and flags.aligned:
            return x
    return np.array(x, dtype=dtype, order="C")  # a fresh aligned copy; 0-d stays 0-d


def output(out, shape, dtype, name="out"):
    """A validated `out=` array (right shape, dtype, writable, aligned, C-contiguous), or a new one."""
    if out is None:
        return np.empty(shape, dtype)
    if type(out) is not _ndarray:
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, the result has dtype {dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, the result has shape {tuple(shape)}")
    flags = out.flags
    if not flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not (flags.c_contiguous and flags.aligned):
        raise ValueError(f"{name} must be C-contiguous and aligned")
    return out


def apart(x, out):
    """`x`, or a copy of it when it shares memory with `out` without being `out` itself (None
    stays None).

    Element-wise kernels are right in place (out is x) but not on a shifted overlap, where
    they would read what they have already written."""
    if x is not out and x is not None and out is not None and np.may_share_memory(x, out):
        return x.copy()
    return x


def ptr(array):
    """A C pointer to the data of a C-contiguous float32/float64 array (no copy)."""
    return _from_buffer(_C_ARRAYS[array.dtype], array)


_kernels = {}


def kernel(name, dtype):
    """The C function fpk_<name>_f32 or fpk_<name>_f64 for `dtype`."""
    key = (name, dtype)
    function = _kernels.get(key)
    if function is None:
        function = _kernels[key] = getattr(lib, f"fpk_{name}_{_SUFFIXES[dtype]}")
    return function
