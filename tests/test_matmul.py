"""fk.matmul against the formulaic reference (small sizes) and float64 NumPy (larger, random, edge)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpkernels as fk


def formulaic_matmul(a, b, rows, cols):
    """The teaching reference fk.formulaic.matmul (explicit loops over Python lists). Lists
    cannot show a 0 x k matrix's k, so no rows or an empty inner dimension are done here:
    no rows, or the empty sum (zeros)."""
    if rows == 0 or len(b) == 0:
        return [[0.0] * cols for _ in range(rows)]
    return fk.formulaic.matmul(a, b)


def reference(a, b, transpose_a=False, transpose_b=False):
    """float64 NumPy product of op(a) op(b) (op on the last two axes; 1-D untouched)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if transpose_a and a.ndim >= 2:
        a = np.swapaxes(a, -1, -2)
    if transpose_b and b.ndim >= 2:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b), np.matmul(np.abs(a), np.abs(b))


def assert_close(c, a, b, transpose_a=False, transpose_b=False):
    """c within a rounding bound of the float64 product: |error| <= 2 k eps (|a| @ |b|)."""
    exact, magnitude = reference(a, b, transpose_a, transpose_b)
    k = np.asarray(a).shape[-2 if (transpose_a and np.ndim(a) >= 2) else -1]
    eps = np.finfo(np.asarray(c).dtype).eps
    bound = 2 * max(k, 1) * eps * magnitude + np.finfo(np.asarray(c).dtype).tiny
    assert np.asarray(c).shape == exact.shape
    assert np.all(np.abs(c - exact) <= bound), np.max(np.abs(c - exact) - bound)


def stored(x, transposed):
    """The array to pass for the logical matrix x when its transpose flag is `transposed`."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2)) if transposed else x


# ---- against the formulaic reference ----------------------------------------------------------------

@given(m=st.integers(0, 9), n=st.integers(0, 9), k=st.integers(0, 9),
       transpose_a=st.booleans(), transpose_b=st.booleans(),
       use_f64=st.booleans(), threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**16))
def test_small_against_formulaic(m, n, k, transpose_a, transpose_b, use_f64, threads, seed):
    dtype = np.float64 if use_f64 else np.float32
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2, 2, (m, k)).astype(dtype)
    b = rng.uniform(-2, 2, (k, n)).astype(dtype)
    with fk.num_threads(threads):
        c = fk.matmul(stored(a, transpose_a), stored(b, transpose_b),
                      transpose_a=transpose_a, transpose_b=transpose_b)
    assert c.dtype == dtype and c.shape == (m, n) and c.flags.c_contiguous
    expected = np.array(formulaic_matmul(a.tolist(), b.tolist(), m, n), np.float64).reshape(m, n)
    tolerance = 1e-12 if use_f64 else 2e-6
    np.testing.assert_allclose(c, expected, rtol=tolerance, atol=tolerance * (k + 1))


def test_integer_exact_against_formulaic(dtype):
    a = np.arange(-6, 6, dtype=dtype).reshape(3, 4)
    b = np.arange(8, dtype=dtype).reshape(4, 2)
    assert fk.matmul(a, b).tolist() == fk.formulaic.matmul(a.tolist(), b.tolist())


# ---- against float64 NumPy ---------------------------------------------------------------

SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 4), (2, 3, 1), (13, 17, 19), (14, 32, 384),
          (15, 33, 385), (97, 101, 103), (29, 130, 1), (300, 70, 800), (3, 400, 50),
          (1, 300, 1000), (1000, 1, 800), (1, 1, 2000), (70, 1, 50), (1, 200, 9),  # vectors
          (4, 300, 700), (300, 3, 700), (2, 5, 9), (500, 2, 400), (3, 1, 5), (5, 4, 3),  # few
          (28, 48, 800), (30, 16, 20),  # half-width edge tiles
          (4100, 20, 9), (9, 1100, 600)]  # two blocks of rows (MC); three of columns (NC)


@pytest.mark.parametrize("transpose_b", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("transpose_a", [False, True], ids=["a", "aT"])
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_shapes_and_transposes(m, n, k, transpose_a, transpose_b, dtype, threads):
    rng = np.random.default_rng(m * 1000003 + n * 1009 + k)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = fk.matmul(stored(a, transpose_a), stored(b, transpose_b),
                  transpose_a=transpose_a, transpose_b=transpose_b)
    assert c.dtype == dtype and c.shape == (m, n)
    assert_close(c, a, b)


def test_large_random(dtype, threads):
    rng = np.random.default_rng(7)
    a = rng.uniform(-1, 1, (257, 1031)).astype(dtype)
    b = rng.uniform(-1, 1, (1031, 300)).astype(dtype)
    assert_close(fk.matmul(a, b), a, b)


def test_wide_range_values(dtype):
    rng = np.random.default_rng(3)
    scale = 1e18 if dtype == np.float32 else 1e150
    a = (rng.standard_normal((40, 60)) * np.exp(rng.uniform(-10, 10, (40, 60)))).astype(dtype)
    b = (rng.standard_normal((60, 30)) * scale).astype(dtype)
    assert_close(fk.matmul(a, b), a, b)


@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (0, 0, 0), (3, 4, 0), (1, 1, 0)])
def test_empty_dimensions(shape, dtype):
    m, n, k = shape
    c = fk.matmul(np.ones((m, k), dtype), np.ones((k, n), dtype))
    assert c.shape == (m, n) and c.dtype == dtype
    assert np.all(c == 0)  # k == 0: an empty sum is zero


def test_k_zero_overwrites_out(dtype):
    out = np.full((3, 2), 7.0, dtype)
    result = fk.matmul(np.ones((3, 0), dtype), np.ones((0, 2), dtype), out=out)
    assert result is out and np.all(out == 0)


# ---- determinism ----------------------------------------------------------------------------

@pytest.mark.parametrize("m,n,k", [(200, 300, 150), (301, 97, 1000), (1000, 20, 100),
                                   (20, 1000, 100), (129, 257, 385), (1, 5000, 900),
                                   (3000, 1, 500), (3, 6000, 200), (6000, 2, 200),
                                   (4200, 40, 30), (60, 1300, 600)])
@pytest.mark.parametrize("transposes", [(False, False), (True, True)])
def test_bitwise_identical_on_1_and_2_threads(m, n, k, transposes, dtype):
    rng = np.random.default_rng(11)
    a = stored(rng.standard_normal((m, k)).astype(dtype), transposes[0])
    b = stored(rng.standard_normal((k, n)).astype(dtype), transposes[1])
    results = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            results.append(fk.matmul(a, b, transpose_a=transposes[0], transpose_b=transposes[1]))
    assert results[0].tobytes() == results[1].tobytes()


def test_batched_bitwise_identical_on_1_and_2_threads(dtype):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((40, 30, 40)).astype(dtype)  # big enough to spread over threads
    b = rng.standard_normal((40, 50)).astype(dtype)
    with fk.num_threads(1):
        one = fk.matmul(a, b)
    with fk.num_threads(2):
        two = fk.matmul(a, b)
    assert one.tobytes() == two.tobytes()
    # each matrix of a batch is the same as that matrix on its own
    assert fk.matmul(a[3], b).tobytes() == one[3].tobytes()


# ---- 1-D and batched, as numpy.matmul -----------------------------------------------------

BROADCAST_CASES = [
    ((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((5,), (3, 5, 6)), ((2, 3, 4), (4,)),
    ((3, 4, 5), (5, 2)), ((4, 5), (3, 5, 2)), ((2, 1, 4, 5), (3, 5, 6)), ((1, 4, 5), (3, 5, 6)),
    ((0, 3, 4), (4, 5)), ((2, 3, 0), (2, 0, 5)), ((3, 0), (0, 2)), ((2, 1, 3, 1), (1, 4, 1, 2)),
]


@pytest.mark.parametrize("a_shape,b_shape", BROADCAST_CASES)
def test_like_numpy_matmul(a_shape, b_shape, dtype, threads):
    rng = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    c = fk.matmul(a, b)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert np.shape(c) == expected.shape
    assert np.asarray(c).dtype == dtype
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_vector_dot_vector_is_a_scalar():
    c = fk.matmul(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert np.ndim(c) == 0 and c == 32.0 and type(c) is np.float64


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_batched_transposes_apply_to_last_two_axes(transpose_a, transpose_b, dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 7, 5)).astype(dtype)
    b = rng.standard_normal((3, 5, 4)).astype(dtype)
    c = fk.matmul(stored(a, transpose_a), stored(b, transpose_b),
                  transpose_a=transpose_a, transpose_b=transpose_b)
    assert c.shape == (2, 3, 7, 4)
    assert_close(c, a, b)


def test_transpose_flags_do_nothing_to_vectors():
    v = np.array([1.0, 2.0])
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(fk.matmul(v, m, transpose_a=True), v @ m)
    np.testing.assert_array_equal(fk.matmul(m, v, transpose_b=True), m @ v)
    np.testing.assert_array_equal(fk.matmul(v, m, transpose_b=True), v @ m.T)


# ---- layouts ------------------------------------------------------------------------------

def test_non_contiguous_and_transposed_views(dtype):
    rng = np.random.default_rng(4)
    big = rng.standard_normal((60, 80)).astype(dtype)
    other = rng.standard_normal((80, 60)).astype(dtype)
    for a, b in [(big[::2, ::3], other[:27:1, ::2]),          # strided slices
                 (big.T, big), (big, big.T), (big.T, other.T),  # transposed (Fortran) views
                 (np.asfortranarray(big), other)]:
        assert_close(fk.matmul(a, b), a, b)
    # a transposed view with the transpose flag: op(x.T) is x again
    assert_close(fk.matmul(big.T, other, transpose_a=True), big, other)
    x = rng.standard_normal((4, 6, 5)).astype(dtype)
    assert_close(fk.matmul(np.swapaxes(x, -1, -2), x), np.swapaxes(x, -1, -2), x)


def test_read_only_inputs(dtype):
    a = np.ones((3, 4), dtype)
    a.flags.writeable = False
    np.testing.assert_array_equal(fk.matmul(a, a.T), np.full((3, 3), 4, dtype))


# ---- dtypes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("a_dtype,b_dtype,result", [
    (np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64), (np.int32, np.int32, np.float64),
    (np.bool_, np.bool_, np.float64), (np.float16, np.float16, np.float32),
    (np.int64, np.float32, np.float64), (np.uint8, np.float16, np.float32),
])
def test_dtype_promotion(a_dtype, b_dtype, result):
    a = np.arange(6).reshape(2, 3).astype(a_dtype)
    b = np.arange(12).reshape(3, 4).astype(b_dtype)
    c = fk.matmul(a, b)
    assert c.dtype == result
    np.testing.assert_array_equal(c, np.arange(6).reshape(2, 3) @ np.arange(12).reshape(3, 4)
                                  if a_dtype is not np.bool_ else
                                  a.astype(float) @ b.astype(float))


def test_lists_go_in():
    assert fk.matmul([[1, 2]], [[3], [4]]).tolist() == [[11.0]]


@pytest.mark.parametrize("bad", [np.ones((2, 2), complex), np.array([["a", "b"]] * 2),
                                 np.empty((2, 2), object)])
def test_bad_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError, match=str(bad.dtype)):
        fk.matmul(bad, np.ones((2, 2)))
    with pytest.raises(TypeError):
        fk.matmul(np.ones((2, 2)), bad)


# ---- bad shapes and out= --------------------------------------------------------------------

def test_inner_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        fk.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 5\)"):
        fk.matmul(np.ones((3, 2)), np.ones((3, 5)))  # without transpose_a
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        fk.matmul(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 3\)"):
        fk.matmul(np.ones((2, 3)), np.ones((2, 3)), transpose_b=False)


@pytest.mark.parametrize("bad", ["False", np.nan, 1, 0, None, [True]], ids=repr)
def test_transpose_flags_must_be_bools(bad):
    """Issue: any truthy object transposed ('False' and NaN did). Now only bool / numpy.bool_,
    on the fast 2-D path and the general one alike."""
    a = np.ones((2, 3))
    for args in ((a, a.T), (a.tolist(), a.T), (np.ones((2, 2, 3)), a.T)):
        with pytest.raises(TypeError, match="transpose_a must be True or False"):
            fk.matmul(*args, transpose_a=bad)
        with pytest.raises(TypeError, match="transpose_b must be True or False"):
            fk.matmul(*args, transpose_b=bad)
    np.testing.assert_array_equal(fk.matmul(a, a, transpose_b=np.True_), a @ a.T)
    np.testing.assert_array_equal(fk.matmul(a, a.T, transpose_a=np.False_), a @ a.T)


def test_batch_mismatch_and_scalars():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 4, 5\)"):
        fk.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="scalar"):
        fk.matmul(3.0, np.ones((2, 2)))
    with pytest.raises(ValueError, match="scalar"):
        fk.matmul(np.ones((2, 2)), np.float32(2))


def test_out(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.arange(12, dtype=dtype).reshape(3, 4)
    out = np.empty((2, 4), dtype)
    assert fk.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, a @ b)
    out1 = np.empty(3, dtype)
    assert fk.matmul(np.ones(4, dtype), np.ones((4, 3), dtype), out=out1) is out1
    out0 = np.empty((), dtype)
    assert fk.matmul(np.ones(4, dtype), np.ones(4, dtype), out=out0) is out0 and out0 == 4


def test_bad_out(dtype):
    a, b = np.ones((2, 3), dtype), np.ones((3, 4), dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        fk.matmul(a, b, out=np.empty((4, 2), dtype))
    with pytest.raises(TypeError, match="dtype"):
        fk.matmul(a, b, out=np.empty((2, 4), other))
    with pytest.raises(TypeError):
        fk.matmul(a, b, out=[[0.0] * 4] * 2)
    readonly = np.empty((2, 4), dtype)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fk.matmul(a, b, out=readonly)
    with pytest.raises(ValueError, match="contiguous"):
        fk.matmul(a, b, out=np.empty((4, 2), dtype).T)


def test_out_aliasing_an_input(dtype):
    rng = np.random.default_rng(9)
    a = rng.standard_normal((40, 40)).astype(dtype)
    b = rng.standard_normal((40, 40)).astype(dtype)
    expected = fk.matmul(a, b)
    a_copy, b_copy = a.copy(), b.copy()
    assert fk.matmul(a_copy, b, out=a_copy) is a_copy
    np.testing.assert_array_equal(a_copy, expected)
    assert fk.matmul(a, b_copy, out=b_copy) is b_copy
    np.testing.assert_array_equal(b_copy, expected)
    square = a.copy()
    fk.matmul(square, square, out=square)
    np.testing.assert_array_equal(square, fk.matmul(a, a))
    buffer = np.zeros(2 * 40 * 40, dtype)  # out overlapping half of `a` in one buffer
    first, second = buffer[:1600].reshape(40, 40), buffer[800:2400].reshape(40, 40)
    first[...] = a
    fk.matmul(first, b, out=second)
    np.testing.assert_array_equal(second, expected)


# ---- NaN and inf ------------------------------------------------------------------------

def test_nan_in_a_only_affects_its_row(dtype, threads):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((50, 70)).astype(dtype)
    b = rng.standard_normal((70, 90)).astype(dtype)
    a[17, 33] = np.nan
    c = fk.matmul(a, b)
    assert np.all(np.isnan(c[17]))
    rest = np.delete(np.arange(50), 17)
    assert np.all(np.isfinite(c[rest]))
    assert_close(c[rest], a[rest], b)


def test_nan_in_b_only_affects_its_column(dtype):
    a = np.ones((20, 30), dtype)
    b = np.ones((30, 40), dtype)
    b[5, 37] = np.nan
    c = fk.matmul(a, b, transpose_b=False)
    assert np.all(np.isnan(c[:, 37])) and np.isnan(c).sum() == 20


def test_inf_gives_the_limit(dtype):
    a = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 1.0]], dtype)
    b = np.array([[np.inf, 1.0], [1.0, 1.0]], dtype)
    c = fk.matmul(a, b)
    with np.errstate(invalid="ignore"):
        expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(c, expected)  # inf, -inf, and 0*inf = NaN as IEEE 754 says
    assert c[0, 0] == np.inf and c[1, 0] == -np.inf and np.isnan(c[2, 0])


def test_no_overflow_where_the_answer_is_finite():
    big = np.float32(1e30)
    c = fk.matmul(np.array([[big, -big]], np.float32), np.array([[1.0], [1.0]], np.float32))
    assert c[0, 0] == 0  # each product is finite; nothing overflows on the way


def test_batched_large_matrices_use_threads_inside_each(dtype):
    rng = np.random.default_rng(8)
    a = rng.standard_normal((3, 200, 300)).astype(dtype)
    b = rng.standard_normal((300, 250)).astype(dtype)
    results = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            results.append(fk.matmul(a, b))
    assert results[0].tobytes() == results[1].tobytes()
    assert_close(results[0], a, b)


# ---- the C functions directly (for embedders) ------------------------------------------------

def test_c_status_codes():
    from fpkernels._core import ffi, lib
    c = np.empty((2, 2), np.float32)
    a = np.ones((2, 2), np.float32)
    pa, pc = ffi.from_buffer("float[]", a), ffi.from_buffer("float[]", c)
    assert lib.fpk_matmul_f32(pa, pa, pc, 2, 2, 2, 0, 0) == lib.FPK_OK
    assert c.tolist() == [[2, 2], [2, 2]]
    assert lib.fpk_matmul_f32(ffi.NULL, pa, pc, 2, 2, 2, 0, 0) == lib.FPK_ERR_NULL
    assert lib.fpk_matmul_f32(pa, pa, ffi.NULL, 2, 2, 2, 0, 0) == lib.FPK_ERR_NULL
    assert lib.fpk_matmul_f32(ffi.NULL, ffi.NULL, ffi.NULL, 0, 0, 5, 0, 0) == lib.FPK_OK
    assert lib.fpk_matmul_f32(pa, pa, pc, 2**62, 2**62, 2, 0, 0) == lib.FPK_ERR_OVERFLOW
    assert lib.fpk_matmul_batched_f32(pa, pa, pc, 1, 2, 2, 2, 0, 0, ffi.NULL, ffi.NULL) \
        == lib.FPK_ERR_NULL
    offsets = np.zeros(1, np.int64)
    po = ffi.from_buffer("int64_t[]", offsets)
    assert lib.fpk_matmul_batched_f32(pa, pa, pc, 1, 2, 2, 2, 1, 1, po, po) == lib.FPK_OK
    assert c.tolist() == [[2, 2], [2, 2]]


def test_many_python_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(12)
    pairs = [(rng.standard_normal((150, 120)).astype(np.float32),
              rng.standard_normal((120, 170)).astype(np.float32)) for _ in range(8)]
    expected = [fk.matmul(a, b) for a, b in pairs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda pair: fk.matmul(*pair), pairs * 3))
    for i, result in enumerate(results):
        assert result.tobytes() == expected[i % 8].tobytes()
