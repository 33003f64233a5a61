/* test_capi.c - use libfpkernels from C alone: a few kernels against values worked out by hand,
 * error statuses, and thread control. Prints one line per failure and a summary line; the exit
 * status is the number of failures (0 = all passed).
 *
 *   make -C csrc && cc -std=c99 -Icsrc tests/c/test_capi.c csrc/libfpkernels.a -fopenmp -lm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpkernels.h"

static int failures = 0, checks = 0;

/* Count a check; report it when it failed. */
static void expect(int ok, const char *what)
{
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL: %s\n", what);
    }
}

static int close_to(double got, double want, double tolerance)
{
    return fabs(got - want) <= tolerance * (1 + fabs(want));
}

int main(void)
{
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, out[5];
    double data[8] = {2, 4, 4, 4, 5, 5, 7, 9}, result;
    float fresult;

    /* element-wise addition, and in place */
    expect(fpk_add_f32(a, b, out, 5) == FPK_OK, "fpk_add_f32 returns FPK_OK");
    expect(out[0] == 11 && out[4] == 55, "fpk_add_f32 adds");
    expect(fpk_add_f32(a, b, a, 5) == FPK_OK && a[2] == 33, "fpk_add_f32 in place");
    expect(fpk_add_f32(a, b, a + 1, 4) == FPK_ERR_VALUE && a[1] == 22,
           "fpk_add_f32 refuses an out that partly overlaps an input, before writing");
    expect(fpk_mul_scalar_f32(a + 1, 2, a, 4) == FPK_ERR_VALUE && a[0] == 11,
           "fpk_mul_scalar_f32 refuses an out that partly overlaps x, before writing");

    /* broadcasting: (2, 3) + (3,) */
    {
        double m[6] = {1, 2, 3, 4, 5, 6}, row[3] = {10, 20, 30}, o[6];
        int64_t shape[2] = {2, 3}, ms[2] = {3, 1}, rs[2] = {0, 1};
        expect(fpk_binary_f64(FPK_ADD, 2, shape, m, ms, row, rs, o) == FPK_OK && o[0] == 11 &&
               o[5] == 36, "fpk_binary_f64 broadcasts a row");
    }

    /* reductions: sum, mean, median, std of a classic example (mean 5, population std 2) */
    expect(fpk_sum_f64(data, 8, &result) == FPK_OK && result == 40, "fpk_sum_f64 = 40");
    expect(fpk_mean_f64(data, 8, &result) == FPK_OK && result == 5, "fpk_mean_f64 = 5");
    expect(fpk_median_f64(data, 8, &result) == FPK_OK && result == 4.5, "fpk_median_f64 = 4.5");
    expect(data[0] == 2 && data[7] == 9, "fpk_median_f64 leaves its input alone");
    expect(fpk_std_f64(data, 8, 0, &result) == FPK_OK && close_to(result, 2, 1e-15),
           "fpk_std_f64 population = 2");
    expect(fpk_std_f64(data, 8, 1, &result) == FPK_OK && close_to(result, sqrt(32.0 / 7), 1e-15),
           "fpk_std_f64 sample = sqrt(32/7)");
    expect(fpk_min_f64(data, 8, &result) == FPK_OK && result == 2, "fpk_min_f64 = 2");
    expect(fpk_max_f64(data, 8, &result) == FPK_OK && result == 9, "fpk_max_f64 = 9");
    {
        float odd[5] = {9, -1, 7, 3, 5};
        expect(fpk_median_f32(odd, 5, &fresult) == FPK_OK && fresult == 5, "fpk_median_f32 = 5");
        float dot_b[5] = {1, 1, 1, 1, 1};
        expect(fpk_dot_f32(odd, dot_b, 5, &fresult) == FPK_OK && fresult == 23, "fpk_dot_f32 = 23");
    }

    /* a large sum goes parallel and still gives the exact answer */
    {
        size_t n = 1 << 20;
        float *big = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++)
            big[i] = (float)(i % 7);
        double want = 0;
        for (size_t i = 0; i < n; i++)
            want += big[i];
        fpk_set_num_threads(2);
        expect(fpk_sum_f32(big, n, &fresult) == FPK_OK && fresult == (float)want,
               "fpk_sum_f32 of 2^20 elements on 2 threads");
        free(big);
    }

    /* errors: NULL pointers, empty input, a bad argument */
    expect(fpk_add_f32(NULL, b, out, 5) == FPK_ERR_NULL, "NULL input gives FPK_ERR_NULL");
    expect(fpk_add_f32(NULL, NULL, NULL, 0) == FPK_OK, "n = 0 accepts NULL");
    expect(fpk_mean_f64(data, 0, &result) == FPK_ERR_EMPTY, "mean of nothing is FPK_ERR_EMPTY");
    expect(fpk_median_f64(data, 0, &result) == FPK_ERR_EMPTY, "median of nothing is FPK_ERR_EMPTY");
    expect(fpk_std_f64(data, 1, 1, &result) == FPK_ERR_VALUE, "sample std of one is FPK_ERR_VALUE");
    expect(fpk_sum_f64(data, 0, &result) == FPK_OK && result == 0, "sum of nothing is 0");
    expect(strcmp(fpk_status_string(FPK_ERR_EMPTY), fpk_status_string(FPK_OK)) != 0 &&
           strlen(fpk_status_string(FPK_ERR_NULL)) > 0 && fpk_status_string(12345) != NULL,
           "fpk_status_string names the statuses");

    /* threads */
    expect(fpk_set_num_threads(3) == FPK_OK && fpk_get_num_threads() == 3, "set/get threads");
    expect(fpk_set_num_threads(0) == FPK_ERR_VALUE, "0 threads is FPK_ERR_VALUE");
    expect(fpk_get_num_threads() == 3, "a refused count changes nothing");

    printf("fpkernels %s C API: %d/%d checks passed\n", fpk_version(), checks - failures, checks);
    return failures;
}
