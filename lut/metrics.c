/* metrics.c - error metrics of a multiplier table against the exact product,
 * with EvoApproxLib's definitions: MAE and WCE absolute, EP and MRE in percent
 * (MRE over pairs whose exact product is non-zero), bias = mean(approx - exact).
 * The weighted form weighs pair (a, w) by how often a network feeds it. */
#include "ax_internal.h"

#include <math.h>
#include <string.h>

/* One pass accumulating weighted sums; unit weights give the plain metrics. */
typedef struct metric_sums {
    double wsum, wsum_nonzero;
    double abs_err, err, sq_err, rel_err, with_err;
    int64_t wce_signed;
    uint64_t wce;
} metric_sums;

static void accumulate(const ax_mult *m, const double *ha, const double *hw, metric_sums *s)
{
    memset(s, 0, sizeof *s);
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned w = 0; w < 256; w++) {
            double wt = ha ? ha[a] * hw[w] : 1.0;
            if (wt <= 0) continue;
            int64_t exact = ax_exact_product(m->act, m->wgt, a, w);
            int64_t e = (int64_t)m->table[a * 256 + w] - exact;
            uint64_t ae = (uint64_t)(e < 0 ? -e : e);
            s->wsum += wt;
            s->abs_err += wt * (double)ae;
            s->err += wt * (double)e;
            s->sq_err += wt * (double)e * (double)e;
            if (e != 0) s->with_err += wt;
            if (exact != 0) {
                s->wsum_nonzero += wt;
                s->rel_err += wt * (double)ae / (double)(exact < 0 ? -exact : exact);
            }
            if (ae > s->wce) {
                s->wce = ae;
                s->wce_signed = e;
            }
        }
    }
}

static void finish(const ax_mult *m, const double *ha, const double *hw, const metric_sums *s, ax_metrics *out)
{
    out->mae = s->abs_err / s->wsum;
    out->bias = s->err / s->wsum;
    out->mse = s->sq_err / s->wsum;
    out->ep = 100.0 * s->with_err / s->wsum;
    out->mre = s->wsum_nonzero > 0 ? 100.0 * s->rel_err / s->wsum_nonzero : 0.0;
    out->wce = (double)s->wce;
    out->wce_signed = s->wce_signed;
    out->mae_pct = 100.0 * out->mae / 65536.0;
    out->wce_pct = 100.0 * out->wce / 65536.0;
    /* A second pass: mse - bias^2 cancels badly for near-constant errors. */
    double var = 0;
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned w = 0; w < 256; w++) {
            double wt = ha ? ha[a] * hw[w] : 1.0;
            if (wt <= 0) continue;
            double d = (double)((int64_t)m->table[a * 256 + w] - ax_exact_product(m->act, m->wgt, a, w)) - out->bias;
            var += wt * d * d;
        }
    }
    out->variance = var / s->wsum;
}

void ax_mult_metrics(const ax_mult *m, ax_metrics *out)
{
    metric_sums s;
    accumulate(m, NULL, NULL, &s);
    finish(m, NULL, NULL, &s, out);
}

int ax_mult_metrics_weighted(const ax_mult *m, const double hist_a[256], const double hist_w[256], ax_metrics *out)
{
    for (int i = 0; i < 256; i++)
        if (!(hist_a[i] >= 0) || !(hist_w[i] >= 0) || isinf(hist_a[i]) || isinf(hist_w[i])) return -1;
    metric_sums s;
    accumulate(m, hist_a, hist_w, &s);
    if (!(s.wsum > 0)) return -1;
    finish(m, hist_a, hist_w, &s, out);
    return 0;
}
