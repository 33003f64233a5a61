"""Normalisation: zscore and minmax against the formulaic references and NumPy, edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import fpkernels as fk
from fpkernels import formulaic


def numpy_zscore(x, axis=None):
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    n = x.size if axis is None else x.shape[axis]
    std = np.sqrt(((x - mean) ** 2).sum(axis=axis, keepdims=True) / (n - 1)) if n > 1 \
        else np.zeros_like(mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(std == 0, 0.0, (x - mean) / std), mean, std


def numpy_minmax(x, axis=None, low=0.0, high=1.0):
    x = np.asarray(x, np.float64)
    lo, hi = x.min(axis=axis, keepdims=True), x.max(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hi == lo, low, low + (x - lo) / (hi - lo) * (high - low)), lo, hi


def tolerance(dtype):
    return 2e-5 if dtype == np.float32 else 1e-12


# ---- against the formulaic references ----

@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40))
def test_zscore_matches_formulaic(values):
    ours = fk.zscore(np.array(values))
    np.testing.assert_allclose(ours, formulaic.zscore(values), rtol=1e-9, atol=1e-9)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40),
       st.sampled_from([(0, 1), (-1, 1), (2.5, 7)]))
def test_minmax_matches_formulaic(values, feature_range):
    ours = fk.minmax(np.array(values), feature_range=feature_range)
    np.testing.assert_allclose(ours, formulaic.minmax(values, *feature_range), rtol=1e-9,
                               atol=1e-9)


@pytest.mark.parametrize("values", [[3.0], [2.0, 2.0, 2.0], [1.0, 2.0, 4.0, 8.0]])
def test_small_cases_both_dtypes(values, dtype, threads):
    x = np.array(values, dtype)
    np.testing.assert_allclose(fk.zscore(x), formulaic.zscore(values), rtol=tolerance(dtype))
    np.testing.assert_allclose(fk.minmax(x), formulaic.minmax(values), rtol=tolerance(dtype))
    assert fk.zscore(x).dtype == dtype and fk.minmax(x).dtype == dtype


# ---- against NumPy in float64, large and per axis ----

SHAPES_AXES = [((200_000,), None), ((200_000,), 0), ((300, 500), None), ((300, 500), 0),
               ((300, 500), 1), ((300, 500), -1), ((20, 30, 70), 1), ((4, 50_000), 0),
               ((50_000, 3), 1), ((7, 1), 0), ((1, 9), 0)]


@pytest.mark.parametrize("shape, axis", SHAPES_AXES)
def test_against_numpy(shape, axis, dtype, threads):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 10).astype(dtype)
    z, mean, std = fk.zscore(x, axis=axis, return_stats=True)
    z_ref, mean_ref, std_ref = numpy_zscore(x, axis)
    assert z.dtype == dtype and mean.shape == mean_ref.shape == std.shape
    np.testing.assert_allclose(mean, mean_ref, rtol=tolerance(dtype))
    np.testing.assert_allclose(std, std_ref, rtol=tolerance(dtype))
    np.testing.assert_allclose(z, z_ref, rtol=10 * tolerance(dtype), atol=10 * tolerance(dtype))
    y, lo, hi = fk.minmax(x, axis=axis, feature_range=(-1, 1), return_stats=True)
    y_ref, lo_ref, hi_ref = numpy_minmax(x, axis, -1, 1)
    np.testing.assert_array_equal(lo, lo_ref.astype(dtype))
    np.testing.assert_array_equal(hi, hi_ref.astype(dtype))
    np.testing.assert_allclose(y, y_ref, rtol=tolerance(dtype), atol=tolerance(dtype))
    np.testing.assert_allclose(fk.zscore_inverse(z, mean, std), x, rtol=10 * tolerance(dtype),
                               atol=10 * tolerance(dtype) * 10)
    np.testing.assert_allclose(fk.minmax_inverse(y, lo, hi, feature_range=(-1, 1)), x,
                               rtol=10 * tolerance(dtype), atol=10 * tolerance(dtype) * 10)


@pytest.mark.parametrize("shape, axis", [((1_000_003,), None), ((600, 700), 0), ((700, 600), 1)])
def test_bitwise_same_on_1_and_2_threads(shape, axis, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    results = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            results.append([a.tobytes() for a in fk.zscore(x, axis=axis, return_stats=True)]
                           + [a.tobytes() for a in fk.minmax(x, axis=axis, return_stats=True)])
    assert results[0] == results[1]


def test_large_offset_data_is_accurate():
    """A big mean and a small spread: the two-pass/Chan statistics keep the digits."""
    x = 1e8 + np.random.default_rng(2).standard_normal(1_000_000)
    z, mean, std = fk.zscore(x, return_stats=True)
    assert abs(mean.item() - x.mean()) < 1e-6
    assert abs(std.item() / x.std(ddof=1) - 1) < 1e-9


# ---- constant data, NaN, inf ----

def test_constant_and_single_element():
    z, mean, std = fk.zscore([5.0, 5.0, 5.0], return_stats=True)
    assert (z == 0).all() and mean.item() == 5 and std.item() == 0
    assert fk.zscore([7.0]).tolist() == [0.0]
    assert fk.zscore(np.float32(3)).shape == () and fk.zscore(3.0) == 0
    y, lo, hi = fk.minmax([4.0, 4.0], feature_range=(-1, 2), return_stats=True)
    assert y.tolist() == [-1.0, -1.0]
    np.testing.assert_array_equal(fk.minmax_inverse(y, lo, hi, feature_range=(-1, 2)), [4, 4])
    np.testing.assert_array_equal(fk.zscore_inverse(z, mean, std), [5, 5, 5])
    table = np.array([[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]])
    np.testing.assert_allclose(fk.zscore(table, axis=0)[:, 1], 0)
    np.testing.assert_allclose(fk.minmax(table, axis=0), [[0, 0], [0.5, 0], [1, 0]])
    np.testing.assert_allclose(fk.zscore(table[:1], axis=0), 0)      # n = 1 per column


def test_nan_propagates_per_slice():
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    z = fk.zscore(x, axis=1)
    assert np.isnan(z[0]).all() and np.isfinite(z[1]).all()
    y = fk.minmax(x, axis=1)
    assert np.isnan(y[0]).all() and y[1].tolist() == [0.0, 0.5, 1.0]
    assert np.isnan(fk.zscore(x)).all() and np.isnan(fk.minmax(x)).all()
    col = fk.minmax(x, axis=0)
    assert np.isnan(col[:, 1]).all() and np.isfinite(col[:, [0, 2]]).all()
    big = np.ones(100_000)
    big[77_777] = np.nan
    assert np.isnan(fk.minmax(big)).all() and np.isnan(fk.zscore(big)).all()


def test_infinity():
    y = fk.minmax([0.0, 1.0, np.inf])
    assert np.isnan(y[-1])                           # (inf - 0) / inf has no value
    assert np.isnan(fk.zscore([0.0, np.inf])).all()


# ---- conventions ----

def test_dtypes_and_conversions():
    assert fk.zscore([1, 2, 3]).dtype == np.float64
    assert fk.zscore(np.array([True, False, True])).dtype == np.float64
    assert fk.minmax(np.array([1, 2], np.float16)).dtype == np.float32
    for bad in (np.array([1 + 1j, 2]), np.array(["a", "b"]), np.array([object(), 1])):
        with pytest.raises(TypeError):
            fk.zscore(bad)
        with pytest.raises(TypeError):
            fk.minmax(bad)


def test_non_contiguous_and_out():
    x = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]
    np.testing.assert_allclose(fk.zscore(x, axis=0), numpy_zscore(x, 0)[0])
    out = np.empty((4, 3))
    assert fk.zscore(x, axis=0, out=out) is out
    y = np.array([1.0, 2.0, 5.0])
    assert fk.minmax(y, out=y) is y and y.tolist() == [0.0, 0.25, 1.0]   # in place
    with pytest.raises(ValueError):
        fk.zscore(x, out=np.empty((3, 4)))
    with pytest.raises(TypeError):
        fk.zscore(x, out=np.empty((4, 3), np.float32))
    readonly = np.empty((4, 3))
    readonly.flags.writeable = False
    with pytest.raises(ValueError):
        fk.zscore(x, out=readonly)


def test_empty_and_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        fk.zscore([])
    with pytest.raises(ValueError, match="empty"):
        fk.minmax(np.ones((3, 0)), axis=1)
    assert fk.zscore(np.ones((0, 4)), axis=1).shape == (0, 4)
    z, mean, std = fk.zscore(np.ones((0, 4)), axis=1, return_stats=True)
    assert mean.shape == (0, 1)
    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
        fk.zscore(np.ones((2, 2)), axis=2)
    with pytest.raises(TypeError):
        fk.zscore(np.ones(3), axis=1.0)
    with pytest.raises(TypeError):
        fk.zscore(np.ones(3), axis=True)
    for bad in [(1, 1), (2, 1), (0,), "ab", (0, np.inf)]:
        with pytest.raises(ValueError):
            fk.minmax([1.0, 2.0], feature_range=bad)
    with pytest.raises(ValueError, match="broadcast"):
        fk.zscore_inverse(np.ones((2, 3)), np.ones((1, 2)), np.ones((1, 2)))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=6),
                  elements=st.floats(-1e6, 1e6)), st.integers(0, 1))
def test_round_trip_property(x, axis):
    z, mean, std = fk.zscore(x, axis=axis, return_stats=True)
    np.testing.assert_allclose(fk.zscore_inverse(z, mean, std), x, rtol=1e-9, atol=1e-6)
    y, lo, hi = fk.minmax(x, axis=axis, return_stats=True)
    assert ((y >= 0) & (y <= 1)).all()
    np.testing.assert_allclose(fk.minmax_inverse(y, lo, hi), x, rtol=1e-9, atol=1e-6)


def test_misaligned_input():
    buffer = np.zeros(8 * 5 + 1, np.uint8)
    x = buffer[1:].view(np.float64)
    x[:] = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert not x.flags.aligned
    np.testing.assert_allclose(fk.minmax(x), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(fk.zscore(x), numpy_zscore(x)[0])
