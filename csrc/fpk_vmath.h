/* fpk_vmath.h - private to fpkernels' C files: elementary functions the compiler can vectorise.
 *
 * libm's exp and log are calls, so a loop using them stays scalar. These are short inline
 * polynomials with integer tricks instead, accurate to about 1 ULP, with no branches. Used by
 * activations.c and losses.c (not part of the public header).
 */
#ifndef FPK_VMATH_H
#define FPK_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * Exponentials. They reduce x = k ln2 + r with |r| <= ln2/2, take e^r from a polynomial and
 * multiply by 2^k in two steps, so results that are subnormal are rounded only once.
 * ---------------------------------------------------------------------------------------- */

static inline int32_t bits_f(float x) { int32_t i; memcpy(&i, &x, 4); return i; }
static inline float from_bits_f(int32_t i) { float x; memcpy(&x, &i, 4); return x; }
static inline int64_t bits_d(double x) { int64_t i; memcpy(&i, &x, 8); return i; }
static inline double from_bits_d(int64_t i) { double x; memcpy(&x, &i, 8); return x; }

/* 2^n for -126 <= n <= 127 (float) and -1022 <= n <= 1023 (double). */
static inline float pow2_f(int32_t n) { return from_bits_f((int32_t)((uint32_t)(n + 127) << 23)); }
static inline double pow2_d(int64_t n) { return from_bits_d((int64_t)((uint64_t)(n + 1023) << 52)); }

#define ROUNDER_F 12582912.0f               /* 1.5 * 2^23: x + it - it rounds x to an integer */
#define ROUNDER_D 6755399441055744.0        /* 1.5 * 2^52 */

/* e^r - 1 for |r| <= ln2/2 (and a little beyond), float: r + r^2 P(r), P fitted (1 + the
   result within 4.4e-9 of e^r: below 0.1 ULP). */
static inline float expm1_reduced_f(float r)
{
    float p = 1.38144637e-3f;
    p = p * r + 8.36878084e-3f;
    p = p * r + 4.16683927e-2f;
    p = p * r + 1.66665196e-1f;
    p = p * r + 4.99999940e-1f;
    return r + r * r * p;
}

static inline float exp_reduced_f(float r) { return 1.0f + expm1_reduced_f(r); }

/* x = k ln2 + r with k = x/ln2 rounded, |r| <= ln2/2: returns r and stores k as an int. */
static inline float reduce_ln2_f(float x, int32_t *k_int)
{
    float shifted = x * 1.44269504f + ROUNDER_F;
    float k = shifted - ROUNDER_F;
    *k_int = bits_f(shifted) - bits_f(ROUNDER_F);   /* `shifted` ends in k's bits */
    float r = x - k * 0.693359375f;                 /* ln2 in two parts: k * hi is exact */
    return r - k * -2.12194440e-4f;
}

/* 2^scale * e^x in float, for an exact float argument x; within 1 ULP. x is clamped to
   [-150, 89] (beyond: 0 and inf, for any 0 <= scale <= 64); NaN stays NaN. */
static inline float exp_scaled_f(float x, int32_t scale)
{
    x = x > 89.0f ? 89.0f : x;
    x = x < -150.0f ? -150.0f : x;
    int32_t k;
    float r = reduce_ln2_f(x, &k);
    int32_t n = k + scale;
    int32_t half = n >> 1;                      /* arithmetic shift: floor(n / 2) */
    return exp_reduced_f(r) * pow2_f(half) * pow2_f(n - half);
}

/* e^x - 1 in float for -87 <= x <= 0, NaN stays NaN: 2^k (e^r - 1) + (2^k - 1) in one fma,
   so that nothing cancels near 0 (and 2^k - 1 is exact down to k = -24). */
static inline float expm1_f(float x)
{
    int32_t k;
    float r = reduce_ln2_f(x, &k);
    float pow2_k = pow2_f(k);
    return fmaf(pow2_k, expm1_reduced_f(r), pow2_k - 1.0f);
}

/* 2^scale * e^t in float for an argument t known in double (computed arguments such as
   -(beta x) or 2u of gelu_tanh would lose their last bits in float). */
static inline float exp_scaled_fd(double t, int32_t scale)
{
    t = t > 89.0 ? 89.0 : t;
    t = t < -150.0 ? -150.0 : t;
    double shifted = t * 1.4426950408889634 + ROUNDER_D;
    double k = shifted - ROUNDER_D;
    int32_t n = (int32_t)(bits_d(shifted) - bits_d(ROUNDER_D)) + scale;
    float r = (float)(t - k * 0.6931471805599453);
    int32_t half = n >> 1;                      /* arithmetic shift: floor(n / 2) */
    return exp_reduced_f(r) * pow2_f(half) * pow2_f(n - half);
}

/* e^r - 1 for |r| <= ln2/2 in double: r + r^2 P(r), P fitted (csrc/fit_double.py). */
static inline double expm1_reduced_d(double r)
{
    /* Estrin's scheme: pairs joined by r^2, r^4, r^8 (4 multiply-adds deep, not Horner's 9) */
    double r2 = r * r, r4 = r2 * r2;
    double p01 = 0.5000000000000001 + 0.1666666666666667 * r;
    double p23 = 0.04166666666662067 + 0.008333333333325551 * r;
    double p45 = 0.0013888888918920927 + 0.00019841269876842176 * r;
    double p67 = 2.48015186696279e-05 + 2.7557252861387166e-06 * r;
    double p89 = 2.7621325347067737e-07 + 2.5106263269311678e-08 * r;
    double p = (p01 + p23 * r2) + (p45 + p67 * r2) * r4 + p89 * (r4 * r4);
    return r + r2 * p;
}

/* x = k ln2 + r with k = x/ln2 rounded, |r| <= ln2/2: returns r and stores k. */
static inline double reduce_ln2_d(double x, int64_t *k_int)
{
    double shifted = x * 1.4426950408889634 + ROUNDER_D;
    double k = shifted - ROUNDER_D;
    *k_int = bits_d(shifted) - bits_d(ROUNDER_D);
    double r = x - k * 6.93147180369123816490e-01;   /* fdlibm's ln2 hi and lo */
    return r - k * 1.90821492927058770002e-10;
}

/* e^(hi + lo) in double for an argument in two parts, |lo| a few ULP of hi at most (x^2 split
   exactly by an fma, say), within about 1 ULP, for -746 <= hi <= 600: lo joins the reduced
   argument, so the result keeps the precision e^hi alone would lose (|hi| 2^-53 relative,
   1.6e-13 at hi = -745). 2^k is taken as 2^(k + 64), which is normal down to hi = -746, times
   2^-64: subnormal results are rounded once, in 5 operations where building 2^k in two halves
   for them took 8. NaN stays NaN. */
static inline double exp_reduced_d(double hi, double lo)
{
    int64_t k;
    double e_r = 1.0 + expm1_reduced_d(reduce_ln2_d(hi, &k) + lo);
    return e_r * pow2_d(k + 64) * 0x1p-64;
}

/* e^(hi + lo) with hi clamped to [-746, 600] (so 0 below -746; every caller's hi is at most
   0, e^(-a^2)). */
static inline double exp_split_d(double hi, double lo)
{
    hi = hi > 600.0 ? 600.0 : hi;
    hi = hi < -746.0 ? -746.0 : hi;
    return exp_reduced_d(hi, lo);
}

/* e^x for x <= 600 (every caller's x is at most 0: e^(x - max), e^-|x|), 0 below -746. Without
   exp_split_d's upper clamp: sigmoid, swish and gelu_tanh ran 10-17% faster for it, while erf
   and gelu, through exp_split_d, ran 1.6 and 2.4 times as long without it (GCC's choices). */
static inline double exp_d(double x) { return exp_reduced_d(x < -746.0 ? -746.0 : x, -0.0); }

/* e^x - 1 in double for x <= 0, NaN stays NaN, within about 1 ULP: 2^k (e^r - 1) + (2^k - 1)
   in one fma, so that nothing cancels near 0. Below -40 it is -1 (e^-40 < 2^-57). */
static inline double expm1_d(double x)
{
    x = x < -40.0 ? -40.0 : x;
    int64_t k;
    double r = reduce_ln2_d(x, &k);
    double pow2_k = pow2_d(k);
    return fma(pow2_k, expm1_reduced_d(r), pow2_k - 1.0);
}

/* log(x) in double for x > 0 (normal), within about 1 ULP: x = 2^k m with m in [sqrt(1/2),
   sqrt(2)), log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1)/(m + 1), |s| < 0.18.
   Zero, subnormals, inf and NaN are the caller's to handle. */
static inline double log_d(double x)
{
    int64_t bits = bits_d(x);
    /* exponent of x relative to sqrt(1/2): m = x / 2^k lands in [sqrt(1/2), sqrt(2)) */
    int64_t k = ((bits - 0x3FE6A09E667F3BCDLL) >> 52);
    double m = from_bits_d((int64_t)((uint64_t)bits - ((uint64_t)k << 52)));  /* k may be < 0 */
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 / 23;
    p = p * s2 + 1.0 / 21;
    p = p * s2 + 1.0 / 19;
    p = p * s2 + 1.0 / 17;
    p = p * s2 + 1.0 / 15;
    p = p * s2 + 1.0 / 13;
    p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;
    p = p * s2 + 1.0 / 7;
    p = p * s2 + 1.0 / 5;
    p = p * s2 + 1.0 / 3;
    return (double)k * 0.6931471805599453 + (2.0 * s + 2.0 * s * s2 * p);
}

/* log(1 + x) in double for x > -1 (1 + x normal), within a few ULP: log of u = 1 + x rounded,
   plus (x - (u - 1))/u, the part of x the rounding dropped (0 where 1 + x is exact). */
static inline double log1p_d(double x)
{
    double u = 1.0 + x;
    return log_d(u) + (x - (u - 1.0)) / u;
}

/* ------------------------------------------------------------------------------------------
 * The same on FPK_LANES float lanes at once (fpk_simd.h: 16 with AVX-512, 8 with AVX2). The
 * compiler vectorises the functions above, but C cannot ask for vscalefps, which multiplies by
 * 2^k in one rounding, subnormal results included (the scalar code builds 2^k in two halves
 * for that); without it a vectorised exponential costs about half as much again.
 * ---------------------------------------------------------------------------------------- */
#include "fpk_simd.h"
#if FPK_SIMD

/* e^r - 1 for |r| <= ln2/2, expm1_reduced_f's polynomial. */
FPK_VECTOR vfloat expm1_poly_v(vfloat r)
{
    vfloat p = splat(1.38144637e-3f);
    p = fma_v(p, r, splat(8.36878084e-3f));
    p = fma_v(p, r, splat(4.16683927e-2f));
    p = fma_v(p, r, splat(1.66665196e-1f));
    p = fma_v(p, r, splat(4.99999940e-1f));
    return fma_v(mul_v(r, r), p, r);
}

/* e^(x + lo) = 2^k e^r for integral k near x/ln2: e^r - 1. The argument comes in two parts:
   lo, a few ULP of x at most, joins the reduced argument (see expm1_split_v); callers with x
   alone pass -0, which the compiler drops (x + -0 is x for every x). */
FPK_VECTOR vfloat expm1_reduced_v(vfloat x, vfloat lo, vfloat k)
{
    vfloat r = fnma_v(k, splat(0.693359375f), x);                  /* ln2 in two parts */
    return expm1_poly_v(add_v(fnma_v(k, splat(-2.12194440e-4f), r), lo));
}

FPK_VECTOR vfloat exp_reduced_v(vfloat x, vfloat lo, vfloat k)
{
    return add_v(splat(1.0f), expm1_reduced_v(x, lo, k));
}

/* x/ln2 rounded to an integer, as reduce_ln2_f rounds it. */
FPK_VECTOR vfloat ln2_multiple_v(vfloat x)
{
    return sub_v(fma_v(x, splat(1.44269504f), splat(ROUNDER_F)), splat(ROUNDER_F));
}

/* expm1_f lane by lane. */
FPK_VECTOR vfloat expm1_v(vfloat x)
{
    vfloat k = ln2_multiple_v(x);
    vfloat pow2_k = scalef_normal_v(splat(1.0f), k);
    return fma_v(pow2_k, expm1_reduced_v(x, splat(-0.0f), k), sub_v(pow2_k, splat(1.0f)));
}

/* 2^scale e^(x + lo) for x <= 0 (every caller's case: e^-|x|, e^(x - max)), lo as in
   expm1_reduced_v: exp_scaled_f lane by lane (the same reduction and polynomial), for scale
   lanes in [0, 64] with 2^scale e^x < 2^54 (callers scale by 64 only below x = -60); NaN stays
   NaN. */
FPK_VECTOR vfloat exp_split_scaled_v(vfloat x, vfloat lo, vfloat scale)
{
    /* k = x/ln2 rounded as exp_scaled_f rounds it: `shifted` ends in k's bits */
#if FPK_LANES == 8
    /* AVX2 has no vscalefps. Where every lane's result is normal (x >= -86, not NaN: nearly
       always), adding k + scale to e^r's exponent bits is the exact scaling, in 2 operations
       instead of 6 (the same bits): shifting `shifted` left by 23 leaves (k + scale) 2^23,
       the rest of the rounder shifted out. */
    if (!any_m(is_v(x, _CMP_NGE_UQ, -86.0f))) {
        vfloat shifted = fma_v(x, splat(1.44269504f), splat(ROUNDER_F));
        vfloat e_r = exp_reduced_v(x, lo, sub_v(shifted, splat(ROUNDER_F)));
        vint exponent_step = _mm256_slli_epi32(bits_v(add_v(shifted, scale)), 23);
        return from_bits_v(_mm256_add_epi32(bits_v(e_r), exponent_step));
    }
#endif
    x = max_v(splat(-150.0f), x);                          /* NaN stays NaN (see clamp_v) */
    vfloat k = ln2_multiple_v(x);
    return scalef_small_v(exp_reduced_v(x, lo, k), add_v(k, scale));
}

/* 2^scale e^x: an argument in one part. */
FPK_VECTOR vfloat exp_scaled_v(vfloat x, vfloat scale)
{
    return exp_split_scaled_v(x, splat(-0.0f), scale);
}

/* e^x for x <= 0: the scale a -0, not a +0, as x + -0 is x for every x (-0 and NaN too), so
   the compiler drops the additions of the scale altogether. */
FPK_VECTOR vfloat exp_v(vfloat x) { return exp_scaled_v(x, splat(-0.0f)); }

/* ---- exponentials of split arguments (gelu, gelu_tanh) ----------------------------------- */

/* e^(hi + lo) = 2^k (1 + s), for an argument known as a float sum hi + lo with |lo|
   a few ULP of hi at most (x^2 split exactly by an fma, say): lo joins the reduced argument, so
   the result keeps its precision where e^hi alone would be off by |hi| 2^-24 relative. Returns
   s = e^r - 1 (|s| < 0.42) and stores k: a caller multiplying e^(hi + lo) by c takes c + c s in
   one fma and scales by 2^k (scalef_small_v) last, one rounding fewer than through e^(hi + lo)
   itself, and a single rounding even where the product is subnormal. Not clamped: callers
   keep -20000 < hi < 88 (k ln2's high part stays exact; 2^k then underflows to 0 cleanly). */
FPK_VECTOR vfloat expm1_split_v(vfloat hi, vfloat lo, vfloat *k)
{
    *k = ln2_multiple_v(hi);    /* fma and sub: vrndscaleps would take 2 uops on Intel */
    return expm1_reduced_v(hi, lo, *k);
}

/* e^(x - top) for x <= top (softmax's numerators), within about 1 ULP. x - top is rounded, by
   up to |x - top| 2^-24, and e^(x - top) would carry that as relative error (64 ULP in rows
   spanning 60), so the rounding error is its low part. It is exact by Fast2Sum, as x <= top
   makes min(x, -top) the operand larger in magnitude. It is clamped to [-1, 1]: it is below
   2^-17 wherever e^(x - top) is not 0, and beyond that, in rows spanning more than about 2^48,
   it would swamp the reduced argument; where x - top is -inf (x = -inf, or a row spanning more
   than FLT_MAX) it is NaN, which vminps turns into 1. NaN in x stays NaN. */
FPK_VECTOR vfloat exp_shifted_v(vfloat x, vfloat top)
{
    vfloat minus_top = sub_v(zero_v(), top);
    vfloat t = sub_v(x, top);
    vfloat err = sub_v(max_v(x, minus_top), sub_v(t, min_v(x, minus_top)));
    err = max_v(splat(-1.0f), min_v(err, splat(1.0f)));
    return exp_split_scaled_v(t, err, splat(-0.0f));
}

/* ---- e^x on AVX-512's double lanes (float64 sigmoid, tanh', swish) ------------------------ */
#if defined(__AVX512F__)
/* 2^(j/16), j = 0..15, as the nearest double (hi) and the rest (lo), from mpmath at 60 digits. */
static const double exp2_sixteenths[16] __attribute__((aligned(64))) = {
    1.0, 1.0442737824274138, 1.0905077326652577, 1.1387886347566916, 1.189207115002721,
    1.241857812073484, 1.2968395546510096, 1.3542555469368927, 1.4142135623730951,
    1.4768261459394993, 1.5422108254079407, 1.6104903319492543, 1.681792830507429,
    1.7562521603732995, 1.8340080864093424, 1.9152065613971474};
static const double exp2_sixteenths_lo[16] __attribute__((aligned(64))) = {
    0.0, 8.551889705537965e-17, -3.046782079812471e-17, 8.912812676025408e-17,
    3.982015231465646e-17, 4.658027591836937e-17, 2.5382502794888315e-17, 7.70094837980299e-17,
    -9.667293313452913e-17, -3.483994556892796e-17, 7.949834809697621e-17,
    2.4707192569797888e-17, 8.199010020581497e-17, 2.960140695448873e-17,
    3.283107224245627e-17, -1.0619946056195963e-16};

/* e^x for x <= 0 (every caller's: -|x|, -2|x|), 0 below -746, NaN stays NaN, within 0.55
   ULP (against expl at 3.9M points down to -745; mean 0.25): x = k ln2/16 + r with |r| <=
   ln2/32, and e^x = 2^floor(k/16) 2^((k mod 16)/16) e^r, the middle factor from a table in
   two parts (vpermt2pd), e^r - 1 from its Taylor polynomial of degree 7 (the next term is below
   2^-60 there), the power of 2 by vscalefpd, rounded once (subnormal results too). In place of
   exp_d's compiler-vectorised 11th-degree polynomial on [-ln2/2, ln2/2]: sigmoid's backward in
   cache 16.6 -> 15.3 TSC cycles per 16 doubles, and at 8M doubles 2.10 -> 1.75 ms. */
FPK_VECTOR vdouble exp_d_v(vdouble x)
{
    x = max_d(splat_d(-746.0), x);                          /* NaN stays NaN (b if NaN) */
    vdouble shifted = fma_d(x, splat_d(16 * 1.4426950408889634), splat_d(ROUNDER_D));
    vdouble k = sub_d(shifted, splat_d(ROUNDER_D));          /* 16 x / ln2, rounded */
    vdouble r = fnma_d(k, splat_d(6.93147180369123816490e-01 / 16), x);  /* ln2 in two parts */
    r = fnma_d(k, splat_d(1.90821492927058770002e-10 / 16), r);
    vdouble r2 = mul_d(r, r);
    vdouble q = fma_d(fma_d(fma_d(r, splat_d(1.0 / 5040), splat_d(1.0 / 720)), r2,
                            fma_d(r, splat_d(1.0 / 120), splat_d(1.0 / 24))), r2,
                      fma_d(r, splat_d(1.0 / 6), splat_d(0.5)));
    vdouble t = lookup16_d(exp2_sixteenths, shifted);       /* `shifted` ends in k's bits */
    vdouble t_lo = lookup16_d(exp2_sixteenths_lo, shifted);
    vdouble e = add_d(t, fma_d(t, fma_d(r2, q, r), t_lo));  /* t (1 + (e^r - 1)) + t_lo */
    return scalef_d(e, mul_d(k, splat_d(1.0 / 16)));
}
#endif

/* ---- the natural logarithm (bce) ---------------------------------------------------------- */

/* x = 2^k (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)): f exact, so that x near 1 gives log1p(f)
   with nothing cancelled; k as a float in *kf. */
FPK_VECTOR vfloat log_reduce_v(vfloat x, vfloat *kf)
{
    vint k = shift_right_signed_i(sub_i(bits_v(x), splat_i(0x3F3504F3)), 23);  /* sqrt(1/2) */
    *kf = float_of_i(k);
    return sub_v(from_bits_v(sub_i(bits_v(x), shift_left_i(k, 23))), splat(1.0f));
}

/* log(2^k (1 + f)) = k ln 2 + log1p(f) for 1 + f in [sqrt(1/2), sqrt(2)): log1p(f) = f - f^2/2
   + f^3 P(f), P of degree 8 (Cephes' logf); ln 2 in two parts. */
FPK_VECTOR vfloat log_reduced_v(vfloat f, vfloat kf)
{
    /* P by Estrin's scheme: 4 multiply-adds deep instead of Horner's 9, so that more vectors'
       logarithms are in flight at once (bce's value, 0/1 targets: 9% faster in cache) */
    vfloat f2 = mul_v(f, f), f4 = mul_v(f2, f2);
    vfloat p0 = fma_v(fma_v(splat(-1.6668057665E-1f), f, splat(2.0000714765E-1f)), f2,
                      fma_v(splat(-2.4999993993E-1f), f, splat(3.3333331174E-1f)));
    vfloat p4 = fma_v(fma_v(splat(-1.1514610310E-1f), f, splat(1.1676998740E-1f)), f2,
                      fma_v(splat(-1.2420140846E-1f), f, splat(1.4249322787E-1f)));
    vfloat p = fma_v(fma_v(splat(7.0376836292E-2f), f4, p4), f4, p0);
    vfloat tail = fma_v(kf, splat(-2.12194440e-4f), mul_v(mul_v(f2, f), p));
    tail = fma_v(splat(-0.5f), f2, tail);
    return fma_v(kf, splat(0.693359375f), add_v(f, tail));
}

/* log x for x > 0 normal and finite (zero, subnormals, inf and NaN are the caller's), within
   0.86 ULP (0.853 over every float from 1e-7 up, against log in double). */
FPK_VECTOR vfloat log_v(vfloat x)
{
    vfloat kf, f = log_reduce_v(x, &kf);
    return log_reduced_v(f, kf);
}

/* 2^-k (1 - p) - 1 for p < 1/2, given k of 1 - p's reduction: 1 - p lies in (1/2, 1], so k
   is 0 or -1, and this is -p or 1 - 2p, -((1 - k) p + k) in one rounding: exact. */
FPK_VECTOR vfloat one_minus_reduced_v(vfloat p, vfloat kf)
{
    return sub_v(zero_v(), fma_v(sub_v(splat(1.0f), kf), p, kf));
}

/* log(1 - p) for 0 < p < 1 with 1 - p normal, as close as log_v, from 1 - p's reduction made
   exact: p >= 1/2 makes 1 - p exact, and below, one_minus_reduced_v. log_v(1 - p) would carry
   1 - p's rounding, up to 2^-25: all of log(1 - p)'s digits for p near 2^-24. */
FPK_VECTOR vfloat log_one_minus_v(vfloat p)
{
    vfloat kf, f = log_reduce_v(sub_v(splat(1.0f), p), &kf);
    f = blend_v(is_v(p, _CMP_LT_OQ, 0.5f), f, one_minus_reduced_v(p, kf));
    return log_reduced_v(f, kf);
}

#if FPK_LANES == 16     /* (written for any lane count; AVX2 does not use them: activations.c) */
/* ---- maxima and sums of short rows, FPK_LANES rows at once ---------------------------------
 * A block of FPK_LANES rows of at most FPK_LANES entries, each row in a vector of its own (the
 * lanes past it -inf for a maximum, 0 for a sum): a row's maximum or sum would take 8
 * operations across its lanes, and a tree across the vectors gives them all, row r's in lane
 * r of the last vector (AVX-512: 15 steps of 3 operations for 16 rows). Level k of the tree
 * takes its vectors as groups of FPK_LANES >> k lanes, one a row, and pairs each group's lower
 * half with its upper half (pick2_v), two vectors into one. The rows' entries themselves are
 * the block's FPK_LANES cols floats read as cols whole vectors; lane l of the k-th belongs to
 * row (FPK_LANES k + l) / cols (block_rows). */
#define TREE_ROWS FPK_LANES
#define TREE_LEVELS (FPK_LANES == 16 ? 4 : 3)

typedef struct { vint lower[4], upper[4]; } tree_pairing;

static inline tree_pairing tree_pairings(void)
{
    tree_pairing pairing;
    for (int level = 0; level < TREE_LEVELS; level++) {
        int32_t lower[FPK_LANES], upper[FPK_LANES];
        int width = FPK_LANES >> level, half = width / 2, groups = FPK_LANES / width;
        for (int lane = 0; lane < FPK_LANES; lane++) {
            int group = lane / half;                    /* of the pair's 2 * groups */
            int source = group < groups ? group * width : FPK_LANES + (group - groups) * width;
            lower[lane] = source + lane % half;
            upper[lane] = lower[lane] + half;
        }
        pairing.lower[level] = load_i(lower);
        pairing.upper[level] = load_i(upper);
    }
    return pairing;
}

/* row_of[k]: the row (FPK_LANES k + l) / cols of each lane l of the block's vector k, k < cols. */
static inline void block_rows(size_t cols, vint row_of[TREE_ROWS])
{
    for (size_t k = 0; k < cols; k++) {
        int32_t rows[FPK_LANES];
        for (int lane = 0; lane < FPK_LANES; lane++)
            rows[lane] = (int32_t)((FPK_LANES * k + lane) / cols);
        row_of[k] = load_i(rows);
    }
}

/* Lane r: the largest lane of v[r] (v is overwritten). */
FPK_VECTOR vfloat tree_max(vfloat v[TREE_ROWS], const tree_pairing *p)
{
    for (int level = 0, n = TREE_ROWS; n > 1; level++, n /= 2)
        for (int k = 0; k < n / 2; k++)
            v[k] = max_v(pick2_v(v[2 * k], p->lower[level], v[2 * k + 1]),
                         pick2_v(v[2 * k], p->upper[level], v[2 * k + 1]));
    return v[0];
}

/* Lane r: the sum of v[r]'s lanes, as the float total plus *error, which gathers every
   addition's rounding error (TwoSum) and, when given, the lanes of errors[r] (v and errors are
   overwritten). */
FPK_VECTOR vfloat tree_sum(vfloat v[TREE_ROWS], vfloat *errors, vfloat *error,
                           const tree_pairing *p)
{
    vfloat carried[TREE_ROWS / 2] = {0};        /* level by level, in place as v */
    for (int level = 0, n = TREE_ROWS; n > 1; level++, n /= 2)
        for (int k = 0; k < n / 2; k++) {
            vfloat a = pick2_v(v[2 * k], p->lower[level], v[2 * k + 1]);
            vfloat b = pick2_v(v[2 * k], p->upper[level], v[2 * k + 1]);
            vfloat rounding, total = two_sum_v(a, b, &rounding);
            vfloat *in = level > 0 ? carried : errors;
            if (in)
                rounding = add_v(rounding, add_v(pick2_v(in[2 * k], p->lower[level], in[2 * k + 1]),
                                                 pick2_v(in[2 * k], p->upper[level], in[2 * k + 1])));
            v[k] = total;
            carried[k] = rounding;
        }
    *error = carried[0];
    return v[0];
}
#endif

#endif /* FPK_SIMD */

#endif /* FPK_VMATH_H */
