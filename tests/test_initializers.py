"""Initializers: reproducible counter-based random numbers, right distributions, fans, checks."""
import math

import numpy as np
import pytest

import fpkernels as fk
from fpkernels import formulaic
from fpkernels._core import ffi, lib

RANDOM = ["uniform", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform"]


def init(name, **hyper):
    return fk.initializers.get(name, **hyper)


# ---- the generator ----

@pytest.mark.parametrize("counter, key, expected", [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
])
def test_philox_known_answers(counter, key, expected):
    """The Random123 known-answer vectors of Philox4x32-10."""
    out = ffi.new("uint32_t[4]")
    lib.fpk_philox4x32_10(counter, key, out)
    assert list(out) == expected


def test_uniform_f32_is_the_documented_word():
    """Element j of a float32 uniform fill is word j % 4 of block j / 4, top 24 bits."""
    out = np.empty(8, np.float32)
    lib.fpk_random_uniform_f32(8, ffi.from_buffer("float[]", out), 5, 0, 0.0, 1.0)
    words = ffi.new("uint32_t[4]")
    lib.fpk_philox4x32_10([1, 0, 0, 0], [5, 0], words)
    assert [float(x) for x in out[4:]] == [(w >> 8) / 2**24 for w in words]


@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-1.7, 3.1)])
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_offset_gives_a_piece_of_the_long_fill(kind, bounds, dtype):
    """fill(n, seed, offset) == elements [offset, offset + n) of one long fill, whatever the
    alignment: this is what makes the result independent of how threads split the work.
    Bounds other than (0, 1) catch a compiler fusing a different product into an fma in the
    vector body than in the scalar head and tail."""
    suffix = "f32" if dtype == np.float32 else "f64"
    c_type = "float[]" if dtype == np.float32 else "double[]"
    fill = getattr(lib, f"fpk_random_{kind}_{suffix}")
    whole = np.empty(101, dtype)
    fill(whole.size, ffi.from_buffer(c_type, whole), 99, 0, *bounds)
    for offset in (0, 1, 2, 3, 5, 17):
        for n in (1, 2, 3, 7, 40):
            piece = np.empty(n, dtype)
            fill(n, ffi.from_buffer(c_type, piece), 99, offset, *bounds)
            assert piece.tobytes() == whole[offset:offset + n].tobytes(), (offset, n)


@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_bits_on_1_and_2_threads(name, dtype):
    shape = (317, 311)                  # 98,587 elements: several threads' worth, odd size
    results = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            results.append(init(name)(shape, rng=1234, dtype=dtype))
            results.append(init(name)(shape, rng=1234, dtype=dtype))
    assert all(r.tobytes() == results[0].tobytes() for r in results)
    assert init(name)(shape, rng=1235, dtype=dtype).tobytes() != results[0].tobytes()


def test_same_bits_in_a_new_interpreter(run_python):
    code = ("import fpkernels as fk, hashlib;"
            "print(hashlib.sha256(fk.initializers.get('he')((64, 64), rng=7).tobytes()).hexdigest())")
    import hashlib
    here = hashlib.sha256(init("he")((64, 64), rng=7).tobytes()).hexdigest()
    assert run_python(code, env=dict(__import__("os").environ, OMP_NUM_THREADS="1")).stdout.strip() == here


# ---- distributions ----

def normal_cdf(x):
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * (1.0 + erf(np.asarray(x, np.float64) / math.sqrt(2.0)).astype(np.float64))


def ks_statistic(sample, cdf):
    """Kolmogorov-Smirnov distance between the sample's empirical CDF and `cdf`."""
    x = np.sort(np.asarray(sample, np.float64).ravel())
    n = x.size
    f = cdf(x)
    above = np.arange(1, n + 1) / n - f
    below = f - np.arange(0, n) / n
    return max(above.max(), below.max())


def ks_limit(n):
    return 1.95 / math.sqrt(n)          # the 0.1% critical value


SHAPE = (300, 200)                       # 60,000 samples
FAN_IN, FAN_OUT = 200, 300


def expected(name):
    """(kind, scale): uniform bound or normal std for SHAPE."""
    return {
        "uniform": ("uniform", 0.5),
        "xavier_uniform": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
        "he_uniform": ("uniform", math.sqrt(6 / FAN_IN)),
        "xavier_normal": ("normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
        "he_normal": ("normal", math.sqrt(2 / FAN_IN)),
    }[name]


@pytest.mark.parametrize("name", RANDOM)
def test_moments_bounds_and_ks(name, dtype):
    kind, scale = expected(name)
    w = init(name)(SHAPE, rng=2024, dtype=dtype)
    assert w.shape == SHAPE and w.dtype == dtype
    n = w.size
    std = scale / math.sqrt(3) if kind == "uniform" else scale
    x = w.astype(np.float64)
    assert abs(x.mean()) < 5 * std / math.sqrt(n)
    fourth = 1.8 if kind == "uniform" else 3.0           # kurtosis, for the variance's spread
    assert abs(x.var() / std**2 - 1) < 5 * math.sqrt((fourth - 1) / n)
    if kind == "uniform":
        assert x.min() >= -scale and x.max() <= scale
        cdf = lambda v: np.clip((v + scale) / (2 * scale), 0, 1)  # noqa: E731
    else:
        cdf = lambda v: normal_cdf(v / scale)  # noqa: E731
    assert ks_statistic(x, cdf) < ks_limit(n)


def test_normal_tails_and_f64():
    z = init("he_normal")((1000, 2), rng=3, dtype=np.float64) / 1.0   # std 1
    assert ks_statistic(z, normal_cdf) < ks_limit(z.size)
    big = fk.initializers.get("xavier_normal")((2000, 2000), rng=0)    # 4M float32 values
    ratio = big.astype(np.float64) / math.sqrt(2 / 4000)
    assert 4.5 < np.abs(ratio).max() < 6.8            # tails reached, bounded by Box-Muller's u1
    assert np.isfinite(big).all()


def test_uniform_with_bounds():
    w = init("uniform", low=2.0, high=3.0)((10_000,), rng=0)
    assert w.min() >= 2.0 and w.max() <= 3.0 and abs(w.mean() - 2.5) < 0.02
    assert (init("uniform", low=1.0, high=1.0)(5, rng=0) == 1.0).all()
    with pytest.raises(ValueError):
        init("uniform", low=1.0, high=0.0)
    with pytest.raises(ValueError):
        init("uniform", low=float("nan"))
    huge = init("uniform", low=-3e38, high=3e38)(1000, rng=0)       # range overflows float32
    assert np.isfinite(huge).all() and huge.min() >= -3e38 and huge.max() <= 3e38


# ---- fans and shapes ----

def test_fans_follow_pytorch():
    assert formulaic.fans((128, 784)) == (784, 128)
    assert formulaic.fans((16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError, match="at least 2"):
        init("he")((10,), rng=0)
    with pytest.raises(ValueError, match="at least 2"):
        init("xavier")((), rng=0)
    w = init("he_normal")((64, 8, 3, 3), rng=1, dtype=np.float64)        # fan_in = 72
    assert abs(w.std() / math.sqrt(2 / 72) - 1) < 0.05


def test_shapes_and_dtypes():
    assert init("uniform")(5, rng=0).shape == (5,)
    assert init("uniform")((), rng=0).shape == ()
    assert init("xavier")((0, 5), rng=0).shape == (0, 5)
    assert init("he_uniform")((3, 4), rng=0, dtype=np.float16).dtype == np.float16
    assert init("zeros")((2, 2), dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError):
        init("uniform")((-1, 3), rng=0)
    with pytest.raises(TypeError):
        init("uniform")((2.5, 3), rng=0)
    with pytest.raises(TypeError):
        init("uniform")((2, 3), rng=0, dtype=np.int32)
    with pytest.raises(TypeError):
        init("zeros")((2, 3), dtype=np.complex64)


def test_rng_kinds():
    a = init("he")((4, 4), rng=np.random.default_rng(5))
    b = init("he")((4, 4), rng=np.random.default_rng(5))
    assert a.tobytes() == b.tobytes()
    g = np.random.default_rng(5)
    first, second = init("he")((4, 4), rng=g), init("he")((4, 4), rng=g)
    assert first.tobytes() == a.tobytes() and second.tobytes() != first.tobytes()  # advanced
    assert init("he")((4, 4)).tobytes() != init("he")((4, 4)).tobytes()           # fresh entropy
    assert init("he")((4, 4), rng=np.uint64(2**64 - 1)).shape == (4, 4)
    for bad, error in [(-1, ValueError), (2**64, ValueError), (1.5, TypeError), (True, TypeError),
                       ("seed", TypeError), (np.random.RandomState(0), TypeError)]:
        with pytest.raises(error):
            init("uniform")((2,), rng=bad)


# ---- registry and teaching metadata ----

def test_names_aliases_and_metadata():
    assert set(fk.initializers.names()) >= {"zeros", *RANDOM}
    for alias, name in [("xavier", "xavier_uniform"), ("glorot", "xavier_uniform"),
                        ("he", "he_normal"), ("kaiming", "he_normal"), ("XAVIER", "xavier_uniform")]:
        assert fk.initializers.registry.entry(alias).name == name
    assert "symmetry" in fk.initializers.info("zeros")["description"]
    assert fk.initializers.info("uniform")["defaults"] == {"low": -0.5, "high": 0.5}
    for name in ["zeros", *RANDOM]:
        factory = fk.initializers.registry.entry(name).factory
        assert factory.description and factory.formula and callable(factory.formulaic)
        assert factory.when_to_use and factory.pitfalls


@pytest.mark.parametrize("name", RANDOM)
def test_formulaic_references_draw_the_same_distribution(name):
    kind, scale = expected(name)
    reference = getattr(formulaic, name)
    rows = reference((60, 200), seed=1) if name != "uniform" else reference((60, 200), seed=1)
    assert len(rows) == 60 and len(rows[0]) == 200
    flat = np.array(rows, np.float64).ravel()
    if name in ("xavier_uniform", "xavier_normal"):
        scale = scale * math.sqrt((FAN_IN + FAN_OUT) / (200 + 60))
    if name in ("he_uniform", "he_normal"):
        scale = scale * math.sqrt(FAN_IN / 200)
    cdf = ((lambda v: np.clip((v + scale) / (2 * scale), 0, 1)) if kind == "uniform"
           else (lambda v: normal_cdf(v / scale)))
    assert ks_statistic(flat, cdf) < ks_limit(flat.size)
    assert formulaic.zeros((2, 3)) == [[0.0] * 3] * 2


@pytest.mark.parametrize("name", ["zeros", *RANDOM])
def test_conformance_kit(name):
    import fpkernels.testing as fkt
    assert "reproducible from a seed" in fkt.check_initializer(name)


def philox_words(seed, blocks):
    out = ffi.new("uint32_t[4]")
    words = []
    for b in range(blocks):
        lib.fpk_philox4x32_10([b & 0xFFFFFFFF, b >> 32, 0, 0], [seed & 0xFFFFFFFF, seed >> 32], out)
        words.append(list(out))
    return np.array(words, np.float64)


def test_normal_streams_follow_the_documented_layout():
    """Box-Muller from the documented words, in float64 NumPy, against the C fills."""
    seed, n = 2**40 + 3, 64
    w = philox_words(seed, n // 2)
    # float64: u1 from words 0-1, u2 from words 2-3 (53 bits each), two normals per block
    top = lambda hi, lo: (hi * 2**21 + np.floor(lo / 2**11)) / 2**53  # noqa: E731
    u1, u2 = top(w[:, 0], w[:, 1]) + 2**-53, top(w[:, 2], w[:, 3])
    r = np.sqrt(-2 * np.log(u1))
    expected = np.stack([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)], 1).ravel()
    got = np.empty(n)
    lib.fpk_random_normal_f64(n, ffi.from_buffer("double[]", got), seed, 0, 0.0, 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    # float32: two pairs per block, u1 from all 32 bits of words 0 and 2, u2 from 24 of 1 and 3
    w = philox_words(seed, n // 4)
    u1 = w[:, [0, 2]] / 2**32 + 2**-33
    u2 = np.floor(w[:, [1, 3]] / 2**8) / 2**24
    r = np.sqrt(-2 * np.log(u1))
    expected = np.stack([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)], 2).ravel()
    got = np.empty(n, np.float32)
    lib.fpk_random_normal_f32(n, ffi.from_buffer("float[]", got), seed, 0, 0.0, 1.0)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)


# ---- settings checked when made; ranges that do not fit the dtype refused when called ----

@pytest.mark.parametrize("name, hyper, error, words", [
    ("xavier", {"gain": -1}, ValueError, "gain must be a finite number >= 0, not -1"),
    ("xavier_normal", {"gain": float("inf")}, ValueError, "gain must be a finite number"),
    ("xavier", {"gain": "1"}, TypeError, "gain must be a real number, not str"),
    ("xavier_normal", {"gain": 2**1100}, ValueError, "gain .*too large for a float"),
    ("uniform", {"low": 1.0, "high": 0.0}, ValueError, "low .* must be <= high"),
    ("uniform", {"high": float("nan")}, ValueError, "high must be a finite number"),
    ("uniform", {"low": None}, TypeError, "low must be a real number, not NoneType"),
    ("uniform", {"low": -2**1100}, ValueError, "low .*too large for a float"),
])
def test_bad_settings_are_refused_when_made(name, hyper, error, words):
    with pytest.raises(error, match=words):
        init(name, **hyper)


def test_gain_zero_gives_zeros():
    assert (init("xavier", gain=0)((3, 4), rng=0) == 0).all()
    assert (init("xavier_normal", gain=0.0)((3, 4), rng=0) == 0).all()


@pytest.mark.parametrize("make, dtype, words", [
    (lambda: init("uniform", low=-1e308, high=1e308), np.float32,
     r"uniform\(low=-1e\+308, high=1e\+308\) .* do not fit float32"),
    (lambda: init("uniform", low=0.0, high=1e5), np.float16, "do not fit float16"),
    (lambda: init("xavier", gain=1e308), np.float32,
     r"xavier_uniform\(gain=1e\+308\) for shape \(2, 3\)"),
    (lambda: init("xavier", gain=1.7e308), np.float64, "up to inf.* float64"),   # bound overflows
    (lambda: init("xavier_normal", gain=1e38), np.float32, "xavier_normal.* float32"),
])
def test_range_that_does_not_fit_the_dtype_is_refused_by_name(make, dtype, words):
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    with pytest.raises(ValueError, match=words):
        make()((2, 3), rng=rng, dtype=dtype)
    assert rng.bit_generator.state == before                   # nothing drawn


def test_a_range_up_to_the_float64_limit_fits_float64():
    huge = init("uniform", low=-1e308, high=1e308)((1000,), rng=0, dtype=np.float64)
    assert np.isfinite(huge).all()


def test_settings_changed_after_construction():
    """gain, low and high set later are checked as the constructor checks them and used by
    the next call; low > high set one at a time is caught at the call."""
    xavier = init("xavier")
    xavier.gain = 2.0
    assert np.array_equal(xavier((3, 4), rng=0), init("xavier", gain=2.0)((3, 4), rng=0))
    with pytest.raises(ValueError, match="gain must be a finite number >= 0"):
        xavier.gain = -1
    assert xavier.gain == 2.0
    uniform = init("uniform")
    uniform.low = 0.25
    assert (uniform((100,), rng=0) >= 0.25).all()
    with pytest.raises(TypeError, match="high must be a real number"):
        uniform.high = "1"
    uniform.low = 1.0
    with pytest.raises(ValueError, match=r"low \(1.0\) must be <= high \(0.5\)"):
        uniform((2,), rng=0)


def test_zeros_checks_rng_like_the_others():
    for bad, error in [("junk", TypeError), (1.5, TypeError), (-1, ValueError),
                       (2**64, ValueError)]:
        for name in ("zeros", "uniform"):
            with pytest.raises(error):
                init(name)((2,), rng=bad)
    g = np.random.default_rng(3)
    before = g.bit_generator.state
    assert (init("zeros")((2,), rng=g) == 0).all() and g.bit_generator.state == before
