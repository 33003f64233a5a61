"""Fit the AVX2 tables of csrc/fpk_gelu_tables.h and print them as C.

    python csrc/fit_gelu_tables.py > /tmp/tables.h     (needs mpmath; a developer's tool)

R(a) = Phi(-a) e^(a^2/2), H(a) = (R(a) - a/sqrt(2 pi)) / (a0 - a) and gelu_tanh's
K(a) = (1 + E - a z') / (a0' - a) on 8 intervals of 0 <= a < 15, each a degree-8 polynomial in
d = a - the interval's centre. The reference values come from mpmath at 40 digits; the fit is
weighted least squares toward minimax relative error (Lawson's iteration), then the
coefficients are rounded to float highest degree first, the rest refitted after each; of the
fits after 0 to 40 Lawson steps, each interval keeps the one whose float evaluation (Horner
with fma, the constant in two parts: the kernel's own) is closest to the exact function. That
error is printed.
"""
import sys

import mpmath as mp
import numpy as np

mp.mp.dps = 40
SQRT_2PI = mp.sqrt(2 * mp.pi)
C1 = 2 * mp.sqrt(2 / mp.pi)                 # z = a (c1 + c3 a^2) = 2u of gelu_tanh
C3 = mp.mpf("0.044715") * C1
EDGES = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 11.0, 15.0]
CENTRES = [0.25, 0.75, 1.5, 2.5, 4.0, 6.0, 9.0, 13.0]
DEGREE = 8


def tail_scaled(a):                         # R
    return mp.erfc(a / mp.sqrt(2)) / 2 * mp.exp(a * a / 2)


def gelu_slope_part(a):                     # G = R - a/sqrt(2 pi): gelu'(-a) = e^(-a^2/2) G
    return tail_scaled(a) - a / SQRT_2PI


def gelu_tanh_slope_part(a):                # B = 1 + E - a z'
    z = a * (C1 + C3 * a * a)
    return 1 + mp.exp(-z) - a * (C1 + 3 * C3 * a * a)


def two_floats(v):
    hi = np.float32(float(v))
    return hi, np.float32(float(v - mp.mpf(float(hi))))


def over_root(part, near=0.75):
    """part(a) / (a0 - a), with a0 (the root of part near `near`) in two floats as the kernel
    holds it."""
    a0_hi, a0_lo = two_floats(mp.findroot(part, near))
    return lambda a: part(a) / ((mp.mpf(float(a0_hi)) - a) + mp.mpf(float(a0_lo)))


def float_horner(coefficients, d, c0_hi, c0_lo):
    """The kernel's evaluation: Horner in float with fma (emulated in double), + c0 in two parts."""
    p = np.full_like(d, coefficients[0])
    for c in coefficients[1:]:
        p = (p.astype(np.float64) * d + c).astype(np.float32)
    rest = (p.astype(np.float64) * d + c0_lo).astype(np.float32)
    return np.float64(c0_hi) + rest


def fit_piece(function, lo, hi, centre, lawson_steps, degree=DEGREE, evaluate=float_horner):
    # (the kernel's fma(a, 2, 2) rounds the last few floats below an edge up into the next
    # interval, whose polynomial then serves them: a few ULP of a outside its fit, harmless)
    nodes = np.cos(np.pi * (np.arange(800) + 0.5) / 800)
    a = np.unique(np.concatenate([np.float32(lo + (hi - lo) * (nodes + 1) / 2),
                                  np.float32([lo, np.nextafter(np.float32(hi), np.float32(0))])]))
    y = np.array([float(function(mp.mpf(float(v)))) for v in a])
    d = a - np.float32(centre)                                  # float, as the kernel has it
    powers = np.vander(d.astype(np.float64), degree + 1)        # d^degree ... d^0
    relative = 1 / np.abs(y)
    lawson = np.ones_like(y)
    for _ in range(lawson_steps + 1):
        w = relative * lawson
        c, *_ = np.linalg.lstsq(powers * w[:, None], y * w, rcond=None)
        error = np.abs(powers @ c - y) * relative
        lawson *= error / error.max() + 1e-6
        lawson /= lawson.sum()
    fixed = []
    for k in range(degree):                 # round highest first, refit the rest
        fixed.append(np.float32(c[k]))
        rest_of_y = y - powers[:, :k + 1] @ np.array(fixed, np.float64)
        w = relative * lawson
        tail, *_ = np.linalg.lstsq(powers[:, k + 1:] * w[:, None], rest_of_y * w, rcond=None)
        c = np.concatenate([np.array(fixed, np.float64), tail])
    c0_hi, c0_lo = two_floats(mp.mpf(c[-1]))
    got = evaluate(np.array(fixed, np.float32), d, c0_hi, c0_lo)
    return fixed + [c0_hi, c0_lo, np.float32(centre)], np.max(np.abs(got - y) * relative)


def best_piece(function, i):
    """The fit whose float evaluation is closest: the float roundings, not the polynomial's own
    error, dominate here, and they depend on the coefficients each weighting arrives at."""
    fits = [fit_piece(function, EDGES[i], EDGES[i + 1], CENTRES[i], steps)
            for steps in (0, 1, 2, 3, 5, 10, 20, 40)]
    return min(fits, key=lambda fit: fit[1])


def c_float(v):
    text = f"{float(np.float32(v)):.9g}"
    return text + ("f" if "." in text or "e" in text else ".0f")


def c_table(name, function, what):
    pieces = [best_piece(function, i) for i in range(8)]
    worst = max(error for _, error in pieces)
    print(f"{name}: worst relative error {worst:.2e}", file=sys.stderr)
    rows = np.array([column for column, _ in pieces]).T
    lines = [f"/* {what}: relative error < {worst:.1e} */",
             f"static const float {name}[GELU_DEGREE + 3][GELU_PIECES] __attribute__((aligned(32))) = {{"]
    lines += ["    {" + ", ".join(c_float(v) for v in row) + "}," for row in rows]
    return "\n".join(lines + ["};"])


if __name__ == "__main__":
    print(c_table("gelu_tail_table", tail_scaled, "R(a)"))
    print(c_table("gelu_slope_table", over_root(gelu_slope_part), "H(a)"))
    print(c_table("gelu_tanh_slope_table", over_root(gelu_tanh_slope_part), "K(a)"))
