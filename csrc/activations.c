/* activations.c - activations, their derivatives and fused backward passes, and erf.
 *
 * Every element-wise activation has three kernels:
 *   forward     out = f(x)
 *   derivative  out = f'(x)
 *   backward    out = grad_out * f'(x)     (fused: f'(x) is never stored)
 * softmax works on rows: forward, the diagonal of its Jacobian, and the Jacobian-vector product.
 *
 * The math is written once, per element, as a static inline function of one value (the
 * "*_d" functions on double). float64 kernels call them directly; float32 kernels call
 * their float twins in activations_f32.h-style section below, which are vectorised
 * polynomial versions accurate to a few ULP (see "fast float32 math").
 *
 * Numerics: nothing overflows where the answer is finite. The tricks, once:
 *   sigmoid(x)  = 1/(1+e) for x >= 0, e/(1+e) for x < 0, with e = exp(-|x|) in (0, 1]
 *   sigmoid'(x) = e/(1+e)^2                       (no 1 - s cancellation)
 *   tanh(x)     = sign(x) (1 - e)/(1 + e), e = exp(-2|x|)   (libm for float64)
 *   tanh'(x)    = 4e/(1+e)^2                      (no 1 - t^2 cancellation)
 *   gelu(x)     = x/2 erfc(-x/sqrt 2)             (no 1 + erf cancellation for x << 0)
 *   gelu_tanh   = x sigmoid(2u)                   since (1 + tanh u)/2 = sigmoid(2u)
 *   x * (something that underflows to 0) is 0 even when x is infinite (the limit).
 */
/* Floating-point exceptions are never inspected here, so let GCC treat conversions and
   compares as side-effect free: without this it refuses to vectorise loops mixing float and
   double (results are unchanged; this is not -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpkernels.h"

#define SQRT_HALF 0.70710678118654752440        /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794     /* 1/sqrt(2 pi) */
#define SQRT_2_OVER_PI 0.79788456080286535588   /* sqrt(2/pi) */
#define GELU_CUBIC 0.044715

/* ------------------------------------------------------------------------------------------
 * Exponentials the compiler can vectorise (libm's exp is a call, so loops using it stay
 * scalar). Both reduce x = k ln2 + r with |r| <= ln2/2, take e^r from a polynomial and
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

/* e^r for |r| <= ln2/2, float: 1 + r + r^2 P(r), P fitted (error < 2e-10). */
static inline float exp_reduced_f(float r)
{
    float p = 1.9900444e-4f;
    p = p * r + 1.3934545e-3f;
    p = p * r + 8.3332974e-3f;
    p = p * r + 4.1666456e-2f;
    p = p * r + 1.6666667e-1f;
    p = p * r + 0.5f;
    return 1.0f + (r + r * r * p);
}

/* 2^scale * e^x in float, for an exact float argument x; within 1 ULP. x is clamped to
   [-150, 89] (beyond: 0 and inf, for any 0 <= scale <= 64); NaN stays NaN. */
static inline float exp_scaled_f(float x, int32_t scale)
{
    x = x > 89.0f ? 89.0f : x;
    x = x < -150.0f ? -150.0f : x;
    float shifted = x * 1.44269504f + ROUNDER_F;
    float k = shifted - ROUNDER_F;
    int32_t n = bits_f(shifted) - bits_f(ROUNDER_F) + scale;
    float r = x - k * 0.693359375f;             /* ln2 in two parts: k * hi is exact */
    r = r - k * -2.12194440e-4f;
    int32_t half = n / 2;
    return exp_reduced_f(r) * pow2_f(half) * pow2_f(n - half);
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
    int32_t half = n / 2;
    return exp_reduced_f(r) * pow2_f(half) * pow2_f(n - half);
}

/* e^x in double, within about 1 ULP: Taylor terms to r^13 (|r| <= ln2/2). */
static inline double exp_d(double x)
{
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;
    double shifted = x * 1.4426950408889634 + ROUNDER_D;
    double k = shifted - ROUNDER_D;
    int64_t n = bits_d(shifted) - bits_d(ROUNDER_D);
    double r = x - k * 6.93147180369123816490e-01;   /* fdlibm's ln2 hi and lo */
    r = r - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    double e_r = 1.0 + (r + r * r * p);
    int64_t half = n / 2;
    return e_r * pow2_d(half) * pow2_d(n - half);
}

/* ------------------------------------------------------------------------------------------
 * The math of one element, in double (float64 kernels, and float32 derivatives whose
 * result crosses zero: swish', gelu', gelu_tanh' cancel there, and only double keeps
 * them within a few float ULP).
 * ---------------------------------------------------------------------------------------- */

/* x * y where y may underflow to 0 and x may be infinite: the limit there is 0. */
static inline double times_vanishing(double x, double y)
{
    return y == 0.0 ? 0.0 * copysign(1.0, x) : x * y;
}

static inline double sigmoid_d(double x)
{
    double e = exp_d(-fabs(x));
    return (x >= 0 ? 1.0 : e) / (1.0 + e);
}

static inline double sigmoid_slope_d(double x)   /* sigmoid'(x) = s (1 - s) */
{
    double e = exp_d(-fabs(x));
    double one_plus_e = 1.0 + e;
    return e / (one_plus_e * one_plus_e);
}

static inline double tanh_slope_d(double x)      /* tanh'(x) = 1 - tanh(x)^2 */
{
    double e = exp_d(-2.0 * fabs(x));
    double one_plus_e = 1.0 + e;
    return 4.0 * e / (one_plus_e * one_plus_e);
}

static inline double relu_d(double x) { return x > 0 ? x : (x == x ? 0.0 : x); }
static inline double relu_slope_d(double x) { return x > 0 ? 1.0 : (x == x ? 0.0 : x); }

static inline double leaky_relu_d(double x, double alpha) { return x > 0 ? x : alpha * x; }
static inline double leaky_relu_slope_d(double x, double alpha)
{
    return x > 0 ? 1.0 : (x == x ? alpha : x);
}

static inline double tanh_d(double x) { return tanh(x); }

static inline double swish_d(double x, double beta)
{
    return times_vanishing(x, sigmoid_d(beta * x));
}

static inline double swish_slope_d(double x, double beta)   /* s + beta x s (1 - s) */
{
    double s = sigmoid_d(beta * x);
    return s + times_vanishing(beta * x, sigmoid_slope_d(beta * x));
}

static inline double gelu_d(double x) { return times_vanishing(x, 0.5 * erfc(-x * SQRT_HALF)); }

static inline double gelu_slope_d(double x)    /* Phi(x) + x phi(x) */
{
    double cdf = 0.5 * erfc(-x * SQRT_HALF);
    double pdf = INV_SQRT_2PI * exp_d(-0.5 * x * x);
    return cdf + times_vanishing(x, pdf);
}

static inline double gelu_tanh_d(double x)
{
    double u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
    return times_vanishing(x, sigmoid_d(2.0 * u));
}

static inline double gelu_tanh_slope_d(double x)
{
    /* 0.5 (1 + t) + 0.5 x (1 - t^2) u'  with  (1 + t)/2 = s,  (1 - t^2)/2 = 2 s (1 - s) */
    double u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
    double du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);
    double slope = sigmoid_slope_d(2.0 * u);
    return sigmoid_d(2.0 * u) + times_vanishing(2.0 * x * du, slope);
}

/* ------------------------------------------------------------------------------------------
 * The math of one element, in float (float32 forward passes and the derivatives that stay
 * away from zero), each within 4 ULP of the exact value (tests/test_activations.py).
 * Products x * s whose s may be subnormal are taken at 2^64 times their size and scaled
 * back at the end: rounding s first would lose its relative precision.
 * ---------------------------------------------------------------------------------------- */

#define BIG_SCALE 64                /* work at 2^64 times the size when e^-|z| is tiny */
#define TINY_ARGUMENT 60.0          /* ... which is when z < -60 */

static inline float relu_f(float x) { return x > 0 ? x : (x == x ? 0.0f : x); }
static inline float relu_slope_f(float x) { return x > 0 ? 1.0f : (x == x ? 0.0f : x); }
static inline float leaky_relu_f(float x, float alpha) { return x > 0 ? x : alpha * x; }
static inline float leaky_relu_slope_f(float x, float alpha)
{
    return x > 0 ? 1.0f : (x == x ? alpha : x);
}

static inline float sigmoid_f(float x)
{
    float e = exp_scaled_f(-fabsf(x), 0);
    return (x >= 0 ? 1.0f : e) / (1.0f + e);
}

/* sigmoid'(x) = e/(1 + e)^2: e in float, the rest in double so the result rounds once
   (returned in double: a backward pass multiplies by grad_out before rounding). */
static inline double sigmoid_slope_f(float x)
{
    double e = exp_scaled_f(-fabsf(x), 0);
    double one_plus_e = 1.0 + e;
    return e / (one_plus_e * one_plus_e);
}

/* tanh: an odd polynomial near 0, else sign(x) (1 - 2e/(1 + e)) with e = e^(-2|x|). */
static inline float tanh_f(float x)
{
    float a = fabsf(x), x2 = x * x;
    float p = 2.4976127e-3f;
    p = p * x2 - 8.5065253e-3f;
    p = p * x2 + 2.1813745e-2f;
    p = p * x2 - 5.3964254e-2f;
    p = p * x2 + 1.3333322e-1f;
    p = p * x2 - 3.3333334e-1f;
    float near_zero = x + x * x2 * p;
    float e = exp_scaled_f(-2.0f * a, 0);
    float far = copysignf(1.0f - 2.0f * e / (1.0f + e), x);
    return a < 0.55f ? near_zero : far;
}

/* tanh'(x) = 4e/(1 + e)^2, e = e^(-2|x|): 4e is taken directly (it rounds once, even when
   subnormal), the rest in double as for sigmoid'. */
static inline double tanh_slope_f(float x)
{
    double four_e = exp_scaled_f(-2.0f * fabsf(x), 2);
    double one_plus_e = 1.0 + 0.25 * four_e;
    return four_e / (one_plus_e * one_plus_e);
}

/* x * sigmoid(z) with z known in double (z = beta x for swish, 2u for gelu_tanh). */
static inline float x_sigmoid_f(float x, double z)
{
    double a = fabs(z);
    int32_t scale = z < -TINY_ARGUMENT ? BIG_SCALE : 0;
    float big_e = exp_scaled_fd(-a, scale);               /* 2^scale e^-|z| */
    float e = big_e * pow2_f(-scale);
    float big_s = (z >= 0 ? pow2_f(scale) : big_e) / (1.0f + e);   /* 2^scale sigmoid(z) */
    float y = x * big_s * pow2_f(-scale);
    return big_s == 0.0f ? 0.0f * copysignf(1.0f, x) : y;
}

static inline float swish_f(float x, double beta) { return x_sigmoid_f(x, beta * x); }

static inline float gelu_tanh_f(float x)
{
    double xd = x;
    return x_sigmoid_f(x, 2.0 * SQRT_2_OVER_PI * (xd + GELU_CUBIC * xd * xd * xd));
}

/* ------------------------------------------------------------------------------------------
 * Kernel generators. EXPR is the value at v = x[i] (type T); the backward kernels multiply
 * it by grad_out[i] before the one rounding to T.
 * ---------------------------------------------------------------------------------------- */

#define FORWARD_KERNEL(NAME, T, EXPR, ...)                                                  \
    int NAME(const T *x, T *out, size_t n __VA_ARGS__)                                      \
    {                                                                                       \
        if (n == 0) return FPK_OK;                                                          \
        if (!x || !out) return FPK_ERR_NULL;                                                \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            for (size_t i = lo; i < hi; i++) { T v = x[i]; out[i] = (T)(EXPR); });          \
        return FPK_OK;                                                                      \
    }

#define BACKWARD_KERNEL(NAME, T, EXPR, ...)                                                 \
    int NAME(const T *x, const T *grad_out, T *out, size_t n __VA_ARGS__)                   \
    {                                                                                       \
        if (n == 0) return FPK_OK;                                                          \
        if (!x || !grad_out || !out) return FPK_ERR_NULL;                                   \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            for (size_t i = lo; i < hi; i++) {                                              \
                T v = x[i];                                                                 \
                out[i] = (T)(grad_out[i] * (EXPR));                                         \
            });                                                                             \
        return FPK_OK;                                                                      \
    }

/* f32 forward F32(v), f32 derivative DF32(v), f64 forward F(v), f64 derivative DF(v). */
#define ACTIVATION(NAME, F32, DF32, F, DF, ...)                                             \
    FORWARD_KERNEL(fpk_##NAME##_forward_f32, float, F32, __VA_ARGS__)                       \
    FORWARD_KERNEL(fpk_##NAME##_forward_f64, double, F, __VA_ARGS__)                        \
    FORWARD_KERNEL(fpk_##NAME##_derivative_f32, float, DF32, __VA_ARGS__)                   \
    FORWARD_KERNEL(fpk_##NAME##_derivative_f64, double, DF, __VA_ARGS__)                    \
    BACKWARD_KERNEL(fpk_##NAME##_backward_f32, float, DF32, __VA_ARGS__)                    \
    BACKWARD_KERNEL(fpk_##NAME##_backward_f64, double, DF, __VA_ARGS__)

ACTIVATION(relu, relu_f(v), relu_slope_f(v), relu_d(v), relu_slope_d(v), )
ACTIVATION(leaky_relu, leaky_relu_f(v, (float)alpha), leaky_relu_slope_f(v, (float)alpha),
           leaky_relu_d(v, alpha), leaky_relu_slope_d(v, alpha), , double alpha)
ACTIVATION(sigmoid, sigmoid_f(v), sigmoid_slope_f(v), sigmoid_d(v), sigmoid_slope_d(v), )
ACTIVATION(tanh, tanh_f(v), tanh_slope_f(v), tanh_d(v), tanh_slope_d(v), )
ACTIVATION(swish, swish_f(v, beta), swish_slope_d(v, beta), swish_d(v, beta),
           swish_slope_d(v, beta), , double beta)
ACTIVATION(gelu, gelu_d(v), gelu_slope_d(v), gelu_d(v), gelu_slope_d(v), )
ACTIVATION(gelu_tanh, gelu_tanh_f(v), gelu_tanh_slope_d(v), gelu_tanh_d(v),
           gelu_tanh_slope_d(v), )
FORWARD_KERNEL(fpk_erf_f32, float, erf(v), )
FORWARD_KERNEL(fpk_erf_f64, double, erf(v), )

/* ------------------------------------------------------------------------------------------
 * softmax, row by row along the last axis.
 *   s_j = e^(x_j - m) / sum_k e^(x_k - m),  m = max_k x_k
 * Rows holding +inf: exactly one +inf gives 1 there and 0 elsewhere (the limit); two or more
 * +inf, or a row of only -inf, have no limit and give NaN (as PyTorch). NaN anywhere in a row
 * makes the whole row NaN.
 * ---------------------------------------------------------------------------------------- */

/* The largest value of a row (NaN if the row holds NaN), and how many times it is +inf. */
#define ROW_MAX(T, row, cols, m, has_nan, inf_count)                                        \
    T m = -(T)INFINITY;                                                                     \
    int has_nan = 0;                                                                        \
    size_t inf_count = 0;                                                                   \
    for (size_t j = 0; j < cols; j++) {                                                     \
        m = row[j] > m ? row[j] : m;                                                        \
        has_nan |= row[j] != row[j];                                                        \
    }                                                                                       \
    if (m == (T)INFINITY)                                                                   \
        for (size_t j = 0; j < cols; j++) inf_count += row[j] == (T)INFINITY;

/* Softmax of one row into s (s may be the row itself). */
#define SOFTMAX_ROW(T, EXP, row, s, cols)                                                   \
    do {                                                                                    \
        ROW_MAX(T, row, cols, m, has_nan, inf_count)                                        \
        if (has_nan || inf_count > 1 || m == -(T)INFINITY) {                                \
            for (size_t j = 0; j < cols; j++) s[j] = (T)NAN;                                \
        } else if (inf_count == 1) {                                                        \
            for (size_t j = 0; j < cols; j++) s[j] = row[j] == (T)INFINITY ? 1 : 0;         \
        } else {                                                                            \
            double total = 0;                                                               \
            for (size_t j = 0; j < cols; j++) {                                             \
                s[j] = EXP(row[j] - m);                                                     \
                total += s[j];                                                              \
            }                                                                               \
            T scale = (T)(1.0 / total);                                                     \
            for (size_t j = 0; j < cols; j++) s[j] *= scale;                                \
        }                                                                                   \
    } while (0)

#define EXP_F32(x) exp_scaled_f(x, 0)

#define SOFTMAX_KERNELS(SUFFIX, T, EXP)                                                     \
    /* out = softmax of each row of x (rows x cols); out may be x. */                       \
    int fpk_softmax_forward_##SUFFIX(const T *x, T *out, size_t rows, size_t cols)          \
    {                                                                                       \
        if (rows == 0 || cols == 0) return FPK_OK;                                          \
        if (!x || !out) return FPK_ERR_NULL;                                                \
        FPK_PARALLEL_RANGES(rows, fpk_threads_for(rows * cols), lo, hi,                     \
            for (size_t r = lo; r < hi; r++) {                                              \
                const T *row = x + r * cols;                                                \
                T *s = out + r * cols;                                                      \
                SOFTMAX_ROW(T, EXP, row, s, cols);                                          \
            });                                                                             \
        return FPK_OK;                                                                      \
    }                                                                                       \
    /* out = s (1 - s): the diagonal of each row's Jacobian. */                             \
    int fpk_softmax_derivative_##SUFFIX(const T *x, T *out, size_t rows, size_t cols)       \
    {                                                                                       \
        int status = fpk_softmax_forward_##SUFFIX(x, out, rows, cols);                      \
        if (status != FPK_OK) return status;                                                \
        size_t n = rows * cols;                                                             \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            for (size_t i = lo; i < hi; i++) out[i] = out[i] * (1 - out[i]););              \
        return FPK_OK;                                                                      \
    }                                                                                       \
    /* out = s * (g - sum(g * s)) per row: the Jacobian-vector product, s computed from x.  \
       out may be x or grad_out. */                                                         \
    int fpk_softmax_backward_##SUFFIX(const T *x, const T *grad_out, T *out,                \
                                      size_t rows, size_t cols)                             \
    {                                                                                       \
        if (rows == 0 || cols == 0) return FPK_OK;                                          \
        if (!x || !grad_out || !out) return FPK_ERR_NULL;                                   \
        int threads = fpk_threads_for(rows * cols), failed = 0;                             \
        FPK_PARALLEL_RANGES(rows, threads, lo, hi,                                          \
            T *s = lo < hi ? malloc(cols * sizeof(T)) : NULL;                               \
            if (lo < hi && !s) { __atomic_store_n(&failed, 1, __ATOMIC_RELAXED); }          \
            else for (size_t r = lo; r < hi; r++) {                                         \
                const T *row = x + r * cols, *g = grad_out + r * cols;                      \
                T *o = out + r * cols;                                                      \
                SOFTMAX_ROW(T, EXP, row, s, cols);                                          \
                double dot = 0;                                                             \
                for (size_t j = 0; j < cols; j++) dot += (double)g[j] * s[j];               \
                for (size_t j = 0; j < cols; j++) o[j] = (T)(s[j] * (g[j] - dot));          \
            }                                                                               \
            free(s););                                                                      \
        return failed ? FPK_ERR_NOMEM : FPK_OK;                                             \
    }

SOFTMAX_KERNELS(f32, float, EXP_F32)
SOFTMAX_KERNELS(f64, double, exp_d)
