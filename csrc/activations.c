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
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpkernels.h"

#define SQRT_HALF 0.70710678118654752440        /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794     /* 1/sqrt(2 pi) */
#define SQRT_2_OVER_PI 0.79788456080286535588   /* sqrt(2/pi) */
#define GELU_CUBIC 0.044715

/* ------------------------------------------------------------------------------------------
 * The math of one element, in double.
 * ---------------------------------------------------------------------------------------- */

/* x * y where y may underflow to 0 and x may be infinite: the limit there is 0. */
static inline double times_vanishing(double x, double y)
{
    return y == 0.0 ? 0.0 * copysign(1.0, x) : x * y;
}

static inline double sigmoid_d(double x)
{
    double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static inline double sigmoid_slope_d(double x)   /* sigmoid'(x) = s (1 - s) */
{
    double e = exp(-fabs(x));
    double one_plus_e = 1.0 + e;
    return e / (one_plus_e * one_plus_e);
}

static inline double tanh_slope_d(double x)      /* tanh'(x) = 1 - tanh(x)^2 */
{
    double e = exp(-2.0 * fabs(x));
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
    double pdf = INV_SQRT_2PI * exp(-0.5 * x * x);
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
 * Kernel generators: one body, written for a value type T, used for float and double.
 * EVAL(x) is the per-element expression evaluated in double; the float kernels round it.
 * ---------------------------------------------------------------------------------------- */

#define FORWARD_KERNEL(NAME, SUFFIX, T, EXPR, ...)                                          \
    int fpk_##NAME##_##SUFFIX(const T *x, T *out, size_t n __VA_ARGS__)                     \
    {                                                                                       \
        if (n == 0) return FPK_OK;                                                          \
        if (!x || !out) return FPK_ERR_NULL;                                                \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            for (size_t i = lo; i < hi; i++) { double v = (double)x[i]; out[i] = (T)(EXPR); }); \
        return FPK_OK;                                                                      \
    }

#define BACKWARD_KERNEL(NAME, SUFFIX, T, EXPR, ...)                                         \
    int fpk_##NAME##_##SUFFIX(const T *x, const T *grad_out, T *out, size_t n __VA_ARGS__)  \
    {                                                                                       \
        if (n == 0) return FPK_OK;                                                          \
        if (!x || !grad_out || !out) return FPK_ERR_NULL;                                   \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            for (size_t i = lo; i < hi; i++) {                                              \
                double v = (double)x[i];                                                    \
                out[i] = (T)((double)grad_out[i] * (EXPR));                                 \
            });                                                                             \
        return FPK_OK;                                                                      \
    }

/* An activation without hyper-parameters: forward, derivative, backward, for both types. */
#define ACTIVATION(NAME, F, DF)                                                             \
    FORWARD_KERNEL(NAME##_forward, f32, float, F(v), )                                      \
    FORWARD_KERNEL(NAME##_forward, f64, double, F(v), )                                     \
    FORWARD_KERNEL(NAME##_derivative, f32, float, DF(v), )                                  \
    FORWARD_KERNEL(NAME##_derivative, f64, double, DF(v), )                                 \
    BACKWARD_KERNEL(NAME##_backward, f32, float, DF(v), )                                   \
    BACKWARD_KERNEL(NAME##_backward, f64, double, DF(v), )

/* An activation with one hyper-parameter P (a double). */
#define ACTIVATION_1(NAME, F, DF, P)                                                        \
    FORWARD_KERNEL(NAME##_forward, f32, float, F(v, P), , double P)                         \
    FORWARD_KERNEL(NAME##_forward, f64, double, F(v, P), , double P)                        \
    FORWARD_KERNEL(NAME##_derivative, f32, float, DF(v, P), , double P)                     \
    FORWARD_KERNEL(NAME##_derivative, f64, double, DF(v, P), , double P)                    \
    BACKWARD_KERNEL(NAME##_backward, f32, float, DF(v, P), , double P)                      \
    BACKWARD_KERNEL(NAME##_backward, f64, double, DF(v, P), , double P)

ACTIVATION(relu, relu_d, relu_slope_d)
ACTIVATION_1(leaky_relu, leaky_relu_d, leaky_relu_slope_d, alpha)
ACTIVATION(sigmoid, sigmoid_d, sigmoid_slope_d)
ACTIVATION(tanh, tanh_d, tanh_slope_d)
ACTIVATION_1(swish, swish_d, swish_slope_d, beta)
ACTIVATION(gelu, gelu_d, gelu_slope_d)
ACTIVATION(gelu_tanh, gelu_tanh_d, gelu_tanh_slope_d)
FORWARD_KERNEL(erf, f32, float, erf(v), )
FORWARD_KERNEL(erf, f64, double, erf(v), )

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

SOFTMAX_KERNELS(f32, float, expf)
SOFTMAX_KERNELS(f64, double, exp)
