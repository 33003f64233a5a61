/* fpk_simd.h - private to fpkernels' C files: one vocabulary for the vector kernels, two
 * instruction sets under it.
 *
 * The float32 kernels of activations.c and losses.c (and the vector helpers of fpk_vmath.h and
 * fpk_stream.h) are written once, with the operations below, and compile to
 *   AVX-512:     16 float lanes, masks in mask registers, vscalefps, vpermps over 16 entries;
 *   AVX2 + FMA:   8 float lanes, masks as all-ones / all-zero lanes, and the few AVX-512
 *                 instructions AVX2 lacks built from two or three of its own.
 * FPK_SIMD is 1 when one of them is available (else the kernels keep their plain-C loops).
 *
 * Types: vfloat (FPK_LANES floats), vdouble (half as many doubles: the low or high half of a
 * vfloat, widened), vint (FPK_LANES int32), vmask / vmask_d (lanes of a vfloat / vdouble).
 * Names: OP_v works on vfloat, OP_d on vdouble; fma_v(a, b, c) = a b + c, fms_v = a b - c,
 * fnma_v = c - a b, each with one rounding; blend_v(m, a, b) = b on the lanes of m, else a
 * (the order of AVX-512's mask_blend).
 */
#ifndef FPK_SIMD_H
#define FPK_SIMD_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX512F__)
#define FPK_SIMD 1
#define FPK_LANES 16
#elif defined(__AVX2__) && defined(__FMA__)
#define FPK_SIMD 1
#define FPK_LANES 8
#else
#define FPK_SIMD 0
#endif

#if FPK_SIMD
#include <immintrin.h>
#endif

/* A vector formula (sigmoid_v, exp_scaled_v, ...): inlined into its kernel's loop whatever its
   size. GCC stops inlining long ones into a function that holds them twice (a loop of whole
   vectors and one for the short steps), and a call per vector spills every register. */
#if defined(__GNUC__)
#define FPK_VECTOR static inline __attribute__((always_inline))
#define FPK_NOINLINE __attribute__((noinline))  /* a function GCC is not to inline */
#else
#define FPK_VECTOR static inline
#define FPK_NOINLINE
#endif

#if defined(__AVX512F__)
/* ---- AVX-512: each operation is one instruction -------------------------------------------- */

typedef __m512 vfloat;
typedef __m512d vdouble;
typedef __m512i vint;
typedef __mmask16 vmask;
typedef __mmask8 vmask_d;

static inline vfloat splat(float c) { return _mm512_set1_ps(c); }
static inline vfloat zero_v(void) { return _mm512_setzero_ps(); }
static inline vfloat add_v(vfloat a, vfloat b) { return _mm512_add_ps(a, b); }
static inline vfloat sub_v(vfloat a, vfloat b) { return _mm512_sub_ps(a, b); }
static inline vfloat mul_v(vfloat a, vfloat b) { return _mm512_mul_ps(a, b); }
static inline vfloat div_v(vfloat a, vfloat b) { return _mm512_div_ps(a, b); }
static inline vfloat fma_v(vfloat a, vfloat b, vfloat c) { return _mm512_fmadd_ps(a, b, c); }
static inline vfloat fms_v(vfloat a, vfloat b, vfloat c) { return _mm512_fmsub_ps(a, b, c); }
static inline vfloat fnma_v(vfloat a, vfloat b, vfloat c) { return _mm512_fnmadd_ps(a, b, c); }
/* min/max return b when either is NaN (so max_v(splat(c), x) keeps a NaN x). */
static inline vfloat min_v(vfloat a, vfloat b) { return _mm512_min_ps(a, b); }
static inline vfloat max_v(vfloat a, vfloat b) { return _mm512_max_ps(a, b); }
static inline vfloat abs_v(vfloat x) { return _mm512_abs_ps(x); }
/* x 2^k for integral k, rounded once (subnormal results included). */
static inline vfloat scalef_v(vfloat x, vfloat k) { return _mm512_scalef_ps(x, k); }
/* The same for |x| < 2^8 and k <= 54 (exponentials and their products): cheaper on AVX2. */
static inline vfloat scalef_small_v(vfloat x, vfloat k) { return _mm512_scalef_ps(x, k); }
/* The same where x and x 2^k are normal: cheaper still on AVX2. */
static inline vfloat scalef_normal_v(vfloat x, vfloat k) { return _mm512_scalef_ps(x, k); }
static inline vint bits_v(vfloat x) { return _mm512_castps_si512(x); }
static inline vfloat from_bits_v(vint i) { return _mm512_castsi512_ps(i); }
static inline vint or_i(vint a, vint b) { return _mm512_or_si512(a, b); }
static inline vint and_i(vint a, vint b) { return _mm512_and_si512(a, b); }
static inline vint splat_i(int32_t c) { return _mm512_set1_epi32(c); }
static inline vint shift_right_i(vint a, int bits) { return _mm512_srli_epi32(a, bits); }
static inline vint shift_right_signed_i(vint a, int bits) { return _mm512_srai_epi32(a, bits); }
static inline vint shift_left_i(vint a, int bits) { return _mm512_slli_epi32(a, bits); }
static inline vint sub_i(vint a, vint b) { return _mm512_sub_epi32(a, b); }
static inline vfloat float_of_i(vint a) { return _mm512_cvtepi32_ps(a); }

/* Masks: the lanes where `a predicate b` holds (predicate: _CMP_*). */
static inline vmask cmp_v(vfloat a, vfloat b, int predicate) { return _mm512_cmp_ps_mask(a, b, predicate); }
static inline vmask or_m(vmask a, vmask b) { return a | b; }
static inline vmask and_m(vmask a, vmask b) { return a & b; }
static inline vmask andnot_m(vmask a, vmask b) { return (vmask)(~a & b); }   /* b and not a */
static inline int any_m(vmask m) { return m != 0; }
static inline int all_m(vmask m) { return m == 0xFFFF; }                 /* every lane */
static inline vfloat blend_v(vmask m, vfloat a, vfloat b) { return _mm512_mask_blend_ps(m, a, b); }
static inline vfloat keep_v(vmask m, vfloat x) { return _mm512_maskz_mov_ps(m, x); }   /* else 0 */
/* op on the lanes of m, src elsewhere */
static inline vfloat mask_sub_v(vfloat src, vmask m, vfloat a, vfloat b) { return _mm512_mask_sub_ps(src, m, a, b); }
static inline vfloat mask_mul_v(vfloat src, vmask m, vfloat a, vfloat b) { return _mm512_mask_mul_ps(src, m, a, b); }
static inline vfloat mask_fma_v(vfloat a, vmask m, vfloat b, vfloat c) { return _mm512_mask_fmadd_ps(a, m, b, c); }
static inline vfloat mask_scalef_small_v(vfloat src, vmask m, vfloat x, vfloat k) { return _mm512_mask_scalef_ps(src, m, x, k); }
static inline vmask mask_cmp_v(vmask m, vfloat a, vfloat b, int predicate) { return _mm512_mask_cmp_ps_mask(m, a, b, predicate); }

/* Lanes picked by index: x[index & 15] (vpermps), and from a and b together, a's lanes 0-15
   and b's 16-31 (vpermt2ps). */
static inline vfloat pick_v(vfloat x, vint index) { return _mm512_permutexvar_ps(index, x); }
static inline vfloat pick2_v(vfloat a, vint index, vfloat b) { return _mm512_permutex2var_ps(a, index, b); }
static inline vint load_i(const int32_t *p) { return _mm512_loadu_si512(p); }

/* table[index & 15] lane by lane (table 64-byte aligned). */
static inline vfloat lookup16_v(const float *table, vint index)
{
    return pick_v(_mm512_load_ps(table), index);
}

/* table[index & 31] lane by lane (table 64-byte aligned): one vpermt2ps over two registers. */
static inline vfloat lookup32_v(const float *table, vint index)
{
    return pick2_v(_mm512_load_ps(table), index, _mm512_load_ps(table + 16));
}

/* table[index & 7] lane by lane (table 32-byte aligned). */
static inline vfloat lookup8_v(const float *table, vint index)
{
    __m512 entries = _mm512_castps256_ps512(_mm256_load_ps(table));     /* upper half unused */
    return _mm512_permutexvar_ps(_mm512_and_si512(index, _mm512_set1_epi32(7)), entries);
}

static inline float reduce_max_v(vfloat x) { return _mm512_reduce_max_ps(x); }

/* Memory: whole vectors, and the first `count` lanes (count may exceed FPK_LANES). */
static inline vmask first_lanes(size_t count)
{
    return (vmask)(count >= 16 ? 0xFFFF : (1u << count) - 1);
}
static inline vfloat load_v(const float *p) { return _mm512_loadu_ps(p); }
static inline void store_v(float *p, vfloat x) { _mm512_storeu_ps(p, x); }
static inline vfloat load_first_v(const float *p, size_t count) { return _mm512_maskz_loadu_ps(first_lanes(count), p); }
/* ... with `fill` in the other lanes */
static inline vfloat load_first_or_v(vfloat fill, const float *p, size_t count)
{
    return _mm512_mask_loadu_ps(fill, first_lanes(count), p);
}
static inline void store_first_v(float *p, vfloat x, size_t count) { _mm512_mask_storeu_ps(p, first_lanes(count), x); }
static inline void store_lanes_v(float *p, vmask m, vfloat x) { _mm512_mask_storeu_ps(p, m, x); }   /* m's lanes */
static inline void stream_v(float *p, vfloat x) { _mm512_stream_ps(p, x); }   /* p 64-byte aligned */

/* Doubles: the two halves of a vfloat. */
static inline vdouble splat_d(double c) { return _mm512_set1_pd(c); }
static inline vdouble zero_d(void) { return _mm512_setzero_pd(); }
static inline void store_d(double *p, vdouble x) { _mm512_storeu_pd(p, x); }
static inline vdouble add_d(vdouble a, vdouble b) { return _mm512_add_pd(a, b); }
static inline vdouble low_half(vfloat x) { return _mm512_cvtps_pd(_mm512_castps512_ps256(x)); }
static inline vdouble high_half(vfloat x)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}
static inline double reduce_add_d(vdouble x) { return _mm512_reduce_add_pd(x); }

/* ---- Doubles, and the rest of what losses.c needs ------------------------------------------ */

/* Masked operations cost what plain ones do (AVX2 emulates them: see WITH_COUNT, losses.c). */
#define FPK_FREE_MASKS 1

static inline vdouble sub_d(vdouble a, vdouble b) { return _mm512_sub_pd(a, b); }
static inline vdouble mul_d(vdouble a, vdouble b) { return _mm512_mul_pd(a, b); }
static inline vdouble div_d(vdouble a, vdouble b) { return _mm512_div_pd(a, b); }
static inline vdouble fnma_d(vdouble a, vdouble b, vdouble c) { return _mm512_fnmadd_pd(a, b, c); }
static inline vdouble min_d(vdouble a, vdouble b) { return _mm512_min_pd(a, b); }   /* b if NaN */
static inline vdouble max_d(vdouble a, vdouble b) { return _mm512_max_pd(a, b); }
static inline vdouble abs_d(vdouble x) { return _mm512_abs_pd(x); }
static inline vmask_d cmp_d(vdouble a, vdouble b, int predicate) { return _mm512_cmp_pd_mask(a, b, predicate); }
static inline vdouble blend_d(vmask_d m, vdouble a, vdouble b) { return _mm512_mask_blend_pd(m, a, b); }
static inline vdouble keep_d(vmask_d m, vdouble x) { return _mm512_maskz_mov_pd(m, x); }   /* else 0 */
/* a + b on the lanes of m, a elsewhere (AVX2: a + 0, so a -0 lane becomes +0; sums start at +0) */
static inline vdouble add_lanes_d(vdouble a, vmask_d m, vdouble b) { return _mm512_mask_add_pd(a, m, a, b); }

/* float64 kernels on 8 double lanes (activations.c, AVX-512 only): memory as for floats, the
   sign bits of x (x & -0.0), 2^floor(k) x rounded once (vscalefpd), and table[index & 15] for
   the low 4 bits of each lane's integer bits (vpermt2pd; table 64-byte aligned). */
static inline vmask_d first_lanes_d(size_t count) { return (vmask_d)(count >= 8 ? 0xFF : (1u << count) - 1); }
static inline vdouble load_first_d(const double *p, size_t count) { return _mm512_maskz_loadu_pd(first_lanes_d(count), p); }
static inline void store_first_d(double *p, vdouble x, size_t count) { _mm512_mask_storeu_pd(p, first_lanes_d(count), x); }
static inline void stream_d(double *p, vdouble x) { _mm512_stream_pd(p, x); }   /* p 64-byte aligned */
static inline vdouble fma_d(vdouble a, vdouble b, vdouble c) { return _mm512_fmadd_pd(a, b, c); }
static inline vdouble fms_d(vdouble a, vdouble b, vdouble c) { return _mm512_fmsub_pd(a, b, c); }
static inline vdouble signs_d(vdouble x)
{
    return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(INT64_MIN)));
}
static inline vdouble with_sign_of_d(vdouble m, vdouble x)    /* m >= 0 with x's sign */
{
    return _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(m), _mm512_castpd_si512(signs_d(x))));
}
static inline vdouble scalef_d(vdouble x, vdouble k) { return _mm512_scalef_pd(x, k); }
static inline vdouble lookup16_d(const double *table, vdouble bits)
{
    return _mm512_permutex2var_pd(_mm512_load_pd(table), _mm512_castpd_si512(bits), _mm512_load_pd(table + 8));
}

/* The lanes of a vfloat mask that low_half / high_half widen, as a vdouble mask. */
static inline vmask_d low_half_m(vmask m) { return (vmask_d)m; }
static inline vmask_d high_half_m(vmask m) { return (vmask_d)(m >> 8); }
/* A vfloat from two halves (low_half and high_half reversed), each lane rounded once. */
static inline vfloat join_halves(vdouble low, vdouble high)
{
    __m512d both = _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(low)));
    return _mm512_castpd_ps(_mm512_insertf64x4(both, _mm256_castps_pd(_mm512_cvtpd_ps(high)), 1));
}

/* Floats: no lane; lane k alone (k < FPK_LANES); the lane of x that `one` (from one_lane)
   selects; add_lanes_d's float twin. */
static inline vmask no_lanes(void) { return 0; }
static inline vmask one_lane(unsigned k) { return (vmask)(1u << k); }
static inline float lane_v(vfloat x, vmask one) { return _mm512_cvtss_f32(_mm512_maskz_compress_ps(one, x)); }
static inline vfloat add_lanes_v(vfloat a, vmask m, vfloat b) { return _mm512_mask_add_ps(a, m, a, b); }
/* The lanes of m as the bits of a number (lane k: bit k). */
static inline unsigned lane_bits(vmask m) { return m; }
/* FPK_LANES class labels as floats: labels[k] where 0 <= labels[k] < limit, else -1. */
static inline vfloat labels_v(const int64_t *labels, int64_t limit)
{
    __m512i low = _mm512_loadu_si512(labels), high = _mm512_loadu_si512(labels + 8);
    __m512i n = _mm512_set1_epi64(limit);           /* unsigned: negative labels fail too */
    vmask ok = (vmask)(_mm512_cmplt_epu64_mask(low, n) | _mm512_cmplt_epu64_mask(high, n) << 8);
    __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(low)),
                                      _mm512_cvtepi64_epi32(high), 1);
    return _mm512_mask_blend_ps(ok, splat(-1.0f), _mm512_cvtepi32_ps(both));
}

/* Lanes 2i of a and b side by side (low), or lanes 2i + 1 (high); the same with pairs of
   lanes. The first steps of transpose_v. */
static inline vfloat interleave_low_v(vfloat a, vfloat b) { return _mm512_unpacklo_ps(a, b); }
static inline vfloat interleave_high_v(vfloat a, vfloat b) { return _mm512_unpackhi_ps(a, b); }
static inline vfloat interleave_pairs_low_v(vfloat a, vfloat b) { return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); }
static inline vfloat interleave_pairs_high_v(vfloat a, vfloat b) { return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); }
/* The last steps of transpose_v: blocks of 4 lanes, then of 8. */
static inline void transpose_blocks_v(vfloat v[16])
{
    vfloat t[16];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(v[8 * i + j], v[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(v[8 * i + j], v[8 * i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        v[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        v[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
}

#elif FPK_SIMD
/* ---- AVX2 + FMA ------------------------------------------------------------------------------ */

typedef __m256 vfloat;
typedef __m256d vdouble;
typedef __m256i vint;
typedef __m256 vmask;              /* all-ones lanes where true */
typedef __m256d vmask_d;

static inline vfloat splat(float c) { return _mm256_set1_ps(c); }
static inline vfloat zero_v(void) { return _mm256_setzero_ps(); }
static inline vfloat add_v(vfloat a, vfloat b) { return _mm256_add_ps(a, b); }
static inline vfloat sub_v(vfloat a, vfloat b) { return _mm256_sub_ps(a, b); }
static inline vfloat mul_v(vfloat a, vfloat b) { return _mm256_mul_ps(a, b); }
static inline vfloat div_v(vfloat a, vfloat b) { return _mm256_div_ps(a, b); }
static inline vfloat fma_v(vfloat a, vfloat b, vfloat c) { return _mm256_fmadd_ps(a, b, c); }
static inline vfloat fms_v(vfloat a, vfloat b, vfloat c) { return _mm256_fmsub_ps(a, b, c); }
static inline vfloat fnma_v(vfloat a, vfloat b, vfloat c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vfloat min_v(vfloat a, vfloat b) { return _mm256_min_ps(a, b); }
static inline vfloat max_v(vfloat a, vfloat b) { return _mm256_max_ps(a, b); }
static inline vfloat abs_v(vfloat x) { return _mm256_andnot_ps(splat(-0.0f), x); }
static inline vint bits_v(vfloat x) { return _mm256_castps_si256(x); }
static inline vfloat from_bits_v(vint i) { return _mm256_castsi256_ps(i); }
static inline vint or_i(vint a, vint b) { return _mm256_or_si256(a, b); }
static inline vint and_i(vint a, vint b) { return _mm256_and_si256(a, b); }
static inline vint splat_i(int32_t c) { return _mm256_set1_epi32(c); }
static inline vint shift_right_i(vint a, int bits) { return _mm256_srli_epi32(a, bits); }
static inline vint shift_right_signed_i(vint a, int bits) { return _mm256_srai_epi32(a, bits); }
static inline vint shift_left_i(vint a, int bits) { return _mm256_slli_epi32(a, bits); }
static inline vint sub_i(vint a, vint b) { return _mm256_sub_epi32(a, b); }
static inline vfloat float_of_i(vint a) { return _mm256_cvtepi32_ps(a); }

/* 2^n for integer lanes -126 <= n <= 127. */
static inline vfloat pow2_v(vint n)
{
    return from_bits_v(_mm256_slli_epi32(_mm256_add_epi32(n, splat_i(127)), 23));
}

/* x 2^k for integral k, rounded once, as vscalefps, for |x| < 2^127: k is clamped to
   [-252, 127] (enough for any such x to reach 0 or overflow) and applied in two halves, so
   that neither power of two is subnormal; the first product is exact unless the result is
   0 anyway. */
static inline vfloat scalef_v(vfloat x, vfloat k)
{
    __m256i n = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(k, splat(-252.0f)), splat(127.0f)));
    __m256i half = _mm256_srai_epi32(n, 1);
    return _mm256_mul_ps(_mm256_mul_ps(x, pow2_v(half)), pow2_v(_mm256_sub_epi32(n, half)));
}

/* The same for |x| < 2^8 and k <= 54, in 5 operations: x 2^(k + 64) is exact down to
   k = -190 (below, and clamped there, the result is 0 either way), and the product with 2^-64
   rounds once. 2^j for integral j in [0, 255] is built by adding j to 2^23 (its bits end in
   j) and shifting those bits into the exponent. */
static inline vfloat scalef_small_v(vfloat x, vfloat k)
{
    vfloat j = _mm256_add_ps(_mm256_max_ps(k, splat(-190.0f)), splat(8388608.0f + 127.0f + 64.0f));
    vfloat pow2_k_plus_64 = from_bits_v(_mm256_slli_epi32(bits_v(j), 23));
    return _mm256_mul_ps(_mm256_mul_ps(x, pow2_k_plus_64), splat(0x1p-64f));
}

/* The same where x and x 2^k are normal, in 3 operations: k added to x's exponent bits. */
static inline vfloat scalef_normal_v(vfloat x, vfloat k)
{
    return from_bits_v(_mm256_add_epi32(bits_v(x), _mm256_slli_epi32(_mm256_cvtps_epi32(k), 23)));
}

static inline vmask cmp_v(vfloat a, vfloat b, int predicate)
{
    /* _mm256_cmp_ps wants its predicate as a constant: every caller's is, once inlined */
    return _mm256_cmp_ps(a, b, predicate);
}
static inline vmask or_m(vmask a, vmask b) { return _mm256_or_ps(a, b); }
static inline vmask and_m(vmask a, vmask b) { return _mm256_and_ps(a, b); }
static inline vmask andnot_m(vmask a, vmask b) { return _mm256_andnot_ps(a, b); }
static inline int any_m(vmask m) { return _mm256_movemask_ps(m) != 0; }
static inline int all_m(vmask m) { return _mm256_movemask_ps(m) == 0xFF; }   /* every lane */
static inline vfloat blend_v(vmask m, vfloat a, vfloat b) { return _mm256_blendv_ps(a, b, m); }
static inline vfloat keep_v(vmask m, vfloat x) { return _mm256_and_ps(m, x); }
static inline vfloat mask_sub_v(vfloat src, vmask m, vfloat a, vfloat b) { return blend_v(m, src, sub_v(a, b)); }
static inline vfloat mask_mul_v(vfloat src, vmask m, vfloat a, vfloat b) { return blend_v(m, src, mul_v(a, b)); }
static inline vfloat mask_fma_v(vfloat a, vmask m, vfloat b, vfloat c) { return blend_v(m, a, fma_v(a, b, c)); }
static inline vmask mask_cmp_v(vmask m, vfloat a, vfloat b, int predicate) { return and_m(m, cmp_v(a, b, predicate)); }
static inline vfloat mask_scalef_small_v(vfloat src, vmask m, vfloat x, vfloat k) { return blend_v(m, src, scalef_small_v(x, k)); }

/* Lanes picked by index: x[index & 7] (vpermps), and from a and b together, a's lanes 0-7 and
   b's 8-15: two permutes, the one for bit 3 chosen by blendv (which reads each lane's sign
   bit: bit 3 shifted there). */
static inline vfloat pick_v(vfloat x, vint index) { return _mm256_permutevar8x32_ps(x, index); }
static inline vfloat pick2_v(vfloat a, vint index, vfloat b)
{
    return _mm256_blendv_ps(pick_v(a, index), pick_v(b, index),
                            _mm256_castsi256_ps(_mm256_slli_epi32(index, 28)));
}
static inline vint load_i(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* table[index & 15]. */
static inline vfloat lookup16_v(const float *table, vint index)
{
    return pick2_v(_mm256_load_ps(table), index, _mm256_load_ps(table + 8));
}

/* table[index & 7]: one permute, a third of lookup16_v's cost. */
static inline vfloat lookup8_v(const float *table, vint index)
{
    return pick_v(_mm256_load_ps(table), index);
}

static inline float reduce_max_v(vfloat x)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* The first min(count, 8) lanes, as the integer mask maskload/maskstore read. */
static inline __m256i first_lanes_i(size_t count)
{
    int32_t n = count >= 8 ? 8 : (int32_t)count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vmask first_lanes(size_t count) { return _mm256_castsi256_ps(first_lanes_i(count)); }
static inline vfloat load_v(const float *p) { return _mm256_loadu_ps(p); }
static inline void store_v(float *p, vfloat x) { _mm256_storeu_ps(p, x); }
/* Whole vectors load plainly; a partial one with vmaskmovps, which does not touch the lanes
   it leaves out (they may lie past the end of the array). */
static inline vfloat load_first_v(const float *p, size_t count)
{
    return count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first_lanes_i(count));
}
static inline vfloat load_first_or_v(vfloat fill, const float *p, size_t count)
{
    return count >= 8 ? _mm256_loadu_ps(p) : blend_v(first_lanes(count), fill, _mm256_maskload_ps(p, first_lanes_i(count)));
}
static inline void store_first_v(float *p, vfloat x, size_t count)
{
    if (count >= 8) _mm256_storeu_ps(p, x);
    else _mm256_maskstore_ps(p, first_lanes_i(count), x);
}
static inline void store_lanes_v(float *p, vmask m, vfloat x) { _mm256_maskstore_ps(p, _mm256_castps_si256(m), x); }
static inline void stream_v(float *p, vfloat x) { _mm256_stream_ps(p, x); }   /* p 32-byte aligned */

static inline vdouble splat_d(double c) { return _mm256_set1_pd(c); }
static inline vdouble zero_d(void) { return _mm256_setzero_pd(); }
static inline void store_d(double *p, vdouble x) { _mm256_storeu_pd(p, x); }
static inline vdouble add_d(vdouble a, vdouble b) { return _mm256_add_pd(a, b); }
static inline vdouble low_half(vfloat x) { return _mm256_cvtps_pd(_mm256_castps256_ps128(x)); }
static inline vdouble high_half(vfloat x) { return _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)); }
static inline double reduce_add_d(vdouble x)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* ---- Doubles, and the rest of what losses.c needs ------------------------------------------ */

#define FPK_FREE_MASKS 0           /* masks are vectors, masked operations blends */

static inline vdouble sub_d(vdouble a, vdouble b) { return _mm256_sub_pd(a, b); }
static inline vdouble mul_d(vdouble a, vdouble b) { return _mm256_mul_pd(a, b); }
static inline vdouble div_d(vdouble a, vdouble b) { return _mm256_div_pd(a, b); }
static inline vdouble fnma_d(vdouble a, vdouble b, vdouble c) { return _mm256_fnmadd_pd(a, b, c); }
static inline vdouble min_d(vdouble a, vdouble b) { return _mm256_min_pd(a, b); }
static inline vdouble max_d(vdouble a, vdouble b) { return _mm256_max_pd(a, b); }
static inline vdouble abs_d(vdouble x) { return _mm256_andnot_pd(splat_d(-0.0), x); }
static inline vmask_d cmp_d(vdouble a, vdouble b, int predicate) { return _mm256_cmp_pd(a, b, predicate); }
static inline vdouble blend_d(vmask_d m, vdouble a, vdouble b) { return _mm256_blendv_pd(a, b, m); }
static inline vdouble keep_d(vmask_d m, vdouble x) { return _mm256_and_pd(m, x); }
/* and + add: no blend in the chain of a running sum */
static inline vdouble add_lanes_d(vdouble a, vmask_d m, vdouble b) { return add_d(a, keep_d(m, b)); }

/* Each 32-bit lane widened to the 64-bit lane low_half / high_half widens it to. */
static inline vmask_d low_half_m(vmask m)
{
    return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(_mm256_castps_si256(m))));
}
static inline vmask_d high_half_m(vmask m)
{
    return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(_mm256_castps_si256(m), 1)));
}
static inline vfloat join_halves(vdouble low, vdouble high)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(low)), _mm256_cvtpd_ps(high), 1);
}

static inline vmask no_lanes(void) { return _mm256_setzero_ps(); }
static inline vmask one_lane(unsigned k)
{
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_set1_epi32((int32_t)k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}
static inline float lane_v(vfloat x, vmask one)
{
    int k = __builtin_ctz((unsigned)_mm256_movemask_ps(one));
    return _mm256_cvtss_f32(_mm256_permutevar8x32_ps(x, _mm256_set1_epi32(k)));
}
static inline vfloat add_lanes_v(vfloat a, vmask m, vfloat b) { return add_v(a, keep_v(m, b)); }
static inline unsigned lane_bits(vmask m) { return (unsigned)_mm256_movemask_ps(m); }
static inline vfloat labels_v(const int64_t *labels, int64_t limit)
{
    float classes[8];
    for (int k = 0; k < 8; k++)
        classes[k] = labels[k] >= 0 && labels[k] < limit ? (float)labels[k] : -1.0f;
    return load_v(classes);
}

static inline vfloat interleave_low_v(vfloat a, vfloat b) { return _mm256_unpacklo_ps(a, b); }
static inline vfloat interleave_high_v(vfloat a, vfloat b) { return _mm256_unpackhi_ps(a, b); }
static inline vfloat interleave_pairs_low_v(vfloat a, vfloat b) { return _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(a), _mm256_castps_pd(b))); }
static inline vfloat interleave_pairs_high_v(vfloat a, vfloat b) { return _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(a), _mm256_castps_pd(b))); }
static inline void transpose_blocks_v(vfloat v[8])       /* the two halves */
{
    vfloat t[8];
    for (int j = 0; j < 4; j++) {
        t[j] = _mm256_permute2f128_ps(v[j], v[4 + j], 0x20);
        t[4 + j] = _mm256_permute2f128_ps(v[j], v[4 + j], 0x31);
    }
    for (int j = 0; j < 8; j++) v[j] = t[j];
}
#endif

#if FPK_SIMD
/* Shared by both: the lanes where `x predicate c` holds for a number c; -|x|, and |m| with the
   sign of x (m >= 0). */
static inline vmask is_v(vfloat x, int predicate, float c) { return cmp_v(x, splat(c), predicate); }
static inline vmask_d is_d(vdouble x, int predicate, double c) { return cmp_d(x, splat_d(c), predicate); }
static inline vfloat neg_abs_v(vfloat x) { return from_bits_v(or_i(bits_v(x), splat_i(INT32_MIN))); }
static inline vfloat with_sign_of_v(vfloat m, vfloat x)
{
    return from_bits_v(or_i(bits_v(m), and_i(bits_v(x), splat_i(INT32_MIN))));
}
/* v as an FPK_LANES x FPK_LANES matrix (row j: v[j]) transposed in place: lane k of v[j] to
   lane j of v[k]. Rows paired lane by lane, then by pairs of lanes, then by blocks. */
static inline void transpose_v(vfloat v[FPK_LANES])
{
    vfloat t[FPK_LANES];
    for (int i = 0; i < FPK_LANES / 2; i++) {
        t[2 * i] = interleave_low_v(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = interleave_high_v(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < FPK_LANES / 4; i++) {
        v[4 * i] = interleave_pairs_low_v(t[4 * i], t[4 * i + 2]);
        v[4 * i + 1] = interleave_pairs_high_v(t[4 * i], t[4 * i + 2]);
        v[4 * i + 2] = interleave_pairs_low_v(t[4 * i + 1], t[4 * i + 3]);
        v[4 * i + 3] = interleave_pairs_high_v(t[4 * i + 1], t[4 * i + 3]);
    }
    transpose_blocks_v(v);
}
/* a + b as sum + *error exactly (TwoSum, for any a and b: six operations). */
static inline vfloat two_sum_v(vfloat a, vfloat b, vfloat *error)
{
    vfloat sum = add_v(a, b), b_part = sub_v(sum, a);
    *error = add_v(sub_v(a, sub_v(sum, b_part)), sub_v(b, b_part));
    return sum;
}
/* Clamp x into [lo, hi]; NaN stays NaN. */
static inline vfloat clamp_v(vfloat x, float lo, float hi) { return max_v(splat(lo), min_v(splat(hi), x)); }
#endif

#endif /* FPK_SIMD_H */
