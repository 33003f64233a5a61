/* losses.c - loss values and their gradients with respect to the prediction.
 *
 * Every loss has three kernels, each one pass over the data:
 *   value     reduction NONE: per_element[i] = loss_i;  MEAN/SUM: *total = mean/sum of loss_i
 *   gradient  grad[i] = d value / d pred[i] for that reduction (NONE: d loss_i / d pred[i])
 *   value_and_gradient  both, block by block while the block is in cache (a training step
 *             needs both: one pass over memory instead of two)
 *
 * Sums are taken in double over fixed blocks of LOSS_BLOCK elements (16 running sums inside a
 * block, so the compiler can vectorise), and the block sums are added in block order: the total
 * is bitwise the same whatever the thread count.
 *
 * Labels are checked while computing; a bad label returns FPK_ERR_VALUE (what was written to
 * the outputs is then unspecified).
 */
/* Floating-point exceptions are never inspected here, so let GCC treat conversions and
   compares as side-effect free: without this it refuses to vectorise loops mixing float and
   double (results are unchanged; this is not -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "fpkernels.h"
#include "fpk_stream.h"
#include "fpk_vmath.h"

#define LOSS_BLOCK 4096
#define LANES 16
#define PROB_EPS 1e-7

/* ------------------------------------------------------------------------------------------
 * Per-element losses and derivatives (p = prediction, y = target), in double.
 * ---------------------------------------------------------------------------------------- */

static inline double sign_of(double e) { return e > 0 ? 1.0 : (e < 0 ? -1.0 : e * 0.0); }

static inline double mae_loss(double p, double y) { return fabs(y - p); }
static inline double mae_grad(double p, double y) { return p == y ? 0.0 : sign_of(p - y); }  /* 0 at p = y = +-inf too */

static inline double mse_loss(double p, double y) { return (p - y) * (p - y); }
static inline double mse_grad(double p, double y) { return 2.0 * (p - y); }

static inline double hinge_loss(double p, double y) { double m = 1.0 - y * p; return m > 0 ? m : (m == m ? 0.0 : m); }
static inline double hinge_grad(double p, double y) { double m = 1.0 - y * p; return m > 0 ? -y : (m == m ? 0.0 : m); }
static inline int hinge_label_ok(double y) { return (y == 1.0) | (y == -1.0); }

static inline double huber_loss(double p, double y, double delta)
{
    double e = p - y, a = fabs(e);
    return a <= delta ? 0.5 * e * e : (a == a ? delta * (a - 0.5 * delta) : a);
}
/* e within delta, delta sign(e) beyond: e clamped to [-delta, delta] (delta > 0), written as
   vector max and min compute it (NaN stays NaN). */
static inline double huber_grad(double p, double y, double delta)
{
    double e = p - y, above = -delta > e ? -delta : e;
    return delta < above ? delta : above;
}

/* p clamped to [eps, 1 - eps]; NaN stays NaN. */
static inline double clamp_prob(double p)
{
    return p < PROB_EPS ? PROB_EPS : (p > 1.0 - PROB_EPS ? 1.0 - PROB_EPS : p);
}
/* With the vectorisable log_d and log1p_d (libm's are calls, which kept the float64 loop
   scalar: 8M doubles, 2 threads, 55 ms). */
static inline double bce_loss(double p, double y)
{
    double q = clamp_prob(p);
    double loss = -(y * log_d(q) + (1.0 - y) * log1p_d(-q));
    return q == q ? loss : q;
}
/* The derivative of the formula, at the clamped p (a saturated prediction still gets a push). */
static inline double bce_grad(double p, double y)
{
    double q = clamp_prob(p);
    return (q - y) / (q * (1.0 - q));
}
static inline int unit_label_ok(double y) { return (y >= 0.0) & (y <= 1.0); }
static inline int any_label_ok(double y) { (void)y; return 1; }

/* ------------------------------------------------------------------------------------------
 * The deterministic blocked sum of an element-wise loss.
 * *TOTAL = sum over i of LOSS (an expression in p = pred[i], y = target[i]); a label failing
 * LABEL_OK (an expression in y) makes the kernel return FPK_ERR_VALUE.
 * ---------------------------------------------------------------------------------------- */

/* The sum of LOSS over [start, end) in LANES running sums (so it vectorises), and whether a
   target failed LABEL_OK (counted in double lanes too: one vector type in the loop).
   `delta` is the loss's hyper-parameter (huber's; unused by the others). */
#define BLOCK_SUM(NAME, SUFFIX, T, LOSS, LABEL_OK)                                          \
    static double NAME##_block_sum_##SUFFIX(const T *pred, const T *target, size_t start,   \
                                            size_t end, int *bad, double delta)             \
    {                                                                                       \
        double lane[LANES] = {0}, bad_lane[LANES] = {0};                                    \
        size_t i = start;                                                                   \
        for (; i + LANES <= end; i += LANES)                                                \
            for (int k = 0; k < LANES; k++) {                                               \
                double p = pred[i + k], y = target[i + k];                                  \
                lane[k] += (LOSS);                                                          \
                bad_lane[k] += (LABEL_OK) ? 0.0 : 1.0;                                      \
            }                                                                               \
        for (int k = 0; i < end; i++, k++) {                                                \
            double p = pred[i], y = target[i];                                              \
            lane[k] += (LOSS);                                                              \
            bad_lane[k] += (LABEL_OK) ? 0.0 : 1.0;                                          \
        }                                                                                   \
        double sum = 0, bad_count = 0;                                                      \
        for (int k = 0; k < LANES; k++) {                                                   \
            sum += lane[k];                                                                 \
            bad_count += bad_lane[k];                                                       \
        }                                                                                   \
        *bad = bad_count != 0;                                                              \
        return sum;                                                                         \
    }

/* *total = the mean (over count) or sum of the block sums partial[0, blocks), added in block
   order; frees partial. */
static void reduce_partials(double *partial, size_t blocks, int reduction, size_t count,
                            double *total)
{
    double sum = 0;
    for (size_t b = 0; b < blocks; b++) sum += partial[b];
    free(partial);
    *total = reduction == FPK_REDUCTION_MEAN ? sum / (double)count : sum;
}

/* Returns from the value kernel with *TOTAL = the mean or sum (REDUCTION) over all N
   elements: blocks of LOSS_BLOCK summed in parallel, block sums added in block order (so any
   thread count gives the same bits). */
#define BLOCKED_TOTAL(BLOCK_FN, N, REDUCTION, TOTAL, HYPER)                                 \
    do {                                                                                    \
        size_t blocks = ((N) + LOSS_BLOCK - 1) / LOSS_BLOCK;                                \
        double *partial = malloc(blocks * sizeof(double));                                  \
        if (!partial) return FPK_ERR_NOMEM;                                                 \
        int bad = 0;                                                                        \
        FPK_PARALLEL_RANGES(blocks, fpk_threads_for(N), blo, bhi,                           \
            int mybad = 0;                                                                  \
            for (size_t b = blo; b < bhi; b++) {                                            \
                size_t start = b * LOSS_BLOCK;                                              \
                size_t end = start + LOSS_BLOCK < (N) ? start + LOSS_BLOCK : (N);           \
                int block_bad;                                                              \
                partial[b] = BLOCK_FN(pred, target, start, end, &block_bad, HYPER);         \
                mybad |= block_bad;                                                         \
            }                                                                               \
            if (mybad) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                       \
        reduce_partials(partial, blocks, (REDUCTION), (N), (TOTAL));                        \
        return bad ? FPK_ERR_VALUE : FPK_OK;                                                \
    } while (0)

/* ------------------------------------------------------------------------------------------
 * Element-wise losses: the value, gradient and value_and_gradient kernels, float and double.
 * ---------------------------------------------------------------------------------------- */

/* for i in [lo, hi): out[i] = (T)(scale * EXPR) (EXPR = LOSS or GRAD); whether a target
   failed LABEL_OK. (`streaming` is the vector version's.) */
#define MAP_RANGE(NAME, FN, SUFFIX, T, EXPR, LABEL_OK)                                      \
    static int NAME##_##FN##_range_##SUFFIX(const T *pred, const T *target, T *out,         \
                                            size_t lo, size_t hi, double scale,             \
                                            double delta, int streaming)                    \
    {                                                                                       \
        (void)delta, (void)streaming;                                                       \
        int bad = 0;                                                                        \
        for (size_t i = lo; i < hi; i++) {                                                  \
            double p = pred[i], y = target[i];                                              \
            out[i] = (T)(scale * (EXPR));                                                   \
            bad |= !(LABEL_OK);                                                             \
        }                                                                                   \
        return bad;                                                                         \
    }

/* The value and gradient kernels of an element-wise loss from its block sum and its two range
   maps (NAME_{block_sum,loss_range,grad_range}_SUFFIX; RANGE_SUFFIX names the maps). */
#define ELEMENTWISE_KERNELS(NAME, SUFFIX, RANGE_SUFFIX, T, HYPER, ...)                      \
    int fpk_##NAME##_value_##SUFFIX(const T *pred, const T *target, size_t n, int reduction, \
                                    T *per_element, double *total __VA_ARGS__)              \
    {                                                                                       \
        if (reduction < FPK_REDUCTION_NONE || reduction > FPK_REDUCTION_SUM)                \
            return FPK_ERR_VALUE;                                                           \
        if (reduction == FPK_REDUCTION_NONE) {                                              \
            if (n == 0) return FPK_OK;                                                      \
            if (!pred || !target || !per_element) return FPK_ERR_NULL;                      \
            int bad = 0, streaming = fpk_streams(per_element, n, sizeof(T));                \
            FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                              \
                if (NAME##_loss_range_##RANGE_SUFFIX(pred, target, per_element, lo, hi, 1.0, \
                                                     HYPER, streaming))                     \
                    __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                          \
            return bad ? FPK_ERR_VALUE : FPK_OK;                                            \
        }                                                                                   \
        if (!total) return FPK_ERR_NULL;                                                    \
        if (n == 0) { *total = reduction == FPK_REDUCTION_MEAN ? NAN : 0.0; return FPK_OK; } \
        if (!pred || !target) return FPK_ERR_NULL;                                          \
        BLOCKED_TOTAL(NAME##_block_sum_##RANGE_SUFFIX, n, reduction, total, HYPER);         \
    }                                                                                       \
    int fpk_##NAME##_gradient_##SUFFIX(const T *pred, const T *target, T *grad, size_t n,   \
                                       int reduction __VA_ARGS__)                           \
    {                                                                                       \
        if (reduction < FPK_REDUCTION_NONE || reduction > FPK_REDUCTION_SUM)                \
            return FPK_ERR_VALUE;                                                           \
        if (n == 0) return FPK_OK;                                                          \
        if (!pred || !target || !grad) return FPK_ERR_NULL;                                 \
        double scale = reduction == FPK_REDUCTION_MEAN ? 1.0 / (double)n : 1.0;             \
        int bad = 0, streaming = fpk_streams(grad, n, sizeof(T));                           \
        FPK_PARALLEL_RANGES(n, fpk_threads_for(n), lo, hi,                                  \
            if (NAME##_grad_range_##RANGE_SUFFIX(pred, target, grad, lo, hi, scale, HYPER,  \
                                                 streaming))                                \
                __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                              \
        return bad ? FPK_ERR_VALUE : FPK_OK;                                                \
    }                                                                                       \
    /* the blocks of BLOCKED_TOTAL, by NAME_both_block: the gradient has the bits of the    \
       gradient kernel, the total those of the value kernel up to the order of its sum */   \
    int fpk_##NAME##_value_and_gradient_##SUFFIX(const T *pred, const T *target, T *grad,   \
                                                 size_t n, int reduction, T *per_element,   \
                                                 double *total __VA_ARGS__)                 \
    {                                                                                       \
        if (reduction < FPK_REDUCTION_NONE || reduction > FPK_REDUCTION_SUM)                \
            return FPK_ERR_VALUE;                                                           \
        int none = reduction == FPK_REDUCTION_NONE;                                         \
        if (!none && !total) return FPK_ERR_NULL;                                           \
        if (n == 0) {                                                                       \
            if (!none) *total = reduction == FPK_REDUCTION_MEAN ? NAN : 0.0;                \
            return FPK_OK;                                                                  \
        }                                                                                   \
        if (!pred || !target || !grad || (none && !per_element)) return FPK_ERR_NULL;       \
        double scale = reduction == FPK_REDUCTION_MEAN ? 1.0 / (double)n : 1.0;             \
        size_t blocks = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;                                  \
        double *partial = none ? NULL : malloc(blocks * sizeof(double));                    \
        if (!none && !partial) return FPK_ERR_NOMEM;                                        \
        int bad = 0, streaming = fpk_streams(grad, n, sizeof(T));                           \
        FPK_PARALLEL_RANGES(blocks, fpk_threads_for(n), blo, bhi,                           \
            int mybad = 0;                                                                  \
            for (size_t b = blo; b < bhi; b++) {                                            \
                size_t start = b * LOSS_BLOCK;                                              \
                size_t end = start + LOSS_BLOCK < n ? start + LOSS_BLOCK : n;               \
                int block_bad;                                                              \
                double sum = NAME##_both_block_##RANGE_SUFFIX(pred, target, grad,           \
                    none ? per_element : NULL, start, end, scale, HYPER, streaming, &block_bad); \
                if (!none) partial[b] = sum;                                                \
                mybad |= block_bad;                                                         \
            }                                                                               \
            if (streaming) fpk_stream_fence();                      /* once, not per block */ \
            if (mybad) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                       \
        if (!none) reduce_partials(partial, blocks, reduction, n, total);                   \
        return bad ? FPK_ERR_VALUE : FPK_OK;                                                \
    }

/* The losses of [start, end) summed (returned) or, with per_element, written there, and the
   gradient into grad (which may be pred: each block is read before it is written). */
#define BOTH_BLOCK(NAME, SUFFIX, T)                                                         \
    static double NAME##_both_block_##SUFFIX(const T *pred, const T *target, T *grad,       \
                                             T *per_element, size_t start, size_t end,      \
                                             double scale, double delta, int streaming,     \
                                             int *bad)                                      \
    {                                                                                       \
        double sum = 0;                                                                     \
        if (per_element)                                                                    \
            *bad = NAME##_loss_range_##SUFFIX(pred, target, per_element, start, end, 1.0,   \
                                              delta, 0);                                    \
        else                                                                                \
            sum = NAME##_block_sum_##SUFFIX(pred, target, start, end, bad, delta);          \
        *bad |= NAME##_grad_range_##SUFFIX(pred, target, grad, start, end, scale, delta,    \
                                           streaming);                                      \
        return sum;                                                                         \
    }

#define ELEMENTWISE_LOSS(NAME, SUFFIX, T, LOSS, GRAD, LABEL_OK, HYPER, ...)                 \
    BLOCK_SUM(NAME, SUFFIX, T, LOSS, LABEL_OK)                                              \
    MAP_RANGE(NAME, loss, SUFFIX, T, LOSS, LABEL_OK)                                        \
    MAP_RANGE(NAME, grad, SUFFIX, T, GRAD, LABEL_OK)                                        \
    BOTH_BLOCK(NAME, SUFFIX, T)                                                             \
    ELEMENTWISE_KERNELS(NAME, SUFFIX, SUFFIX, T, HYPER, __VA_ARGS__)

/* ------------------------------------------------------------------------------------------
 * The float32 kernels on vectors (fpk_simd.h): FPK_LANES elements a step, inputs read
 * FPK_PREFETCH_AHEAD bytes ahead (so memory and arithmetic overlap), large outputs written with
 * streaming stores (fpk_stream.h). The math per element is the double math above, on the two
 * double halves of each float vector (the same bits, up to fused multiply-adds), except bce's
 * value, computed in float (log_v), and mae's gradient, a sign (the same bits in float).
 * ---------------------------------------------------------------------------------------- */
#if FPK_SIMD
#define VECTOR_F32 1

/* sign_of on float lanes: 1, -1, or e * 0 (a signed zero, or NaN). */
static inline vfloat sign_v(vfloat e)
{
    vfloat s = mul_v(e, zero_v());
    s = blend_v(is_v(e, _CMP_GT_OQ, 0.0f), s, splat(1.0f));
    return blend_v(is_v(e, _CMP_LT_OQ, 0.0f), s, splat(-1.0f));
}

/* The per-element functions above on double lanes, NAME_loss_v and NAME_grad_v (or, for the
   gradients of mae, mse and huber, NAME_grad_scaled_v on float lanes), and on the
   float targets NAME_label_ok_v (the lanes passing the label check). */
static inline vdouble mae_loss_v(vdouble p, vdouble y, double delta) { (void)delta; return abs_d(sub_d(y, p)); }
/* mae's gradient stays in float lanes: p - y rounds, but never to another sign (nor to 0
   unless p = y), and scale times +-1 rounds as (float)scale does: the bits of mae_grad. */
static inline vfloat mae_grad_scaled_v(vfloat p, vfloat y, double scale, double delta)
{
    (void)delta;
    vfloat sign = keep_v(cmp_v(p, y, _CMP_NEQ_UQ), sign_v(sub_v(p, y)));   /* 0 where p = y */
    return mul_v(sign, splat((float)scale));
}

static inline vdouble mse_loss_v(vdouble p, vdouble y, double delta)
{
    (void)delta;
    vdouble e = sub_d(p, y);                     /* p - y as the gradient's: computed once */
    return mul_d(e, e);
}

/* s (p - y) computed in double lanes, then rounded to float (once, where p - y is exact). */
static inline vfloat scaled_difference_v(vfloat p, vfloat y, double s)
{
    return join_halves(mul_d(splat_d(s), sub_d(low_half(p), low_half(y))),
                       mul_d(splat_d(s), sub_d(high_half(p), high_half(y))));
}

/* mse's gradient 2 (p - y), scaled as (2 scale)(p - y): the same single rounding (2 scale is
   exact), one multiply fewer. */
static inline vfloat mse_grad_scaled_v(vfloat p, vfloat y, double scale, double delta)
{
    (void)delta;
    return scaled_difference_v(p, y, 2.0 * scale);
}

/* m = 1 - y p: m where m > 0 or m is NaN, else 0 */
static inline vdouble hinge_loss_v(vdouble p, vdouble y, double delta)
{
    (void)delta;
    vdouble m = fnma_d(y, p, splat_d(1.0));
    return keep_d(is_d(m, _CMP_NLE_UQ, 0.0), m);
}
static inline vdouble hinge_grad_v(vdouble p, vdouble y, double delta)
{
    (void)delta;
    vdouble m = fnma_d(y, p, splat_d(1.0));
    vdouble g = keep_d(is_d(m, _CMP_UNORD_Q, 0.0), m);
    return blend_d(is_d(m, _CMP_GT_OQ, 0.0), g, sub_d(zero_d(), y));
}
static inline vmask hinge_label_ok_v(vfloat y) { return or_m(is_v(y, _CMP_EQ_OQ, 1.0f), is_v(y, _CMP_EQ_OQ, -1.0f)); }

/* With a = |e| and c = min(a, delta): c (a - c/2), which is e^2/2 within delta and
   delta (a - delta/2) beyond, rounded as huber_loss rounds them (a - a/2 and delta/2 are exact),
   in 5 operations instead of 8. A NaN a gives c = delta (vminpd), then NaN. */
static inline vdouble huber_loss_v(vdouble p, vdouble y, double delta)
{
    vdouble a = abs_d(sub_d(p, y));
    vdouble c = min_d(a, splat_d(delta));
    return mul_d(c, fnma_d(splat_d(0.5), c, a));
}
/* huber's gradient clamp(p - y, -delta, delta) scaled: scale (p - y) rounded to float, then
   clamped to +-(float)(scale delta) in float lanes. Rounding and scaling are monotone, so they
   commute with the clamp: the same bits as clamping first, with the clamp on 8 lanes instead
   of twice 4 (NaN stays NaN: vminps and vmaxps return their second operand). */
static inline vfloat huber_grad_scaled_v(vfloat p, vfloat y, double scale, double delta)
{
    float limit = (float)(scale * delta);
    return min_v(splat(limit), max_v(splat(-limit), scaled_difference_v(p, y, scale)));
}

/* clamp_prob on double lanes (NaN stays NaN). */
static inline vdouble clamp_prob_v(vdouble p)
{
    return max_d(splat_d(PROB_EPS), min_d(splat_d(1.0 - PROB_EPS), p));
}
/* bce on float lanes (its value: with double lanes it took 2.8-3.4 times as long), within
   3 ULP of the double formula: -(y log p + (1 - y) log(1 - p)), with log(1 - p) reduced from p
   exactly (log_one_minus_v), not from 1 - p rounded. Where every target is 0 or 1, one
   logarithm is enough: -log(y ? p : 1 - p), the same number as the formula, within 1 ULP
   (1.3 with 1 - p rounded and a correction divided by it, which was no faster). Lanes where
   clamp_prob clamps p (rare) take the formula's value at the clamps; NaN stays NaN. */
#define EPS_F 1.00000001e-7f              /* the float above PROB_EPS: p < PROB_EPS iff p < EPS_F */
#define ONE_MINUS_EPS_F 0.999999881f      /* the float below 1 - PROB_EPS */
#define LOG_EPS -16.1180954f              /* log(PROB_EPS) */
#define LOG_ONE_MINUS_EPS -1.00000008e-7f /* log(1 - PROB_EPS) */
/* The tests of the usual case, where every target is 0 or 1 and every p inside the clamps, as
   "all lanes pass" of two compares each (the second masked by the first), and no label check
   beside them, as 0 and 1 pass it: in cache bce's value 14.0 -> 12.5 and value_and_gradient
   16.7 -> 14.8 TSC cycles per 16 floats, the same bits (at 16M, 3.32 -> 3.20 ms). */
static inline vmask hard_targets_v(vfloat y)      /* 0 or 1 */
{
    return or_m(is_v(y, _CMP_EQ_OQ, 0.0f), is_v(y, _CMP_EQ_OQ, 1.0f));
}
static inline vmask below_eps_v(vfloat p) { return is_v(p, _CMP_NGE_UQ, EPS_F); }   /* NaN too */
static inline vmask above_one_minus_eps_v(vfloat p) { return is_v(p, _CMP_GT_OQ, ONE_MINUS_EPS_F); }
static inline vmask unclamped_v(vfloat p)        /* EPS_F <= p <= ONE_MINUS_EPS_F */
{
    return mask_cmp_v(is_v(p, _CMP_GE_OQ, EPS_F), p, splat(ONE_MINUS_EPS_F), _CMP_LE_OQ);
}
/* p_t = p where the target is 1 (`one`), 1 - p where it is 0: the loss is -log p_t */
static inline vfloat target_probability_v(vfloat p, vmask one)
{
    return blend_v(one, sub_v(splat(1.0f), p), p);
}
static inline vfloat bce_loss_fv(vfloat p, vfloat y)
{
    vfloat minus_loss;                                            /* y log p + (1 - y) log(1 - p) */
    if (all_m(hard_targets_v(y))) {                               /* every target 0 or 1 */
        vmask one = is_v(y, _CMP_EQ_OQ, 1.0f);
        vfloat kf, f = log_reduce_v(target_probability_v(p, one), &kf);
        vmask from_p = andnot_m(one, is_v(p, _CMP_LT_OQ, 0.5f));   /* log(1 - p), p < 1/2 */
        minus_loss = log_reduced_v(blend_v(from_p, f, one_minus_reduced_v(p, kf)), kf);
    } else {
        minus_loss = fma_v(y, log_v(p), mul_v(sub_v(splat(1.0f), y), log_one_minus_v(p)));
    }
    vfloat loss = sub_v(zero_v(), minus_loss);
    if (!all_m(unclamped_v(p))) {
        vfloat not_y = sub_v(splat(1.0f), y);
        vfloat at_eps = fma_v(y, splat(LOG_EPS), mul_v(not_y, splat(LOG_ONE_MINUS_EPS)));
        vfloat at_one_minus_eps = fma_v(y, splat(LOG_ONE_MINUS_EPS), mul_v(not_y, splat(LOG_EPS)));
        loss = blend_v(below_eps_v(p), loss, sub_v(zero_v(), at_eps));
        loss = blend_v(above_one_minus_eps_v(p), loss, sub_v(zero_v(), at_one_minus_eps));
        loss = blend_v(is_v(p, _CMP_UNORD_Q, 0.0f), loss, p);
    }
    return loss;
}

static inline vdouble bce_formula_grad_v(vdouble p, vdouble y, double delta)
{
    (void)delta;
    vdouble q = clamp_prob_v(p);
    return div_d(sub_d(q, y), mul_d(q, sub_d(splat_d(1.0), q)));
}
static inline vmask bce_label_ok_v(vfloat y)
{
    vmask hard = hard_targets_v(y);
    return all_m(hard) ? hard : and_m(is_v(y, _CMP_GE_OQ, 0.0f), is_v(y, _CMP_LE_OQ, 1.0f));
}

/* NAME_FN_scaled_v: (float)(scale * FN) at float lanes p and y (FN: loss or grad), from
   NAME_FN_halves, the two double halves of FN. */
#define SCALED_HALVES(NAME, FN)                                                             \
    static inline vfloat NAME##_##FN##_scaled_v(vfloat p, vfloat y, double scale,           \
                                                double delta)                               \
    {                                                                                       \
        vdouble low, high;                                                                  \
        NAME##_##FN##_halves(p, y, delta, &low, &high);                                     \
        return join_halves(mul_d(splat_d(scale), low), mul_d(splat_d(scale), high));        \
    }

/* Each loss's double function on each half, except bce's value, which is computed in float,
   and the gradients of mae, mse and huber (NAME_grad_scaled_v, below). */
#define ON_HALVES(NAME, FN)                                                                 \
    static inline void NAME##_##FN##_halves(vfloat p, vfloat y, double delta, vdouble *low, \
                                            vdouble *high)                                  \
    {                                                                                       \
        *low = NAME##_##FN##_v(low_half(p), low_half(y), delta);                            \
        *high = NAME##_##FN##_v(high_half(p), high_half(y), delta);                         \
    }                                                                                       \
    SCALED_HALVES(NAME, FN)
ON_HALVES(mae, loss)
ON_HALVES(mse, loss)
ON_HALVES(hinge, loss)
ON_HALVES(hinge, grad)
ON_HALVES(huber, loss)
ON_HALVES(bce, formula_grad)
/* bce's gradient on float lanes where every target is 0 or 1 and every p inside the clamps
   (nearly always): scale/d with d = -p_t = -p (y = 1) or p_t = 1 - p (y = 0), the formula's
   (q - y)/(q (1 - q)) without the factor it cancels. d is exact as d + d_lo (Fast2Sum, as
   1 >= p) and scale as s_hi + s_lo, and the quotient's error is taken back with an fma: one
   rounding, as the formula in double has (of 12M inputs under 3 reductions, one, a near-tie,
   rounded the other way), and 30% faster at 16M. Elsewhere the formula in double, on each
   half. */
static inline vfloat bce_grad_scaled_v(vfloat p, vfloat y, double scale, double delta)
{
    if (!all_m(and_m(hard_targets_v(y), unclamped_v(p))))
        return bce_formula_grad_scaled_v(p, y, scale, delta);
    float s_hi = (float)scale, s_lo = (float)(scale - s_hi);
    vmask one = is_v(y, _CMP_EQ_OQ, 1.0f);
    vfloat p_t = target_probability_v(p, one);                   /* the loss's: computed once */
    vfloat d = mask_sub_v(p_t, one, zero_v(), p_t);
    vfloat d_lo = keep_v(andnot_m(one, first_lanes(FPK_LANES)), sub_v(sub_v(splat(1.0f), p_t), p));
    vfloat t = div_v(splat(s_hi), d);
    /* t (d + d_lo) = s - rest, so s/(d + d_lo) = t + rest/d (nearly), rest/d = rest t/s */
    vfloat rest = fnma_v(t, d_lo, add_v(fnma_v(t, d, splat(s_hi)), splat(s_lo)));
    return fma_v(t, mul_v(rest, splat(1.0f / s_hi)), t);
}
static inline void bce_loss_halves(vfloat p, vfloat y, double delta, vdouble *low, vdouble *high)
{
    (void)delta;
    vfloat loss = bce_loss_fv(p, y);
    *low = low_half(loss);
    *high = high_half(loss);
}
SCALED_HALVES(bce, loss)

static inline vmask mae_label_ok_v(vfloat y) { (void)y; return first_lanes(FPK_LANES); }
static inline vmask mse_label_ok_v(vfloat y) { (void)y; return first_lanes(FPK_LANES); }
static inline vmask huber_label_ok_v(vfloat y) { (void)y; return first_lanes(FPK_LANES); }

/* The statements (the arguments after count) with `count` = n, the lanes a step takes (n >=
   FPK_LANES: all). Where masks are emulated (AVX2: FPK_FREE_MASKS 0), whole vectors get a copy
   of their own, in which count is the constant FPK_LANES and the masks and partial loads fold
   away. */
#define WITH_COUNT(n, count, ...)                                                           \
    do {                                                                                    \
        if (!FPK_FREE_MASKS && (n) >= FPK_LANES) {                                          \
            const size_t count = FPK_LANES;                                                 \
            __VA_ARGS__;                                                                    \
        } else {                                                                            \
            const size_t count = (n);                                                       \
            __VA_ARGS__;                                                                    \
        }                                                                                   \
    } while (0)

/* sum + b on the lanes of m_d, the lanes of the first `count` floats. Where masks are emulated,
   a whole vector's (count the constant FPK_LANES) adds plainly: GCC keeps the and with an
   all-ones constant otherwise (mse's value took 0.30 ns/element in cache, not 0.24). */
static inline vdouble add_first_d(vdouble sum, vmask_d m_d, vdouble b, size_t count)
{
    return !FPK_FREE_MASKS && count >= FPK_LANES ? add_d(sum, b) : add_lanes_d(sum, m_d, b);
}

/* BLOCK_SUM on vectors (double lanes for each half of the floats). FOR_STEPS without an output
   (pred stands in; nothing streams) gives the whole vectors a loop of their own: in cache mse's
   value 4.58 -> 3.44 TSC cycles per 16 floats, bce's 17.4 -> 14.4, with the same sums (each
   element in the lane it had). */
#define BLOCK_SUM_V(NAME)                                                                   \
    static double NAME##_block_sum_v(const float *pred, const float *target, size_t start,  \
                                     size_t end, int *bad, double delta)                    \
    {                                                                                       \
        vdouble low = zero_d(), high = zero_d();                                            \
        vmask bad_lanes = no_lanes();                                                       \
        FOR_STEPS(pred, start, end, 0, 1, i, count,                                         \
                vmask m = first_lanes(count);                                               \
                fpk_read_ahead(pred + i), fpk_read_ahead(target + i);                       \
                vfloat p = load_first_v(pred + i, count), y = load_first_v(target + i, count); \
                bad_lanes = or_m(bad_lanes, andnot_m(NAME##_label_ok_v(y), m));             \
                vdouble loss_low, loss_high;                                                \
                NAME##_loss_halves(p, y, delta, &loss_low, &loss_high);                     \
                low = add_first_d(low, low_half_m(m), loss_low, count);                     \
                high = add_first_d(high, high_half_m(m), loss_high, count));                \
        *bad = any_m(bad_lanes);                                                            \
        return reduce_add_d(add_d(low, high));                                              \
    }

/* for i in [lo, hi): out[i] = (float)(scale * FN(pred[i], target[i])) by NAME_FN_scaled_v,
   FN = loss or grad; bad_lanes collects the label failures. The steps follow fpk_step, so that when
   streaming the full ones can use streaming stores. */
#define MAP_RANGE_V(NAME, FN, out, lo, hi, streaming, scale, delta, bad_lanes)              \
    do {                                                                                    \
        FOR_STEPS(out, lo, hi, streaming, 1, i, count,                                      \
            vmask m = first_lanes(count);                                                   \
            fpk_read_ahead(pred + i), fpk_read_ahead(target + i);                           \
            vfloat p = load_first_v(pred + i, count), y = load_first_v(target + i, count);  \
            bad_lanes = or_m(bad_lanes, andnot_m(NAME##_label_ok_v(y), m));                 \
            vfloat v = NAME##_##FN##_scaled_v(p, y, scale, delta);                          \
            fpk_store_step((out) + i, v, count, streaming));                                \
        if (streaming) fpk_stream_fence();                                                  \
    } while (0)

/* MAP_RANGE on vectors: NAME_FN_range_v, FN = loss or grad. */
#define MAP_RANGE_FN_V(NAME, FN)                                                            \
    static int NAME##_##FN##_range_v(const float *pred, const float *target, float *out,    \
                                     size_t lo, size_t hi, double scale, double delta,      \
                                     int streaming)                                         \
    {                                                                                       \
        vmask bad_lanes = no_lanes();                                                       \
        MAP_RANGE_V(NAME, FN, out, lo, hi, streaming, scale, delta, bad_lanes);             \
        return any_m(bad_lanes);                                                            \
    }

/* BOTH_BLOCK on vectors, in one loop: each step's floats are read and widened once. The steps
   follow fpk_step for grad (so that streaming stores are aligned), so the sum may differ from
   BLOCK_SUM_V's in its last bits (other lanes add up other elements). The caller fences the
   streaming stores once per thread, not once per block. */
#define BOTH_BLOCK_V(NAME)                                                                  \
    static double NAME##_both_block_v(const float *pred, const float *target, float *grad,  \
                                      float *per_element, size_t start, size_t end,         \
                                      double scale, double delta, int streaming, int *bad)  \
    {                                                                                       \
        vdouble low = zero_d(), high = zero_d();                                            \
        vmask bad_lanes = no_lanes();                                                       \
        FOR_STEPS(grad, start, end, streaming, 1, i, count,                                 \
                vmask m = first_lanes(count);                                               \
                fpk_read_ahead(pred + i), fpk_read_ahead(target + i);                       \
                vfloat p = load_first_v(pred + i, count), y = load_first_v(target + i, count); \
                bad_lanes = or_m(bad_lanes, andnot_m(NAME##_label_ok_v(y), m));             \
                vdouble loss_low, loss_high;                                                \
                NAME##_loss_halves(p, y, delta, &loss_low, &loss_high);                     \
                if (per_element) {                                                          \
                    store_first_v(per_element + i, join_halves(loss_low, loss_high), count); \
                } else {                                                                    \
                    low = add_first_d(low, low_half_m(m), loss_low, count);                 \
                    high = add_first_d(high, high_half_m(m), loss_high, count);             \
                }                                                                           \
                vfloat g = NAME##_grad_scaled_v(p, y, scale, delta);                        \
                fpk_store_step(grad + i, g, count, streaming));                             \
        *bad = any_m(bad_lanes);                                                            \
        return reduce_add_d(add_d(low, high));                                              \
    }

/* ELEMENTWISE_LOSS for float on vectors. */
#define ELEMENTWISE_LOSS_V(NAME, HYPER, ...)                                                \
    BLOCK_SUM_V(NAME)                                                                       \
    MAP_RANGE_FN_V(NAME, loss)                                                              \
    MAP_RANGE_FN_V(NAME, grad)                                                              \
    BOTH_BLOCK_V(NAME)                                                                      \
    ELEMENTWISE_KERNELS(NAME, f32, v, float, HYPER, __VA_ARGS__)
#define ELEMENTWISE_LOSS_F32(NAME, LOSS, GRAD, LABEL_OK, HYPER, ...)                        \
    ELEMENTWISE_LOSS_V(NAME, HYPER, __VA_ARGS__)
#else
#define VECTOR_F32 0
#define ELEMENTWISE_LOSS_F32(NAME, LOSS, GRAD, LABEL_OK, HYPER, ...)                        \
    ELEMENTWISE_LOSS(NAME, f32, float, LOSS, GRAD, LABEL_OK, HYPER, __VA_ARGS__)
#endif /* FPK_SIMD */

/* HYPER: the hyper-parameter handed to the block sum (0.0 when the loss has none); the
   variadic part declares it as a kernel argument (", double delta"). */
#define LOSS_BOTH(NAME, LOSS, GRAD, LABEL_OK, HYPER, ...)                                   \
    ELEMENTWISE_LOSS_F32(NAME, LOSS, GRAD, LABEL_OK, HYPER, __VA_ARGS__)                    \
    ELEMENTWISE_LOSS(NAME, f64, double, LOSS, GRAD, LABEL_OK, HYPER, __VA_ARGS__)

LOSS_BOTH(mae, mae_loss(p, y), mae_grad(p, y), any_label_ok(y), 0.0, )
LOSS_BOTH(mse, mse_loss(p, y), mse_grad(p, y), any_label_ok(y), 0.0, )
LOSS_BOTH(hinge, hinge_loss(p, y), hinge_grad(p, y), hinge_label_ok(y), 0.0, )
LOSS_BOTH(huber, huber_loss(p, y, delta), huber_grad(p, y, delta), any_label_ok(y), delta, , double delta)
ELEMENTWISE_LOSS_F32(bce, bce_loss(p, y), bce_grad(p, y), unit_label_ok(y), 0.0, )
ELEMENTWISE_LOSS(bce, f64, double, bce_loss(p, y), bce_grad(p, y), unit_label_ok(y), 0.0, )

/* ------------------------------------------------------------------------------------------
 * Row losses: cce on probabilities, softmax_cross_entropy on logits. A batch is `rows` rows of
 * `cols` classes; the target is either `labels` (one class index per row) or `target_rows`
 * (rows x cols of class weights in [0, 1], e.g. one-hot); exactly one of the two is given.
 * MEAN divides by the number of rows.
 * ---------------------------------------------------------------------------------------- */

/* One class of a weighted cce row: sum += y log(clamp(p)), ok &= y in [0, 1]; a class of
   weight 0 adds nothing, whatever its p (as with a class index, whose row's other
   probabilities are not read). */
static inline void cce_term(double p, double y, double *sum, int *ok)
{
    double q = clamp_prob(p);
    *ok &= unit_label_ok(y);
    *sum += y != 0 ? y * (q == q ? log_d(q) : q) : 0.0;
}

/* -sum_j y_j log(clamp(p_j)) of a weighted row, in LANES running sums with the vectorisable
   log_d (libm's log kept the loop scalar: 8.4 ms for (16384, 1000) one-hot rows). */
#define CCE_WEIGHTED(SUFFIX, T)                                                             \
    static inline double cce_weighted_##SUFFIX(const T *p, const T *y, size_t cols, int *bad) \
    {                                                                                       \
        double sum[LANES] = {0};                                                            \
        int ok = 1;                                                                         \
        size_t j = 0;                                                                       \
        for (; j + LANES <= cols; j += LANES)                                               \
            for (int k = 0; k < LANES; k++) cce_term(p[j + k], y[j + k], &sum[k], &ok);     \
        for (int k = 0; j < cols; j++, k++) cce_term(p[j], y[j], &sum[k], &ok);             \
        double total = 0;                                                                   \
        for (int k = 0; k < LANES; k++) total += sum[k];                                    \
        *bad |= !ok;                                                                        \
        return -total;                                                                      \
    }

CCE_WEIGHTED(f32, float)
CCE_WEIGHTED(f64, double)

/* The index of a one-hot row's single nonzero weight when that weight is 1, else -1. cce takes
   such a row by its label's formula: the weighted one reads and logs every class (one-hot
   (16384, 1000) float32 rows: 5.75 ms for the value, against 0.07 with labels), with the same
   result. */
#define ONE_HOT_AT(SUFFIX, T)                                                               \
    static inline int64_t one_hot_at_##SUFFIX(const T *y, size_t cols)                      \
    {                                                                                       \
        size_t nonzero = 0, at = 0;                 /* at: the sum of the nonzeros' indices */ \
        for (size_t j = 0; j < cols; j++) {         /* NaN counts as nonzero: not one-hot */ \
            nonzero += y[j] != 0;                                                           \
            at += y[j] != 0 ? j : 0;                                                        \
        }                                                                                   \
        return nonzero == 1 && y[at] == 1 ? (int64_t)at : -1;                               \
    }
ONE_HOT_AT(f32, float)
ONE_HOT_AT(f64, double)

/* The class of row r for the faster softmax_cross_entropy paths (vectors, narrow rows): its
   label when in range, or the class of a one-hot row (the same loss and gradient as its label:
   one-hot targets took the scalar path, 3.4 times as long); else -1, the row kernels' path
   (which also reports a bad label or weight). */
#define ROW_CLASS(SUFFIX, T)                                                                \
    static inline int64_t row_class_##SUFFIX(const int64_t *labels, const T *target_rows,   \
                                             size_t r, size_t cols)                         \
    {                                                                                       \
        if (!labels) return one_hot_at_##SUFFIX(target_rows + r * cols, cols);              \
        return labels[r] >= 0 && (uint64_t)labels[r] < (uint64_t)cols ? labels[r] : -1;     \
    }
ROW_CLASS(f32, float)
ROW_CLASS(f64, double)

/* -sum_j y_j log(clamp(p_j)) of one row; *bad set for a label out of range. */
#define CCE_ROW(T, SUFFIX, p, labels, target_rows, r, cols, result, bad)                    \
    do {                                                                                    \
        const T *y_ = labels ? NULL : target_rows + r * cols;                               \
        int64_t c_ = labels ? labels[r] : one_hot_at_##SUFFIX(y_, cols);    /* -1: weighted */ \
        if (labels && (c_ < 0 || (uint64_t)c_ >= (uint64_t)cols)) { bad = 1; result = NAN; break; } \
        result = c_ >= 0 ? -log(clamp_prob((double)p[c_])) : cce_weighted_##SUFFIX(p, y_, cols, &bad); \
    } while (0)

/* log sum_j e^(z_j) of one row, stable: m + log sum e^(z_j - m); LANES running maxima and
   sums so the loops vectorise (e^ by the vectorisable exp_d; z_j - m is exact in double for
   float z). */
#define LOG_SUM_EXP(SUFFIX, T)                                                              \
    static inline double log_sum_exp_##SUFFIX(const T *z, size_t cols)                      \
    {                                                                                       \
        T lane_max[LANES];                                                                  \
        for (int k = 0; k < LANES; k++) lane_max[k] = -(T)INFINITY;                         \
        size_t j = 0;                                                                       \
        for (; j + LANES <= cols; j += LANES)                                               \
            for (int k = 0; k < LANES; k++)                                                 \
                lane_max[k] = z[j + k] > lane_max[k] ? z[j + k] : lane_max[k];              \
        for (int k = 0; j < cols; j++, k++)                                                 \
            lane_max[k] = z[j] > lane_max[k] ? z[j] : lane_max[k];                          \
        double m = lane_max[0];                                                             \
        for (int k = 1; k < LANES; k++) m = lane_max[k] > m ? lane_max[k] : m;              \
        if (isinf(m)) return m;                                                             \
        double lane[LANES] = {0};                                                           \
        for (j = 0; j + LANES <= cols; j += LANES)                                          \
            for (int k = 0; k < LANES; k++) lane[k] += exp_d((double)z[j + k] - m);         \
        for (int k = 0; j < cols; j++, k++) lane[k] += exp_d((double)z[j] - m);             \
        double s = 0;                                                                       \
        for (int k = 0; k < LANES; k++) s += lane[k];                                       \
        return m + log(s);                                                                  \
    }

LOG_SUM_EXP(f32, float)
LOG_SUM_EXP(f64, double)

/* A row whose maximum is +inf has a softmax limit only when that +inf is alone and no entry is
   NaN (as the softmax activation): 1 there, 0 elsewhere. Its index, or -1 when there is none. */
#define LONE_INFINITY(SUFFIX, T)                                                            \
    static inline int64_t lone_infinity_##SUFFIX(const T *z, size_t cols)                   \
    {                                                                                       \
        int64_t at = -1;                                                                    \
        for (size_t j = 0; j < cols; j++) {                                                 \
            if (isnan(z[j]) || (z[j] == (T)INFINITY && at >= 0)) return -1;                 \
            if (z[j] == (T)INFINITY) at = (int64_t)j;                                       \
        }                                                                                   \
        return at;                                                                          \
    }

LONE_INFINITY(f32, float)
LONE_INFINITY(f64, double)

/* softmax(z)_j from lse = log sum e^z, or its limit when lse = +inf (the lone +inf at index k,
   no limit when k < 0). */
static inline double softmax_at(double z_j, size_t j, double lse, int64_t k)
{
    if (lse != INFINITY) return exp_d(z_j - lse);
    return k < 0 ? NAN : (double)(j == (size_t)k);
}

/* -log softmax(z)_j likewise: 0 at the lone +inf, +inf elsewhere. */
static inline double minus_log_softmax_at(double z_j, size_t j, double lse, int64_t k)
{
    if (lse != INFINITY) return lse - z_j;
    return k < 0 ? NAN : (j == (size_t)k ? 0.0 : INFINITY);
}

/* Where the row's maximum is +inf: the index of its lone +inf (see LONE_INFINITY), else -1. */
#define INFINITY_AT(SUFFIX, z, cols, lse) ((lse) == INFINITY ? lone_infinity_##SUFFIX(z, cols) : -1)

/* One class of a weighted row: loss += y (lse - z), total += y, ok &= y in [0, 1]. A class of
   weight 0 adds 0, even at z = -inf (NaN in z still propagates). */
static inline void weighted_term(double z, double y, double lse, double *loss, double *total,
                                 int *ok)
{
    *ok &= unit_label_ok(y);
    *total += y;
    *loss += y != 0 ? y * (lse - z) : (z != z ? z : 0.0);
}

/* sum_j y_j (lse - z_j) of a weighted row whose lse is not +inf, and *weight = sum_j y_j, in
   LANES running sums so that the loop vectorises (the compiler may not reorder one sum);
   *bad is set for a weight outside [0, 1]. */
#define WEIGHTED_LOSS(SUFFIX, T)                                                            \
    static inline double weighted_loss_##SUFFIX(const T *z, const T *y, size_t cols,        \
                                                double lse, double *weight, int *bad)       \
    {                                                                                       \
        double loss[LANES] = {0}, total[LANES] = {0};                                       \
        int ok = 1;                                                                         \
        size_t j = 0;                                                                       \
        for (; j + LANES <= cols; j += LANES)                                               \
            for (int k = 0; k < LANES; k++)                                                 \
                weighted_term(z[j + k], y[j + k], lse, &loss[k], &total[k], &ok);           \
        for (int k = 0; j < cols; j++, k++)                                                 \
            weighted_term(z[j], y[j], lse, &loss[k], &total[k], &ok);                       \
        double sum = 0, w = 0;                                                              \
        for (int k = 0; k < LANES; k++) sum += loss[k], w += total[k];                      \
        *weight = w;                                                                        \
        *bad |= !ok;                                                                        \
        return sum;                                                                         \
    }

WEIGHTED_LOSS(f32, float)
WEIGHTED_LOSS(f64, double)

/* The sums of row r that its loss and gradient share, taken once: lse = log sum e^z, k the
   index of its lone +inf (see INFINITY_AT), and for a weighted row (no labels) its
   weighted_loss (meaningful where lse is not +inf) and weight sum, its weights checked. */
#define ROW_SUMS(SUFFIX, z, labels, target_rows, r, cols, lse, k, loss, weight, bad)        \
    double lse = log_sum_exp_##SUFFIX(z, cols), weight = 1, loss = 0;                       \
    int64_t k = INFINITY_AT(SUFFIX, z, cols, lse);                                          \
    if (!(labels))                                                                          \
        loss = weighted_loss_##SUFFIX(z, target_rows + r * cols, cols, lse, &weight, &bad)

/* Softmax cross-entropy of one row from its ROW_SUMS: sum_j y_j (-log softmax(z)_j), y
   one-hot for a label. */
#define SCE_LOSS_AT(T, z, labels, target_rows, r, cols, lse, k, loss, result, bad)          \
    do {                                                                                    \
        if (labels) {                                                                       \
            int64_t c = labels[r];                                                          \
            if (c < 0 || (uint64_t)c >= (uint64_t)cols) { bad = 1; result = NAN; break; }   \
            result = minus_log_softmax_at((double)z[c], (size_t)c, lse, k);                 \
            break;                                                                          \
        }                                                                                   \
        result = loss;                                                                      \
        if (lse != INFINITY) break;                                                         \
        const T *y = target_rows + r * cols;                     /* the limits of a lone +inf */ \
        double acc = 0;                                                                     \
        for (size_t j = 0; j < cols; j++)                                                   \
            acc += y[j] != 0 ? (double)y[j] * minus_log_softmax_at((double)z[j], j, lse, k) \
                             : (isnan(z[j]) ? (double)z[j] : 0.0);                          \
        result = acc;                                                                       \
    } while (0)

#define SCE_ROW(T, SUFFIX, z, labels, target_rows, r, cols, result, bad)                    \
    do {                                                                                    \
        ROW_SUMS(SUFFIX, z, labels, target_rows, r, cols, lse, k, loss, weight, bad);       \
        (void)weight;                                                                       \
        SCE_LOSS_AT(T, z, labels, target_rows, r, cols, lse, k, loss, result, bad);         \
    } while (0)

/* The row loops below hand each row `next`, the row after it in the thread's range (NULL at
   the range's end), and `ahead`, where a row kernel may leave the maximum of `next` found while
   it read its own row (float softmax_cross_entropy does: a pass over each row saved). */
typedef struct {
    const float *row;       /* the row whose maximum is `max`, or NULL */
    float max;
} row_ahead;

/* The row loops below are written out twice by BY_WIDTH: for rows narrow enough to take a
   block of rows at a time (narrow_rows 1, where NARROW_NAME_SUFFIX(cols)), and for the others,
   so that the compiler fits each loop to its own rows. In one loop for both, the narrow rows
   paid for the wide rows' code, their running sum going through memory: (1M, 10)
   value_and_gradient took 21.6 TSC cycles a row in cache, 18.3 this way. */
#define BY_WIDTH(NAME, SUFFIX, cols, ...)                                                   \
    do {                                                                                    \
        if (NARROW_##NAME##_##SUFFIX(cols)) {                                               \
            const int narrow_rows = 1;                                                      \
            (void)narrow_rows;                                                              \
            __VA_ARGS__;                                                                    \
        } else {                                                                            \
            const int narrow_rows = 0;                                                      \
            (void)narrow_rows;                                                              \
            __VA_ARGS__;                                                                    \
        }                                                                                   \
    } while (0)
#define NARROW_cce_f32(cols) 0
#define NARROW_cce_f64(cols) 0

/* A thread's blocks of rows [blo, bhi) (rows [b per_block, ...) each, up to `last`, the end of
   its rows), each row's `result` given by the statements (with row, next, after_next and r)
   and summed in row order into partial[b] (when there is a partial). */
#define BLOCK_ROWS(NAME, SUFFIX, T, ...)                                                    \
    BY_WIDTH(NAME, SUFFIX, cols,                                                            \
        for (size_t b = blo; b < bhi; b++) {                                                \
            size_t end = (b + 1) * per_block < rows ? (b + 1) * per_block : rows;           \
            double s = 0;                                                                   \
            for (size_t r = b * per_block; r < end; r++) {                                  \
                const T *row = pred + r * cols, *next = r + 1 < last ? row + cols : NULL;   \
                const T *after_next = r + 2 < last ? next + cols : row;                     \
                (void)next, (void)after_next, (void)ahead;                                  \
                double result = NAN;                                                        \
                __VA_ARGS__;                                                                \
                s += result;                                                                \
            }                                                                               \
            if (partial) partial[b] = s;                                                    \
        })

#define ROW_LOSS_VALUE(NAME, SUFFIX, T, ROW)                                                \
    int fpk_##NAME##_value_##SUFFIX(const T *pred, const int64_t *labels,                   \
                                    const T *target_rows, size_t rows, size_t cols,         \
                                    int reduction, T *per_row, double *total)               \
    {                                                                                       \
        if (reduction < FPK_REDUCTION_NONE || reduction > FPK_REDUCTION_SUM)                \
            return FPK_ERR_VALUE;                                                           \
        if ((labels == NULL) == (target_rows == NULL)) return FPK_ERR_NULL;                 \
        if (rows > 0 && cols == 0) return FPK_ERR_SHAPE;                                    \
        if (reduction != FPK_REDUCTION_NONE && !total) return FPK_ERR_NULL;                 \
        if (rows == 0) {                                                                    \
            if (total) *total = reduction == FPK_REDUCTION_MEAN ? NAN : 0.0;                \
            return FPK_OK;                                                                  \
        }                                                                                   \
        if (!pred || (reduction == FPK_REDUCTION_NONE && !per_row)) return FPK_ERR_NULL;    \
        int bad = 0;                                                                        \
        if (reduction == FPK_REDUCTION_NONE) {                                              \
            FPK_PARALLEL_RANGES(rows, fpk_threads_for(rows * cols), lo, hi,                 \
                int mybad = 0;                                                              \
                row_ahead ahead = {NULL, 0};                                                \
                NARROW_STATE_##SUFFIX(hi)                                                   \
                BY_WIDTH(NAME, SUFFIX, cols,                                                \
                    for (size_t r = lo; r < hi; r++) {                                      \
                        const T *row = pred + r * cols;                                     \
                        const T *next = r + 1 < hi ? row + cols : NULL;                     \
                        double result;                                                      \
                        (void)next, (void)ahead;                                            \
                        ROW(T, row, labels, target_rows, r, cols, result, mybad);           \
                        per_row[r] = (T)result;                                             \
                    });                                                                     \
                if (mybad) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                   \
            return bad ? FPK_ERR_VALUE : FPK_OK;                                            \
        }                                                                                   \
        /* blocks of rows, summed in block order */                                         \
        size_t per_block = cols >= LOSS_BLOCK ? 1 : LOSS_BLOCK / cols;                      \
        size_t blocks = (rows + per_block - 1) / per_block;                                 \
        double *partial = malloc(blocks * sizeof(double));                                  \
        if (!partial) return FPK_ERR_NOMEM;                                                 \
        FPK_PARALLEL_RANGES(blocks, fpk_threads_for(rows * cols), blo, bhi,                 \
            int mybad = 0;                                                                  \
            size_t last = bhi * per_block < rows ? bhi * per_block : rows;                  \
            row_ahead ahead = {NULL, 0};                                                    \
            NARROW_STATE_##SUFFIX(last)                                                     \
            BLOCK_ROWS(NAME, SUFFIX, T,                                                     \
                       ROW(T, row, labels, target_rows, r, cols, result, mybad));           \
            if (mybad) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                       \
        reduce_partials(partial, blocks, reduction, rows, total);                           \
        return bad ? FPK_ERR_VALUE : FPK_OK;                                                \
    }

#define CCE_ROW_F32(T, p, labels, target_rows, r, cols, result, bad)                        \
    CCE_ROW(T, f32, p, labels, target_rows, r, cols, result, bad)
#define CCE_ROW_F64(T, p, labels, target_rows, r, cols, result, bad)                        \
    CCE_ROW(T, f64, p, labels, target_rows, r, cols, result, bad)
#if VECTOR_F32
/* softmax_cross_entropy of float rows with class labels, on vectors. With m the row's
   maximum, e_j = e^(z_j - m) in float and S = sum over j != c of e_j in double:
     loss_row = log(S + e_c) - (z_c - m) = log1p(S / e_c)      (accurate as p_c -> 1)
     d loss_row / d z_j = e_j / (S + e_c) for j != c,   d loss_row / d z_c = -S / (S + e_c)
   Rows holding NaN or with an infinite maximum take the scalar path (their limits are
   spelled out there), and so do rows of weights. */

#define SCE_STAGE 4096      /* the longest row whose e_j are kept for the gradient */

/* The largest entry of the row: found by the row before it (in ahead), or now. */
static inline float row_max_v(const float *z, size_t cols, const row_ahead *ahead)
{
    if (ahead->row == z) return ahead->max;
    vfloat most = splat(-INFINITY);
    for (size_t j = 0; j < cols; j += FPK_LANES)
        WITH_COUNT(cols - j, count, most = max_step_v(most, z + j, count));
    return reduce_max_v(most);
}

/* S = sum over j != c of e_j, and *e_c; with `stage`, the e_j are kept there (room for cols
   rounded up to FPK_LANES). S is summed in double, in float over `run` vectors first (4 for the
   value; 1 for the gradient, whose every e_j carries the error of the sum). Only a short last
   vector and the label's are masked, and e_c is a local until the end: an and with an all-ones
   mask on every vector, a float sum started from 0 and a store through e_c inside the loop
   cost this loop 11% of its time with the stage and 18% without (in cache; the same sums).
   With `next`, the maximum of that row goes to ahead. */
static inline double row_exp_sum_v(const float *z, size_t cols, float m, size_t c, float *e_c,
                                   float *stage, size_t run, const float *next, row_ahead *ahead)
{
    vfloat shift = splat(m), part = zero_v(), next_most = splat(-INFINITY);
    vdouble low = zero_d(), high = zero_d();
    float label_e = 0;
    FOR_STEPS(z, 0, cols, 0, 1, j, count,
            size_t k = j / FPK_LANES;
            if (next) next_most = max_step_v(next_most, next + j, count);
            vfloat e = exp_shifted_v(load_first_v(z + j, count), shift);
            if (stage) store_v(stage + j, e);
            if (count < FPK_LANES) e = keep_v(first_lanes(count), e);     /* 0 past the row */
            if (c - j < FPK_LANES) {
                vmask label = one_lane(c - j);
                label_e = lane_v(e, label);
                e = keep_v(andnot_m(label, first_lanes(FPK_LANES)), e);   /* not in S */
            }
            part = k % run == 0 ? e : add_v(part, e);
            if (k % run == run - 1 || j + FPK_LANES >= cols) {
                low = add_d(low, low_half(part));
                high = add_d(high, high_half(part));
            });
    *e_c = label_e;
    *ahead = (row_ahead){next, next ? reduce_max_v(next_most) : 0};
    return reduce_add_d(add_d(low, high));
}

/* The loss of a row from its sums. e_c vanishing: log S - (z_c - m), up to
   log1p(e_c / S) < 1e-30. log1p_d, not libm's log1p, a call that took a quarter of the time of
   narrow rows ((1M, 10) value_and_gradient, 2 threads: 20.2 -> 15.3-15.9 ms). */
static inline double sce_loss_of(double others, float e_c, float z_c, float m)
{
    return e_c > 1e-30f ? log1p_d(others / e_c) : log(others) - ((double)z_c - m);
}

/* *loss of one row with label c (c < cols); 0 when the row must take the scalar path. */
static inline int sce_row_v(const float *z, size_t cols, size_t c, double *loss,
                            const float *next, row_ahead *ahead)
{
    float m = row_max_v(z, cols, ahead), e_c = 0;
    double others = row_exp_sum_v(z, cols, m, c, &e_c, NULL, 4, next, ahead);
    if (isinf(m) || isnan(others) || isnan(e_c)) return 0;
    *loss = sce_loss_of(others, e_c, z[c], m);
    return 1;
}

/* g = scale * d loss_row / d z of one row with label c (c < cols), and *loss (when not NULL)
   from the same sums; 0 when the row must take the scalar path. The e_j are kept in `stage`
   for g, or taken again when it is NULL. g's pass, which reads only the stage, brings the row
   after next (the next row's exponentials read it; at the range's end, z again) into the
   cache a line a step: (16384, 1000) value_and_gradient 2.66 -> 2.56 ms in a slow stretch of
   the machine. */
static inline int sce_grad_row_with(const float *z, size_t cols, size_t c, double scale,
                                    float *g, int streaming, double *loss, const float *next,
                                    const float *after_next, row_ahead *ahead, float *stage)
{
    float m = row_max_v(z, cols, ahead), e_c = 0;
    double others = row_exp_sum_v(z, cols, m, c, &e_c, stage, 1, next, ahead);
    if (isinf(m) || isnan(others) || isnan(e_c)) return 0;
    if (loss) *loss = sce_loss_of(others, e_c, z[c], m);           /* before g, which may be z */
    double all = others + e_c, factor = scale / all;
    /* the factor in two floats, so that e_j * factor is rounded once */
    vfloat factor_hi = splat((float)factor);
    vfloat factor_lo = splat((float)(factor - (float)factor));
    vfloat g_c = splat((float)(-scale * others / all)), shift = splat(m);
    FOR_STEPS(g, 0, cols, streaming, 1, j, count,
        fpk_prefetch(after_next + j, 64);
        vfloat e = stage ? load_v(stage + j) : exp_shifted_v(load_first_v(z + j, count), shift);
        vfloat v = fma_v(e, factor_hi, mul_v(e, factor_lo));
        if (c - j < count) v = blend_v(one_lane(c - j), v, g_c);
        fpk_store_step(g + j, v, count, streaming));
    return 1;
}

/* The same, the e_j kept for rows of up to SCE_STAGE (a stage known at each call, so that
   neither loop tests it: 5% of the gradient's time at 1000 columns). */
static inline int sce_grad_row_v(const float *z, size_t cols, size_t c, double scale, float *g,
                                 int streaming, double *loss, const float *next,
                                 const float *after_next, row_ahead *ahead)
{
    float stage[SCE_STAGE];
    if (cols <= SCE_STAGE)
        return sce_grad_row_with(z, cols, c, scale, g, streaming, loss, next, after_next,
                                 ahead, stage);
    return sce_grad_row_with(z, cols, c, scale, g, streaming, loss, next, after_next, ahead,
                             NULL);
}

/* Narrow rows (cols <= NARROW_COLS), FPK_LANES rows at a time with one row on each lane: a row
   of its own would fill a fraction of a vector and spend most of its time in the reductions
   across lanes and in the work of each row ((1M, 10) value_and_gradient, 1 thread: 27 ns a
   row, 7 this way). The rows are turned across (lane k: row first + k), their losses and
   gradients taken on whole vectors by the row kernels' formulas, and the gradients turned back
   and written once the whole block is read (so a thread writes only its own rows, and in place
   z is read first). */
#define NARROW_COLS FPK_LANES   /* on AVX2 (8 lanes), rows of 9 to 16 ran slower this way */

typedef struct {
    size_t first, count;                        /* the rows [first, first + count) */
    unsigned taken;                             /* bit k: row first + k is done here */
    int written;                                /* the gradients are in place already */
    double loss[FPK_LANES];
    float grad[FPK_LANES][NARROW_COLS];         /* grad[k][j]: class j of row first + k */
} narrow_block;

/* A thread's narrow block, over its rows up to END (a block never reads past them). */
#define NARROW_STATE_f32(END)                                                               \
    narrow_block narrow = {0, 0, 0, 0, {0}, {{0}}};                                         \
    size_t narrow_end = (END);                                                              \
    (void)narrow, (void)narrow_end;

/* Whether FPK_LANES floats from row k of a block of `count` rows stay inside the block. */
static inline int whole_in_block(size_t k, size_t count, size_t cols)
{
    return k * cols + FPK_LANES <= count * cols;
}

/* Rows [first, first + count) of z turned across, x[j] holding class j of every row (lane k:
   row first + k; rows past count 0), and their classes (-1: none) as the result. Whole
   vectors are read where they stay in the block and turned by transpose_v, the labels as
   vectors: one element at a time, these copies took nearly a third of the block's time. */
static inline vfloat narrow_read(vfloat x[FPK_LANES], const float *z, const int64_t *labels,
                                 const float *target_rows, size_t first, size_t count,
                                 size_t cols)
{
    for (size_t k = 0; k < FPK_LANES; k++) {
        const float *row = z + (first + k) * cols;
        x[k] = k >= count ? zero_v()
             : whole_in_block(k, count, cols) ? load_v(row) : load_first_v(row, cols);
    }
    transpose_v(x);
    if (labels && count == FPK_LANES) return labels_v(labels + first, (int64_t)cols);
    float class_of[FPK_LANES];
    for (size_t k = 0; k < FPK_LANES; k++)
        class_of[k] = k < count ? (float)row_class_f32(labels, target_rows, first + k, cols) : -1;
    return load_v(class_of);
}

/* The gradients x[j] (class j of every row, as narrow_read gives them) turned back into rows:
   where every row is taken (nb->written), into g at once, in order, as whole vectors where
   those stay inside the block (each runs over the start of the rows after it, whose own
   stores follow); else, and for the last rows, through nb->grad. Row by row and element by
   element, the copies took a tenth of the time of (1M, 10) value_and_gradient; masked stores
   were slower still where g is not in the cache. On AVX2 (8 lanes), writing at once was
   slower (rows of 4 and 8: 6-9% in cache). */
#define WRITE_AT_ONCE (FPK_LANES == 16)
static inline void narrow_write(narrow_block *nb, vfloat x[FPK_LANES], float *g, size_t cols)
{
    transpose_v(x);
    for (size_t k = 0; k < FPK_LANES; k++) {
        if (nb->written && k < nb->count && whole_in_block(k, nb->count, cols))
            store_v(g + k * cols, x[k]);
        else
            store_v(nb->grad[k], x[k]);
    }
    for (size_t k = 0; nb->written && k < nb->count; k++)
        if (!whole_in_block(k, nb->count, cols))
            for (size_t j = 0; j < cols; j++) g[k * cols + j] = nb->grad[k][j];
}

/* Rows [first, first + count) of z (count <= FPK_LANES, up to end, the end of the thread's
   rows; cols <= NARROW_COLS) into nb: the loss, and when g (row first's gradient) is given
   scale * d loss / d z, of each row whose class is known and whose maximum is finite with no
   NaN (the others are left to the row kernels). */
static void narrow_fill(narrow_block *nb, const float *z, const int64_t *labels,
                        const float *target_rows, size_t first, size_t end, size_t cols,
                        double scale, float *g)
{
    size_t count = end - first < FPK_LANES ? end - first : FPK_LANES;
    vfloat x[FPK_LANES];
    vfloat classes = narrow_read(x, z, labels, target_rows, first, count, cols);
    vfloat m = x[0];
    for (size_t j = 1; j < cols; j++) m = max_v(x[j], m);       /* NaN: in the sums */
    vfloat e_c = zero_v(), z_c = zero_v();
    vdouble low = zero_d(), high = zero_d();                     /* S, over j != c */
    vmask is_class[NARROW_COLS];                                 /* lanes whose class is j */
    for (size_t j = 0; j < cols; j++) {
        vfloat e = exp_shifted_v(x[j], m);
        is_class[j] = is_v(classes, _CMP_EQ_OQ, (float)j);
        e_c = blend_v(is_class[j], e_c, e);
        z_c = blend_v(is_class[j], z_c, x[j]);
        x[j] = e;                                                /* kept for the gradient */
        e = keep_v(andnot_m(is_class[j], first_lanes(FPK_LANES)), e);
        low = add_d(low, low_half(e));
        high = add_d(high, high_half(e));
    }
    double others[FPK_LANES];
    float label_e[FPK_LANES], factor_hi[FPK_LANES], factor_lo[FPK_LANES], g_c[FPK_LANES];
    store_d(others, low);
    store_d(others + FPK_LANES / 2, high);
    store_v(label_e, e_c);
    for (size_t k = 0; k < FPK_LANES; k++) {     /* every lane, so that the loop vectorises */
        nb->loss[k] = log1p_d(others[k] / label_e[k]);           /* sce_loss_of's usual case */
        double all = others[k] + label_e[k], factor = scale / all;
        factor_hi[k] = (float)factor;
        factor_lo[k] = (float)(factor - (float)factor);
        g_c[k] = (float)(-scale * others[k] / all);
    }
    /* the rows taken: with a class, a finite maximum and no NaN */
    vmask finite = and_m(is_v(abs_v(m), _CMP_NEQ_UQ, INFINITY), is_v(e_c, _CMP_ORD_Q, 0.0f));
    vmask ok = and_m(and_m(is_v(classes, _CMP_GE_OQ, 0.0f), finite),
                     is_v(join_halves(low, high), _CMP_ORD_Q, 0.0f));
    nb->first = first;
    nb->count = count;
    nb->taken = lane_bits(ok) & ((1u << count) - 1);
    nb->written = WRITE_AT_ONCE && g && nb->taken == (1u << count) - 1;
    unsigned tiny = nb->taken & ~lane_bits(is_v(e_c, _CMP_GT_OQ, 1e-30f));
    if (tiny) {
        float top[FPK_LANES], label_z[FPK_LANES];
        store_v(top, m);
        store_v(label_z, z_c);
        for (size_t k = 0; k < count; k++)
            if (tiny >> k & 1) nb->loss[k] = sce_loss_of(others[k], label_e[k], label_z[k], top[k]);
    }
    if (!g) return;
    vfloat hi = load_v(factor_hi), lo = load_v(factor_lo), at_class = load_v(g_c);
    for (size_t j = 0; j < FPK_LANES; j++)                      /* classes past cols: 0 */
        x[j] = j < cols ? blend_v(is_class[j], fma_v(x[j], hi, mul_v(x[j], lo)), at_class)
                        : zero_v();
    narrow_write(nb, x, g, cols);
}

/* Whether row r is done in the narrow block (filled from r on when r is past it); its
   gradient (g not NULL) then in g. */
static inline int narrow_row(narrow_block *nb, const float *z, const int64_t *labels,
                             const float *target_rows, size_t r, size_t end, size_t cols,
                             double scale, float *g)
{
    if (r < nb->first || r >= nb->first + nb->count)
        narrow_fill(nb, z, labels, target_rows, r, end, cols, scale, g);
    size_t k = r - nb->first;
    if (!(nb->taken >> k & 1)) return 0;
    for (size_t j = 0; g && !nb->written && j < cols; j++) g[j] = nb->grad[k][j];
    return 1;
}

/* row r in the narrow block: its loss into result and (g not NULL) its gradient into g */
#define NARROW_ROW(z, labels, target_rows, r, cols, scale, g, result)                       \
    (cols <= NARROW_COLS                                                                    \
     && narrow_row(&narrow, z - r * cols, labels, target_rows, r, narrow_end, cols, scale, g) \
     && (result = narrow.loss[r - narrow.first], 1))

#define NARROW_softmax_cross_entropy_f32(cols) ((cols) <= NARROW_COLS)

/* Whether row r is left to the row kernels (NARROW_ROW did not take it), told to GCC as rare:
   the rows the block leaves (no class, NaN, an infinite maximum) go to the scalar row kernels,
   out of line (SCE_SCALAR_ROWS), and the narrow rows' loop keeps its sum in a register. */
#define LEFT_OVER(z, labels, target_rows, r, cols, scale, g, result)                       \
    __builtin_expect(!NARROW_ROW(z, labels, target_rows, r, cols, scale, g, result), 0)

/* (narrow_rows from BY_WIDTH; next, after_next, ahead and streaming: of the row loops) */
#define SCE_ROW_F32(T, z, labels, target_rows, r, cols, result, bad)                        \
    do {                                                                                    \
        if (narrow_rows) {                                                                  \
            if (LEFT_OVER(z, labels, target_rows, r, cols, 1.0, NULL, result))              \
                result = sce_value_row_f32(z, labels, target_rows, r, cols, &bad);          \
            break;                                                                          \
        }                                                                                   \
        int64_t class_ = row_class_f32(labels, target_rows, r, cols);                       \
        if (class_ >= 0 && sce_row_v(z, cols, (size_t)class_, &result, next, &ahead))       \
            break;                                                                          \
        result = sce_value_row_f32(z, labels, target_rows, r, cols, &bad);                  \
    } while (0)
#define SCE_GRAD_F32(T, z, l, t, r, c, s, g, b)                                             \
    do {                                                                                    \
        double loss_;                                                                       \
        if (narrow_rows) {                                                                  \
            if (LEFT_OVER(z, l, t, r, c, s, g, loss_))                                      \
                sce_gradient_row_f32(z, l, t, r, c, s, g, &b);                              \
            (void)loss_;                                                                    \
            break;                                                                          \
        }                                                                                   \
        int64_t class_ = row_class_f32(l, t, r, c);                                         \
        if (class_ >= 0                                                                     \
            && sce_grad_row_v(z, c, (size_t)class_, s, g, streaming, NULL, next,            \
                              after_next, &ahead))                                          \
            break;                                                                          \
        sce_gradient_row_f32(z, l, t, r, c, s, g, &b);                                      \
    } while (0)
/* loss and gradient of a row (result: the loss), the exponentials taken once */
#define SCE_BOTH_F32(T, z, l, t, r, c, s, g, result, b)                                     \
    do {                                                                                    \
        if (narrow_rows) {                                                                  \
            if (LEFT_OVER(z, l, t, r, c, s, g, result))                                     \
                result = sce_both_row_f32(z, l, t, r, c, s, g, &b);                         \
            break;                                                                          \
        }                                                                                   \
        int64_t class_ = row_class_f32(l, t, r, c);                                         \
        if (class_ >= 0                                                                     \
            && sce_grad_row_v(z, c, (size_t)class_, s, g, streaming, &result, next,         \
                              after_next, &ahead))                                          \
            break;                                                                          \
        result = sce_both_row_f32(z, l, t, r, c, s, g, &b);                                 \
    } while (0)
#else
#define NARROW_STATE_f32(END)
#define NARROW_softmax_cross_entropy_f32(cols) 0
#define SCE_ROW_F32(T, z, labels, target_rows, r, cols, result, bad)                        \
    result = sce_value_row_f32(z, labels, target_rows, r, cols, &bad)
#define SCE_GRAD_F32(T, z, l, t, r, c, s, g, b) sce_gradient_row_f32(z, l, t, r, c, s, g, &b)
#define SCE_BOTH_F32(T, z, l, t, r, c, s, g, result, b)                                     \
    result = sce_both_row_f32(z, l, t, r, c, s, g, &b)
#endif

/* float64 rows of at most NARROW_COLS_F64 classes, NARROW_ROWS_F64 rows at a time as one flat
   array (as the softmax activation's narrow rows): each row's maximum m beside its entries,
   e^(z - m) over the block on whole vectors, then each row's loss and gradient by the float
   formulas above (log1p: accurate as p_c -> 1). Rows without a class (a bad label, soft
   weights), with an infinite maximum or with NaN are left to the row kernels, which spell out
   their limits. (1M, 10) value_and_gradient, 2 threads: 30.3 -> 11.3 ms; (1M, 24) 35.8 -> 21.2;
   from 32 classes the value alone is faster by the row kernels. */
#define NARROW_COLS_F64 24
#define NARROW_ROWS_F64 32

typedef struct {
    size_t first, count;                        /* the rows [first, first + count) */
    uint64_t taken;                             /* bit k: row first + k is done here */
    double loss[NARROW_ROWS_F64];
    double grad[NARROW_ROWS_F64 * NARROW_COLS_F64];   /* row k's gradient from k cols on */
} narrow_block_f64;

#define NARROW_STATE_f64(END)                                                               \
    narrow_block_f64 narrow64;                                                              \
    narrow64.first = narrow64.count = 0;                                                    \
    size_t narrow_end = (END);                                                              \
    (void)narrow64, (void)narrow_end;

/* A float64 row's loss from others = the sum over j != c of e_j = e^(z_j - m) and e_c, by the
   float formulas (sce_loss_of); with g, which holds the e_j, its gradient there as well. */
static inline double sce_finish_f64(double others, double e_c, double z_c, double m,
                                    double scale, double *g, size_t cols, size_t c)
{
    double all = others + e_c;
    if (g) {
        double factor = scale / all;
        _Pragma("omp simd")
        for (size_t j = 0; j < cols; j++) g[j] *= factor;
        g[c] = -scale * others / all;
    }
    return e_c > 1e-300 ? log1p_d(others / e_c) : log_d(others) - (z_c - m);
}

/* Rows [first, first + count) of z, count <= NARROW_ROWS_F64, up to end (as narrow_fill). */
static void narrow_fill_f64(narrow_block_f64 *nb, const double *z, const int64_t *labels,
                            const double *target_rows, size_t first, size_t end, size_t cols,
                            double scale, int gradient)
{
    size_t count = end - first < NARROW_ROWS_F64 ? end - first : NARROW_ROWS_F64;
    size_t n = count * cols;
    const double *zb = z + first * cols;
    double shift[NARROW_ROWS_F64 * NARROW_COLS_F64], *e = nb->grad;
    for (size_t i = 0; i < n; i += cols) {
        double m = -INFINITY;
        for (size_t j = i; j < i + cols; j++) m = zb[j] > m ? zb[j] : m;
        for (size_t j = i; j < i + cols; j++) shift[j] = m;
    }
    _Pragma("omp simd")
    for (size_t i = 0; i < n; i++) e[i] = exp_d(zb[i] - shift[i]);
    uint64_t taken = 0;
    for (size_t k = 0; k < count; k++) {
        double *e_row = e + k * cols, m = shift[k * cols], others = 0;
        int64_t c = row_class_f64(labels, target_rows, first + k, cols);
        for (size_t j = 0; j < cols; j++) others += (int64_t)j == c ? 0.0 : e_row[j];
        if (c < 0 || isinf(m) || isnan(others) || isnan(e_row[c])) continue;
        taken |= (uint64_t)1 << k;
        nb->loss[k] = sce_finish_f64(others, e_row[c], zb[k * cols + c], m, scale,
                                     gradient ? e_row : NULL, cols, (size_t)c);
    }
    nb->first = first;
    nb->count = count;
    nb->taken = taken;
}

/* Whether row r is done in the narrow block (filled from r on when r is past it); its
   gradient (g not NULL) then copied into g. */
static inline int narrow_row_f64(narrow_block_f64 *nb, const double *z, const int64_t *labels,
                                 const double *target_rows, size_t r, size_t end, size_t cols,
                                 double scale, double *g)
{
    if (r < nb->first || r >= nb->first + nb->count)
        narrow_fill_f64(nb, z, labels, target_rows, r, end, cols, scale, g != NULL);
    if (!(nb->taken >> (r - nb->first) & 1)) return 0;
    for (size_t j = 0; g && j < cols; j++) g[j] = nb->grad[(r - nb->first) * cols + j];
    return 1;
}

/* row r in the narrow block: its loss into result and (g not NULL) its gradient into g */
#define NARROW_ROW_F64(z, labels, target_rows, r, cols, scale, g, result)                   \
    (cols <= NARROW_COLS_F64                                                                \
     && narrow_row_f64(&narrow64, z - r * cols, labels, target_rows, r, narrow_end, cols,    \
                       scale, g)                                                            \
     && (result = narrow64.loss[r - narrow64.first], 1))

/* The sum over j in [lo, hi) but skip of e_j = e^(z_j - m), e_j kept in e when it is not NULL.
   A skip inside the range costs a mask an entry (a fifth of a long row's value), so long rows
   take a range each side of the class; short ones one range, as two would each end in scalar
   steps. KEEP and MASK are constants in each of the four loops. The sum runs in LANES lanes
   of its own, added in order: the value and the gradient (which keeps e) then have the same
   bits whatever the compiler makes of each loop (an omp simd reduction left the order to it,
   and the two loops came out 1 ULP apart after an unrelated change elsewhere in this file). */
#define EXP_SUM_LOOP(KEEP, MASK)                                                            \
    do {                                                                                    \
        double lane[LANES] = {0};                                                           \
        size_t j = lo;                                                                      \
        for (; j + LANES <= hi; j += LANES) {                                               \
            _Pragma("omp simd")       /* e may be z exactly: still independent lanes */     \
            for (int k = 0; k < LANES; k++) {                                               \
                double e_j = exp_d(z[j + k] - m);                                           \
                if (KEEP) e[j + k] = e_j;                                                   \
                lane[k] += (MASK) && j + k == skip ? 0.0 : e_j;                             \
            }                                                                               \
        }                                                                                   \
        for (int k = 0; j < hi; j++, k++) {                                                 \
            double e_j = exp_d(z[j] - m);                                                   \
            if (KEEP) e[j] = e_j;                                                           \
            lane[k] += (MASK) && j == skip ? 0.0 : e_j;                                     \
        }                                                                                   \
        for (int k = 0; k < LANES; k++) sum += lane[k];                                     \
    } while (0)

static inline double exp_sum_f64(const double *z, double *e, size_t lo, size_t hi, size_t skip,
                                 double m)
{
    double sum = 0;
    int inside = lo <= skip && skip < hi;
    if (e && inside) EXP_SUM_LOOP(1, 1);
    else if (e) EXP_SUM_LOOP(1, 0);
    else if (inside) EXP_SUM_LOOP(0, 1);
    else EXP_SUM_LOOP(0, 0);
    return sum;
}

/* A wider float64 row with class c (row_class_f64) by the same formulas, on the compiler's
   vectors: its loss, and with g (which may be z) its gradient, e_j = e^(z_j - m) kept in g
   between two passes: one exponential an entry, where the row kernels take two. 0 (nothing
   written) when the row must take the row kernels: no class, NaN, or an infinite maximum.
   value_and_gradient, 2 threads: (16384, 1000) 7.6 -> 5.5 ms, (512, 32000) 7.9 -> 5.8, (1M,
   32) 37 -> 25; the value alone as before on long rows, 10% slower at 32 classes. */
static int sce_row_f64(const double *z, size_t cols, int64_t c, double scale, double *g,
                       double *loss)
{
    if (c < 0) return 0;
    double m = -INFINITY;
    int nan = 0;
    _Pragma("omp simd reduction(max:m) reduction(|:nan)")
    for (size_t j = 0; j < cols; j++) {
        m = z[j] > m ? z[j] : m;
        nan |= z[j] != z[j];
    }
    if (nan || isinf(m)) return 0;
    double z_c = z[c];                                          /* g may be z */
    size_t at = (size_t)c;
    double others = cols < 256 ? exp_sum_f64(z, g, 0, cols, at, m)
                               : exp_sum_f64(z, g, 0, at, at, m)
                                 + exp_sum_f64(z, g, at + 1, cols, at, m);
    *loss = sce_finish_f64(others, exp_d(z_c - m), z_c, m, scale, g, cols, at);
    return 1;
}

#define NARROW_softmax_cross_entropy_f64(cols) ((cols) <= NARROW_COLS_F64)

/* row r by the narrow block or sce_row_f64 when they can (result: its loss), else 0; told to
   GCC as the usual case, the others going to the scalar row kernels out of line (as LEFT_OVER
   for float) */
#define SCE_FAST_F64(z, l, t, r, c, s, g, result)                                           \
    __builtin_expect(narrow_rows ? NARROW_ROW_F64(z, l, t, r, c, s, g, result)              \
                                 : sce_row_f64(z, c, row_class_f64(l, t, r, c), s, g, &result), 1)

#define SCE_ROW_F64(T, z, labels, target_rows, r, cols, result, bad)                        \
    do {                                                                                    \
        if (!SCE_FAST_F64(z, labels, target_rows, r, cols, 1.0, NULL, result))              \
            result = sce_value_row_f64(z, labels, target_rows, r, cols, &bad);              \
    } while (0)

/* d cce / d p_j = -y_j / clamp(p_j)  (the formula's derivative at the clamped p); a one-hot
   row (one_hot_at) takes its label's, with the -0 the formula gives for weights of 0. */
#define CCE_GRAD_ROW(T, SUFFIX, p, labels, target_rows, r, cols, scale, g, bad)             \
    do {                                                                                    \
        const T *y_ = labels ? NULL : target_rows + r * cols;                               \
        int64_t c_ = labels ? labels[r] : one_hot_at_##SUFFIX(y_, cols);    /* -1: weighted */ \
        if (labels && (c_ < 0 || (uint64_t)c_ >= (uint64_t)cols)) { bad = 1; break; }       \
        if (c_ >= 0) {                                                                      \
            double p_c = clamp_prob((double)p[c_]);         /* before g, which may be p */   \
            for (size_t j = 0; j < cols; j++) g[j] = labels ? 0 : (T)-0.0;                 \
            g[c_] = (T)(-scale / p_c);                                                      \
        } else {                                                                            \
            for (size_t j = 0; j < cols; j++) {                                             \
                bad |= !unit_label_ok((double)y_[j]);                                       \
                g[j] = y_[j] != 0 ? (T)(-scale * (double)y_[j] / clamp_prob((double)p[j]))  \
                                  : (T)-0.0;                          /* whatever p is */   \
            }                                                                               \
        }                                                                                   \
    } while (0)
#define CCE_GRAD_F32(T, p, l, t, r, c, s, g, b) CCE_GRAD_ROW(T, f32, p, l, t, r, c, s, g, b)
#define CCE_GRAD_F64(T, p, l, t, r, c, s, g, b) CCE_GRAD_ROW(T, f64, p, l, t, r, c, s, g, b)

/* d sce / d z_j = softmax(z)_j * sum_i y_i - y_j, from the row's ROW_SUMS. */
#define SCE_GRAD_AT(T, z, labels, target_rows, r, cols, lse, k, weight, scale, g, bad)      \
    do {                                                                                    \
        if (labels) {                                                                       \
            int64_t c = labels[r];                                                          \
            if (c < 0 || (uint64_t)c >= (uint64_t)cols) { bad = 1; break; }                 \
            double z_c = z[c];                                       /* g may be z */       \
            if (lse != INFINITY)       /* softmax_at's test out of the loop: it vectorises */ \
                for (size_t j = 0; j < cols; j++) g[j] = (T)(scale * exp_d((double)z[j] - lse)); \
            else                                                                            \
                for (size_t j = 0; j < cols; j++)                                           \
                    g[j] = (T)(scale * softmax_at((double)z[j], j, lse, k));                \
            g[c] = (T)(scale * (softmax_at(z_c, (size_t)c, lse, k) - 1.0));                 \
            break;                                                                          \
        }                                                                                   \
        const T *y = target_rows + r * cols;                                                \
        if (lse != INFINITY)                                                                \
            for (size_t j = 0; j < cols; j++)                                               \
                g[j] = (T)(scale * (exp_d((double)z[j] - lse) * weight - (double)y[j]));    \
        else                                                                                \
            for (size_t j = 0; j < cols; j++)                                               \
                g[j] = (T)(scale * (softmax_at((double)z[j], j, lse, k) * weight - (double)y[j])); \
    } while (0)

#define SCE_GRAD_ROW(T, SUFFIX, z, labels, target_rows, r, cols, scale, g, bad)             \
    do {                                                                                    \
        ROW_SUMS(SUFFIX, z, labels, target_rows, r, cols, lse, k, loss, weight, bad);       \
        (void)loss;                                                                         \
        SCE_GRAD_AT(T, z, labels, target_rows, r, cols, lse, k, weight, scale, g, bad);     \
    } while (0)

/* Both of one row, its sums taken once; the loss first, as g may be z. */
#define SCE_BOTH_ROW(T, SUFFIX, z, l, t, r, c, s, g, result, b)                             \
    do {                                                                                    \
        ROW_SUMS(SUFFIX, z, l, t, r, c, lse, k, loss, weight, b);                           \
        SCE_LOSS_AT(T, z, l, t, r, c, lse, k, loss, result, b);                             \
        SCE_GRAD_AT(T, z, l, t, r, c, lse, k, weight, s, g, b);                             \
    } while (0)

#define ROW_LOSS_GRADIENT(NAME, SUFFIX, T, ROW)                                             \
    int fpk_##NAME##_gradient_##SUFFIX(const T *pred, const int64_t *labels,                \
                                       const T *target_rows, T *grad, size_t rows,          \
                                       size_t cols, int reduction)                          \
    {                                                                                       \
        if (reduction < FPK_REDUCTION_NONE || reduction > FPK_REDUCTION_SUM)                \
            return FPK_ERR_VALUE;                                                           \
        if ((labels == NULL) == (target_rows == NULL)) return FPK_ERR_NULL;                 \
        if (rows == 0 || cols == 0) return FPK_OK;                                          \
        if (!pred || !grad) return FPK_ERR_NULL;                                            \
        double scale = reduction == FPK_REDUCTION_MEAN ? 1.0 / (double)rows : 1.0;          \
        int bad = 0, streaming = fpk_streams_rows(grad, rows, cols, sizeof(T)); /* for ROW */ \
        (void)streaming;                                                                    \
        FPK_PARALLEL_RANGES(rows, fpk_threads_for(rows * cols), lo, hi,                     \
            int mybad = 0;                                                                  \
            row_ahead ahead = {NULL, 0};                                                    \
            NARROW_STATE_##SUFFIX(hi)                                                       \
            BY_WIDTH(NAME, SUFFIX, cols,                                                    \
                for (size_t r = lo; r < hi; r++) {                                          \
                    const T *row = pred + r * cols, *next = r + 1 < hi ? row + cols : NULL; \
                    const T *after_next = r + 2 < hi ? next + cols : row;                   \
                    T *g_row = grad + r * cols;                                             \
                    (void)next, (void)after_next, (void)ahead;                              \
                    ROW(T, row, labels, target_rows, r, cols, scale, g_row, mybad);         \
                });                                                                         \
            if (streaming) fpk_stream_fence();                                              \
            if (mybad) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                       \
        return bad ? FPK_ERR_VALUE : FPK_OK;                                                \
    }

#define SCE_GRAD_F64(T, z, l, t, r, c, s, g, b)                                             \
    do {                                                                                    \
        double loss_;                                                                       \
        if (!SCE_FAST_F64(z, l, t, r, c, s, g, loss_))                                      \
            sce_gradient_row_f64(z, l, t, r, c, s, g, &b);                                  \
        (void)loss_;                                                                        \
    } while (0)

/* The loss of a row (result) by ROW, then its gradient by GRAD (which may overwrite the row). */
#define BOTH_ROWS(T, p, l, t, r, c, s, g, result, b, ROW, GRAD)                             \
    do {                                                                                    \
        ROW(T, p, l, t, r, c, result, b);                                                   \
        GRAD(T, p, l, t, r, c, s, g, b);                                                    \
    } while (0)
#define CCE_BOTH_F32(T, p, l, t, r, c, s, g, result, b)                                     \
    BOTH_ROWS(T, p, l, t, r, c, s, g, result, b, CCE_ROW_F32, CCE_GRAD_F32)
#define CCE_BOTH_F64(T, p, l, t, r, c, s, g, result, b)                                     \
    BOTH_ROWS(T, p, l, t, r, c, s, g, result, b, CCE_ROW_F64, CCE_GRAD_F64)
#define SCE_BOTH_F64(T, z, l, t, r, c, s, g, result, b)                                     \
    do {                                                                                    \
        if (!SCE_FAST_F64(z, l, t, r, c, s, g, result))                                     \
            result = sce_both_row_f64(z, l, t, r, c, s, g, &b);                             \
    } while (0)

/* Both in one pass, row by row, over the blocks of rows of ROW_LOSS_VALUE (so the total has
   its bits, but for softmax_cross_entropy rows with a class on float vectors or by
   sce_row_f64, whose loss comes from the gradient's exponentials, summed in another order: it
   may differ from the value kernel's in the last bit). */
#define ROW_LOSS_BOTH(NAME, SUFFIX, T, BOTH)                                                \
    int fpk_##NAME##_value_and_gradient_##SUFFIX(const T *pred, const int64_t *labels,      \
                                                 const T *target_rows, T *grad, size_t rows, \
                                                 size_t cols, int reduction, T *per_row,    \
                                                 double *total)                             \
    {                                                                                       \
        if (reduction < FPK_REDUCTION_NONE || reduction > FPK_REDUCTION_SUM)                \
            return FPK_ERR_VALUE;                                                           \
        if ((labels == NULL) == (target_rows == NULL)) return FPK_ERR_NULL;                 \
        if (rows > 0 && cols == 0) return FPK_ERR_SHAPE;                                    \
        int none = reduction == FPK_REDUCTION_NONE;                                         \
        if (!none && !total) return FPK_ERR_NULL;                                           \
        if (rows == 0) {                                                                    \
            if (!none) *total = reduction == FPK_REDUCTION_MEAN ? NAN : 0.0;                \
            return FPK_OK;                                                                  \
        }                                                                                   \
        if (!pred || !grad || (none && !per_row)) return FPK_ERR_NULL;                      \
        double scale = reduction == FPK_REDUCTION_MEAN ? 1.0 / (double)rows : 1.0;          \
        size_t per_block = cols >= LOSS_BLOCK ? 1 : LOSS_BLOCK / cols;                      \
        size_t blocks = (rows + per_block - 1) / per_block;                                 \
        double *partial = none ? NULL : malloc(blocks * sizeof(double));                    \
        if (!none && !partial) return FPK_ERR_NOMEM;                                        \
        int bad = 0, streaming = fpk_streams_rows(grad, rows, cols, sizeof(T)); /* BOTH's */ \
        (void)streaming;                                                                    \
        FPK_PARALLEL_RANGES(blocks, fpk_threads_for(rows * cols), blo, bhi,                 \
            int mybad = 0;                                                                  \
            size_t last = bhi * per_block < rows ? bhi * per_block : rows;                  \
            row_ahead ahead = {NULL, 0};                                                    \
            NARROW_STATE_##SUFFIX(last)                                                     \
            BLOCK_ROWS(NAME, SUFFIX, T,                                                     \
                       T *g_row = grad + r * cols;                                          \
                       BOTH(T, row, labels, target_rows, r, cols, scale, g_row, result, mybad); \
                       if (none) per_row[r] = (T)result);                                   \
            if (streaming) fpk_stream_fence();                                              \
            if (mybad) __atomic_store_n(&bad, 1, __ATOMIC_RELAXED););                       \
        if (!none) reduce_partials(partial, blocks, reduction, rows, total);                \
        return bad ? FPK_ERR_VALUE : FPK_OK;                                                \
    }

/* The scalar row kernels of softmax_cross_entropy as functions, called out of line: for the
   rows the fast paths leave (see LEFT_OVER, SCE_FAST_F64). */
#define SCE_SCALAR_ROWS(SUFFIX, T)                                                          \
    static FPK_NOINLINE double sce_value_row_##SUFFIX(const T *z, const int64_t *labels,    \
                                                      const T *target_rows, size_t r,       \
                                                      size_t cols, int *bad)                \
    {                                                                                       \
        double result = NAN;                                                                \
        SCE_ROW(T, SUFFIX, z, labels, target_rows, r, cols, result, *bad);                  \
        return result;                                                                      \
    }                                                                                       \
    static FPK_NOINLINE void sce_gradient_row_##SUFFIX(const T *z, const int64_t *labels,   \
                                                       const T *target_rows, size_t r,      \
                                                       size_t cols, double scale, T *g,     \
                                                       int *bad)                            \
    {                                                                                       \
        SCE_GRAD_ROW(T, SUFFIX, z, labels, target_rows, r, cols, scale, g, *bad);           \
    }                                                                                       \
    static FPK_NOINLINE double sce_both_row_##SUFFIX(const T *z, const int64_t *labels,     \
                                                     const T *target_rows, size_t r,        \
                                                     size_t cols, double scale, T *g,       \
                                                     int *bad)                              \
    {                                                                                       \
        double result = NAN;                                                                \
        SCE_BOTH_ROW(T, SUFFIX, z, labels, target_rows, r, cols, scale, g, result, *bad);   \
        return result;                                                                      \
    }
SCE_SCALAR_ROWS(f32, float)
SCE_SCALAR_ROWS(f64, double)

ROW_LOSS_VALUE(cce, f32, float, CCE_ROW_F32)
ROW_LOSS_VALUE(cce, f64, double, CCE_ROW_F64)
ROW_LOSS_VALUE(softmax_cross_entropy, f32, float, SCE_ROW_F32)
ROW_LOSS_VALUE(softmax_cross_entropy, f64, double, SCE_ROW_F64)
ROW_LOSS_GRADIENT(cce, f32, float, CCE_GRAD_F32)
ROW_LOSS_GRADIENT(cce, f64, double, CCE_GRAD_F64)
ROW_LOSS_GRADIENT(softmax_cross_entropy, f32, float, SCE_GRAD_F32)
ROW_LOSS_GRADIENT(softmax_cross_entropy, f64, double, SCE_GRAD_F64)
ROW_LOSS_BOTH(cce, f32, float, CCE_BOTH_F32)
ROW_LOSS_BOTH(cce, f64, double, CCE_BOTH_F64)
ROW_LOSS_BOTH(softmax_cross_entropy, f32, float, SCE_BOTH_F32)
ROW_LOSS_BOTH(softmax_cross_entropy, f64, double, SCE_BOTH_F64)
