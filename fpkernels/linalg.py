"""Matrix multiplication: `matmul`, backed by the packed, cache-blocked C kernel in csrc/matmul.c.

The C kernel computes C = op(A) op(B) for C-contiguous matrices, where op may transpose. This
module maps NumPy's matmul rules (1-D operands, batch broadcasting) and array layouts onto it:
a transposed view (Fortran order) is passed as the other layout with the transpose flag
flipped, so `matmul(x.T, y)` copies nothing.
"""
import math

import numpy as np

from ._core import (FLOAT32, FLOAT64, as_array, check, contiguous, ffi, flag, float_dtype, kernel,
                    output)

__all__ = ["matmul"]


def _as_matrix_operand(x, dtype, transposed):
    """(C-contiguous array of dtype, transposed flag) describing the same matrices as x.

    An array whose last two axes are swapped relative to C order (a transposed view) is
    described as its C-contiguous transpose with the flag flipped, without copying."""
    if x.dtype == dtype and not x.flags.c_contiguous and x.ndim >= 2 and x.flags.aligned:
        swapped = np.swapaxes(x, -1, -2)
        if swapped.flags.c_contiguous:
            return swapped, not transposed
    return contiguous(x, dtype), transposed


def _batch_offsets(batch_shape, operand_batch, matrix_size):
    """Element offset of each matrix of an operand, for every position of the broadcast batch."""
    index = np.arange(math.prod(operand_batch), dtype=np.int64).reshape(operand_batch)
    return np.ascontiguousarray(np.broadcast_to(index, batch_shape).ravel() * matrix_size)


_C_ARRAYS = {FLOAT32: "float[]", FLOAT64: "double[]"}


def _matmul_2d(a, b, m, n, k, transpose_a, transpose_b, out):
    """op(a) op(b) for C-contiguous 2-D float32 (or float64) a and b of one dtype, whose
    inner sizes agree, into a new array or a checked `out`: the common case, in few steps."""
    c = np.empty((m, n), a.dtype) if out is None else out
    if c.size:
        array = _C_ARRAYS[a.dtype]
        check(kernel("matmul", a.dtype)(ffi.from_buffer(array, a), ffi.from_buffer(array, b),
                                        ffi.from_buffer(array, c), m, n, k, transpose_a,
                                        transpose_b), "matmul")
    return c


def matmul(a, b, transpose_a=False, transpose_b=False, out=None):
    """Matrix product op(a) @ op(b), with op transposing the last two axes when asked.

    Follows numpy.matmul: 2-D arrays are matrices; a 1-D `a` is a row vector and a 1-D `b` a
    column vector (the added axis is removed from the result, and transpose flags do nothing
    to 1-D operands, like `v.T` in NumPy); N-d arrays are stacks of matrices in the last two
    axes, with the leading (batch) axes broadcast; 1-D @ 1-D gives a NumPy scalar. Inner
    sizes must agree (ValueError naming both shapes). float32 and float64 compute natively,
    other real dtypes promote as in NumPy (integers to float64, float16 to float32).

    Every element is summed in a fixed order (blocks of k, each a chain of fused
    multiply-adds), so results are bitwise identical whatever the thread count. The result
    is a new C-contiguous array, or `out` (right shape and dtype, C-contiguous, writable),
    which may overlap `a` or `b`: the product then goes through a temporary buffer.

    >>> import numpy as np, fpkernels as fk
    >>> fk.matmul([[1.0, 2.0], [3.0, 4.0]], [[5.0], [6.0]])
    array([[17.],
           [39.]])
    >>> fk.matmul(np.ones((3, 2)), np.ones((3, 4)), transpose_a=True).shape
    (2, 4)

    transpose_a and transpose_b must be bools (or numpy.bool_): TypeError otherwise, so that
    'False' or NaN does not silently transpose.
    """
    if type(transpose_a) is not bool or type(transpose_b) is not bool:   # plain bools pass
        transpose_a = flag("transpose_a", transpose_a)
        transpose_b = flag("transpose_b", transpose_b)
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and a.dtype in _C_ARRAYS and a.dtype == b.dtype
            and a.flags.c_contiguous and b.flags.c_contiguous
            and a.flags.aligned and b.flags.aligned):  # the common case, quickly
        transpose_a, transpose_b = bool(transpose_a), bool(transpose_b)
        m, k = a.shape[::-1] if transpose_a else a.shape
        k_b, n = b.shape[::-1] if transpose_b else b.shape
        if k == k_b and (out is None or (
                type(out) is np.ndarray and out.dtype == a.dtype and out.shape == (m, n)
                and out.flags.c_contiguous and out.flags.writeable and out.flags.aligned
                and not np.may_share_memory(out, a) and not np.may_share_memory(out, b))):
            return _matmul_2d(a, b, m, n, k, transpose_a, transpose_b, out)
    a = as_array(a, "a")
    b = as_array(b, "b")
    for name, x in (("a", a), ("b", b)):
        if x.ndim == 0:
            raise ValueError(f"matmul: {name} has shape () (a scalar), it needs at least one "
                             "dimension; multiply by a scalar with fk.mul or *")
    dtype = float_dtype(a, b)

    # 1-D operands become 1 x k (a) and k x 1 (b) matrices; their added axis goes away at the end.
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    a2 = a.reshape(1, -1) if a_vector else a
    b2 = b.reshape(-1, 1) if b_vector else b
    transpose_a = bool(transpose_a) and not a_vector
    transpose_b = bool(transpose_b) and not b_vector

    m, k = a2.shape[-2:][::-1] if transpose_a else a2.shape[-2:]
    k_b, n = b2.shape[-2:][::-1] if transpose_b else b2.shape[-2:]
    if k != k_b:
        raise ValueError(
            f"matmul: inner dimensions differ: a has shape {a.shape}"
            f"{' (transposed)' if transpose_a else ''}, giving {k} columns, and b has shape "
            f"{b.shape}{' (transposed)' if transpose_b else ''}, giving {k_b} rows")
    batch = ()
    if a2.ndim > 2 or b2.ndim > 2:
        try:
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dimensions do not broadcast: a has shape {a.shape},"
                             f" b has shape {b.shape}") from None

    shape = batch + (m, n)
    if a_vector:
        shape = shape[:-2] + shape[-1:]
    if b_vector:
        shape = shape[:-1]
    result = output(out, shape, dtype)
    if result.size == 0:
        return result
    target = result
    if out is not None and (np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        target = np.empty(shape, dtype)  # the kernel must not read what it writes

    a2, transpose_a = _as_matrix_operand(a2, dtype, transpose_a)
    b2, transpose_b = _as_matrix_operand(b2, dtype, transpose_b)
    c_array = "float[]" if dtype == FLOAT32 else "double[]"
    pointers = (ffi.from_buffer(c_array, a2), ffi.from_buffer(c_array, b2),
                ffi.from_buffer(c_array, target))
    if not batch:
        status = kernel("matmul", dtype)(*pointers, m, n, k, transpose_a, transpose_b)
    else:
        a_offsets = _batch_offsets(batch, a2.shape[:-2], m * k)
        b_offsets = _batch_offsets(batch, b2.shape[:-2], k * n)
        status = kernel("matmul_batched", dtype)(
            *pointers, math.prod(batch), m, n, k, transpose_a, transpose_b,
            ffi.from_buffer("int64_t[]", a_offsets), ffi.from_buffer("int64_t[]", b_offsets))
    check(status, "matmul")
    if target is not result:
        result[...] = target
    if out is None and result.ndim == 0:
        return result[()]  # 1-D @ 1-D is a scalar, as in NumPy
    return result
