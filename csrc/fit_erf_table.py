"""Fit the tables of csrc/fpk_erf_table.h and print them as C.

    python csrc/fit_erf_table.py > csrc/fpk_erf_table.h      (needs mpmath; a developer's tool)

erf(a), a >= 0, as a polynomial in d = a - c on each of 16 intervals centred on c = 0, w, 2w,
..., 15w (interval j: a / w rounded is j), for double (w = 0.4, degree 12, up to a = 6.1) and
float (w = 0.26, degree 5, up to a = 4); beyond, erf(a) is 1 in that type. Each fit is weighted
least squares toward relative error at 48 Chebyshev nodes (50 digits), over the interval widened
by 0.2% (a / w is rounded before it picks the interval); at 0 it is d times a fit of erf(d)/d,
so that erf(a) keeps its relative precision down to the smallest a. The coefficients are rounded
to the type. Printed with the largest distance in ULP from erf of the kernels' evaluation
(erf_d_v and erf_v in activations.c) emulated in the type, over 800 points of each interval:
Horner's rule with fma down to d^2, then c0 + c1 d + the rest, c0 and c1 in two parts, c1 d
split exactly and c0 + c1 d summed by Fast2Sum.
"""
import sys

import mpmath as mp
import numpy as np

mp.mp.dps = 50
M = mp.mpf
PIECES, NODES = 16, 48


def fit(f, lo, hi, degree):
    """Powers of d up to `degree`, lowest first, fitting f on [lo, hi] toward minimal relative
    error."""
    nodes = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos(mp.pi * (k + M(1) / 2) / NODES)
             for k in range(NODES)]
    a = mp.matrix([[x ** j / f(x) for j in range(degree + 1)] for x in nodes])
    solution = mp.lu_solve(a.T * a, a.T * mp.matrix([1] * NODES))
    return [solution[j] for j in range(degree + 1)]


class Type:
    """A floating-point type's rounding, and its erf table's shape."""

    def __init__(self, name, numpy_type, mantissa_bits, width, degree, end):
        self.name, self.numpy_type, self.bits = name, numpy_type, mantissa_bits
        self.width, self.degree, self.end = width, degree, end

    def round(self, v):
        return float(self.numpy_type(float(v)))

    def c(self, v):
        return repr(v) if self.numpy_type is np.float64 else f"{str(np.float32(v))}f"

    def fma(self, a, b, c):
        return self.round(M(a) * M(b) + M(c))

    def add(self, a, b):
        return self.round(M(a) + M(b))

    def two_parts(self, v):
        high = self.round(v)
        return high, self.round(v - M(high))

    def evaluate(self, row, d):
        """The kernel's evaluation of one interval's polynomial at d."""
        high, (c1_hi, c1_lo), (c0_hi, c0_lo) = row
        p = high[0]
        for c in high[1:]:
            p = self.fma(p, d, c)
        u = self.round(M(c1_hi) * M(d))
        u_error = self.fma(c1_hi, d, -u)
        rest = self.fma(self.round(M(p) * M(d)), d, self.add(self.fma(c1_lo, d, c0_lo), u_error))
        s = self.add(c0_hi, u)
        s_error = self.add(self.add(c0_hi, -s), u)
        return self.add(s, self.add(s_error, rest))

    def ulps(self, got, exact):
        return abs(M(got) - exact) / M(2) ** (int(mp.floor(mp.log(exact, 2))) - self.bits)

    def piece(self, j):
        """(centre, row, worst error in ULP) of interval j."""
        centre = self.round(M(j) * M(self.round(self.width)))
        c, half = M(centre), M(self.width) / 2 * M("1.002")
        lo = M(0) if j == 0 else -half
        if j == 0:
            coefficients = [M(0)] + fit(lambda d: mp.erf(d) / d, M("1e-6"), half, self.degree - 1)
        else:
            coefficients = fit(lambda d: mp.erf(c + d), lo, half, self.degree)
        row = ([self.round(v) for v in reversed(coefficients[2:])],
               self.two_parts(coefficients[1]), self.two_parts(coefficients[0]))
        worst = 0
        for k in range(1, 800):
            a = self.round(c + lo + (half - lo) * k / 800)
            if a <= self.end:
                worst = max(worst, self.ulps(self.evaluate(row, self.round(M(a) - c)), mp.erf(a)))
        return centre, row, worst

    def print_table(self):
        pieces = [self.piece(j) for j in range(PIECES)]
        worst = max(w for _, _, w in pieces)
        print(f"{self.name}: worst {float(worst):.3f} ULP", file=sys.stderr)
        rows = [[row[0][k] for _, row, _ in pieces] for k in range(self.degree - 1)]
        for part in (1, 2):                     # c1, then c0: high parts, low parts
            rows += [[row[part][h] for _, row, _ in pieces] for h in (0, 1)]
        rows.append([centre for centre, _, _ in pieces])
        suffix = "d" if self.name == "double" else "f"
        print(f"/* {self.name}: width {self.width}, up to a = {self.end}; "
              f"within {float(worst):.2f} ULP as evaluated */")
        print(f"#define ERF_DEGREE_{suffix.upper()} {self.degree}")
        print(f"#define ERF_WIDTH_{suffix.upper()} {self.c(self.round(self.width))}")
        print(f"#define ERF_END_{suffix.upper()} {self.c(self.end)}")
        print(f"static const {self.name} erf_table_{suffix}[ERF_DEGREE_{suffix.upper()} + 4]"
              f"[ERF_PIECES] __attribute__((aligned(64))) = {{")
        for row in rows:
            print("    {" + ",\n     ".join(", ".join(self.c(v) for v in row[i:i + 4])
                                            for i in range(0, PIECES, 4)) + "},")
        print("};\n")


def main():
    print("""/* fpk_erf_table.h - private to activations.c: erf on AVX-512 lanes as a piecewise polynomial
 * (erf_d_v and erf_v there). Printed by csrc/fit_erf_table.py.
 *
 * erf(a) for 0 <= a <= ERF_END is a polynomial of degree ERF_DEGREE in d = a - c on each of the
 * ERF_PIECES intervals of width ERF_WIDTH centred on c = 0, ERF_WIDTH, ..., 15 ERF_WIDTH (a /
 * ERF_WIDTH rounded numbers the interval), its coefficients picked lane by lane with one
 * vpermt2pd or vpermps (16 entries) each. Layout: rows 0 to ERF_DEGREE - 2 hold the
 * coefficients of d^ERF_DEGREE down to d^2, then c1 and c0 each in two parts (high, low), then
 * c; column j is interval j.
 */
#ifndef FPK_ERF_TABLE_H
#define FPK_ERF_TABLE_H

#define ERF_PIECES 16
""")
    Type("double", np.float64, 52, 0.4, 12, 6.1).print_table()
    Type("float", np.float32, 23, 0.26, 5, 4.0).print_table()
    print("#endif")


if __name__ == "__main__":
    main()
