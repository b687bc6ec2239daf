/* quantize.c - post-training quantization: activation ranges calibrated by
 * running the float graph (min-max or a percentile of the observed values),
 * per-channel weights (symmetric s8 or asymmetric u8), and the settings
 * recorded in the model's metadata. Deterministic for given images. */
#include "nn_internal.h"

#include "lut/ax_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_BATCH 64
#define CALIB_SAMPLES ((size_t)1 << 18) /* per tensor, for percentiles */

typedef struct calib_stat {
    float lo, hi;
    float *samples;
    size_t n, stride, seen;
} calib_stat;

typedef struct calib {
    const ax_nn_quant_options *o;
    calib_stat *st;
    bool failed;
} calib;

void ax_nn_quant_options_init(ax_nn_quant_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = AX_CALIB_MINMAX;
    o->percentile = 99.99;
    o->act = AX_S8;
    o->wgt = AX_S8;
}

static void observe(int v, const float *d, size_t count, void *ctx)
{
    calib *c = ctx;
    calib_stat *s = &c->st[v];
    if (!d) return;
    for (size_t i = 0; i < count; i++) {
        s->lo = d[i] < s->lo ? d[i] : s->lo;
        s->hi = d[i] > s->hi ? d[i] : s->hi;
    }
    if (c->o->method != AX_CALIB_PERCENTILE) return;
    for (size_t i = 0; i < count; i++, s->seen++) {
        if (s->seen % s->stride || s->n >= CALIB_SAMPLES) continue;
        s->samples[s->n++] = c->o->act == AX_S8 ? fabsf(d[i]) : d[i];
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float percentile(float *v, size_t n, double p)
{
    if (!n) return 0.0f;
    qsort(v, n, sizeof *v, cmp_float);
    double pos = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)pos;
    return i + 1 < n ? v[i] + (float)(pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* Range -> (scale, zero point) for the activation type. */
static axnn_qp act_params(ax_operand t, float lo, float hi)
{
    axnn_qp q = {true, t, 1.0f, 0};
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    if (t == AX_S8) {
        float m = fmaxf(-lo, hi);
        q.scale = m > 0.0f ? m / 127.0f : 1.0f;
        return q;
    }
    q.scale = hi - lo > 0.0f ? (hi - lo) / 255.0f : 1.0f;
    float z = axnn_round_half_even(-lo / q.scale);
    q.zp = z < 0 ? 0 : z > 255 ? 255 : (int32_t)z;
    return q;
}

static void finish_stat(const ax_nn_quant_options *o, calib_stat *s, float *lo, float *hi)
{
    *lo = s->lo, *hi = s->hi;
    if (o->method != AX_CALIB_PERCENTILE || !s->n) return;
    if (o->act == AX_S8) {
        *hi = percentile(s->samples, s->n, o->percentile);
        *lo = -*hi;
    } else {
        *hi = percentile(s->samples, s->n, o->percentile);
        *lo = percentile(s->samples, s->n, 100.0 - o->percentile);
    }
}

/* Values that reach the graph output through non-layer ops only, and the
 * layer output that starts that chain: left float (logits). */
static void mark_tail(const ax_nn_model *m, bool *tail)
{
    int v = m->output;
    while (v >= 0) {
        tail[v] = true;
        int p = m->values[v].producer;
        if (p < 0 || axnn_is_layer(&m->nodes[p]) || m->nodes[p].n_in != 1) break;
        v = m->nodes[p].in[0];
    }
}

static void annotate(ax_nn_model *m, const ax_nn_quant_options *o, calib_stat *st)
{
    bool *tail = calloc(m->n_values, sizeof *tail);
    if (tail) mark_tail(m, tail);
    for (size_t v = 0; v < m->n_values; v++) {
        axnn_value *val = &m->values[v];
        int p = val->producer;
        memset(&val->q, 0, sizeof val->q);
        if ((tail && tail[v]) || (p < 0 && (int)v != m->input)) continue;
        if (p >= 0 && axnn_passes_through(&m->nodes[p]) && m->values[m->nodes[p].in[0]].q.set) {
            val->q = m->values[m->nodes[p].in[0]].q;
            continue;
        }
        float lo, hi;
        finish_stat(o, &st[v], &lo, &hi);
        val->q = act_params(o->act, lo, hi);
    }
    free(tail);
}

static int quantize_weights(axnn_node *n, ax_operand t)
{
    size_t per = (n->ic / n->groups) * n->kh * n->kw;
    free(n->wq.scale), free(n->wq.zp), free(n->wq.q), free(n->wq.bias_q);
    n->wq = (axnn_wq){.set = true, .type = t};
    n->wq.scale = malloc(n->oc * sizeof(float));
    n->wq.zp = malloc(n->oc * sizeof(int32_t));
    n->wq.q = malloc(n->oc * per);
    if (!n->wq.scale || !n->wq.zp || !n->wq.q) return -1;
    for (size_t o = 0; o < n->oc; o++) {
        const float *w = n->weight + o * per;
        float lo = 0.0f, hi = 0.0f;
        for (size_t i = 0; i < per; i++) lo = w[i] < lo ? w[i] : lo, hi = w[i] > hi ? w[i] : hi;
        axnn_qp q = {true, t, 1.0f, 0};
        if (t == AX_S8) q.scale = fmaxf(-lo, hi) > 0.0f ? fmaxf(-lo, hi) / 127.0f : 1.0f;
        else q = act_params(AX_U8, lo, hi);
        n->wq.scale[o] = q.scale, n->wq.zp[o] = q.zp;
        for (size_t i = 0; i < per; i++) n->wq.q[o * per + i] = axnn_quantize_one(&q, w[i]);
    }
    return 0;
}

static int calibrate(ax_nn_model *m, calib *c, size_t n, const float *images, ax_error *err)
{
    size_t in_sz = axnn_value_size(&m->values[m->input]), out_sz = axnn_value_size(&m->values[m->output]);
    float *out = malloc(CALIB_BATCH * out_sz * sizeof *out);
    if (!out) return ax_fail(err, "calibration: out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += CALIB_BATCH) {
        size_t b = n - i < CALIB_BATCH ? n - i : CALIB_BATCH;
        rc = axnn_execute(m, NULL, b, images + i * in_sz, out, 0, observe, c, err);
    }
    free(out);
    return rc;
}

static int record(ax_nn_model *m, const ax_nn_quant_options *o, size_t n)
{
    char buf[256];
    if (o->method == AX_CALIB_PERCENTILE) snprintf(buf, sizeof buf, "percentile:%g", o->percentile);
    else snprintf(buf, sizeof buf, "minmax");
    int rc = axnn_set_meta(m, "autoapprox.calibration.method", buf);
    snprintf(buf, sizeof buf, "%zu", n);
    rc |= axnn_set_meta(m, "autoapprox.calibration.images", buf);
    rc |= axnn_set_meta(m, "autoapprox.quant.act", ax_operand_name(o->act));
    rc |= axnn_set_meta(m, "autoapprox.quant.weights", ax_operand_name(o->wgt));
    return rc;
}

int ax_nn_quantize(ax_nn_model *m, const ax_nn_quant_options *o, size_t n, const float *images, ax_error *err)
{
    if (n == 0) return ax_fail(err, "calibration: no images");
    if (o->method == AX_CALIB_PERCENTILE && !(o->percentile > 50.0 && o->percentile <= 100.0))
        return ax_fail(err, "calibration: percentile %g outside (50, 100]", o->percentile);
    calib c = {o, calloc(m->n_values, sizeof(calib_stat)), false};
    if (!c.st) return ax_fail(err, "calibration: out of memory");
    int rc = 0;
    for (size_t v = 0; v < m->n_values && rc == 0; v++) {
        c.st[v].lo = INFINITY, c.st[v].hi = -INFINITY;
        size_t total = n * axnn_value_size(&m->values[v]);
        c.st[v].stride = total / CALIB_SAMPLES + 1;
        if (o->method == AX_CALIB_PERCENTILE && !(c.st[v].samples = malloc(CALIB_SAMPLES * sizeof(float))))
            rc = ax_fail(err, "calibration: out of memory");
    }
    if (rc == 0) rc = calibrate(m, &c, n, images, err);
    if (rc == 0) annotate(m, o, c.st);
    for (size_t i = 0; i < m->n_nodes && rc == 0; i++)
        if (axnn_is_layer(&m->nodes[i]) && quantize_weights(&m->nodes[i], o->wgt) != 0)
            rc = ax_fail(err, "quantization: out of memory");
    if (rc == 0 && record(m, o, n) != 0) rc = ax_fail(err, "quantization: out of memory");
    for (size_t v = 0; v < m->n_values; v++) free(c.st[v].samples);
    free(c.st);
    return rc;
}

int ax_nn_quantize_pixels(ax_nn_model *m, const ax_nn_quant_options *o, size_t n, const uint8_t *pixels,
                          ax_error *err)
{
    size_t sz = axnn_value_size(&m->values[m->input]);
    if (n && sz > SIZE_MAX / sizeof(float) / n) return ax_fail(err, "calibration: too many images");
    float *x = malloc((n ? n : 1) * sz * sizeof *x);
    if (!x) return ax_fail(err, "calibration: out of memory for %zu images", n);
    ax_nn_preprocess p;
    ax_nn_preprocess_get(m, &p);
    ax_nn_preprocess_apply(&p, pixels, n * sz, x);
    int rc = ax_nn_quantize(m, o, n, x, err);
    free(x);
    return rc;
}
