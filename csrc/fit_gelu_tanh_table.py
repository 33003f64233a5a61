"""Fit the table of csrc/fpk_gelu_tanh_table.h and print it as C, or check the built kernels.

    python csrc/fit_gelu_tanh_table.py > csrc/fpk_gelu_tanh_table.h   (needs mpmath)
    PYTHONPATH=. python csrc/fit_gelu_tanh_table.py --check            (about 95 s)

With z = a (c1 + c3 a^2) (2u of gelu_tanh at a), E = e^-z and z' = c1 + 3 c3 a^2,
F(a) = gelu_tanh'(-a) = E G(a), G(a) = (1 + E - a z') / (1 + E)^2, and P(a) = G(a) / (a0 - a),
a0 = 0.7525 G's root in two floats. G is smooth where F falls super-exponentially (E carries
that), and a cubic beyond a = 6 or so, so P fits as silu's does (csrc/fit_silu_table.py: a
polynomial of degree 6 in d = a - the centre on each of 32 intervals of width 1/2 of
0 <= a < 16).

--check runs gelu_tanh's float32 derivative and backward (g uniform in [1, 2)) over every
float32 with |x| < 16.5 and prints the worst distance in ULP from float64 rounded once (50
digits within 1e-5 of the root, where float64's formula cancels). Lanes below FLT_MIN are
left out: the backward takes those from float64 (RESCUE_STEP in activations.c).
"""
import sys

import mpmath as mp
import numpy as np

import fit_gelu_tables as fit
import fit_silu_table as silu

HEADER = """/* fpk_gelu_tanh_table.h - private to activations.c: gelu_tanh' on AVX-512 lanes from a
 * piecewise polynomial (gelu_tanh_slope_v there). Printed by csrc/fit_gelu_tanh_table.py.
 *
 * With z = a (c1 + c3 a^2) and E = e^-z, F(a) = gelu_tanh'(-a) = E G(a), and
 *   G(a) = (1 + E - a z') / (1 + E)^2 = (a0 - a) P(a),   a0 = 0.7525 (G's root),
 *   gelu_tanh'(x) = F(|x|) for x <= 0,  1 - F(|x|) for x > 0.
 * P is laid out as silu's P is (fpk_silu_table.h): degree GELU_TANH_DEGREE in d = a - c on
 * each of the 32 intervals of width 1/2 of 0 <= a < 16, c the interval's centre; row
 * k < GELU_TANH_DEGREE holds the coefficients of d^(GELU_TANH_DEGREE - k), then the constant
 * in two parts (high, low), then c. Relative error of P's float evaluation (Estrin's scheme
 * with fma) < {worst:.1e}.
 */
#ifndef FPK_GELU_TANH_TABLE_H
#define FPK_GELU_TANH_TABLE_H

#define GELU_TANH_DEGREE 6
#define GELU_TANH_A0_HI {a0_hi}        /* a0 in two parts */
#define GELU_TANH_A0_LO {a0_lo}

static const float gelu_tanh_slope_table[GELU_TANH_DEGREE + 3][32]
    __attribute__((aligned(64))) = {{"""
FOOTER = """};

#endif /* FPK_GELU_TANH_TABLE_H */"""


def slope_part(a):                          # G
    e = mp.exp(-a * (fit.C1 + fit.C3 * a * a))
    return fit.gelu_tanh_slope_part(a) / (1 + e) ** 2


def slope_reflected(a):                     # F(a) = gelu_tanh'(-a) = E G
    return mp.exp(-a * (fit.C1 + fit.C3 * a * a)) * slope_part(a)


def slope64(x):                              # gelu_tanh'(x) = s + x s (1 - s) z'(x) in float64
    c1, c3 = float(fit.C1), float(fit.C3)
    s = 1 / (1 + np.exp(-x * (c1 + c3 * x * x)))               # sigmoid(z), z = 2u
    return s + x * s * (1 - s) * (c1 + 3 * c3 * x * x)


if __name__ == "__main__" and sys.argv[1:] == ["--check"]:
    silu.scan("gelu_tanh", slope64, slope_reflected, float(mp.findroot(slope_part, 0.75)))
elif __name__ == "__main__":
    silu.print_table(HEADER, FOOTER, slope_part, 0.75)
