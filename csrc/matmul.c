/* matmul.c - matrix multiplication C = op(A) op(B), float32 and float64, no BLAS.
 *
 * The method is the one of GotoBLAS and BLIS, in four steps:
 *
 *   1. Block the work so each piece of data sits in a cache while it is reused:
 *        ic loop: MC rows of C and A              (the packed A block lives in L3)
 *        pc loop: KC steps of the shared dimension (one packed A block)
 *        jc loop: NC columns of C and B           (the packed B block lives in L2)
 *        ir, jr loops: one MR x NR tile of C      (one KC x MR sliver of A is reused while
 *                                                  the jr loop streams B slivers from L2)
 *   2. Pack: copy each A block into MR-row panels and each B block into NR-column panels,
 *      stored in the order the micro-kernel reads them (one MR column of A, then one NR row
 *      of B, per step of k). Transposed operands are read in their own layout while packing,
 *      so no transpose is ever materialised. Panels are padded with zeros at the edges.
 *   3. Micro-kernel: an MR x NR tile of C lives in vector registers; each step of k loads one
 *      row of the B panel and broadcasts MR values of the A panel: MR x NR fused multiply-adds.
 *   4. Threads: C is cut into a grid of rectangles, one per thread, each computed with its
 *      own pack buffers.
 *
 * Determinism: every element of C is computed the same way on every path: for each block of
 * KC steps of k (in increasing order), a chain of fused multiply-adds starting from zero,
 * then added to C. The blocks are fixed sizes, so results are bitwise identical whatever the
 * number of threads or the way C is cut between them.
 */
#include <stdlib.h>
#include <string.h>

#include "fpkernels.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

/* ---- packing: both operands use the same routine ---------------------------------------
 * pack(src, rs, cs, rows, depth, R, dst): src holds a rows x depth matrix, element (r, p) at
 * src[r*rs + p*cs]. dst receives ceil(rows/R) panels; panel q holds rows q*R .. q*R+R-1 as
 * `depth` groups of R values (all R rows for p = 0, then for p = 1, ...), zeros past `rows`.
 * A is packed as is (rows = rows of C, R = MR); B is packed as B^T (rows = columns of C, R = NR). */
#define DEFINE_PACK(T, S)                                                                   \
    static void pack_generic_##S(const void *src_, int64_t rs, int64_t cs, size_t rows, size_t depth, \
                         size_t R, void *dst_)                                              \
    {                                                                                       \
        const T *src = (const T *)src_;                                                     \
        T *dst = (T *)dst_;                                                                 \
        size_t panels = (rows + R - 1) / R;                                                 \
        if (rs == 1) { /* rows are contiguous for each p: read line p once for all panels */ \
            for (size_t p = 0; p < depth; p++) {                                            \
                const T *line = src + (int64_t)p * cs;                                      \
                for (size_t q = 0; q < panels; q++) {                                       \
                    T *d = dst + (q * depth + p) * R;                                       \
                    size_t live = rows - q * R < R ? rows - q * R : R;                      \
                    for (size_t r = 0; r < live; r++) d[r] = line[q * R + r];               \
                    for (size_t r = live; r < R; r++) d[r] = 0;                             \
                }                                                                           \
            }                                                                               \
        } else { /* each row is a run over p (cs == 1) or strided: R rows at once */        \
            for (size_t q = 0; q < panels; q++) {                                           \
                const T *panel = src + (int64_t)(q * R) * rs;                               \
                T *d = dst + q * depth * R;                                                 \
                size_t live = rows - q * R < R ? rows - q * R : R;                          \
                for (size_t p = 0; p < depth; p++, d += R) {                                \
                    for (size_t r = 0; r < live; r++) d[r] = panel[(int64_t)r * rs + (int64_t)p * cs]; \
                    for (size_t r = live; r < R; r++) d[r] = 0;                             \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }
DEFINE_PACK(float, f32)
DEFINE_PACK(double, f64)

#if defined(__AVX512F__)
/* Transpose 16 rows of 16 floats: out[c] holds column c of v (lanes = rows). Three rounds of
   shuffles: pairs of elements, pairs of pairs, then 128-bit quarters. */
static void transpose16_f32(const __m512 v[16], __m512 out[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) { /* rows 2i, 2i+1 interleaved */
        t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* u[4i+j], quarter L: column 4L+j of rows 4i..4i+3 */
        __m512d lo_a = _mm512_castps_pd(t[4 * i]), lo_b = _mm512_castps_pd(t[4 * i + 2]);
        __m512d hi_a = _mm512_castps_pd(t[4 * i + 1]), hi_b = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo_a, lo_b));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo_a, lo_b));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi_a, hi_b));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi_a, hi_b));
    }
    for (int j = 0; j < 4; j++) { /* gather quarter L of u[j], u[4+j], u[8+j], u[12+j] */
        __m512 even_lo = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        __m512 odd_lo = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
        __m512 even_hi = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        __m512 odd_hi = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
        out[j] = _mm512_shuffle_f32x4(even_lo, even_hi, 0x88);
        out[4 + j] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88);
        out[8 + j] = _mm512_shuffle_f32x4(even_lo, even_hi, 0xdd);
        out[12 + j] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xdd);
    }
}

/* Transpose 8 rows of 8 doubles: out[c] holds column c of v (lanes = rows). */
static void transpose8_f64(const __m512d v[8], __m512d out[8])
{
    __m512d t[8];
    for (int i = 0; i < 4; i++) { /* t[2i+j], quarter L: column 2L+j of rows 2i, 2i+1 */
        t[2 * i] = _mm512_unpacklo_pd(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(v[2 * i], v[2 * i + 1]);
    }
    for (int j = 0; j < 2; j++) { /* gather quarter L of t[j], t[2+j], t[4+j], t[6+j] */
        __m512d even_lo = _mm512_shuffle_f64x2(t[j], t[2 + j], 0x88);
        __m512d odd_lo = _mm512_shuffle_f64x2(t[j], t[2 + j], 0xdd);
        __m512d even_hi = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0x88);
        __m512d odd_hi = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0xdd);
        out[j] = _mm512_shuffle_f64x2(even_lo, even_hi, 0x88);
        out[2 + j] = _mm512_shuffle_f64x2(odd_lo, odd_hi, 0x88);
        out[4 + j] = _mm512_shuffle_f64x2(even_lo, even_hi, 0xdd);
        out[6 + j] = _mm512_shuffle_f64x2(odd_lo, odd_hi, 0xdd);
    }
}

/* pack when each row is contiguous over p (cs == 1), the common layout of A (and of B when
   transposed): W x W blocks are loaded row-wise, transposed in registers and stored p-major,
   instead of moving one value at a time. */
#define DEFINE_PACK_TRANSPOSING(T, S, VEC, W, MASK, LOADZ, STOREM, ZERO, TRANSPOSE)         \
    static void pack_##S(const void *src_, int64_t rs, int64_t cs, size_t rows, size_t depth, \
                         size_t R, void *dst_)                                              \
    {                                                                                       \
        if (cs != 1) {                                                                      \
            pack_generic_##S(src_, rs, cs, rows, depth, R, dst_);                           \
            return;                                                                         \
        }                                                                                   \
        const T *src = (const T *)src_;                                                     \
        T *dst = (T *)dst_;                                                                 \
        for (size_t q0 = 0; q0 < rows; q0 += R, dst += depth * R) { /* a panel of R rows */ \
            for (size_t r0 = 0; r0 < R; r0 += W) {                  /* W rows of it */      \
                size_t width = R - r0 < W ? R - r0 : W;                                     \
                MASK store = (MASK)((1u << width) - 1);                                     \
                for (size_t p0 = 0; p0 < depth; p0 += W) {                                  \
                    size_t count = depth - p0 < W ? depth - p0 : W;                         \
                    MASK load = (MASK)((1u << count) - 1);                                  \
                    VEC v[W], column[W];                                                    \
                    for (size_t r = 0; r < W; r++) {                                        \
                        size_t row = q0 + r0 + r; /* rows past the end are zeros */        \
                        v[r] = r0 + r < R && row < rows                                     \
                                   ? LOADZ(load, src + (int64_t)row * rs + p0)              \
                                   : ZERO();                                                \
                    }                                                                       \
                    TRANSPOSE(v, column);                                                   \
                    for (size_t q = 0; q < count; q++)                                      \
                        STOREM(dst + (p0 + q) * R + r0, store, column[q]);                  \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }
DEFINE_PACK_TRANSPOSING(float, f32, __m512, 16, __mmask16, _mm512_maskz_loadu_ps,
                        _mm512_mask_storeu_ps, _mm512_setzero_ps, transpose16_f32)
DEFINE_PACK_TRANSPOSING(double, f64, __m512d, 8, __mmask8, _mm512_maskz_loadu_pd,
                        _mm512_mask_storeu_pd, _mm512_setzero_pd, transpose8_f64)
#else
#define pack_f32 pack_generic_f32
#define pack_f64 pack_generic_f64
#endif

/* ---- micro-kernels ----------------------------------------------------------------------
 * kernel(kc, a, lda, b, c, ldc, first): for the MR x NR tile c (row stride ldc),
 *     acc[i][j] = sum over p < kc of A(i, p) * b[p*NR + j]   (FMAs from zero, p increasing)
 *     c[i][j]   = first ? acc[i][j] : c[i][j] + acc[i][j]
 * b is a packed panel; A(i, p) is a[p*MR + i] (a packed panel) when lda == 0, else a[i*lda + p]
 * (rows of A read in place). C is only read at the end (it was prefetched at the start). */

/* The kc steps of one kernel: A(i, p) is A_AT(i) and `a` moves A_STEP elements per step. */
#define KERNEL_STEPS(A_AT, A_STEP, VEC, MR, NV, LANES, BSTEP, LOAD, SET1, FMADD)                  \
    for (size_t p = 0; p < kc; p++, a += A_STEP, b += BSTEP) {                              \
        /* fetch B 16 rows ahead into L1 (the packed block of B is in L2) */                \
        _mm_prefetch((const char *)(b + 16 * BSTEP), _MM_HINT_T0);                          \
        _mm_prefetch((const char *)(b + 16 * BSTEP) + 64, _MM_HINT_T0);                     \
        VEC row[NV]; /* row p of the B panel */                                             \
        for (int v = 0; v < NV; v++) row[v] = LOAD(b + v * LANES);                          \
        for (int i = 0; i < MR; i++) {                                                      \
            VEC a_i = SET1(A_AT(i)); /* A(i, p) in every lane */                            \
            for (int v = 0; v < NV; v++) acc[i][v] = FMADD(a_i, row[v], acc[i][v]);         \
        }                                                                                   \
    }
#define PACKED_A(i) a[i]
#define ROWS_OF_A(i) a[(i) * lda]

/* One kernel for a vector type: NV vectors of LANES elements per row of the tile; rows of the
   B panel are BSTEP elements apart (NV * LANES, or NR for a narrow kernel on a full panel). */
#define DEFINE_KERNEL(S, T, VEC, LANES, MR, NV, BSTEP, ZERO, LOAD, STORE, SET1, FMADD, ADD) \
    static void kernel_##S(size_t kc, const void *a_, size_t lda, const void *b_, void *c_, \
                           size_t ldc, int first)                                           \
    {                                                                                       \
        const T *a = (const T *)a_, *b = (const T *)b_;                                     \
        T *c = (T *)c_;                                                                     \
        VEC acc[MR][NV];                                                                    \
        for (int i = 0; i < MR; i++) {                                                      \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                         \
            _mm_prefetch((const char *)(c + i * ldc + NV * LANES - 1), _MM_HINT_T0);        \
            for (int v = 0; v < NV; v++) acc[i][v] = ZERO();                                \
        }                                                                                   \
        if (lda == 0)                                                                       \
            KERNEL_STEPS(PACKED_A, MR, VEC, MR, NV, LANES, BSTEP, LOAD, SET1, FMADD)             \
        else                                                                                \
            KERNEL_STEPS(ROWS_OF_A, 1, VEC, MR, NV, LANES, BSTEP, LOAD, SET1, FMADD)             \
        for (int i = 0; i < MR; i++)                                                        \
            for (int v = 0; v < NV; v++) {                                                  \
                T *out = c + i * ldc + v * LANES;                                           \
                STORE(out, first ? acc[i][v] : ADD(LOAD(out), acc[i][v]));                  \
            }                                                                               \
    }

/* axpy_block(m, ld, x, xs, p0, p1, acc): acc[j] = sum over p0 <= p < p1 of x[p*xs] * m[p*ld + j] for
   the NV*LANES columns j of one block, a multiply-add chain from zero per column. */
#define DEFINE_AXPY_BLOCK(S, T, VEC, LANES, NV, ZERO, LOAD, STORE, SET1, FMADD)            \
    static void axpy_block_##S(const T *m, int64_t ld, const T *x, int64_t xs, size_t p0,  \
                               size_t p1, T *acc)                                           \
    {                                                                                       \
        VEC sum[NV];                                                                        \
        for (int v = 0; v < NV; v++) sum[v] = ZERO();                                       \
        for (size_t p = p0; p < p1; p++) {                                                  \
            VEC xp = SET1(x[(int64_t)p * xs]);                                              \
            for (int v = 0; v < NV; v++)                                                    \
                sum[v] = FMADD(xp, LOAD(m + (int64_t)p * ld + v * LANES), sum[v]);          \
        }                                                                                   \
        for (int v = 0; v < NV; v++) STORE(acc + v * LANES, sum[v]);                        \
    }

#if defined(__AVX512F__)

/* 14 rows x 2 zmm: 28 accumulators, 2 row registers, 1 broadcast (of 32 registers). */
#define MR_F32 14
#define NR_F32 32
#define MR_F64 14
#define NR_F64 16
DEFINE_KERNEL(f32, float, __m512, 16, MR_F32, 2, NR_F32, _mm512_setzero_ps, _mm512_loadu_ps,
              _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
DEFINE_KERNEL(f64, double, __m512d, 8, MR_F64, 2, NR_F64, _mm512_setzero_pd, _mm512_loadu_pd,
              _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd)
/* Narrow kernels: the left half of a tile, for edge tiles at most half as wide. */
#define NARROW_F32 16
#define NARROW_F64 8
DEFINE_KERNEL(f32_narrow, float, __m512, 16, MR_F32, 1, NR_F32, _mm512_setzero_ps,
              _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
DEFINE_KERNEL(f64_narrow, double, __m512d, 8, MR_F64, 1, NR_F64, _mm512_setzero_pd,
              _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd)
/* Short kernels: 8 rows, for products with few rows (a batch of 64 is 8 tiles, where 14-row
   tiles would leave a 6-row hole in the fifth). */
#define SHORT_MR 8
DEFINE_KERNEL(f32_short, float, __m512, 16, SHORT_MR, 2, NR_F32, _mm512_setzero_ps,
              _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
DEFINE_KERNEL(f64_short, double, __m512d, 8, SHORT_MR, 2, NR_F64, _mm512_setzero_pd,
              _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd)
DEFINE_KERNEL(f32_short_narrow, float, __m512, 16, SHORT_MR, 1, NR_F32, _mm512_setzero_ps,
              _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
DEFINE_KERNEL(f64_short_narrow, double, __m512d, 8, SHORT_MR, 1, NR_F64, _mm512_setzero_pd,
              _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd)
#define AXPY_COLS_F32 64
#define AXPY_COLS_F64 32
DEFINE_AXPY_BLOCK(f32, float, __m512, 16, 4, _mm512_setzero_ps, _mm512_loadu_ps,
                  _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps)
DEFINE_AXPY_BLOCK(f64, double, __m512d, 8, 4, _mm512_setzero_pd, _mm512_loadu_pd,
                  _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd)

#elif defined(__AVX2__) && defined(__FMA__)

/* 6 rows x 2 ymm: 12 accumulators, 2 row registers, 1 broadcast (of 16 registers). */
#define MR_F32 6
#define NR_F32 16
#define MR_F64 6
#define NR_F64 8
DEFINE_KERNEL(f32, float, __m256, 8, MR_F32, 2, NR_F32, _mm256_setzero_ps, _mm256_loadu_ps,
              _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
DEFINE_KERNEL(f64, double, __m256d, 4, MR_F64, 2, NR_F64, _mm256_setzero_pd, _mm256_loadu_pd,
              _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd)
#define NARROW_F32 8
#define NARROW_F64 4
DEFINE_KERNEL(f32_narrow, float, __m256, 8, MR_F32, 1, NR_F32, _mm256_setzero_ps,
              _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
DEFINE_KERNEL(f64_narrow, double, __m256d, 4, MR_F64, 1, NR_F64, _mm256_setzero_pd,
              _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd)
#define AXPY_COLS_F32 32
#define AXPY_COLS_F64 16
DEFINE_AXPY_BLOCK(f32, float, __m256, 8, 4, _mm256_setzero_ps, _mm256_loadu_ps,
                  _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps)
DEFINE_AXPY_BLOCK(f64, double, __m256d, 4, 4, _mm256_setzero_pd, _mm256_loadu_pd,
                  _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd)

#else

/* Plain C: a 4 x 8 tile in a local array; `acc += a*b` is one multiply-add per step
   (fused where the target has FMA and -ffp-contract=fast allows it). */
#define MR_F32 4
#define NR_F32 8
#define MR_F64 4
#define NR_F64 8
#define DEFINE_KERNEL_C(S, T, MR, NR)                                                      \
    static void kernel_##S(size_t kc, const void *a_, size_t lda, const void *b_, void *c_, \
                           size_t ldc, int first)                                           \
    {                                                                                       \
        const T *a = (const T *)a_, *b = (const T *)b_;                                     \
        T *c = (T *)c_;                                                                     \
        T acc[MR][NR] = {{0}};                                                              \
        size_t ars = lda ? lda : 1, aps = lda ? 1 : MR; /* A(i, p) is a[i*ars + p*aps] */   \
        for (size_t p = 0; p < kc; p++, a += aps, b += NR)                                  \
            for (int i = 0; i < MR; i++)                                                    \
                for (int j = 0; j < NR; j++) acc[i][j] += a[i * ars] * b[j];                \
        for (int i = 0; i < MR; i++)                                                        \
            for (int j = 0; j < NR; j++)                                                    \
                c[i * ldc + j] = first ? acc[i][j] : c[i * ldc + j] + acc[i][j];            \
    }
DEFINE_KERNEL_C(f32, float, MR_F32, NR_F32)
DEFINE_KERNEL_C(f64, double, MR_F64, NR_F64)
#define NARROW_F32 0 /* no narrow kernels: edge tiles use the full one */
#define NARROW_F64 0
#define kernel_f32_narrow NULL
#define kernel_f64_narrow NULL
#define AXPY_COLS_F32 16
#define AXPY_COLS_F64 16
#define DEFINE_AXPY_BLOCK_C(S, T, COLS)                                                    \
    static void axpy_block_##S(const T *m, int64_t ld, const T *x, int64_t xs, size_t p0,  \
                               size_t p1, T *acc)                                           \
    {                                                                                       \
        for (int j = 0; j < COLS; j++) acc[j] = 0;                                          \
        for (size_t p = p0; p < p1; p++)                                                    \
            for (int j = 0; j < COLS; j++) acc[j] += x[(int64_t)p * xs] * m[(int64_t)p * ld + j]; \
    }
DEFINE_AXPY_BLOCK_C(f32, float, AXPY_COLS_F32)
DEFINE_AXPY_BLOCK_C(f64, double, AXPY_COLS_F64)

#endif

/* ---- matrix-vector products (few rows or columns of C): no packing, memory-bound -------
 * Same order of summation as the tiles: per block of kc steps, a multiply-add chain from
 * zero, added to the output after the first block. Two shapes of loop:
 *   dots:  out[i*os] = sum_p M[i*ld + p] * x[p*xs]   (rows of M contiguous; 8 rows at once)
 *   axpys: out[j*os] = sum_p x[p*xs] * M[p*ld + j]   (M read row by row; vectorised over j) */
#define GEMV_ROWS 8
/* The eight chains of dots are faster as scalar code than as GCC's gathered vectors. */
#if defined(__GNUC__) && !defined(__clang__)
#define SCALAR_LOOPS __attribute__((optimize("no-tree-vectorize")))
#else
#define SCALAR_LOOPS
#endif
#define DEFINE_GEMV(T, S, COLS)                                                                 \
    SCALAR_LOOPS static void dots_##S(const void *m_, int64_t ld, const void *x_, int64_t xs, \
                                      size_t rows, size_t depth, size_t kc, void *out_,    \
                                      int64_t os)                                          \
    {                                                                                       \
        const T *m = (const T *)m_, *x = (const T *)x_;                                     \
        T *out = (T *)out_;                                                                 \
        for (size_t i0 = 0; i0 < rows; i0 += GEMV_ROWS) {                                   \
            size_t live = rows - i0 < GEMV_ROWS ? rows - i0 : GEMV_ROWS;                    \
            const T *row[GEMV_ROWS];                                                        \
            for (size_t r = 0; r < GEMV_ROWS; r++) /* past the end: repeat the last row */ \
                row[r] = m + (int64_t)(i0 + (r < live ? r : live - 1)) * ld;                \
            for (size_t p0 = 0; p0 < depth; p0 += kc) {                                     \
                size_t p1 = depth - p0 < kc ? depth : p0 + kc;                              \
                T acc[GEMV_ROWS] = {0};                                                     \
                for (size_t p = p0; p < p1; p++) {                                          \
                    T xp = x[(int64_t)p * xs];                                              \
                    for (int r = 0; r < GEMV_ROWS; r++) acc[r] += row[r][p] * xp;           \
                }                                                                           \
                for (size_t r = 0; r < live; r++) {                                         \
                    T *o = out + (int64_t)(i0 + r) * os;                                    \
                    *o = p0 == 0 ? acc[r] : *o + acc[r];                                    \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static void axpys_##S(const void *m_, int64_t ld, const void *x_, int64_t xs,           \
                          size_t cols, size_t depth, size_t kc, void *out_, int64_t os)     \
    {                                                                                       \
        const T *m = (const T *)m_, *x = (const T *)x_;                                     \
        T *out = (T *)out_;                                                                 \
        for (size_t j0 = 0; j0 < cols; j0 += COLS) {                                        \
            size_t live = cols - j0 < COLS ? cols - j0 : COLS;                              \
            for (size_t p0 = 0; p0 < depth; p0 += kc) {                                     \
                size_t p1 = depth - p0 < kc ? depth : p0 + kc;                              \
                T acc[COLS];                                                                \
                if (live == COLS) {                                                         \
                    axpy_block_##S(m + j0, ld, x, xs, p0, p1, acc);                         \
                } else { /* the last, partial block */                                      \
                    for (size_t j = 0; j < live; j++) acc[j] = 0;                           \
                    for (size_t p = p0; p < p1; p++)                                        \
                        for (size_t j = 0; j < live; j++)                                   \
                            acc[j] += x[(int64_t)p * xs] * m[(int64_t)p * ld + (int64_t)(j0 + j)]; \
                }                                                                           \
                for (size_t j = 0; j < live; j++) {                                         \
                    T *o = out + (int64_t)(j0 + j) * os;                                    \
                    *o = p0 == 0 ? acc[j] : *o + acc[j];                                    \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }
DEFINE_GEMV(float, f32, AXPY_COLS_F32)
DEFINE_GEMV(double, f64, AXPY_COLS_F64)

/* ---- the blocked driver, shared by both dtypes -------------------------------------------- */

/* With this few rows or columns, C is computed as matrix-vector products (no packing): up
   to 4 when the vector steps through contiguous rows of the matrix (axpys, vectorised), up to
   2 when each output element is a dot product along a row (dots, scalar chains). */
#define GEMV_MAX 4
#define GEMV_MAX_DOTS 2

/* Everything the driver needs to know about one dtype. */
typedef struct kind {
    size_t size;           /* bytes per element */
    size_t mr, nr;         /* register tile */
    size_t mc, kc, nc;     /* cache blocks (mc a multiple of mr, nc of nr) */
    void (*pack)(const void *, int64_t, int64_t, size_t, size_t, size_t, void *);
    void (*kernel)(size_t, const void *, size_t, const void *, void *, size_t, int);
    size_t narrow;  /* columns of the narrow kernel (0: none) */
    void (*kernel_narrow)(size_t, const void *, size_t, const void *, void *, size_t, int);
    void (*dots)(const void *, int64_t, const void *, int64_t, size_t, size_t, size_t, void *,
                 int64_t);
    void (*axpys)(const void *, int64_t, const void *, int64_t, size_t, size_t, size_t, void *,
                  int64_t);
} kind;

/* Cache blocks (tuned on a 48 KiB L1 / 2 MiB L2 core). The kernel streams KC x NR slivers
   of B from the KC x NC block of B (1 MiB: it stays in L2), while the KC x MR sliver of A
   (28 KiB float32) is reused by the NC / NR tiles of one row. The MC x KC block of A (up to
   8 MiB) is read from L3: MC is large because every block of MC rows packs all of B again. */
#define MC_ROWS 4096
#define MC_F32 (MC_ROWS / MR_F32 * MR_F32)
#define KC_F32 512
#define NC_F32 (16 * NR_F32)
#define MC_F64 (MC_ROWS / MR_F64 * MR_F64)
#define KC_F64 256
#define NC_F64 (32 * NR_F64)
static const kind KIND_F32 = {sizeof(float), MR_F32, NR_F32, MC_F32, KC_F32, NC_F32,
                              pack_f32, kernel_f32, NARROW_F32, kernel_f32_narrow,
                              dots_f32, axpys_f32};
static const kind KIND_F64 = {sizeof(double), MR_F64, NR_F64, MC_F64, KC_F64, NC_F64,
                              pack_f64, kernel_f64, NARROW_F64, kernel_f64_narrow,
                              dots_f64, axpys_f64};
#ifdef SHORT_MR
/* The same with 8-row tiles. */
static const kind SHORT_F32 = {sizeof(float), SHORT_MR, NR_F32, MC_ROWS / SHORT_MR * SHORT_MR,
                               KC_F32, NC_F32,
                               pack_f32, kernel_f32_short, NARROW_F32, kernel_f32_short_narrow,
                               dots_f32, axpys_f32};
static const kind SHORT_F64 = {sizeof(double), SHORT_MR, NR_F64, MC_ROWS / SHORT_MR * SHORT_MR,
                               KC_F64, NC_F64,
                               pack_f64, kernel_f64_short, NARROW_F64, kernel_f64_short_narrow,
                               dots_f64, axpys_f64};
#endif

/* The tile shape for m rows: 8-row tiles when they pad m by at least 5% fewer rows than the
   usual tiles (m = 64, 128: yes; 256, 512: no). Every element of C is computed the same way
   whatever the tile shape, so the choice never changes a result. */
static const kind *kind_for(const kind *K, size_t m)
{
#ifdef SHORT_MR
    size_t usual = (m + K->mr - 1) / K->mr * K->mr;
    size_t few = (m + SHORT_MR - 1) / SHORT_MR * SHORT_MR;
    if (21 * few < 20 * usual)
        return K == &KIND_F32 ? &SHORT_F32 : &SHORT_F64;
#else
    (void)m;
#endif
    return K;
}

/* The operands of one product: C (m x n, row-major) = A (m x k) B (k x n), where element
   (i, p) of A is a[i*a_rs + p*a_cs] and element (j, p) of B^T is b[j*bt_rs + p*bt_cs]. */
typedef struct operands {
    const char *a, *b;
    char *c;
    size_t m, n, k;
    int64_t a_rs, a_cs, bt_rs, bt_cs;
} operands;

static size_t min_size(size_t x, size_t y) { return x < y ? x : y; }

/* Whether the product goes to gemv: few columns (or rows), counting the loop it would use. */
static int few_vectors(const operands *o)
{
    if (o->n <= GEMV_MAX && o->n <= o->m) /* columns of C: dots when A's rows are contiguous */
        return o->n <= (o->a_cs == 1 ? GEMV_MAX_DOTS : GEMV_MAX);
    if (o->m <= GEMV_MAX) /* rows of C: dots when B's columns are contiguous */
        return o->m <= (o->bt_cs == 1 ? GEMV_MAX_DOTS : GEMV_MAX);
    return 0;
}
static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* Room for one tile of either dtype (the typedef fails to compile if a tile grows past it). */
#define TILE_BUFFER 512
typedef char tile_buffer_fits[MR_F32 * NR_F32 * sizeof(float) <= TILE_BUFFER * sizeof(double) &&
                              MR_F64 * NR_F64 <= TILE_BUFFER ? 1 : -1];

/* One MR x NR tile; an edge tile (rows < MR or cols < NR) goes through a full-size buffer,
   with the narrow kernel when it is at most half as wide. */
static void tile(const kind *K, size_t kc, const char *a, size_t lda, const char *b, char *c,
                 size_t ldc, size_t rows, size_t cols, int first)
{
    void (*kernel)(size_t, const void *, size_t, const void *, void *, size_t, int) = K->kernel;
    size_t width = K->nr;
    if (cols <= K->narrow)
        kernel = K->kernel_narrow, width = K->narrow;
    if (rows == K->mr && cols == width) {
        kernel(kc, a, lda, b, c, ldc, first);
        return;
    }
    double buffer[TILE_BUFFER]; /* MR x NR elements of either dtype */
    char *t = (char *)buffer;
    size_t row_bytes = cols * K->size, t_ld = K->nr * K->size, c_ld = ldc * K->size;
    if (!first)
        for (size_t i = 0; i < rows; i++) memcpy(t + i * t_ld, c + i * c_ld, row_bytes);
    kernel(kc, a, lda, b, t, K->nr, first);
    for (size_t i = 0; i < rows; i++) memcpy(c + i * c_ld, t + i * t_ld, row_bytes);
}

/* C[i0:i1, j0:j1] on the calling thread, with pack buffers pa (MC x KC) and pb (KC x NC). */
static void gemm_block(const kind *K, const operands *o, size_t i0, size_t i1, size_t j0,
                       size_t j1, char *pa, char *pb)
{
    const size_t s = K->size;
    /* rows of A contiguous over k, whole tiles, and at most one B block wide: the kernel reads
       A in place, unpacked (with more columns, packing A pays for itself: the packed sliver
       is contiguous, where rows a power of two apart would collide in the same L1 sets) */
    int direct_a = o->a_cs == 1 && (i1 - i0) % K->mr == 0 && j1 - j0 <= K->nc;
    /* row blocks of equal size (whole tiles, at most MC rows): every block repacks all of B,
       so a last block of a few rows would cost as much packing as a full one */
    size_t blocks = (i1 - i0 + K->mc - 1) / K->mc;
    size_t step = round_up((i1 - i0 + blocks - 1) / blocks, K->mr);
    for (size_t ic = i0; ic < i1; ic += step) {
        size_t mc = min_size(step, i1 - ic);
        for (size_t pc = 0; pc < o->k; pc += K->kc) {
            size_t kc = min_size(K->kc, o->k - pc);
            const char *a = o->a + (ic * o->a_rs + pc * o->a_cs) * s;
            if (!direct_a)
                K->pack(a, o->a_rs, o->a_cs, mc, kc, K->mr, pa);
            for (size_t jc = j0; jc < j1; jc += K->nc) {
                size_t nc = min_size(K->nc, j1 - jc);
                const char *b = o->b + (jc * o->bt_rs + pc * o->bt_cs) * s;
                K->pack(b, o->bt_rs, o->bt_cs, nc, kc, K->nr, pb);
                for (size_t ir = 0; ir < mc; ir += K->mr)
                    for (size_t jr = 0; jr < nc; jr += K->nr)
                        tile(K, kc, direct_a ? a + ir * o->a_rs * s : pa + ir * kc * s,
                             direct_a ? (size_t)o->a_rs : 0, pb + jr * kc * s,
                             o->c + ((ic + ir) * o->n + jc + jr) * s, o->n,
                             min_size(K->mr, mc - ir), min_size(K->nr, nc - jr), pc == 0);
            }
        }
    }
}

/* Pack buffers for `threads` threads: one allocation, each buffer 64-byte aligned. */
typedef struct buffers {
    void *memory;
    char *base;
    size_t a_bytes, b_bytes; /* per thread */
} buffers;

static int buffers_alloc(buffers *bf, const kind *K, const operands *o, int threads)
{
    size_t kc = min_size(K->kc, o->k);
    bf->a_bytes = round_up(round_up(min_size(K->mc, o->m), K->mr) * kc * K->size, 64);
    bf->b_bytes = round_up(round_up(min_size(K->nc, o->n), K->nr) * kc * K->size, 64);
    size_t total = (bf->a_bytes + bf->b_bytes) * (size_t)threads + 64;
    bf->memory = malloc(total);
    if (!bf->memory)
        return FPK_ERR_NOMEM;
    bf->base = (char *)(((uintptr_t)bf->memory + 63) & ~(uintptr_t)63);
    return FPK_OK;
}

/* How many threads for an m x n x k product: about one per 2^21 multiply-adds (matrix-vector
   products, which are memory-bound: one per FPK_GRAIN elements of the matrix), and never more
   than there are tiles of C. */
static int matmul_threads(const kind *K, const operands *o)
{
    size_t m = o->m, n = o->n, k = o->k;
    size_t work = m * n, tiles = ((m + K->mr - 1) / K->mr) * ((n + K->nr - 1) / K->nr);
    work = k != 0 && work > SIZE_MAX / k ? SIZE_MAX : work * k;
    if (work == 0)
        return 1;
    if (few_vectors(o))
        return fpk_threads_for(work / (m < n ? m : n));
    int threads = fpk_threads_for(work / 16);
    return (size_t)threads > tiles ? (int)tiles : threads;
}

/* Cut C into a tm x tn grid of rectangles (tm * tn == threads) that leave each thread the
   fewest rows of A plus columns of B to pack (few rows: split the columns), and give rectangle t its row range [*i0, *i1) and column range [*j0, *j1). */
static void grid_cell(const kind *K, size_t m, size_t n, int threads, int t, size_t *i0,
                      size_t *i1, size_t *j0, size_t *j1)
{
    size_t row_tiles = (m + K->mr - 1) / K->mr, col_tiles = (n + K->nr - 1) / K->nr;
    int tm = 1;
    double best = -1e300;
    for (int d = 1; d <= threads; d++) {
        if (threads % d)
            continue;
        double h = (double)row_tiles * K->mr / d, w = (double)col_tiles * K->nr / (threads / d);
        double packed = -(h + w); /* rows of A plus columns of B a thread packs, negated */
        if ((size_t)d <= row_tiles && (size_t)(threads / d) <= col_tiles && packed > best) {
            best = packed;
            tm = d;
        }
    }
    int tn = threads / tm, ti = t / tn, tj = t % tn;
    *i0 = min_size(row_tiles * ti / tm * K->mr, m);
    *i1 = min_size(row_tiles * (ti + 1) / tm * K->mr, m);
    *j0 = min_size(col_tiles * tj / tn * K->nr, n);
    *j1 = min_size(col_tiles * (tj + 1) / tn * K->nr, n);
}

/* A product with few columns or rows (see few_vectors): one matrix-vector
   product per column (or row) of C, each split over threads by output elements. */
#define GEMV_MAX 4
static int gemv(const kind *K, const operands *o, int threads)
{
    const size_t s = K->size;
    int columns = o->n <= GEMV_MAX && o->n <= o->m;
    size_t vectors = columns ? o->n : o->m, count = columns ? o->m : o->n;
    /* output element i of vector v is c[v*c_vs + i*os]; it reads x[p*xs] (from x + v*x_vs)
       and M[i*rs + p*cs] */
    const char *x = columns ? o->b : o->a, *m = columns ? o->a : o->b;
    int64_t x_vs = columns ? o->bt_rs : o->a_rs, xs = columns ? o->bt_cs : o->a_cs;
    int64_t rs = columns ? o->a_rs : o->bt_rs, cs = columns ? o->a_cs : o->bt_cs;
    int64_t c_vs = columns ? 1 : (int64_t)o->n, os = columns ? (int64_t)o->n : 1;
    if (threads > 1 && count < 2 * 16)
        threads = 1;
    for (size_t v = 0; v < vectors; v++) {
        const char *xv = x + (int64_t)v * x_vs * (int64_t)s;
        char *cv = o->c + (int64_t)v * c_vs * (int64_t)s;
        FPK_PARALLEL_RANGES(count, threads, lo, hi,
            if (lo < hi) {
                char *out = cv + (int64_t)lo * os * (int64_t)s;
                if (cs == 1) /* each output element reads a contiguous run of M */
                    K->dots(m + (int64_t)lo * rs * (int64_t)s, rs, xv, xs, hi - lo, o->k,
                            K->kc, out, os);
                else /* rs == 1: consecutive output elements are side by side in M */
                    K->axpys(m + lo * s, cs, xv, xs, hi - lo, o->k, K->kc, out, os);
            });
    }
    return FPK_OK;
}

/* The product on `threads` threads (1: on the calling thread, no parallel region). */
static int gemm(const kind *K, const operands *o, int threads)
{
    if (o->m == 0 || o->n == 0)
        return FPK_OK;
    if (o->k == 0) { /* an empty sum: zeros */
        memset(o->c, 0, o->m * o->n * K->size);
        return FPK_OK;
    }
    if (few_vectors(o))
        return gemv(K, o, threads);
    buffers bf;
    if (buffers_alloc(&bf, K, o, threads) != FPK_OK)
        return FPK_ERR_NOMEM;
    size_t per_thread = bf.a_bytes + bf.b_bytes;
    if (threads <= 1) {
        gemm_block(K, o, 0, o->m, 0, o->n, bf.base, bf.base + bf.a_bytes);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            size_t i0, i1, j0, j1;
            grid_cell(K, o->m, o->n, nt, t, &i0, &i1, &j0, &j1);
            char *mine = bf.base + (size_t)t * per_thread;
            if (i0 < i1 && j0 < j1)
                gemm_block(K, o, i0, i1, j0, j1, mine, mine + bf.a_bytes);
        }
#else
        gemm_block(K, o, 0, o->m, 0, o->n, bf.base, bf.base + bf.a_bytes);
#endif
    }
    free(bf.memory);
    return FPK_OK;
}

/* Fill the operand description of c = op(a) op(b) (see fpkernels.h for the layouts). */
static int describe(operands *o, const void *a, const void *b, void *c, size_t m, size_t n,
                    size_t k, int transpose_a, int transpose_b, size_t size)
{
    if ((m && n > SIZE_MAX / m) || (m && k > SIZE_MAX / m) || (n && k > SIZE_MAX / n) ||
        (m * n > SIZE_MAX / size) || m * n > INT64_MAX / 2 || m * k > INT64_MAX / 2 ||
        n * k > INT64_MAX / 2)
        return FPK_ERR_OVERFLOW;
    if ((m * k != 0 && !a) || (k * n != 0 && !b) || (m * n != 0 && !c))
        return FPK_ERR_NULL;
    o->a = (const char *)a;
    o->b = (const char *)b;
    o->c = (char *)c;
    o->m = m;
    o->n = n;
    o->k = k;
    o->a_rs = transpose_a ? 1 : (int64_t)k;  /* a is m x k, or k x m when transposed */
    o->a_cs = transpose_a ? (int64_t)m : 1;
    o->bt_rs = transpose_b ? (int64_t)k : 1; /* b is k x n, or n x k when transposed */
    o->bt_cs = transpose_b ? 1 : (int64_t)n;
    return FPK_OK;
}

/* c = op(a) op(b) for one pair of matrices. */
static int matmul(const kind *K, const void *a, const void *b, void *c, size_t m, size_t n,
                  size_t k, int transpose_a, int transpose_b)
{
    operands o;
    int status = describe(&o, a, b, c, m, n, k, transpose_a, transpose_b, K->size);
    if (status != FPK_OK)
        return status;
    K = kind_for(K, m);
    return gemm(K, &o, matmul_threads(K, &o));
}

/* c[t] = op(a + a_offsets[t]) op(b + b_offsets[t]) for t < batch; c[t] is c + t*m*n. Small
   matrices run one per thread; large ones one after another, each on all threads. */
static int matmul_batched(const kind *K, const void *a, const void *b, void *c, size_t batch,
                          size_t m, size_t n, size_t k, int transpose_a, int transpose_b,
                          const int64_t *a_offsets, const int64_t *b_offsets)
{
    operands o;
    int status = describe(&o, a, b, c, m, n, k, transpose_a, transpose_b, K->size);
    if (status != FPK_OK || batch == 0 || m * n == 0)
        return status;
    if (k && (!a_offsets || !b_offsets))
        return FPK_ERR_NULL;
    if (batch > SIZE_MAX / (m * n * K->size))
        return FPK_ERR_OVERFLOW;
    K = kind_for(K, m);
    int threads = matmul_threads(K, &o);
    int across = 1; /* threads across matrices of the batch */
    if (threads == 1 && batch > 1) {
        size_t total = batch * m * n; /* saturating batch * m * n * k / 16 */
        total = k != 0 && total > SIZE_MAX / k ? SIZE_MAX : total * k;
        across = fpk_threads_for(total / 16);
        across = (size_t)across > batch ? (int)batch : across;
    }
    int failed = 0;
#pragma omp parallel for num_threads(across) schedule(static) if (across > 1) reduction(| : failed)
    for (size_t t = 0; t < batch; t++) {
        operands ot = o;
        ot.a = o.a + (k ? a_offsets[t] : 0) * (int64_t)K->size;
        ot.b = o.b + (k ? b_offsets[t] : 0) * (int64_t)K->size;
        ot.c = o.c + t * m * n * K->size;
        if (gemm(K, &ot, threads) != FPK_OK)
            failed = 1;
    }
    return failed ? FPK_ERR_NOMEM : FPK_OK;
}

/* ---- public functions ---- */

int fpk_matmul_f32(const float *a, const float *b, float *c, size_t m, size_t n, size_t k,
                   int transpose_a, int transpose_b)
{
    return matmul(&KIND_F32, a, b, c, m, n, k, transpose_a, transpose_b);
}

int fpk_matmul_f64(const double *a, const double *b, double *c, size_t m, size_t n, size_t k,
                   int transpose_a, int transpose_b)
{
    return matmul(&KIND_F64, a, b, c, m, n, k, transpose_a, transpose_b);
}

int fpk_matmul_batched_f32(const float *a, const float *b, float *c, size_t batch, size_t m,
                           size_t n, size_t k, int transpose_a, int transpose_b,
                           const int64_t *a_offsets, const int64_t *b_offsets)
{
    return matmul_batched(&KIND_F32, a, b, c, batch, m, n, k, transpose_a, transpose_b,
                          a_offsets, b_offsets);
}

int fpk_matmul_batched_f64(const double *a, const double *b, double *c, size_t batch, size_t m,
                           size_t n, size_t k, int transpose_a, int transpose_b,
                           const int64_t *a_offsets, const int64_t *b_offsets)
{
    return matmul_batched(&KIND_F64, a, b, c, batch, m, n, k, transpose_a, transpose_b,
                          a_offsets, b_offsets);
}
