"""Element-wise arithmetic, dot and shape operations: against NumPy (same dtype, exact where IEEE
says so) and the formulaic references, on edge values, broadcasting pairs, bad inputs."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fpkernels as fk
from fpkernels import formulaic

BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
SCALAR = {"add_scalar": np.add, "sub_scalar": np.subtract, "mul_scalar": np.multiply,
          "div_scalar": np.divide}
EDGE = [0.0, -0.0, 1e-45, -1e-45, 5e-324, 1e-30, -1e-30, 1.0, -1.0, 2.5, 88.0, -88.0, 1e4,
        3e38, -3e38, 1e300, np.inf, -np.inf, np.nan]


def edge_values(dtype):
    with np.errstate(over="ignore"):
        return np.array(EDGE, dtype=dtype)


def assert_same(got, want):
    """Same dtype, shape and bits (NaN equal to NaN, -0 distinct from +0)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


# ---- a op b --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_numpy_on_edge_values(name, dtype, threads):
    values = edge_values(dtype)
    a, b = np.meshgrid(values, values)
    with np.errstate(all="ignore"):
        assert_same(getattr(fk, name)(a, b), BINARY[name](a, b))


@pytest.mark.parametrize("name", BINARY)
def test_binary_large_random_is_exact(name, dtype, threads):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(300_001).astype(dtype)
    b = rng.standard_normal(300_001).astype(dtype)
    assert_same(getattr(fk, name)(a, b), BINARY[name](a, b))
    # broadcast path with long rows, on threads
    m = rng.standard_normal((301, 1000)).astype(dtype)
    assert_same(getattr(fk, name)(m, b[:1000]), BINARY[name](m, b[:1000]))
    assert_same(getattr(fk, name)(m, m[:, :1]), BINARY[name](m, m[:, :1]))
    assert_same(getattr(fk, name)(m[:, :999:3], m[::-1, 1::3]), BINARY[name](m[:, :999:3], m[::-1, 1::3]))


@pytest.mark.parametrize("name", BINARY)
def test_rows_op_one_row(name, dtype, threads):
    """The fast path of a (..., n) op b (n,) (a layer's z + bias): fresh, in place and every
    case it must hand to the general path, as NumPy computes them."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 3, 8)).astype(dtype)
    row = rng.uniform(0.5, 2, 8).astype(dtype)
    op, f = BINARY[name], getattr(fk, name)
    assert_same(f(a, row), op(a, row))
    inplace = a.copy()
    assert f(inplace, row, out=inplace) is inplace
    assert_same(inplace, op(a, row))
    out = np.empty_like(a)
    assert f(a, row, out=out) is out
    assert_same(out, op(a, row))
    assert_same(f(a[:, :, ::-1], row), op(a[:, :, ::-1], row))         # a not contiguous
    assert_same(f(a, np.repeat(row, 2)[::2]), op(a, np.repeat(row, 2)[::2]))  # b strided
    assert_same(f(a, row.astype(np.float64)), op(a, row.astype(np.float64)))  # promotes
    for overlap in ("b in out", "out shifted over a"):
        whole = np.concatenate([a.ravel(), row])
        if overlap == "b in out":
            x, b, out = whole[:-8].reshape(a.shape).copy(), whole[:8], whole[:-8].reshape(a.shape)
        else:
            x, b, out = whole[8:].reshape(a.shape), row, whole[:-8].reshape(a.shape)
        want = op(x.copy(), b.copy())
        assert_same(f(x, b, out=out), want)
    with pytest.raises(ValueError):
        f(a, row, out=np.empty((5, 3, 7), dtype))
    frozen = a.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(frozen, row, out=frozen)
    assert f(np.empty((0, 8), dtype), row).shape == (0, 8)
    column = a[:, :, :1].copy()                                           # rows of one
    assert_same(f(column, row[:1]), op(column, row[:1]))
    misaligned = np.frombuffer(bytearray(a.nbytes + 1), dtype, a.size, offset=1).reshape(a.shape)
    with pytest.raises(ValueError, match="aligned"):                     # as for same shapes
        f(a, row, out=misaligned)
    misaligned[...] = a
    assert_same(f(misaligned, row), op(a, row))                           # a copy is read


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, max_side=4),
       data=st.data())
def test_binary_broadcasting_pairs(shapes, data):
    name = data.draw(st.sampled_from(sorted(BINARY)))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    elements = st.floats(-1e6, 1e6, width=32)
    a = data.draw(hnp.arrays(dtype, shapes.input_shapes[0], elements=elements))
    b = data.draw(hnp.arrays(dtype, shapes.input_shapes[1], elements=elements))
    with np.errstate(all="ignore"):
        want = BINARY[name](a, b)
    got = getattr(fk, name)(a, b)
    assert got.flags.c_contiguous
    assert_same(got, np.asarray(want))


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 4), (3, 1)),
                                    ((1, 4), (3, 1)), ((2, 2), (1, 1))])
def test_binary_matches_formulaic(name, shapes):
    rng = np.random.default_rng(2)
    a = rng.uniform(-3, 3, shapes[0])
    b = rng.uniform(0.5, 3, shapes[1])
    want = getattr(formulaic, name)(a.tolist(), b.tolist())
    np.testing.assert_allclose(getattr(fk, name)(a, b), np.array(want), rtol=1e-15)


def test_broadcastable_rule():
    assert formulaic.broadcastable((3, 4), (1, 4))
    assert formulaic.broadcastable((3, 1), (1, 4))
    assert not formulaic.broadcastable((3, 4), (2, 4))


def test_binary_promotion():
    f32 = np.ones(3, np.float32)
    assert fk.add(f32, f32).dtype == np.float32
    assert fk.add(f32, np.ones(3)).dtype == np.float64
    assert fk.add(np.arange(3), np.arange(3)).dtype == np.float64
    assert fk.add(np.ones(3, bool), np.ones(3, np.int8)).dtype == np.float64
    assert fk.add(np.ones(3, np.float16), np.ones(3, np.float16)).dtype == np.float32
    assert fk.add([1, 2], [3.5, 4]).tolist() == [4.5, 6.0]
    assert fk.mul(2.0, 3.0) == 6.0 and fk.mul(2.0, 3.0).shape == ()


ARRAY_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_]
SCALARS = [1.5, 2, True, np.float64(1.5), np.float32(1.5), np.float16(1.5), np.int64(2),
           np.int8(2), np.bool_(True), np.array(1.5), np.array(1.5, np.float32)]


def numpy_dtype(dtype):
    """The dtype fpkernels computes NumPy's result dtype in (float16: float32, ints: float64)."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(
        np.float32 if dtype == np.float16 else np.float64)


@pytest.mark.parametrize("array_dtype", ARRAY_DTYPES)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
def test_binary_with_a_scalar_promotes_as_numpy(array_dtype, scalar):
    """Issue: fk.add(x32, 1.0) gave float64 (NumPy 2: float32, NEP 50's weak Python scalars),
    so out= a float32 array raised. NumPy scalars and 0-d arrays stay strong, as in NumPy."""
    x = np.array([1, 2, 3]).astype(array_dtype)
    for name, ufunc in BINARY.items():
        if array_dtype == np.bool_ and name == "sub" and np.asarray(scalar).dtype == bool:
            ufunc = np.add                              # NumPy refuses bool - bool; same dtype
        for args in ((x, scalar), (scalar, x)):
            want = numpy_dtype(ufunc(*args).dtype)
            assert getattr(fk, name)(*args).dtype == want, (name, args)
        assert getattr(fk, f"{name}_scalar")(x, scalar).dtype == want
    assert fk.power(x, scalar).dtype == numpy_dtype(np.power(x, scalar).dtype)


def test_binary_python_scalar_keeps_float32_out():
    x = np.arange(3, dtype=np.float32)
    out = np.empty(3, np.float32)
    assert fk.add(x, 1.0, out=out) is out and out.tolist() == [1, 2, 3]
    assert fk.mul(x, 2, out=out) is out and out.tolist() == [0, 2, 4]
    assert fk.sub(1.0, x, out=out) is out and out.tolist() == [1, 0, -1]
    assert fk.div(x, 2.0).dtype == np.float32 and fk.add(1.0, 2).dtype == np.float64
    with pytest.raises(TypeError, match="float64"):
        fk.add(x, np.float64(1.0), out=out)             # a NumPy float64 does upcast
    assert fk.add(x, 2 ** 70).tolist() == (x + 2 ** 70).tolist()   # an int beyond int64, too


@pytest.mark.parametrize("bad", [np.ones(2, complex), np.array(["a", "b"]), np.array([1, None], object)])
def test_binary_bad_dtypes(bad):
    with pytest.raises(TypeError, match=str(bad.dtype)):
        fk.add(bad, np.ones(2))
    with pytest.raises(TypeError, match=str(bad.dtype)):
        fk.sub(np.ones(2), bad)


def test_binary_bad_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        fk.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        fk.mul(np.ones((3, 2)), np.ones((2, 3)))


def test_binary_out_and_in_place(dtype):
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.full((2, 3), 2, dtype)
    want = a + b
    out = np.empty((2, 3), dtype)
    assert fk.add(a, b, out=out) is out
    assert_same(out, want)
    assert fk.add(a, b, out=a) is a
    assert_same(a, want)
    assert fk.div(b, a, out=a) is a
    assert_same(a, b / want)
    row = np.arange(3, dtype=dtype)
    m = np.ones((2, 3), dtype)
    assert fk.sub(m, row, out=m) is m
    assert_same(m, 1 - np.stack([row, row]))


def test_binary_partial_overlap_matches_numpy():
    a = np.arange(10.0)
    b = a.copy()
    fk.add(a[:-1], a[1:], out=a[1:])
    np.add(b[:-1], b[1:], out=b[1:])
    assert_same(a, b)
    a = np.arange(12.0)
    b = a.copy()
    fk.mul(a[:6], a[::2], out=a[6:])
    np.multiply(b[:6], b[::2], out=b[6:])
    assert_same(a, b)


def test_binary_bad_out():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="shape"):
        fk.add(a, a, out=np.empty((3, 2)))
    with pytest.raises(TypeError, match="dtype"):
        fk.add(a, a, out=np.empty((2, 3), np.float32))
    with pytest.raises(TypeError, match="ndarray"):
        fk.add(a, a, out=[[0.0] * 3] * 2)
    read_only = np.empty((2, 3))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fk.add(a, a, out=read_only)
    with pytest.raises(ValueError, match="contiguous"):
        fk.add(a, a, out=np.empty((3, 2)).T)
    # an out that broadcasting would need to shrink into
    with pytest.raises(ValueError):
        fk.add(np.ones((2, 3)), np.ones((1, 3)), out=np.empty((1, 3)))


def test_binary_read_only_and_non_contiguous_inputs(dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 50)).astype(dtype)
    a.flags.writeable = False
    b = rng.standard_normal((50, 40)).astype(dtype).T
    assert_same(fk.add(a, b), a + b)
    assert_same(fk.sub(a[::2, ::-3], b[1::2, ::3]), a[::2, ::-3] - b[1::2, ::3])
    # unaligned data is copied, not read misaligned
    raw = np.zeros(8 * 11 + 1, np.uint8)[1:].view(np.float64)
    raw[:] = np.arange(11)
    assert not raw.flags.aligned
    assert_same(fk.add(raw, raw), 2 * np.arange(11.0))


def test_binary_out_views_exact_and_partial_overlap(dtype):
    """out= on contiguous views (rows of a matrix): exact aliasing through another view object
    is in place; an out that partly overlaps an input gives NumPy's answer (inputs read first)."""
    for name, np_op in BINARY.items():
        got = np.arange(1.0, 25.0, dtype=dtype).reshape(4, 6)
        want = got.copy()
        getattr(fk, name)(got[1], got[2], out=got[1])  # got[1] twice: two objects, one memory
        np_op(want[1], want[2], out=want[1])
        assert_same(got, want)
        flat, flat_want = got.reshape(-1), want.reshape(-1)  # views of the same memory
        getattr(fk, name)(flat[:-3], flat[2:-1], out=flat[1:-2])  # shifted: a and b overlap out
        np_op(flat_want[:-3], flat_want[2:-1], out=flat_want[1:-2])
        assert_same(got, want)


def test_scalar_ops_out_views_exact_and_partial_overlap(dtype):
    for name, np_op in SCALAR.items():
        got = np.arange(1.0, 13.0, dtype=dtype)
        want = got.copy()
        getattr(fk, name)(got[2:8], 3.0, out=got[2:8])
        np_op(want[2:8], 3.0, out=want[2:8])
        assert_same(got, want)
        getattr(fk, name)(got[:-1], 2, out=got[1:])
        np_op(want[:-1], 2, out=want[1:])
        assert_same(got, want)


def test_small_calls_take_the_fast_path(monkeypatch, dtype):
    """Same-shape contiguous arrays (owned, views, in place) never reach the general path: it
    costs several times the fast one on small arrays (benchmarks/bench_ops.py, call overhead)."""
    from fpkernels import ops

    def general(*args, **kwargs):
        raise AssertionError("took the general path")

    monkeypatch.setattr(ops, "_binary_general", general)
    monkeypatch.setattr(ops, "_unary", general)
    m = np.arange(1.0, 49.0, dtype=dtype).reshape(3, 16)
    a, b, out = m[0].copy(), m[1].copy(), np.empty(16, dtype)
    assert fk.add(a, b, out=out) is out and np.array_equal(out, a + b)
    assert np.array_equal(fk.mul(a, b), a * b)
    assert fk.sub(m[0], m[1], out=m[2]) is not None and np.array_equal(m[2], a - b)
    assert fk.div(a, b, out=a) is a
    assert fk.mul_scalar(b, 2.0, out=out) is out and np.array_equal(out, 2 * b)
    assert fk.add_scalar(m[1], 1, out=m[1]) is not None and np.array_equal(m[1], b + 1)


def test_binary_empty():
    assert fk.add(np.ones((0, 3)), np.ones(3)).shape == (0, 3)
    assert fk.mul(np.ones(0, np.float32), np.ones(0, np.float32)).dtype == np.float32


# ---- x op scalar, power, abs ---------------------------------------------------------------

@pytest.mark.parametrize("name", SCALAR)
def test_scalar_ops_match_numpy(name, dtype, threads):
    values = np.concatenate([edge_values(dtype),
                             np.random.default_rng(4).standard_normal(100_000).astype(dtype)])
    for s in (2.5, -0.0, 0, 3, 1e-3, np.inf):
        with np.errstate(all="ignore"):
            want = SCALAR[name](values, dtype.type(s))
            assert_same(getattr(fk, name)(values, s), want)
            out = values.copy()
            assert getattr(fk, name)(out, s, out=out) is out
            assert_same(out, want)


def test_scalar_ops_promotion_and_formulaic():
    f32 = np.ones(3, np.float32)
    assert fk.add_scalar(f32, 1e-3).dtype == np.float32  # a Python float keeps float32
    assert fk.add_scalar(f32, 2).dtype == np.float32
    assert fk.add_scalar(f32, np.float64(2)).dtype == np.float64  # NumPy 2 rules for numpy scalars
    assert fk.mul_scalar(np.arange(3), 2).dtype == np.float64
    rows = [[1.0, -2.0], [3.5, 0.25]]
    for name in SCALAR:
        np.testing.assert_array_equal(getattr(fk, name)(np.array(rows), 4.0),
                                      getattr(formulaic, name)(rows, 4.0))
    np.testing.assert_array_equal(fk.div_scalar(np.array([[1.0, -1.0, 0.0]]), 0.0),
                                  formulaic.div_scalar([[1.0, -1.0, 0.0]], 0.0))


@pytest.mark.parametrize("bad", [1j, "2", None, [1.0], np.ones(2)])
def test_scalar_ops_bad_scalar(bad):
    with pytest.raises(TypeError):
        fk.add_scalar(np.ones(3), bad)
    with pytest.raises(TypeError):
        fk.power(np.ones(3), bad)


@pytest.mark.parametrize("p", [2, 1, 0, -1, 0.5, 3, -2.5, 1.5, 1 / 3])
def test_power_matches_numpy(p, dtype, threads):
    x = np.concatenate([edge_values(dtype), -edge_values(dtype),
                        np.random.default_rng(5).uniform(-10, 10, 70_000).astype(dtype)])
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), float(dtype.type(p))).astype(dtype)  # p rounds to dtype
    got = fk.power(x, p)
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_power_negative_base_fractional_is_nan_and_formulaic():
    assert np.isnan(fk.power(np.array([-8.0]), 1 / 3))[0]
    assert fk.power(np.array([-2.0]), 3)[0] == -8.0
    assert fk.power(np.array([0.0]), -1)[0] == np.inf
    # p = 0.5 is the square root, as in NumPy: -0 stays -0, -inf gives NaN
    with np.errstate(invalid="ignore"):
        want = np.power([-0.0, -np.inf, 4.0], 0.5)
    assert_same(fk.power(np.array([-0.0, -np.inf, 4.0]), 0.5), want)
    rows = [[4.0, 2.0], [0.5, 9.0]]
    for p in (2, 0.5, -1, 1.7):
        np.testing.assert_allclose(fk.power(np.array(rows), p), formulaic.power(rows, p), rtol=1e-15)
    assert np.isnan(formulaic.power([[-8.0]], 0.5)[0][0])


def test_abs(dtype, threads):
    x = np.concatenate([edge_values(dtype), -edge_values(dtype),
                        np.random.default_rng(6).standard_normal(70_000).astype(dtype)])
    assert_same(fk.abs(x), np.abs(x))
    out = x.copy()
    assert fk.abs(out, out=out) is out
    assert_same(out, np.abs(x))
    rows = [[-1.5, 0.0], [-0.0, 2.0]]
    assert_same(fk.abs(np.array(rows)), np.array(formulaic.abs(rows)))
    assert fk.abs([-1, 2]).dtype == np.float64


# ---- dot -----------------------------------------------------------------------------------

def test_dot(dtype, threads):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(1_000_003).astype(dtype)
    b = rng.standard_normal(1_000_003).astype(dtype)
    got = fk.dot(a, b)
    assert type(got) is dtype.type
    want = np.dot(a.astype(np.float64), b.astype(np.float64))
    assert abs(got - want) <= 1e-6 * np.dot(np.abs(a), np.abs(b).astype(np.float64))
    assert fk.dot(a[:5].tolist(), b[:5].tolist()) == pytest.approx(
        formulaic.dot(a[:5].astype(float).tolist(), b[:5].astype(float).tolist()), rel=1e-6)
    assert fk.dot(np.ones(0), np.ones(0)) == 0.0
    assert fk.dot(a[::2], b[::2]) == pytest.approx(np.dot(a[::2].astype(float), b[::2]), rel=1e-4)


def test_dot_same_bits_on_any_thread_count():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 1_000_000)).astype(np.float32)
    with fk.num_threads(1):
        one = fk.dot(a, b)
    with fk.num_threads(2):
        two = fk.dot(a, b)
    assert one.tobytes() == two.tobytes()


def test_dot_bad_inputs():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        fk.dot(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        fk.dot(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="length"):
        formulaic.dot([1.0], [1.0, 2.0])
    with pytest.raises(TypeError, match="complex"):
        fk.dot(np.ones(2, complex), np.ones(2))
    assert np.isnan(fk.dot([np.nan, 1.0], [1.0, 1.0]))
    assert fk.dot([np.inf, 1.0], [1.0, 1.0]) == np.inf


# ---- shape operations ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (33, 65), (257, 130), (0, 4), (4, 0), (1000, 700)])
def test_transpose_2d(shape, dtype, threads):
    x = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    got = fk.transpose(x)
    assert got.flags.c_contiguous
    assert_same(got, np.ascontiguousarray(x.T))
    if x.size < 100:
        assert got.tolist() == (formulaic.transpose(x.tolist()) if x.size else got.tolist())


def test_transpose_other_ranks_and_strides():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert_same(fk.transpose(x), np.ascontiguousarray(x.T))
    assert_same(fk.transpose(np.arange(3.0)), np.arange(3.0))
    assert_same(fk.transpose(x[0, :, ::2]), np.ascontiguousarray(x[0, :, ::2].T))
    assert fk.transpose([[1, 2]]).dtype == np.float64


@pytest.mark.parametrize("shape,target", [((2, 3), (2, 3)), ((2, 3), (4, 5)), ((1, 1), (3, 1)),
                                          ((0, 3), (2, 4)), ((2, 0), (2, 2)), ((3,), (7,))])
def test_pad(shape, target, dtype):
    x = np.random.default_rng(10).standard_normal(shape).astype(dtype)
    want = np.full(target, 7.5, dtype)
    want[tuple(slice(0, d) for d in shape)] = x
    assert_same(fk.pad(x, target, value=7.5), want)
    if len(shape) == 2 and shape[0]:
        assert fk.pad(x, target, 7.5).tolist() == formulaic.pad(x.tolist(), target, 7.5)


def test_pad_refuses_to_shrink_and_bad_shapes():
    with pytest.raises(ValueError, match=r"\(1, 5\).*\(2, 3\)"):
        fk.pad(np.ones((2, 3)), (1, 5))
    with pytest.raises(ValueError, match="dims"):
        fk.pad(np.ones((2, 3)), (2, 3, 1))
    with pytest.raises(ValueError, match="negative"):
        fk.resize(np.ones((2, 3)), (2, -1))
    with pytest.raises(TypeError):
        fk.pad(np.ones((2, 3)), "big")
    with pytest.raises(TypeError):
        fk.pad(np.ones((2, 3)), (3, 4), value="zero")
    with pytest.raises(ValueError, match="only grows"):
        formulaic.pad([[1.0]], (0, 1))


@pytest.mark.parametrize("shape,target", [((4, 5), (2, 3)), ((4, 5), (6, 2)), ((2, 2), (2, 2)),
                                          ((3, 4), (0, 4)), ((3, 4, 5), (2, 6, 3)), ((5,), (2,))])
def test_resize(shape, target, dtype, threads):
    x = np.random.default_rng(11).standard_normal(shape).astype(dtype)
    want = np.full(target, -1.0, dtype)
    common = tuple(slice(0, min(a, b)) for a, b in zip(shape, target))
    want[common] = x[common]
    assert_same(fk.resize(x, target, value=-1), want)
    if len(shape) == 2:
        assert fk.resize(x, target, -1).tolist() == (formulaic.resize(x.tolist(), target, -1.0)
                                                     if target[0] else [])


def test_resize_large_parallel(threads):
    x = np.random.default_rng(12).standard_normal((700, 600)).astype(np.float32)
    want = np.zeros((900, 500), np.float32)
    want[:700] = x[:, :500]
    assert_same(fk.resize(x, (900, 500)), want)
    assert_same(fk.pad(x.T, (600, 800)), np.pad(x.T, ((0, 0), (0, 100))))


def test_flatten_and_reshape():
    x = np.arange(12.0).reshape(3, 4)
    flat = fk.flatten(x.T)
    assert_same(flat, x.T.ravel())
    assert not np.shares_memory(flat, x)
    assert fk.flatten(x).tolist() == formulaic.flatten(x.tolist())
    r = fk.reshape(x, (2, -1))
    assert_same(r, x.reshape(2, 6))
    assert not np.shares_memory(r, x)
    assert fk.reshape(x, 12).shape == (12,)
    assert fk.reshape(x, [2, 3, 2]).tolist() == formulaic.reshape(x.tolist(), (2, 3, 2))
    assert formulaic.reshape(x.tolist(), (-1, 6)) == x.reshape(-1, 6).tolist()
    assert fk.flatten([[1, 2]]).dtype == np.float64
    assert fk.reshape(np.float32(3), (1, 1)).dtype == np.float32


def test_reshape_bad_shapes():
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        fk.reshape(x, (5, 2))
    with pytest.raises(ValueError, match="more than one -1"):
        fk.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match=r"\(5, -1\)"):
        fk.reshape(x, (5, -1))
    with pytest.raises(ValueError, match="negative"):
        fk.reshape(x, (-3, -4))
    with pytest.raises(ValueError):
        formulaic.reshape(x.tolist(), (5, 2))


def test_shape_product():
    assert fk.shape_product(()) == 1 == formulaic.shape_product(())
    assert fk.shape_product((3, 4, 5)) == 60 == formulaic.shape_product((3, 4, 5))
    assert fk.shape_product((3, 0)) == 0
    assert fk.shape_product(7) == 7
    assert fk.shape_product(np.ones((2, 3)).shape) == 6
    assert fk.shape_product((2**40, 2**40)) == 2**80  # Python ints: no overflow
    with pytest.raises(ValueError, match="negative"):
        fk.shape_product((2, -1))
    with pytest.raises(TypeError):
        fk.shape_product((2.5, 1))


def test_calculate_e():
    assert formulaic.calculate_e(1) == 1.0
    assert formulaic.calculate_e(2) == 2.0
    assert formulaic.calculate_e(20) == pytest.approx(np.e, rel=1e-15)


def test_formulaic_matmul():
    a = np.random.default_rng(13).standard_normal((3, 4))
    b = np.random.default_rng(14).standard_normal((4, 2))
    np.testing.assert_allclose(formulaic.matmul(a.tolist(), b.tolist()), a @ b, rtol=1e-13)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 4\)"):
        formulaic.matmul(a.tolist(), a.tolist())


@pytest.mark.parametrize("name", BINARY)
def test_binary_streaming_stores_for_large_arrays(name, dtype, threads):
    """Outputs of 32 MiB and more are written with streaming stores (head, vectors, tail)."""
    n = (32 << 20) // dtype.itemsize + 13
    rng = np.random.default_rng(15)
    a = rng.standard_normal(n).astype(dtype)
    b = rng.uniform(0.5, 2, n).astype(dtype)
    want = BINARY[name](a, b)
    assert_same(getattr(fk, name)(a, b), want)
    storage = np.empty(n + 1, dtype)
    out = storage[1:]  # one element past a 64-byte boundary
    assert getattr(fk, name)(a, b, out=out) is out
    assert_same(out, want)
    assert getattr(fk, name)(a, b, out=a) is a
    assert_same(a, want)


@pytest.mark.parametrize("name", SCALAR)
def test_scalar_ops_streaming_stores_for_large_arrays(name, dtype, threads):
    """x op s with an output of 32 MiB or more: streaming stores too."""
    n = (32 << 20) // dtype.itemsize + 7
    x = np.random.default_rng(16).standard_normal(n).astype(dtype)
    want = SCALAR[name](x, dtype.type(1.7))
    assert_same(getattr(fk, name)(x, 1.7), want)
    out = np.empty(n + 3, dtype)[3:]  # three elements past a 64-byte boundary
    assert getattr(fk, name)(x, 1.7, out=out) is out
    assert_same(out, want)


def unaligned(values, dtype=np.float64):
    """A C-contiguous array whose data is not aligned to its element size."""
    values = np.asarray(values, dtype)
    raw = np.zeros(values.nbytes + 1, np.uint8)[1:].view(dtype)
    raw[:] = values
    assert not raw.flags.aligned
    return raw


def test_unaligned_inputs_are_copied():
    x = unaligned(np.arange(1.0, 12.0))
    want = np.arange(1.0, 12.0)
    assert_same(fk.add(x, x), 2 * want)
    assert_same(fk.mul_scalar(x, 2.0), 2 * want)
    assert_same(fk.power(x, 2), want ** 2)
    assert_same(fk.abs(-x), want)
    assert_same(fk.transpose(x.reshape(1, 11)), want.reshape(11, 1))
    assert_same(fk.resize(x, (12,)), np.append(want, 0.0))
    assert fk.dot(x, x) == np.dot(want, want)
    assert_same(fk.mul(x, x.reshape(11, 1))[3], want * 4)
    with pytest.raises(ValueError, match="aligned"):  # in place on misaligned data: refused
        fk.add(x, want, out=x)
    out = unaligned(np.zeros(11))
    with pytest.raises(ValueError, match="aligned"):  # the project's rule for out= (_core.output)
        fk.add(want, want, out=out)
    with pytest.raises(ValueError, match="aligned"):
        fk.sub_scalar(want, 1.0, out=out)
