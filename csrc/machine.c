/* machine.c - what this machine can do at best: memory copy bandwidth and peak FMA rate.
 *
 * The benchmark harness divides each kernel's bytes/time and flops/time by these two numbers,
 * measured in the same run with the same thread count, to say how close it gets to the
 * machine's limits.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE              /* clock_gettime, posix_memalign, madvise */
#endif
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "fpkernels.h"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

/* Wall-clock seconds. */
static double now(void)
{
#ifdef _OPENMP
    return omp_get_wtime();
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
#endif
}

/* Copy dst[lo, hi) = src[lo, hi) with streaming (non-temporal) stores, which skip reading
   the destination into the cache first; lo and hi are multiples of 16 floats, src and dst
   64-byte aligned. Plain memcpy where the target has no such stores. */
static void copy_streaming(float *dst, const float *src, size_t lo, size_t hi)
{
#if defined(__AVX512F__)
    for (size_t i = lo; i + 16 <= hi; i += 16) _mm512_stream_ps(dst + i, _mm512_load_ps(src + i));
    for (size_t i = hi - hi % 16 > lo ? hi - hi % 16 : lo; i < hi; i++) dst[i] = src[i];
    _mm_sfence();
#elif defined(__AVX__)
    for (size_t i = lo; i + 8 <= hi; i += 8) _mm256_stream_ps(dst + i, _mm256_load_ps(src + i));
    for (size_t i = hi - hi % 8 > lo ? hi - hi % 8 : lo; i < hi; i++) dst[i] = src[i];
    _mm_sfence();
#else
    memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
#endif
}

/* `bytes` of 2 MB-aligned memory, on huge pages where Linux gives them on request, as NumPy
   asks for its large arrays: on 4 KB pages the copy misses the TLB and measures too low (the
   kernels, reading NumPy arrays, then beat "the machine's limit"). */
static void *huge_buffer(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 2u << 20, bytes)) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

/* Copy bandwidth: each thread copies its share of src into dst, once with memcpy (ordinary
   stores) and once with streaming stores, `reps` times each; the best run counts. */
int fpk_machine_copy_bandwidth(size_t bytes, int threads, int reps, double *bytes_per_second)
{
    if (!bytes_per_second)
        return FPK_ERR_NULL;
    if (threads < 1 || reps < 1 || bytes < 4096)
        return FPK_ERR_VALUE;
    size_t n = bytes / sizeof(float);
    float *src = huge_buffer(n * sizeof(float)), *dst = huge_buffer(n * sizeof(float));
    if (!src || !dst) {
        free(src);
        free(dst);
        return FPK_ERR_NOMEM;
    }
    /* Each thread first touches the pages it will copy (they land on its memory node). */
    FPK_PARALLEL_RANGES(n, threads, lo, hi,
        for (size_t i = lo; i < hi; i++) { src[i] = (float)(i & 1023); dst[i] = 0; });
    double best = 0;
    for (int rep = 0; rep < 2 * reps; rep++) {
        int streaming = rep % 2;
        double start = now();
        FPK_PARALLEL_RANGES(n, threads, lo, hi,
            if (streaming) copy_streaming(dst, src, lo, hi);
            else memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float)));
        double seconds = now() - start;
        if (seconds > 0 && (best == 0 || seconds < best))
            best = seconds;
    }
    volatile float sink = dst[n / 2]; /* keep the copies */
    (void)sink;
    free(src);
    free(dst);
    *bytes_per_second = best > 0 ? 2.0 * (double)(n * sizeof(float)) / best : 0;
    return FPK_OK;
}

/* Independent FMA chains acc = acc * x + y (x just below 1, so values settle near 1 and never
   turn denormal): CHAINS vectors of LANES floats, `iterations` steps. Returns a sum of the
   accumulators so the compiler keeps the work. */
#if defined(__AVX512F__)
#define LANES 16
#define CHAINS 16
static float fma_chains(long iterations)
{
    __m512 acc[CHAINS];
    __m512 x = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(0.0001f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
    for (long it = 0; it < iterations; it++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
    return _mm512_reduce_add_ps(acc[0]);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define LANES 8
#define CHAINS 12
static float fma_chains(long iterations)
{
    __m256 acc[CHAINS];
    __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(0.0001f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
    for (long it = 0; it < iterations; it++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
    float lanes[LANES], sum = 0;
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
    _mm256_storeu_ps(lanes, acc[0]);
    for (int l = 0; l < LANES; l++) sum += lanes[l];
    return sum;
}
#else
#define LANES 1
#define CHAINS 32
static float fma_chains(long iterations) /* plain C: the compiler vectorises what it can */
{
    float acc[CHAINS], sum = 0;
    for (int c = 0; c < CHAINS; c++) acc[c] = (float)c;
    for (long it = 0; it < iterations; it++)
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * 0.9999f + 0.0001f;
    for (int c = 0; c < CHAINS; c++) sum += acc[c];
    return sum;
}
#endif

/* Peak FMA rate: every thread runs fma_chains at once; best of three runs of ~10 ms, after
   0.2 s of the same work untimed: cores that were idle take time to reach their full clock
   (an Intel Xeon's 2 threads measured 190-250 GFLOP/s for the first 60-100 ms, 495 after). */
int fpk_machine_fma_peak(int threads, double *flops_per_second)
{
    if (!flops_per_second)
        return FPK_ERR_NULL;
    if (threads < 1)
        return FPK_ERR_VALUE;
    const long iterations = 4000000;
    volatile float sink = 0;
    double best = 0, warm_until = now() + 0.2;
    for (int timed = 0; timed < 3;) {
        double start = now();
        float total = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : total)
#endif
        total += fma_chains(iterations);
        double seconds = now() - start;
        sink += total;
        if (start < warm_until)
            continue;
        timed++;
        if (seconds > 0 && (best == 0 || seconds < best))
            best = seconds;
    }
    (void)sink;
#ifdef _OPENMP
    int ran = threads;
#else
    int ran = 1;
#endif
    *flops_per_second = best > 0 ? 2.0 * LANES * CHAINS * (double)iterations * ran / best : 0;
    return FPK_OK;
}
