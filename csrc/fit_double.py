"""Fit the double-precision polynomials of expm1_reduced_d (csrc/fpk_vmath.h) and erfc_far_d
(csrc/activations.c) and print them as C; check erf_small_d's.

    python csrc/fit_double.py          (needs mpmath; a developer's tool)

expm1_reduced_d:  e^r - 1 = r + r^2 P(r) for |r| <= ln2/2 (fitted to 0.35), P of degree 9.
erfc_far_d:       erfc(a) = e^(-a^2) t S(u), t = 2/(2 + a), for 0.85 <= a <= 27.3 (erfc(27.3)
                  is below the smallest double), u = t mapped linearly onto [-1, 1], S of
                  degree 20.
erf_small_d:      erf(z) = z P(z^2) for |z| <= 0.85; its coefficients are only checked here.
Each fit is the Chebyshev interpolant at 80 nodes (near-minimax for functions this smooth) of
values from mpmath at 40 digits, turned into powers of its variable (expm1_reduced_d takes its
P by Estrin's scheme, the others by Horner's rule; the same polynomial either way). Printed:
the coefficients, highest degree first, and the largest relative error of each polynomial's
result evaluated in double (as the kernels do) over 4000 points.
"""
import mpmath as mp

mp.mp.dps = 40
NODES = 80
EXP_HALF_WIDTH = mp.mpf("0.35")
SMALL_END, FAR_END = mp.mpf("0.85"), mp.mpf("27.3")
T_LO, T_HI = 2 / (2 + FAR_END), 2 / (2 + SMALL_END)
ERF_SMALL = [1.1283791670955126, -0.3761263890318331, 0.11283791670931083, -0.026866170639991065,
             0.005223977568912982, -0.0008548323385919002, 0.0001205518656598847,
             -1.4921848702896826e-05, 1.6398269811768604e-06, -1.5691584281909376e-07,
             1.0660449886842932e-08]


def erfc_scaled_over_t(t):
    """S at t: erfc(a) e^(a^2) / t for a = 2/t - 2."""
    a = 2 / t - 2
    return mp.erfc(a) * mp.exp(a * a) / t


def chebyshev_powers(f, degree):
    """Powers of u interpolating f(u) on [-1, 1] at Chebyshev nodes, lowest first."""
    angles = [mp.pi * (k + mp.mpf(1) / 2) / NODES for k in range(NODES)]
    values = [f(mp.cos(angle)) for angle in angles]
    powers, t_prev, t_cur = [mp.mpf(0)] * (degree + 1), [mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]
    for j in range(degree + 1):
        c = 2 * mp.fsum(v * mp.cos(j * angle) for v, angle in zip(values, angles)) / NODES
        for i, p in enumerate(t_prev if j == 0 else t_cur):
            powers[i] += (c / 2 if j == 0 else c) * p
        if j >= 1:                               # T_j+1 = 2u T_j - T_j-1
            t_next = [mp.mpf(0)] + [2 * p for p in t_cur]
            for i, p in enumerate(t_prev):
                t_next[i] -= p
            t_prev, t_cur = t_cur, t_next
    return powers


def horner(coefficients, x):
    p = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        p = p * x + c
    return p


def print_c(name, coefficients, error):
    print(f"{name}, highest degree first (relative error {float(error):.2e}):")
    for c in reversed(coefficients):
        print(f"    {c!r},")


def expm1_tail(r):
    """P at r: (e^r - 1 - r) / r^2."""
    return (mp.expm1(r) - r) / (r * r) if r else mp.mpf(1) / 2


# expm1_reduced_d's P, in powers of r itself (u = r / EXP_HALF_WIDTH)
exp_p = [float(c / EXP_HALF_WIDTH ** i) for i, c in
         enumerate(chebyshev_powers(lambda u: expm1_tail(EXP_HALF_WIDTH * u), 9))]
exp_error = max(abs((r + r * r * horner(exp_p, r)) / mp.expm1(r) - 1)
                for r in (float(mp.log(2) / 2 * (k - 1999.5) / 1999.5) for k in range(4000)))
print_c("expm1_reduced_d's P", exp_p, exp_error)

scale = float(2 / (T_HI - T_LO))
offset = float(-1 - T_LO * 2 / (T_HI - T_LO))
far = [float(c) for c in chebyshev_powers(
    lambda u: erfc_scaled_over_t(T_LO + (T_HI - T_LO) * (u + 1) / 2), 20)]
far_error = max(abs(horner(far, t * scale + offset) / erfc_scaled_over_t(mp.mpf(t)) - 1)
                for t in (float(T_LO + (T_HI - T_LO) * k / 3999) for k in range(4000)))
small_error = max(abs(z * horner(ERF_SMALL, z * z) / mp.erf(z) - 1)
                  for z in (float(SMALL_END * (k + 1) / 4000) for k in range(4000)))
print(f"erfc_far_d: u = t * {scale!r} + {offset!r}")
print_c("erfc_far_d's S", far, far_error)
print(f"erf_small_d's P: relative error {float(small_error):.2e}")
