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

/* u in [0, 1) from the top 53 bits of two words: every float64 multiple of 2^-53. Taken as a
   sum of two exact parts (so exact however it is compiled), which vectorises on AVX2: there is
   no 64-bit integer to double conversion there. */
static inline double unit_f64(uint32_t hi, uint32_t lo)
{
    return (double)hi * 0x1p-32 + (double)(lo >> 11) * 0x1p-53;
}

/* ---- float32 log, sin and cos for Box-Muller, written so loops over them vectorise ----
   (Cephes' single-precision polynomials: about 1 ulp on the ranges used here.) No arithmetic
   happens under a condition, only selections: GCC treats a float operation in one branch as
   one that may trap, and only AVX-512 can mask it, so for AVX2 such loops stayed scalar. */

static inline uint32_t bits_of(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }
static inline float float_of(uint32_t b) { float x; memcpy(&x, &b, 4); return x; }

/* Natural log of a positive normal float x. */
static inline float log_f32(float x)
{
    uint32_t b = bits_of(x);
    float m = float_of((b & 0x007fffffu) | 0x3f000000u);        /* x = m * 2^e, m in [0.5, 1) */
    int small = m < 0.70710678f;                                  /* keep m near 1: [sqrt(.5), sqrt(2)) */
    float e = (float)((int)((b >> 23) & 0xff) - 126 - small);
    m = float_of(bits_of(m) + ((uint32_t)small << 23)) - 1.0f;    /* 2m - 1 (2m: exponent + 1) or m - 1 */
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
    float c1 = q & 1 ? -sa : ca, s1 = q & 1 ? ca : sa;  /* rotate by q quarter turns: one if */
    *c = q & 2 ? -c1 : c1;                              /* q is odd, then two if q is 2 or 3 */
    *s = q & 2 ? -s1 : s1;
}

/* Four standard normals from a block's words: two Box-Muller pairs, (w0, w1) and (w2, w3). */
static inline void normal4_f32(const uint32_t w[4], float z[4])
{
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
    uint64_t b = bits_of64(x);                                   /* x = m * 2^e, m in [0.5, 1) */
    double m = double_of((b & 0x000fffffffffffffull) | 0x3fe0000000000000ull);
    int small = m < 0.70710678118654752;
    double e = (double)((int)((b >> 52) & 0x7ff) - 1022 - small);
    m = double_of(bits_of64(m) + ((uint64_t)small << 52));      /* 2m if small: near 1 */
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
    double c1 = q & 1 ? -sa : ca, s1 = q & 1 ? ca : sa; /* rotate as in cos_sin_turn_f32 */
    *c = q & 2 ? -c1 : c1;
    *s = q & 2 ? -s1 : s1;
}

/* Two standard normals from a block's words: one Box-Muller pair of 53-bit uniforms. */
static inline void normal2_f64(const uint32_t w[4], double z[2])
{
    double u1 = unit_f64(w[0], w[1]) + 0x1p-53;  /* in (0, 1]: log(u1) is finite */
    double r = sqrt(-2.0 * log_f64(u1));
    double c, s;
    cos_sin_turn_f64(unit_f64(w[2], w[3]), &c, &s);
    z[0] = r * c;
    z[1] = r * s;
}

/* ---- the words of many blocks ---- */

/* The float32 fills vectorise across Philox blocks; with AVX-512, ask GCC for 512-bit vectors
   (it prefers 256-bit ones by default), which doubles their speed. */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE_VECTORS __attribute__((target("prefer-vector-width=512")))
#else
#define WIDE_VECTORS
#endif

/* Blocks made at once by the fills: their words fill 1 KB, which stays in L1. */
#define RUN 64

/* The statements for each run of the `blocks` blocks from `first`: b the run's first block
   (counted from first), count its length, v[4 j + k] word k of its block j. */
#define FOR_RUNS(first, blocks, k0, k1, b, count, v, ...)                                   \
    for (size_t b = 0; b < (blocks); b += RUN) {                                            \
        uint32_t v[4 * RUN];                                                                \
        size_t count = (blocks) - b < RUN ? (blocks) - b : RUN;                             \
        philox_words((first) + b, count, k0, k1, v);                                        \
        __VA_ARGS__;                                                                        \
    }

#if defined(__AVX2__) && !defined(__AVX512F__)
#include <immintrin.h>
/* GCC vectorises Philox's 32 x 32 -> 64-bit products badly for AVX2 (shuffles around every
   product; 44 -> 14 ms for 16M float32 uniforms on one Zen 3 core): written here with
   intrinsics, 8 blocks per vector, word k of block j in lane j of c[k]. The same integer
   operations, so the same words. (AVX-512 keeps GCC's 512-bit vectors of the loop below.) */

/* The high and low 32 bits of m * x in each lane (m: the multiplier in every 64-bit lane). */
static inline void mul_hi_lo(__m256i x, __m256i m, __m256i *hi, __m256i *lo)
{
    __m256i even = _mm256_mul_epu32(x, m);                        /* lanes 0, 2, 4, 6 */
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);  /* lanes 1, 3, 5, 7 */
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* One round on the counters c of 8 blocks (philox_rounds, 8 lanes wide). */
static inline void philox_round_8(__m256i c[4], __m256i key0, __m256i key1)
{
    __m256i hi0, lo0, hi1, lo1;
    mul_hi_lo(c[0], _mm256_set1_epi64x(PHILOX_M0), &hi0, &lo0);
    mul_hi_lo(c[2], _mm256_set1_epi64x(PHILOX_M1), &hi1, &lo1);
    c[0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[1]), key0);
    c[2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[3]), key1);
    c[1] = lo1;
    c[3] = lo0;
}

/* w[0..32) = the words of blocks first .. first + 7 from their counters c: lane j of c[k] is
   word k of block first + j (a 4 x 8 transpose). */
static inline void store_words_8(uint32_t *w, const __m256i c[4])
{
    __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]), t1 = _mm256_unpackhi_epi32(c[0], c[1]);
    __m256i t2 = _mm256_unpacklo_epi32(c[2], c[3]), t3 = _mm256_unpackhi_epi32(c[2], c[3]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i *out = (__m256i *)w;
    _mm256_storeu_si256(out, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
}

#define VECS 4 /* vectors of 8 blocks per step: one alone would wait on each round's multiplies */

/* w[4 b + k] = word k of block first + b, for b < count. */
static void philox_words(uint64_t first, size_t count, uint32_t k0, uint32_t k1, uint32_t *w)
{
    __m256i key[10][2];                                 /* the key of every round */
    for (int round = 0; round < 10; round++) {
        key[round][0] = _mm256_set1_epi32((int)(k0 + (uint32_t)round * PHILOX_W0));
        key[round][1] = _mm256_set1_epi32((int)(k1 + (uint32_t)round * PHILOX_W1));
    }
    size_t b = 0;
    for (; b + 8 * VECS <= count; b += 8 * VECS) {
        uint32_t low[8 * VECS], high[8 * VECS];         /* the counters: block numbers */
        for (int j = 0; j < 8 * VECS; j++) {
            low[j] = (uint32_t)(first + b + (uint64_t)j);
            high[j] = (uint32_t)((first + b + (uint64_t)j) >> 32);
        }
        __m256i c[VECS][4];
        for (int g = 0; g < VECS; g++) {
            c[g][0] = _mm256_loadu_si256((const __m256i *)(low + 8 * g));
            c[g][1] = _mm256_loadu_si256((const __m256i *)(high + 8 * g));
            c[g][2] = c[g][3] = _mm256_setzero_si256();
        }
        for (int round = 0; round < 10; round++)
            for (int g = 0; g < VECS; g++)
                philox_round_8(c[g], key[round][0], key[round][1]);
        for (int g = 0; g < VECS; g++)
            store_words_8(w + 4 * (b + 8 * g), c[g]);
    }
    for (; b < count; b++)
        philox_block(first + b, k0, k1, w + 4 * b);
}
#else
/* w[4 b + k] = word k of block first + b, for b < count. */
WIDE_VECTORS static void philox_words(uint64_t first, size_t count, uint32_t k0, uint32_t k1,
                                     uint32_t *w)
{
    for (size_t b = 0; b < count; b++)
        philox_block(first + b, k0, k1, w + 4 * b);
}
#endif

/* ---- fills ---- */

/* u high + (1 - u) low, with the fma written out where the CPU has one: left to the compiler,
   it may fuse one product in the vector body and the other in the scalar head, and a fill at
   an odd offset would then differ from the same stretch of a longer fill. (Without one, fmaf
   would be a libm call per element: 2.6x slower; nothing is fused there anyway.) */
#if defined(FP_FAST_FMAF) || defined(__FP_FAST_FMAF)
#define MIX_F32(u, low, high) fmaf(u, high, (1.0f - (u)) * (low))
#else
#define MIX_F32(u, low, high) ((u) * (high) + (1.0f - (u)) * (low))
#endif
#if defined(FP_FAST_FMA) || defined(__FP_FAST_FMA)
#define MIX_F64(u, low, high) fma(u, high, (1.0 - (u)) * (low))
#else
#define MIX_F64(u, low, high) ((u) * (high) + (1.0 - (u)) * (low))
#endif

/* low + (high - low) u as (1 - u) low + u high (1 - u is exact; no overflow even for huge
   ranges), kept inside [low, high] whatever the rounding. */
static inline float scale_f32(float u, float low, float high)
{
    float x = MIX_F32(u, low, high);
    return x < low ? low : x > high ? high : x;
}

static inline double scale_f64(double u, double low, double high)
{
    double x = MIX_F64(u, low, high);
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
    FOR_RUNS(first, blocks, k0, k1, b, count, v,        /* body: whole blocks, 4 floats each */
        for (size_t j = 0; j < 4 * count; j++)
            o[4 * b + j] = scale_f32(unit_f32(v[j]), low, high))
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
    FOR_RUNS(first, blocks, k0, k1, b, count, v,        /* body: whole blocks, 2 doubles each */
        for (size_t j = 0; j < 2 * count; j++)
            o[2 * b + j] = scale_f64(unit_f64(v[2 * j], v[2 * j + 1]), low, high))
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
    uint32_t w[4];
    float z[4];
    for (; i < hi && ((offset + i) & 3); i++) {
        philox_block((offset + i) >> 2, k0, k1, w);
        normal4_f32(w, z);
        out[i] = mean + std * z[(offset + i) & 3];
    }
    size_t blocks = (hi - i) / 4;
    uint64_t first = (offset + i) >> 2;
    float *o = out + i;
    FOR_RUNS(first, blocks, k0, k1, b, count, v,
        for (size_t j = 0; j < count; j++) {
            float y[4];
            normal4_f32(v + 4 * j, y);
            for (int k = 0; k < 4; k++)
                o[4 * (b + j) + k] = mean + std * y[k];
        })
    for (i += 4 * blocks; i < hi; i++) {
        philox_block((offset + i) >> 2, k0, k1, w);
        normal4_f32(w, z);
        out[i] = mean + std * z[(offset + i) & 3];
    }
}

/* Elements [lo, hi) of a float64 normal fill: two doubles per block. */
WIDE_VECTORS static void normal_range_f64(double *out, size_t lo, size_t hi, uint64_t offset,
                                          uint32_t k0, uint32_t k1, double mean, double std)
{
    size_t i = lo;
    uint32_t w[4];
    double z[2];
    if (i < hi && ((offset + i) & 1)) {
        philox_block((offset + i) >> 1, k0, k1, w);
        normal2_f64(w, z);
        out[i] = mean + std * z[1];
        i++;
    }
    size_t blocks = (hi - i) / 2;
    uint64_t first = (offset + i) >> 1;
    double *o = out + i;
    FOR_RUNS(first, blocks, k0, k1, b, count, v,
        for (size_t j = 0; j < count; j++) {
            double y[2];
            normal2_f64(v + 4 * j, y);
            o[2 * (b + j)] = mean + std * y[0];
            o[2 * (b + j) + 1] = mean + std * y[1];
        })
    i += 2 * blocks;
    if (i < hi) {
        philox_block((offset + i) >> 1, k0, k1, w);
        normal2_f64(w, z);
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
