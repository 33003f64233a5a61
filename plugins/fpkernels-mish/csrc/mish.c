/*
 * mish.c - the Mish activation, f(x) = x * tanh(softplus(x)), for the fpkernels-mish plugin.
 *
 * Compiled by this plugin's own cffi build against fpkernels' public header, whose
 * header-only helpers (FPK_PARALLEL_RANGES, fpk_threads_within) split the work over OpenMP
 * threads. `threads` is the most threads a call may use: Python passes fk.get_num_threads().
 *
 * With n = e^x, tanh(softplus(x)) = ((1+n)^2 - 1) / ((1+n)^2 + 1) = n(n+2) / (n(n+2) + 2):
 * one exp per element and no cancellation. Above x = 20 it is 1 to double precision, so
 * f(x) = x (and no overflow); as x -> -inf, n -> 0 and f(x) -> 0.
 */
#include <math.h>

#include "fpkernels.h"

#define MISH_KERNELS(T, S, EXP)                                                               \
                                                                                              \
/* Mish of one number. */                                                                     \
static inline T mish_one_##S(T x)                                                             \
{                                                                                             \
    if (x > (T)20) return x;                  /* tanh(softplus(x)) rounds to 1 */             \
    T n = EXP(x);                                                                             \
    if (n == 0) return (T)0;                  /* x * e^x -> 0 (and -inf * 0 is no NaN) */     \
    T q = n * (n + 2);                                                                        \
    return x * q / (q + 2);                                                                   \
}                                                                                             \
                                                                                              \
/* d mish / dx = t + x (1 - t^2) sigmoid(x), with t = tanh(softplus(x)), 1 - t = 2/(q+2). */ \
static inline T mish_slope_##S(T x)                                                           \
{                                                                                             \
    if (x > (T)20) return (T)1;                                                               \
    T n = EXP(x);                                                                             \
    if (n == 0) return (T)0;                                                                  \
    T q = n * (n + 2);                                                                        \
    T one_minus_t = 2 / (q + 2);                                                              \
    T t = q / (q + 2);                                                                        \
    T sigmoid = n / (1 + n);                                                                  \
    return t + x * one_minus_t * (1 + t) * sigmoid;                                           \
}                                                                                             \
                                                                                              \
/* out[i] = mish(x[i]). */                                                                    \
int mish_forward_##S(const T *x, T *out, size_t n, int threads)                               \
{                                                                                             \
    if (n > 0 && (x == NULL || out == NULL)) return FPK_ERR_NULL;                             \
    FPK_PARALLEL_RANGES(n, fpk_threads_within(n, threads), lo, hi,                            \
        for (size_t i = lo; i < hi; i++) out[i] = mish_one_##S(x[i]););                       \
    return FPK_OK;                                                                            \
}                                                                                             \
                                                                                              \
/* out[i] = mish'(x[i]). */                                                                   \
int mish_derivative_##S(const T *x, T *out, size_t n, int threads)                            \
{                                                                                             \
    if (n > 0 && (x == NULL || out == NULL)) return FPK_ERR_NULL;                             \
    FPK_PARALLEL_RANGES(n, fpk_threads_within(n, threads), lo, hi,                            \
        for (size_t i = lo; i < hi; i++) out[i] = mish_slope_##S(x[i]););                     \
    return FPK_OK;                                                                            \
}                                                                                             \
                                                                                              \
/* out[i] = grad_out[i] * mish'(x[i]), without storing the derivative. */                     \
int mish_backward_##S(const T *x, const T *grad_out, T *out, size_t n, int threads)           \
{                                                                                             \
    if (n > 0 && (x == NULL || grad_out == NULL || out == NULL)) return FPK_ERR_NULL;         \
    FPK_PARALLEL_RANGES(n, fpk_threads_within(n, threads), lo, hi,                            \
        for (size_t i = lo; i < hi; i++) out[i] = grad_out[i] * mish_slope_##S(x[i]););       \
    return FPK_OK;                                                                            \
}

MISH_KERNELS(float, f32, expf)
MISH_KERNELS(double, f64, exp)
