"""Activations: C kernels against the formulaic references, float64 NumPy references, finite
differences and a float32 ULP bound; edge values, bad inputs, out= and aliasing."""
import decimal
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpkernels as fk
from fpkernels import formulaic

ELEMENTWISE = ["relu", "leaky_relu", "sigmoid", "tanh", "swish", "gelu", "gelu_tanh"]

EDGE = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 1.2e-38, -1.2e-38, 1e-30, -1e-30,
                 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 9.0, -9.0, 20.0, -20.0, 44.0,
                 -44.0, 88.0, -88.0, 89.0, -89.0, 104.0, -104.0, 1e4, -1e4, 1e19, -1e19,
                 3.4e38, -3.4e38, np.inf, -np.inf, np.nan])


# ---- float64 NumPy references ---------------------------------------------------------------

_erfc = np.frompyfunc(math.erfc, 1, 1)
_erf = np.frompyfunc(math.erf, 1, 1)


def _times_vanishing(x, y):
    """x*y, with 0 where y == 0 (x may be infinite there: the limit is 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(y == 0, 0.0, x * y)


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_slope(x):
    e = np.exp(-np.abs(x))
    return e / (1 + e) ** 2


def _phi_cdf(x):
    return (0.5 * _erfc(-x / np.sqrt(2))).astype(np.float64)


GELU_C = np.sqrt(2 / np.pi)


def reference(name, x, alpha=0.01, beta=1.0):
    """(forward, derivative) of an activation in float64 NumPy, with the limits at +-inf."""
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        if name == "relu":
            return np.where(x > 0, x, np.where(np.isnan(x), x, 0.0)), \
                np.where(x > 0, 1.0, np.where(np.isnan(x), x, 0.0))
        if name == "leaky_relu":
            return np.where(x > 0, x, alpha * x), np.where(x > 0, 1.0, np.where(np.isnan(x), x, alpha))
        if name == "sigmoid":
            return _sigmoid(x), _sigmoid_slope(x)
        if name == "tanh":
            e = np.exp(-2 * np.abs(x))
            return np.tanh(x), 4 * e / (1 + e) ** 2
        if name == "swish":
            s = _sigmoid(beta * x)
            return _times_vanishing(x, s), s + _times_vanishing(beta * x, _sigmoid_slope(beta * x))
        if name == "gelu":
            cdf = _phi_cdf(x)
            pdf = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
            return _times_vanishing(x, cdf), cdf + _times_vanishing(x, pdf)
        if name == "gelu_tanh":
            u = GELU_C * (x + 0.044715 * x ** 3)
            du = GELU_C * (1 + 3 * 0.044715 * x * x)
            return _times_vanishing(x, _sigmoid(2 * u)), \
                _sigmoid(2 * u) + _times_vanishing(2 * x * du, _sigmoid_slope(2 * u))
    raise KeyError(name)


def ulp_distance(a, b):
    """How many float32 values lie between a and b (0 when equal; NaN == NaN; -0 == +0)."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)

    def ordered(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    distance = np.abs(ordered(a) - ordered(b))
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    return np.where(both_nan, 0, np.where(one_nan, 2 ** 40, distance))


def test_ulp_distance_helper():
    one = np.float32(1)
    assert ulp_distance(one, np.nextafter(one, np.float32(2))) == 1
    assert ulp_distance(np.float32(0), np.float32(-0.0)) == 0
    assert ulp_distance(np.float32(1e-45), np.float32(-1e-45)) == 2
    assert ulp_distance(np.float32(np.nan), np.float32(np.nan)) == 0
    assert ulp_distance(np.float32(np.nan), one) > 1e9


def whole_range_float32(n, seed=0):
    """Random float32 numbers over the whole range (random bit patterns, NaN removed), plus
    dense samples of the interesting middle part, plus the edge values."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    bits = bits[~np.isnan(bits)]
    middle = rng.uniform(-30, 30, n).astype(np.float32)
    small = (rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 0, n)).astype(np.float32)
    return np.concatenate([bits, middle, small, EDGE.astype(np.float32)])


def make(name, **hyper):
    return fk.activations.get(name, **hyper)


# ---- the ULP bound in float32 ---------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float32_within_4_ulp(name, threads):
    x = whole_range_float32(100_000)
    act = make(name)
    want, want_slope = reference(name, x)
    g = np.random.default_rng(1).uniform(-2, 2, x.size).astype(np.float32)
    with np.errstate(all="ignore"):
        want_backward = (g.astype(np.float64) * want_slope)
    for got, expected, what in [(act.forward(x), want, "forward"),
                                (act.derivative(x), want_slope, "derivative"),
                                (act.backward(x, g), want_backward, "backward")]:
        assert got.dtype == np.float32
        distance = ulp_distance(got, expected.astype(np.float32))
        worst = int(np.argmax(distance))
        assert distance.max() <= 4, (what, x[worst], got[worst], expected[worst])


def float32_neighbours(centres, count):
    """The `count` consecutive float32 values on each side of each centre (and the centre)."""
    bits = np.asarray(centres, np.float32).view(np.int32).astype(np.int64)
    steps = np.arange(-count, count + 1)
    return (bits[:, None] + steps[None, :]).astype(np.int32).view(np.float32).ravel()


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh"])
def test_gelu_pieces_and_roots_float32_within_4_ulp(name):
    """The float32 gelu kernels switch polynomial at interval ends of |x| (0.25 ... 13), clamp
    far out, and their derivatives cross zero near x = -0.752: every float32 value around
    those points, both signs, keeps the 4 ULP bound."""
    ends = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0, 11.0, 13.0,
            9.9, 10.5, 12.0, 14.9, 20.0]
    roots = [-0.75179152, -0.75246142]       # gelu' and gelu_tanh' cross zero here
    x = np.concatenate([float32_neighbours(ends + [-e for e in ends], 64),
                        float32_neighbours(roots, 20_000)])
    act = make(name)
    want, want_slope = reference(name, x)
    g = np.random.default_rng(2).uniform(-2, 2, x.size).astype(np.float32)
    for got, expected, what in [(act.forward(x), want, "forward"),
                                (act.derivative(x), want_slope, "derivative"),
                                (act.backward(x, g), g.astype(np.float64) * want_slope, "backward")]:
        distance = ulp_distance(got, expected.astype(np.float32))
        worst = int(np.argmax(distance))
        assert distance.max() <= 4, (what, x[worst], got[worst], expected[worst])


@pytest.mark.parametrize("name, worst_x", [("sigmoid", [0.0049193003, 0.8166368, 0.61757094,
                                                       1.6816438]),
                                           ("tanh", [0.0024596502, 0.33169794, 0.30878547,
                                                     0.84149057])])
def test_sigmoid_and_tanh_slopes_around_their_worst_points(name, worst_x):
    """sigmoid' and tanh' divide by (1 + e)^2 as 1 + e (e + 2), one fma, for speed: a scan of
    every positive float32 below 100 found their worst derivative (2 ULP) and backward (3 ULP,
    random g) at the first two x; the last two were the worst when 1 + e was split exactly
    into u + u_lo and squared (before the evening of 2026-12-04). Around each, both signs, the
    derivative stays within 2 ULP and backward within the 4-ULP contract."""
    x = float32_neighbours(worst_x + [-w for w in worst_x], 50_000)
    act = make(name)
    _, want_slope = reference(name, x)
    g = np.random.default_rng(3).uniform(-2, 2, x.size).astype(np.float32)
    assert ulp_distance(act.derivative(x), want_slope.astype(np.float32)).max() <= 2
    want_backward = (g.astype(np.float64) * want_slope).astype(np.float32)
    assert ulp_distance(act.backward(x, g), want_backward).max() <= 4


def check_slope_around(name, points, derivative_ulps):
    """Every float32 within 64 of each point, both signs: the derivative within
    derivative_ulps, backward (g in [1, 2), where a relative error shows most) within 4."""
    x = float32_neighbours(points + [-p for p in points], 64)
    _, want = reference(name, x)
    g = np.random.default_rng(5).uniform(1, 2, x.size).astype(np.float32)
    act = make(name)
    assert ulp_distance(act.derivative(x), want.astype(np.float32)).max() <= derivative_ulps
    assert ulp_distance(act.backward(x, g), (g.astype(np.float64) * want).astype(np.float32)).max() <= 4


def test_silu_slope_table_edges(threads):
    """On AVX-512, silu' for |x| < 16 is a piecewise polynomial (csrc/fpk_silu_table.h): 32
    intervals of width 1/2, read from |x| + 16 rounded, which puts the last floats below an
    edge in the next interval, and the floats just below 16 beyond the table (the formula
    takes them). Every float32 within 64 of each edge, both signs, keeps the derivative and
    backward (g in [1, 2)) within 4 ULP; a scan of every float32 with |x| < 16.5 measured 2 ULP
    for the derivative and 3 for backward (python csrc/fit_silu_table.py --check)."""
    check_slope_around("swish", [k / 2 for k in range(33)] + [16 - 2.0 ** -20], 4)


def test_gelu_tanh_slope_table_edges(threads):
    """On AVX-512, gelu_tanh' is E G(|x|) with G a piecewise polynomial laid out as silu's
    (csrc/fpk_gelu_tanh_table.h), |x| clamped at 6 for x > 0 and at 15.75 for x < 0, and
    its Taylor polynomial of degree 3 for |x| < 2^-6 (where E G rounds to 3 ULP: x = -8.0306e-7
    and -0.0038116, say). Every float32 within 64 of each interval edge, of those points, of 11
    (where gelu_tanh'(x) rounds to 0 below) and of five x near 0, both signs, keeps the
    derivative within 2 ULP and backward (g in [1, 2)) within 4, as a scan of every float32
    with |x| < 16.5 measured (python csrc/fit_gelu_tanh_table.py --check)."""
    check_slope_around("gelu_tanh", [k / 2 for k in range(33)] + [
        15.75, 11.0, 2.0 ** -6, 2.0546e-7, 8.0306e-7, 2.1104e-6, 0.0038116262, 0.008224932], 2)


def test_silu_slope_over_its_root_interval_and_beyond(threads):
    """silu' (swish with beta = 1) is d P(d), d = x - x0, on [-1.38, -1.09] around its root x0,
    and the formula beyond, which cancels toward x0 (measured within 3.5 2^-24 relative outside
    the interval, but 4.7 near -1.335 and over 10 by -1.31): every float32 in [-1.45, -1.0] keeps
    the derivative and backward (g in [1, 2), where a relative error shows most) within 4 ULP.
    Within 1e-5 of x0, where float64's formula cancels too, the reference has 50 digits."""
    x = np.arange(np.float32(-1.45).view(np.int32), np.float32(-1.0).view(np.int32), -1,
                  dtype=np.int32).view(np.float32)
    _, want = reference("swish", x)
    near_root = np.abs(x + 1.2784645427610738) < 1e-5
    want[near_root] = [exact_swish(v, 1.0)[1] for v in x[near_root]]
    g = np.random.default_rng(4).uniform(1, 2, x.size).astype(np.float32)
    act = make("swish")
    assert ulp_distance(act.derivative(x), want.astype(np.float32)).max() <= 4
    want_backward = (g.astype(np.float64) * want).astype(np.float32)
    assert ulp_distance(act.backward(x, g), want_backward).max() <= 4


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "swish", "gelu", "gelu_tanh"])
def test_backward_with_large_gradients_far_out(name, threads):
    """g f'(x) within 4 ULP where f'(x) is subnormal or 0 in float32 but g f'(x) is not, for
    |g| up to FLT_MAX (f'(x) rounded first lost its bits: sigmoid at x = 138 gave 0 for
    1.1e-30). Such steps are redone in double."""
    rng = np.random.default_rng(17)
    x = np.concatenate([rng.uniform(-200, 200, 20_001), whole_range_float32(10_000)]).astype(np.float32)
    g = (rng.choice([-1, 1], x.size) * 10.0 ** rng.uniform(0, 38.5, x.size)).astype(np.float32)
    _, want_slope = reference(name, x)
    with np.errstate(all="ignore"):
        want = (g.astype(np.float64) * want_slope).astype(np.float32)
    got = make(name).backward(x, g)
    distance = ulp_distance(got, want)
    worst = int(np.argmax(distance))
    assert distance.max() <= 4, (x[worst], g[worst], got[worst], want[worst])


@pytest.mark.parametrize("beta", [0.5, 1.702, -2.0, 10.0, 1e-20, 2e-30, 1e30, 3e38, 5e-37, 1e-40])
def test_swish_other_betas_float32_within_4_ulp(beta, threads):
    """On vector lanes for |beta| in [2^-100, FLT_MAX] (z = beta x in two parts), in double
    beyond; forward, derivative and backward with |g| up to FLT_MAX. Also tiny betas, whose
    e^(beta x) at huge x is far below float's range (beta = 1e-20 at x = -1.4e22 was 400 ULP
    off)."""
    with np.errstate(over="ignore"):                       # z = beta x in [-100, 100]
        near = np.float32(np.random.default_rng(6).uniform(-100, 100, 3000) / beta)
    x = np.concatenate([whole_range_float32(30_000, seed=5),
                        np.float32([-1.3836295e22, -2.9793328e38, -3e38, 3e38]), near])
    g = np.random.default_rng(7).choice([-1, 1], x.size) * 10.0 ** np.random.default_rng(8).uniform(
        -3, 38.5, x.size)
    want, want_slope = reference("swish", x, beta=beta)
    act = make("swish", beta=beta)
    with np.errstate(all="ignore"):
        want_backward = (g.astype(np.float32).astype(np.float64) * want_slope).astype(np.float32)
    assert ulp_distance(act.forward(x), want.astype(np.float32)).max() <= 4
    assert ulp_distance(act.derivative(x), want_slope.astype(np.float32)).max() <= 4
    assert ulp_distance(act.backward(x, g.astype(np.float32)), want_backward).max() <= 4


def exact_swish(x, beta):
    """(swish(x), swish'(x)) to 50 digits (decimal), swish' = s (1 + z (1 - s)) with
    s = sigmoid(z), z = beta x: near silu's root the float64 formula cancels, and float64's
    z = beta x is rounded."""
    with decimal.localcontext() as context:
        context.prec = 50
        context.Emin, context.Emax = -10 ** 6, 10 ** 6
        z = decimal.Decimal(float(beta)) * decimal.Decimal(float(x))
        if z > 10 ** 4:                                   # e^-z below any float
            return float(x), 1.0
        s = 1 / (1 + (-z).exp())
        return float(decimal.Decimal(float(x)) * s), float(s * (1 + z * (1 - s)))



@given(st.floats(-100, 100), st.floats(-100, 100), st.integers(1, 20))
def test_swish_other_betas_against_50_digits(log2_beta_and_sign, z_centre, size):
    """swish and swish' with beta != 1 (vector lanes, and double where far) within 4 ULP of
    50-digit values, for hypothesis' betas and x around z_centre / beta."""
    beta = math.copysign(2.0 ** abs(log2_beta_and_sign), log2_beta_and_sign)
    if beta == 1.0:
        return
    with np.errstate(over="ignore", under="ignore"):
        x = np.float32(np.linspace(z_centre - 3, z_centre + 3, size) / beta)
    x = x[np.isfinite(x)]
    want = np.array([exact_swish(v, beta) for v in x]).reshape(-1, 2)
    act = make("swish", beta=beta)
    with np.errstate(over="ignore", under="ignore"):
        assert ulp_distance(act.forward(x), want[:, 0].astype(np.float32)).max(initial=0) <= 4
        assert ulp_distance(act.derivative(x), want[:, 1].astype(np.float32)).max(initial=0) <= 4


@pytest.mark.parametrize("beta", [5.685, 3.411, 8.169, 0.2118696924142809, -159.46593917956153,
                                  5.3267304797446976e20, -4.2379139953720186e-18, 1e-35, 3e38])
def test_swish_other_betas_near_silu_root(beta):
    """swish'(x) = silu'(beta x) crosses 0 where beta x = x0 = -1.2784645...: there it is
    about 0.22 (beta x - x0), so beta x must be kept to more than float64's 53 bits (two floats
    left it up to 2595 ULP off here; the float64 formula, 188). 1e-35 and 3e38 take the
    double path."""
    x0 = -1.2784645427610738
    with np.errstate(over="ignore"):
        centre = np.float32(x0 / beta)
    bits = centre.view(np.int32) + np.arange(-3, 4, dtype=np.int32)
    x = np.tile(bits.view(np.float32), 3)                  # whole vectors and a tail
    g = np.float32(1e30)
    want = np.array([exact_swish(v, beta)[1] for v in x])
    act = make("swish", beta=beta)
    assert ulp_distance(act.derivative(x), want.astype(np.float32)).max() <= 4
    assert ulp_distance(act.backward(x, np.full_like(x, g)), (want * g).astype(np.float32)).max() <= 4


def test_erf_float32_within_4_ulp(threads):
    x = whole_range_float32(50_000)
    want = _erf(x.astype(np.float64)).astype(np.float64)
    distance = ulp_distance(fk.erf(x), want.astype(np.float32))
    assert distance.max() <= 4, x[np.argmax(distance)]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float64_matches_numpy_reference(name, threads):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-40, 40, 70_000), rng.standard_normal(10_000) * 1e-3, EDGE])
    act = make(name)
    want, want_slope = reference(name, x)
    np.testing.assert_allclose(act.forward(x), want, rtol=1e-12, atol=1e-300)
    # derivatives of order 1 may cancel (gelu' crosses 0 near x = -0.75): absolute 1e-15 there
    np.testing.assert_allclose(act.derivative(x), want_slope, rtol=1e-12, atol=1e-15)
    g = rng.standard_normal(x.size)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(act.backward(x, g), g * want_slope, rtol=1e-12, atol=1e-14)


def test_erf_float32_dense(threads):
    """Every 1024th float32 in [0, 4.5], and every one near the ends of the AVX-512 kernel's
    intervals ((j + 1/2) 0.26), near the AVX2 kernel's switch from its polynomial to 1 - erfc
    (|x| = 1/2) and near the clamp (|x| = 4), both signs, within 4 ULP of the float64 kernel's
    erf (test_erf_float64_dense)."""
    bits = lambda v: int(np.float32(v).view(np.int32))
    near = lambda v: np.arange(bits(v * 0.999), bits(v * 1.001), dtype=np.int32)
    x = np.concatenate([np.arange(0, bits(4.5), 1024, dtype=np.int32), near(0.5), near(4.0)]
                       + [near((j + 0.5) * 0.26) for j in range(15)]).view(np.float32)
    x = np.concatenate([x, -x])
    distance = ulp_distance(fk.erf(x), fk.erf(x.astype(np.float64)).astype(np.float32))
    assert distance.max() <= 4, x[np.argmax(distance)]


def test_erf_float64():
    x = np.concatenate([np.linspace(-7, 7, 2001), EDGE])
    np.testing.assert_allclose(fk.erf(x), _erf(x).astype(np.float64), rtol=1e-15, atol=1e-300)


def ulp_distance_64(got, want):
    """|got - want| in units of want's last place, float64."""
    return np.abs(got - want) / np.spacing(np.abs(want))


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63, reason="long double is double here")
@pytest.mark.parametrize("beta", [1.0, -0.37])
def test_float64_exponential_kernels_against_long_double(beta, threads):
    """float64 sigmoid, sigmoid', tanh', swish and swish' (on AVX-512 from exp_d_v: a 16-entry
    table of 2^(j/16) and a degree-7 polynomial; elsewhere exp_d) within 4 ULP of the same
    formulas in long double (measured: 3.6), from x near 0 out to where the results are
    subnormal, in odd sizes and offsets. swish is x sigmoid(z), z = beta x rounded (its
    rounding, |z| 2^-53 relative, is not the kernel's to undo): where sigmoid is subnormal its
    few bits are all x gets (hundreds of ULP), and swish' cancels near its root, so those two
    are checked where sigmoid(z) is normal and, for swish', where it is above 1/2."""
    rng = np.random.default_rng(23)
    x = np.concatenate([rng.uniform(-40, 40, 20_000), rng.uniform(-745, 745, 5_000),
                        rng.standard_normal(2_000) * 1e-3, [-744.9, -708.5, 36.7, 745.0]])
    x = x[1:-2]                                         # an odd size, from an odd offset
    lx = x.astype(np.longdouble)

    def sigmoid(z):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1, e) / (1 + e)

    def bell(a):
        e = np.exp(-a)
        return e / (1 + e) ** 2

    z = (beta * x).astype(np.longdouble)                # beta x as the kernels round it
    cases = [(make("sigmoid").forward(x), sigmoid(lx)),
             (make("sigmoid").derivative(x), bell(np.abs(lx))),
             (make("tanh").derivative(x), 4 * bell(2 * np.abs(lx))),
             (make("swish", beta=beta).forward(x), lx * sigmoid(z)),
             (make("swish", beta=beta).derivative(x), sigmoid(z) + z * bell(np.abs(z)))]
    normal = np.abs(beta * x) < 708
    for k, (got, want) in enumerate(cases):
        want64 = want.astype(np.float64)
        checked = (normal & (np.abs(want64) > 0.5 if k == 4 else normal)) if k >= 3 else True
        spacing = np.maximum(np.spacing(np.abs(want64)), 5e-324)
        error = np.abs((got - want).astype(np.float64)) / spacing
        assert np.max(error[checked]) <= 4


def test_erf_float64_dense(threads):
    """Within 2 ULP of libm's erf (measured 1), across [-6.5, 6.5], where erf reaches +-1, and
    around the ends of the AVX-512 kernel's intervals ((j + 1/2) 0.4, and its clamp at 6.1) and
    the plain-C kernel's switch from z P(z^2) to 1 - erfc (|x| = 0.85)."""
    ends = [(j + 0.5) * 0.4 for j in range(15)] + [0.85, 6.1]
    x = np.concatenate([np.linspace(-6.5, 6.5, 20_001)]
                       + [np.linspace(v * 0.999, v * 1.001, 2001) for v in ends])
    x = np.concatenate([x, -x])
    distance = ulp_distance_64(fk.erf(x), _erf(x).astype(np.float64))
    assert distance.max() <= 2, x[np.argmax(distance)]


@given(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True))
def test_erf_float64_any_double(x):
    """Any double, subnormals, infinities and NaN included: within 2 ULP of libm's erf."""
    got, want = fk.erf(np.float64(x)), math.erf(x)
    assert (math.isnan(got) and math.isnan(want)) or ulp_distance_64(got, want) <= 2


def exact_gauss(x):
    """(Phi(x), x phi(x)) for x <= 0 within libm's erfc (2 ULP): Phi(x) = erfc(z)/2 at
    z = -x/sqrt 2, taken at z's double z0 by libm and moved to z by a Taylor step (decimal gives
    z - z0, and x phi(x) to 40 digits). float64's z0 alone is off by z^2 2^-52 relative in erfc:
    1600 ULP where Phi nears underflow."""
    with decimal.localcontext() as context:
        context.prec = 40
        context.Emin = -10 ** 6
        d = decimal.Decimal(float(x))
        z = -d / decimal.Decimal(2).sqrt()
        z0 = float(z)
        step = float(z - decimal.Decimal(z0)) * 2 / math.sqrt(math.pi) * math.exp(-z0 * z0)
        x_phi = d * (-d * d / 2).exp() / (2 * decimal.Decimal(PI_40)).sqrt()
        return 0.5 * (math.erfc(z0) - step), float(x_phi)


PI_40 = "3.141592653589793238462643383279502884197"


def test_gelu_float64_tail(threads):
    """gelu and gelu' in float64 where Phi is a tail (x <= -1.2, down to where gelu underflows):
    within 8 ULP of exact_gauss's (measured 5 against mpmath). gelu' = Phi + x phi cancels
    toward its root at -0.75, so from x = -2 on."""
    x = np.concatenate([np.linspace(-37.5, -1.2, 4001), -np.geomspace(1.2, 37.5, 500)])
    phi_cdf, x_phi = np.array([exact_gauss(v) for v in x]).T
    act = make("gelu")
    assert ulp_distance_64(act.forward(x), x * phi_cdf).max() <= 8
    slope = x <= -2
    assert ulp_distance_64(act.derivative(x[slope]), (phi_cdf + x_phi)[slope]).max() <= 8


# ---- limits and special values ---------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_no_nan_where_math_is_finite(name, dtype):
    x = np.array([-1e4, -100, -88, 88, 100, 1e4, -np.inf, np.inf, 3e38, -3e38], dtype)
    act = make(name)
    for result in (act.forward(x), act.derivative(x), act.backward(x, np.ones_like(x))):
        assert not np.isnan(result).any(), (name, result)
    assert np.isnan(act.forward(np.array([np.nan], dtype))).all()
    assert np.isnan(act.derivative(np.array([np.nan], dtype))).all()


def test_limits(dtype):
    inf = np.array([-np.inf, np.inf], dtype)
    assert make("sigmoid").forward(inf).tolist() == [0.0, 1.0]
    assert make("tanh").forward(inf).tolist() == [-1.0, 1.0]
    assert make("swish").forward(inf).tolist() == [0.0, np.inf]
    assert make("gelu").forward(inf).tolist() == [0.0, np.inf]
    assert make("gelu_tanh").forward(inf).tolist() == [0.0, np.inf]
    assert make("swish").derivative(inf).tolist() == [0.0, 1.0]
    assert make("gelu").derivative(inf).tolist() == [0.0, 1.0]
    assert make("gelu_tanh").derivative(inf).tolist() == [0.0, 1.0]
    assert make("sigmoid").derivative(inf).tolist() == [0.0, 0.0]
    assert make("tanh").derivative(inf).tolist() == [0.0, 0.0]
    assert make("relu").forward(inf).tolist() == [0.0, np.inf]
    assert make("leaky_relu").forward(inf).tolist() == [-np.inf, np.inf]


# ---- formulaic references ---------------------------------------------------------------------

FORMULAIC = {
    "relu": (formulaic.relu, formulaic.relu_derivative),
    "leaky_relu": (formulaic.leaky_relu, formulaic.leaky_relu_derivative),
    "sigmoid": (formulaic.sigmoid, formulaic.sigmoid_derivative),
    "tanh": (formulaic.tanh, formulaic.tanh_derivative),
    "swish": (formulaic.swish, formulaic.swish_derivative),
    "gelu": (formulaic.gelu, formulaic.gelu_derivative),
    "gelu_tanh": (formulaic.gelu_tanh, formulaic.gelu_tanh_derivative),
    "softmax": (formulaic.softmax, formulaic.softmax_derivative),
}


@pytest.mark.parametrize("name", sorted(FORMULAIC))
def test_matches_formulaic(name, dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(-6, 6, (4, 7)).astype(dtype)
    x[0, :3] = [0.0, 1e-3, -1e-3]
    forward, derivative = FORMULAIC[name]
    rows = x.astype(np.float64).tolist()
    act = make(name)
    # the references compute 1 - t*t plainly, so allow an absolute error near t = +-1
    rtol, atol = (1e-12, 1e-14) if dtype == np.float64 else (2e-6, 1e-7)
    np.testing.assert_allclose(act.forward(x), forward(rows), rtol=rtol, atol=atol)
    np.testing.assert_allclose(act.derivative(x), derivative(rows), rtol=rtol, atol=atol)


def test_registry_objects_carry_their_formulaic_references():
    for name, (forward, derivative) in FORMULAIC.items():
        act = make(name)
        assert act.formulaic is forward
        assert act.formulaic_derivative is derivative


@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_leaky_relu_alpha(alpha):
    x = np.array([[-2.0, -0.5, 0.0, 3.0]])
    act = make("leaky_relu", alpha=alpha)
    np.testing.assert_allclose(act.forward(x), formulaic.leaky_relu(x.tolist(), alpha))
    np.testing.assert_allclose(act.derivative(x), formulaic.leaky_relu_derivative(x.tolist(), alpha))


@pytest.mark.parametrize("alpha", [0.01, -0.7, 0.0, 3e-39, 1e-40, 1e-50, 5e-324, 1e39, 1e300])
def test_leaky_relu_float32_within_1_ulp_for_any_alpha(alpha, threads):
    """Alphas float32 cannot hold (subnormal, smaller, beyond FLT_MAX) are used in double:
    rounded to float, alpha = 1e-50 gave 0 and alpha = 1e39 gave -inf or NaN."""
    x = whole_range_float32(20_000, seed=3)
    x = np.concatenate([x, -np.abs(x), [-1e-10, -1.0, -0.0]]).astype(np.float32)
    g = np.random.default_rng(4).permutation(x)
    xd = x.astype(np.float64)
    slope = np.where(xd > 0, 1.0, np.where(np.isnan(xd), np.nan, alpha))
    act = make("leaky_relu", alpha=alpha)
    with np.errstate(all="ignore"):
        want = np.where(xd > 0, xd, alpha * xd).astype(np.float32)
        want_backward = (g.astype(np.float64) * slope).astype(np.float32)
        want_slope = slope.astype(np.float32)
    assert ulp_distance(act.forward(x), want).max() <= 1
    assert ulp_distance(act.derivative(x), want_slope).max() == 0
    assert ulp_distance(act.backward(x, g), want_backward).max() <= 1


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.702, 10.0, -1.0])
def test_swish_beta(beta):
    x = np.linspace(-8, 8, 33).reshape(3, 11)
    act = make("swish", beta=beta)
    np.testing.assert_allclose(act.forward(x), formulaic.swish(x.tolist(), beta), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(act.derivative(x), formulaic.swish_derivative(x.tolist(), beta),
                               rtol=1e-12, atol=1e-15)


def test_trapezoid_erf_and_series_exp():
    for x in [-2.0, -0.3, 0.0, 0.5, 1.0, 3.0]:
        assert formulaic.erf(x) == pytest.approx(math.erf(x), abs=1e-6)
        assert formulaic.exp(x) == pytest.approx(math.exp(x), rel=1e-14)
    assert formulaic.exp(-30.0) == pytest.approx(math.exp(-30.0), rel=1e-13)


# ---- derivatives by central finite differences ------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_is_the_slope(name):
    rng = np.random.default_rng(4)
    x = rng.uniform(-5, 5, 200)
    x = x[np.abs(x) > 1e-3]             # stay off the kink of relu and leaky_relu
    act = make(name)
    h = 1e-6
    slope = (act.forward(x + h) - act.forward(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x), slope, rtol=1e-6, atol=1e-8)


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=30), st.floats(0.05, 5))
def test_swish_derivative_hypothesis(values, beta):
    x = np.array(values)
    act = make("swish", beta=beta)
    h = 1e-6
    slope = (act.forward(x + h) - act.forward(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x), slope, rtol=1e-5, atol=1e-7)


def test_backward_is_grad_times_derivative(dtype):
    rng = np.random.default_rng(5)
    x = rng.uniform(-6, 6, (50, 30)).astype(dtype)
    g = rng.standard_normal((50, 30)).astype(dtype)
    for name in ELEMENTWISE:
        act = make(name)
        want = g.astype(np.float64) * act.derivative(x.astype(np.float64))
        np.testing.assert_allclose(act.backward(x, g), want,
                                   rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)


# ---- softmax ----------------------------------------------------------------------------------

def softmax_reference(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_rows(dtype, threads):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((300, 257)) * 20).astype(dtype)
    s = make("softmax").forward(x)
    assert s.dtype == dtype
    np.testing.assert_allclose(s, softmax_reference(x), rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-30)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-13)


def softmax_diagonal_reference(x):
    """s (1 - s) in float64 as e o / S^2, o = S - e summed from the other entries (S - 1
    cancels where e = 1: the largest entries)."""
    x = np.asarray(x, np.float64)
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    below = np.where(x == m, 0.0, e).sum(axis=-1, keepdims=True)
    rest = (x == m).sum(axis=-1, keepdims=True) - 1 + below
    total = 1 + rest
    return e * np.where(x == m, rest, total - e) / total ** 2


def test_softmax_float32_within_4_ulp(threads):
    """float32 softmax within 4 ULP of float64 (rounded), its diagonal within 1, on rows whose
    entries span many binades: x - max rounds in float32, by up to |x - max| 2^-24, and without
    that error put back the result was 64 ULP off in rows spanning 60 (so is torch.softmax).
    Also a row whose sum is many equal entries, whose exponentials' errors add up in it, and
    rows of one 0 and many -18: each e^-18 is below half an ULP of the running sums, so a plain
    float sum drops them all (about 1000 ULP off), and the float32 rows keep each addition's
    rounding error instead (exact_sum)."""
    rng = np.random.default_rng(16)
    rows = []
    for spread in [1e-2, 1, 10, 30, 100, 1e3]:
        for cols in (7, 10, 16, 300, 1001):
            x = rng.standard_normal((3000 // cols + 1, cols)) * spread * 10.0 ** rng.uniform(-4, 0, cols)
            x[:, 0] = spread * 1.2345678                  # a maximum with low bits
            rows.append(x.astype(np.float32))
    many = np.full((1, 1002), -2.6435587, np.float32)
    many[0, 0], many[0, 1] = 0.0, -1.9876543
    rows.append(many)
    for cols in (16, 17, 4096, 5000):           # 16: a block of short rows (AVX-512)
        tiny = np.full((32, cols), -18.0, np.float32)
        tiny[0, 0] = tiny[1, -1] = 0.0
        rows.append(tiny)
    act = make("softmax")
    for x in rows:
        assert ulp_distance(act.forward(x), softmax_reference(x).astype(np.float32)).max() <= 4
        assert ulp_distance(act.derivative(x), softmax_diagonal_reference(x).astype(np.float32)).max() <= 1


def test_softmax_diagonal_where_one_entry_dominates(dtype):
    """s (1 - s) at the largest entry is 1 - s there, the sum of the others, which s (1 - s) in
    floating point loses entirely (s rounds to 1): here it is all of the answer."""
    x = np.zeros((2, 4001), dtype)
    x[:, 0] = 100.0
    x[1, 7] = 100.0                                     # a tie: each has the other's mass
    got = make("softmax").derivative(x)
    e = np.exp(-100.0)
    want = [4000 * e / (1 + 4000 * e) ** 2, e / (1 + 4000 * e) ** 2]     # subnormal in float32
    if dtype == np.float32:
        assert ulp_distance(got[0, :2], np.float32(want)).max() <= 1
    else:
        np.testing.assert_allclose(got[0, :2], want, rtol=1e-14)
    np.testing.assert_allclose(got[1, [0, 7]], (1 + 3999 * e) / (2 + 3999 * e) ** 2, rtol=1e-14)
    assert got[0, 0] > 0


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_softmax_axis(axis):
    x = np.random.default_rng(7).standard_normal((3, 4, 5))
    np.testing.assert_allclose(make("softmax", axis=axis).forward(x), softmax_reference(x, axis),
                               rtol=1e-13)
    g = np.random.default_rng(8).standard_normal((3, 4, 5))
    s = softmax_reference(x, axis)
    want = s * (g - (g * s).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(make("softmax", axis=axis).backward(x, g), want, rtol=1e-12, atol=1e-15)


def test_softmax_bad_axis():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        make("softmax", axis=2).forward(np.zeros((2, 2)))
    with pytest.raises(TypeError):
        make("softmax", axis=1.5)
    for axis in (0, -1):                             # a 0-d input is one row of one, as in torch
        assert make("softmax", axis=axis).forward(np.float64(3.0)) == 1.0
    with pytest.raises(ValueError, match=r"axis 1 is out of range for an array of shape \(\)"):
        make("softmax", axis=1).forward(np.float64(3.0))


def test_softmax_huge_and_infinite_logits(dtype):
    inf, nan = np.inf, np.nan
    x = np.array([[1e4, 0.0, -1e4],                # huge but finite
                  [inf, 1.0, 2.0],                 # one +inf: all the mass there
                  [1.0, inf, -inf],
                  [inf, inf, 1.0],                 # two +inf: no limit, NaN like PyTorch
                  [-inf, -inf, -inf],              # all -inf: NaN like PyTorch
                  [-inf, 0.0, -inf],               # -inf entries get 0
                  [nan, 1.0, 2.0],                 # NaN poisons its row
                  [nan, inf, 2.0]], dtype)         # ... even beside a single +inf
    s = make("softmax").forward(x)
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(s[1], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(s[2], [0.0, 1.0, 0.0])
    assert np.isnan(s[3]).all() and np.isnan(s[4]).all() and np.isnan(s[6]).all()
    assert np.isnan(s[7]).all()
    np.testing.assert_array_equal(s[5], [0.0, 1.0, 0.0])
    # rows spanning more than 2^48 (x - max then rounds by more than 1) or FLT_MAX
    wide = np.array([[3e38, -1e30, 0.0], [8.5487856e20, -7.0927737e21, 0.0],
                     [1.6201841e13, -5.5073555e15, 0.0], [-3e38, 3e38, -1e30]], dtype)
    np.testing.assert_array_equal(make("softmax").forward(wide), [[1, 0, 0]] * 3 + [[0, 1, 0]])
    np.testing.assert_array_equal(make("softmax").derivative(wide), np.zeros((4, 3)))


def test_softmax_backward_matches_jacobian_and_formulaic(dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 6)).astype(dtype)
    g = rng.standard_normal((5, 6)).astype(dtype)
    got = make("softmax").backward(x, g)
    want = formulaic.softmax_backward(x.astype(np.float64).tolist(), g.astype(np.float64).tolist())
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)
    # the full Jacobian J[i, j] = s_i (delta_ij - s_j), applied to g
    s = softmax_reference(x)
    for r in range(5):
        jacobian = np.diag(s[r]) - np.outer(s[r], s[r])
        np.testing.assert_allclose(got[r], jacobian @ g[r].astype(np.float64),
                                   rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_softmax_backward_near_the_largest_gradients(dtype):
    """sum(g s) stays finite wherever every g s is: partial sums of a few g s in float32
    lanes can overflow for |g| near the largest float, and must not turn the row into NaN."""
    big = np.finfo(dtype).max / 2
    rng = np.random.default_rng(10)
    for cols in (8, 32, 100, 4097):
        x = rng.standard_normal((3, cols)).astype(dtype)
        x[0] = 0                                    # every e = 1: four of them make 2 max
        g = np.full((3, cols), big, dtype)
        g[1] = rng.uniform(-1, 1, cols) * big
        g[2, ::2] = -big
        got = make("softmax").backward(x, g)
        s = softmax_reference(x)
        g64 = g.astype(np.float64)
        want = s * (g64 - (g64 * s).sum(-1, keepdims=True))
        assert np.isfinite(got).all(), cols
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=big * 1e-6)


def test_softmax_backward_with_gradients_near_float_max(dtype):
    """g - sum(g s) overflows in float32 where |g| is near FLT_MAX, though s (g - sum(g s))
    does not: such rows are taken at half size (they gave inf)."""
    x = np.array([[0, 1, 2] + [0] * 6, [0] * 9], dtype)
    g = np.array([[3e38, 3e38, -3e38] + [0] * 6, [3.4e38] * 8 + [-3.4e38]], dtype)
    s = softmax_reference(x)
    want = s * (g - (g * s).sum(axis=-1, keepdims=True))
    act = make("softmax")
    for got in (act.backward(x, g), act.backward_from_output(act.forward(x), g)):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_softmax_backward_by_finite_differences():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 5))
    g = rng.standard_normal((3, 5))
    act = make("softmax")
    h = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = ((act.forward(up) - act.forward(down)) * g).sum() / (2 * h)
    np.testing.assert_allclose(act.backward(x, g), numeric, rtol=1e-6, atol=1e-9)


def softmax_limits_reference(x):
    """softmax in float64 with its limits: one-hot at a lone +inf; NaN for two +inf, a row of
    only -inf, or NaN anywhere in the row."""
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        s = softmax_reference(x)
    infs = (x == np.inf).sum(-1)
    s[infs == 1] = x[infs == 1] == np.inf
    s[(infs > 1) | np.isnan(x).any(-1) | (x == -np.inf).all(-1)] = np.nan
    return s


@pytest.mark.parametrize("cols", [1, 2, 3, 7, 10, 15, 16, 17])
def test_softmax_narrow_rows(cols, dtype, threads):
    """Rows narrower than 16 are taken a block of rows at a time as one flat array (float64,
    float32 without AVX-512, and rows of 1 and 2), float32 rows of 3 to 16 on AVX-512 in
    blocks of 16 rows with their maxima and sums from trees across the rows: each row keeps its
    own maximum and sums, across block edges (203 rows leave a partial block), with rows 1000
    apart, and rows at their limits among them (taken alone, after their block); forward,
    backward and backward_from_output, also written over an input."""
    rng = np.random.default_rng(cols)
    x = rng.standard_normal((203, cols)) * 3
    x += np.array([-1000.0, 0, 1000])[np.arange(203) % 3, None]
    x[5, 0], x[17, -1], x[40] = np.nan, np.inf, -np.inf
    x[41, :2] = np.inf                                  # two +inf when cols > 1: NaN
    x = x.astype(dtype)
    g = rng.standard_normal((203, cols)).astype(dtype)
    s = softmax_limits_reference(x)
    want_back = s * (g - np.nansum(g * s, -1, keepdims=True))
    want_back[np.isnan(s).any(-1)] = np.nan
    rtol, atol = (1e-13, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)  # atol: g - sum(g s)
    act = make("softmax")                                                 # may cancel
    np.testing.assert_allclose(act.forward(x), s, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(act.backward(x, g), want_back, rtol=rtol, atol=atol)
    y = x.copy()
    np.testing.assert_array_equal(act.forward(y, out=y), act.forward(x))
    for target in ("x", "g"):
        x2, g2 = x.copy(), g.copy()
        out = x2 if target == "x" else g2
        np.testing.assert_array_equal(act.backward(x2, g2, out=out), act.backward(x, g))
    y = act.forward(x)                                  # and from the saved output
    y64 = y.astype(np.float64)
    want_from_output = y64 * (g - (g * y64).sum(-1, keepdims=True))
    np.testing.assert_allclose(act.backward_from_output(y, g), want_from_output, rtol=rtol,
                               atol=atol)
    for target in ("y", "g"):
        y2, g2 = y.copy(), g.copy()
        out = y2 if target == "y" else g2
        np.testing.assert_array_equal(act.backward_from_output(y2, g2, out=out),
                                      act.backward_from_output(y, g))


def test_softmax_narrow_rows_streamed(dtype):
    """An output of 32 MB and more, in rows of 10: not whole cache lines, so plain stores
    (fpk_streams_rows), in narrow rows' blocks and, float32 on AVX-512, short rows' blocks."""
    rows = 420_001 if dtype == np.float64 else 840_001
    x = np.random.default_rng(3).standard_normal((rows, 10)).astype(dtype)
    g = np.random.default_rng(4).standard_normal((rows, 10)).astype(dtype)
    s = softmax_reference(x)
    want_back = s * (g - (g * s).sum(-1, keepdims=True))
    rtol, atol = (1e-13, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)
    act = make("softmax")
    np.testing.assert_allclose(act.forward(x), s, rtol=rtol)
    np.testing.assert_allclose(act.backward(x, g), want_back, rtol=100 * rtol, atol=atol)
    np.testing.assert_allclose(act.backward_from_output(s.astype(dtype), g), want_back,
                               rtol=100 * rtol, atol=atol)


def test_softmax_in_place_and_aliasing(dtype):
    x = np.random.default_rng(11).standard_normal((40, 9)).astype(dtype)
    g = np.random.default_rng(12).standard_normal((40, 9)).astype(dtype)
    act = make("softmax")
    want = act.forward(x)
    want_back = act.backward(x, g)
    y = x.copy()
    assert act.forward(y, out=y) is y
    np.testing.assert_array_equal(y, want)
    g2 = g.copy()
    assert act.backward(x, g2, out=g2) is g2
    np.testing.assert_array_equal(g2, want_back)
    x2 = x.copy()
    act.backward(x2, g, out=x2)
    np.testing.assert_array_equal(x2, want_back)


def test_softmax_shapes():
    act = make("softmax")
    assert act.forward(np.float64(3.0)) == 1.0
    assert act.forward(np.zeros((0, 3))).shape == (0, 3)
    assert act.forward(np.zeros((3, 0))).shape == (3, 0)
    np.testing.assert_allclose(act.forward([1.0, 1.0]), [0.5, 0.5])
    np.testing.assert_allclose(act.forward(np.zeros((2, 3, 4))), np.full((2, 3, 4), 0.25))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        act.backward(np.zeros((2, 3)), np.zeros((3, 2)))


def test_softmax_threads_bitwise_equal():
    x = np.random.default_rng(13).standard_normal((512, 300)).astype(np.float32)
    g = np.random.default_rng(14).standard_normal((512, 300)).astype(np.float32)
    act = make("softmax")
    results = []
    for n in (1, 2):
        with fk.num_threads(n):
            results.append((act.forward(x), act.backward(x, g)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


# ---- conventions: dtypes, shapes, out=, aliasing --------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_dtypes(name):
    act = make(name)
    assert act.forward([1, 2, 3]).dtype == np.float64
    assert act.forward(np.array([True, False])).dtype == np.float64
    assert act.forward(np.array([1.0, 2.0], np.float16)).dtype == np.float32
    assert act.forward(np.array([1.0, 2.0], np.float32)).dtype == np.float32
    assert act.backward(np.ones(2, np.float32), np.ones(2, np.float64)).dtype == np.float64
    for bad in (np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object)):
        with pytest.raises(TypeError, match=str(bad.dtype)):
            act.forward(bad)
        with pytest.raises(TypeError):
            act.backward(np.ones(1), bad)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_shapes_and_out(name, dtype, threads):
    act = make(name)
    rng = np.random.default_rng(15)
    x = rng.uniform(-4, 4, (300, 301)).astype(dtype)     # > 2 * grain: both threads work
    g = rng.standard_normal((300, 301)).astype(dtype)
    want = act.forward(x)
    assert want.shape == x.shape and want.flags.c_contiguous
    out = np.empty_like(x)
    assert act.forward(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    # in place: out is x
    y = x.copy()
    assert act.forward(y, out=y) is y
    np.testing.assert_array_equal(y, want)
    # backward in place on x and on grad_out
    want_back = act.backward(x, g)
    g2 = g.copy()
    act.backward(x, g2, out=g2)
    np.testing.assert_array_equal(g2, want_back)
    x2 = x.copy()
    act.backward(x2, g, out=x2)
    np.testing.assert_array_equal(x2, want_back)
    # non-contiguous and read-only inputs
    view = x[:, ::2]
    np.testing.assert_array_equal(act.forward(view), want[:, ::2])
    frozen = x.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(act.derivative(frozen), act.derivative(x))
    # empty and 0-d
    assert act.forward(np.zeros((0, 5), dtype)).shape == (0, 5)
    assert act.backward(np.zeros(0, dtype), np.zeros(0, dtype)).shape == (0,)
    assert act.forward(dtype.type(2.0)).shape == ()


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_bad_out_and_shapes(name):
    act = make(name)
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="float32"):
        act.forward(x, out=np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        act.forward(x, out=np.empty((3, 2)))
    frozen = np.empty((2, 3))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        act.forward(x, out=frozen)
    with pytest.raises(ValueError):
        act.forward(x, out=np.empty((3, 2)).T)
    with pytest.raises(TypeError):
        act.forward(x, out=[0.0] * 6)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        act.backward(x, np.ones((2, 2)))


def test_threads_give_identical_results():
    x = whole_range_float32(100_000)
    for name in ELEMENTWISE:
        act = make(name)
        with fk.num_threads(1):
            one = act.forward(x), act.backward(x, x)
        with fk.num_threads(2):
            two = act.forward(x), act.backward(x, x)
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_lanes_do_not_depend_on_their_neighbours(name):
    """A float32 vector with a lane far out (|x| > 86, inf, NaN; gelu below -13) takes slower,
    rescaled steps; every other lane must keep the bits it has among ordinary neighbours, so
    that results never depend on alignment or on how threads split the work. swish's forward
    lets lanes in [-86, -60] take its ordinary steps beside ordinary neighbours and its scaled
    ones beside a far lane; on AVX-512, swish' takes its table for |x| < 16 and the formula as
    well beside a lane beyond 16."""
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-86, -50, 4000), rng.uniform(-12, 86, 4000),
                        rng.uniform(-16, 16, 4000)]).astype(np.float32)
    g = rng.standard_normal(x.size).astype(np.float32)
    far = np.float32([-100.0, -1e4, 150.0, 1e30, np.inf, -np.inf, np.nan, 16.0, -20.0, 50.0])
    x_mixed = np.repeat(x, 2)
    x_mixed[1::2] = rng.choice(far, x.size)
    g_mixed = np.repeat(g, 2)
    act = make(name)
    for alone, mixed in [(act.forward(x), act.forward(x_mixed)),
                         (act.derivative(x), act.derivative(x_mixed)),
                         (act.backward(x, g), act.backward(x_mixed, g_mixed))]:
        np.testing.assert_array_equal(alone.view(np.uint32), mixed[0::2].view(np.uint32))


# ---- registry and metadata --------------------------------------------------------------------

def test_registry_names_aliases_and_hyperparameters():
    for name in ELEMENTWISE + ["softmax"]:
        assert name in fk.activations.names()
    assert type(fk.activations.get("silu")) is type(fk.activations.get("swish"))
    assert fk.activations.get("swish", beta=2.0).beta == 2.0
    assert fk.activations.info("leaky_relu")["defaults"] == {"alpha": 0.01}
    assert fk.activations.info("swish")["defaults"] == {"beta": 1.0}
    assert fk.activations.info("softmax")["defaults"] == {"axis": -1}
    with pytest.raises(TypeError, match="alpha"):
        fk.activations.get("leaky_relu", slope=0.1)
    with pytest.raises(KeyError, match="swish"):
        fk.activations.get("swishh")
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            fk.activations.get("leaky_relu", alpha=bad)
        with pytest.raises(ValueError, match="finite"):
            fk.activations.get("swish", beta=bad)
    for bad in ("0.1", None, True, 1j):
        with pytest.raises(TypeError):
            fk.activations.get("leaky_relu", alpha=bad)
    with pytest.raises(ValueError, match="beta must be a finite number"):
        fk.activations.get("swish", beta=2 ** 1100)   # beyond float: not a bare OverflowError


def test_settings_changed_after_construction():
    """A hyper-parameter set later is checked as the constructor checks it and takes effect
    on the next call; a rejected value leaves the old one."""
    x = np.array([[-2.0, 1.0, 3.0]])
    for name, setting, value, bad in (("leaky_relu", "alpha", 0.5, "0.1"),
                                      ("swish", "beta", 2.0, float("nan")),
                                      ("softmax", "axis", 0, 1.5)):
        act = make(name)
        setattr(act, setting, value)
        np.testing.assert_array_equal(act.forward(x), make(name, **{setting: value}).forward(x))
        with pytest.raises((TypeError, ValueError), match=setting):
            setattr(act, setting, bad)
        assert getattr(act, setting) == value and f"{setting}={value!r}" in repr(act)


def test_swish_with_beta_zero_is_half_x_up_to_infinity(dtype):
    """beta = 0 gives x/2 everywhere, its limits at +-inf included (0 * inf is not taken)."""
    x = np.array([np.inf, -np.inf, 2.0, -0.0, np.nan], dtype)
    act = make("swish", beta=0.0)
    np.testing.assert_array_equal(act.forward(x), x / 2)
    np.testing.assert_array_equal(act.derivative(x), [0.5, 0.5, 0.5, 0.5, np.nan])
    np.testing.assert_array_equal(act.backward(x, np.full_like(x, 2)), [1, 1, 1, 1, np.nan])


def test_masked_arrays_are_refused():
    """np.asarray would drop the mask and compute the masked values: a TypeError instead."""
    with pytest.raises(TypeError, match=r"x is a masked array.*filled"):
        make("relu").forward(np.ma.masked_array([1.0, -2.0], mask=[False, True]))


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_teaching_metadata(name):
    act = make(name)
    assert isinstance(act, fk.interfaces.Activation) if hasattr(fk, "interfaces") else True
    info = fk.activations.info(name)
    assert info["description"] and "\n" not in info["description"].splitlines()[0]
    assert info["formula"] and act.derivative_formula
    assert callable(act.formulaic) and callable(act.formulaic_derivative)
    assert act.when_to_use and act.pitfalls
    low, high = act.plot_range
    assert low < high
    for key in fk.activations.info(name)["defaults"]:
        assert key in act.hyperparameters


def test_top_level_erf():
    assert fk.erf is fk.activations.erf
    assert fk.erf(0.0) == 0.0
    assert fk.erf(np.inf) == 1.0 and fk.erf(-np.inf) == -1.0
    assert np.isnan(fk.erf(np.nan))
    out = np.empty(3, np.float32)
    assert fk.erf(np.array([0, 1, 2], np.float32), out=out) is out
    with pytest.raises(TypeError):
        fk.erf(np.array([1j]))


# ---- outputs larger than the caches: streaming stores ------------------------------------------
# From FPK_STREAM_BYTES (32 MB) on, the kernels write with streaming stores: a short first step
# up to the output's 64-byte boundary, then whole vectors. The results must be the same bits as
# for small calls, whatever the output's alignment, and in place.

def _streaming_size(dtype):
    return (32 << 20) // np.dtype(dtype).itemsize + 37


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_large_outputs_match_small_calls(name, dtype, threads):
    rng = np.random.default_rng(21)
    n = _streaming_size(dtype)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    act = make(name)
    pieces = np.array_split(np.arange(n), 9)            # each piece below the threshold
    want = np.concatenate([act.forward(x[p]) for p in pieces])
    want_backward = np.concatenate([act.backward(x[p], g[p]) for p in pieces])
    assert np.array_equal(act.forward(x), want)
    shifted = np.empty(n + 1, dtype)[1:]                 # element-aligned, not 64-byte aligned
    assert np.array_equal(act.forward(x, out=shifted), want)
    assert np.array_equal(act.backward(x, g, out=shifted), want_backward)
    in_place = x.copy()
    act.backward(in_place, g, out=in_place)
    assert np.array_equal(in_place, want_backward)


def _aligned_empty(shape, dtype, alignment=64):
    """An empty array whose data starts on an `alignment`-byte boundary."""
    size, itemsize = int(np.prod(shape)), np.dtype(dtype).itemsize
    buffer = np.empty(size + alignment // itemsize, dtype)
    start = (-buffer.ctypes.data % alignment) // itemsize
    return buffer[start:start + size].reshape(shape)


@pytest.mark.parametrize("cols", [1001, 16, 10])
def test_large_softmax_matches_small_calls(dtype, threads, cols):
    """Rows of 1001 stream at any alignment; rows of 16 only from a 64-byte boundary, where
    every row is whole cache lines (fpk_streams_rows); rows of 10 never. Each row's bits are
    the same whatever the pieces (float32 short rows: wherever the blocks of 16 fall)."""
    rng = np.random.default_rng(22)
    rows = _streaming_size(dtype) // cols + 1
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    g = rng.standard_normal((rows, cols)).astype(dtype)
    x[5, 7] = np.inf                                     # a row with its limit
    act = make("softmax")
    pieces = np.array_split(np.arange(rows), 9)
    want = np.concatenate([act.forward(x[p]) for p in pieces])
    want_backward = np.concatenate([act.backward(x[p], g[p]) for p in pieces])
    shifted = np.empty(rows * cols + 1, dtype)[1:].reshape(rows, cols)
    assert np.array_equal(act.forward(x, out=shifted), want)
    assert np.array_equal(act.backward(x, g, out=shifted), want_backward)
    aligned = _aligned_empty((rows, cols), dtype)
    assert np.array_equal(act.forward(x, out=aligned), want)
    assert np.array_equal(act.backward(x, g, out=aligned), want_backward)
    in_place = x.copy()
    act.forward(in_place, out=in_place)
    assert np.array_equal(in_place, want)


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
@pytest.mark.parametrize("shift", [1, -1])
def test_out_partly_overlapping_the_inputs(name, shift):
    """out= may overlap x and grad_out shifted by an element: the result is as if computed
    into fresh memory (NumPy's rule), not read back from what was just written."""
    act = make(name)

    def overlapping():
        buffer = np.random.default_rng(6).standard_normal(101)
        x, out = buffer[:100].reshape(10, 10), buffer[1:].reshape(10, 10)
        return (x, out) if shift == 1 else (out, x)

    x, out = overlapping()
    want = act.forward(x.copy())
    assert np.array_equal(act.forward(x, out=out), want)
    x, out = overlapping()
    want = act.backward(x.copy(), x.copy())
    assert np.array_equal(act.backward(x, x, out=out), want)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_signed_zero_as_float64(name):
    """f(-0) and f(+0) carry the same sign in float32 as in float64 (gelu(-0) = -0, as PyTorch)."""
    zeros = np.array([-0.0, 0.0])
    want = make(name).forward(zeros)
    got = make(name).forward(zeros.astype(np.float32))
    assert np.array_equal(np.signbit(got), np.signbit(want)), (got, want)


def test_swish_derivative_same_bits_beside_far_lanes(dtype):
    """A vector holding a lane below -60 or above 200 takes the long way (e^-|x| scaled, the
    clamp): its other lanes must get the same bits as without that lane."""
    x = np.random.default_rng(10).uniform(-8, 8, 256).astype(dtype)
    act = make("swish")
    for far in (-70.0, 1e3, -np.inf):
        mixed = x.copy()
        mixed[::16] = far
        near = np.arange(x.size) % 16 != 0
        assert np.array_equal(act.derivative(mixed)[near], act.derivative(x)[near])
        assert np.array_equal(act.backward(mixed, mixed)[near], act.backward(x, mixed)[near])
