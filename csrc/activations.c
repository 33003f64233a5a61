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

/* These loops are compute-bound: on AVX-512 machines use the full 512-bit registers (GCC
   prefers 256 by default for -march=native; measured 1.2-1.6x faster here). */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpkernels.h"
#include "fpk_vmath.h"

#define SQRT_HALF 0.70710678118654752440        /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794     /* 1/sqrt(2 pi) */
#define SQRT_2_OVER_PI 0.79788456080286535588   /* sqrt(2/pi) */
#define GELU_CUBIC 0.044715

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

/* sigmoid(z) and sigmoid'(z) together: one exponential, one division. */
static inline void sigmoid_and_slope_d(double z, double *s, double *slope)
{
    double e = exp_d(-fabs(z));
    double r = 1.0 / (1.0 + e);
    *s = (z >= 0 ? 1.0 : e) * r;
    *slope = e * r * r;
}

static inline double swish_slope_d(double x, double beta)   /* s + beta x s (1 - s) */
{
    double s, slope;
    sigmoid_and_slope_d(beta * x, &s, &slope);
    return s + times_vanishing(beta * x, slope);
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
    double s, slope;
    sigmoid_and_slope_d(2.0 * u, &s, &slope);
    return s + times_vanishing(2.0 * x * du, slope);
}

/* ------------------------------------------------------------------------------------------
 * The Gaussian CDF Phi(x) = erfc(-x/sqrt 2)/2 for float inputs, in double, vectorisable:
 *   |z| < 0.85 (z = x/sqrt 2):  Phi = 1/2 + z P(z^2)/2,  P fitted (relative error < 3e-17)
 *   beyond:                     erfc(|z|) = e^(-z^2) R(|z|),  R(a) = erfc(a) e^(a^2) fitted as a
 *                               polynomial in t = 1/(1 + a/2) (relative error < 5e-12)
 * For float x, z^2 = x^2/2 is exact in double, so e^(-z^2) keeps its precision. Accurate to
 * double precision where gelu' crosses zero (x = -0.75), and far beyond float elsewhere.
 * ---------------------------------------------------------------------------------------- */

static inline double erf_small_d(double z)        /* erf(z) for |z| <= 0.85 */
{
    double s = z * z;
    double p = 1.0660449886842932e-08;
    p = p * s - 1.5691584281909376e-07;
    p = p * s + 1.6398269811768604e-06;
    p = p * s - 1.4921848702896826e-05;
    p = p * s + 0.0001205518656598847;
    p = p * s - 0.0008548323385919002;
    p = p * s + 0.005223977568912982;
    p = p * s - 0.026866170639991065;
    p = p * s + 0.11283791670931083;
    p = p * s - 0.3761263890318331;
    p = p * s + 1.1283791670955126;
    return z * p;
}

static inline double erfc_scaled_d(double a)      /* erfc(a) e^(a^2) for 0.85 <= a <= 10.5 */
{
    a = a > 10.5 ? 10.5 : a;
    double t = 1.0 / (1.0 + 0.5 * a);
    double r = 0.00830968088117361;
    r = r * t + 0.031029542870500464;
    r = r * t - 0.28262234951832993;
    r = r * t + 0.6659931665680332;
    r = r * t - 0.7035104615707335;
    r = r * t + 0.3395852555284453;
    r = r * t - 0.16965228040398345;
    r = r * t + 0.13233117410354647;
    r = r * t + 0.16620788450152013;
    r = r * t + 0.24828856275289515;
    r = r * t + 0.2819564506718112;
    r = r * t + 0.2821025878112766;
    r = r * t - 1.9715722000060094e-07;
    return r;
}

/* Phi(x) for x = a float value (held in double). */
static inline double gauss_cdf_fd(double x)
{
    double z = x * SQRT_HALF;
    double a = fabs(z);
    double near = 0.5 + 0.5 * erf_small_d(a < 0.85 ? z : 0.0);
    double tail = 0.5 * exp_d(-0.5 * x * x) * erfc_scaled_d(a);     /* erfc(a)/2 */
    double far = x < 0 ? tail : 1.0 - tail;
    return a < 0.85 ? near : (x == x ? far : x);
}

/* erf(x) for a float x (held in double), from the same two pieces. */
static inline double erf_fd(double x)
{
    double a = fabs(x);
    double near = erf_small_d(a < 0.85 ? x : 0.0);
    double far = copysign(1.0 - exp_d(-x * x) * erfc_scaled_d(a), x);
    return a < 0.85 ? near : (x == x ? far : x);
}

static inline double gelu_fd(float x) { return times_vanishing(x, gauss_cdf_fd(x)); }

static inline double gelu_slope_fd(float x)       /* Phi(x) + x phi(x) */
{
    double pdf = INV_SQRT_2PI * exp_d(-0.5 * (double)x * x);
    return gauss_cdf_fd(x) + times_vanishing(x, pdf);
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
/* alpha arrives in double and is used in float, as PyTorch does for float32. */
static inline float leaky_relu_f(float x, double alpha) { return x > 0 ? x : (float)alpha * x; }
static inline float leaky_relu_slope_f(float x, double alpha)
{
    return x > 0 ? 1.0f : (x == x ? (float)alpha : x);
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

/* x * sigmoid(x): silu, swish with beta = 1, whose argument is exact in float. */
static inline float silu_f(float x)
{
    int32_t scale = x < -(float)TINY_ARGUMENT ? BIG_SCALE : 0;
    float big_e = exp_scaled_f(-fabsf(x), scale);
    float e = big_e * pow2_f(-scale);
    float big_s = (x >= 0 ? pow2_f(scale) : big_e) / (1.0f + e);
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
ACTIVATION(leaky_relu, leaky_relu_f(v, alpha), leaky_relu_slope_f(v, alpha), leaky_relu_d(v, alpha), leaky_relu_slope_d(v, alpha), , double alpha)
ACTIVATION(sigmoid, sigmoid_f(v), sigmoid_slope_f(v), sigmoid_d(v), sigmoid_slope_d(v), )
ACTIVATION(tanh, tanh_f(v), tanh_slope_f(v), tanh_d(v), tanh_slope_d(v), )
/* swish: beta = 1 (silu) keeps its exponential's argument in float, the faster path. */
static FORWARD_KERNEL(silu_forward_f32, float, silu_f(v), )
static FORWARD_KERNEL(swish_any_beta_forward_f32, float, swish_f(v, beta), , double beta)
int fpk_swish_forward_f32(const float *x, float *out, size_t n, double beta)
{
    return beta == 1.0 ? silu_forward_f32(x, out, n) : swish_any_beta_forward_f32(x, out, n, beta);
}
FORWARD_KERNEL(fpk_swish_forward_f64, double, swish_d(v, beta), , double beta)
FORWARD_KERNEL(fpk_swish_derivative_f32, float, swish_slope_d(v, beta), , double beta)
FORWARD_KERNEL(fpk_swish_derivative_f64, double, swish_slope_d(v, beta), , double beta)
BACKWARD_KERNEL(fpk_swish_backward_f32, float, swish_slope_d(v, beta), , double beta)
BACKWARD_KERNEL(fpk_swish_backward_f64, double, swish_slope_d(v, beta), , double beta)
ACTIVATION(gelu, gelu_fd(v), gelu_slope_fd(v), gelu_d(v), gelu_slope_d(v), )
ACTIVATION(gelu_tanh, gelu_tanh_f(v), gelu_tanh_slope_d(v), gelu_tanh_d(v), gelu_tanh_slope_d(v), )
FORWARD_KERNEL(fpk_erf_f32, float, erf_fd(v), )
FORWARD_KERNEL(fpk_erf_f64, double, erf(v), )

/* ------------------------------------------------------------------------------------------
 * softmax, row by row along the last axis.
 *   s_j = e^(x_j - m) / sum_k e^(x_k - m),  m = max_k x_k
 * Rows holding +inf: exactly one +inf gives 1 there and 0 elsewhere (the limit); two or more
 * +inf, or a row of only -inf, have no limit and give NaN (as PyTorch). NaN anywhere in a row
 * makes the whole row NaN.
 * ---------------------------------------------------------------------------------------- */

#define LANES 16   /* independent running maxima and sums, so the row loops vectorise */

/* Row helpers for one value type T with exponential EXP:
     row_max:  the largest value, NaN skipped (a NaN still poisons the row: e^(NaN - m) makes
               the sum NaN), and how many entries are +inf when it is +inf;
     row_exp:  s_j = e^(x_j - m) and their sum, in double;
     row_dot:  sum_j g_j s_j, in double. */
#define ROW_HELPERS(SUFFIX, T, EXP)                                                         \
    static inline T row_max_##SUFFIX(const T *row, size_t cols, size_t *inf_count)          \
    {                                                                                       \
        T lane[LANES];                                                                      \
        for (int k = 0; k < LANES; k++) lane[k] = -(T)INFINITY;                             \
        size_t j = 0;                                                                       \
        for (; j + LANES <= cols; j += LANES)                                               \
            for (int k = 0; k < LANES; k++)                                                 \
                lane[k] = row[j + k] > lane[k] ? row[j + k] : lane[k];                      \
        for (int k = 0; j < cols; j++, k++)                                                 \
            lane[k] = row[j] > lane[k] ? row[j] : lane[k];                                  \
        T m = lane[0];                                                                      \
        for (int k = 1; k < LANES; k++) m = lane[k] > m ? lane[k] : m;                      \
        size_t infs = 0;                                                                    \
        if (m == (T)INFINITY)                                                               \
            for (j = 0; j < cols; j++) infs += row[j] == (T)INFINITY;                       \
        *inf_count = infs;                                                                  \
        return m;                                                                           \
    }                                                                                       \
    static inline double row_exp_##SUFFIX(const T *row, T *s, size_t cols, T m)            \
    {                                                                                       \
        for (size_t j = 0; j < cols; j++) s[j] = EXP(row[j] - m);                          \
        double lane[LANES] = {0};                                                           \
        size_t j = 0;                                                                       \
        for (; j + LANES <= cols; j += LANES)                                               \
            for (int k = 0; k < LANES; k++) lane[k] += s[j + k];                            \
        for (int k = 0; j < cols; j++, k++) lane[k] += s[j];                                \
        double total = 0;                                                                   \
        for (int k = 0; k < LANES; k++) total += lane[k];                                   \
        return total;                                                                       \
    }                                                                                       \
    static inline double row_dot_##SUFFIX(const T *g, const T *s, size_t cols)             \
    {                                                                                       \
        double lane[LANES] = {0};                                                           \
        size_t j = 0;                                                                       \
        for (; j + LANES <= cols; j += LANES)                                               \
            for (int k = 0; k < LANES; k++) lane[k] += (double)g[j + k] * s[j + k];         \
        for (int k = 0; j < cols; j++, k++) lane[k] += (double)g[j] * s[j];                 \
        double total = 0;                                                                   \
        for (int k = 0; k < LANES; k++) total += lane[k];                                   \
        return total;                                                                       \
    }

#define EXP_F32(x) exp_scaled_f(x, 0)
ROW_HELPERS(f32, float, EXP_F32)
ROW_HELPERS(f64, double, exp_d)

/* Softmax of one row into s (s may be the row itself). */
#define SOFTMAX_ROW(SUFFIX, T, row, s, cols)                                                \
    do {                                                                                    \
        size_t inf_count;                                                                   \
        T m = row_max_##SUFFIX(row, cols, &inf_count);                                      \
        if (inf_count > 1 || m == -(T)INFINITY) {                                           \
            for (size_t j = 0; j < cols; j++) s[j] = (T)NAN;                                \
        } else if (inf_count == 1) {                                                        \
            int nan = 0;                                                                    \
            for (size_t j = 0; j < cols; j++) nan |= row[j] != row[j];                      \
            for (size_t j = 0; j < cols; j++)                                               \
                s[j] = nan ? (T)NAN : (row[j] == (T)INFINITY ? 1 : 0);                      \
        } else {                                                                            \
            T scale = (T)(1.0 / row_exp_##SUFFIX(row, s, cols, m));                         \
            for (size_t j = 0; j < cols; j++) s[j] *= scale;                                \
        }                                                                                   \
    } while (0)

#define SOFTMAX_KERNELS(SUFFIX, T)                                                     \
    /* out = softmax of each row of x (rows x cols); out may be x. */                       \
    int fpk_softmax_forward_##SUFFIX(const T *x, T *out, size_t rows, size_t cols)          \
    {                                                                                       \
        if (rows == 0 || cols == 0) return FPK_OK;                                          \
        if (!x || !out) return FPK_ERR_NULL;                                                \
        FPK_PARALLEL_RANGES(rows, fpk_threads_for(rows * cols), lo, hi,                     \
            for (size_t r = lo; r < hi; r++) {                                              \
                const T *row = x + r * cols;                                                \
                T *s = out + r * cols;                                                      \
                SOFTMAX_ROW(SUFFIX, T, row, s, cols);                                          \
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
                SOFTMAX_ROW(SUFFIX, T, row, s, cols);                                          \
                double dot = row_dot_##SUFFIX(g, s, cols);                                  \
                for (size_t j = 0; j < cols; j++) o[j] = (T)(s[j] * (g[j] - dot));          \
            }                                                                               \
            free(s););                                                                      \
        return failed ? FPK_ERR_NOMEM : FPK_OK;                                             \
    }

SOFTMAX_KERNELS(f32, float)
SOFTMAX_KERNELS(f64, double)
