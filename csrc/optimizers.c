/* optimizers.c - fused optimizer steps: SGD (momentum, Nesterov), Adam/AdamW (AMSGrad), RMSprop.
 *
 * Every step reads each element's parameter, gradient and state once and writes them once.
 * The arithmetic follows torch.optim's single-tensor code, operation by operation, so that
 * trajectories agree to float rounding. Hyper-parameters are scalars of the element type,
 * except the bias corrections, which the caller computes once per step in double.
 *
 * The _many entry points walk a list of tensors as one concatenated range of elements, split
 * evenly over the threads: thread r takes [lo, hi) of the total and visits the pieces of the
 * tensors that fall in it. Each element is updated by exactly one thread, in the same way, so
 * the result never depends on the thread count.
 */
#include <math.h>

#include "fpkernels.h"

/* ---- checks shared by every optimizer ---- */

/* Sum of sizes[0..count) into *total; FPK_ERR_OVERFLOW if it does not fit in size_t. */
static int total_size(size_t count, const size_t *sizes, size_t *total)
{
    size_t sum = 0;
    for (size_t t = 0; t < count; t++) {
        if (sizes[t] > SIZE_MAX - sum)
            return FPK_ERR_OVERFLOW;
        sum += sizes[t];
    }
    *total = sum;
    return FPK_OK;
}

/* FPK_ERR_NULL if some non-empty tensor t has a NULL pointer in a required list. */
static int check_pointers(size_t count, const size_t *sizes, const void *const *a,
                          const void *const *b, const void *const *c, const void *const *d)
{
    for (size_t t = 0; t < count; t++) {
        if (sizes[t] == 0)
            continue;
        if ((a && !a[t]) || (b && !b[t]) || (c && !c[t]) || (d && !d[t]))
            return FPK_ERR_NULL;
    }
    return FPK_OK;
}

/* 0 <= x < 1 (false for NaN). */
static int is_beta(double x) { return x >= 0.0 && x < 1.0; }

/* x >= 0 and finite (false for NaN). */
static int is_nonnegative(double x) { return x >= 0.0 && x <= HUGE_VAL && x != HUGE_VAL; }

/* Visit the part of every tensor that lies inside [lo, hi) of the concatenated range:
   `body` sees t (the tensor), a (first element inside the tensor) and len (how many). */
#define FOR_PIECES(count, sizes, lo, hi, body)                                              \
    do {                                                                                    \
        size_t start_ = 0;                                                                  \
        for (size_t t = 0; t < (count) && start_ < (hi); t++) {                             \
            size_t end_ = start_ + (sizes)[t];                                              \
            size_t from_ = (lo) > start_ ? (lo) : start_;                                   \
            size_t to_ = (hi) < end_ ? (hi) : end_;                                         \
            if (from_ < to_) {                                                              \
                size_t a = from_ - start_, len = to_ - from_;                               \
                body;                                                                       \
            }                                                                               \
            start_ = end_;                                                                  \
        }                                                                                   \
    } while (0)

/* ---- SGD ---- */

static int sgd_config_ok(const fpk_sgd_config *c)
{
    return is_nonnegative(c->lr) && is_nonnegative(c->momentum)
        && is_nonnegative(c->weight_decay) && !(c->nesterov && c->momentum == 0.0);
}

/* One SGD pass over n elements (torch.optim.SGD with dampening 0). */
#define DEFINE_SGD_RANGE(T, SUF)                                                            \
    static void sgd_range_##SUF(size_t n, T *restrict param, const T *restrict grad,        \
                                T *restrict buf, const fpk_sgd_config *c)                   \
    {                                                                                       \
        const T lr = (T)c->lr, momentum = (T)c->momentum, wd = (T)c->weight_decay;          \
        const int decay = c->weight_decay != 0.0, first = c->first_step;                    \
        if (c->momentum == 0.0) {                                                           \
            for (size_t i = 0; i < n; i++) {                                                \
                T g = decay ? grad[i] + wd * param[i] : grad[i];                            \
                param[i] = param[i] - lr * g;                                               \
            }                                                                               \
        } else if (c->nesterov) {                                                           \
            for (size_t i = 0; i < n; i++) {                                                \
                T g = decay ? grad[i] + wd * param[i] : grad[i];                            \
                T b = first ? g : momentum * buf[i] + g;                                    \
                buf[i] = b;                                                                 \
                param[i] = param[i] - lr * (g + momentum * b);                              \
            }                                                                               \
        } else {                                                                            \
            for (size_t i = 0; i < n; i++) {                                                \
                T g = decay ? grad[i] + wd * param[i] : grad[i];                            \
                T b = first ? g : momentum * buf[i] + g;                                    \
                buf[i] = b;                                                                 \
                param[i] = param[i] - lr * b;                                               \
            }                                                                               \
        }                                                                                   \
    }

/* ---- Adam and AdamW ---- */

static int adam_config_ok(const fpk_adam_config *c)
{
    return is_nonnegative(c->lr) && is_beta(c->beta1) && is_beta(c->beta2)
        && is_nonnegative(c->eps) && is_nonnegative(c->weight_decay)
        && c->bias_correction1 > 0.0 && c->bias_correction1 <= 1.0
        && c->bias_correction2 > 0.0 && c->bias_correction2 <= 1.0;
}

/* Bias corrections of step t: 1 - beta^t, computed once, in double. */
int fpk_adam_config_set_step(fpk_adam_config *config, int64_t step)
{
    if (!config)
        return FPK_ERR_NULL;
    if (step < 1 || !is_beta(config->beta1) || !is_beta(config->beta2))
        return FPK_ERR_VALUE;
    config->bias_correction1 = 1.0 - pow(config->beta1, (double)step);
    config->bias_correction2 = 1.0 - pow(config->beta2, (double)step);
    return FPK_OK;
}

/* The Adam update of one element; l2 and amsgrad are compile-time constants at every call. */
#define ADAM_ELEMENT(T, SQRT, l2, amsgrad)                                                  \
    do {                                                                                    \
        T p = param[i] * decay;                 /* AdamW: p *= 1 - lr*wd (decay = 1 else) */ \
        T g = (l2) ? grad[i] + wd * param[i] : grad[i];        /* Adam: L2 in the gradient */ \
        T m_i = beta1 * m[i] + one_minus_beta1 * g;          /* first moment: mean of g   */ \
        T v_i = beta2 * v[i] + one_minus_beta2 * (g * g);    /* second moment: mean of g^2 */ \
        m[i] = m_i;                                                                         \
        v[i] = v_i;                                                                         \
        if (amsgrad) {                                                                      \
            v_i = vmax[i] > v_i ? vmax[i] : v_i;        /* keep the largest v seen (NaN wins) */ \
            vmax[i] = v_i;                                                                  \
        }                                                                                   \
        T denom = SQRT(v_i) / sqrt_bc2 + eps;                 /* sqrt(v_hat) + eps          */ \
        param[i] = p - step_size * (m_i / denom);             /* step_size = lr / (1-b1^t) */ \
    } while (0)

#define DEFINE_ADAM_RANGE(T, SUF, SQRT)                                                     \
    static void adam_range_##SUF(size_t n, T *restrict param, const T *restrict grad,       \
                                 T *restrict m, T *restrict v, T *restrict vmax,            \
                                 const fpk_adam_config *c)                                  \
    {                                                                                       \
        const T beta1 = (T)c->beta1, beta2 = (T)c->beta2, eps = (T)c->eps;                  \
        const T one_minus_beta1 = (T)(1.0 - c->beta1), one_minus_beta2 = (T)(1.0 - c->beta2); \
        const T wd = (T)c->weight_decay;                                                    \
        const T decay = (T)(c->decoupled ? 1.0 - c->lr * c->weight_decay : 1.0);            \
        const T step_size = (T)(c->lr / c->bias_correction1);                               \
        const T sqrt_bc2 = (T)sqrt(c->bias_correction2);                                    \
        const int l2 = !c->decoupled && c->weight_decay != 0.0;                             \
        if (c->amsgrad) {                                                                   \
            if (l2)                                                                         \
                for (size_t i = 0; i < n; i++) ADAM_ELEMENT(T, SQRT, 1, 1);                 \
            else                                                                            \
                for (size_t i = 0; i < n; i++) ADAM_ELEMENT(T, SQRT, 0, 1);                 \
        } else {                                                                            \
            if (l2)                                                                         \
                for (size_t i = 0; i < n; i++) ADAM_ELEMENT(T, SQRT, 1, 0);                 \
            else                                                                            \
                for (size_t i = 0; i < n; i++) ADAM_ELEMENT(T, SQRT, 0, 0);                 \
        }                                                                                   \
    }

/* ---- RMSprop ---- */

static int rmsprop_config_ok(const fpk_rmsprop_config *c)
{
    return is_nonnegative(c->lr) && is_beta(c->alpha) && is_nonnegative(c->eps)
        && is_nonnegative(c->weight_decay);
}

/* One RMSprop pass over n elements (torch.optim.RMSprop, no momentum, not centered). */
#define DEFINE_RMSPROP_RANGE(T, SUF, SQRT)                                                  \
    static void rmsprop_range_##SUF(size_t n, T *restrict param, const T *restrict grad,    \
                                    T *restrict v, const fpk_rmsprop_config *c)             \
    {                                                                                       \
        const T lr = (T)c->lr, alpha = (T)c->alpha, eps = (T)c->eps;                        \
        const T one_minus_alpha = (T)(1.0 - c->alpha);                                      \
        const T wd = (T)c->weight_decay;                                                    \
        const int decay = c->weight_decay != 0.0;                                           \
        for (size_t i = 0; i < n; i++) {                                                    \
            T g = decay ? grad[i] + wd * param[i] : grad[i];                                \
            T v_i = alpha * v[i] + one_minus_alpha * (g * g);  /* running mean of g^2 */    \
            v[i] = v_i;                                                                     \
            param[i] = param[i] - lr * (g / (SQRT(v_i) + eps));                             \
        }                                                                                   \
    }

/* ---- the public entry points, for float and double ---- */

#define DEFINE_OPTIMIZERS(T, SUF, SQRT)                                                     \
    DEFINE_SGD_RANGE(T, SUF)                                                                \
    DEFINE_ADAM_RANGE(T, SUF, SQRT)                                                         \
    DEFINE_RMSPROP_RANGE(T, SUF, SQRT)                                                      \
                                                                                            \
    /* SGD over a list of tensors, one parallel region. */                                  \
    int fpk_sgd_step_many_##SUF(size_t count, T *const *params, const T *const *grads,      \
                                T *const *bufs, const size_t *sizes,                        \
                                const fpk_sgd_config *config)                               \
    {                                                                                       \
        size_t total;                                                                       \
        if (count == 0)                                                                     \
            return FPK_OK;                                                                  \
        if (!config || !params || !grads || !sizes || (config->momentum != 0.0 && !bufs))   \
            return FPK_ERR_NULL;                                                            \
        if (!sgd_config_ok(config))                                                         \
            return FPK_ERR_VALUE;                                                           \
        int status = check_pointers(count, sizes, (const void *const *)params,              \
                                    (const void *const *)grads,                             \
                                    config->momentum != 0.0 ? (const void *const *)bufs : 0, 0); \
        if (status == FPK_OK)                                                               \
            status = total_size(count, sizes, &total);                                      \
        if (status != FPK_OK)                                                               \
            return status;                                                                  \
        FPK_PARALLEL_RANGES(total, fpk_threads_for(total), lo, hi,                          \
            FOR_PIECES(count, sizes, lo, hi,                                                \
                sgd_range_##SUF(len, params[t] + a, grads[t] + a,                           \
                                config->momentum != 0.0 ? bufs[t] + a : 0, config)));       \
        return FPK_OK;                                                                      \
    }                                                                                       \
                                                                                            \
    /* SGD on one tensor. */                                                                \
    int fpk_sgd_step_##SUF(size_t n, T *param, const T *grad, T *buf,                       \
                           const fpk_sgd_config *config)                                    \
    {                                                                                       \
        return fpk_sgd_step_many_##SUF(1, &param, &grad, &buf, &n, config);                 \
    }                                                                                       \
                                                                                            \
    /* Adam / AdamW over a list of tensors, one parallel region. */                         \
    int fpk_adam_step_many_##SUF(size_t count, T *const *params, const T *const *grads,     \
                                 T *const *m, T *const *v, T *const *vmax,                  \
                                 const size_t *sizes, const fpk_adam_config *config)        \
    {                                                                                       \
        size_t total;                                                                       \
        if (count == 0)                                                                     \
            return FPK_OK;                                                                  \
        if (!config || !params || !grads || !m || !v || !sizes || (config->amsgrad && !vmax)) \
            return FPK_ERR_NULL;                                                            \
        if (!adam_config_ok(config))                                                        \
            return FPK_ERR_VALUE;                                                           \
        int status = check_pointers(count, sizes, (const void *const *)params,              \
                                    (const void *const *)grads, (const void *const *)m,     \
                                    (const void *const *)v);                                \
        if (status == FPK_OK && config->amsgrad)                                            \
            status = check_pointers(count, sizes, (const void *const *)vmax, 0, 0, 0);      \
        if (status == FPK_OK)                                                               \
            status = total_size(count, sizes, &total);                                      \
        if (status != FPK_OK)                                                               \
            return status;                                                                  \
        FPK_PARALLEL_RANGES(total, fpk_threads_for(total), lo, hi,                          \
            FOR_PIECES(count, sizes, lo, hi,                                                \
                adam_range_##SUF(len, params[t] + a, grads[t] + a, m[t] + a, v[t] + a,      \
                                 config->amsgrad ? vmax[t] + a : 0, config)));              \
        return FPK_OK;                                                                      \
    }                                                                                       \
                                                                                            \
    /* Adam / AdamW on one tensor. */                                                       \
    int fpk_adam_step_##SUF(size_t n, T *param, const T *grad, T *m, T *v, T *vmax,         \
                            const fpk_adam_config *config)                                  \
    {                                                                                       \
        return fpk_adam_step_many_##SUF(1, &param, &grad, &m, &v, &vmax, &n, config);       \
    }                                                                                       \
                                                                                            \
    /* RMSprop over a list of tensors, one parallel region. */                              \
    int fpk_rmsprop_step_many_##SUF(size_t count, T *const *params, const T *const *grads,  \
                                    T *const *v, const size_t *sizes,                       \
                                    const fpk_rmsprop_config *config)                       \
    {                                                                                       \
        size_t total;                                                                       \
        if (count == 0)                                                                     \
            return FPK_OK;                                                                  \
        if (!config || !params || !grads || !v || !sizes)                                   \
            return FPK_ERR_NULL;                                                            \
        if (!rmsprop_config_ok(config))                                                     \
            return FPK_ERR_VALUE;                                                           \
        int status = check_pointers(count, sizes, (const void *const *)params,              \
                                    (const void *const *)grads, (const void *const *)v, 0); \
        if (status == FPK_OK)                                                               \
            status = total_size(count, sizes, &total);                                      \
        if (status != FPK_OK)                                                               \
            return status;                                                                  \
        FPK_PARALLEL_RANGES(total, fpk_threads_for(total), lo, hi,                          \
            FOR_PIECES(count, sizes, lo, hi,                                                \
                rmsprop_range_##SUF(len, params[t] + a, grads[t] + a, v[t] + a, config)));  \
        return FPK_OK;                                                                      \
    }                                                                                       \
                                                                                            \
    /* RMSprop on one tensor. */                                                            \
    int fpk_rmsprop_step_##SUF(size_t n, T *param, const T *grad, T *v,                     \
                               const fpk_rmsprop_config *config)                            \
    {                                                                                       \
        return fpk_rmsprop_step_many_##SUF(1, &param, &grad, &v, &n, config);               \
    }

DEFINE_OPTIMIZERS(float, f32, sqrtf)
DEFINE_OPTIMIZERS(double, f64, sqrt)
