/*
 * fpkernels.h - the one public header of fpkernels: C99 + OpenMP machine-learning kernels.
 *
 * Use from C: include this header and link libfpkernels.a or libfpkernels.so (`make -C csrc`).
 * Use from Python: the same declarations are the cffi cdef of the extension module
 * (build_ffi.py reads the part between FPK_CDEF_BEGIN and FPK_CDEF_END).
 *
 * Conventions, for every function declared here:
 *   - names are fpk_<operation>_<dtype>, with dtype f32 (float) or f64 (double);
 *   - sizes and counts are size_t, strides and indices are int64_t (in elements, not bytes);
 *   - arrays are C-contiguous (row-major) unless a strides argument says otherwise;
 *   - every kernel returns an int status: FPK_OK (0) or one of the FPK_ERR_* codes below;
 *     fpk_status_string() turns it into a sentence. Kernels never print, abort or exit;
 *   - kernels split their work over fpk_get_num_threads() OpenMP threads, stay on one thread
 *     for small inputs, and give bitwise-identical results whatever the thread count.
 *   - element-wise kernels allow `out` to be the same array as an input (in place); other
 *     overlaps are the caller's to avoid.
 */
#ifndef FPKERNELS_H
#define FPKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FPK_CDEF_BEGIN: from here to FPK_CDEF_END, only declarations cffi can parse. */

#define FPK_VERSION_MAJOR 0
#define FPK_VERSION_MINOR 1
#define FPK_VERSION_PATCH 0

/* ---- status codes and library facts (core.c) ---- */

typedef enum fpk_status {
    FPK_OK = 0,
    FPK_ERR_NULL = 1,     /* a required pointer is NULL */
    FPK_ERR_SHAPE = 2,    /* sizes or shapes do not fit together */
    FPK_ERR_VALUE = 3,    /* an argument is outside its domain (a label, a hyper-parameter) */
    FPK_ERR_EMPTY = 4,    /* the operation has no answer for an empty input */
    FPK_ERR_NOMEM = 5,    /* a work buffer could not be allocated */
    FPK_ERR_OVERFLOW = 6  /* a size computation would overflow size_t */
} fpk_status;

/* A short sentence saying what a status code means (never NULL). */
const char *fpk_status_string(int status);

/* The library version as "MAJOR.MINOR.PATCH". */
const char *fpk_version(void);

/* The compiler and the flags this library was built with. */
const char *fpk_compiler(void);
const char *fpk_build_flags(void);

/* The widest SIMD instruction set compiled in: "avx512", "avx2", "sse2", "neon" or "scalar". */
const char *fpk_simd_level(void);

/* How many OpenMP threads kernels may use. The default is OpenMP's (OMP_NUM_THREADS, else the
   core count); set_num_threads takes n >= 1 and returns FPK_ERR_VALUE otherwise. Process-wide. */
int fpk_set_num_threads(int n);
int fpk_get_num_threads(void);

/* How many threads a kernel uses for `work` elements: 1 below FPK_GRAIN, never more than
   fpk_get_num_threads(). */
int fpk_threads_for(size_t work);

/* ---- end status codes and library facts ---- */

/* ---- machine limits (machine.c) ---- */

/* Copy bandwidth, STREAM style: `threads` threads copy a `bytes`-byte buffer into another
   (choose it far larger than the caches), `reps` runs with ordinary stores (memcpy) and `reps`
   with streaming stores, best run; *bytes_per_second counts bytes read plus bytes written. */
int fpk_machine_copy_bandwidth(size_t bytes, int threads, int reps, double *bytes_per_second);

/* Peak float32 fused multiply-add rate: `threads` threads each run independent FMA chains in
   registers of the widest vectors compiled in; *flops_per_second counts 2 flops per lane. */
int fpk_machine_fma_peak(int threads, double *flops_per_second);

/* ---- end machine limits ---- */

/* ---- tensor operations (elementwise.c, shape.c) ---- */

/* The four arithmetic operations of fpk_binary_*. */
typedef enum fpk_binary_op { FPK_ADD = 0, FPK_SUB = 1, FPK_MUL = 2, FPK_DIV = 3 } fpk_binary_op;

/* Outputs of at least this many bytes are written with streaming (non-temporal) stores by the
   same-size and scalar kernels below: fastest into memory written before, but about twice
   slower into pages the OS has just zeroed (a fresh allocation; fpk_binary_* never streams). */
#define FPK_STREAM_BYTES 33554432

/* out[i] = a[i] (+ - * /) b[i] for i < n; contiguous arrays, out may be a or b. FPK_ERR_VALUE
   if a pointer is not aligned to its element type, or out partly overlaps a or b. */
int fpk_add_f32(const float *a, const float *b, float *out, size_t n);
int fpk_add_f64(const double *a, const double *b, double *out, size_t n);
int fpk_sub_f32(const float *a, const float *b, float *out, size_t n);
int fpk_sub_f64(const double *a, const double *b, double *out, size_t n);
int fpk_mul_f32(const float *a, const float *b, float *out, size_t n);
int fpk_mul_f64(const double *a, const double *b, double *out, size_t n);
int fpk_div_f32(const float *a, const float *b, float *out, size_t n);
int fpk_div_f64(const double *a, const double *b, double *out, size_t n);

/* Broadcasting N-d form: out (C-contiguous, `shape`) = a op b, where a and b are read through
   their own element strides (0 on a broadcast dim). out may be a or b when they are contiguous. */
int fpk_binary_f32(fpk_binary_op op, size_t ndim, const int64_t *shape,
                   const float *a, const int64_t *a_strides,
                   const float *b, const int64_t *b_strides, float *out);
int fpk_binary_f64(fpk_binary_op op, size_t ndim, const int64_t *shape,
                   const double *a, const int64_t *a_strides,
                   const double *b, const int64_t *b_strides, double *out);

/* out[i] = x[i] (+ - * /) s for i < n (a scalar on the right); out may be x. FPK_ERR_VALUE if
   a pointer is not aligned to its element type, or out partly overlaps x. */
int fpk_add_scalar_f32(const float *x, float s, float *out, size_t n);
int fpk_add_scalar_f64(const double *x, double s, double *out, size_t n);
int fpk_sub_scalar_f32(const float *x, float s, float *out, size_t n);
int fpk_sub_scalar_f64(const double *x, double s, double *out, size_t n);
int fpk_mul_scalar_f32(const float *x, float s, float *out, size_t n);
int fpk_mul_scalar_f64(const double *x, double s, double *out, size_t n);
int fpk_div_scalar_f32(const float *x, float s, float *out, size_t n);
int fpk_div_scalar_f64(const double *x, double s, double *out, size_t n);

/* out[i] = x[i] ** p, as C's pow (a negative base with a fractional p gives NaN), except that
   p = 0.5 is sqrt (as NumPy: sqrt(-0) = -0, sqrt(-inf) = NaN); out may be x. */
int fpk_power_f32(const float *x, float p, float *out, size_t n);
int fpk_power_f64(const double *x, double p, double *out, size_t n);

/* out[i] = |x[i]|; out may be x. */
int fpk_abs_f32(const float *x, float *out, size_t n);
int fpk_abs_f64(const double *x, double *out, size_t n);

/* *result = sum of a[i] * b[i] for i < n (0 for n = 0); same bits for any thread count
   (blocked like fpk_sum, in reduce.c). */
int fpk_dot_f32(const float *a, const float *b, size_t n, float *result);
int fpk_dot_f64(const double *a, const double *b, size_t n, double *result);

/* out (cols x rows) = the transpose of x (rows x cols); cache-blocked; out must not overlap x. */
int fpk_transpose_f32(const float *x, size_t rows, size_t cols, float *out);
int fpk_transpose_f64(const double *x, size_t rows, size_t cols, double *out);

/* Copy the C-contiguous ndim-d array x (shape) into out (out_shape), trimming every dim that
   shrinks and filling every new element with `value`. */
int fpk_resize_f32(size_t ndim, const int64_t *shape, const float *x,
                   const int64_t *out_shape, float *out, float value);
int fpk_resize_f64(size_t ndim, const int64_t *shape, const double *x,
                   const int64_t *out_shape, double *out, double value);

/* fpk_resize that only grows: FPK_ERR_SHAPE if any out_shape[d] < shape[d]. */
int fpk_pad_f32(size_t ndim, const int64_t *shape, const float *x,
                const int64_t *out_shape, float *out, float value);
int fpk_pad_f64(size_t ndim, const int64_t *shape, const double *x,
                const int64_t *out_shape, double *out, double value);

/* ---- end tensor operations ---- */

/* ---- statistics (reduce.c) ---- */

/* Whole-array reductions of x[0..n) into *result. Sums are blocked (fixed 4096-element blocks,
   accumulated in double lanes; float32 via short float slices) and combined pairwise in a fixed
   order: the same bits for any thread count. sum of n = 0 is 0; the others return
   FPK_ERR_EMPTY for n = 0. NaN propagates. */
int fpk_sum_f32(const float *x, size_t n, float *result);
int fpk_sum_f64(const double *x, size_t n, double *result);
int fpk_mean_f32(const float *x, size_t n, float *result);
int fpk_mean_f64(const double *x, size_t n, double *result);
int fpk_min_f32(const float *x, size_t n, float *result);
int fpk_min_f64(const double *x, size_t n, double *result);
int fpk_max_f32(const float *x, size_t n, float *result);
int fpk_max_f64(const double *x, size_t n, double *result);

/* Standard deviation, population (sample = 0, divide by n) or sample (sample != 0, n - 1):
   one pass over memory, two passes inside each cache-resident block, blocks merged exactly.
   FPK_ERR_EMPTY for n = 0, FPK_ERR_VALUE for sample with n = 1. */
int fpk_std_f32(const float *x, size_t n, int sample, float *result);
int fpk_std_f64(const double *x, size_t n, int sample, double *result);

/* Median by linear-time selection, never a sort (x is not changed): quickselect on a scratch
   copy; large inputs first count a radix histogram of the top 16 bits (float32: a second count
   of the low 16 bits gives the exact value, no copy). Even n gives the mean of the two middle
   values; any NaN gives NaN. FPK_ERR_EMPTY for n = 0, FPK_ERR_NOMEM if scratch fails. */
int fpk_median_f32(const float *x, size_t n, float *result);
int fpk_median_f64(const double *x, size_t n, double *result);

/* The same reductions along one axis: x is viewed as a C-contiguous (outer, n, inner) array and
   out[o * inner + i] reduces x[o, :, i]. FPK_ERR_EMPTY when n = 0 and out is not empty (sum
   writes zeros instead). */
int fpk_sum_axis_f32(const float *x, size_t outer, size_t n, size_t inner, float *out);
int fpk_sum_axis_f64(const double *x, size_t outer, size_t n, size_t inner, double *out);
int fpk_mean_axis_f32(const float *x, size_t outer, size_t n, size_t inner, float *out);
int fpk_mean_axis_f64(const double *x, size_t outer, size_t n, size_t inner, double *out);
int fpk_min_axis_f32(const float *x, size_t outer, size_t n, size_t inner, float *out);
int fpk_min_axis_f64(const double *x, size_t outer, size_t n, size_t inner, double *out);
int fpk_max_axis_f32(const float *x, size_t outer, size_t n, size_t inner, float *out);
int fpk_max_axis_f64(const double *x, size_t outer, size_t n, size_t inner, double *out);
int fpk_std_axis_f32(const float *x, size_t outer, size_t n, size_t inner, int sample, float *out);
int fpk_std_axis_f64(const double *x, size_t outer, size_t n, size_t inner, int sample, double *out);
int fpk_median_axis_f32(const float *x, size_t outer, size_t n, size_t inner, float *out);
int fpk_median_axis_f64(const double *x, size_t outer, size_t n, size_t inner, double *out);

/* ---- end statistics ---- */

/* ---- matrix multiplication (matmul.c) ---- */

/* c = op(a) op(b): c is m x n, row-major (C-contiguous). op(a) is m x k: a is stored m x k,
   or k x m when transpose_a != 0 (then op(a) = a^T). op(b) is k x n: b is stored k x n, or
   n x k when transpose_b != 0. k == 0 gives zeros. Packed, cache-blocked, vectorised; every
   element is summed in the same fixed order on every path, so the result does not depend on
   the thread count. c must not overlap a or b. FPK_ERR_NOMEM if the pack buffers fail. */
int fpk_matmul_f32(const float *a, const float *b, float *c, size_t m, size_t n, size_t k,
                   int transpose_a, int transpose_b);
int fpk_matmul_f64(const double *a, const double *b, double *c, size_t m, size_t n, size_t k,
                   int transpose_a, int transpose_b);

/* A batch of products with the layouts above: for t < batch, matrix t of c (at c + t*m*n) is
   op(a + a_offsets[t]) op(b + b_offsets[t]); offsets are in elements, so broadcast operands
   repeat an offset. Small matrices run one per thread, large ones each on all threads. */
int fpk_matmul_batched_f32(const float *a, const float *b, float *c, size_t batch, size_t m,
                           size_t n, size_t k, int transpose_a, int transpose_b,
                           const int64_t *a_offsets, const int64_t *b_offsets);
int fpk_matmul_batched_f64(const double *a, const double *b, double *c, size_t batch, size_t m,
                           size_t n, size_t k, int transpose_a, int transpose_b,
                           const int64_t *a_offsets, const int64_t *b_offsets);

/* ---- end matrix multiplication ---- */

/* ---- activations (activations.c) ---- */

/* Element-wise activations, float (f32) and double (f64), n elements; out may be x:
     fpk_NAME_forward_T(x, out, n)                 out = f(x)
     fpk_NAME_derivative_T(x, out, n)              out = f'(x)
     fpk_NAME_backward_T(x, grad_out, out, n)      out = grad_out * f'(x), fused
   NAME is relu, leaky_relu (alpha), sigmoid, tanh, swish (beta), gelu (erf form) and
   gelu_tanh; hyper-parameters come last, as double. */
int fpk_relu_forward_f32(const float *x, float *out, size_t n);
int fpk_relu_forward_f64(const double *x, double *out, size_t n);
int fpk_relu_derivative_f32(const float *x, float *out, size_t n);
int fpk_relu_derivative_f64(const double *x, double *out, size_t n);
int fpk_relu_backward_f32(const float *x, const float *grad_out, float *out, size_t n);
int fpk_relu_backward_f64(const double *x, const double *grad_out, double *out, size_t n);
int fpk_leaky_relu_forward_f32(const float *x, float *out, size_t n, double alpha);
int fpk_leaky_relu_forward_f64(const double *x, double *out, size_t n, double alpha);
int fpk_leaky_relu_derivative_f32(const float *x, float *out, size_t n, double alpha);
int fpk_leaky_relu_derivative_f64(const double *x, double *out, size_t n, double alpha);
int fpk_leaky_relu_backward_f32(const float *x, const float *grad_out, float *out, size_t n, double alpha);
int fpk_leaky_relu_backward_f64(const double *x, const double *grad_out, double *out, size_t n, double alpha);
int fpk_sigmoid_forward_f32(const float *x, float *out, size_t n);
int fpk_sigmoid_forward_f64(const double *x, double *out, size_t n);
int fpk_sigmoid_derivative_f32(const float *x, float *out, size_t n);
int fpk_sigmoid_derivative_f64(const double *x, double *out, size_t n);
int fpk_sigmoid_backward_f32(const float *x, const float *grad_out, float *out, size_t n);
int fpk_sigmoid_backward_f64(const double *x, const double *grad_out, double *out, size_t n);
int fpk_tanh_forward_f32(const float *x, float *out, size_t n);
int fpk_tanh_forward_f64(const double *x, double *out, size_t n);
int fpk_tanh_derivative_f32(const float *x, float *out, size_t n);
int fpk_tanh_derivative_f64(const double *x, double *out, size_t n);
int fpk_tanh_backward_f32(const float *x, const float *grad_out, float *out, size_t n);
int fpk_tanh_backward_f64(const double *x, const double *grad_out, double *out, size_t n);
int fpk_swish_forward_f32(const float *x, float *out, size_t n, double beta);
int fpk_swish_forward_f64(const double *x, double *out, size_t n, double beta);
int fpk_swish_derivative_f32(const float *x, float *out, size_t n, double beta);
int fpk_swish_derivative_f64(const double *x, double *out, size_t n, double beta);
int fpk_swish_backward_f32(const float *x, const float *grad_out, float *out, size_t n, double beta);
int fpk_swish_backward_f64(const double *x, const double *grad_out, double *out, size_t n, double beta);
int fpk_gelu_forward_f32(const float *x, float *out, size_t n);
int fpk_gelu_forward_f64(const double *x, double *out, size_t n);
int fpk_gelu_derivative_f32(const float *x, float *out, size_t n);
int fpk_gelu_derivative_f64(const double *x, double *out, size_t n);
int fpk_gelu_backward_f32(const float *x, const float *grad_out, float *out, size_t n);
int fpk_gelu_backward_f64(const double *x, const double *grad_out, double *out, size_t n);
int fpk_gelu_tanh_forward_f32(const float *x, float *out, size_t n);
int fpk_gelu_tanh_forward_f64(const double *x, double *out, size_t n);
int fpk_gelu_tanh_derivative_f32(const float *x, float *out, size_t n);
int fpk_gelu_tanh_derivative_f64(const double *x, double *out, size_t n);
int fpk_gelu_tanh_backward_f32(const float *x, const float *grad_out, float *out, size_t n);
int fpk_gelu_tanh_backward_f64(const double *x, const double *grad_out, double *out, size_t n);

/* Backward from the saved output y = f(x) instead of x, as PyTorch's sigmoid_backward and
   tanh_backward: out = grad_out * y (1 - y) and grad_out * (1 - y^2). No exponential, so they
   run at memory speed; but where y saturates (near 1, or -1 for tanh) its rounding leaves fewer
   right digits than fpk_NAME_backward_T from x. out may be y or grad_out. */
int fpk_sigmoid_backward_from_output_f32(const float *y, const float *grad_out, float *out, size_t n);
int fpk_sigmoid_backward_from_output_f64(const double *y, const double *grad_out, double *out, size_t n);
int fpk_tanh_backward_from_output_f32(const float *y, const float *grad_out, float *out, size_t n);
int fpk_tanh_backward_from_output_f64(const double *y, const double *grad_out, double *out, size_t n);

/* Softmax of each row of a rows x cols matrix (the last axis). A row with one +inf gives 1
   there and 0 elsewhere; two or more +inf, all -inf, or any NaN give a NaN row.
   forward: out = s (out may be x); derivative: out = s (1 - s), the Jacobian's diagonal;
   backward: out = s * (g - sum(g * s)) per row, the Jacobian-vector product (out may be x or
   grad_out; FPK_ERR_NOMEM if a row buffer cannot be allocated). */
int fpk_softmax_forward_f32(const float *x, float *out, size_t rows, size_t cols);
int fpk_softmax_forward_f64(const double *x, double *out, size_t rows, size_t cols);
int fpk_softmax_derivative_f32(const float *x, float *out, size_t rows, size_t cols);
int fpk_softmax_derivative_f64(const double *x, double *out, size_t rows, size_t cols);
int fpk_softmax_backward_f32(const float *x, const float *grad_out, float *out, size_t rows, size_t cols);
int fpk_softmax_backward_f64(const double *x, const double *grad_out, double *out, size_t rows, size_t cols);
/* The same Jacobian-vector product from the saved output y = softmax(x): out = y * (g - sum(g * y))
   per row, as PyTorch's _softmax_backward_data (no exponentials). out may be y or grad_out. */
int fpk_softmax_backward_from_output_f32(const float *y, const float *grad_out, float *out, size_t rows, size_t cols);
int fpk_softmax_backward_from_output_f64(const double *y, const double *grad_out, double *out, size_t rows, size_t cols);

/* The error function, element-wise: out = erf(x) (out may be x). */
int fpk_erf_f32(const float *x, float *out, size_t n);
int fpk_erf_f64(const double *x, double *out, size_t n);

/* ---- end activations ---- */

/* ---- losses (losses.c) ---- */

/* How a loss reduces its per-element values. */
#define FPK_REDUCTION_NONE 0
#define FPK_REDUCTION_MEAN 1
#define FPK_REDUCTION_SUM 2

/* Element-wise losses of a prediction `pred` against `target` (n elements each):
     fpk_NAME_value_T(pred, target, n, reduction, per_element, total)
         NONE: per_element[i] = loss_i (total unused); MEAN/SUM: *total = mean/sum (per_element
         unused, may be NULL); the total is summed in double, bitwise the same for any thread count.
     fpk_NAME_gradient_T(pred, target, grad, n, reduction)
         grad = d value / d pred for that reduction (MEAN divides by n).
     fpk_NAME_value_and_gradient_T(pred, target, grad, n, reduction, per_element, total)
         both in one pass over memory; grad may be pred. grad and per_element have the bits
         of the kernels above, the total their value up to its last bits (on vector lanes the
         elements are summed in another order); it is still the same for any thread count.
   NAME: mae, mse, hinge (target must be -1 or +1), huber (delta), bce (target in [0, 1]; pred
   clamped to [1e-7, 1 - 1e-7]). A bad target returns FPK_ERR_VALUE. The f32 kernels compute in
   double, except bce's value on vector lanes (AVX2, AVX-512): float logarithms, each loss
   within 3 ULP of the double formula. */
int fpk_mae_value_f32(const float *pred, const float *target, size_t n, int reduction, float *per_element, double *total);
int fpk_mae_value_f64(const double *pred, const double *target, size_t n, int reduction, double *per_element, double *total);
int fpk_mae_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction);
int fpk_mae_value_and_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction, float *per_element, double *total);
int fpk_mae_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction);
int fpk_mae_value_and_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction, double *per_element, double *total);
int fpk_mse_value_f32(const float *pred, const float *target, size_t n, int reduction, float *per_element, double *total);
int fpk_mse_value_f64(const double *pred, const double *target, size_t n, int reduction, double *per_element, double *total);
int fpk_mse_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction);
int fpk_mse_value_and_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction, float *per_element, double *total);
int fpk_mse_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction);
int fpk_mse_value_and_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction, double *per_element, double *total);
int fpk_hinge_value_f32(const float *pred, const float *target, size_t n, int reduction, float *per_element, double *total);
int fpk_hinge_value_f64(const double *pred, const double *target, size_t n, int reduction, double *per_element, double *total);
int fpk_hinge_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction);
int fpk_hinge_value_and_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction, float *per_element, double *total);
int fpk_hinge_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction);
int fpk_hinge_value_and_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction, double *per_element, double *total);
int fpk_huber_value_f32(const float *pred, const float *target, size_t n, int reduction, float *per_element, double *total, double delta);
int fpk_huber_value_f64(const double *pred, const double *target, size_t n, int reduction, double *per_element, double *total, double delta);
int fpk_huber_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction, double delta);
int fpk_huber_value_and_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction, float *per_element, double *total, double delta);
int fpk_huber_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction, double delta);
int fpk_huber_value_and_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction, double *per_element, double *total, double delta);
int fpk_bce_value_f32(const float *pred, const float *target, size_t n, int reduction, float *per_element, double *total);
int fpk_bce_value_f64(const double *pred, const double *target, size_t n, int reduction, double *per_element, double *total);
int fpk_bce_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction);
int fpk_bce_value_and_gradient_f32(const float *pred, const float *target, float *grad, size_t n, int reduction, float *per_element, double *total);
int fpk_bce_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction);
int fpk_bce_value_and_gradient_f64(const double *pred, const double *target, double *grad, size_t n, int reduction, double *per_element, double *total);

/* Row losses over `rows` rows of `cols` classes; the target is EITHER labels (one class index
   per row, 0 <= label < cols) OR target_rows (rows x cols weights in [0, 1], e.g. one-hot);
   pass NULL for the other. NONE writes per_row[rows]; MEAN divides by rows.
     cce: pred holds probabilities, clamped to [1e-7, 1 - 1e-7]; loss -sum_j y_j log p_j.
     softmax_cross_entropy: pred holds logits; loss = cce(softmax(logits)), computed with
     log-sum-exp; gradient (softmax - y) / rows for MEAN.
   fpk_NAME_value_and_gradient_T(pred, labels, target_rows, grad, rows, cols, reduction,
   per_row, total) gives both in one pass (grad may be pred), with the bits of the two kernels,
   except the float softmax_cross_entropy loss of rows with labels on vector lanes: taken from
   the gradient's exponentials, it may differ from fpk_*_value_f32's in the last bits. */
int fpk_cce_value_f32(const float *pred, const int64_t *labels, const float *target_rows, size_t rows, size_t cols, int reduction, float *per_row, double *total);
int fpk_cce_value_f64(const double *pred, const int64_t *labels, const double *target_rows, size_t rows, size_t cols, int reduction, double *per_row, double *total);
int fpk_cce_gradient_f32(const float *pred, const int64_t *labels, const float *target_rows, float *grad, size_t rows, size_t cols, int reduction);
int fpk_cce_value_and_gradient_f32(const float *pred, const int64_t *labels, const float *target_rows, float *grad, size_t rows, size_t cols, int reduction, float *per_row, double *total);
int fpk_cce_gradient_f64(const double *pred, const int64_t *labels, const double *target_rows, double *grad, size_t rows, size_t cols, int reduction);
int fpk_cce_value_and_gradient_f64(const double *pred, const int64_t *labels, const double *target_rows, double *grad, size_t rows, size_t cols, int reduction, double *per_row, double *total);
int fpk_softmax_cross_entropy_value_f32(const float *pred, const int64_t *labels, const float *target_rows, size_t rows, size_t cols, int reduction, float *per_row, double *total);
int fpk_softmax_cross_entropy_value_f64(const double *pred, const int64_t *labels, const double *target_rows, size_t rows, size_t cols, int reduction, double *per_row, double *total);
int fpk_softmax_cross_entropy_gradient_f32(const float *pred, const int64_t *labels, const float *target_rows, float *grad, size_t rows, size_t cols, int reduction);
int fpk_softmax_cross_entropy_value_and_gradient_f32(const float *pred, const int64_t *labels, const float *target_rows, float *grad, size_t rows, size_t cols, int reduction, float *per_row, double *total);
int fpk_softmax_cross_entropy_gradient_f64(const double *pred, const int64_t *labels, const double *target_rows, double *grad, size_t rows, size_t cols, int reduction);
int fpk_softmax_cross_entropy_value_and_gradient_f64(const double *pred, const int64_t *labels, const double *target_rows, double *grad, size_t rows, size_t cols, int reduction, double *per_row, double *total);

/* ---- end losses ---- */

/* ---- optimizers (optimizers.c) ---- */

/* Each optimizer step is one fused pass per tensor: it reads the parameter, the gradient and the
   state buffers once and writes them once. The _many variants take a whole list of tensors
   (arrays of pointers and sizes) and split their concatenated elements evenly over the threads,
   so a model's 200 small tensors cost one call and one parallel region. Hyper-parameters come in
   a config struct; invalid ones (lr < 0, a beta outside [0, 1), eps < 0, NaN) are FPK_ERR_VALUE. */

/* SGD with torch.optim.SGD semantics (dampening 0): g += weight_decay*p; with momentum,
   buf = momentum*buf + g (buf = g on the first step), g = nesterov ? g + momentum*buf : buf;
   then p -= lr*g. The momentum buffers may be NULL when momentum == 0. */
typedef struct fpk_sgd_config {
    double lr;
    double momentum;
    double weight_decay;
    int nesterov;     /* 1: Nesterov momentum (needs momentum > 0) */
    int first_step;   /* 1: the momentum buffers are new: they start as the gradient */
} fpk_sgd_config;

int fpk_sgd_step_f32(size_t n, float *param, const float *grad, float *momentum_buffer,
                     const fpk_sgd_config *config);
int fpk_sgd_step_f64(size_t n, double *param, const double *grad, double *momentum_buffer,
                     const fpk_sgd_config *config);
int fpk_sgd_step_many_f32(size_t count, float *const *params, const float *const *grads,
                          float *const *momentum_buffers, const size_t *sizes,
                          const fpk_sgd_config *config);
int fpk_sgd_step_many_f64(size_t count, double *const *params, const double *const *grads,
                          double *const *momentum_buffers, const size_t *sizes,
                          const fpk_sgd_config *config);

/* Adam / AdamW with torch.optim semantics, step t >= 1:
     decoupled (AdamW): p *= 1 - lr*weight_decay;   else (L2): g += weight_decay*p
     m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;  (amsgrad: vmax = max(vmax, v), use vmax)
     p -= (lr/bias_correction1) * m / (sqrt(v)/sqrt(bias_correction2) + eps)
   with bias_correction1 = 1 - beta1^t and bias_correction2 = 1 - beta2^t, computed once per step
   by the caller (fpk_adam_config_set_step does it). vmax may be NULL unless amsgrad. */
typedef struct fpk_adam_config {
    double lr;
    double beta1;
    double beta2;
    double eps;
    double weight_decay;
    int decoupled;              /* 1: AdamW's decoupled decay; 0: L2 added to the gradient */
    int amsgrad;                /* 1: divide by the running maximum of v */
    double bias_correction1;    /* 1 - beta1^t for this step t */
    double bias_correction2;    /* 1 - beta2^t for this step t */
} fpk_adam_config;

/* Fill config's bias corrections for step t (t >= 1; FPK_ERR_VALUE otherwise). */
int fpk_adam_config_set_step(fpk_adam_config *config, int64_t step);

int fpk_adam_step_f32(size_t n, float *param, const float *grad, float *m, float *v, float *vmax,
                      const fpk_adam_config *config);
int fpk_adam_step_f64(size_t n, double *param, const double *grad, double *m, double *v,
                      double *vmax, const fpk_adam_config *config);
int fpk_adam_step_many_f32(size_t count, float *const *params, const float *const *grads,
                           float *const *m, float *const *v, float *const *vmax,
                           const size_t *sizes, const fpk_adam_config *config);
int fpk_adam_step_many_f64(size_t count, double *const *params, const double *const *grads,
                           double *const *m, double *const *v, double *const *vmax,
                           const size_t *sizes, const fpk_adam_config *config);

/* RMSprop with torch.optim.RMSprop semantics (no momentum, not centered):
   g += weight_decay*p;  v = alpha*v + (1-alpha)*g*g;  p -= lr*g / (sqrt(v) + eps). */
typedef struct fpk_rmsprop_config {
    double lr;
    double alpha;
    double eps;
    double weight_decay;
} fpk_rmsprop_config;

int fpk_rmsprop_step_f32(size_t n, float *param, const float *grad, float *v,
                         const fpk_rmsprop_config *config);
int fpk_rmsprop_step_f64(size_t n, double *param, const double *grad, double *v,
                         const fpk_rmsprop_config *config);
int fpk_rmsprop_step_many_f32(size_t count, float *const *params, const float *const *grads,
                              float *const *v, const size_t *sizes,
                              const fpk_rmsprop_config *config);
int fpk_rmsprop_step_many_f64(size_t count, double *const *params, const double *const *grads,
                              double *const *v, const size_t *sizes,
                              const fpk_rmsprop_config *config);

/* ---- end optimizers ---- */

/* ---- initializers and random numbers (random.c) ---- */

/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): block b of the stream of a
   64-bit seed is philox(counter = {b mod 2^32, b / 2^32, 0, 0}, key = {seed mod 2^32, seed / 2^32}),
   four 32-bit words. Element j of a fill depends only on (seed, j), never on the thread count:
     uniform f32: word j%4 of block j/4, top 24 bits -> u in [0, 1)
     uniform f64: words 2(j%2), 2(j%2)+1 of block j/2, top 53 bits -> u in [0, 1)
     normal  f32: block j/4 gives two Box-Muller pairs (u1 from one word, u2 from the next):
                  elements 4b, 4b+1 from words 0, 1 and elements 4b+2, 4b+3 from words 2, 3
     normal  f64: block j/2 gives one Box-Muller pair from two 64-bit uniforms (elements 2b, 2b+1)
   `offset` shifts the element index, so a big fill can be made in pieces: fill(n, out, seed,
   offset) equals elements [offset, offset + n) of one long fill. The words are the same on every
   machine; the floats made from them are bitwise reproducible for a given build (a build with
   FMA and one without may differ in the last bit of scaled or normal values). */

/* One Philox4x32-10 block: the four words for `counter` under `key`. */
void fpk_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* out[i] = low + (high - low) * u(offset + i): uniform on [low, high] (high itself can appear
   only through rounding). */
int fpk_random_uniform_f32(size_t n, float *out, uint64_t seed, uint64_t offset, float low,
                           float high);
int fpk_random_uniform_f64(size_t n, double *out, uint64_t seed, uint64_t offset, double low,
                           double high);

/* out[i] = mean + std * z(offset + i) with z standard normal (Box-Muller; the f32 tails reach
   about 6.7 standard deviations, the f64 tails about 8.6). std >= 0. */
int fpk_random_normal_f32(size_t n, float *out, uint64_t seed, uint64_t offset, float mean,
                          float std);
int fpk_random_normal_f64(size_t n, double *out, uint64_t seed, uint64_t offset, double mean,
                          double std);

/* ---- end initializers and random numbers ---- */

/* ---- normalisation (normalize.c) ---- */

/* The array is viewed as (outer, len, inner), C order; a "slice" is x[o, :, k] (len elements,
   `inner` apart): the axis being normalised. Whole-array normalisation is outer = inner = 1.
   Statistics are per slice, outer*inner of them, in the order (o, k). Results are bitwise the
   same whatever the thread count. NaN in a slice makes its statistics NaN. */

/* mean and sample standard deviation (divisor len - 1; 0 when len == 1) of every slice.
   len == 0 is FPK_ERR_EMPTY. */
int fpk_mean_std_f32(size_t outer, size_t len, size_t inner, const float *x, float *mean,
                     float *std);
int fpk_mean_std_f64(size_t outer, size_t len, size_t inner, const double *x, double *mean,
                     double *std);

/* out = (x - mean) / std per slice, and 0 where std == 0 (a constant slice). */
int fpk_zscore_apply_f32(size_t outer, size_t len, size_t inner, const float *x,
                         const float *mean, const float *std, float *out);
int fpk_zscore_apply_f64(size_t outer, size_t len, size_t inner, const double *x,
                         const double *mean, const double *std, double *out);

/* minimum and maximum of every slice (NaN if the slice holds a NaN). len == 0 is FPK_ERR_EMPTY. */
int fpk_min_max_f32(size_t outer, size_t len, size_t inner, const float *x, float *min,
                    float *max);
int fpk_min_max_f64(size_t outer, size_t len, size_t inner, const double *x, double *min,
                    double *max);

/* out = low + (x - min) / (max - min) * (high - low) per slice, and `low` where max == min. */
int fpk_minmax_apply_f32(size_t outer, size_t len, size_t inner, const float *x, const float *min,
                         const float *max, float low, float high, float *out);
int fpk_minmax_apply_f64(size_t outer, size_t len, size_t inner, const double *x,
                         const double *min, const double *max, double low, double high,
                         double *out);

/* ---- end normalisation ---- */

/* FPK_CDEF_END */

/* ---- helpers for kernel authors (fpkernels' own C files and plugins' C kernels) ---- */

/* Everything below is header-only (macros and static inline functions), so a plugin's own
   extension can use it without linking to fpkernels. A plugin must NOT call the fpk_*
   functions declared above: they live in fpkernels' extension, which other extensions cannot
   link against. Pass the thread count in from Python instead (fpkernels.get_num_threads())
   and size the team with fpk_threads_within(). See docs/writing-a-plugin.md. */

/* Below this many elements a kernel stays on one thread: an OpenMP region costs about a
   microsecond, more than a small loop. */
#define FPK_GRAIN 32768

/* How many threads a kernel uses for `work` elements when it may use up to `max_threads`:
   1 below 2*FPK_GRAIN, then one per FPK_GRAIN elements, never more than max_threads. The
   same rule as fpk_threads_for(), with the limit passed in (for plugins). */
static inline int fpk_threads_within(size_t work, int max_threads)
{
    size_t by_size = work / FPK_GRAIN;
    if (by_size <= 1 || max_threads <= 1)
        return 1;
    return by_size < (size_t)max_threads ? (int)by_size : max_threads;
}

/* Split [0, n) into `parts` contiguous ranges, each starting on a 64-byte boundary for
   4-byte elements; range `part` is [*lo, *hi). */
static inline void fpk_split_range(size_t n, int part, int parts, size_t *lo, size_t *hi)
{
    size_t chunk = (n + (size_t)parts - 1) / (size_t)parts;
    chunk = (chunk + 15) & ~(size_t)15;
    size_t begin = chunk * (size_t)part, end = begin + chunk;
    *lo = begin < n ? begin : n;
    *hi = end < n ? end : n;
}

/* Run the statements `...` once per range [lo, hi) of [0, n): on the calling thread when
   threads <= 1 (no parallel region is entered), else on `threads` OpenMP threads, one range each.
   Example:  FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,
                 for (size_t i = lo; i < hi; i++) out[i] = x[i] > 0 ? x[i] : 0;);       */
#ifdef _OPENMP
#include <omp.h>
#define FPK_PARALLEL_RANGES(n, threads, lo, hi, ...)                                        \
    do {                                                                                    \
        size_t fpk_n_ = (n);                                                                \
        int fpk_threads_ = (threads);                                                       \
        if (fpk_threads_ <= 1) {                                                            \
            size_t lo = 0, hi = fpk_n_;                                                     \
            __VA_ARGS__;                                                                    \
        } else {                                                                            \
            _Pragma("omp parallel num_threads(fpk_threads_)")                               \
            {                                                                               \
                size_t lo, hi;                                                              \
                fpk_split_range(fpk_n_, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi); \
                __VA_ARGS__;                                                                \
            }                                                                               \
        }                                                                                   \
    } while (0)

/* Run `...` for each index i in [0, count): on the calling thread when threads <= 1, else as an
   OpenMP static-schedule loop on `threads` threads (for per-row or per-block work). */
#define FPK_PARALLEL_FOR(count, threads, i, ...)                                            \
    do {                                                                                    \
        size_t fpk_count_ = (count);                                                        \
        int fpk_team_ = (threads);                                                          \
        if (fpk_team_ <= 1) {                                                               \
            for (size_t i = 0; i < fpk_count_; i++) { __VA_ARGS__; }                        \
        } else {                                                                            \
            _Pragma("omp parallel for num_threads(fpk_team_) schedule(static)")             \
            for (size_t i = 0; i < fpk_count_; i++) { __VA_ARGS__; }                        \
        }                                                                                   \
    } while (0)
#else
#define FPK_PARALLEL_RANGES(n, threads, lo, hi, ...)                                        \
    do {                                                                                    \
        size_t lo = 0, hi = (n);                                                            \
        (void)(threads);                                                                    \
        __VA_ARGS__;                                                                        \
    } while (0)
#define FPK_PARALLEL_FOR(count, threads, i, ...)                                            \
    do {                                                                                    \
        (void)(threads);                                                                    \
        for (size_t i = 0; i < (count); i++) { __VA_ARGS__; }                               \
    } while (0)
#endif

#ifdef __cplusplus
}
#endif

#endif /* FPKERNELS_H */
