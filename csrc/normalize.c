/* normalize.c - z-score and min-max normalisation: per-slice statistics and the apply passes.
 *
 * The array is viewed as (outer, len, inner) in C order; slice (o, k) is x[o, :, k], the axis
 * being normalised. Statistics are accumulated in double in fixed-size blocks that do not depend
 * on the thread count, and combined in a fixed order, so the results are bitwise the same on any
 * number of threads.
 */
#include <math.h>
#include <stdlib.h>

#include "fpkernels.h"

#define BLOCK 4096     /* elements per block of a contiguous slice (fits in L1/L2) */
#define COLUMNS 256    /* columns per unit when slices are strided (inner > 1) */
#define LANES 16       /* independent accumulators for min/max */

/* The statistics loops convert to double; with AVX-512, ask GCC for 512-bit vectors (it prefers
   256-bit ones by default). */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE_VECTORS __attribute__((target("prefer-vector-width=512")))
#else
#define WIDE_VECTORS
#endif

/* Chan et al.'s merge of two (count, mean, M2) summaries; M2 = sum of squared deviations. */
static void merge_moments(double *n, double *mean, double *m2, double nb, double mean_b,
                          double m2_b)
{
    if (*n == 0) {                  /* the first summary as it is (delta^2 * 0 could be NaN) */
        *n = nb, *mean = mean_b, *m2 = m2_b;
        return;
    }
    double total = *n + nb, delta = mean_b - *mean;
    *mean += delta * (nb / total);
    *m2 += m2_b + delta * delta * (*n * nb / total);
    *n = total;
}

/* Sample std from M2 and the count: sqrt(M2 / (n - 1)), and 0 for a single element. */
static double sample_std(double m2, size_t n) { return n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0; }

/* outer * len * inner in *total, or FPK_ERR_OVERFLOW when it does not fit in size_t (callers
   have already returned for a zero factor). */
static int slices_total(size_t outer, size_t len, size_t inner, size_t *total)
{
    if (outer > SIZE_MAX / len || outer * len > SIZE_MAX / inner)
        return FPK_ERR_OVERFLOW;
    *total = outer * len * inner;
    return FPK_OK;
}

#define DEFINE_NORMALIZE(T, SUF)                                                            \
    /* Mean and M2 of n <= BLOCK contiguous elements: two passes over cached data. A constant \
       finite block is exactly (x[0], 0): its rounded sum / n can miss x[0] by an ulp, which  \
       would leave a std of rounding noise (and z-scores of +-0.8 instead of 0). */         \
    WIDE_VECTORS static void block_moments_##SUF(const T *x, size_t n, double *mean,         \
                                                 double *m2)                                 \
    {                                                                                       \
        double sum = 0.0, squares = 0.0;                                                    \
        int differ = 0;                                                                     \
        _Pragma("omp simd reduction(+:sum) reduction(|:differ)")                            \
        for (size_t i = 0; i < n; i++) {                                                    \
            sum += (double)x[i];                                                            \
            differ |= x[i] != x[0];                                                         \
        }                                                                                   \
        if (!differ && isfinite((double)x[0])) {                                            \
            *mean = (double)x[0];                                                           \
            *m2 = 0.0;                                                                      \
            return;                                                                         \
        }                                                                                   \
        double mu = sum / (double)n;                                                        \
        _Pragma("omp simd reduction(+:squares)")                                            \
        for (size_t i = 0; i < n; i++) {                                                    \
            double d = (double)x[i] - mu;                                                   \
            squares += d * d;                                                               \
        }                                                                                   \
        *mean = mu;                                                                         \
        *m2 = squares;                                                                      \
    }                                                                                       \
                                                                                            \
    /* Mean and M2 of one contiguous slice, block by block, merged in order. */             \
    static void slice_moments_##SUF(const T *x, size_t len, double *mean, double *m2)        \
    {                                                                                       \
        double n = 0.0, mu = 0.0, q = 0.0;                                                  \
        for (size_t start = 0; start < len; start += BLOCK) {                               \
            size_t nb = len - start < BLOCK ? len - start : BLOCK;                          \
            double mb, qb;                                                                  \
            block_moments_##SUF(x + start, nb, &mb, &qb);                                   \
            merge_moments(&n, &mu, &q, (double)nb, mb, qb);                                 \
        }                                                                                   \
        *mean = mu;                                                                         \
        *m2 = q;                                                                            \
    }                                                                                       \
                                                                                            \
    /* Mean and sample std of every slice. */                                               \
    int fpk_mean_std_##SUF(size_t outer, size_t len, size_t inner, const T *x, T *mean,      \
                           T *std)                                                          \
    {                                                                                       \
        if (outer == 0 || inner == 0)                                                       \
            return FPK_OK;                                                                  \
        if (len == 0)                                                                       \
            return FPK_ERR_EMPTY;                                                           \
        if (!x || !mean || !std)                                                            \
            return FPK_ERR_NULL;                                                            \
        size_t total;                                                                       \
        if (slices_total(outer, len, inner, &total) != FPK_OK)                              \
            return FPK_ERR_OVERFLOW;                                                        \
        int threads = fpk_threads_for(total);                                               \
        if (inner == 1 && outer == 1) {             /* one long slice: blocks in parallel */ \
            size_t blocks = (len + BLOCK - 1) / BLOCK;                                      \
            double *moments = malloc(2 * blocks * sizeof(double));                          \
            if (!moments)                                                                   \
                return FPK_ERR_NOMEM;                                                       \
            FPK_PARALLEL_RANGES(blocks, threads, lo, hi,                                    \
                for (size_t b = lo; b < hi; b++) {                                          \
                    size_t start = b * BLOCK;                                               \
                    size_t nb = len - start < BLOCK ? len - start : BLOCK;                  \
                    block_moments_##SUF(x + start, nb, &moments[2 * b], &moments[2 * b + 1]); \
                });                                                                         \
            double n = 0.0, mu = 0.0, q = 0.0;                                              \
            for (size_t b = 0; b < blocks; b++) {                                           \
                size_t nb = len - b * BLOCK < BLOCK ? len - b * BLOCK : BLOCK;              \
                merge_moments(&n, &mu, &q, (double)nb, moments[2 * b], moments[2 * b + 1]); \
            }                                                                               \
            free(moments);                                                                  \
            mean[0] = (T)mu;                                                                \
            std[0] = (T)sample_std(q, len);                                                 \
        } else if (inner == 1) {                    /* many contiguous slices: one each */  \
            FPK_PARALLEL_RANGES(outer, threads, lo, hi,                                     \
                for (size_t o = lo; o < hi; o++) {                                          \
                    double mu, q;                                                           \
                    slice_moments_##SUF(x + o * len, len, &mu, &q);                         \
                    mean[o] = (T)mu;                                                        \
                    std[o] = (T)sample_std(q, len);                                         \
                });                                                                         \
        } else {                                    /* strided slices: COLUMNS at a time */ \
            size_t per_outer = (inner + COLUMNS - 1) / COLUMNS, units = outer * per_outer;  \
            FPK_PARALLEL_RANGES(units, threads, lo, hi,                                     \
                for (size_t u = lo; u < hi; u++) {                                          \
                    size_t o = u / per_outer, k0 = (u % per_outer) * COLUMNS;               \
                    size_t width = inner - k0 < COLUMNS ? inner - k0 : COLUMNS;             \
                    const T *base = x + o * len * inner + k0;                               \
                    double sum[COLUMNS], sq[COLUMNS];                                       \
                    int differ[COLUMNS];                       /* as in block_moments */    \
                    for (size_t k = 0; k < width; k++) {                                    \
                        sum[k] = sq[k] = 0.0;                                               \
                        differ[k] = 0;                                                      \
                    }                                                                       \
                    for (size_t i = 0; i < len; i++) {                                      \
                        const T *row = base + i * inner;                                    \
                        _Pragma("omp simd")                                                 \
                        for (size_t k = 0; k < width; k++) {                                \
                            sum[k] += (double)row[k];                                       \
                            differ[k] |= row[k] != base[k];                                 \
                        }                                                                   \
                    }                                                                       \
                    for (size_t k = 0; k < width; k++)              /* now the mean */      \
                        sum[k] = differ[k] || !isfinite((double)base[k]) ? sum[k] / (double)len \
                                                                         : (double)base[k]; \
                    for (size_t i = 0; i < len; i++) {                                      \
                        const T *row = base + i * inner;                                    \
                        _Pragma("omp simd")                                                 \
                        for (size_t k = 0; k < width; k++) {                                \
                            double d = (double)row[k] - sum[k];                             \
                            sq[k] += d * d;                                                 \
                        }                                                                   \
                    }                                                                       \
                    for (size_t k = 0; k < width; k++) {                                    \
                        mean[o * inner + k0 + k] = (T)sum[k];                               \
                        std[o * inner + k0 + k] = (T)sample_std(sq[k], len);                \
                    }                                                                       \
                });                                                                         \
        }                                                                                   \
        return FPK_OK;                                                                      \
    }                                                                                       \
                                                                                            \
    /* Minimum and maximum of n contiguous elements, NaN if any is NaN. */                  \
    static void range_min_max_##SUF(const T *x, size_t n, T *mn, T *mx)                     \
    {                                                                                       \
        T lo[LANES], hi[LANES];                                                             \
        int bad[LANES];                                                                     \
        for (int k = 0; k < LANES; k++) {                                                   \
            lo[k] = hi[k] = x[0];                                                           \
            bad[k] = 0;                                                                     \
        }                                                                                   \
        size_t i = 0;                                                                       \
        for (; i + LANES <= n; i += LANES) {                                                \
            const T *xi = x + i;                                                            \
            _Pragma("omp simd")                                                             \
            for (int k = 0; k < LANES; k++) {                                               \
                T v = xi[k];                                                                \
                lo[k] = v < lo[k] ? v : lo[k];                                              \
                hi[k] = v > hi[k] ? v : hi[k];                                              \
                bad[k] |= v != v;                                                           \
            }                                                                               \
        }                                                                                   \
        for (; i < n; i++) {                                                                \
            T v = x[i];                                                                     \
            lo[0] = v < lo[0] ? v : lo[0];                                                  \
            hi[0] = v > hi[0] ? v : hi[0];                                                  \
            bad[0] |= v != v;                                                               \
        }                                                                                   \
        T a = lo[0], b = hi[0];                                                             \
        int any_nan = bad[0];                                                               \
        for (int k = 1; k < LANES; k++) {                                                   \
            a = lo[k] < a ? lo[k] : a;                                                      \
            b = hi[k] > b ? hi[k] : b;                                                      \
            any_nan |= bad[k];                                                              \
        }                                                                                   \
        *mn = any_nan ? (T)NAN : a;                                                         \
        *mx = any_nan ? (T)NAN : b;                                                         \
    }                                                                                       \
                                                                                            \
    /* Minimum and maximum of every slice. */                                               \
    int fpk_min_max_##SUF(size_t outer, size_t len, size_t inner, const T *x, T *mn, T *mx)  \
    {                                                                                       \
        if (outer == 0 || inner == 0)                                                       \
            return FPK_OK;                                                                  \
        if (len == 0)                                                                       \
            return FPK_ERR_EMPTY;                                                           \
        if (!x || !mn || !mx)                                                               \
            return FPK_ERR_NULL;                                                            \
        size_t total;                                                                       \
        if (slices_total(outer, len, inner, &total) != FPK_OK)                              \
            return FPK_ERR_OVERFLOW;                                                        \
        int threads = fpk_threads_for(total);                                               \
        if (inner == 1 && outer == 1) {             /* one long slice: split it */          \
            size_t blocks = (len + BLOCK - 1) / BLOCK;                                      \
            T *parts = malloc(2 * blocks * sizeof(T));                                      \
            if (!parts)                                                                     \
                return FPK_ERR_NOMEM;                                                       \
            FPK_PARALLEL_RANGES(blocks, threads, lo, hi,                                    \
                for (size_t b = lo; b < hi; b++) {                                          \
                    size_t start = b * BLOCK;                                               \
                    size_t nb = len - start < BLOCK ? len - start : BLOCK;                  \
                    range_min_max_##SUF(x + start, nb, &parts[2 * b], &parts[2 * b + 1]);  \
                });                                                                         \
            range_min_max_##SUF(parts, 2 * blocks, &mn[0], &mx[0]);                         \
            free(parts);                                                                    \
        } else if (inner == 1) {                                                            \
            FPK_PARALLEL_RANGES(outer, threads, lo, hi,                                     \
                for (size_t o = lo; o < hi; o++)                                            \
                    range_min_max_##SUF(x + o * len, len, &mn[o], &mx[o]));                 \
        } else {                                                                            \
            size_t per_outer = (inner + COLUMNS - 1) / COLUMNS, units = outer * per_outer;  \
            FPK_PARALLEL_RANGES(units, threads, lo, hi,                                     \
                for (size_t u = lo; u < hi; u++) {                                          \
                    size_t o = u / per_outer, k0 = (u % per_outer) * COLUMNS;               \
                    size_t width = inner - k0 < COLUMNS ? inner - k0 : COLUMNS;             \
                    const T *base = x + o * len * inner + k0;                               \
                    T a[COLUMNS], b[COLUMNS];                                               \
                    int bad[COLUMNS];                                                       \
                    for (size_t k = 0; k < width; k++) {                                    \
                        a[k] = b[k] = base[k];                                              \
                        bad[k] = 0;                                                         \
                    }                                                                       \
                    for (size_t i = 0; i < len; i++) {                                      \
                        const T *row = base + i * inner;                                    \
                        _Pragma("omp simd")                                                 \
                        for (size_t k = 0; k < width; k++) {                                \
                            T v = row[k];                                                   \
                            a[k] = v < a[k] ? v : a[k];                                     \
                            b[k] = v > b[k] ? v : b[k];                                     \
                            bad[k] |= v != v;                                               \
                        }                                                                   \
                    }                                                                       \
                    for (size_t k = 0; k < width; k++) {                                    \
                        mn[o * inner + k0 + k] = bad[k] ? (T)NAN : a[k];                    \
                        mx[o * inner + k0 + k] = bad[k] ? (T)NAN : b[k];                    \
                    }                                                                       \
                });                                                                         \
        }                                                                                   \
        return FPK_OK;                                                                      \
    }                                                                                       \
                                                                                            \
    /* (x - mean) / std per slice; a slice with std == 0 is constant and becomes 0. */      \
    int fpk_zscore_apply_##SUF(size_t outer, size_t len, size_t inner, const T *x,           \
                               const T *mean, const T *std, T *out)                         \
    {                                                                                       \
        if (outer == 0 || len == 0 || inner == 0)                                           \
            return FPK_OK;                                                                  \
        if (!x || !mean || !std || !out)                                                    \
            return FPK_ERR_NULL;                                                            \
        size_t total;                                                                       \
        if (slices_total(outer, len, inner, &total) != FPK_OK)                              \
            return FPK_ERR_OVERFLOW;                                                        \
        size_t rows = outer * len;                                                          \
        if (inner == 1) {                           /* contiguous slices: a run per slice */ \
            FPK_PARALLEL_RANGES(total, fpk_threads_for(total), lo, hi,                      \
                for (size_t start = lo; start < hi;) {                                      \
                    size_t o = start / len, end = (o + 1) * len < hi ? (o + 1) * len : hi;  \
                    const T m = mean[o], s = std[o];                                        \
                    if (s == 0)                                                             \
                        for (size_t i = start; i < end; i++) out[i] = 0;                    \
                    else                                                                    \
                        for (size_t i = start; i < end; i++) out[i] = (x[i] - m) / s;       \
                    start = end;                                                            \
                });                                                                         \
        } else {                                    /* strided slices: row by row */        \
            FPK_PARALLEL_RANGES(rows, fpk_threads_for(total), lo, hi,                       \
                for (size_t r = lo; r < hi; r++) {                                          \
                    const T *m = mean + (r / len) * inner, *s = std + (r / len) * inner;    \
                    const T *xr = x + r * inner;                                            \
                    T *yr = out + r * inner;                                                \
                    for (size_t k = 0; k < inner; k++)                                      \
                        yr[k] = s[k] == 0 ? 0 : (xr[k] - m[k]) / s[k];                      \
                });                                                                         \
        }                                                                                   \
        return FPK_OK;                                                                      \
    }                                                                                       \
                                                                                            \
    /* low + (x - min) / (max - min) * (high - low) per slice; a constant slice becomes low. */ \
    int fpk_minmax_apply_##SUF(size_t outer, size_t len, size_t inner, const T *x,           \
                               const T *mn, const T *mx, T low, T high, T *out)             \
    {                                                                                       \
        if (outer == 0 || len == 0 || inner == 0)                                           \
            return FPK_OK;                                                                  \
        if (!x || !mn || !mx || !out)                                                       \
            return FPK_ERR_NULL;                                                            \
        size_t total;                                                                       \
        if (slices_total(outer, len, inner, &total) != FPK_OK)                              \
            return FPK_ERR_OVERFLOW;                                                        \
        const T width = high - low;                                                         \
        size_t rows = outer * len;                                                          \
        if (inner == 1) {                                                                   \
            FPK_PARALLEL_RANGES(total, fpk_threads_for(total), lo, hi,                      \
                for (size_t start = lo; start < hi;) {                                      \
                    size_t o = start / len, end = (o + 1) * len < hi ? (o + 1) * len : hi;  \
                    const T a = mn[o], range = mx[o] - mn[o];                               \
                    if (range == 0)                                                         \
                        for (size_t i = start; i < end; i++) out[i] = low;                  \
                    else                                                                    \
                        for (size_t i = start; i < end; i++)                                \
                            out[i] = low + (x[i] - a) / range * width;                      \
                    start = end;                                                            \
                });                                                                         \
        } else {                                                                            \
            FPK_PARALLEL_RANGES(rows, fpk_threads_for(total), lo, hi,                       \
                for (size_t r = lo; r < hi; r++) {                                          \
                    const T *a = mn + (r / len) * inner, *b = mx + (r / len) * inner;       \
                    const T *xr = x + r * inner;                                            \
                    T *yr = out + r * inner;                                                \
                    for (size_t k = 0; k < inner; k++) {                                    \
                        T range = b[k] - a[k];                                              \
                        yr[k] = range == 0 ? low : low + (xr[k] - a[k]) / range * width;    \
                    }                                                                       \
                });                                                                         \
        }                                                                                   \
        return FPK_OK;                                                                      \
    }

DEFINE_NORMALIZE(float, f32)
DEFINE_NORMALIZE(double, f64)
