/* emulate_avx512.h - run fpkernels' AVX-512 code paths on a machine without AVX-512.
 *
 * Force-included (gcc -include tests/c/emulate_avx512.h) into every C file by .ci/portable: SIMDe
 * (Debian's libsimde-dev) supplies the _mm512_* intrinsics in portable C (AVX2 underneath), and
 * __AVX512F__ is defined afterwards, so each file takes its AVX-512 branch. The intrinsics
 * SIMDe 0.7.4 lacks are defined here lane by lane, as Intel's guide describes them.
 * A correctness check of that code, not a way to run fast.
 */
#ifndef FPK_EMULATE_AVX512_H
#define FPK_EMULATE_AVX512_H

/* This file now comes before every header of every C file, the cffi wrapper's Python.h
   included: ask for what Python.h asks for (POSIX and GNU extensions, alloca among them). */
#define _GNU_SOURCE 1
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <math.h>
#include <string.h>

static inline simde__m512i fpk_emulated_srai_epi32(simde__m512i a, int bits)
{
    simde__m512i_private r = simde__m512i_to_private(a);
    for (int i = 0; i < 16; i++) r.i32[i] = bits > 31 ? (r.i32[i] < 0 ? -1 : 0) : r.i32[i] >> bits;
    return simde__m512i_from_private(r);
}
static inline simde__m512 fpk_emulated_cvtepi32_ps(simde__m512i a)
{
    simde__m512i_private x = simde__m512i_to_private(a);
    simde__m512_private r;
    for (int i = 0; i < 16; i++) r.f32[i] = (float)x.i32[i];
    return simde__m512_from_private(r);
}
static inline simde__m512d fpk_emulated_cvtps_pd(simde__m256 a)
{
    simde__m256_private x = simde__m256_to_private(a);
    simde__m512d_private r;
    for (int i = 0; i < 8; i++) r.f64[i] = (double)x.f32[i];
    return simde__m512d_from_private(r);
}
static inline simde__m256 fpk_emulated_cvtpd_ps(simde__m512d a)
{
    simde__m512d_private x = simde__m512d_to_private(a);
    simde__m256_private r;
    for (int i = 0; i < 8; i++) r.f32[i] = (float)x.f64[i];
    return simde__m256_from_private(r);
}
static inline float fpk_emulated_cvtss_f32(simde__m512 a) { return simde__m512_to_private(a).f32[0]; }
/* Comparisons with a predicate that is a constant only once inlined (SIMDe wants one at the
   call): bits 0-3 of the predicate pick the test, bit 4 (signalling or quiet) changes no result. */
static inline int fpk_emulated_compare(double a, double b, int predicate)
{
    int unordered = a != a || b != b;
    switch (predicate & 15) {
    case 0: return !unordered && a == b;        /* EQ_OQ */
    case 1: return !unordered && a < b;         /* LT_OS */
    case 2: return !unordered && a <= b;        /* LE_OS */
    case 3: return unordered;                   /* UNORD_Q */
    case 4: return unordered || a != b;         /* NEQ_UQ */
    case 5: return unordered || !(a < b);       /* NLT_US */
    case 6: return unordered || !(a <= b);      /* NLE_US */
    case 7: return !unordered;                  /* ORD_Q */
    case 8: return unordered || a == b;         /* EQ_UQ */
    case 9: return unordered || a < b;          /* NGE_US */
    case 10: return unordered || a <= b;        /* NGT_US */
    case 11: return 0;                          /* FALSE_OQ */
    case 12: return !unordered && a != b;       /* NEQ_OQ */
    case 13: return !unordered && a >= b;       /* GE_OS */
    case 14: return !unordered && a > b;        /* GT_OS */
    default: return 1;                          /* TRUE_UQ */
    }
}
static inline simde__mmask16 fpk_emulated_mask_cmp_ps_mask(simde__mmask16 m, simde__m512 a, simde__m512 b, int predicate)
{
    simde__m512_private x = simde__m512_to_private(a), y = simde__m512_to_private(b);
    unsigned r = 0;
    for (int i = 0; i < 16; i++) r |= (unsigned)fpk_emulated_compare(x.f32[i], y.f32[i], predicate) << i;
    return (simde__mmask16)(r & m);
}
static inline simde__mmask8 fpk_emulated_cmp_pd_mask(simde__m512d a, simde__m512d b, int predicate)
{
    simde__m512d_private x = simde__m512d_to_private(a), y = simde__m512d_to_private(b);
    unsigned r = 0;
    for (int i = 0; i < 8; i++) r |= (unsigned)fpk_emulated_compare(x.f64[i], y.f64[i], predicate) << i;
    return (simde__mmask8)r;
}
static inline simde__m512 fpk_emulated_mask_loadu_ps(simde__m512 src, simde__mmask16 m, const void *p)
{
    simde__m512_private r = simde__m512_to_private(src);
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) memcpy(&r.f32[i], (const float *)p + i, sizeof(float));
    return simde__m512_from_private(r);
}
static inline simde__m512 fpk_emulated_maskz_loadu_ps(simde__mmask16 m, const void *p)
{
    return fpk_emulated_mask_loadu_ps(simde_mm512_setzero_ps(), m, p);
}
static inline void fpk_emulated_mask_storeu_ps(void *p, simde__mmask16 m, simde__m512 a)
{
    simde__m512_private x = simde__m512_to_private(a);
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) memcpy((float *)p + i, &x.f32[i], sizeof(float));
}
static inline simde__m512d fpk_emulated_maskz_loadu_pd(simde__mmask8 m, const void *p)
{
    simde__m512d_private r = simde__m512d_to_private(simde_mm512_setzero_pd());
    for (int i = 0; i < 8; i++)
        if (m >> i & 1) memcpy(&r.f64[i], (const double *)p + i, sizeof(double));
    return simde__m512d_from_private(r);
}
static inline void fpk_emulated_mask_storeu_pd(void *p, simde__mmask8 m, simde__m512d a)
{
    simde__m512d_private x = simde__m512d_to_private(a);
    for (int i = 0; i < 8; i++)
        if (m >> i & 1) memcpy((double *)p + i, &x.f64[i], sizeof(double));
}
static inline void fpk_emulated_stream_ps(void *p, simde__m512 a) { simde_mm512_storeu_ps(p, a); }
static inline void fpk_emulated_stream_pd(void *p, simde__m512d a) { simde_mm512_storeu_pd(p, a); }

/* The sign bit cleared (SIMDe's a < 0 ? -a : a keeps -0). */
static inline simde__m512 fpk_emulated_abs_ps(simde__m512 a)
{
    simde__m512_private x = simde__m512_to_private(a);
    for (int i = 0; i < 16; i++) x.f32[i] = fabsf(x.f32[i]);
    return simde__m512_from_private(x);
}
static inline simde__m512d fpk_emulated_abs_pd(simde__m512d a)
{
    simde__m512d_private x = simde__m512d_to_private(a);
    for (int i = 0; i < 8; i++) x.f64[i] = fabs(x.f64[i]);
    return simde__m512d_from_private(x);
}

/* a 2^floor(b), rounded once (SIMDe's a * 2^b flushes results below 2^-126 to zero). */
static inline float fpk_emulated_scalef(float a, float b)
{
    if (b != b) return a + b;
    if (isinf(b)) return b > 0 ? (a == 0 ? NAN : a * INFINITY) : (isinf(a) ? NAN : a * 0.0f);
    float k = floorf(b);
    return ldexpf(a, k > 400 ? 400 : k < -400 ? -400 : (int)k);
}
static inline simde__m512 fpk_emulated_mask_scalef_ps(simde__m512 src, simde__mmask16 m, simde__m512 a, simde__m512 b)
{
    simde__m512_private r = simde__m512_to_private(src), x = simde__m512_to_private(a), y = simde__m512_to_private(b);
    for (int i = 0; i < 16; i++)
        if (m >> i & 1) r.f32[i] = fpk_emulated_scalef(x.f32[i], y.f32[i]);
    return simde__m512_from_private(r);
}

/* Reductions in the order GCC's headers use (halves, then quarters, ...). */
#define REDUCE(name, vec, type, lanes, field, op)                               \
    static inline type fpk_emulated_reduce_##name(vec a)                         \
    {                                                                           \
        vec##_private x = vec##_to_private(a);                                  \
        for (int width = lanes / 2; width >= 1; width /= 2)                     \
            for (int i = 0; i < width; i++)                                     \
                x.field[i] = op(x.field[i], x.field[i + width]);               \
        return x.field[0];                                                      \
    }
#define SUM_OF(a, b) ((a) + (b))
#define MAX_OF(a, b) ((a) > (b) ? (a) : (b))
#define MIN_OF(a, b) ((a) < (b) ? (a) : (b))
REDUCE(add_ps, simde__m512, float, 16, f32, SUM_OF)
REDUCE(add_pd, simde__m512d, double, 8, f64, SUM_OF)
REDUCE(max_ps, simde__m512, float, 16, f32, MAX_OF)
REDUCE(min_ps, simde__m512, float, 16, f32, MIN_OF)
REDUCE(max_pd, simde__m512d, double, 8, f64, MAX_OF)
REDUCE(min_pd, simde__m512d, double, 8, f64, MIN_OF)
#undef REDUCE
#undef SUM_OF
#undef MAX_OF
#undef MIN_OF
static inline int32_t fpk_emulated_reduce_add_epi32(simde__m512i a)
{
    simde__m512i_private x = simde__m512i_to_private(a);
    uint32_t sum = 0;                                   /* wraps, as the instruction does */
    for (int i = 0; i < 16; i++) sum += (uint32_t)x.i32[i];
    return (int32_t)sum;
}
/* 128-bit blocks: the low two from a, the high two from b, each chosen by 2 bits of imm. */
#define SHUFFLE_BLOCKS(name, vec, field, per_block)                             \
    static inline vec fpk_emulated_shuffle_##name(vec a, vec b, int imm)         \
    {                                                                           \
        vec##_private x = vec##_to_private(a), y = vec##_to_private(b), r;      \
        for (int block = 0; block < 4; block++) {                               \
            int from = imm >> (2 * block) & 3;                                  \
            for (int i = 0; i < per_block; i++)                                 \
                r.field[block * per_block + i] =                                \
                    (block < 2 ? x : y).field[from * per_block + i];           \
        }                                                                       \
        return vec##_from_private(r);                                           \
    }
SHUFFLE_BLOCKS(f32x4, simde__m512, f32, 4)
SHUFFLE_BLOCKS(f64x2, simde__m512d, f64, 2)
#undef SHUFFLE_BLOCKS

static inline simde__mmask8 fpk_emulated_cmplt_epu64_mask(simde__m512i a, simde__m512i b)
{
    simde__m512i_private x = simde__m512i_to_private(a), y = simde__m512i_to_private(b);
    simde__mmask8 m = 0;
    for (int i = 0; i < 8; i++) m |= (simde__mmask8)((x.u64[i] < y.u64[i]) << i);
    return m;
}

#define _mm512_cmplt_epu64_mask(a, b) fpk_emulated_cmplt_epu64_mask(a, b)
#define _mm512_srai_epi32(a, bits) fpk_emulated_srai_epi32(a, bits)
#define _mm512_cvtepi32_ps(a) fpk_emulated_cvtepi32_ps(a)
#define _mm512_cvtps_pd(a) fpk_emulated_cvtps_pd(a)
#define _mm512_cvtpd_ps(a) fpk_emulated_cvtpd_ps(a)
#define _mm512_cvtss_f32(a) fpk_emulated_cvtss_f32(a)
#undef _mm512_cmp_ps_mask
#undef _mm512_cmp_pd_mask
#define _mm512_cmp_ps_mask(a, b, p) fpk_emulated_mask_cmp_ps_mask(0xFFFF, a, b, p)
#define _mm512_cmp_pd_mask(a, b, p) fpk_emulated_cmp_pd_mask(a, b, p)
#define _mm512_mask_cmp_ps_mask(m, a, b, p) fpk_emulated_mask_cmp_ps_mask(m, a, b, p)
#define _mm512_mask_loadu_ps(src, m, p) fpk_emulated_mask_loadu_ps(src, m, p)
#define _mm512_maskz_loadu_ps(m, p) fpk_emulated_maskz_loadu_ps(m, p)
#define _mm512_mask_storeu_ps(p, m, a) fpk_emulated_mask_storeu_ps(p, m, a)
#undef _mm512_abs_ps
#undef _mm512_abs_pd
#define _mm512_abs_ps(a) fpk_emulated_abs_ps(a)
#define _mm512_abs_pd(a) fpk_emulated_abs_pd(a)
#undef _mm512_scalef_ps
#undef _mm512_mask_scalef_ps
#define _mm512_scalef_ps(a, b) fpk_emulated_mask_scalef_ps(a, 0xFFFF, a, b)
#define _mm512_mask_scalef_ps(src, m, a, b) fpk_emulated_mask_scalef_ps(src, m, a, b)
#define _mm512_maskz_loadu_pd(m, p) fpk_emulated_maskz_loadu_pd(m, p)
#define _mm512_mask_storeu_pd(p, m, a) fpk_emulated_mask_storeu_pd(p, m, a)
#define _mm512_stream_ps(p, a) fpk_emulated_stream_ps(p, a)
#define _mm512_stream_pd(p, a) fpk_emulated_stream_pd(p, a)
#define _mm512_reduce_add_ps(a) fpk_emulated_reduce_add_ps(a)
#define _mm512_reduce_add_pd(a) fpk_emulated_reduce_add_pd(a)
#define _mm512_reduce_max_ps(a) fpk_emulated_reduce_max_ps(a)
#define _mm512_reduce_min_ps(a) fpk_emulated_reduce_min_ps(a)
#define _mm512_reduce_max_pd(a) fpk_emulated_reduce_max_pd(a)
#define _mm512_reduce_min_pd(a) fpk_emulated_reduce_min_pd(a)
#define _mm512_reduce_add_epi32(a) fpk_emulated_reduce_add_epi32(a)
#define _mm512_shuffle_f32x4(a, b, imm) fpk_emulated_shuffle_f32x4(a, b, imm)
#define _mm512_shuffle_f64x2(a, b, imm) fpk_emulated_shuffle_f64x2(a, b, imm)

/* Last, so that SIMDe above saw no native AVX-512: the project's files now take that branch. */
#define __AVX512F__ 1

#endif
