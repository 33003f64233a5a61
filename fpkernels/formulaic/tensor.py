"""Tensor operations and statistics, written out the way the paper teaches them.

A tensor here is a plain Python list: a vector is a list of numbers, a matrix is a list of
rows (each row a list of numbers). Every function loops over rowIndex and colIndex explicitly,
one idea per line, no NumPy. They are slow on purpose: they are the readable definition that
the fast C kernels in fpkernels are tested against.

    >>> from fpkernels.formulaic import add, mean
    >>> add([[1, 2], [3, 4]], [[10, 20]])
    [[11, 22], [13, 24]]
    >>> mean([[1, 2], [3, 6]])
    3.0
"""
import builtins
import math

__all__ = [
    "dot", "broadcastable", "add", "sub", "mul", "div",
    "add_scalar", "sub_scalar", "mul_scalar", "div_scalar", "power", "abs",
    "matmul", "transpose", "pad", "resize", "flatten", "shape_product", "reshape",
    "sum", "mean", "min", "max", "median", "std", "calculate_e",
]


# ---- helpers -------------------------------------------------------------------------------

def _shape(tensor):
    """The shape of a nested list: (rows, cols) for a matrix, (n,) for a vector."""
    if not isinstance(tensor, list):
        return ()
    if len(tensor) == 0:
        return (0,)
    return (len(tensor),) + _shape(tensor[0])


def _empty_matrix(rowCount, colCount, value=0.0):
    """A new matrix of rowCount rows and colCount columns, every element `value`."""
    return [[value for colIndex in range(colCount)] for rowIndex in range(rowCount)]


def _lines(tensor, axis):
    """The lists a reduction works on: all elements (axis None), each column (axis 0) or each
    row (axis 1) of a matrix."""
    if axis is None:
        return [flatten(tensor)]
    if axis == 1 or axis == -1:
        return [list(row) for row in tensor]
    if axis == 0 or axis == -2:
        return transpose(tensor)
    raise ValueError(f"axis must be None, 0 or 1 for a matrix, got {axis}")


def _reduce(line_reduction, tensor, axis):
    """Apply a reduction of one list to the whole tensor (a number) or to each line (a list)."""
    results = [line_reduction(line) for line in _lines(tensor, axis)]
    return results[0] if axis is None else results


# ---- vector and element-wise operations ----------------------------------------------------

def dot(vectorA, vectorB):
    """Dot product: multiply matching elements of two equal-length vectors and add them up."""
    if len(vectorA) != len(vectorB):
        raise ValueError(f"dot needs two vectors of one length, got {len(vectorA)} and {len(vectorB)}")
    result = 0.0
    for i in range(len(vectorA)):
        result = result + vectorA[i] * vectorB[i]
    return result


def broadcastable(shapeA, shapeB):
    """The paper's broadcasting rule for matrices: rows equal or one of them 1, and columns
    equal or one of them 1 (a dim of 1 is repeated to match the other tensor)."""
    rowsA, colsA = shapeA
    rowsB, colsB = shapeB
    rowsFit = rowsA == rowsB or rowsA == 1 or rowsB == 1
    colsFit = colsA == colsB or colsA == 1 or colsB == 1
    return rowsFit and colsFit


def _elementwise(tensorA, tensorB, combine):
    """result[r][c] = combine(A[r][c], B[r][c]) for two matrices, broadcasting a dim of 1."""
    rowsA, colsA = _shape(tensorA)
    rowsB, colsB = _shape(tensorB)
    if not broadcastable((rowsA, colsA), (rowsB, colsB)):
        raise ValueError(f"shapes {(rowsA, colsA)} and {(rowsB, colsB)} do not broadcast")
    rowCount = builtins.max(rowsA, rowsB) if rowsA and rowsB else 0
    colCount = builtins.max(colsA, colsB) if colsA and colsB else 0
    result = _empty_matrix(rowCount, colCount)
    for rowIndex in range(rowCount):
        for colIndex in range(colCount):
            value1 = tensorA[rowIndex if rowsA > 1 else 0][colIndex if colsA > 1 else 0]
            value2 = tensorB[rowIndex if rowsB > 1 else 0][colIndex if colsB > 1 else 0]
            result[rowIndex][colIndex] = combine(value1, value2)
    return result


def add(tensorA, tensorB):
    """Element-wise sum of two matrices (broadcasting a dim of 1)."""
    return _elementwise(tensorA, tensorB, lambda value1, value2: value1 + value2)


def sub(tensorA, tensorB):
    """Element-wise difference A - B of two matrices (broadcasting a dim of 1)."""
    return _elementwise(tensorA, tensorB, lambda value1, value2: value1 - value2)


def mul(tensorA, tensorB):
    """Element-wise product of two matrices (broadcasting a dim of 1); not matmul."""
    return _elementwise(tensorA, tensorB, lambda value1, value2: value1 * value2)


def _divide(value1, value2):
    """value1 / value2 with IEEE rules: x/0 is +-inf, 0/0 is NaN (Python would raise)."""
    if value2 == 0:
        if value1 == 0 or value1 != value1:
            return math.nan
        return math.copysign(math.inf, value1) * math.copysign(1.0, value2)
    return value1 / value2


def div(tensorA, tensorB):
    """Element-wise quotient A / B of two matrices (broadcasting a dim of 1)."""
    return _elementwise(tensorA, tensorB, _divide)


def _with_scalar(tensor, scalar, combine):
    """result[r][c] = combine(tensor[r][c], scalar) for every element of a matrix."""
    rowCount = len(tensor)
    colCount = len(tensor[0]) if rowCount else 0
    result = _empty_matrix(rowCount, colCount)
    for rowIndex in range(rowCount):
        for colIndex in range(colCount):
            result[rowIndex][colIndex] = combine(tensor[rowIndex][colIndex], scalar)
    return result


def add_scalar(tensor, scalar):
    """Add one number to every element."""
    return _with_scalar(tensor, scalar, lambda value, s: value + s)


def sub_scalar(tensor, scalar):
    """Subtract one number from every element."""
    return _with_scalar(tensor, scalar, lambda value, s: value - s)


def mul_scalar(tensor, scalar):
    """Multiply every element by one number (scaling)."""
    return _with_scalar(tensor, scalar, lambda value, s: value * s)


def div_scalar(tensor, scalar):
    """Divide every element by one number."""
    return _with_scalar(tensor, scalar, _divide)


def _raise(value, exponent):
    """value ** exponent for real numbers: a negative base with a fractional exponent has no
    real answer (NaN), 0 to a negative power is infinite."""
    if value < 0 and exponent != int(exponent):
        return math.nan
    if value == 0 and exponent < 0:
        return math.inf
    return math.pow(value, exponent)


def power(tensor, exponent):
    """Raise every element to the same power."""
    return _with_scalar(tensor, exponent, _raise)


def abs(tensor):  # noqa: A001 - the paper's name
    """Absolute value of every element: negatives become positive, the rest stay."""
    rowCount = len(tensor)
    colCount = len(tensor[0]) if rowCount else 0
    result = _empty_matrix(rowCount, colCount)
    for rowIndex in range(rowCount):
        for colIndex in range(colCount):
            value = tensor[rowIndex][colIndex]
            result[rowIndex][colIndex] = -value if value < 0 else value + 0.0
    return result


def matmul(tensorA, tensorB):
    """Matrix product: C[r][c] = sum over k of A[r][k] * B[k][c]; A's columns must equal B's rows."""
    rowsA, colsA = len(tensorA), len(tensorA[0]) if tensorA else 0
    rowsB, colsB = len(tensorB), len(tensorB[0]) if tensorB else 0
    if colsA != rowsB:
        raise ValueError(f"matmul: shapes {(rowsA, colsA)} and {(rowsB, colsB)} do not fit "
                         "(columns of A must equal rows of B)")
    result = _empty_matrix(rowsA, colsB)
    for rowIndex in range(rowsA):
        for colIndex in range(colsB):
            total = 0.0
            for k in range(colsA):
                total = total + tensorA[rowIndex][k] * tensorB[k][colIndex]
            result[rowIndex][colIndex] = total
    return result


# ---- shape operations ----------------------------------------------------------------------

def transpose(tensor):
    """Swap rows and columns: element [r][c] moves to [c][r]."""
    rowCount = len(tensor)
    colCount = len(tensor[0]) if rowCount else 0
    result = _empty_matrix(colCount, rowCount)
    for rowIndex in range(rowCount):
        for colIndex in range(colCount):
            result[colIndex][rowIndex] = tensor[rowIndex][colIndex]
    return result


def pad(tensor, shape, value=0.0):
    """Grow a matrix to `shape` by appending columns to each row, then whole rows, of `value`."""
    targetRows, targetCols = shape
    rowCount = len(tensor)
    colCount = len(tensor[0]) if rowCount else 0
    if targetRows < rowCount or targetCols < colCount:
        raise ValueError(f"pad only grows: {(rowCount, colCount)} cannot become {tuple(shape)}")
    padded = [list(row) for row in tensor]
    for rowIndex in range(len(padded)):
        while len(padded[rowIndex]) < targetCols:
            padded[rowIndex].append(value)
    while len(padded) < targetRows:
        padded.append([value] * targetCols)
    return padded


def resize(tensor, shape, value=0.0):
    """Pad or trim a matrix to `shape`: keep what fits at its place, fill the rest with `value`."""
    targetRows, targetCols = shape
    rowCount = len(tensor)
    colCount = len(tensor[0]) if rowCount else 0
    result = _empty_matrix(targetRows, targetCols, value)
    for rowIndex in range(builtins.min(rowCount, targetRows)):
        for colIndex in range(builtins.min(colCount, targetCols)):
            result[rowIndex][colIndex] = tensor[rowIndex][colIndex]
    return result


def flatten(tensor):
    """All elements in one list, row after row (row-major order); works for any nesting."""
    flat = []
    for element in tensor:
        if isinstance(element, list):
            flat.extend(flatten(element))
        else:
            flat.append(element)
    return flat


def shape_product(shape):
    """How many elements a tensor of `shape` holds: the product of its dims (1 for a scalar)."""
    product = 1
    for dim in shape:
        product = product * dim
    return product


def reshape(tensor, shape):
    """The same elements, in row-major order, arranged into `shape` (one dim may be -1)."""
    flat = flatten(tensor)
    shape = list(shape)
    if -1 in shape:
        known = shape_product([dim for dim in shape if dim != -1])
        shape[shape.index(-1)] = len(flat) // known if known else 0
    if shape_product(shape) != len(flat):
        raise ValueError(f"cannot reshape {len(flat)} elements into shape {tuple(shape)}")
    return _fill(flat, shape)


def _fill(flat, shape):
    """Nest the list `flat` into `shape`, the last dim varying fastest."""
    if len(shape) == 1:
        return list(flat)
    stride = shape_product(shape[1:])
    return [_fill(flat[index * stride:(index + 1) * stride], shape[1:]) for index in range(shape[0])]


# ---- statistics ----------------------------------------------------------------------------

def _line_sum(values):
    total = 0.0
    for value in values:
        total = total + value
    return total


def _line_mean(values):
    if len(values) == 0:
        raise ValueError("mean of an empty tensor is undefined")
    return _line_sum(values) / len(values)


def _line_min(values):
    if len(values) == 0:
        raise ValueError("min of an empty tensor is undefined")
    smallest = values[0]
    for value in values:
        if value != value:
            return math.nan
        if value < smallest:
            smallest = value
    return smallest


def _line_max(values):
    if len(values) == 0:
        raise ValueError("max of an empty tensor is undefined")
    largest = values[0]
    for value in values:
        if value != value:
            return math.nan
        if value > largest:
            largest = value
    return largest


def _line_median(values):
    if len(values) == 0:
        raise ValueError("median of an empty tensor is undefined")
    if any(value != value for value in values):
        return math.nan
    ordered = sorted(values)
    n = len(ordered)
    if n % 2 == 1:
        return ordered[(n - 1) // 2]
    middle1 = ordered[n // 2 - 1]
    middle2 = ordered[n // 2]
    return (middle1 + middle2) / 2


def _line_std(values, sample):
    n = len(values)
    if n == 0:
        raise ValueError("std of an empty tensor is undefined")
    if sample and n == 1:
        raise ValueError("std(sample=True) needs at least 2 elements")
    average = _line_sum(values) / n
    squared_differences = 0.0
    for value in values:
        squared_differences = squared_differences + (value - average) ** 2
    variance = squared_differences / (n - 1 if sample else n)
    return math.sqrt(variance)


def sum(tensor, axis=None):  # noqa: A001 - the paper's name
    """Add up all elements (axis None), each column (axis 0) or each row (axis 1)."""
    return _reduce(_line_sum, tensor, axis)


def mean(tensor, axis=None):
    """Average: the sum divided by the number of elements."""
    return _reduce(_line_mean, tensor, axis)


def min(tensor, axis=None):  # noqa: A001 - the paper's name
    """Smallest element, found by keeping the smallest seen so far (NaN if any is NaN)."""
    return _reduce(_line_min, tensor, axis)


def max(tensor, axis=None):  # noqa: A001 - the paper's name
    """Largest element, found by keeping the largest seen so far (NaN if any is NaN)."""
    return _reduce(_line_max, tensor, axis)


def median(tensor, axis=None):
    """Middle value after sorting; the mean of the two middle values for an even count.
    (Sorting is the clearest way to say it; the C kernel finds the same value by selection,
    in linear time, without sorting.)"""
    return _reduce(_line_median, tensor, axis)


def std(tensor, sample=False, axis=None):
    """Standard deviation: the square root of the average squared distance from the mean
    (divide by n, or by n - 1 when `sample` is True)."""
    return _reduce(lambda values: _line_std(values, sample), tensor, axis)


def calculate_e(terms):
    """Euler's number from its factorial series e = 1/0! + 1/1! + 1/2! + ..., `terms` terms.

    About 18 terms already give every digit a float holds; the factorials grow so fast that a
    million terms would take minutes, so `terms` is kept to at most 10000.

    >>> calculate_e(18)
    2.7182818284590455
    """
    if isinstance(terms, bool) or not isinstance(terms, int) or not 0 <= terms <= 10_000:
        raise ValueError(f"terms must be a whole number from 0 to 10000, not {terms!r}")
    e = 0.0
    factorial = 1
    for n in range(terms):
        if n > 0:
            factorial = factorial * n
        e = e + 1 / factorial
    return e
