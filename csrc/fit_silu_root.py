"""Fit the polynomial of silu_root_f / silu_root_v (csrc/activations.c) and print it as C.

    python csrc/fit_silu_root.py          (needs mpmath; a developer's tool)

silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), crosses zero at x0 = -1.2785, where the formula
cancels. On [-1.38, -1.09] (SILU_ROOT_CENTRE +- SILU_ROOT_HALF_WIDTH) the kernels take
silu'(x0 + d) = d P(d) instead, with d = (x - x0_hi) - x0_lo. P, of degree 5, is fitted here
a little beyond that interval: weighted least squares toward minimax relative error (Lawson's
iteration), then the coefficients are rounded to float highest degree first, the rest refitted
after each. The reference values come from mpmath at 40 digits. Printed: x0 in two floats, the
coefficients, the relative error of the polynomial itself and of its float evaluation (Horner
with fma, as the kernels do it).
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
LO, HI = -1.385, -1.085         # the kernels' interval, [-1.38, -1.09], and a little more
DEGREE = 5
LAWSON_STEPS = 30


def silu_slope(x):
    s = 1 / (1 + mp.exp(-x))
    return s * (1 + x * (1 - s))


def lawson_fit(powers, y, relative):
    """Coefficients of the columns of `powers` fitting y, toward minimax relative error."""
    weights = np.ones_like(y)
    for _ in range(LAWSON_STEPS):
        w = relative * weights
        c, *_ = np.linalg.lstsq(powers * w[:, None], y * w, rcond=None)
        weights *= np.abs(powers @ c - y) * relative
        weights /= weights.sum()
    return c


def float_horner(coefficients, d):
    """P(d) as the kernels evaluate it: Horner in float with fma (emulated in double)."""
    p = np.full_like(d, coefficients[0])
    for c in coefficients[1:]:
        p = (p.astype(np.float64) * d + np.float64(c)).astype(np.float32)
    return p


def main():
    x0 = mp.findroot(silu_slope, -1.28)
    x0_hi = np.float32(float(x0))
    x0_lo = np.float32(float(x0 - mp.mpf(float(x0_hi))))
    x0_kernel = mp.mpf(float(x0_hi)) + mp.mpf(float(x0_lo))     # the root as the kernels hold it
    P = lambda d: silu_slope(x0_kernel + d) / d                  # noqa: E731

    d = np.linspace(LO - float(x0_kernel), HI - float(x0_kernel), 4000)
    d = d[np.abs(d) > 1e-12]
    y = np.array([float(P(mp.mpf(v))) for v in d])
    relative = 1 / np.abs(y)
    powers = np.vander(d, DEGREE + 1)                            # d^5 ... d^0
    c = lawson_fit(powers, y, relative)
    fixed = []
    for k in range(DEGREE + 1):                                  # round highest first, refit the rest
        fixed.append(np.float32(c[k]))
        if k < DEGREE:
            rest = y - powers[:, :k + 1] @ np.array(fixed, np.float64)
            c = np.concatenate([np.array(fixed, np.float64),
                                lawson_fit(powers[:, k + 1:], rest, relative)])

    check = np.linspace(LO - float(x0_kernel), HI - float(x0_kernel), 10001).astype(np.float32)
    check = check[np.abs(check) > 1e-9]
    want = np.array([float(P(mp.mpf(float(v)))) for v in check])
    own = np.polyval(np.array(fixed, np.float64), check.astype(np.float64))
    evaluated = float_horner(fixed, check).astype(np.float64)
    print(f"x0 = {mp.nstr(x0, 20)}: SILU_X0_HI {float(x0_hi):.9g}f, SILU_X0_LO {float(x0_lo):.9g}f")
    print(f"relative error: polynomial {np.max(np.abs(own - want) / np.abs(want)):.2e}, "
          f"float evaluation {np.max(np.abs(evaluated - want) / np.abs(want)):.2e}")
    print(", ".join(f"{float(v):.10e}f" for v in fixed))


if __name__ == "__main__":
    main()
