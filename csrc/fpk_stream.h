/* fpk_stream.h - private to fpkernels' C files: writing large outputs with streaming stores.
 *
 * An ordinary store first reads the output's cache line from memory, then writes it back: a
 * kernel reading one array and writing another moves three arrays' worth of bytes. A streaming
 * (non-temporal) store sends the line straight to memory, so it moves two. That only pays when
 * the output is larger than the caches (it would not be read back from them anyway), hence the
 * FPK_STREAM_BYTES threshold of fpkernels.h.
 *
 * C has no streaming stores, and the kernels are plain loops the compiler vectorises. So
 * FPK_STORE_RANGE computes a block of results into a small buffer that stays in L1, then
 * streams the buffer out (fpk_stream_block), one block after another.
 */
#ifndef FPK_STREAM_H
#define FPK_STREAM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#define FPK_CAN_STREAM 1
#else
#define FPK_CAN_STREAM 0
#endif

#define FPK_STAGE 1024      /* elements per staged block: 4 or 8 KB, well inside L1 */

/* Whether an output of n elements of `size` bytes is written with streaming stores. */
static inline int fpk_streams(size_t n, size_t size)
{
    return FPK_CAN_STREAM && n >= FPK_STREAM_BYTES / size;
}

/* out[0, n) = stage[0, n) with streaming stores; out is 64-byte aligned. */
static inline void fpk_stream_block_f32(float *out, const float *stage, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_stream_ps(out + i, _mm512_loadu_ps(stage + i));
#elif defined(__AVX__)
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(out + i, _mm256_loadu_ps(stage + i));
#elif defined(__SSE2__)
    for (; i + 4 <= n; i += 4) _mm_stream_ps(out + i, _mm_loadu_ps(stage + i));
#endif
    for (; i < n; i++) out[i] = stage[i];
}

static inline void fpk_stream_block_f64(double *out, const double *stage, size_t n)
{
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 8 <= n; i += 8) _mm512_stream_pd(out + i, _mm512_loadu_pd(stage + i));
#elif defined(__AVX__)
    for (; i + 4 <= n; i += 4) _mm256_stream_pd(out + i, _mm256_loadu_pd(stage + i));
#elif defined(__SSE2__)
    for (; i + 2 <= n; i += 2) _mm_stream_pd(out + i, _mm_loadu_pd(stage + i));
#endif
    for (; i < n; i++) out[i] = stage[i];
}

/* Streaming stores are weakly ordered: fence them before another thread may read out. */
static inline void fpk_stream_fence(void)
{
#if FPK_CAN_STREAM
    _mm_sfence();
#endif
}

/* for i in [lo, hi): out[i] = VALUE, an expression of i and of v = x[i]; T is float (SFX f32)
   or double (f64). With `streaming`, the elements before out's first 64-byte boundary are stored
   directly and the rest staged FPK_STAGE at a time; else it is one plain loop. */
#define FPK_STORE_RANGE(T, SFX, out, x, lo, hi, streaming, i, v, VALUE)                         \
    do {                                                                                    \
        size_t at_ = (lo), end_ = (hi);                                                     \
        if (streaming)                                                                      \
            for (; at_ < end_ && (uintptr_t)((out) + at_) % 64; at_++) {                    \
                size_t i = at_;                                                             \
                T v = (x)[i];                                                               \
                (out)[i] = (T)(VALUE);                                                      \
            }                                                                               \
        while (at_ < end_) {                                                                \
            T stage_[FPK_STAGE];                                                            \
            size_t left_ = end_ - at_;                                                      \
            size_t count_ = !(streaming) ? left_ : left_ < FPK_STAGE ? left_ : FPK_STAGE;    \
            T *dst_ = (streaming) ? stage_ : (out) + at_;                                   \
            for (size_t j_ = 0; j_ < count_; j_++) {                                        \
                size_t i = at_ + j_;                                                        \
                T v = (x)[i];                                                               \
                dst_[j_] = (T)(VALUE);                                                      \
            }                                                                               \
            if (streaming) fpk_stream_block_##SFX((out) + at_, stage_, count_);             \
            at_ += count_;                                                                  \
        }                                                                                   \
        if (streaming) fpk_stream_fence();                                                  \
    } while (0)

#endif /* FPK_STREAM_H */
