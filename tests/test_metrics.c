/* test_metrics.c - error metrics against values computed by hand. */
#include "autoapprox/mult.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static ax_mult *exact(ax_operand a, ax_operand w)
{
    ax_mult *m = ax_mult_new();
    m->act = a;
    m->wgt = w;
    strcpy(m->name, "exact");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = ax_exact_product(a, w, i >> 8, i & 255);
    return m;
}

Test(metrics, exact_table_has_no_error)
{
    for (int t = 0; t < 3; t++) {
        ax_mult *m = exact(t == 1 ? AX_S8 : AX_U8, t == 0 ? AX_U8 : AX_S8);
        ax_metrics x;
        ax_mult_metrics(m, &x);
        cr_assert(ax_mult_is_exact(m));
        cr_assert_eq(x.mae, 0);
        cr_assert_eq(x.wce, 0);
        cr_assert_eq(x.ep, 0);
        cr_assert_eq(x.mre, 0);
        cr_assert_eq(x.mse, 0);
        cr_assert_eq(x.variance, 0);
        ax_mult_free(m);
    }
}

/* Errors placed by hand: +3 at one pair with a non-zero product, -1 at one
 * pair whose exact product is 0 (counts for EP, not for MRE). */
Test(metrics, hand_computed_values)
{
    ax_mult *m = exact(AX_U8, AX_U8);
    m->table[10 * 256 + 20] += 3; /* exact 200 */
    m->table[0 * 256 + 5] -= 1;   /* exact 0 */
    cr_assert_not(ax_mult_is_exact(m));
    ax_metrics x;
    ax_mult_metrics(m, &x);
    double n = 65536.0;
    cr_assert_float_eq(x.mae, 4.0 / n, 1e-15);
    cr_assert_float_eq(x.wce, 3.0, 0);
    cr_assert_eq(x.wce_signed, 3);
    cr_assert_float_eq(x.ep, 100.0 * 2.0 / n, 1e-12);
    cr_assert_float_eq(x.bias, 2.0 / n, 1e-15);
    cr_assert_float_eq(x.mse, 10.0 / n, 1e-15);
    double mean = 2.0 / n, var = (pow(3 - mean, 2) + pow(-1 - mean, 2) + (n - 2) * mean * mean) / n;
    cr_assert_float_eq(x.variance, var, 1e-15);
    /* 255*255 pairs have a non-zero exact product; one of them is off by 3/200. */
    cr_assert_float_eq(x.mre, 100.0 * (3.0 / 200.0) / (255.0 * 255.0), 1e-12);
    cr_assert_float_eq(x.mae_pct, 100.0 * x.mae / 65536.0, 1e-18);
    cr_assert_float_eq(x.wce_pct, 100.0 * 3.0 / 65536.0, 1e-15);
    ax_mult_free(m);
}

Test(metrics, signed_raw_byte_indexing)
{
    ax_mult *m = exact(AX_S8, AX_S8);
    cr_assert_eq(m->table[255 * 256 + 255], 1);         /* -1 * -1 */
    cr_assert_eq(m->table[128 * 256 + 127], -128 * 127); /* -128 * 127 */
    m->table[128 * 256 + 128] = 0;                       /* -128*-128 = 16384 -> 0 */
    ax_metrics x;
    ax_mult_metrics(m, &x);
    cr_assert_float_eq(x.wce, 16384, 0);
    cr_assert_eq(x.wce_signed, -16384);
    cr_assert_float_eq(x.mre, 100.0 / (255.0 * 255.0), 1e-12);
    ax_mult_free(m);
}

Test(metrics, weighted_by_operand_histograms)
{
    ax_mult *m = exact(AX_U8, AX_U8);
    m->table[10 * 256 + 20] += 4;
    m->table[11 * 256 + 20] -= 2;
    double ha[256] = {0}, hw[256] = {0};
    ha[10] = 3;
    ha[11] = 1;
    hw[20] = 2;
    ax_metrics x;
    cr_assert_eq(ax_mult_metrics_weighted(m, ha, hw, &x), 0);
    cr_assert_float_eq(x.mae, (3 * 4 + 1 * 2) / 4.0, 1e-12);
    cr_assert_float_eq(x.bias, (3 * 4 - 1 * 2) / 4.0, 1e-12);
    cr_assert_float_eq(x.ep, 100.0, 1e-12);
    cr_assert_float_eq(x.wce, 4, 0);
    cr_assert_float_eq(x.mre, 100.0 * (3 * 4.0 / 200 + 1 * 2.0 / 220) / 4.0, 1e-12);
    /* Uniform histograms give the plain metrics. */
    for (int i = 0; i < 256; i++) ha[i] = hw[i] = 1;
    ax_metrics plain;
    ax_mult_metrics(m, &plain);
    cr_assert_eq(ax_mult_metrics_weighted(m, ha, hw, &x), 0);
    cr_assert_float_eq(x.mae, plain.mae, 1e-15);
    cr_assert_float_eq(x.variance, plain.variance, 1e-12);
    /* All-zero or negative weights are refused. */
    memset(ha, 0, sizeof ha);
    cr_assert_eq(ax_mult_metrics_weighted(m, ha, hw, &x), -1);
    ha[0] = -1;
    cr_assert_eq(ax_mult_metrics_weighted(m, ha, hw, &x), -1);
    ax_mult_free(m);
}
