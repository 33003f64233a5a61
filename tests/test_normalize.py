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


@pytest.mark.filterwarnings("error")        # no NumPy warning leaks out of zscore (inf - inf)
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


# ---- out= overlapping the inputs ----

def _overlap_cases():
    """(name, build) pairs: build() returns (inputs, index of the input out aliases, out)."""
    cases = []
    for which in range(3):
        def exact(which=which):
            inputs = [np.arange(3.0) + k for k in (0, 1, 3)]
            return inputs, inputs[which]
        def shifted(which=which):
            buffer = np.arange(8.0)
            inputs = [np.arange(3.0) + k for k in (0, 1, 3)]
            inputs[which] = buffer[1:4]                     # out = buffer[:3]: one element off
            return inputs, buffer[:3]
        def reversed_(which=which):
            inputs = [np.arange(3.0) + k for k in (0, 1, 3)]
            out = inputs[which]
            inputs[which] = out[::-1]
            return inputs, out
        cases += [(f"exact{which}", exact), (f"shifted{which}", shifted),
                  (f"reversed{which}", reversed_)]
    return cases


@pytest.mark.parametrize("name, build", _overlap_cases())
@pytest.mark.parametrize("function, formula", [
    (fk.zscore_inverse, lambda z, mean, std: z * std + mean),
    (fk.minmax_inverse, lambda y, lo, hi: (y - 0) / (1 - 0) * (hi - lo) + lo)])
def test_inverse_out_overlapping_any_input(name, build, function, formula):
    """Issue: out=mean gave [0, 6, 16] for [1, 5, 11]: the inputs were read after out was
    written. Now every input reads as before the call, whether out is it or overlaps it."""
    inputs, out = build()
    expected = formula(*[a.copy() for a in inputs])
    assert function(*inputs, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_inverse_out_examples_from_review():
    z = np.arange(3.0)
    m, s = z + 1, z + 2
    assert fk.zscore_inverse(z, m, s, out=m).tolist() == [1, 5, 11]
    y = np.arange(3.0)
    lo = y + 1
    hi = lo + 2
    assert fk.minmax_inverse(y, lo, hi, out=lo).tolist() == [1, 4, 7]
    z = np.arange(3.0)
    assert fk.zscore_inverse(z, z[::-1], z, out=z).tolist() == [2, 2, 4]


def test_forward_out_overlapping_input():
    buffer = np.array([1.0, 2.0, 5.0, 9.0])
    fk.minmax(buffer[1:], out=buffer[:3])
    assert buffer[:3].tolist() == [0.0, 3 / 7, 1.0]
    buffer = np.array([1.0, 2.0, 3.0, 9.0])
    expected = numpy_zscore(buffer[1:])[0]
    fk.zscore(buffer[1:], out=buffer[:3])
    np.testing.assert_allclose(buffer[:3], expected)


# ---- finite data near the float range limit ----

@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("axis", [None, 0])
def test_statistics_beyond_the_dtype_raise(axis):
    """A std or max - min beyond the largest float is an OverflowError saying what to do, not
    the NaN or 0 it would give (NumPy's std overflows there too)."""
    for x in (np.array([[1e308, 1.0], [-1e308, 2.0]]), np.array([[1e200, 1.0], [-1e200, 2.0]])):
        with pytest.raises(OverflowError, match="overflow float64 .*too far apart.*scale x down"):
            fk.zscore(x, axis=axis)
    with pytest.raises(OverflowError, match="overflow float64"):
        fk.minmax(np.array([[1e308, 1.0], [-1e308, 2.0]]), axis=axis)
    for x in (np.array([3e38, -3e38], np.float32),          # std 4.2e38 is no float32
              np.array([3.4e38] * 99 + [-3.4e38], np.float32)):  # x - mean is -6.7e38
        with pytest.raises(OverflowError, match="overflow float32.*convert it to float64"):
            fk.zscore(x)
        np.testing.assert_allclose(fk.zscore(x.astype(np.float64)),
                                   numpy_zscore(x.astype(np.float64))[0], rtol=1e-12)
    with pytest.raises(OverflowError, match="overflow float32"):
        fk.minmax(np.array([3e38, -3e38], np.float32))
    assert (fk.zscore(np.full(3, 1.7e308)) == 0).all()   # constant: its sum overflows, not it
    # wide float32 data whose distances from the mean fit: no false alarm at any length
    for n in (2, 10_000, 1_000_000):
        x = np.tile(np.float32([1e37, -1e37]), n // 2)
        np.testing.assert_allclose(fk.zscore(x), numpy_zscore(x.astype(np.float64))[0], rtol=1e-6)
    np.testing.assert_array_equal(fk.zscore(np.array([np.inf, np.inf])), [np.nan, np.nan])


def test_too_wide_feature_range_and_unrepresentable_inverses():
    for dtype, wide in ((np.float64, (-1e308, 1e308)), (np.float32, (0, 1e39))):
        with pytest.raises(ValueError, match=f"too wide for {np.dtype(dtype)}"):
            fk.minmax(np.array([1.0, 2.0], dtype), feature_range=wide)
    with pytest.raises(ValueError, match=r"low < high \(in float32\)"):
        fk.minmax(np.array([1.0, 2.0], np.float32), feature_range=(1, 1 + 1e-12))
    with pytest.raises(OverflowError, match="zscore_inverse: the result overflows float64"):
        fk.zscore_inverse([10.0], [0.0], [1e308])
    with pytest.raises(OverflowError, match="minmax_inverse: the result overflows float32"):
        fk.minmax_inverse(np.float32([2.0]), np.float32([0.0]), np.float32([3e38]))
    # float32 inverses compute in double: a product beyond float32 whose result is not is fine
    big = np.finfo(np.float32).max
    assert fk.zscore_inverse(np.float32([1.5]), np.float32([-big]), np.float32([big])).item() \
        == np.float32(0.5 * big)


def test_constant_slice_whose_mean_rounds():
    """3 * 0.1 / 3 != 0.1: the std was rounding noise and the zeros became -0.8. Constant
    slices are now exact: contiguous, split into blocks (one long slice) and strided."""
    z, mean, std = fk.zscore([0.1] * 3, return_stats=True)
    assert z.tolist() == [0, 0, 0] and mean.item() == 0.1 and std.item() == 0
    table = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 3.0]])
    np.testing.assert_array_equal(fk.zscore(table, axis=0), [[0, -1], [0, 0], [0, 1]])
    long = np.full(3 * 4096 + 7, 0.1)
    assert not fk.zscore(long).any() and not fk.zscore(long.reshape(-1, 1), axis=1).any()


def test_return_stats_must_be_a_bool():
    for bad in ("False", np.nan, 1, None):
        with pytest.raises(TypeError, match="return_stats"):
            fk.zscore([1.0, 2.0], return_stats=bad)
        with pytest.raises(TypeError, match="return_stats"):
            fk.minmax([1.0, 2.0], return_stats=bad)
    assert len(fk.minmax([1.0, 2.0], return_stats=np.True_)) == 3
