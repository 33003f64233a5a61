/* random.c - counter-based random numbers (Philox4x32-10) for reproducible initialisers.
 *
 * A counter-based generator is a pure function: block b of the stream of `seed` is
 * philox(b, seed). No state is carried from one number to the next, so any thread can make any
 * element, and a fill gives the same bits on 1 thread or 64, today or next year.
 * The layout of the stream (which words make which element) is written in fpkernels.h.
 */
#include <math.h>
#include <string.h>

#include "fpkernels.h"

/* ---- Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3") ---- */

#define PHILOX_M0 0xD2511F53u   /* multipliers of the two S-boxes */
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u   /* key schedule: golden ratio and sqrt(3) - 1, in 32 bits */
#define PHILOX_W1 0xBB67AE85u

/* Ten rounds of multiply, swap and xor of the counter c with the key; the key is bumped
   between rounds. c becomes the block's four random words. */
static inline void philox_rounds(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
        uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (uint32_t)p1;
        c[3] = (uint32_t)p0;
        c[0] = n0;
        c[2] = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
}

/* The words of block number `block` (the counter's two high words are 0 in fpkernels' streams). */
static inline void philox_block(uint64_t block, uint32_t k0, uint32_t k1, uint32_t w[4])
{
    w[0] = (uint32_t)block;
    w[1] = (uint32_t)(block >> 32);
    w[2] = 0;
    w[3] = 0;
    philox_rounds(w, k0, k1);
}

/* The general Philox4x32-10 block, with all four counter words (for tests and C users). */
void fpk_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    for (int i = 0; i < 4; i++)
        out[i] = counter[i];
    philox_rounds(out, key[0], key[1]);
}

/* ---- words to uniform numbers ---- */

/* u in [0, 1) from the top 24 bits of a word: every float32 multiple of 2^-24. */
static inline float unit_f32(uint32_t w) { return (float)(w >> 8) * 0x1p-24f; }

/* u in [0, 1) from the top 53 bits of two words: every float64 multiple of 2^-53. */
static inline double unit_f64(uint32_t hi, uint32_t lo)
{
    return (double)(((uint64_t)hi << 21) | (lo >> 11)) * 0x1p-53;
}

/* ---- float32 log, sin and cos for Box-Muller, written so loops over them vectorise ----
   (Cephes' single-precision polynomials: about 1 ulp on the ranges used here.) */

static inline uint32_t bits_of(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }
static inline float float_of(uint32_t b) { float x; memcpy(&x, &b, 4); return x; }

/* Natural log of a positive normal float x. */
static inline float log_f32(float x)
{
    uint32_t b = bits_of(x);
    float e = (float)((int)((b >> 23) & 0xff) - 126);          /* x = m * 2^e, m in [0.5, 1) */
    float m = float_of((b & 0x007fffffu) | 0x3f000000u);
    int small = m < 0.70710678f;                                  /* keep m near 1: [sqrt(.5), sqrt(2)) */
    e = small ? e - 1.0f : e;
    m = small ? m + m - 1.0f : m - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * e;                                   /* ln 2 = 0.693359375 - 2.12e-4 */
    y += -0.5f * z;
    return m + y + 0.693359375f * e;
}

/* cos(2 pi t) and sin(2 pi t) for t in [0, 1): reduce to a quarter turn, then polynomials. */
static inline void cos_sin_turn_f32(float t, float *c, float *s)
{
    float y = t * 4.0f;                                 /* quarter turns, exact */
    int q = (int)(y + 0.5f);                            /* nearest quarter: 0..4 */
    float a = (y - (float)q) * 1.57079632679489662f;    /* angle in [-pi/4, pi/4] */
    float z = a * a;
    float sa = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * a + a;
    float ca = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z
                + 4.166664568298827e-2f) * z * z - 0.5f * z + 1.0f;
    q &= 3;                                             /* rotate by q quarter turns */
    float cq = q == 0 ? ca : q == 1 ? -sa : q == 2 ? -ca : sa;
    float sq = q == 0 ? sa : q == 1 ? ca : q == 2 ? -sa : -ca;
    *c = cq;
    *s = sq;
}

/* Four standard normals from block b: two Box-Muller pairs, (w0, w1) and (w2, w3). */
static inline void normal4_f32(uint64_t block, uint32_t k0, uint32_t k1, float z[4])
{
    uint32_t w[4];
    philox_block(block, k0, k1, w);
    for (int pair = 0; pair < 2; pair++) {
        float u1 = (float)w[2 * pair] * 0x1p-32f + 0x1p-33f;      /* in (0, 1]: log(u1) is finite */
        float r = sqrtf(-2.0f * log_f32(u1));                       /* radius */
        float c, s;
        cos_sin_turn_f32(unit_f32(w[2 * pair + 1]), &c, &s);        /* angle 2 pi u2 */
        z[2 * pair] = r * c;
        z[2 * pair + 1] = r * s;
    }
}

/* ---- float64 log, sin and cos for Box-Muller (series that vectorise; a few ulp) ---- */

static inline uint64_t bits_of64(double x) { uint64_t b; memcpy(&b, &x, 8); return b; }
static inline double double_of(uint64_t b) { double x; memcpy(&x, &b, 8); return x; }

/* Natural log of a positive normal double: log m = 2 atanh s, s = (m - 1)/(m + 1), |s| < 0.172. */
static inline double log_f64(double x)
{
    uint64_t b = bits_of64(x);
    double e = (double)((int)((b >> 52) & 0x7ff) - 1022);       /* x = m * 2^e, m in [0.5, 1) */
    double m = double_of((b & 0x000fffffffffffffull) | 0x3fe0000000000000ull);
    int small = m < 0.70710678118654752;
    e = small ? e - 1.0 : e;
    m = small ? m + m : m;                                       /* m in [sqrt(.5), sqrt(2)) */
    double s = (m - 1.0) / (m + 1.0), z = s * s;
    double series = 1.0 / 21;                                    /* 1 + z/3 + z^2/5 + ... */
    series = series * z + 1.0 / 19;
    series = series * z + 1.0 / 17;
    series = series * z + 1.0 / 15;
    series = series * z + 1.0 / 13;
    series = series * z + 1.0 / 11;
    series = series * z + 1.0 / 9;
    series = series * z + 1.0 / 7;
    series = series * z + 1.0 / 5;
    series = series * z + 1.0 / 3;
    double log_m = 2.0 * s + 2.0 * s * z * series;
    return e * 6.93147180369123816490e-01 + (log_m + e * 1.90821492927058770002e-10);  /* e ln 2 */
}

/* cos(2 pi t) and sin(2 pi t) for t in [0, 1): a quarter-turn reduction, then Taylor series
   on [-pi/4, pi/4] (the first omitted terms are below 1e-19). */
static inline void cos_sin_turn_f64(double t, double *c, double *s)
{
    double y = t * 4.0;
    int q = (int)(y + 0.5);
    double a = (y - (double)q) * 1.57079632679489661923, z = a * a;
    double sa = 1.0 / 355687428096000.0;
    sa = sa * z - 1.0 / 1307674368000.0;
    sa = sa * z + 1.0 / 6227020800.0;
    sa = sa * z - 1.0 / 39916800.0;
    sa = sa * z + 1.0 / 362880.0;
    sa = sa * z - 1.0 / 5040.0;
    sa = sa * z + 1.0 / 120.0;
    sa = sa * z - 1.0 / 6.0;
    sa = a + a * z * sa;
    double ca = 1.0 / 20922789888000.0;
    ca = ca * z - 1.0 / 87178291200.0;
    ca = ca * z + 1.0 / 479001600.0;
    ca = ca * z - 1.0 / 3628800.0;
    ca = ca * z + 1.0 / 40320.0;
    ca = ca * z - 1.0 / 720.0;
    ca = ca * z + 1.0 / 24.0;
    ca = ca * z - 0.5;
    ca = 1.0 + z * ca;
    q &= 3;
    *c = q == 0 ? ca : q == 1 ? -sa : q == 2 ? -ca : sa;
    *s = q == 0 ? sa : q == 1 ? ca : q == 2 ? -sa : -ca;
}

/* Two standard normals from block b: one Box-Muller pair of 53-bit uniforms. */
static inline void normal2_f64(uint64_t block, uint32_t k0, uint32_t k1, double z[2])
{
    uint32_t w[4];
    philox_block(block, k0, k1, w);
    double u1 = unit_f64(w[0], w[1]) + 0x1p-53;        /* in (0, 1]: log(u1) is finite */
    double r = sqrt(-2.0 * log_f64(u1));
    double c, s;
    cos_sin_turn_f64(unit_f64(w[2], w[3]), &c, &s);
    z[0] = r * c;
    z[1] = r * s;
}

/* ---- fills ---- */

/* The float32 fills vectorise across Philox blocks; with AVX-512, ask GCC for 512-bit vectors
   (it prefers 256-bit ones by default), which doubles their speed. */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE_VECTORS __attribute__((target("prefer-vector-width=512")))
#else
#define WIDE_VECTORS
#endif

/* low + (high - low) * u, kept inside [low, high] whatever the rounding. */
static inline float scale_f32(float u, float low, float high)
{
    float x = (1.0f - u) * low + u * high;              /* 1 - u is exact; no overflow */
    return x < low ? low : x > high ? high : x;
}

static inline double scale_f64(double u, double low, double high)
{
    double x = (1.0 - u) * low + u * high;              /* no overflow even for huge ranges */
    return x < low ? low : x > high ? high : x;
}

/* Elements [lo, hi) of a float32 uniform fill (global index offset + i). */
WIDE_VECTORS static void uniform_range_f32(float *out, size_t lo, size_t hi, uint64_t offset, uint32_t k0,
                              uint32_t k1, float low, float high)
{
    size_t i = lo;
    uint32_t w[4];
    for (; i < hi && ((offset + i) & 3); i++) {         /* head: up to a block boundary */
        philox_block((offset + i) >> 2, k0, k1, w);
        out[i] = scale_f32(unit_f32(w[(offset + i) & 3]), low, high);
    }
    size_t blocks = (hi - i) / 4;
    uint64_t first = (offset + i) >> 2;
    float *o = out + i;
    for (size_t b = 0; b < blocks; b++) {               /* body: whole blocks, 4 floats each */
        uint32_t v[4];
        philox_block(first + b, k0, k1, v);
        for (int k = 0; k < 4; k++)
            o[4 * b + k] = scale_f32(unit_f32(v[k]), low, high);
    }
    for (i += 4 * blocks; i < hi; i++) {                /* tail */
        philox_block((offset + i) >> 2, k0, k1, w);
        out[i] = scale_f32(unit_f32(w[(offset + i) & 3]), low, high);
    }
}

/* Elements [lo, hi) of a float64 uniform fill: two doubles per block. */
WIDE_VECTORS static void uniform_range_f64(double *out, size_t lo, size_t hi, uint64_t offset,
                                           uint32_t k0, uint32_t k1, double low, double high)
{
    size_t i = lo;
    uint32_t w[4];
    if (i < hi && ((offset + i) & 1)) {                 /* head: the second half of a block */
        philox_block((offset + i) >> 1, k0, k1, w);
        out[i] = scale_f64(unit_f64(w[2], w[3]), low, high);
        i++;
    }
    size_t blocks = (hi - i) / 2;
    uint64_t first = (offset + i) >> 1;
    double *o = out + i;
    for (size_t b = 0; b < blocks; b++) {               /* body: whole blocks */
        uint32_t v[4];
        philox_block(first + b, k0, k1, v);
        o[2 * b] = scale_f64(unit_f64(v[0], v[1]), low, high);
        o[2 * b + 1] = scale_f64(unit_f64(v[2], v[3]), low, high);
    }
    i += 2 * blocks;
    if (i < hi) {                                       /* tail: the first half of a block */
        philox_block((offset + i) >> 1, k0, k1, w);
        out[i] = scale_f64(unit_f64(w[0], w[1]), low, high);
    }
}

/* Elements [lo, hi) of a float32 normal fill. */
WIDE_VECTORS static void normal_range_f32(float *out, size_t lo, size_t hi, uint64_t offset, uint32_t k0,
                             uint32_t k1, float mean, float std)
{
    size_t i = lo;
    float z[4];
    for (; i < hi && ((offset + i) & 3); i++) {
        normal4_f32((offset + i) >> 2, k0, k1, z);
        out[i] = mean + std * z[(offset + i) & 3];
    }
    size_t blocks = (hi - i) / 4;
    uint64_t first = (offset + i) >> 2;
    float *o = out + i;
    for (size_t b = 0; b < blocks; b++) {
        float y[4];
        normal4_f32(first + b, k0, k1, y);
        for (int k = 0; k < 4; k++)
            o[4 * b + k] = mean + std * y[k];
    }
    for (i += 4 * blocks; i < hi; i++) {
        normal4_f32((offset + i) >> 2, k0, k1, z);
        out[i] = mean + std * z[(offset + i) & 3];
    }
}

/* Elements [lo, hi) of a float64 normal fill: two doubles per block. */
WIDE_VECTORS static void normal_range_f64(double *out, size_t lo, size_t hi, uint64_t offset,
                                          uint32_t k0, uint32_t k1, double mean, double std)
{
    size_t i = lo;
    double z[2];
    if (i < hi && ((offset + i) & 1)) {
        normal2_f64((offset + i) >> 1, k0, k1, z);
        out[i] = mean + std * z[1];
        i++;
    }
    size_t blocks = (hi - i) / 2;
    uint64_t first = (offset + i) >> 1;
    double *o = out + i;
    for (size_t b = 0; b < blocks; b++) {
        double y[2];
        normal2_f64(first + b, k0, k1, y);
        o[2 * b] = mean + std * y[0];
        o[2 * b + 1] = mean + std * y[1];
    }
    i += 2 * blocks;
    if (i < hi) {
        normal2_f64((offset + i) >> 1, k0, k1, z);
        out[i] = mean + std * z[0];
    }
}

/* ---- public entry points ---- */

/* A fill runs its element ranges on fpk_threads_for(n) threads; each element's value depends
   only on (seed, offset + i), so the split does not matter. */
#define DEFINE_FILL(NAME, T, SUF, A, B, CHECK)                                              \
    int fpk_random_##NAME##_##SUF(size_t n, T *out, uint64_t seed, uint64_t offset, T A, T B) \
    {                                                                                       \
        if (n == 0)                                                                         \
            return FPK_OK;                                                                  \
        if (!out)                                                                           \
            return FPK_ERR_NULL;                                                            \
        if (!(CHECK))                                                                       \
            return FPK_ERR_VALUE;                                                           \
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);                          \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            NAME##_range_##SUF(out, lo, hi, offset, k0, k1, A, B));                        \
        return FPK_OK;                                                                      \
    }

/* Uniform on [low, high]: low <= high, both finite. */
DEFINE_FILL(uniform, float, f32, low, high, isfinite(low) && isfinite(high) && low <= high)
DEFINE_FILL(uniform, double, f64, low, high, isfinite(low) && isfinite(high) && low <= high)
/* Normal with mean and standard deviation std >= 0, both finite. */
DEFINE_FILL(normal, float, f32, mean, std, isfinite(mean) && isfinite(std) && std >= 0)
DEFINE_FILL(normal, double, f64, mean, std, isfinite(mean) && isfinite(std) && std >= 0)
