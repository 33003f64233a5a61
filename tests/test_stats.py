"""Statistics: sum, mean, min, max, median, std over all elements or one axis, against a float64
NumPy evaluation and the formulaic references; edge values, empties, determinism across threads."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fpkernels as fk
from fpkernels import formulaic

REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max, "median": np.median,
    "std": np.std,
}


def reference(name, x, axis=None, sample=False):
    """The float64 NumPy answer, in x's compute dtype."""
    x64 = np.asarray(x, dtype=np.float64)
    if name == "std":
        return np.std(x64, axis=axis, ddof=1 if sample else 0)
    return REDUCTIONS[name](x64, axis=axis)


def tolerance(name, dtype):
    if name in ("min", "max", "median"):
        return 0.0
    return 8 * np.finfo(dtype).eps


def check_close(got, want, name, dtype, scale=None):
    rtol = tolerance(name, dtype)
    want = np.asarray(want).astype(dtype)
    got = np.asarray(got)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    if rtol == 0:
        np.testing.assert_array_equal(got, want)
    else:
        atol = 0 if scale is None else rtol * scale
        finite = np.isfinite(want)
        np.testing.assert_array_equal(got[~finite], want[~finite])
        error = np.abs(got.astype(np.float64) - want)[finite]
        bound = (rtol * np.abs(want.astype(np.float64)) + atol)[finite]
        assert np.all(error <= bound), (error - bound).max()


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("shape", [(1,), (7,), (4097,), (300_001,), (33, 129), (2, 3, 4), (600, 700)])
def test_reductions_match_numpy(name, shape, dtype, threads):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype) + 0.5
    axes = [None] + list(range(-len(shape), len(shape)))
    for axis in axes:
        got = getattr(fk, name)(x, axis=axis)
        if axis is None:
            assert type(got) is dtype.type
        # absolute scale for the cancellation in sums of mixed signs
        scale = None
        if name in ("sum", "mean"):
            scale = getattr(np, name)(np.abs(x.astype(np.float64)), axis=axis)
        check_close(got, reference(name, x, axis), name, dtype, scale)


@given(x=hnp.arrays(st.sampled_from([np.float32, np.float64]),
                    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
                    elements=st.floats(-1e6, 1e6, width=32)),
       data=st.data())
def test_reductions_hypothesis(x, data):
    name = data.draw(st.sampled_from(sorted(REDUCTIONS)))
    axis = data.draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    got = getattr(fk, name)(x, axis=axis)
    want = reference(name, x, axis).astype(x.dtype)
    if name in ("min", "max", "median"):
        if name == "median" and x.dtype == np.float32:
            # the midpoint of two float32 values, rounded once
            np.testing.assert_allclose(got, want, rtol=np.finfo(np.float32).eps)
        else:
            np.testing.assert_array_equal(got, want)
    else:
        scale = np.sum(np.abs(x.astype(np.float64)), axis=axis) + 1e-30
        assert np.all(np.abs(got - want) <= 1e-5 * scale + 1e-30)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_match_formulaic(axis):
    rows = np.random.default_rng(2).uniform(-5, 5, (5, 4)).round(3).tolist()
    x = np.array(rows)
    for name in ("sum", "mean", "min", "max", "median"):
        np.testing.assert_allclose(getattr(fk, name)(x, axis=axis),
                                   getattr(formulaic, name)(rows, axis=axis), rtol=1e-13)
    for sample in (False, True):
        np.testing.assert_allclose(fk.std(x, sample=sample, axis=axis),
                                   formulaic.std(rows, sample=sample, axis=axis), rtol=1e-12)


def test_float32_sum_is_accurate_at_millions():
    x = np.random.default_rng(3).uniform(0, 1, 4_000_000).astype(np.float32)
    want = np.sum(x.astype(np.float64))
    # double accumulators: within one float32 rounding of the exact sum
    assert abs(float(fk.sum(x)) - want) <= np.finfo(np.float32).eps * want
    assert abs(float(fk.mean(x)) - want / x.size) <= np.finfo(np.float32).eps * want / x.size
    y = np.random.default_rng(4).uniform(0, 1, (2000, 1000)).astype(np.float32)
    np.testing.assert_allclose(fk.sum(y, axis=0), np.sum(y.astype(np.float64), axis=0), rtol=2e-7)


@pytest.mark.parametrize("name", ["sum", "mean", "min", "max", "std", "median"])
def test_same_bits_on_one_and_two_threads(name):
    x = np.random.default_rng(5).standard_normal(1_000_000).astype(np.float32)
    m = x.reshape(1000, 1000)
    results = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            results.append([np.asarray(getattr(fk, name)(x)).tobytes()] +
                           [getattr(fk, name)(m, axis=axis).tobytes() for axis in (0, 1)])
    assert results[0] == results[1]


def test_empty_inputs():
    for name in ("mean", "min", "max", "median", "std"):
        with pytest.raises(ValueError, match=f"{name} of an empty array"):
            getattr(fk, name)(np.ones(0))
        with pytest.raises(ValueError, match="length 0"):
            getattr(fk, name)(np.ones((3, 0)), axis=1)
        # reducing a non-empty axis of an empty array gives an empty result, as NumPy
        assert getattr(fk, name)(np.ones((0, 3)), axis=1).shape == (0,)
        with pytest.raises(ValueError, match="empty"):
            getattr(formulaic, name)([])
    assert fk.sum(np.ones(0)) == 0.0 and fk.sum([]).dtype == np.float64
    assert fk.sum(np.ones((3, 0), np.float32), axis=1).tolist() == [0.0, 0.0, 0.0]
    assert fk.sum(np.ones((3, 0)), axis=0).shape == (0,)


def test_std_sample_needs_two():
    assert fk.std([5.0]) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        fk.std([5.0], sample=True)
    with pytest.raises(ValueError, match="at least 2"):
        fk.std(np.ones((3, 1)), sample=True, axis=1)
    with pytest.raises(ValueError, match="at least 2"):
        formulaic.std([5.0], sample=True)
    assert fk.std([1.0, 3.0], sample=True) == pytest.approx(np.sqrt(2))
    with pytest.raises(TypeError):
        fk.std([1.0, 2.0], sample="yes")


def test_std_is_numerically_stable(dtype, threads):
    rng = np.random.default_rng(6)
    offset = 1e4 if dtype == np.float32 else 1e9
    x = (offset + rng.standard_normal(500_000)).astype(dtype)
    want = np.std(x.astype(np.float64))
    assert abs(fk.std(x) - want) <= (1e-3 if dtype == np.float32 else 1e-6) * want
    assert fk.std(np.full(100_000, 3.1, dtype)) == 0.0
    m = x.reshape(500, 1000)
    np.testing.assert_allclose(fk.std(m, axis=0), np.std(m.astype(np.float64), axis=0),
                               rtol=1e-3 if dtype == np.float32 else 1e-6)


@pytest.mark.parametrize("values", [
    [np.nan, 1.0, 2.0], [1.0, 2.0, np.nan], [np.inf, -np.inf], [np.inf, 1.0, 2.0],
    [-np.inf, 1.0], [1.0, -0.0, 0.0], [3e38, 3e38], [-3e38, 3e38, 1.0, 2.0], [1e-45, -1e-45, 0.0],
    [5.0, 5.0, 5.0, 5.0],
])
def test_edge_values_like_numpy(values, dtype):
    x = np.array(values, dtype=dtype)
    with np.errstate(all="ignore"):
        for name in ("min", "max", "median"):
            want = np.asarray(reference(name, x)).astype(dtype)
            got = getattr(fk, name)(x)
            assert np.isnan(got) == np.isnan(want) and (np.isnan(got) or got == want), (name, got, want)
        for name in ("sum", "mean", "std"):
            want = np.asarray(reference(name, x)).astype(dtype)
            got = getattr(fk, name)(x)
            assert np.isnan(got) == np.isnan(want), (name, got, want)
            if np.isfinite(want):
                assert got == pytest.approx(want, rel=1e-6), (name, got, want)
            elif not np.isnan(want):
                assert got == want


def test_nan_anywhere_propagates(threads):
    x = np.random.default_rng(7).standard_normal(400_000)
    x[123_457] = np.nan
    for name in REDUCTIONS:
        assert np.isnan(getattr(fk, name)(x)), name
        along = getattr(fk, name)(x.reshape(400, 1000), axis=1)
        assert np.isnan(along[123]) and not np.isnan(along[122]), name
        down = getattr(fk, name)(x.reshape(400, 1000), axis=0)
        assert np.isnan(down[457]) and not np.isnan(down[456]), name


def test_min_max_find_the_extreme_in_every_block(dtype, threads):
    """Whole-array reductions read each thread's blocks from 4 stretches side by side, then the
    blocks left over one by one: an extreme or a NaN counts in whichever block it lies."""
    n = 4096 * 37 + 5  # 38 blocks of 4096: groups of 4, blocks left over, a short last block
    x = np.random.default_rng(9).standard_normal(n).astype(dtype)
    for block in range(38):
        at = min(block * 4096 + block * 997 % 4096, n - 1)
        for value in (-10.0, 10.0, np.nan):
            y = x.copy()
            y[at] = value
            for name in ("min", "max"):
                got, want = getattr(fk, name)(y), reference(name, y)
                assert np.isnan(got) == np.isnan(want) and (np.isnan(got) or got == want), \
                    (block, value, name)
        y = x.copy()
        y[at] = 1e6
        check_close(fk.sum(y), reference("sum", y), "sum", dtype, scale=1e6)


@pytest.mark.parametrize("pattern", ["sorted", "reversed", "equal", "few", "organ", "sawtooth",
                                     "random"])
@pytest.mark.parametrize("n", [1, 2, 3, 16, 17, 100, 1001, 100_000, 300_000, 300_001])
def test_median_patterns(pattern, n, dtype):
    i = np.arange(n)
    x = {"sorted": i, "reversed": i[::-1], "equal": np.zeros(n), "few": i % 3,
         "organ": np.minimum(i, n - i), "sawtooth": i % 17,
         "random": np.random.default_rng(n).standard_normal(n)}[pattern].astype(dtype)
    copy = x.copy()
    got = fk.median(x)
    np.testing.assert_array_equal(x, copy)  # the input is left alone
    want = dtype.type(np.median(x.astype(np.float64)))
    assert got == want, (got, want)


def test_median_large_matches_numpy(threads):
    x = np.random.default_rng(8).standard_normal(2_000_000).astype(np.float32)
    assert fk.median(x) == np.float32(np.median(x.astype(np.float64)))
    m = x[:1_000_000].reshape(1000, 1000)
    for axis in (0, 1):
        np.testing.assert_array_equal(fk.median(m, axis=axis),
                                      np.median(m.astype(np.float64), axis=axis).astype(np.float32))


@pytest.mark.parametrize("case", ["split", "neighbours", "equal", "clusters", "signed_zeros",
                                  "infinities", "nan_last", "tiny"])
def test_median_histogram_path(case, dtype, threads):
    """Large inputs narrow the search with a radix histogram first: the middle ranks may fall in
    one bucket, in two neighbouring non-empty buckets, or everything may share one bucket."""
    n = 400_000
    rng = np.random.default_rng(11)
    if case == "split":  # even n, the two middle values in far-apart buckets
        x = np.concatenate([np.full(n // 2, -1e30), np.full(n // 2, 5.0)])
    elif case == "neighbours":  # the two middle values share their top 16 bits, not the rest
        x = np.concatenate([np.full(n // 2, 1.0), np.full(n // 2, np.nextafter(np.float32(1), 2))])
    elif case == "equal":
        x = np.full(n, 2.5)
    elif case == "clusters":
        x = np.concatenate([rng.normal(-1e3, 1, n // 2), rng.normal(1e3, 1, n // 2 + 1)])
    elif case == "signed_zeros":
        x = np.where(rng.random(n) < 0.5, -0.0, 0.0)
    elif case == "infinities":
        x = np.concatenate([np.full(n // 2, -np.inf), np.full(n // 2, np.inf)])
    elif case == "nan_last":
        x = rng.standard_normal(n)
        x[-1] = np.nan
    else:
        x = rng.standard_normal(n) * 1e-40
    x = rng.permutation(x).astype(dtype)
    with np.errstate(invalid="ignore"):
        want = dtype.type(np.median(x.astype(np.float64)))
    got = fk.median(x)
    assert (np.isnan(got) and np.isnan(want)) or got == want, (got, want)
    for m in (x[: n - 1], x[1:]):  # odd and even counts
        with np.errstate(invalid="ignore"):
            want = dtype.type(np.median(m.astype(np.float64)))
        got = fk.median(m)
        assert (np.isnan(got) and np.isnan(want)) or got == want, (got, want)


def test_median_midpoint_does_not_overflow():
    assert fk.median(np.array([3e38, 3e38, 3e38, 3.2e38], np.float32)) == np.float32(3e38)
    assert fk.median(np.array([1e308, 1.7e308])) == pytest.approx(1.35e308)
    assert fk.median(np.array([-1e308, -1.7e308])) == pytest.approx(-1.35e308)
    assert fk.median(np.array([-np.inf, np.inf])) != fk.median(np.array([-np.inf, np.inf]))  # NaN
    assert fk.median(np.array([-np.inf, 1.0])) == -np.inf


def test_axis_errors():
    x = np.ones((2, 3))
    for name in REDUCTIONS:
        with pytest.raises(np.exceptions.AxisError):
            getattr(fk, name)(x, axis=2)
        with pytest.raises(np.exceptions.AxisError):
            getattr(fk, name)(x, axis=-3)
        with pytest.raises(TypeError):
            getattr(fk, name)(x, axis=(0, 1))
        with pytest.raises(TypeError):
            getattr(fk, name)(x, axis=True)
        with pytest.raises(np.exceptions.AxisError):
            getattr(fk, name)(np.float64(3.0), axis=0)
        assert getattr(fk, name)(np.float64(3.0)) == (0.0 if name == "std" else 3.0)


def test_dtypes_and_layouts(threads):
    assert fk.sum(np.arange(10)) == 45.0 and fk.sum(np.arange(10)).dtype == np.float64
    assert fk.mean(np.ones(4, bool)) == 1.0
    assert fk.max(np.array([1, 5, 2], np.float16)).dtype == np.float32
    assert fk.median([[1, 2], [3, 4]]) == 2.5
    for bad in (np.ones(2, complex), np.array(["a"]), np.array([None], object)):
        for name in REDUCTIONS:
            with pytest.raises(TypeError, match=str(bad.dtype)):
                getattr(fk, name)(bad)
    x = np.random.default_rng(9).standard_normal((300, 400))
    view = x[::3, ::-2]
    view.flags.writeable = False
    for name in REDUCTIONS:
        np.testing.assert_allclose(getattr(fk, name)(view, axis=0), reference(name, view, 0),
                                   rtol=1e-12, atol=1e-12)


def test_calculate_e_and_mean_of_teaching_example():
    assert formulaic.mean([[1, 2], [3, 6]]) == 3.0
    assert formulaic.median([3.0, 1.0, 2.0]) == 2.0
    assert formulaic.std([2, 4, 4, 4, 5, 5, 7, 9]) == 2.0
    assert formulaic.calculate_e(0) == 0.0 and formulaic.calculate_e(10_000) == formulaic.calculate_e(18)
    for bad in (-5, 2.5, True, 10 ** 6):              # 10**6 would take minutes of big factorials
        with pytest.raises(ValueError, match="terms must be a whole number from 0 to 10000"):
            formulaic.calculate_e(bad)


def test_unaligned_input_is_copied():
    values = np.random.default_rng(12).standard_normal(1001)
    raw = np.zeros(values.nbytes + 1, np.uint8)[1:].view(np.float64)
    raw[:] = values
    assert not raw.flags.aligned
    for name in REDUCTIONS:
        assert getattr(fk, name)(raw) == getattr(fk, name)(values)
        np.testing.assert_array_equal(getattr(fk, name)(raw.reshape(7, 143), axis=0),
                                      getattr(fk, name)(values.reshape(7, 143), axis=0))
