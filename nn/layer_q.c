/* layer_q.c - one quantized conv/FC layer on the kernels of gemm.h.
 *
 * Operands are mapped to the multiplier's types (a u8 tensor meeting an s8
 * operand: XOR 0x80 and zero point - 128; s8 meeting u8: XOR and + 128).
 * Only operand-by-operand products go through the table; the zero-point and
 * bias terms are exact int32 sums outside it:
 *   acc = sum T[a][w] - zw*sum a - za*sum w + K*za*zw + bias_q
 * then q = saturate(zp_out + round_half_even((float)acc * s)),
 * s = (x_scale * w_scale[c]) / y_scale in float32, or the dequantized float
 * acc * x_scale * w_scale[c] when the output is not quantized (logits). */
#include "nn_internal.h"

#include "lut/ax_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct axnn_layer_rt {
    const axnn_node *n;
    const axnn_value *x, *y;
    const ax_gemm_plan *plan;
    ax_conv2d_shape shape;     /* batch: what cw was packed for */
    ax_conv2d_weights *cw;
    uint8_t *wb;               /* weights in the kernel's layout, for repacking */
    ax_packed_weights *pw;
    uint8_t a_xor;             /* 0 or 0x80 */
    ax_operand a_type;         /* the multiplier's activation type */
    int32_t za;                /* activation zero point in that type */
    int32_t *zw, *corr;        /* per output channel */
    bool need_suma;
    float *s;                  /* requantization scale or dequantization scale */
    int32_t qlo, qhi;          /* output range (fused activation included) */
    size_t K;
};

void axnn_layer_free(axnn_layer_rt *l)
{
    if (!l) return;
    ax_conv2d_weights_free(l->cw);
    ax_packed_weights_free(l->pw);
    free(l->wb);
    free(l->zw), free(l->corr), free(l->s);
    free(l);
}

static int32_t shift_zp(ax_operand from, ax_operand to, int32_t zp)
{
    return from == to ? zp : from == AX_U8 ? zp - 128 : zp + 128;
}

/* Weights in the multiplier's byte domain, laid out as the kernel wants:
 * conv HWIO [kh][kw][cg][oc], FC [K][N]. */
static uint8_t *kernel_weights(const axnn_node *n, uint8_t xor_w)
{
    size_t cg = n->ic / n->groups, K = n->kh * n->kw * cg;
    uint8_t *b = malloc(K * n->oc);
    if (!b) return NULL;
    for (size_t o = 0; o < n->oc; o++)
        for (size_t i = 0; i < cg; i++)
            for (size_t ky = 0; ky < n->kh; ky++)
                for (size_t kx = 0; kx < n->kw; kx++) {
                    uint8_t q = n->wq.q[((o * cg + i) * n->kh + ky) * n->kw + kx];
                    b[((ky * n->kw + kx) * cg + i) * n->oc + o] = q ^ xor_w;
                }
    return b;
}

/* zw, corr and scales per output channel; wb in the multiplier's domain. */
static void channel_terms(axnn_layer_rt *l, const ax_mult *mult, const uint8_t *wb)
{
    const axnn_node *n = l->n;
    float xs = l->x->q.scale;
    for (size_t o = 0; o < n->oc; o++) {
        int64_t sumw = 0;
        for (size_t k = 0; k < l->K; k++) sumw += ax_operand_value(mult->wgt, wb[k * n->oc + o]);
        l->zw[o] = shift_zp(n->wq.type, mult->wgt, n->wq.zp[o]);
        l->need_suma |= l->zw[o] != 0;
        int64_t c = (int64_t)axnn_bias_q(n, xs, o) - (int64_t)l->za * sumw + (int64_t)l->K * l->za * l->zw[o];
        l->corr[o] = (int32_t)(uint32_t)(uint64_t)c;
        float ws = xs * n->wq.scale[o];
        l->s[o] = l->y->q.set ? ws / l->y->q.scale : ws;
    }
}

static int pack(axnn_layer_rt *l, const uint8_t *wb, ax_error *err)
{
    const axnn_node *n = l->n;
    if (n->op == NN_GEMM) return ax_gemm_pack_weights(l->plan, l->K, n->oc, wb, n->oc, &l->pw, err);
    ax_conv2d_shape *s = &l->shape;
    *s = (ax_conv2d_shape){.batch = 1, .in_h = l->x->h, .in_w = l->x->w, .in_c = n->ic, .out_c = n->oc,
                           .kernel_h = n->kh, .kernel_w = n->kw, .stride_h = n->sh, .stride_w = n->sw,
                           .dilation_h = n->dh, .dilation_w = n->dw, .pad_top = n->pt, .pad_left = n->pl,
                           .pad_bottom = n->pb, .pad_right = n->pr, .groups = n->groups,
                           .pad_byte = (uint8_t)l->za};
    return ax_conv2d_pack_weights(l->plan, s, wb, &l->cw, err);
}

/* The output's integer range, narrowed by a fused ReLU or Clip. */
static void output_range(axnn_layer_rt *l)
{
    const axnn_qp *q = &l->y->q;
    l->qlo = axnn_qmin(q->type), l->qhi = axnn_qmax(q->type);
    if (!q->set) return;
    if (l->n->act == NN_ACT_RELU && q->zp > l->qlo) l->qlo = q->zp;
    if (l->n->act == NN_ACT_CLIP) {
        int32_t a = ax_operand_value(q->type, axnn_quantize_one(q, l->n->lo));
        int32_t b = ax_operand_value(q->type, axnn_quantize_one(q, l->n->hi));
        l->qlo = a > l->qlo ? a : l->qlo, l->qhi = b < l->qhi ? b : l->qhi;
    }
}

static void warn_zero_points(const axnn_layer_rt *l, const ax_mult *mult, char *warning)
{
    bool zw = false;
    for (size_t o = 0; o < l->n->oc; o++) zw |= l->zw[o] != 0;
    if (ax_mult_is_exact(mult) || (!l->za && !zw)) return;
    snprintf(warning, AX_ERROR_MAX,
             "layer '%s': approximate multiplier %s sees a non-zero zero point (activation %d%s): "
             "it multiplies shifted operands and accuracy usually collapses",
             l->n->layer, mult->name, (int)l->za, zw ? ", weights non-zero" : "");
}

int axnn_layer_prepare(const ax_nn_model *m, const axnn_node *n, const ax_mult *mult, const ax_gemm_plan *plan,
                     axnn_layer_rt **out, char *warning, ax_error *err)
{
    *out = NULL;
    warning[0] = 0;
    const axnn_value *x = &m->values[n->in[0]];
    if (!n->wq.set || !x->q.set)
        return ax_fail(err, "layer '%s': not quantized (input or weights lack quantization parameters)", n->layer);
    axnn_layer_rt *l = calloc(1, sizeof *l);
    if (!l) return ax_fail(err, "layer '%s': out of memory", n->layer);
    l->n = n, l->x = x, l->y = &m->values[n->out], l->plan = plan;
    l->K = n->kh * n->kw * (n->ic / n->groups);
    l->a_type = mult->act;
    l->a_xor = x->q.type == mult->act ? 0 : 0x80;
    l->za = shift_zp(x->q.type, mult->act, x->q.zp);
    l->zw = malloc(n->oc * sizeof *l->zw);
    l->corr = malloc(n->oc * sizeof *l->corr);
    l->s = malloc(n->oc * sizeof *l->s);
    uint8_t *wb = kernel_weights(n, n->wq.type == mult->wgt ? 0 : 0x80);
    if (!l->zw || !l->corr || !l->s || !wb) {
        free(wb), axnn_layer_free(l);
        return ax_fail(err, "layer '%s': out of memory", n->layer);
    }
    channel_terms(l, mult, wb);
    output_range(l);
    l->wb = wb;
    int rc = pack(l, wb, err);
    if (rc != 0) {
        axnn_layer_free(l);
        return -1;
    }
    warn_zero_points(l, mult, warning);
    *out = l;
    return 0;
}

/* sum of activation values over each output's receptive field, per group;
 * padding reads za. suma: [pixels][groups]. */
static void conv_suma(const axnn_layer_rt *l, const uint8_t *xa, int32_t *suma)
{
    const ax_conv2d_shape *s = &l->shape;
    const axnn_value *y = l->y;
    size_t cg = s->in_c / s->groups;
    for (size_t oy = 0; oy < y->h; oy++)
        for (size_t ox = 0; ox < y->w; ox++)
            for (size_t g = 0; g < s->groups; g++) {
                int64_t acc = 0;
                for (size_t ky = 0; ky < s->kernel_h; ky++)
                    for (size_t kx = 0; kx < s->kernel_w; kx++) {
                        long iy = (long)(oy * s->stride_h + ky * s->dilation_h) - (long)s->pad_top;
                        long ix = (long)(ox * s->stride_w + kx * s->dilation_w) - (long)s->pad_left;
                        if (iy < 0 || ix < 0 || iy >= (long)s->in_h || ix >= (long)s->in_w) {
                            acc += (int64_t)l->za * (int64_t)cg;
                            continue;
                        }
                        const uint8_t *p = xa + ((size_t)iy * s->in_w + (size_t)ix) * s->in_c + g * cg;
                        for (size_t i = 0; i < cg; i++) acc += ax_operand_value(l->a_type, p[i]);
                    }
                suma[(oy * y->w + ox) * s->groups + g] = (int32_t)acc;
            }
}

static inline uint8_t requantize(const axnn_layer_rt *l, int32_t acc, size_t c)
{
    return axnn_saturate(axnn_round_half_even((float)acc * l->s[c]), l->y->q.zp, l->qlo, l->qhi);
}

/* Adds the exact corrections and writes one image's outputs. */
static void finish(const axnn_layer_rt *l, int32_t *acc, const int32_t *suma, size_t pixels, uint8_t *yq, float *yf)
{
    size_t oc = l->n->oc, og = oc / l->n->groups;
    for (size_t p = 0; p < pixels; p++)
        for (size_t c = 0; c < oc; c++) {
            uint32_t a = (uint32_t)acc[p * oc + c] + (uint32_t)l->corr[c];
            if (suma) a -= (uint32_t)l->zw[c] * (uint32_t)suma[p * l->n->groups + c / og];
            int32_t v = (int32_t)a;
            if (yq) yq[p * oc + c] = requantize(l, v, c);
            else yf[p * oc + c] = (float)v * l->s[c];
        }
    if (yf) axnn_float_act(l->n, yf, pixels * oc);
}

/* Conv weights are packed for a batch size: repacked when it changes. */
static int run_conv(axnn_layer_rt *l, size_t batch, const uint8_t *xa, int32_t *acc, int32_t *suma, int threads,
                    ax_error *err)
{
    if (l->shape.batch != batch) {
        ax_conv2d_weights_free(l->cw);
        l->cw = NULL;
        l->shape.batch = batch;
        if (ax_conv2d_pack_weights(l->plan, &l->shape, l->wb, &l->cw, err) != 0) return -1;
    }
    if (ax_conv2d(l->plan, &l->shape, xa, l->cw, acc, false, threads, err) != 0) return -1;
    size_t xs = axnn_value_size(l->x), per = l->y->h * l->y->w * l->n->groups;
    for (size_t b = 0; suma && b < batch; b++) conv_suma(l, xa + b * xs, suma + b * per);
    return 0;
}

static int run_fc(const axnn_layer_rt *l, size_t batch, const uint8_t *xa, int32_t *acc, int32_t *suma, int threads,
                  ax_error *err)
{
    if (ax_gemm(l->plan, batch, xa, l->K, l->pw, acc, l->n->oc, false, threads, err) != 0) return -1;
    for (size_t b = 0; suma && b < batch; b++) {
        int64_t s = 0;
        for (size_t k = 0; k < l->K; k++) s += ax_operand_value(l->a_type, xa[b * l->K + k]);
        suma[b] = (int32_t)s;
    }
    return 0;
}

int axnn_layer_run(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, float *yf, int threads,
                 ax_error *err)
{
    size_t xs = axnn_value_size(l->x), ys = axnn_value_size(l->y), pixels = l->y->h * l->y->w;
    uint8_t *xa = NULL;
    int32_t *acc = malloc(batch * ys * sizeof *acc);
    int32_t *suma = l->need_suma ? malloc(batch * pixels * l->n->groups * sizeof *suma) : NULL;
    if (l->a_xor) {
        xa = malloc(batch * xs);
        if (xa)
            for (size_t i = 0; i < batch * xs; i++) xa[i] = xq[i] ^ l->a_xor;
    }
    int rc = -1;
    if (!acc || (l->need_suma && !suma) || (l->a_xor && !xa)) {
        ax_fail(err, "layer '%s': out of memory", l->n->layer);
        goto done;
    }
    const uint8_t *in = xa ? xa : xq;
    if (l->n->op == NN_GEMM) {
        if (run_fc(l, batch, in, acc, suma, threads, err) != 0) goto done;
    } else if (run_conv(l, batch, in, acc, suma, threads, err) != 0) {
        goto done;
    }
    finish(l, acc, suma, batch * pixels, yq, yf);
    rc = 0;
done:
    free(xa), free(acc), free(suma);
    return rc;
}
