/* elementwise.c - element-wise arithmetic: a op b (same size, or broadcast N-d), x op scalar,
 * x ** p and |x|.
 *
 * Every kernel is one loop "out[i] = f(x[i])" split over threads for large n. The loops carry
 * `#pragma omp simd`: the iterations are independent, which stays true when out is exactly an
 * input (in place), so the compiler vectorises without run-time alias checks.
 */
#include <math.h>

#include "fpkernels.h"

/* The broadcasting kernel supports as many dims as NumPy does. */
#define MAX_DIMS 64

/* Nonzero when a pointer is not aligned to its element type (C forbids reading it). */
#define MISALIGNED(T, p, q, r) ((((uintptr_t)(p)) | ((uintptr_t)(q)) | ((uintptr_t)(r))) % sizeof(T))

/* Nonzero when the n-element arrays x and out share memory without starting at the same
   address: the loops are right in place (out == x), not on a shifted overlap. */
#define PARTLY_OVERLAP(T, x, out, n)                                            \
    ((uintptr_t)(x) != (uintptr_t)(out)                                         \
     && (uintptr_t)(x) < (uintptr_t)(out) + (n) * sizeof(T)                     \
     && (uintptr_t)(out) < (uintptr_t)(x) + (n) * sizeof(T))

/* for i in [0, n): body, on fpk_threads_for(n) threads, vectorised. */
#define FOR_EACH(n, i, body)                                                    \
    FPK_PARALLEL_RANGES((n), fpk_threads_for(n), lo_, hi_,                      \
        _Pragma("omp simd") for (size_t i = lo_; i < hi_; i++) { body; })

/* ---- a op b, same size ---- */

/* Outputs of FPK_STREAM_BYTES or more are written with streaming (non-temporal) stores: the
   output lines go straight to memory instead of first being read into the cache. */

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
/* out[i] = a[i] OP b[i] for i in [lo, hi) with streaming stores of W-lane vectors (V is the
   intrinsics' prefix, _mm512 or _mm256): a scalar head up to the first 64-byte boundary of out,
   full vectors, a scalar tail. */
#define STREAM_RANGE(V, name, OP, T, sfx, SUFFIX, W)                            \
    static void stream_##name##_##sfx(const T *a, const T *b, T *out, size_t lo, size_t hi) \
    {                                                                           \
        size_t i = lo;                                                          \
        for (; i < hi && ((uintptr_t)(out + i) & 63); i++)                      \
            out[i] = a[i] OP b[i];                                              \
        for (; i + W <= hi; i += W)                                             \
            V##_stream_##SUFFIX(out + i, V##_##name##_##SUFFIX(                 \
                V##_loadu_##SUFFIX(a + i), V##_loadu_##SUFFIX(b + i)));         \
        for (; i < hi; i++)                                                     \
            out[i] = a[i] OP b[i];                                              \
        _mm_sfence();                                                           \
    }
/* The same with a scalar s for b. */
#define STREAM_SCALAR_RANGE(V, name, OP, T, sfx, SUFFIX, W)                     \
    static void stream_##name##_scalar_##sfx(const T *x, T s, T *out, size_t lo, size_t hi) \
    {                                                                           \
        size_t i = lo;                                                          \
        for (; i < hi && ((uintptr_t)(out + i) & 63); i++)                      \
            out[i] = x[i] OP s;                                                 \
        for (; i + W <= hi; i += W)                                             \
            V##_stream_##SUFFIX(out + i, V##_##name##_##SUFFIX(                 \
                V##_loadu_##SUFFIX(x + i), V##_set1_##SUFFIX(s)));              \
        for (; i < hi; i++)                                                     \
            out[i] = x[i] OP s;                                                 \
        _mm_sfence();                                                           \
    }
#define STREAM_CALL(name, sfx, a, b, out, lo, hi) stream_##name##_##sfx(a, b, out, lo, hi)
/* The kernels for vectors of BITS bits with prefix V. */
#define STREAMS_OF(V, BITS, name, OP)                                           \
    STREAM_RANGE(V, name, OP, float, f32, ps, BITS / 32)                        \
    STREAM_RANGE(V, name, OP, double, f64, pd, BITS / 64)                       \
    STREAM_SCALAR_RANGE(V, name, OP, float, f32, ps, BITS / 32)                 \
    STREAM_SCALAR_RANGE(V, name, OP, double, f64, pd, BITS / 64)
#ifdef __AVX512F__
#define STREAMS(name, OP) STREAMS_OF(_mm512, 512, name, OP)
#else
#define STREAMS(name, OP) STREAMS_OF(_mm256, 256, name, OP)
#endif
STREAMS(add, +)
STREAMS(sub, -)
STREAMS(mul, *)
STREAMS(div, /)
#define CAN_STREAM 1
#else
#define CAN_STREAM 0
#define STREAM_CALL(name, sfx, a, b, out, lo, hi) ((void)(lo), (void)(hi))
#endif

#define BINARY(name, OP, T, sfx)                                                \
    int fpk_##name##_##sfx(const T *a, const T *b, T *out, size_t n)            \
    {                                                                           \
        if (n && (!a || !b || !out))                                            \
            return FPK_ERR_NULL;                                                \
        if (MISALIGNED(T, a, b, out) || PARTLY_OVERLAP(T, a, out, n)            \
                || PARTLY_OVERLAP(T, b, out, n))                                \
            return FPK_ERR_VALUE;                                               \
        if (CAN_STREAM && n * sizeof(T) >= FPK_STREAM_BYTES) {                      \
            FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                  \
                                STREAM_CALL(name, sfx, a, b, out, lo, hi));     \
            return FPK_OK;                                                      \
        }                                                                       \
        FOR_EACH(n, i, out[i] = a[i] OP b[i]);                                  \
        return FPK_OK;                                                          \
    }

/* out = a + b, a - b, a * b, a / b, element by element. */
BINARY(add, +, float, f32)
BINARY(add, +, double, f64)
BINARY(sub, -, float, f32)
BINARY(sub, -, double, f64)
BINARY(mul, *, float, f32)
BINARY(mul, *, double, f64)
BINARY(div, /, float, f32)
BINARY(div, /, double, f64)

/* ---- a op b, broadcast N-d ---- */

/* One row of a broadcast: out[j] = a[j*sa] OP b[j*sb] for j < n, with the unit-stride and
   stride-0 (broadcast) cases written out so that they vectorise. */
#define ROW_CASES(OP, T)                                                        \
    if (sa == 1 && sb == 1) {                                                   \
        _Pragma("omp simd") for (size_t j = 0; j < n; j++) out[j] = a[j] OP b[j];       \
    } else if (sa == 1 && sb == 0) {                                            \
        const T bj = b[0];                                                      \
        _Pragma("omp simd") for (size_t j = 0; j < n; j++) out[j] = a[j] OP bj;         \
    } else if (sa == 0 && sb == 1) {                                            \
        const T aj = a[0];                                                      \
        _Pragma("omp simd") for (size_t j = 0; j < n; j++) out[j] = aj OP b[j];         \
    } else {                                                                    \
        for (size_t j = 0; j < n; j++) out[j] = a[(int64_t)j * sa] OP b[(int64_t)j * sb]; \
    }

#define BROADCAST(T, sfx)                                                       \
    static void row_##sfx(fpk_binary_op op, size_t n, const T *a, int64_t sa,   \
                          const T *b, int64_t sb, T *out)                       \
    {                                                                           \
        switch (op) {                                                           \
        case FPK_ADD: ROW_CASES(+, T) break;                                    \
        case FPK_SUB: ROW_CASES(-, T) break;                                    \
        case FPK_MUL: ROW_CASES(*, T) break;                                    \
        case FPK_DIV: ROW_CASES(/, T) break;                                    \
        }                                                                       \
    }                                                                           \
                                                                                \
    /* Elements [lo, hi) of out, in row-major order: find the multi-index of lo, then walk  \
       row by row, carrying the index like an odometer. */                      \
    static void range_##sfx(fpk_binary_op op, size_t ndim, const int64_t *shape,  \
                            const T *a, const int64_t *as, const T *b,          \
                            const int64_t *bs, T *out, size_t lo, size_t hi)    \
    {                                                                           \
        int64_t index[MAX_DIMS];                                                \
        size_t rest = lo, last = ndim - 1;                                      \
        for (size_t d = ndim; d-- > 0;) {                                       \
            index[d] = (int64_t)(rest % (size_t)shape[d]);                      \
            rest /= (size_t)shape[d];                                           \
            a += index[d] * as[d];                                              \
            b += index[d] * bs[d];                                              \
        }                                                                       \
        for (size_t i = lo; i < hi;) {                                          \
            size_t len = (size_t)(shape[last] - index[last]);                   \
            if (len > hi - i)                                                   \
                len = hi - i;                                                   \
            row_##sfx(op, len, a, as[last], b, bs[last], out + i);              \
            i += len;                                                           \
            index[last] += (int64_t)len;                                        \
            a += (int64_t)len * as[last];                                       \
            b += (int64_t)len * bs[last];                                       \
            for (size_t d = last; d > 0 && index[d] == shape[d]; d--) {         \
                a += as[d - 1] - shape[d] * as[d];                              \
                b += bs[d - 1] - shape[d] * bs[d];                              \
                index[d] = 0;                                                   \
                index[d - 1]++;                                                 \
            }                                                                   \
        }                                                                       \
    }                                                                           \
                                                                                \
    int fpk_binary_##sfx(fpk_binary_op op, size_t ndim, const int64_t *shape,   \
                         const T *a, const int64_t *as, const T *b,             \
                         const int64_t *bs, T *out)                             \
    {                                                                           \
        if ((unsigned)op > FPK_DIV)                                             \
            return FPK_ERR_VALUE;                                               \
        if (ndim > MAX_DIMS)                                                    \
            return FPK_ERR_SHAPE;                                               \
        if (ndim && !shape)                                                     \
            return FPK_ERR_NULL;                                                \
        size_t n = 1;                                                           \
        for (size_t d = 0; d < ndim; d++) {                                     \
            if (shape[d] < 0)                                                   \
                return FPK_ERR_SHAPE;                                           \
            if (shape[d] && n > SIZE_MAX / (size_t)shape[d])                    \
                return FPK_ERR_OVERFLOW;                                        \
            n *= (size_t)shape[d];                                              \
        }                                                                       \
        if (n == 0)                                                             \
            return FPK_OK;                                                      \
        if (!a || !b || !out || (ndim && (!as || !bs)))                         \
            return FPK_ERR_NULL;                                                \
        if (ndim == 0) {                                                        \
            row_##sfx(op, 1, a, 0, b, 0, out);                                  \
            return FPK_OK;                                                      \
        }                                                                       \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                      \
                            range_##sfx(op, ndim, shape, a, as, b, bs, out, lo, hi)); \
        return FPK_OK;                                                          \
    }

/* out = a op b with NumPy broadcasting, inputs read through element strides. */
BROADCAST(float, f32)
BROADCAST(double, f64)

/* ---- x op scalar ---- */

#define SCALAR(name, OP, T, sfx)                                                \
    int fpk_##name##_scalar_##sfx(const T *x, T s, T *out, size_t n)            \
    {                                                                           \
        if (n && (!x || !out))                                                  \
            return FPK_ERR_NULL;                                                \
        if (MISALIGNED(T, x, x, out) || PARTLY_OVERLAP(T, x, out, n))           \
            return FPK_ERR_VALUE;                                               \
        if (CAN_STREAM && n * sizeof(T) >= FPK_STREAM_BYTES) {                      \
            FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                  \
                                STREAM_CALL(name##_scalar, sfx, x, s, out, lo, hi)); \
            return FPK_OK;                                                      \
        }                                                                       \
        FOR_EACH(n, i, out[i] = x[i] OP s);                                     \
        return FPK_OK;                                                          \
    }

/* out = x + s, x - s, x * s, x / s, element by element. */
SCALAR(add, +, float, f32)
SCALAR(add, +, double, f64)
SCALAR(sub, -, float, f32)
SCALAR(sub, -, double, f64)
SCALAR(mul, *, float, f32)
SCALAR(mul, *, double, f64)
SCALAR(div, /, float, f32)
SCALAR(div, /, double, f64)

/* ---- x ** p and |x| ---- */

/* out = x ** p. The exponents with an exact cheaper form take it (the values C's pow gives,
   except p = 0.5, which is sqrt as in NumPy); every other p calls pow. */
#define POWER(T, sfx, POW, SQRT)                                                \
    int fpk_power_##sfx(const T *x, T p, T *out, size_t n)                      \
    {                                                                           \
        if (n && (!x || !out))                                                  \
            return FPK_ERR_NULL;                                                \
        if (p == 2)                                                             \
            FOR_EACH(n, i, out[i] = x[i] * x[i]);                               \
        else if (p == 1)                                                        \
            FOR_EACH(n, i, out[i] = x[i]);                                      \
        else if (p == 0)                                                        \
            FOR_EACH(n, i, out[i] = 1);                                         \
        else if (p == -1)                                                       \
            FOR_EACH(n, i, out[i] = 1 / x[i]);                                  \
        else if (p == 0.5) /* sqrt, as NumPy: sqrt(-0) = -0, sqrt(-inf) = NaN */ \
            FOR_EACH(n, i, out[i] = SQRT(x[i]));                                \
        else                                                                    \
            FOR_EACH(n, i, out[i] = POW(x[i], p));                              \
        return FPK_OK;                                                          \
    }

POWER(float, f32, powf, sqrtf)
POWER(double, f64, pow, sqrt)

/* out = |x|. */
#define ABS(T, sfx, FABS)                                                       \
    int fpk_abs_##sfx(const T *x, T *out, size_t n)                             \
    {                                                                           \
        if (n && (!x || !out))                                                  \
            return FPK_ERR_NULL;                                                \
        FOR_EACH(n, i, out[i] = FABS(x[i]));                                    \
        return FPK_OK;                                                          \
    }

ABS(float, f32, fabsf)
ABS(double, f64, fabs)
