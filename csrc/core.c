/* core.c - status codes, version, build facts and thread control. */
#include "fpkernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef FPK_CFLAGS
#define FPK_CFLAGS "unknown"
#endif

#define FPK_STR_(x) #x
#define FPK_STR(x) FPK_STR_(x)

/* A sentence for each status code. */
const char *fpk_status_string(int status)
{
    switch (status) {
    case FPK_OK: return "success";
    case FPK_ERR_NULL: return "a required pointer is NULL";
    case FPK_ERR_SHAPE: return "sizes or shapes do not fit together";
    case FPK_ERR_VALUE: return "an argument is outside its domain";
    case FPK_ERR_EMPTY: return "the operation has no answer for an empty input";
    case FPK_ERR_NOMEM: return "a work buffer could not be allocated";
    case FPK_ERR_OVERFLOW: return "a size computation would overflow";
    default: return "unknown status code";
    }
}

/* The version string. */
const char *fpk_version(void)
{
    return FPK_STR(FPK_VERSION_MAJOR) "." FPK_STR(FPK_VERSION_MINOR) "." FPK_STR(FPK_VERSION_PATCH);
}

/* The compiler that built the library. */
const char *fpk_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown C compiler";
#endif
}

/* The flags the build passed (build_ffi.py and the Makefile set FPK_CFLAGS). */
const char *fpk_build_flags(void)
{
    return FPK_CFLAGS;
}

/* The widest SIMD instruction set this build may use. */
const char *fpk_simd_level(void)
{
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__)
    return "avx2";
#elif defined(__SSE2__)
    return "sse2";
#elif defined(__ARM_NEON)
    return "neon";
#else
    return "scalar";
#endif
}

/* 0 means "not set yet": the first reader takes OpenMP's default (OMP_NUM_THREADS or cores). */
static int num_threads = 0;

/* Set how many threads kernels may use. */
int fpk_set_num_threads(int n)
{
    if (n < 1)
        return FPK_ERR_VALUE;
    __atomic_store_n(&num_threads, n, __ATOMIC_RELAXED);
    return FPK_OK;
}

/* How many threads kernels may use. */
int fpk_get_num_threads(void)
{
    int n = __atomic_load_n(&num_threads, __ATOMIC_RELAXED);
    if (n > 0)
        return n;
#ifdef _OPENMP
    n = omp_get_max_threads();
#else
    n = 1;
#endif
    __atomic_store_n(&num_threads, n, __ATOMIC_RELAXED);
    return n;
}

/* Threads for `work` elements: one per FPK_GRAIN elements, at most fpk_get_num_threads(). */
int fpk_threads_for(size_t work)
{
    size_t by_size = work / FPK_GRAIN;
    int limit = fpk_get_num_threads();
    if (by_size <= 1)
        return 1;
    return by_size < (size_t)limit ? (int)by_size : limit;
}
