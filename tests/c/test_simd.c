/* test_simd.c - the vector vocabulary of csrc/fpk_simd.h against plain C, lane by lane.
 *
 * The float32 kernels are written once in that vocabulary and compiled for AVX-512 or AVX2,
 * so each back end's operations must mean the same thing. Built with -march=native by
 * tests/test_c_library.py: it checks whichever back end this machine compiles (or says that
 * there is none). Also the vector exponential of fpk_vmath.h built on it. Prints "N checks
 * passed" or the failures.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fpk_simd.h"
#include "fpk_vmath.h"

static int checks, failures;

static void check(int ok, const char *what, double got, double want)
{
    checks++;
    if (!ok) {
        failures++;
        if (failures <= 20) printf("FAIL %s: got %.9g, want %.9g\n", what, got, want);
    }
}

/* Same value, NaN equal to NaN, and the same sign for zeros. */
static int same(float a, float b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

#if FPK_SIMD
static vfloat from_array(const float *p) { return load_v(p); }

static void to_array(float *p, vfloat x) { store_v(p, x); }

static void check_scalef(void)
{
    /* x 2^k with one rounding, subnormal results and underflow to zero included */
    const float xs[] = {1.0f, -1.0f, 1.5f, 0.7071f, 1.9999999f, 0.5f, -3.25f, 200.0f, 1e-30f, 0.0f};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        for (int k = -260; k <= 60; k++) {
            float x[FPK_LANES], kk[FPK_LANES], got[FPK_LANES];
            for (int j = 0; j < FPK_LANES; j++) x[j] = xs[i], kk[j] = (float)(k + (j % 3) - 1);
            to_array(got, scalef_v(from_array(x), from_array(kk)));
            for (int j = 0; j < FPK_LANES; j++)
                check(same(got[j], ldexpf(x[j], (int)kk[j])), "scalef_v", got[j], ldexpf(x[j], (int)kk[j]));
            if (fabsf(xs[i]) < 256.0f && k <= 54) {
                to_array(got, scalef_small_v(from_array(x), from_array(kk)));
                for (int j = 0; j < FPK_LANES; j++)
                    check(same(got[j], ldexpf(x[j], (int)kk[j])), "scalef_small_v", got[j], ldexpf(x[j], (int)kk[j]));
            }
            if (xs[i] != 0.0f && fabs(ldexp(xs[i], k - 1)) >= 0x1p-126 && fabs(ldexp(xs[i], k + 1)) < 0x1p127) {
                to_array(got, scalef_normal_v(from_array(x), from_array(kk)));
                for (int j = 0; j < FPK_LANES; j++)
                    check(same(got[j], ldexpf(x[j], (int)kk[j])), "scalef_normal_v", got[j], ldexpf(x[j], (int)kk[j]));
            }
        }
}

static void check_lookup_and_blend(void)
{
    static const float table[32] __attribute__((aligned(64))) = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    int32_t index[FPK_LANES];
    float got[FPK_LANES], a[FPK_LANES], b[FPK_LANES];
#if FPK_LANES == 16
    for (int shift = 0; shift < 32; shift++) {
        for (int j = 0; j < FPK_LANES; j++) index[j] = (3 * j + shift) % 32 + 32 * j;   /* high bits ignored */
        vint i;
        memcpy(&i, index, sizeof i);
        to_array(got, lookup32_v(table, i));
        for (int j = 0; j < FPK_LANES; j++)
            check(got[j] == table[index[j] & 31], "lookup32_v", got[j], table[index[j] & 31]);
    }
#endif
    for (int shift = 0; shift < 16; shift++) {
        for (int j = 0; j < FPK_LANES; j++) index[j] = (j + shift) % 16 + 16 * j;   /* high bits ignored */
        vint i;
        memcpy(&i, index, sizeof i);
        to_array(got, lookup16_v(table, i));
        for (int j = 0; j < FPK_LANES; j++)
            check(got[j] == table[index[j] & 15], "lookup16_v", got[j], table[index[j] & 15]);
        to_array(got, lookup8_v(table, i));
        for (int j = 0; j < FPK_LANES; j++)
            check(got[j] == table[index[j] & 7], "lookup8_v", got[j], table[index[j] & 7]);
    }
    for (int j = 0; j < FPK_LANES; j++) a[j] = (float)j, b[j] = (float)(100 + j);
    vmask odd = is_v(from_array(a), _CMP_GT_OQ, 2.5f);     /* lanes 3.. */
    to_array(got, blend_v(odd, from_array(a), from_array(b)));
    for (int j = 0; j < FPK_LANES; j++) check(got[j] == (j > 2 ? b[j] : a[j]), "blend_v", got[j], j > 2 ? b[j] : a[j]);
    to_array(got, keep_v(odd, from_array(b)));
    for (int j = 0; j < FPK_LANES; j++) check(got[j] == (j > 2 ? b[j] : 0), "keep_v", got[j], j > 2 ? b[j] : 0);
    to_array(got, mask_sub_v(from_array(a), odd, from_array(b), from_array(a)));
    for (int j = 0; j < FPK_LANES; j++) check(got[j] == (j > 2 ? 100 : a[j]), "mask_sub_v", got[j], j > 2 ? 100 : a[j]);
    check(any_m(odd) && !any_m(is_v(from_array(a), _CMP_LT_OQ, -1.0f)), "any_m", 0, 1);
    vmask none = andnot_m(odd, is_v(from_array(a), _CMP_GT_OQ, 5.5f));
    check(!any_m(none), "andnot_m", 0, 0);
}

static void check_memory(void)
{
    float src[2 * FPK_LANES], dst[2 * FPK_LANES], got[FPK_LANES];
    for (int j = 0; j < 2 * FPK_LANES; j++) src[j] = (float)(j + 1);
    for (size_t count = 0; count <= FPK_LANES + 1; count++) {
        to_array(got, load_first_v(src, count));
        for (size_t j = 0; j < FPK_LANES; j++)
            check(got[j] == (j < count ? src[j] : 0), "load_first_v", got[j], j < count ? src[j] : 0);
        to_array(got, load_first_or_v(splat(-7.0f), src, count));
        for (size_t j = 0; j < FPK_LANES; j++)
            check(got[j] == (j < count ? src[j] : -7), "load_first_or_v", got[j], j < count ? src[j] : -7);
        for (int j = 0; j < 2 * FPK_LANES; j++) dst[j] = -1;
        store_first_v(dst, from_array(src), count);
        for (size_t j = 0; j < 2 * FPK_LANES; j++) {
            float want = j < count && j < FPK_LANES ? src[j] : -1;
            check(dst[j] == want, "store_first_v", dst[j], want);
        }
    }
    float v[FPK_LANES];
    for (int j = 0; j < FPK_LANES; j++) v[j] = (float)((j * 7) % FPK_LANES) - 3.0f;
    check(reduce_max_v(from_array(v)) == FPK_LANES - 4, "reduce_max_v", reduce_max_v(from_array(v)), FPK_LANES - 4);
    double sum = reduce_add_d(add_d(low_half(from_array(v)), high_half(from_array(v)))), want = 0;
    for (int j = 0; j < FPK_LANES; j++) want += v[j];
    check(sum == want, "low_half + high_half", sum, want);
}

static void check_arithmetic(void)
{
    const float a[] = {1.5f, -2.25f, 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 3e38f,
                       1e-40f, -7.0f, 0.1f, 100.5f, -0.5f, 2.5f, -1e-3f, 65504.0f};
    float x[FPK_LANES], got[FPK_LANES];
    for (int j = 0; j < FPK_LANES; j++) x[j] = a[j % 16];
    vfloat v = from_array(x);
    to_array(got, abs_v(v));
    for (int j = 0; j < FPK_LANES; j++) check(same(got[j], fabsf(x[j])), "abs_v", got[j], fabsf(x[j]));
    to_array(got, neg_abs_v(v));
    for (int j = 0; j < FPK_LANES; j++) check(same(got[j], -fabsf(x[j])), "neg_abs_v", got[j], -fabsf(x[j]));
    to_array(got, clamp_v(v, -1.0f, 2.0f));
    for (int j = 0; j < FPK_LANES; j++) {
        float want = isnan(x[j]) ? x[j] : fmaxf(-1.0f, fminf(2.0f, x[j]));
        check(same(got[j], want) || (x[j] == 0 && got[j] == 0), "clamp_v", got[j], want);
    }
    to_array(got, with_sign_of_v(splat(3.0f), v));
    for (int j = 0; j < FPK_LANES; j++) check(same(got[j], copysignf(3.0f, x[j])), "with_sign_of_v", got[j], copysignf(3.0f, x[j]));
    to_array(got, fnma_v(v, splat(3.0f), splat(1.0f)));
    for (int j = 0; j < FPK_LANES; j++) check(same(got[j], fmaf(-x[j], 3.0f, 1.0f)), "fnma_v", got[j], fmaf(-x[j], 3.0f, 1.0f));
    to_array(got, fms_v(v, v, splat(1.0f)));
    for (int j = 0; j < FPK_LANES; j++) check(same(got[j], fmaf(x[j], x[j], -1.0f)), "fms_v", got[j], fmaf(x[j], x[j], -1.0f));
}

static void check_doubles(void)
{
    /* the halves of a vfloat as doubles and back; masks split into halves; double lookups */
    float x[FPK_LANES], got[FPK_LANES];
    for (int j = 0; j < FPK_LANES; j++) x[j] = (float)j * 1.25f - 3.0f;
    to_array(got, join_halves(low_half(from_array(x)), high_half(from_array(x))));
    for (int j = 0; j < FPK_LANES; j++) check(got[j] == x[j], "join_halves", got[j], x[j]);
    enum { HALF = FPK_LANES / 2 };
    /* lanes 3.. of the floats: the low half's mask and the high half's, used to add */
    vmask m = is_v(from_array(x), _CMP_GT_OQ, 0.5f);       /* x_j > 0.5 from j = 3 on */
    vdouble nan = splat_d(NAN), low = add_lanes_d(zero_d(), low_half_m(m), nan);
    vdouble high = add_lanes_d(zero_d(), high_half_m(m), splat_d(1.0));
    double lo[HALF], hi[HALF];
    memcpy(lo, &low, sizeof lo);
    memcpy(hi, &high, sizeof hi);
    for (int j = 0; j < HALF; j++) {
        check(j < 3 ? lo[j] == 0 : isnan(lo[j]), "add_lanes_d low half", lo[j], j < 3 ? 0 : NAN);
        check(hi[j] == (HALF + j >= 3 ? 1.0 : 0.0), "add_lanes_d high half", hi[j], HALF + j >= 3);
    }
    for (unsigned k = 0; k < FPK_LANES; k++)
        check(lane_v(from_array(x), one_lane(k)) == x[k], "lane_v", lane_v(from_array(x), one_lane(k)), x[k]);
    check(!any_m(no_lanes()), "no_lanes", 1, 0);
}

/* Distance from want in units in the last place of float (subnormal spacing below normal). */
static double ulps(float got, double want)
{
    double spacing = fabs(want) < 0x1p-126 ? 0x1p-149 : ldexp(1.0, ilogb(want) - 23);
    return fabs(got - want) / spacing;
}

static void check_exp(void)
{
    /* 2^scale e^x within 1 ULP for x from 0 down to -104 (0 below), scale 0, or 64 where
       x < -60 (the callers' cases), on both of AVX2's paths: vectors whose lanes all give
       normal results, and the same lanes next to one that does not (-100), which sends the
       vector through the general scaling */
    for (int32_t bits = (int32_t)0x80000000; bits <= (int32_t)0xC2D00000; bits += 1 << 13) {
        float x[FPK_LANES], scale[FPK_LANES], got[FPK_LANES], alone[2][FPK_LANES];
        for (int mixed = 0; mixed <= 1; mixed++)
            for (int big = 0; big <= 1; big++) {
                for (int j = 0; j < FPK_LANES; j++) {
                    int32_t b = bits + j * 97;
                    memcpy(&x[j], &b, 4);
                }
                if (mixed) x[FPK_LANES - 1] = -100.0f;
                for (int j = 0; j < FPK_LANES; j++) scale[j] = big && x[j] < -60.0f ? 64.0f : 0.0f;
                to_array(got, exp_scaled_v(from_array(x), from_array(scale)));
                for (int j = 0; j < FPK_LANES; j++) {
                    double want = ldexp(exp((double)x[j]), (int)scale[j]);
                    check(ulps(got[j], want) <= 1.0, "exp_scaled_v", got[j], want);
                    /* and the same bits whichever path the neighbours choose */
                    if (!mixed) alone[big][j] = got[j];
                    else if (j < FPK_LANES - 1)
                        check(same(got[j], alone[big][j]), "exp_scaled_v beside -100", got[j], alone[big][j]);
                }
            }
    }
    float nan[FPK_LANES], got[FPK_LANES];
    for (int j = 0; j < FPK_LANES; j++) nan[j] = j == 1 ? NAN : -1.0f;
    to_array(got, exp_scaled_v(from_array(nan), splat(0.0f)));
    check(isnan(got[1]), "exp_scaled_v(NaN)", got[1], NAN);
}

static void check_log(void)
{
    /* log x within 1 ULP for every 2^11-th float from the smallest normal to the largest
       (0.853 is the worst over every float from 1e-7 up), and log 1 = 0 exactly */
    for (int32_t bits = 0x00800000; bits < 0x7F800000; bits += 1 << 11) {
        float x[FPK_LANES], got[FPK_LANES];
        for (int j = 0; j < FPK_LANES; j++) {
            int32_t b = bits + j * 131;
            memcpy(&x[j], &b, 4);
        }
        to_array(got, log_v(from_array(x)));
        for (int j = 0; j < FPK_LANES; j++)
            check(ulps(got[j], log((double)x[j])) <= 1.0, "log_v", got[j], log((double)x[j]));
    }
    float got[FPK_LANES];
    to_array(got, log_v(splat(1.0f)));
    check(got[0] == 0.0f, "log_v(1)", got[0], 0.0);
}

static void check_integers(void)
{
    const int32_t a[] = {0, 1, -1, 7, -8, 1 << 30, INT32_MIN, INT32_MAX,
                         123456, -654321, 255, -256, 1 << 23, -(1 << 23), 42, -42};
    int32_t x[FPK_LANES], out[FPK_LANES];
    float fx[FPK_LANES];
    for (int j = 0; j < FPK_LANES; j++) x[j] = a[j % 16];
    vint v, r;
    memcpy(&v, x, sizeof v);
    r = shift_right_signed_i(v, 3);
    memcpy(out, &r, sizeof out);
    for (int j = 0; j < FPK_LANES; j++) check(out[j] == x[j] >> 3, "shift_right_signed_i", out[j], x[j] >> 3);
    r = shift_left_i(sub_i(v, splat_i(1)), 2);
    memcpy(out, &r, sizeof out);
    for (int j = 0; j < FPK_LANES; j++) {
        int32_t want = (int32_t)(((uint32_t)x[j] - 1u) << 2);
        check(out[j] == want, "sub_i, shift_left_i", out[j], want);
    }
    to_array(fx, float_of_i(v));
    for (int j = 0; j < FPK_LANES; j++) check(fx[j] == (float)x[j], "float_of_i", fx[j], (float)x[j]);
}
#endif

int main(void)
{
#if FPK_SIMD
    check_scalef();
    check_exp();
    check_log();
    check_integers();
    check_lookup_and_blend();
    check_memory();
    check_arithmetic();
    check_doubles();
    printf("%d lanes: %d checks passed, %d failed\n", FPK_LANES, checks - failures, failures);
#else
    printf("no vector instruction set in this build: 0 checks passed\n");
#endif
    return failures != 0;
}
