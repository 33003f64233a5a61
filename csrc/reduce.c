/* reduce.c - reductions: sum, mean, min, max, std, median (and dot), over a whole array or
 * along one axis.
 *
 * Determinism: a whole-array reduction cuts x into fixed BLOCK-element blocks (independent of
 * the thread count), reduces each block on one thread into partial[b], then combines the
 * partials on one thread in a fixed (pairwise) order. So 1 thread and 8 threads give the same
 * bits. Accuracy: inside a block, independent lane accumulators in double (float32 adds short
 * float slices first, then carries them in double); across blocks, pairwise summation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpkernels.h"

#define BLOCK 4096        /* elements per block of a whole-array reduction */
#define LANES 16          /* independent accumulators inside a block (vector lanes) */
#define STACK_BLOCKS 256  /* partials live on the stack up to this many blocks */
#define COLS 256          /* columns reduced together along a strided axis */
#define ROWS 256          /* rows summed into a block total before joining the running total */
#define SMALL 16          /* selection finishes with insertion sort at this size */


/* The reductions the shared drivers below know. */
enum reduction { SUM, MEAN, MIN, MAX, STD, STD_SAMPLE, MEDIAN };

/* Sum of p[0..n) by recursive halving: the rounding error grows like log2(n), not n. */
static double pairwise(const double *p, size_t n)
{
    if (n <= 8) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += p[i];
        return s;
    }
    return pairwise(p, n / 2) + pairwise(p + n / 2, n - n / 2);
}

/* A work buffer of `count` doubles: `stack` when it is big enough, else the heap. */
static double *buffer(size_t count, double *stack, size_t stack_count)
{
    return count <= stack_count ? stack : malloc(count * sizeof(double));
}

static void release(double *p, const double *stack)
{
    if (p != stack)
        free(p);
}

static void set_status(int *status, int value)
{
    if (value != FPK_OK)
        __atomic_store_n(status, value, __ATOMIC_RELAXED);
}

#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

/* ------------------------------------------------------------------------------------------ */
/* One block: x[0..n), n <= BLOCK, reduced on one thread.                                      */

/* sum of x[i] - shift (shift is x[0] for std, else 0). float64: LANES double accumulators.
   float32: float accumulators over SUB-element slices (each lane adds SUB / F32_LANES values),
   each slice's lanes then added into double: half the conversions, twice the speed, and
   still far more accurate than a float32 running sum. */
#define SUB 512
#define F32_LANES 32

static double block_sum_f64(const double *x, size_t n, double shift)
{
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += x[i + j] - shift;
    for (; i < n; i++)
        acc[i % LANES] += x[i] - shift;
    return pairwise(acc, LANES);
}

static double block_sum_f32(const float *x, size_t n, double shift)
{
    double acc[F32_LANES] = {0};
    float s = (float)shift;
    size_t i = 0;
    for (; i + SUB <= n; i += SUB) {
        float part[F32_LANES] = {0};
        for (size_t k = i; k < i + SUB; k += F32_LANES)
            for (int j = 0; j < F32_LANES; j++)
                part[j] += x[k + j] - s;
        for (int j = 0; j < F32_LANES; j++)
            acc[j] += part[j];
    }
    for (; i < n; i++)
        acc[i % F32_LANES] += (double)x[i] - shift;
    return pairwise(acc, F32_LANES);
}

/* One core reads memory about 1.5x faster from four places far apart than from one (Zen 3,
   a 64 MB float32 sum: 3.8 -> 2.6 ms; PyTorch's sum reads four rows at once too): the hardware
   prefetchers follow each stream. So the drivers split each thread's blocks into GROUP
   stretches and reduce one block of each at once, taking a cache line or two from each in
   turn. Every block's value has the same bits as when it is reduced alone. */
#define GROUP 4

/* partial[g * pstride] = block_sum_f64(x + g * stride, BLOCK, 0) for g < GROUP. */
static void group_sum_f64(const double *x, size_t stride, double *partial, size_t pstride)
{
    double acc[GROUP][LANES] = {{0}};
    for (size_t i = 0; i < BLOCK; i += LANES)
        for (int g = 0; g < GROUP; g++)
            for (int j = 0; j < LANES; j++)
                acc[g][j] += x[g * stride + i + j];
    for (int g = 0; g < GROUP; g++)
        partial[g * pstride] = pairwise(acc[g], LANES);
}

/* partial[g * pstride] = block_sum_f32(x + g * stride, BLOCK, 0) for g < GROUP. */
static void group_sum_f32(const float *x, size_t stride, double *partial, size_t pstride)
{
    double acc[GROUP][F32_LANES] = {{0}};
    for (size_t i = 0; i < BLOCK; i += SUB) {
        float part[GROUP][F32_LANES] = {{0}};
        for (size_t k = i; k < i + SUB; k += F32_LANES)
            for (int g = 0; g < GROUP; g++)
                for (int j = 0; j < F32_LANES; j++)
                    part[g][j] += x[g * stride + k + j];
        for (int g = 0; g < GROUP; g++)
            for (int j = 0; j < F32_LANES; j++)
                acc[g][j] += part[g][j];
    }
    for (int g = 0; g < GROUP; g++)
        partial[g * pstride] = pairwise(acc[g], F32_LANES);
}

#define BLOCK_DOT(T, sfx)                                                   \
    /* sum of a[i] * b[i] in LANES double accumulators. */                      \
    static double block_dot_##sfx(const T *a, const T *b, size_t n)             \
    {                                                                           \
        double acc[LANES] = {0};                                                \
        size_t i = 0;                                                           \
        for (; i + LANES <= n; i += LANES)                                      \
            for (int j = 0; j < LANES; j++)                                     \
                acc[j] += (double)a[i + j] * b[i + j];                          \
        for (; i < n; i++)                                                      \
            acc[i % LANES] += (double)a[i] * b[i];                              \
        return pairwise(acc, LANES);                                            \
    }

BLOCK_DOT(float, f32)
BLOCK_DOT(double, f64)

/* One block's contribution to std: *sum = sum of (x - shift) and *m2 = sum of squared
   deviations from the block's own mean. float64: a first pass for the mean, a second for the
   squares (the block is in L1 by then). float32: the second pass works in float slices around
   c, the first pass's mean rounded to float (x - c is exact for x near c), and keeps the sum of
   the deviations too, so m2 = sum d^2 - (sum d)^2 / n is exact whatever c is. */
/* sum of (x[i] - mean)^2 in LANES accumulators. */
static double block_m2_f64(const double *x, size_t n, double mean)
{
    double acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            double d = x[i + j] - mean;
            acc[j] += d * d;
        }
    for (; i < n; i++) {
        double d = x[i] - mean;
        acc[i % LANES] += d * d;
    }
    return pairwise(acc, LANES);
}

static void block_spread_f64(const double *x, size_t n, double shift, double *sum, double *m2)
{
    *sum = block_sum_f64(x, n, shift);
    *m2 = block_m2_f64(x, n, shift + *sum / (double)n);
}

static void block_spread_f32(const float *x, size_t n, double shift, double *sum, double *m2)
{
    double s1 = block_sum_f32(x, n, shift), acc[F32_LANES] = {0}, acc2[F32_LANES] = {0};
    float c = (float)(shift + s1 / (double)n);
    size_t i = 0;
    for (; i + SUB <= n; i += SUB) {
        float part[F32_LANES] = {0}, part2[F32_LANES] = {0};
        for (size_t k = i; k < i + SUB; k += F32_LANES)
            for (int j = 0; j < F32_LANES; j++) {
                float d = x[k + j] - c;
                part[j] += d;
                part2[j] += d * d;
            }
        for (int j = 0; j < F32_LANES; j++) {
            acc[j] += part[j];
            acc2[j] += part2[j];
        }
    }
    for (; i < n; i++) {
        double d = (double)x[i] - c;
        acc[i % F32_LANES] += d;
        acc2[i % F32_LANES] += d * d;
    }
    double sd = pairwise(acc, F32_LANES), sd2 = pairwise(acc2, F32_LANES);
    double m = sd2 - sd * sd / (double)n;
    *m2 = m > 0 ? m : 0;
    *sum = (double)n * ((double)c - shift) + sd;
}

/* Smallest (LESS = <) or largest (LESS = >) of x[0..n), n >= 1; NaN if any element is NaN.
   The compiler cannot vectorise a NaN-aware compare-and-select without -ffast-math, so with
   AVX-512 or AVX2 it is written with intrinsics: min/max of 2 vectors of lanes, plus a mask
   that remembers any unordered (NaN) pair. */
#define BLOCK_EXTREME_C(name, LESS, T, sfx)                                     \
    static T block_##name##_##sfx(const T *x, size_t n)                         \
    {                                                                           \
        T m = x[0];                                                             \
        for (size_t i = 0; i < n; i++) {                                        \
            T v = x[i];                                                         \
            if (v != v)                                                         \
                return v;                                                       \
            m = v LESS m ? v : m;                                               \
        }                                                                       \
        return m;                                                               \
    }

#ifdef __AVX512F__
#include <immintrin.h>
#define BLOCK_EXTREME(name, LESS, T, sfx, VEC, W, SUFFIX, MASK)                 \
    static T block_##name##_##sfx(const T *x, size_t n)                         \
    {                                                                           \
        VEC m0 = _mm512_set1_##SUFFIX(x[0]), m1 = m0;                           \
        MASK nan = 0;                                                           \
        size_t i = 0;                                                           \
        for (; i + 2 * W <= n; i += 2 * W) {                                    \
            VEC a = _mm512_loadu_##SUFFIX(x + i), b = _mm512_loadu_##SUFFIX(x + i + W); \
            m0 = _mm512_##name##_##SUFFIX(m0, a);                               \
            m1 = _mm512_##name##_##SUFFIX(m1, b);                               \
            nan |= _mm512_cmp_##SUFFIX##_mask(a, b, _CMP_UNORD_Q);              \
        }                                                                       \
        if (nan)                                                                \
            return (T)NAN;                                                      \
        T m = _mm512_reduce_##name##_##SUFFIX(_mm512_##name##_##SUFFIX(m0, m1)); \
        for (; i < n; i++) {                                                    \
            T v = x[i];                                                         \
            if (v != v)                                                         \
                return v;                                                       \
            m = v LESS m ? v : m;                                               \
        }                                                                       \
        return m;                                                               \
    }
BLOCK_EXTREME(min, <, float, f32, __m512, 16, ps, __mmask16)
BLOCK_EXTREME(min, <, double, f64, __m512d, 8, pd, __mmask8)
BLOCK_EXTREME(max, >, float, f32, __m512, 16, ps, __mmask16)
BLOCK_EXTREME(max, >, double, f64, __m512d, 8, pd, __mmask8)
#elif defined(__AVX2__)
#include <immintrin.h>
/* The same with 256-bit vectors, for `count` blocks of n elements at x + g * stride read side
   by side (see GROUP): per block a pair of min/max vectors and a vector marking unordered
   pairs; the result of block g goes to out[g * ostride]. */
#define BLOCK_EXTREME_256(name, LESS, T, sfx, VEC, W, SUFFIX)                   \
    static inline void extremes_##name##_##sfx(const T *x, size_t n, size_t stride, int count, \
                                               double *out, size_t ostride)     \
    {                                                                           \
        VEC m[GROUP][2], nan[GROUP];                                            \
        for (int g = 0; g < count; g++) {                                       \
            m[g][0] = m[g][1] = _mm256_set1_##SUFFIX(x[g * stride]);            \
            nan[g] = _mm256_setzero_##SUFFIX();                                 \
        }                                                                       \
        size_t i = 0;                                                           \
        for (; i + 2 * W <= n; i += 2 * W)                                      \
            for (int g = 0; g < count; g++) {                                   \
                const T *p = x + g * stride + i;                                \
                VEC a = _mm256_loadu_##SUFFIX(p), b = _mm256_loadu_##SUFFIX(p + W); \
                m[g][0] = _mm256_##name##_##SUFFIX(m[g][0], a);                 \
                m[g][1] = _mm256_##name##_##SUFFIX(m[g][1], b);                 \
                nan[g] = _mm256_or_##SUFFIX(nan[g], _mm256_cmp_##SUFFIX(a, b, _CMP_UNORD_Q)); \
            }                                                                   \
        for (int g = 0; g < count; g++) {                                       \
            const T *p = x + g * stride;                                        \
            T lanes[W], m1 = (T)NAN;                                            \
            _mm256_storeu_##SUFFIX(lanes, _mm256_##name##_##SUFFIX(m[g][0], m[g][1])); \
            if (!_mm256_movemask_##SUFFIX(nan[g])) {                            \
                m1 = lanes[0];                                                  \
                for (int j = 1; j < W; j++)                                     \
                    m1 = lanes[j] LESS m1 ? lanes[j] : m1;                      \
                for (size_t k = i; k < n && m1 == m1; k++) /* a NaN ends it */  \
                    m1 = p[k] LESS m1 || p[k] != p[k] ? p[k] : m1;              \
            }                                                                   \
            out[g * ostride] = m1;                                              \
        }                                                                       \
    }                                                                           \
                                                                                \
    static T block_##name##_##sfx(const T *x, size_t n)                         \
    {                                                                           \
        double m;                                                               \
        extremes_##name##_##sfx(x, n, 0, 1, &m, 0);                             \
        return (T)m;                                                            \
    }                                                                           \
                                                                                \
    static void group_##name##_##sfx(const T *x, size_t stride, double *partial, size_t pstride) \
    {                                                                           \
        extremes_##name##_##sfx(x, BLOCK, stride, GROUP, partial, pstride);     \
    }
BLOCK_EXTREME_256(min, <, float, f32, __m256, 8, ps)
BLOCK_EXTREME_256(min, <, double, f64, __m256d, 4, pd)
BLOCK_EXTREME_256(max, >, float, f32, __m256, 8, ps)
BLOCK_EXTREME_256(max, >, double, f64, __m256d, 4, pd)
#else
BLOCK_EXTREME_C(min, <, float, f32)
BLOCK_EXTREME_C(min, <, double, f64)
BLOCK_EXTREME_C(max, >, float, f32)
BLOCK_EXTREME_C(max, >, double, f64)
#endif

#if defined(__AVX512F__) || !defined(__AVX2__)
/* No side-by-side kernel: blocks_ reduces min/max blocks one by one, in order, as before. */
#define group_min_f32 NULL
#define group_min_f64 NULL
#define group_max_f32 NULL
#define group_max_f64 NULL
#endif

/* ------------------------------------------------------------------------------------------ */
/* Selection: the k-th smallest of v[0..n) by quickselect, with a median-of-medians pivot when  */
/* the range stops shrinking fast (linear time in the worst case). v holds no NaN.             */

#define SELECT(T, sfx)                                                          \
    static void insertion_sort_##sfx(T *v, size_t n)                            \
    {                                                                           \
        for (size_t i = 1; i < n; i++) {                                        \
            T key = v[i];                                                       \
            size_t j = i;                                                       \
            for (; j > 0 && v[j - 1] > key; j--)                                \
                v[j] = v[j - 1];                                                \
            v[j] = key;                                                         \
        }                                                                       \
    }                                                                           \
                                                                                \
    static void select_##sfx(T *v, size_t n, size_t k);                         \
                                                                                \
    /* Index of a pivot with at least ~30% of v on each side: the median of the medians \
       of groups of five (gathered at the front of v). */                       \
    static size_t median_of_medians_##sfx(T *v, size_t n)                       \
    {                                                                           \
        size_t groups = n / 5;                                                  \
        for (size_t g = 0; g < groups; g++) {                                   \
            insertion_sort_##sfx(v + 5 * g, 5);                                 \
            T t = v[g]; v[g] = v[5 * g + 2]; v[5 * g + 2] = t;                  \
        }                                                                       \
        select_##sfx(v, groups, groups / 2);                                    \
        return groups / 2;                                                      \
    }                                                                           \
                                                                                \
    /* Index of the median of v[0], v[n/2], v[n-1]. */                          \
    static size_t median_of_three_##sfx(const T *v, size_t n)                   \
    {                                                                           \
        size_t a = 0, b = n / 2, c = n - 1;                                     \
        if (v[a] > v[b]) { size_t t = a; a = b; b = t; }                        \
        if (v[b] > v[c]) { b = c; }                                             \
        return v[a] > v[b] ? a : b;                                             \
    }                                                                           \
                                                                                \
    /* Hoare partition around the value v[0]: returns j < n-1 with every element of \
       v[0..j] <= every element of v[j+1..n). */                                \
    static size_t partition_##sfx(T *v, size_t n)                               \
    {                                                                           \
        T p = v[0];                                                             \
        ptrdiff_t i = -1, j = (ptrdiff_t)n;                                     \
        for (;;) {                                                              \
            do j--; while (v[j] > p);                                           \
            do i++; while (v[i] < p);                                           \
            if (i >= j)                                                         \
                return (size_t)j;                                               \
            T t = v[i]; v[i] = v[j]; v[j] = t;                                  \
        }                                                                       \
    }                                                                           \
                                                                                \
    static void select_##sfx(T *v, size_t n, size_t k)                          \
    {                                                                           \
        size_t lo = 0, hi = n, checkpoint = n;                                  \
        int steps = 0;                                                          \
        while (hi - lo > SMALL) {                                               \
            T *w = v + lo;                                                      \
            size_t m = hi - lo;                                                 \
            /* every 3 steps the range must have halved, else take a safe pivot */ \
            int slow = ++steps % 3 == 0 && m > checkpoint / 2;                  \
            if (steps % 3 == 0)                                                 \
                checkpoint = m;                                                 \
            size_t pivot = slow ? median_of_medians_##sfx(w, m) : median_of_three_##sfx(w, m); \
            T t = w[0]; w[0] = w[pivot]; w[pivot] = t;                          \
            size_t j = lo + partition_##sfx(w, m);                              \
            if (k <= j)                                                         \
                hi = j + 1;                                                     \
            else                                                                \
                lo = j + 1;                                                     \
        }                                                                       \
        insertion_sort_##sfx(v + lo, hi - lo);                                  \
    }

SELECT(float, f32)
SELECT(double, f64)

/* The midpoint (a + b) / 2 without overflow: float32 goes through double; float64 halves
   first only when a + b overflows (otherwise the same bits as NumPy's mean of the two). */
static float midpoint_f32(float a, float b)
{
    return (float)(((double)a + (double)b) * 0.5);
}

static double midpoint_f64(double a, double b)
{
    double sum = a + b;
    if (isinf(sum) && isfinite(a) && isfinite(b))
        return a * 0.5 + b * 0.5;
    return sum * 0.5;
}

/* The median of v[0..n) (n >= 1), rearranging v: NaN if v holds one, else the middle value
   (odd n) or the midpoint of the two middle values (even n). */
#define MEDIAN_INPLACE(T, sfx)                                                  \
    static T median_inplace_##sfx(T *v, size_t n)                               \
    {                                                                           \
        int nan = 0;                                                            \
        for (size_t i = 0; i < n; i++)                                          \
            nan |= v[i] != v[i];                                                \
        if (nan)                                                                \
            return (T)NAN;                                                      \
        size_t k = (n - 1) / 2;                                                 \
        select_##sfx(v, n, k);                                                  \
        if (n % 2)                                                              \
            return v[k];                                                        \
        T upper = v[k + 1];                                                     \
        for (size_t i = k + 2; i < n; i++)                                      \
            upper = v[i] < upper ? v[i] : upper;                                \
        return midpoint_##sfx(v[k], upper);                                     \
    }

MEDIAN_INPLACE(float, f32)
MEDIAN_INPLACE(double, f64)

/* A large median narrows the search first: one parallel pass counts the elements per bucket of
   the top 16 bits of an order-preserving integer key (a radix histogram), which tells which
   bucket holds the middle rank; a second pass gathers just that bucket (tens of thousands of
   elements for typical data) and quickselect finishes there. Worst case (everything in one
   bucket) is a plain quickselect on a copy: still linear time. */
#define BUCKETS 65536
#define HISTOGRAM_MIN 262144 /* below this, copy + quickselect is as fast */

/* Integer keys ordered like the floats: flip every bit of a negative, the sign bit of a positive. */
static inline uint32_t bucket_f64(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (uint32_t)((u ^ ((uint64_t)((int64_t)u >> 63) | 0x8000000000000000u)) >> 48);
}

#define MEDIAN_HISTOGRAM(T, sfx)                                                \
    static int median_histogram_##sfx(const T *x, size_t n, int threads, T *result) \
    {                                                                           \
        size_t parts = (size_t)threads, k = (n - 1) / 2;                        \
        uint32_t *hist = calloc(2 * parts * BUCKETS, sizeof(uint32_t));         \
        T *next_min = malloc(parts * sizeof(T));                                \
        size_t *offset = malloc(parts * sizeof(size_t));                        \
        int nan = 0, status = FPK_OK;                                           \
        T *scratch = NULL;                                                      \
        if (!hist || !next_min || !offset) {                                    \
            status = FPK_ERR_NOMEM;                                             \
            goto done;                                                          \
        }                                                                       \
        /* pass 1: a histogram per part (parts are fixed ranges, whatever the team size) */ \
        FPK_PARALLEL_FOR(parts, threads, part, {                                    \
            size_t lo, hi;                                                      \
            uint32_t *h = hist + part * BUCKETS, *h1 = hist + (parts + part) * BUCKETS; \
            int seen_nan = 0;                                                   \
            fpk_split_range(n, (int)part, (int)parts, &lo, &hi);                \
            for (size_t i = lo; i < hi; i++) { /* two histograms: runs of equal \
                                                  keys do not wait on one counter */ \
                seen_nan |= x[i] != x[i];                                       \
                (i & 1 ? h1 : h)[bucket_##sfx(x[i])]++;                         \
            }                                                                   \
            for (size_t b = 0; b < BUCKETS; b++)                                \
                h[b] += h1[b];                                                  \
            if (seen_nan)                                                       \
                __atomic_store_n(&nan, 1, __ATOMIC_RELAXED);                    \
        });                                                                     \
        if (nan) {                                                              \
            *result = (T)NAN;                                                   \
            goto done;                                                          \
        }                                                                       \
        /* the bucket holding rank k, the rank inside it, and (even n, when rank k + 1 is \
           not in it) the next non-empty bucket, whose minimum is the upper middle */ \
        size_t below = 0, count = 0, bucket = 0;                                \
        for (;; bucket++) {                                                     \
            count = 0;                                                          \
            for (size_t part = 0; part < parts; part++)                         \
                count += hist[part * BUCKETS + bucket];                         \
            if (below + count > k)                                              \
                break;                                                          \
            below += count;                                                     \
        }                                                                       \
        size_t rank = k - below, next = BUCKETS;                                \
        if (n % 2 == 0 && rank + 1 == count) {                                  \
            for (next = bucket + 1; next < BUCKETS; next++) {                   \
                size_t c = 0;                                                   \
                for (size_t part = 0; part < parts; part++)                     \
                    c += hist[part * BUCKETS + next];                           \
                if (c)                                                          \
                    break;                                                      \
            }                                                                   \
        }                                                                       \
        for (size_t part = 0, sum = 0; part < parts; part++) {                  \
            offset[part] = sum;                                                 \
            sum += hist[part * BUCKETS + bucket];                               \
        }                                                                       \
        scratch = malloc(count * sizeof(T));                                    \
        if (!scratch) {                                                         \
            status = FPK_ERR_NOMEM;                                             \
            goto done;                                                          \
        }                                                                       \
        /* pass 2: gather the bucket of rank k; the minimum of bucket `next` */ \
        FPK_PARALLEL_FOR(parts, threads, part, {                                    \
            size_t lo, hi, at = offset[part];                                   \
            T smallest = (T)INFINITY;                                           \
            fpk_split_range(n, (int)part, (int)parts, &lo, &hi);                \
            for (size_t i = lo; i < hi; i++) {                                  \
                uint32_t b = bucket_##sfx(x[i]);                                \
                if (b == bucket)                                                \
                    scratch[at++] = x[i];                                       \
                else if (b == next && x[i] < smallest)                          \
                    smallest = x[i];                                            \
            }                                                                   \
            next_min[part] = smallest;                                          \
        });                                                                     \
        int uniform = 1; /* a bucket of equal values (constant data) needs no selection */ \
        for (size_t i = 1; i < count; i++)                                      \
            uniform &= scratch[i] == scratch[0];                                \
        if (!uniform)                                                           \
            select_##sfx(scratch, count, rank);                                 \
        T lower = scratch[rank], upper = (T)INFINITY;                           \
        if (n % 2) {                                                            \
            *result = lower;                                                    \
            goto done;                                                          \
        }                                                                       \
        for (size_t i = rank + 1; i < count; i++)                               \
            upper = scratch[i] < upper ? scratch[i] : upper;                    \
        for (size_t part = 0; next < BUCKETS && part < parts; part++)          \
            upper = next_min[part] < upper ? next_min[part] : upper;            \
        *result = midpoint_##sfx(lower, upper);                                 \
    done:                                                                       \
        free(hist);                                                             \
        free(next_min);                                                         \
        free(offset);                                                           \
        free(scratch);                                                          \
        return status;                                                          \
    }

MEDIAN_HISTOGRAM(double, f64)

/* float32 goes further: a second counting pass over the low 16 bits of the keys in the chosen
   bucket pins the exact value of the middle rank (radix selection, two parallel passes, no
   scratch copy). Each part counts into two interleaved histograms, so runs of equal values
   do not wait on one counter. (It answers when the faster window selection below misses.) */
static float float_of_key(uint32_t key)
{
    uint32_t u = key & 0x80000000u ? key ^ 0x80000000u : ~key;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline uint32_t key_f32(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u ^ ((uint32_t)((int32_t)u >> 31) | 0x80000000u);
}

/* The bucket, from `from` on, that holds rank `rank` counted from there (rank 0: the first
   non-empty one), adding the counts of the buckets passed over to *below; BUCKETS if none. */
static size_t find_bucket(const uint32_t *hist, size_t from, size_t rank, size_t *below)
{
    size_t b = from;
    for (; b < BUCKETS; b++) {
        if (*below + hist[b] > rank)
            return b;
        *below += hist[b];
    }
    return BUCKETS;
}

static int median_radix_f32(const float *x, size_t n, int threads, float *result)
{
    size_t parts = (size_t)threads, k = (n - 1) / 2;
    uint32_t *hist = calloc(2 * parts * BUCKETS, sizeof(uint32_t));
    float *next_min = malloc(parts * sizeof(float));
    int nan = 0, status = FPK_OK;
    if (!hist || !next_min) {
        status = FPK_ERR_NOMEM;
        goto done;
    }
    /* pass 1: count the top 16 bits of every key */
    FPK_PARALLEL_FOR(parts, threads, part, {
        size_t lo, hi;
        uint32_t *h0 = hist + 2 * part * BUCKETS, *h1 = h0 + BUCKETS;
        int seen_nan = 0;
        fpk_split_range(n, (int)part, (int)parts, &lo, &hi);
        size_t i = lo;
        for (; i + 1 < hi; i += 2) {
            seen_nan |= (x[i] != x[i]) | (x[i + 1] != x[i + 1]);
            h0[key_f32(x[i]) >> 16]++;
            h1[key_f32(x[i + 1]) >> 16]++;
        }
        for (; i < hi; i++) {
            seen_nan |= x[i] != x[i];
            h0[key_f32(x[i]) >> 16]++;
        }
        for (size_t b = 0; b < BUCKETS; b++)
            h0[b] += h1[b];
        if (seen_nan)
            __atomic_store_n(&nan, 1, __ATOMIC_RELAXED);
    });
    if (nan) {
        *result = NAN;
        goto done;
    }
    uint32_t *total = hist + BUCKETS; /* part 0's second histogram, free now */
    for (size_t b = 0; b < BUCKETS; b++) {
        uint32_t sum = hist[b];
        for (size_t part = 1; part < parts; part++)
            sum += hist[2 * part * BUCKETS + b];
        total[b] = sum;
    }
    size_t below = 0, high = find_bucket(total, 0, k, &below), rank = k - below;
    size_t skipped = 0, next = BUCKETS;
    if (n % 2 == 0 && rank + 1 == total[high])
        next = find_bucket(total, high + 1, 0, &skipped);
    memset(hist, 0, 2 * parts * BUCKETS * sizeof(uint32_t));
    /* pass 2: count the low 16 bits of the keys in bucket `high`; the minimum of `next` */
    FPK_PARALLEL_FOR(parts, threads, part, {
        size_t lo, hi;
        uint32_t *h0 = hist + 2 * part * BUCKETS, *h1 = h0 + BUCKETS;
        float smallest = INFINITY;
        fpk_split_range(n, (int)part, (int)parts, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            uint32_t key = key_f32(x[i]);
            if (key >> 16 == high)
                (i & 1 ? h1 : h0)[key & 0xFFFF]++;
            else if (key >> 16 == next && x[i] < smallest)
                smallest = x[i];
        }
        for (size_t b = 0; b < BUCKETS; b++)
            h0[b] += h1[b];
        next_min[part] = smallest;
    });
    for (size_t b = 0; b < BUCKETS; b++) {
        uint32_t sum = hist[b];
        for (size_t part = 1; part < parts; part++)
            sum += hist[2 * part * BUCKETS + b];
        total[b] = sum;
    }
    below = 0;
    size_t low = find_bucket(total, 0, rank, &below);
    float lower = float_of_key((uint32_t)(high << 16 | low)), upper = lower;
    if (n % 2) {
        *result = lower;
        goto done;
    }
    if (rank + 1 == below + total[low]) { /* rank + 1 is in a later low bucket or in `next` */
        skipped = 0;
        size_t after = find_bucket(total, low + 1, 0, &skipped);
        if (after < BUCKETS) {
            upper = float_of_key((uint32_t)(high << 16 | after));
        } else {
            upper = INFINITY;
            for (size_t part = 0; part < parts; part++)
                upper = next_min[part] < upper ? next_min[part] : upper;
        }
    }
    *result = midpoint_f32(lower, upper);
done:
    free(hist);
    free(next_min);
    return status;
}

/* Faster still, for float32: one pass instead of two. A fixed sample spread over x (at most
   SAMPLE_MAX elements, one from each stretch of n / s) predicts where the wanted rank lies: the
   sample's values WINDOW_SD binomial standard deviations (sqrt(s) / 2) below and above it make
   a window [lo, hi] that holds it for all but adversarially ordered data. One parallel pass
   counts the elements below and at each end of the window and copies the few strictly inside
   (a few percent) to a buffer; the counts say whether the rank fell inside. The buffer is
   narrowed the same way until quickselect finishes on a few thousand values. If the window
   misses at the top (or its buffer would overflow), the radix selection above answers instead:
   always exact, one pass slower. The pass reads x at memory speed: ~8x faster than radix. */
#define SAMPLE_MAX 16384 /* sampled elements (n / 64 for smaller n) */
#define WINDOW_SD 4      /* window half-width in binomial standard deviations */
#define WINDOW_DONE 8192 /* at most this many candidates: quickselect */
#define MISSED (-1)      /* window_select_f32: the window did not hold the wanted ranks */

/* How x[0..n) sits against the window [lo, hi]. */
struct window {
    size_t below_lo, upto_lo, below_hi, upto_hi; /* counts of x < lo, <= lo, < hi, <= hi */
    size_t inside;                               /* values lo < x < hi copied */
    int nan, overflow;
};

#if defined(__AVX2__) && !defined(__AVX512F__)
/* AVX2 has no compress instruction: byte j of FRONT[mask] is the lane (of 4) that goes to
   position j when the lanes whose bit is set in mask are moved to the front. */
static const uint32_t FRONT[16] = {
    0x00000000, 0x00000000, 0x00000001, 0x00000100, 0x00000002, 0x00000200, 0x00000201, 0x00020100,
    0x00000003, 0x00000300, 0x00000301, 0x00030100, 0x00000302, 0x00030200, 0x00030201, 0x03020100};

/* Store the lanes of v whose bit is set in mask (4 bits) at out, in order (4 floats are
   written); returns how many. */
static inline size_t store_selected(float *out, __m128 v, int mask)
{
    __m128i order = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)FRONT[mask]));
    _mm_storeu_ps(out, _mm_permutevar_ps(v, order));
    return (size_t)__builtin_popcount((unsigned)mask);
}
#endif

/* Add x[0..n) to the counts of *w and copy the values strictly between lo and hi to
   inside[0..), which has room for n + 16 (a vector store may write past the last one). Returns
   how many were copied. */
static size_t window_pass(const float *x, size_t n, float lo, float hi, struct window *w,
                          float *inside)
{
    size_t m = 0, i = 0;
    uint32_t below_lo = 0, upto_lo = 0, below_hi = 0, upto_hi = 0, nan = 0; /* n <= BLOCK */
#ifdef __AVX512F__
    __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    __m512i one = _mm512_set1_epi32(1), lanes[4]; /* per-lane counts: < lo, <= lo, < hi, <= hi */
    for (int c = 0; c < 4; c++)
        lanes[c] = _mm512_setzero_si512();
    __mmask16 unordered = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __mmask16 lt_lo = _mm512_cmp_ps_mask(v, vlo, _CMP_LT_OQ);
        __mmask16 le_lo = _mm512_cmp_ps_mask(v, vlo, _CMP_LE_OQ);
        __mmask16 lt_hi = _mm512_cmp_ps_mask(v, vhi, _CMP_LT_OQ);
        __mmask16 le_hi = _mm512_cmp_ps_mask(v, vhi, _CMP_LE_OQ);
        lanes[0] = _mm512_mask_add_epi32(lanes[0], lt_lo, lanes[0], one);
        lanes[1] = _mm512_mask_add_epi32(lanes[1], le_lo, lanes[1], one);
        lanes[2] = _mm512_mask_add_epi32(lanes[2], lt_hi, lanes[2], one);
        lanes[3] = _mm512_mask_add_epi32(lanes[3], le_hi, lanes[3], one);
        unordered |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        __mmask16 in = lt_hi & (__mmask16)~le_lo; /* lo < v < hi */
        _mm512_storeu_ps(inside + m, _mm512_maskz_compress_ps(in, v));
        m += (size_t)__builtin_popcount(in);
    }
    below_lo = (uint32_t)_mm512_reduce_add_epi32(lanes[0]);
    upto_lo = (uint32_t)_mm512_reduce_add_epi32(lanes[1]);
    below_hi = (uint32_t)_mm512_reduce_add_epi32(lanes[2]);
    upto_hi = (uint32_t)_mm512_reduce_add_epi32(lanes[3]);
    nan = unordered != 0;
#elif defined(__AVX2__)
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), unordered = _mm256_setzero_ps();
    __m256i lanes[4]; /* per-lane counts: < lo, <= lo, < hi, <= hi (a true compare is -1) */
    for (int c = 0; c < 4; c++)
        lanes[c] = _mm256_setzero_si256();
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 lt_lo = _mm256_cmp_ps(v, vlo, _CMP_LT_OQ), le_lo = _mm256_cmp_ps(v, vlo, _CMP_LE_OQ);
        __m256 lt_hi = _mm256_cmp_ps(v, vhi, _CMP_LT_OQ), le_hi = _mm256_cmp_ps(v, vhi, _CMP_LE_OQ);
        lanes[0] = _mm256_sub_epi32(lanes[0], _mm256_castps_si256(lt_lo));
        lanes[1] = _mm256_sub_epi32(lanes[1], _mm256_castps_si256(le_lo));
        lanes[2] = _mm256_sub_epi32(lanes[2], _mm256_castps_si256(lt_hi));
        lanes[3] = _mm256_sub_epi32(lanes[3], _mm256_castps_si256(le_hi));
        unordered = _mm256_or_ps(unordered, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        int in = _mm256_movemask_ps(_mm256_andnot_ps(le_lo, lt_hi)); /* lo < v < hi */
        m += store_selected(inside + m, _mm256_castps256_ps128(v), in & 15);
        m += store_selected(inside + m, _mm256_extractf128_ps(v, 1), in >> 4);
    }
    uint32_t count[4][8];
    for (int c = 0; c < 4; c++)
        _mm256_storeu_si256((__m256i *)count[c], lanes[c]);
    for (int j = 0; j < 8; j++) {
        below_lo += count[0][j];
        upto_lo += count[1][j];
        below_hi += count[2][j];
        upto_hi += count[3][j];
    }
    nan = _mm256_movemask_ps(unordered) != 0;
#endif
    for (size_t j = i; j < n; j++) { /* counting alone: the compiler vectorises it */
        float v = x[j];
        below_lo += v < lo;
        upto_lo += v <= lo;
        below_hi += v < hi;
        upto_hi += v <= hi;
        nan |= v != v;
    }
    for (; i < n; i++) { /* every value is stored, only those inside advance m */
        inside[m] = x[i];
        m += (x[i] > lo) & (x[i] < hi);
    }
    w->below_lo += below_lo;
    w->upto_lo += upto_lo;
    w->below_hi += below_hi;
    w->upto_hi += upto_hi;
    w->nan |= nan != 0;
    return m;
}

/* The value of rank k of x[0..n) (n > WINDOW_DONE) into *lower and, when `both`, of rank k + 1
   into *upper; NaN in both if x holds a NaN. FPK_OK, FPK_ERR_NOMEM, or MISSED. */
static int window_select_f32(const float *x, size_t n, size_t k, int both, int threads,
                             float *lower, float *upper)
{
    size_t s = MIN_SIZE(n / 64, SAMPLE_MAX), stride = n / s, parts = (size_t)threads;
    size_t half = (size_t)(WINDOW_SD * sqrt((double)s) / 2) + 1;
    size_t middle = (size_t)(((double)k + 0.5) / (double)n * (double)s);
    size_t lo_rank = middle > half ? middle - half : 0, hi_rank = MIN_SIZE(middle + half, s - 1);
    /* room per part: twice its expected share of the window, plus a block and a vector */
    size_t room = 2 * (n / s * (hi_rank - lo_rank + 1) / parts) + BLOCK + 16;
    float *sample = malloc(s * sizeof(float)), *inside = malloc(parts * room * sizeof(float));
    struct window *w = calloc(parts, sizeof(struct window)), all = {0};
    int status = FPK_OK, nan = 0;
    if (!sample || !inside || !w) {
        status = FPK_ERR_NOMEM;
        goto done;
    }
    for (size_t j = 0; j < s; j++) { /* one element from each stretch of `stride`, at a
                                         scrambled offset so that periodic data cannot fool it */
        uint32_t h = (uint32_t)j * 0x9E3779B1u;
        sample[j] = x[j * stride + (h ^ h >> 16) % stride];
        nan |= sample[j] != sample[j];
    }
    if (nan) {
        *lower = *upper = NAN;
        goto done;
    }
    select_f32(sample, s, hi_rank);
    select_f32(sample, hi_rank, lo_rank);
    float lo = sample[lo_rank], hi = sample[hi_rank];
    /* the pass: each part counts its range and fills its own stretch of `inside` */
    FPK_PARALLEL_FOR(parts, threads, part, {
        size_t begin, end;
        struct window mine = {0}; /* on this thread's stack, copied out at the end */
        float *buffer = inside + part * room;
        fpk_split_range(n, (int)part, (int)parts, &begin, &end);
        for (size_t i = begin; i < end && !mine.overflow; i += BLOCK) {
            size_t len = MIN_SIZE(BLOCK, end - i);
            mine.overflow = mine.inside + len + 16 > room;
            if (!mine.overflow)
                mine.inside += window_pass(x + i, len, lo, hi, &mine, buffer + mine.inside);
        }
        w[part] = mine;
    });
    for (size_t part = 0; part < parts; part++) { /* parts joined in order: same bits for any team */
        memmove(inside + all.inside, inside + part * room, w[part].inside * sizeof(float));
        all.below_lo += w[part].below_lo;
        all.upto_lo += w[part].upto_lo;
        all.below_hi += w[part].below_hi;
        all.upto_hi += w[part].upto_hi;
        all.inside += w[part].inside;
        all.nan |= w[part].nan;
        all.overflow |= w[part].overflow;
    }
    if (all.nan) {
        *lower = *upper = NAN;
        goto done;
    }
    if (all.overflow || k < all.below_lo || k + (size_t)both >= all.upto_hi) {
        status = MISSED;
        goto done;
    }
    /* ranks [below_lo, upto_lo) equal lo, [upto_lo, below_hi) are the buffer (m values),
       [below_hi, upto_hi) equal hi */
    size_t first = all.upto_lo, m = all.inside;
    int in_k = k >= first && k < first + m, in_next = both && k + 1 >= first && k + 1 < first + m;
    *lower = k < first ? lo : hi;
    *upper = k + 1 < first ? lo : hi;
    if (in_k || in_next) { /* rank r of the buffer (and r + 1 when both ranks are in it) */
        size_t r = in_k ? k - first : 0;
        int more = in_k && in_next;
        float a, b;
        status = m > WINDOW_DONE ? window_select_f32(inside, m, r, more, 1, &a, &b) : MISSED;
        if (status == MISSED) {
            status = FPK_OK;
            select_f32(inside, m, r);
            a = inside[r];
            b = (float)INFINITY;
            for (size_t i = r + 1; more && i < m; i++)
                b = inside[i] < b ? inside[i] : b;
        }
        if (in_k)
            *lower = a;
        if (more)
            *upper = b;
        else if (in_next)
            *upper = a;
    }
done:
    free(sample);
    free(inside);
    free(w);
    return status;
}

/* The median of x[0..n) by window selection, or by radix selection when the window misses. */
static int median_window_f32(const float *x, size_t n, int threads, float *result)
{
    float lower = 0, upper = 0;
    int status = window_select_f32(x, n, (n - 1) / 2, n % 2 == 0, threads, &lower, &upper);
    if (status == MISSED)
        return median_radix_f32(x, n, threads, result);
    if (status == FPK_OK)
        *result = n % 2 ? lower : midpoint_f32(lower, upper);
    return status;
}

#define MEDIAN_LARGE_f32 median_window_f32
#define MEDIAN_LARGE_f64 median_histogram_f64

/* ------------------------------------------------------------------------------------------ */
/* Drivers: a whole contiguous array, and a tile of columns of an (n, inner) slab.             */

#define DRIVERS(T, sfx)                                                         \
    /* partial[b] = the reduction of block b, for the nb blocks of x[0..n). Each thread takes \
       a range of blocks and, given a group kernel, reads its full blocks as GROUP stretches \
       side by side (blocks lo + k + g q, g < GROUP, at step k); the rest one by one. */ \
    static void blocks_##sfx(enum reduction r, const T *x, size_t n, size_t nb, int threads, \
                             double *partial)                                   \
    {                                                                           \
        void (*group)(const T *, size_t, double *, size_t) =                    \
            r == MIN ? group_min_##sfx : r == MAX ? group_max_##sfx : group_sum_##sfx; \
        FPK_PARALLEL_FOR((size_t)threads, threads, part, {                      \
            size_t lo = nb * part / (size_t)threads, hi = nb * (part + 1) / (size_t)threads; \
            size_t full = MIN_SIZE(hi, n / BLOCK); /* full blocks end here */   \
            size_t q = group && full > lo ? (full - lo) / GROUP : 0;            \
            for (size_t k = 0; k < q; k++)                                      \
                group(x + (lo + k) * BLOCK, q * BLOCK, partial + lo + k, q);    \
            for (size_t b = lo + GROUP * q; b < hi; b++) {                      \
                const T *xb = x + b * BLOCK;                                    \
                size_t len = MIN_SIZE(BLOCK, n - b * BLOCK);                    \
                partial[b] = r == MIN ? block_min_##sfx(xb, len)                \
                           : r == MAX ? block_max_##sfx(xb, len)                \
                           : block_sum_##sfx(xb, len, 0.0);                     \
            }                                                                   \
        });                                                                     \
    }                                                                           \
                                                                                \
    /* Population or sample standard deviation of x[0..n). Every value is first shifted by \
       x[0] (so a constant input gives exactly 0); per block the shifted sum and the sum of \
       squared deviations from the block's own mean; blocks merged exactly (law of total   \
       variance: M2 = sum of block M2 + len * (block mean - mean)^2). */           \
    static int std_##sfx(const T *x, size_t n, int sample, int threads, T *result) \
    {                                                                           \
        double stack[2 * STACK_BLOCKS];                                         \
        size_t nb = (n + BLOCK - 1) / BLOCK;                                    \
        double *sums = buffer(2 * nb, stack, 2 * STACK_BLOCKS), *m2 = sums + nb; \
        if (!sums)                                                              \
            return FPK_ERR_NOMEM;                                               \
        double shift = x[0];                                                    \
        FPK_PARALLEL_FOR(nb, threads, b, {                                          \
            const T *xb = x + b * BLOCK;                                        \
            size_t len = MIN_SIZE(BLOCK, n - b * BLOCK);                        \
            block_spread_##sfx(xb, len, shift, &sums[b], &m2[b]);               \
        });                                                                     \
        double mean = pairwise(sums, nb) / (double)n;                           \
        for (size_t b = 0; b < nb; b++) {                                       \
            double len = (double)MIN_SIZE(BLOCK, n - b * BLOCK);                \
            double offset = sums[b] / len - mean;                               \
            m2[b] += len * offset * offset;                                     \
        }                                                                       \
        double m2_total = pairwise(m2, nb);                                     \
        release(sums, stack);                                                   \
        *result = (T)sqrt(m2_total / (double)(n - (sample ? 1 : 0)));           \
        return FPK_OK;                                                          \
    }                                                                           \
                                                                                \
    /* The reduction r of the contiguous x[0..n) (n >= 1) on `threads` threads. */ \
    static int whole_##sfx(enum reduction r, const T *x, size_t n, int threads, T *result) \
    {                                                                           \
        if (r == STD || r == STD_SAMPLE)                                        \
            return std_##sfx(x, n, r == STD_SAMPLE, threads, result);           \
        if (r == MEDIAN && n >= HISTOGRAM_MIN && n / (size_t)threads < UINT32_MAX) \
            return MEDIAN_LARGE_##sfx(x, n, threads, result);                   \
        if (r == MEDIAN) {                                                      \
            T *scratch = malloc(n * sizeof(T));                                 \
            if (!scratch)                                                       \
                return FPK_ERR_NOMEM;                                           \
            memcpy(scratch, x, n * sizeof(T));                                  \
            *result = median_inplace_##sfx(scratch, n);                         \
            free(scratch);                                                      \
            return FPK_OK;                                                      \
        }                                                                       \
        double stack[STACK_BLOCKS] = {0};                                       \
        size_t nb = (n + BLOCK - 1) / BLOCK;                                    \
        double *partial = buffer(nb, stack, STACK_BLOCKS);                      \
        if (!partial)                                                           \
            return FPK_ERR_NOMEM;                                               \
        blocks_##sfx(r, x, n, nb, threads, partial);                            \
        double value = partial[0];                                              \
        if (r == MIN || r == MAX) {                                             \
            for (size_t b = 1; b < nb; b++) {                                   \
                double v = partial[b];                                          \
                int better = r == MIN ? v < value : v > value;                  \
                value = (better || v != v) && value == value ? v : value;       \
            }                                                                   \
        } else {                                                                \
            value = pairwise(partial, nb);                                      \
            if (r == MEAN)                                                      \
                value /= (double)n;                                             \
        }                                                                       \
        release(partial, stack);                                                \
        *result = (T)value;                                                     \
        return FPK_OK;                                                          \
    }                                                                           \
                                                                                \
    /* acc[j] = sum over k < n of f(x[k * inner + j] - shift[j]) for j < w, with f(d) = d, \
       or d^2 when `squared`; rows summed ROWS at a time, then into acc. */     \
    static void column_sums_##sfx(const T *x, size_t n, size_t inner, size_t w, \
                                  const double *shift, int squared, double *acc) \
    {                                                                           \
        double part[COLS];                                                      \
        for (size_t j = 0; j < w; j++)                                          \
            acc[j] = 0;                                                         \
        for (size_t k0 = 0; k0 < n; k0 += ROWS) {                               \
            size_t k1 = MIN_SIZE(k0 + ROWS, n);                                 \
            for (size_t j = 0; j < w; j++)                                      \
                part[j] = 0;                                                    \
            for (size_t k = k0; k < k1; k++) {                                  \
                const T *row = x + k * inner;                                   \
                if (squared) {                                                  \
                    for (size_t j = 0; j < w; j++) {                            \
                        double d = row[j] - shift[j];                           \
                        part[j] += d * d;                                       \
                    }                                                           \
                } else {                                                        \
                    for (size_t j = 0; j < w; j++)                              \
                        part[j] += row[j] - shift[j];                           \
                }                                                               \
            }                                                                   \
            for (size_t j = 0; j < w; j++)                                      \
                acc[j] += part[j];                                              \
        }                                                                       \
    }                                                                           \
                                                                                \
    /* out[j] = the reduction r of column j of the (n, inner) slab x, for j < w (<= COLS), \
       on one thread. */                                                        \
    static int columns_##sfx(enum reduction r, const T *x, size_t n, size_t inner, size_t w, \
                             T *out)                                            \
    {                                                                           \
        double acc[COLS], mean[COLS], shift[COLS] = {0};                        \
        if (r == MIN || r == MAX) {                                             \
            for (size_t j = 0; j < w; j++)                                      \
                out[j] = x[j];                                                  \
            for (size_t k = 1; k < n; k++) {                                    \
                const T *row = x + k * inner;                                   \
                for (size_t j = 0; j < w; j++) {                                \
                    T v = row[j];                                               \
                    int better = r == MIN ? v < out[j] : v > out[j];            \
                    out[j] = (better || v != v) && out[j] == out[j] ? v : out[j]; \
                }                                                               \
            }                                                                   \
        } else if (r == MEDIAN) {                                               \
            T *scratch = malloc(n * sizeof(T));                                 \
            if (!scratch)                                                       \
                return FPK_ERR_NOMEM;                                           \
            for (size_t j = 0; j < w; j++) {                                    \
                for (size_t k = 0; k < n; k++)                                  \
                    scratch[k] = x[k * inner + j];                              \
                out[j] = median_inplace_##sfx(scratch, n);                      \
            }                                                                   \
            free(scratch);                                                      \
        } else {                                                                \
            int spread = r == STD || r == STD_SAMPLE;                           \
            for (size_t j = 0; j < w; j++) /* std: shift by the first row */   \
                shift[j] = spread ? x[j] : 0.0;                                 \
            column_sums_##sfx(x, n, inner, w, shift, 0, acc);                   \
            for (size_t j = 0; j < w; j++)                                      \
                mean[j] = shift[j] + acc[j] / (double)n;                        \
            if (!spread) {                                                      \
                for (size_t j = 0; j < w; j++)                                  \
                    out[j] = (T)(r == SUM ? acc[j] : mean[j]);                  \
                return FPK_OK;                                                  \
            }                                                                   \
            column_sums_##sfx(x, n, inner, w, mean, 1, acc);                    \
            double divisor = (double)(n - (r == STD_SAMPLE ? 1 : 0));           \
            for (size_t j = 0; j < w; j++)                                      \
                out[j] = (T)sqrt(acc[j] / divisor);                             \
        }                                                                       \
        return FPK_OK;                                                          \
    }                                                                           \
                                                                                \
    /* out[o * inner + i] = the reduction r of x[o, :, i] for the C-contiguous (outer, n, inner) \
       array x. Rows (inner = 1) are split over threads by row, columns by tiles of COLS. */ \
    static int axis_##sfx(enum reduction r, const T *x, size_t outer, size_t n, size_t inner, \
                          T *out)                                               \
    {                                                                           \
        size_t count = outer * inner, total;                                    \
        if ((inner && outer > SIZE_MAX / inner) || (n && count > SIZE_MAX / n)) \
            return FPK_ERR_OVERFLOW;                                            \
        total = count * n;                                                      \
        if (count == 0)                                                         \
            return FPK_OK;                                                      \
        if (!out)                                                               \
            return FPK_ERR_NULL;                                                \
        if (n == 0) {                                                           \
            if (r != SUM)                                                       \
                return FPK_ERR_EMPTY;                                           \
            for (size_t i = 0; i < count; i++)                                  \
                out[i] = 0;                                                     \
            return FPK_OK;                                                      \
        }                                                                       \
        if (!x)                                                                 \
            return FPK_ERR_NULL;                                                \
        if (r == STD_SAMPLE && n == 1)                                          \
            return FPK_ERR_VALUE;                                               \
        int threads = fpk_threads_for(total), status = FPK_OK;                  \
        if (inner == 1) {                                                       \
            if (outer == 1)                                                     \
                return whole_##sfx(r, x, n, threads, out);                      \
            FPK_PARALLEL_FOR(outer, threads, o,                                     \
                         set_status(&status, whole_##sfx(r, x + o * n, n, 1, out + o))); \
            return status;                                                      \
        }                                                                       \
        size_t tiles = (inner + COLS - 1) / COLS;                               \
        FPK_PARALLEL_FOR(outer * tiles, threads, item, {                            \
            size_t o = item / tiles, j0 = (item % tiles) * COLS;                \
            set_status(&status, columns_##sfx(r, x + o * n * inner + j0, n, inner, \
                                              MIN_SIZE(COLS, inner - j0), out + o * inner + j0)); \
        });                                                                     \
        return status;                                                          \
    }

DRIVERS(float, f32)
DRIVERS(double, f64)

/* ------------------------------------------------------------------------------------------ */
/* The public functions.                                                                      */

/* The reduction r of x[0..n) into *result. */
#define WHOLE(name, r, T, sfx)                                                  \
    int fpk_##name##_##sfx(const T *x, size_t n, T *result)                     \
    {                                                                           \
        if (!result || (n && !x))                                               \
            return FPK_ERR_NULL;                                                \
        if (n == 0) {                                                           \
            if (r != SUM)                                                       \
                return FPK_ERR_EMPTY;                                           \
            *result = 0;                                                        \
            return FPK_OK;                                                      \
        }                                                                       \
        return whole_##sfx(r, x, n, fpk_threads_for(n), result);                \
    }

/* The reduction r along the middle axis of the (outer, n, inner) array x. */
#define AXIS(name, r, T, sfx)                                                   \
    int fpk_##name##_axis_##sfx(const T *x, size_t outer, size_t n, size_t inner, T *out) \
    {                                                                           \
        return axis_##sfx(r, x, outer, n, inner, out);                          \
    }

WHOLE(sum, SUM, float, f32)
WHOLE(sum, SUM, double, f64)
WHOLE(mean, MEAN, float, f32)
WHOLE(mean, MEAN, double, f64)
WHOLE(min, MIN, float, f32)
WHOLE(min, MIN, double, f64)
WHOLE(max, MAX, float, f32)
WHOLE(max, MAX, double, f64)
WHOLE(median, MEDIAN, float, f32)
WHOLE(median, MEDIAN, double, f64)
AXIS(sum, SUM, float, f32)
AXIS(sum, SUM, double, f64)
AXIS(mean, MEAN, float, f32)
AXIS(mean, MEAN, double, f64)
AXIS(min, MIN, float, f32)
AXIS(min, MIN, double, f64)
AXIS(max, MAX, float, f32)
AXIS(max, MAX, double, f64)
AXIS(median, MEDIAN, float, f32)
AXIS(median, MEDIAN, double, f64)

/* Standard deviation of x[0..n), population (sample = 0) or sample (sample != 0). */
#define STD_PUBLIC(T, sfx)                                                      \
    int fpk_std_##sfx(const T *x, size_t n, int sample, T *result)              \
    {                                                                           \
        if (!result || (n && !x))                                               \
            return FPK_ERR_NULL;                                                \
        if (n == 0)                                                             \
            return FPK_ERR_EMPTY;                                               \
        if (sample && n == 1)                                                   \
            return FPK_ERR_VALUE;                                               \
        return std_##sfx(x, n, sample != 0, fpk_threads_for(n), result);        \
    }                                                                           \
                                                                                \
    int fpk_std_axis_##sfx(const T *x, size_t outer, size_t n, size_t inner, int sample, \
                           T *out)                                              \
    {                                                                           \
        return axis_##sfx(sample ? STD_SAMPLE : STD, x, outer, n, inner, out);  \
    }

STD_PUBLIC(float, f32)
STD_PUBLIC(double, f64)

/* *result = sum of a[i] * b[i], blocked like fpk_sum (float32 products are exact in double). */
#define DOT(T, sfx)                                                             \
    int fpk_dot_##sfx(const T *a, const T *b, size_t n, T *result)              \
    {                                                                           \
        if (!result || (n && (!a || !b)))                                       \
            return FPK_ERR_NULL;                                                \
        double stack[STACK_BLOCKS];                                             \
        size_t nb = (n + BLOCK - 1) / BLOCK;                                    \
        double *partial = buffer(nb, stack, STACK_BLOCKS);                      \
        if (!partial)                                                           \
            return FPK_ERR_NOMEM;                                               \
        FPK_PARALLEL_FOR(nb, fpk_threads_for(n), k, {                               \
            size_t len = MIN_SIZE(BLOCK, n - k * BLOCK);                        \
            partial[k] = block_dot_##sfx(a + k * BLOCK, b + k * BLOCK, len);    \
        });                                                                     \
        *result = (T)pairwise(partial, nb);                                     \
        release(partial, stack);                                                \
        return FPK_OK;                                                          \
    }

DOT(float, f32)
DOT(double, f64)
