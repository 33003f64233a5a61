"""Fit the table of csrc/fpk_silu_table.h and print it as C, or check the built kernels.

    python csrc/fit_silu_table.py > csrc/fpk_silu_table.h     (needs mpmath; a developer's tool)
    PYTHONPATH=. python csrc/fit_silu_table.py --check         (about 75 s)

F(a) = silu'(-a) = s (1 - a (1 - s)), s = sigmoid(-a), and P(a) = F(a) / (a0 - a), a0 = 1.2785
its root in two floats. P is a polynomial of degree 6 in d = a - the centre on each of the 32
intervals of width 1/2 of 0 <= a < 16, fitted as csrc/fit_gelu_tables.py fits gelu's (its
fit_piece: weighted least squares toward minimax relative error, coefficients rounded to float
highest first; of the fits after 0 to 40 Lawson steps, each interval keeps the one whose float
evaluation is closest). Centred intervals: from their left end, P's terms cancel where
P falls by e^-1/2 across the interval (up to 3 ULP instead of 0.7).

--check runs swish's float32 derivative and backward (g uniform in [1, 2)) over every float32
with |x| < 16.5 and prints the worst distance in ULP from float64 rounded once (50 digits
within 1e-5 of the root, where float64's formula cancels).
"""
import sys

import mpmath as mp
import numpy as np

import fit_gelu_tables as fit

PIECES = 32
WIDTH = 0.5
DEGREE = 6
HEADER = """/* fpk_silu_table.h - private to activations.c: silu' on AVX-512 lanes as a piecewise
 * polynomial (silu_slope_table_v there). Printed by csrc/fit_silu_table.py.
 *
 * F(a) = silu'(-a) = (a0 - a) P(a), a0 = 1.2785 (silu' crosses zero at x = -a0), and
 *   silu'(x) = F(|x|) for x <= 0,  1 - F(|x|) for x > 0        (silu'(x) + silu'(-x) = 1).
 * P is a polynomial of degree SILU_DEGREE in d = a - c on each of the SILU_PIECES intervals
 * of width 1/2 of 0 <= a < 16, c the interval's centre, its coefficients picked lane by lane
 * with one vpermt2ps (32 entries) each. Layout: row k < SILU_DEGREE holds the coefficients of
 * d^(SILU_DEGREE - k), then the constant in two parts (high, low), then c; column j is the
 * interval j/2 <= a < (j + 1)/2. Relative error of P's float evaluation (Estrin's scheme with
 * fma) < {worst:.1e}.
 */
#ifndef FPK_SILU_TABLE_H
#define FPK_SILU_TABLE_H

#define SILU_DEGREE 6
#define SILU_PIECES 32
#define SILU_A0_HI {a0_hi}        /* a0 in two parts */
#define SILU_A0_LO {a0_lo}

static const float silu_slope_table[SILU_DEGREE + 3][SILU_PIECES]
    __attribute__((aligned(64))) = {{"""
FOOTER = """};

#endif /* FPK_SILU_TABLE_H */"""


def silu_slope_reflected(a):                # F(a) = silu'(-a)
    s = 1 / (1 + mp.exp(a))
    return s * (1 - a * (1 - s))


def float_estrin(coefficients, d, c0_hi, c0_lo):
    """The kernel's evaluation (root_times_piece32_v): the coefficients in pairs, each c d + c',
    joined by d^2 (Estrin's scheme), in float with fma (emulated in double), + c0 in two parts."""
    def fma(a, b, c):
        return (a.astype(np.float64) * b + c).astype(np.float32)
    c = [np.full_like(d, v) for v in coefficients]
    dd = (d.astype(np.float64) ** 2).astype(np.float32)
    odd = len(c) % 2
    p = c[0] if odd else fma(c[0], d, c[1])
    for k in range(2 - odd, len(c), 2):
        p = fma(p, dd, fma(c[k], d, c[k + 1]))
    return np.float64(c0_hi) + fma(p, d, c0_lo)


def best_piece(function, j):
    lo = j * WIDTH
    fits = [fit.fit_piece(function, lo, lo + WIDTH, lo + WIDTH / 2, steps, DEGREE, float_estrin)
            for steps in (0, 1, 2, 3, 5, 10, 20, 40)]
    return min(fits, key=lambda piece: piece[1])


def print_rows(pieces):
    """The table's rows as C initialisers, 8 numbers a line."""
    for row in np.array([column for column, _ in pieces]).T:
        lines = [", ".join(fit.c_float(v) for v in row[i:i + 8]) for i in range(0, PIECES, 8)]
        print("    {" + ",\n     ".join(lines) + "},")


def scan(name, slope64, reflected, a0):
    """`name`'s float32 derivative and backward (g uniform in [1, 2)) over every float32 with
    |x| < 16.5 against slope64 (the derivative in float64 NumPy) rounded once; within 1e-5 of
    the root -a0, where float64's formula cancels, reflected(-x) at 50 digits (mpmath). Lanes
    whose exact slope is below FLT_MIN are left out: the backward takes those from float64.
    Prints the worst distance in ULP of each."""
    import fpkernels as fk

    mp.mp.dps = 50
    act, rng, worst = fk.activations.get(name), np.random.default_rng(0), [0, 0]
    end = int(np.float32(16.5).view(np.int32))
    for sign in (1, -1):
        for start in range(0, end, 1 << 24):
            bits = np.arange(start, min(start + (1 << 24), end), dtype=np.int32)
            x = bits.view(np.float32) * np.float32(sign)
            want = slope64(x.astype(np.float64))
            for i in np.flatnonzero(np.abs(x + a0) < 1e-5):
                want[i] = float(reflected(-mp.mpf(float(x[i]))))
            g = rng.uniform(1, 2, x.size).astype(np.float32)
            normal = np.abs(want) >= np.finfo(np.float32).tiny
            pairs = [(act.derivative(x), want), (act.backward(x, g), g * want)]
            for k, (got, exact) in enumerate(pairs):
                distance = ulp_distance(got, exact.astype(np.float32))[normal]
                worst[k] = max(worst[k], int(distance.max()))
    print(f"every float32 with |x| < 16.5: derivative within {worst[0]} ULP, backward {worst[1]}")


def silu_slope64(x):                        # silu'(x) = F(-x)
    s = 1 / (1 + np.exp(-x))
    return s * (1 + x * (1 - s))


def print_table(header, footer, part, near):
    """part(a) / (a0 - a) fitted on the 32 pieces and printed as C between header (formatted
    with the worst error and a0's two floats) and footer; part's root a0 is near `near`."""
    a0_hi, a0_lo = fit.two_floats(mp.findroot(part, near))
    pieces = [best_piece(fit.over_root(part, near), j) for j in range(PIECES)]
    worst = max(error for _, error in pieces)
    print(f"worst relative error of P's float evaluation: {worst:.2e}", file=sys.stderr)
    print(header.format(worst=worst, a0_hi=fit.c_float(a0_hi), a0_lo=fit.c_float(a0_lo)))
    print_rows(pieces)
    print(footer)


def ulp_distance(a, b):
    def ordered(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))


if __name__ == "__main__" and sys.argv[1:] == ["--check"]:
    scan("swish", silu_slope64, silu_slope_reflected,
         float(mp.findroot(silu_slope_reflected, 1.25)))
elif __name__ == "__main__":
    print_table(HEADER, FOOTER, silu_slope_reflected, 1.25)
