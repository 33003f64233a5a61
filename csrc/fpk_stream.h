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

/* Bytes per staged block: small, as a block leaves in one burst of streaming stores, and a
   burst longer than the core can hold in flight stalls it. float64, 8M doubles, 1 thread:
   sigmoid backward took 6.5-6.7 ms with 4 KB blocks, 4.8-5.3 with plain stores, 4.3-4.6 with
   1 KB; 2 threads: 3.2-3.5 (4 KB), 2.5-2.6 (1 KB), swish backward 4.0-4.3 and 3.2-3.4, and
   sigmoid's memory-bound backward_from_output 1.94-1.95 and 1.69-1.72 (8 KB: 2.29-2.35). */
#define FPK_STAGE_BYTES 1024

/* Whether an output of n elements of `size` bytes at out is written with streaming stores. */
static inline int fpk_streams(const void *out, size_t n, size_t size)
{
    return FPK_CAN_STREAM && n >= FPK_STREAM_BYTES / size && (uintptr_t)out % size == 0;
}

/* The same for `rows` rows of `cols`, written a row at a time. Rows that do not start on
   64-byte boundaries (NumPy aligns arrays to 16 bytes) begin and end with cache lines shared
   with their neighbours, which take plain stores; on rows shorter than 2 KB that cost more than
   streaming saved (AVX-512, 16M floats, 2 threads, out at 16 bytes from a boundary: softmax
   forward on rows of 256 4.13 ms streaming against 2.86 plain, softmax_cross_entropy's
   gradient on rows of 64 13.3 against 5.7; on rows of 64-byte lines streaming is as fast or
   faster: 3.11 / 2.93 and 4.44 / 5.63). */
static inline int fpk_streams_rows(const void *out, size_t rows, size_t cols, size_t size)
{
    size_t row_bytes = cols * size;
    int whole_lines = (uintptr_t)out % 64 == 0 && row_bytes % 64 == 0;
    return (row_bytes >= 2048 || whole_lines) && fpk_streams(out, rows * cols, size);
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

/* Ask for [p, p + bytes) to be brought into the cache: hardware prefetchers alone leave a
   loop that both computes and streams waiting on memory much of the time. __builtin_prefetch,
   not _mm_prefetch, here and in fpk_read_ahead: GCC 12 compiled _mm_prefetch as nothing where
   the caller was inlined by force (FPK_VECTOR; see fpk_read_ahead). */
static inline void fpk_prefetch(const void *p, size_t bytes)
{
#if FPK_CAN_STREAM
    for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch((const char *)p + at, 0, 3);
#else
    (void)p, (void)bytes;
#endif
}

/* Streaming stores are weakly ordered: fence them before another thread may read out. Once
   per thread, after its last one: a fence per row of 256 took softmax 2.6 times as long. */
static inline void fpk_stream_fence(void)
{
#if FPK_CAN_STREAM
    _mm_sfence();
#endif
}

/* for i in [lo, hi): out[i] = VALUE, an expression of i and of v = x[i]; T is float (SFX f32)
   or double (f64). With `streaming`, a first short block reaches out's next 64-byte boundary
   and the others are staged FPK_STAGE_BYTES at a time, reading x and y (a second input, or x)
   one block ahead; else it is one plain loop. (One copy of the loop body: VALUE can be long,
   and GCC stops inlining into a function that repeats it.) The caller fences once, after its
   last range (fpk_stream_fence). */
#define FPK_STORE_RANGE(T, SFX, out, x, y, lo, hi, streaming, i, v, VALUE)                   \
    do {                                                                                    \
        for (size_t at_ = (lo), end_ = (hi), count_; at_ < end_; at_ += count_) {          \
            T stage_[FPK_STAGE_BYTES / sizeof(T)];                                          \
            size_t left_ = end_ - at_;                                                      \
            size_t head_ = (streaming) ? (64 - (uintptr_t)((out) + at_) % 64) % 64 / sizeof(T) : 0; \
            int staged_ = (streaming) && head_ == 0;                                        \
            count_ = !(streaming) ? left_ : head_ ? head_ : FPK_STAGE_BYTES / sizeof(T);    \
            count_ = count_ < left_ ? count_ : left_;                                       \
            T *dst_ = staged_ ? stage_ : (out) + at_;                                       \
            if (staged_ && left_ > 2 * count_) {                                            \
                fpk_prefetch((x) + at_ + count_, count_ * sizeof(T));                       \
                fpk_prefetch((y) + at_ + count_, count_ * sizeof(T));                       \
            }                                                                               \
            _Pragma("omp simd")  /* out may be x exactly: still independent iterations */ \
            for (size_t j_ = 0; j_ < count_; j_++) {                                        \
                size_t i = at_ + j_;                                                        \
                T v = (x)[i];                                                               \
                dst_[j_] = (T)(VALUE);                                                      \
            }                                                                               \
            if (staged_) fpk_stream_block_##SFX((out) + at_, stage_, count_);               \
        }                                                                                   \
    } while (0)

#include "fpk_simd.h"
#if FPK_SIMD
/* Vector loops (the float32 kernels of activations.c and losses.c), FPK_LANES at a step.
   On AVX-512 (Zen 5) hardware prefetchers alone left these loops waiting on memory about half
   the time (sigmoid forward at 16M on 2 threads 4.2 ms -> 2.4 ms when asking for the inputs
   4 KB ahead). On AVX2 (Zen 3) the same requests cost time instead (mse value at 16M on 1
   thread 7.4 -> 4.7 ms without them, 2 threads no slower), so only AVX-512 builds make them. */
#define FPK_PREFETCH_AHEAD 4096

static inline void fpk_read_ahead(const void *p)
{
#if defined(__AVX512F__)
    /* __builtin_prefetch (see fpk_prefetch): with _mm_prefetch softmax's short rows waited
       on memory, (1M, 10) float32 forward 10.1 ms on 1 thread, 5.4 when asked (in-cache pace) */
    __builtin_prefetch((const char *)p + FPK_PREFETCH_AHEAD, 0, 3);
#else
    (void)p;
#endif
}

/* lanes = max(lanes, the first `count` of p[0..FPK_LANES)), p read ahead (the row maxima of
   softmax and softmax_cross_entropy). NaN is skipped: vmaxps returns its second operand where
   either is NaN, and lanes never are. */
static inline vfloat max_step_v(vfloat lanes, const float *p, size_t count)
{
    fpk_read_ahead(p);
    return max_v(load_first_or_v(lanes, p, count), lanes);
}

/* How many of the `left` elements from out on the next step takes: FPK_LANES, or when
   streaming first those before out's next vector boundary, so that the full steps after can
   stream. */
static inline size_t fpk_step(const float *out, size_t left, int streaming)
{
    size_t bytes = sizeof(vfloat);
    size_t head = streaming ? (bytes - (uintptr_t)out % bytes) % bytes / sizeof(float) : 0;
    size_t step = head ? head : FPK_LANES;
    return left < step ? left : step;
}

/* out[0, step) = the first `step` lanes of v, with a streaming store for a full aligned step. */
static inline void fpk_store_step(float *out, vfloat v, size_t step, int streaming)
{
    if (streaming && step == FPK_LANES && (uintptr_t)out % sizeof(vfloat) == 0)
        stream_v(out, v);
    else
        store_first_v(out, v, step);
}

/* For each step of [lo, hi) that fpk_step gives (when streaming, the whole ones are aligned):
   the statements with i the step's first element and count its length. With WHOLE (a
   constant), and always where masks are emulated, a run of whole steps takes a loop of its own,
   in which count is the constant FPK_LANES: there is no fpk_step per step, and emulated masks
   fold away. With AVX-512's masks a masked step per vector cost element-wise kernels 12-20% in
   cache (scalar work on every step), but softmax's forward rows are better written at that
   pace: in a tight loop (a multiply-add a vector) a row went out in one burst of stores, which
   the next row's exponentials then waited behind (4096 x 4096 float32 14-17% slower). */
#define FOR_STEPS(out, lo, hi, streaming, whole, i, count, ...)                             \
    for (size_t i = (lo), step_; i < (hi); i += step_) {                                    \
        step_ = fpk_step((out) + i, (hi) - i, streaming);                                   \
        if (((whole) || !FPK_FREE_MASKS) && step_ == FPK_LANES) {                           \
            const size_t count = FPK_LANES;                                                 \
            for (; (hi) - i >= FPK_LANES; i += FPK_LANES) {                                 \
                __VA_ARGS__;                                                                \
            }                                                                               \
            step_ = 0;                                                                      \
        } else {                                                                            \
            const size_t count = step_;                                                     \
            __VA_ARGS__;                                                                    \
        }                                                                                   \
    }
#endif

#endif /* FPK_STREAM_H */
