/* shape.c - copies that change a tensor's shape: transpose (cache-blocked) and pad/resize
 * (copy what fits, fill the rest with a value).
 */
#include <string.h>

#include "fpkernels.h"

/* Transpose works on TILE x TILE tiles (16 KiB of float32 read, 16 KiB written), each output
   row segment written contiguously; the input lines of a tile stay in cache while it is read
   down its columns. (Measured on 4096 x 4096 float32: 64 beats 8-32, and writing along the
   output rows beats reading along the input rows by 2x.) */
#define TILE 64

/* The resize kernels support as many dims as NumPy does. */
#define MAX_DIMS 64


/* out[j][i] = x[i][j]: x is rows x cols, out is cols x rows, tile by tile. */
#define TRANSPOSE(T, sfx)                                                       \
    int fpk_transpose_##sfx(const T *x, size_t rows, size_t cols, T *out)       \
    {                                                                           \
        size_t n = rows * cols;                                                 \
        if (cols && rows > SIZE_MAX / cols)                                     \
            return FPK_ERR_OVERFLOW;                                            \
        if (n && (!x || !out))                                                  \
            return FPK_ERR_NULL;                                                \
        size_t row_tiles = (rows + TILE - 1) / TILE;                            \
        FPK_PARALLEL_FOR(row_tiles, fpk_threads_for(n), tile, {                     \
            size_t i0 = tile * TILE, i1 = i0 + TILE < rows ? i0 + TILE : rows;  \
            for (size_t j0 = 0; j0 < cols; j0 += TILE) {                        \
                size_t j1 = j0 + TILE < cols ? j0 + TILE : cols;                \
                for (size_t j = j0; j < j1; j++)                                \
                    for (size_t i = i0; i < i1; i++)                            \
                        out[j * rows + i] = x[i * cols + j];                    \
            }                                                                   \
        });                                                                     \
        return FPK_OK;                                                          \
    }

TRANSPOSE(float, f32)
TRANSPOSE(double, f64)

/* Resize one slab: the sub-array of dims [d, ndim) of x (strides `xs`) into out (strides `os`):
   copy the part both have, fill the rest with value. */
#define RESIZE_SLAB(T, sfx)                                                     \
    static void fill_##sfx(T *out, size_t n, T value)                           \
    {                                                                           \
        for (size_t i = 0; i < n; i++)                                          \
            out[i] = value;                                                     \
    }                                                                           \
                                                                                \
    static void slab_##sfx(size_t d, size_t ndim, const int64_t *shape, const T *x, \
                           const int64_t *xs, const int64_t *out_shape, T *out, \
                           const int64_t *os, T value)                          \
    {                                                                           \
        size_t keep = (size_t)(shape[d] < out_shape[d] ? shape[d] : out_shape[d]); \
        if (d == ndim - 1) {                                                    \
            if (keep)                                                           \
                memcpy(out, x, keep * sizeof(T));                               \
            fill_##sfx(out + keep, (size_t)out_shape[d] - keep, value);         \
            return;                                                             \
        }                                                                       \
        for (size_t i = 0; i < keep; i++)                                       \
            slab_##sfx(d + 1, ndim, shape, x + i * xs[d], xs, out_shape, out + i * os[d], os, value); \
        fill_##sfx(out + keep * os[d], ((size_t)out_shape[d] - keep) * (size_t)os[d], value); \
    }

RESIZE_SLAB(float, f32)
RESIZE_SLAB(double, f64)

/* out (out_shape) = x (shape) trimmed or grown dim by dim, new elements = value.
   The outermost dim is split over threads. */
#define RESIZE(T, sfx)                                                          \
    int fpk_resize_##sfx(size_t ndim, const int64_t *shape, const T *x,         \
                         const int64_t *out_shape, T *out, T value)             \
    {                                                                           \
        int64_t xs[MAX_DIMS], os[MAX_DIMS];                                     \
        size_t n = 1, out_n = 1;                                                \
        if (ndim > MAX_DIMS)                                                    \
            return FPK_ERR_SHAPE;                                               \
        if (ndim && (!shape || !out_shape))                                     \
            return FPK_ERR_NULL;                                                \
        for (size_t d = ndim; d-- > 0;) {                                       \
            if (shape[d] < 0 || out_shape[d] < 0)                               \
                return FPK_ERR_SHAPE;                                           \
            xs[d] = (int64_t)n;                                                 \
            os[d] = (int64_t)out_n;                                             \
            if ((shape[d] && n > SIZE_MAX / (size_t)shape[d]) ||                \
                (out_shape[d] && out_n > SIZE_MAX / (size_t)out_shape[d]))      \
                return FPK_ERR_OVERFLOW;                                        \
            n *= (size_t)shape[d];                                              \
            out_n *= (size_t)out_shape[d];                                      \
        }                                                                       \
        if (out_n == 0)                                                         \
            return FPK_OK;                                                      \
        if (!out || (n && !x))                                                  \
            return FPK_ERR_NULL;                                                \
        if (ndim == 0) {                                                        \
            out[0] = x[0];                                                      \
            return FPK_OK;                                                      \
        }                                                                       \
        size_t keep = (size_t)(shape[0] < out_shape[0] ? shape[0] : out_shape[0]); \
        FPK_PARALLEL_FOR((size_t)out_shape[0], fpk_threads_for(out_n), i, {         \
            T *slab = out + i * (size_t)os[0];                                  \
            if (i >= keep)                                                      \
                fill_##sfx(slab, (size_t)os[0], value);                         \
            else if (ndim == 1)                                                 \
                slab[0] = x[i];                                                 \
            else                                                                \
                slab_##sfx(1, ndim, shape, x + i * (size_t)xs[0], xs, out_shape, slab, os, value); \
        });                                                                     \
        return FPK_OK;                                                          \
    }

RESIZE(float, f32)
RESIZE(double, f64)

/* fpk_resize that refuses to shrink any dim. */
#define PAD(T, sfx)                                                             \
    int fpk_pad_##sfx(size_t ndim, const int64_t *shape, const T *x,            \
                      const int64_t *out_shape, T *out, T value)                \
    {                                                                           \
        if (ndim && (!shape || !out_shape))                                     \
            return FPK_ERR_NULL;                                                \
        for (size_t d = 0; d < ndim; d++)                                       \
            if (out_shape[d] < shape[d])                                        \
                return FPK_ERR_SHAPE;                                           \
        return fpk_resize_##sfx(ndim, shape, x, out_shape, out, value);         \
    }

PAD(float, f32)
PAD(double, f64)
