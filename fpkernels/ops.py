"""Tensor operations and statistics: element-wise arithmetic with NumPy broadcasting, dot,
shape changes and reductions, each a thin wrapper around one C kernel.

Conventions (SPEC "Conventions"): inputs are anything numpy.asarray takes; float32 and float64
compute natively, integers and bools promote to float64, float16 computes in float32. Results are
new C-contiguous arrays (or numpy scalars for whole-array reductions) unless `out=` is given;
element-wise `out=` may be an input (in place). Python numbers (int, float, bool) never upcast
float32, in add/sub/mul/div as in the *_scalar functions and power, as in NumPy 2 (NEP 50: the
array's dtype wins); NumPy scalars and 0-d arrays count as arrays (np.float64(1) upcasts).

    >>> import numpy as np, fpkernels as fk
    >>> fk.add(np.ones((2, 3)), np.arange(3.0))
    array([[1., 2., 3.],
           [1., 2., 3.]])
    >>> float(fk.median([3.0, 1.0, 2.0, 10.0]))
    2.5
"""
import builtins
import math
import operator

import numpy as np

from ._core import (FLOAT32, FLOAT64, apart, as_array, check, contiguous, ffi, float_dtype, kernel, lib,
                    output, ptr)

__all__ = [
    "dot", "add", "sub", "mul", "div", "add_scalar", "sub_scalar", "mul_scalar", "div_scalar",
    "power", "abs", "transpose", "pad", "resize", "flatten", "shape_product", "reshape",
    "sum", "mean", "min", "max", "median", "std",
]

AxisError = np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError

_ndarray = np.ndarray
_empty = np.empty
_from_buffer = ffi.from_buffer
_ARRAY = {FLOAT32: ffi.typeof("float[]"), FLOAT64: ffi.typeof("double[]")}
_POINTER = {FLOAT32: ffi.typeof("float *"), FLOAT64: ffi.typeof("double *")}
_RESULT = {FLOAT32: "float *", FLOAT64: "double *"}
_PYTHON_NUMBERS = (int, float, bool)
_STREAM_BYTES = lib.FPK_STREAM_BYTES  # new outputs this big go through fpk_binary (no streaming)
_NUMPY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}  # doc examples


# ---- helpers ------------------------------------------------------------------------------

def _strided_pointer(x):
    """A C pointer to element [0, ..., 0] of x (any strides, kept alive by the caller)."""
    return ffi.cast(_POINTER[x.dtype], x.ctypes.data)


def _broadcast_shape(a_shape, b_shape):
    """The NumPy broadcast of two shapes: aligned on the right, each dim equal or 1."""
    ndim = builtins.max(len(a_shape), len(b_shape))
    a_dims = (1,) * (ndim - len(a_shape)) + tuple(a_shape)
    b_dims = (1,) * (ndim - len(b_shape)) + tuple(b_shape)
    shape = []
    for m, n in zip(a_dims, b_dims):
        if m != n and m != 1 and n != 1:
            raise ValueError(f"shapes {tuple(a_shape)} and {tuple(b_shape)} do not broadcast: "
                             "each dim, aligned on the right, must be equal or 1")
        shape.append(n if m == 1 else m)
    return tuple(shape)


def _element_strides(x, shape):
    """x's strides in elements for the broadcast `shape` (0 on a broadcast or missing dim)."""
    missing = len(shape) - x.ndim
    strides = [0] * missing
    for stride, dim in zip(x.strides, x.shape):
        strides.append(0 if dim == 1 else stride // x.itemsize)
    return strides


def _merge_dims(shape, a_strides, b_strides):
    """Drop size-1 dims and merge neighbours that step like one dim, so the C loop runs over
    few, long, unit-stride rows. Returns (shape, a_strides, b_strides) lists."""
    dims = []
    for n, sa, sb in zip(shape, a_strides, b_strides):
        if n == 1:
            continue
        if dims and dims[-1][1] == sa * n and dims[-1][2] == sb * n:
            dims[-1] = [dims[-1][0] * n, sa, sb]
        else:
            dims.append([n, sa, sb])
    return [d[0] for d in dims], [d[1] for d in dims], [d[2] for d in dims]


def _operand(x, dtype, out):
    """x in `dtype`, readable through element strides, never partly overlapping `out`
    (numpy semantics: as if inputs were read before out is written)."""
    if x.dtype != dtype or not x.flags.aligned or builtins.any(s % x.itemsize for s in x.strides):
        return np.array(x, dtype=dtype)
    if x is not out and np.may_share_memory(x, out):
        return x.copy()
    return x


def _scalar(s, name):
    """A real scalar argument as (value, numpy dtype or None for a Python number)."""
    if isinstance(s, (np.generic, np.ndarray)) and np.ndim(s) == 0:
        if s.dtype.kind not in "fiub":
            raise TypeError(f"{name} has dtype {s.dtype}; expected a real number")
        return s.item(), s.dtype
    if isinstance(s, _PYTHON_NUMBERS):
        return s, None
    raise TypeError(f"{name} must be a real number, not {type(s).__name__}")


def _scalar_dtype(x, scalar_dtype):
    """The compute dtype of array x with a scalar: Python numbers do not upcast (NumPy 2)."""
    if scalar_dtype is None:
        return float_dtype(x)
    return float_dtype(np.empty(0, x.dtype), np.empty(0, scalar_dtype))


def _normalize_axis(axis, ndim):
    """axis as an index in [0, ndim); AxisError when out of range."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int or None, not {type(axis).__name__}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise AxisError(axis, ndim)
    return axis % ndim


def _shape_argument(shape, name="shape"):
    """A shape argument (an int or a sequence of ints) as a tuple of Python ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (int(shape),)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints, not {shape!r}") from None


# ---- element-wise: a op b -----------------------------------------------------------------

def _binary_general(name, code, a, b, out):
    """a op b for any inputs: promotion, broadcasting, strides, validation of out."""
    a_weak, b_weak = type(a) in _PYTHON_NUMBERS, type(b) in _PYTHON_NUMBERS
    if a_weak != b_weak:   # a Python number takes the array's dtype (NumPy 2's weak scalars)
        array = as_array(b, "b") if a_weak else as_array(a, "a")
        dtype = float_dtype(array)
        number = np.asarray(a if a_weak else b, dtype)       # (2**70 too, as in NumPy)
        a, b = (number, array) if a_weak else (array, number)
    else:
        a, b = as_array(a, "a"), as_array(b, "b")
        dtype = float_dtype(a, b)
    shape = _broadcast_shape(a.shape, b.shape)
    fresh = out is None
    out = output(out, shape, dtype)
    if out.size == 0:
        return out
    a = _operand(a, dtype, out)
    b = _operand(b, dtype, out)
    if (a.shape == shape and b.shape == shape and a.flags.c_contiguous and b.flags.c_contiguous
            and not (fresh and out.nbytes >= _STREAM_BYTES)):
        check(kernel(name, dtype)(ptr(a), ptr(b), ptr(out), out.size), name)
        return out
    dims, a_strides, b_strides = _merge_dims(shape, _element_strides(a, shape),
                                             _element_strides(b, shape))
    check(kernel("binary", dtype)(code, len(dims), ffi.new("int64_t[]", dims),
                                  _strided_pointer(a), ffi.new("int64_t[]", a_strides),
                                  _strided_pointer(b), ffi.new("int64_t[]", b_strides),
                                  ptr(out)), name)
    return out


_ROW_STRIDES = ffi.new("int64_t[2]", (0, 1))      # b of _row_broadcast: the same row each time


def _row_broadcast(binary_kernel, code, array, a, b, out):
    """a (..., n) op b (n,), contiguous, of one dtype (a layer's z + bias): the commonest
    broadcast, without the general path's Python work (several microseconds on small arrays).
    None when it does not apply; the general path then copies or raises as it should."""
    n = b.shape[0]
    if not (a.flags.aligned and b.flags.aligned):       # fpk_binary reads whole elements
        return None
    if out is None:
        out = _empty(a.shape, a.dtype)
    elif not (type(out) is _ndarray and out.dtype is a.dtype and out.shape == a.shape
              and out.flags.aligned) or (
            np.may_share_memory(b, out) or out is not a and np.may_share_memory(a, out)):
        return None
    try:
        pa, pb, pout = _from_buffer(array, a), _from_buffer(array, b), _from_buffer(array, out, True)
    except (ValueError, BufferError):   # not C-contiguous, or out read-only
        return None
    dims = ffi.new("int64_t[4]", (a.size // n, n, n, 1))    # shape, then a's strides
    if binary_kernel(code, 2, dims, pa, dims + 2, pb, _ROW_STRIDES, pout):
        return None
    return out


def _make_binary(name, code, symbol):
    """add/sub/mul/div: fast paths for same-shape contiguous float arrays and for rows op one
    row, else the general one."""
    f32, f64 = getattr(lib, f"fpk_{name}_f32"), getattr(lib, f"fpk_{name}_f64")
    array32, array64 = _ARRAY[FLOAT32], _ARRAY[FLOAT64]
    binary32, binary64 = lib.fpk_binary_f32, lib.fpk_binary_f64

    def binary(a, b, out=None):
        # The fast path is most of the cost of a small call, so it reads each attribute once
        # (~15 ns each): a, b (and out) ndarrays of one shape and one dtype, float32 or float64.
        # from_buffer refuses non-C-contiguous arrays, and a read-only out when asked for a
        # writable buffer (ValueError); the same-size kernels refuse misaligned data and an out
        # that partly overlaps an input (a status, before writing; _row_broadcast checks both
        # itself). All these take the general path, which copies or raises the proper error.
        if type(a) is _ndarray and type(b) is _ndarray:
            dtype = a.dtype
            if dtype is FLOAT32:
                function, array, broadcast = f32, array32, binary32
            elif dtype is FLOAT64:
                function, array, broadcast = f64, array64, binary64
            else:
                function = None
            if function is not None and b.dtype is dtype:
                if (shape := a.shape) == b.shape:
                    if out is None:
                        if a.nbytes < _STREAM_BYTES:
                            try:
                                pa, pb = _from_buffer(array, a), _from_buffer(array, b)
                            except (ValueError, BufferError):
                                return _binary_general(name, code, a, b, None)
                            result = _empty(shape, dtype)
                            if not function(pa, pb, _from_buffer(array, result), a.size):
                                return result
                    elif type(out) is _ndarray and out.dtype is dtype and out.shape == shape:
                        try:
                            status = function(_from_buffer(array, a), _from_buffer(array, b),
                                              _from_buffer(array, out, True), a.size)
                        except (ValueError, BufferError):
                            status = 1
                        if not status:
                            return out
                elif b.ndim == 1 and len(shape) > 1 and shape[-1] == b.shape[0] > 1 and a.size:
                    result = _row_broadcast(broadcast, code, array, a, b, out)  # (rows of 1:
                    if result is not None:                                      # general path)
                        return result
        return _binary_general(name, code, a, b, out)

    binary.__name__ = binary.__qualname__ = name
    example = _NUMPY[name](np.array([[1.0], [2.0]]), np.array([4.0, 8.0]))
    binary.__doc__ = (
        f"Element-wise a {symbol} b with NumPy broadcasting (each dim, aligned on the right, "
        f"equal or 1); `out` may be a or b (in place).\n\n"
        f"    >>> import numpy as np, fpkernels as fk\n"
        f"    >>> fk.{name}(np.array([[1.0], [2.0]]), np.array([4.0, 8.0]))\n"
        + "".join(f"    {line}\n" for line in repr(example).splitlines())
    )
    return binary


add = _make_binary("add", lib.FPK_ADD, "+")
sub = _make_binary("sub", lib.FPK_SUB, "-")
mul = _make_binary("mul", lib.FPK_MUL, "*")
div = _make_binary("div", lib.FPK_DIV, "/")


# ---- element-wise: x op scalar, power, abs ------------------------------------------------

def _unary(name, x, extra, out, scalar_dtype=None):
    """out = kernel(x, *extra) for the element-wise kernel fpk_<name>."""
    x = as_array(x)
    dtype = _scalar_dtype(x, scalar_dtype)
    out = output(out, x.shape, dtype)
    x = apart(contiguous(x, dtype), out)
    check(kernel(name, dtype)(ptr(x), *extra, ptr(out), x.size), name)
    return out


def _make_scalar(name, code, symbol):
    fast = {FLOAT32: (getattr(lib, f"fpk_{name}_scalar_f32"), _ARRAY[FLOAT32]),
            FLOAT64: (getattr(lib, f"fpk_{name}_scalar_f64"), _ARRAY[FLOAT64])}

    def scalar_op(x, s, out=None):
        # fast path, as in add/sub/mul/div: a float32/float64 ndarray x and a Python number s
        # (which keeps x's dtype); non-contiguous, misaligned, read-only or partly overlapping
        # arrays are refused by from_buffer or the C kernel and take the general path.
        if type(x) is _ndarray and (type(s) is float or type(s) is int):
            dtype = x.dtype
            entry = fast.get(dtype)
            if entry is not None:
                function, array = entry
                if out is None:
                    if x.nbytes < _STREAM_BYTES:
                        try:
                            px = _from_buffer(array, x)
                        except (ValueError, BufferError):
                            px = None
                        if px is not None:
                            result = _empty(x.shape, dtype)
                            if not function(px, s, _from_buffer(array, result), x.size):
                                return result
                elif type(out) is _ndarray and out.dtype is dtype and out.shape == x.shape:
                    try:
                        status = function(_from_buffer(array, x), s,
                                          _from_buffer(array, out, True), x.size)
                    except (ValueError, BufferError):
                        status = 1
                    if not status:
                        return out
        value, scalar_dtype = _scalar(s, "s")
        if out is None:
            x = as_array(x)
            if x.nbytes >= _STREAM_BYTES:  # big new output: ordinary stores (FPK_STREAM_BYTES)
                dtype = _scalar_dtype(x, scalar_dtype)
                return _binary_general(name, code, x, np.array(value, dtype), None)
        return _unary(f"{name}_scalar", x, (value,), out, scalar_dtype)

    scalar_op.__name__ = scalar_op.__qualname__ = f"{name}_scalar"
    example = _NUMPY[name](np.array([1.0, 2.0]), 4.0)
    scalar_op.__doc__ = (
        f"Element-wise x {symbol} s for a real number s (a Python number keeps float32 "
        f"float32); `out` may be x (in place).\n\n"
        f"    >>> import numpy as np, fpkernels as fk\n"
        f"    >>> fk.{name}_scalar(np.array([1.0, 2.0]), 4)\n"
        f"    {example!r}\n"
    )
    return scalar_op


add_scalar = _make_scalar("add", lib.FPK_ADD, "+")
sub_scalar = _make_scalar("sub", lib.FPK_SUB, "-")
mul_scalar = _make_scalar("mul", lib.FPK_MUL, "*")
div_scalar = _make_scalar("div", lib.FPK_DIV, "/")


def power(x, p, out=None):
    """Element-wise x ** p for a real number p, as C's pow: a negative base with a fractional p
    gives NaN, 0 ** -1 gives inf; p = 0.5 is the square root, as in NumPy (so (-0) ** 0.5 is -0
    and (-inf) ** 0.5 is NaN). `out` may be x.

    >>> import numpy as np, fpkernels as fk
    >>> fk.power(np.array([4.0, -8.0]), 0.5)
    array([ 2., nan])
    """
    value, scalar_dtype = _scalar(p, "p")
    return _unary("power", x, (value,), out, scalar_dtype)


def abs(x, out=None):  # noqa: A001 - SPEC name, shadows the builtin inside fpkernels only
    """Element-wise absolute value |x|; `out` may be x.

    >>> import numpy as np, fpkernels as fk
    >>> fk.abs(np.array([-1.5, 0.0, 2.0]))
    array([1.5, 0. , 2. ])
    """
    return _unary("abs", x, (), out)


def dot(a, b):
    """The dot product sum(a[i] * b[i]) of two 1-D arrays of one length, as a numpy scalar;
    accumulated in double in fixed blocks (the same bits on any thread count).

    >>> import fpkernels as fk
    >>> float(fk.dot([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
    32.0
    """
    a = as_array(a, "a")
    b = as_array(b, "b")
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot needs two 1-D arrays of one length, got shapes {a.shape} and "
                         f"{b.shape}")
    dtype = float_dtype(a, b)
    a = contiguous(a, dtype)
    b = contiguous(b, dtype)
    result = ffi.new(_RESULT[dtype])
    check(kernel("dot", dtype)(ptr(a), ptr(b), a.size, result), "dot")
    return dtype.type(result[0])


# ---- shape operations ---------------------------------------------------------------------

def shape_product(shape):
    """The number of elements of a tensor of `shape`: the product of its dims (1 for ()).

    >>> import fpkernels as fk
    >>> fk.shape_product((3, 4, 5)), fk.shape_product(())
    (60, 1)
    """
    dims = _shape_argument(shape)
    if builtins.any(d < 0 for d in dims):
        raise ValueError(f"shape {dims} has a negative dim")
    return math.prod(dims)


def transpose(x):
    """The transpose as a new C-contiguous array: rows become columns (a cache-blocked C kernel
    for 2-D); an N-d array has its axes reversed, as numpy.transpose (copied by NumPy).

    >>> import numpy as np, fpkernels as fk
    >>> fk.transpose(np.array([[1.0, 2.0, 3.0]]))
    array([[1.],
           [2.],
           [3.]])
    """
    x = as_array(x)
    dtype = float_dtype(x)
    if x.ndim != 2:
        return contiguous(np.transpose(x), dtype)
    x = contiguous(x, dtype)
    rows, cols = x.shape
    out = np.empty((cols, rows), dtype)
    check(kernel("transpose", dtype)(ptr(x), rows, cols, ptr(out)), "transpose")
    return out


def _resize(name, x, shape, value):
    x = as_array(x)
    dtype = float_dtype(x)
    target = _shape_argument(shape)
    if len(target) != x.ndim:
        raise ValueError(f"{name}: shape {target} has {len(target)} dims, the array {x.shape} "
                         f"has {x.ndim}")
    if builtins.any(d < 0 for d in target):
        raise ValueError(f"{name}: shape {target} has a negative dim")
    if name == "pad" and builtins.any(t < d for t, d in zip(target, x.shape)):
        raise ValueError(f"pad only grows: shape {target} is smaller than the array's {x.shape} "
                         "in some dim (use resize to trim)")
    fill, _ = _scalar(value, "value")
    x = contiguous(x, dtype)
    out = np.empty(target, dtype)
    check(kernel(name, dtype)(x.ndim, ffi.new("int64_t[]", x.shape), ptr(x),
                              ffi.new("int64_t[]", target), ptr(out), fill), name)
    return out


def pad(x, shape, value=0):
    """Grow x to `shape` by appending rows and columns (in general: trailing entries of every
    dim) filled with `value`; shrinking any dim is a ValueError. A C kernel (copy + fill).

    >>> import numpy as np, fpkernels as fk
    >>> fk.pad(np.array([[1.0, 2.0]]), (2, 3))
    array([[1., 2., 0.],
           [0., 0., 0.]])
    """
    return _resize("pad", x, shape, value)


def resize(x, shape, value=0):
    """x padded with `value` or trimmed, dim by dim, to `shape` (same number of dims); the
    elements that fit keep their index. A C kernel (copy + fill).

    >>> import numpy as np, fpkernels as fk
    >>> fk.resize(np.array([[1.0, 2.0, 3.0]]), (2, 2), value=-1)
    array([[ 1.,  2.],
           [-1., -1.]])
    """
    return _resize("resize", x, shape, value)


def flatten(x):
    """The elements of x in row-major order as a new 1-D array of shape_product(x.shape)
    elements. A memory-layout operation: done by NumPy (one copy), no C kernel needed.

    >>> import numpy as np, fpkernels as fk
    >>> fk.flatten(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([1., 2., 3., 4.])
    """
    x = as_array(x)
    return np.array(x, dtype=float_dtype(x), order="C").reshape(-1)


def reshape(x, shape):
    """The elements of x (row-major order) in a new C-contiguous array of `shape`; one dim may
    be -1 (inferred). The element count must not change. A memory-layout operation done by
    NumPy (a copy, so the result never aliases x).

    >>> import numpy as np, fpkernels as fk
    >>> fk.reshape(np.arange(6.0), (2, -1))
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    x = as_array(x)
    target = list(_shape_argument(shape))
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1:
        raise ValueError(f"reshape: shape {tuple(target)} has more than one -1")
    if builtins.any(d < -1 for d in target):
        raise ValueError(f"reshape: shape {tuple(target)} has a negative dim")
    known = math.prod(d for d in target if d != -1)
    if unknown:
        if known == 0 or x.size % known:
            raise ValueError(f"cannot reshape an array of shape {x.shape} ({x.size} elements) "
                             f"into shape {tuple(target)}")
        target[unknown[0]] = x.size // known
    elif known != x.size:
        raise ValueError(f"cannot reshape an array of shape {x.shape} ({x.size} elements) into "
                         f"shape {tuple(target)} ({known} elements)")
    return np.array(x, dtype=float_dtype(x), order="C").reshape(target)


# ---- statistics ---------------------------------------------------------------------------

_EMPTY_MESSAGES = {
    "mean": "mean of an empty array is undefined",
    "min": "min of an empty array is undefined (there is no smallest element)",
    "max": "max of an empty array is undefined (there is no largest element)",
    "median": "median of an empty array is undefined",
    "std": "std of an empty array is undefined",
}


def _reduce(name, x, axis, extra=()):
    """Whole-array (axis None) or one-axis reduction through fpk_<name>[_axis]."""
    x = as_array(x)
    dtype = float_dtype(x)
    x = contiguous(x, dtype)
    if axis is None:
        result = ffi.new(_RESULT[dtype])
        status = kernel(name, dtype)(ptr(x), x.size, *extra, result)
        shape = ()
        n = x.size
    else:
        axis = _normalize_axis(axis, x.ndim)
        shape = x.shape[:axis] + x.shape[axis + 1:]
        n = x.shape[axis]
        result = np.empty(shape, dtype)
        status = kernel(name + "_axis", dtype)(ptr(x), math.prod(x.shape[:axis]), n,
                                               math.prod(x.shape[axis + 1:]), *extra, ptr(result))
    if status == lib.FPK_ERR_EMPTY:
        where = "" if axis is None else f" (axis {axis} of shape {x.shape} has length 0)"
        raise ValueError(_EMPTY_MESSAGES[name] + where)
    if status == lib.FPK_ERR_VALUE and name == "std":
        raise ValueError(f"std(sample=True) needs at least 2 elements, got {n}"
                         + ("" if axis is None else f" along axis {axis} of shape {x.shape}"))
    check(status, name)
    return dtype.type(result[0]) if axis is None else result


def sum(x, axis=None):  # noqa: A001 - SPEC name
    """Sum of all elements (a numpy scalar) or along `axis` (an array). Blocked summation with
    double accumulators: accurate, and the same bits whatever the thread count. sum of an
    empty array is 0.

    >>> import numpy as np, fpkernels as fk
    >>> fk.sum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    array([4., 6.])
    """
    return _reduce("sum", x, axis)


def mean(x, axis=None):
    """Arithmetic mean of all elements or along `axis`; ValueError for an empty input.

    >>> import numpy as np, fpkernels as fk
    >>> float(fk.mean([1.0, 2.0, 6.0]))
    3.0
    """
    return _reduce("mean", x, axis)


def min(x, axis=None):  # noqa: A001 - SPEC name
    """Smallest element (NaN if any element is NaN) overall or along `axis`; ValueError if empty.

    >>> import numpy as np, fpkernels as fk
    >>> fk.min(np.array([[3.0, 1.0], [2.0, 5.0]]), axis=1)
    array([1., 2.])
    """
    return _reduce("min", x, axis)


def max(x, axis=None):  # noqa: A001 - SPEC name
    """Largest element (NaN if any element is NaN) overall or along `axis`; ValueError if empty.

    >>> import numpy as np, fpkernels as fk
    >>> fk.max(np.array([[3.0, 1.0], [2.0, 5.0]]), axis=0)
    array([3., 5.])
    """
    return _reduce("max", x, axis)


def median(x, axis=None):
    """Median by linear-time selection, never a full sort (x is untouched): quickselect on a
    scratch copy, after a radix-histogram pass that narrows large inputs to one bucket (for
    float32 a second counting pass finds the exact value without any copy). The middle value,
    or the mean of the two middle values for an even count; NaN if any element is NaN (as
    numpy.median); ValueError for an empty input.

    >>> import fpkernels as fk
    >>> float(fk.median([5.0, 1.0, 4.0, 2.0]))
    3.0
    """
    return _reduce("median", x, axis)


def std(x, sample=False, axis=None):
    """Standard deviation, population (divide by n) or `sample=True` (n - 1), numerically
    stable: one pass over memory, two passes inside each cache-resident block, blocks merged
    exactly. ValueError for an empty input, or sample=True with one element.

    >>> import fpkernels as fk
    >>> float(fk.std([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]))
    2.0
    """
    if not isinstance(sample, (bool, np.bool_)):
        raise TypeError(f"sample must be a bool, not {type(sample).__name__}")
    return _reduce("std", x, axis, (int(sample),))
