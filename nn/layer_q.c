/* layer_q.c - one quantized conv/FC layer on the kernels of gemm.h.
 *
 * Operands are mapped to the multiplier's types (a u8 tensor meeting an s8
 * operand: XOR 0x80 and zero point - 128; s8 meeting u8: XOR and + 128).
 * Only operand-by-operand products go through the table; the zero-point and
 * bias terms are exact int32 sums outside it:
 *   acc = sum T[a][w] - zw*sum a - za*sum w + K*za*zw + bias_q
 * unless the runtime gave the layer a folded table (axnn_fold: the XOR and
 * the zw*sum a term inside the table, the rest as before);
 * then q = saturate(zp_out + round_half_even((float)acc * s)),
 * s = (x_scale * w_scale[c]) / y_scale in float32, or the dequantized float
 * acc * x_scale * w_scale[c] when the output is not quantized (logits). */
#include "nn_internal.h"

#include "lut/ax_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

struct axnn_layer_rt {
    const axnn_node *n;
    const axnn_value *x, *y;
    const ax_gemm_plan *plan;
    ax_conv2d_shape shape;     /* batch: what cw was packed for */
    ax_conv2d_weights *cw;
    ax_packed_weights *pw;
    uint8_t a_xor;             /* 0 or 0x80; 0 on a folded table */
    bool folded;               /* the plan's table is axnn_fold_table's */
    ax_operand a_type, w_type; /* the multiplier's operand types */
    int32_t za;                /* activation zero point in that type */
    uint8_t pad_xor;           /* folded: the pad byte is za's byte ^ this */
    int32_t *zw, *corr;        /* per output channel */
    bool need_suma;
    float *s;                  /* requantization scale or dequantization scale */
    int32_t qlo, qhi;          /* output range (fused activation included) */
    bool fast;                 /* every |s| < 0.25: vectorized requantization */
    bool dense;                /* conv with groups == 1: batched GEMM on pw */
    double kernel_s;           /* wall time inside the kernels, last run */
    size_t K;
};

void axnn_layer_free(axnn_layer_rt *l)
{
    if (!l) return;
    ax_conv2d_weights_free(l->cw);
    ax_packed_weights_free(l->pw);

    free(l->zw), free(l->corr), free(l->s);
    free(l);
}

static int32_t shift_zp(ax_operand from, ax_operand to, int32_t zp)
{
    return from == to ? zp : from == AX_U8 ? zp - 128 : zp + 128;
}

bool axnn_layer_fold(const ax_nn_model *m, const axnn_node *n, const ax_mult *mult, axnn_fold *out)
{
    const axnn_value *x = &m->values[n->in[0]];
    if (!n->wq.set || !x->q.set || !n->oc) return false;
    int32_t zw = shift_zp(n->wq.type, mult->wgt, n->wq.zp[0]);
    for (size_t o = 1; o < n->oc; o++)
        if (shift_zp(n->wq.type, mult->wgt, n->wq.zp[o]) != zw) return false;
    *out = (axnn_fold){.a_xor = x->q.type == mult->act ? 0 : 0x80, .w_xor = n->wq.type == mult->wgt ? 0 : 0x80,
                       .zw = zw};
    return out->a_xor || zw;
}

ax_mult *axnn_fold_table(const ax_mult *mult, axnn_fold f)
{
    ax_mult *t = ax_mult_new();
    if (!t) return NULL;
    *t = *mult;
    if (f.a_xor) t->act = mult->act == AX_U8 ? AX_S8 : AX_U8;
    if (f.w_xor) t->wgt = mult->wgt == AX_U8 ? AX_S8 : AX_U8;
    for (unsigned x = 0; x < 256; x++) {
        unsigned a = x ^ f.a_xor;
        int64_t term = (int64_t)f.zw * ax_operand_value(mult->act, a);
        for (unsigned w = 0; w < 256; w++) {
            int64_t v = (int64_t)mult->table[a * 256 + (w ^ f.w_xor)] - term;
            if (v < INT32_MIN || v > INT32_MAX) {
                ax_mult_free(t);
                return NULL;
            }
            t->table[x * 256 + w] = (int32_t)v;
        }
    }
    return t;
}

bool axnn_layer_folded(const axnn_layer_rt *l)
{
    return l->folded;
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
    l->fast = true;
    for (size_t o = 0; o < n->oc; o++) {
        int64_t sumw = 0;
        for (size_t k = 0; k < l->K; k++) sumw += ax_operand_value(mult->wgt, wb[k * n->oc + o]);
        l->zw[o] = shift_zp(n->wq.type, mult->wgt, n->wq.zp[o]);
        l->need_suma |= l->zw[o] != 0;
        int64_t c = (int64_t)axnn_bias_q(n, xs, o) - (int64_t)l->za * sumw + (int64_t)l->K * l->za * l->zw[o];
        l->corr[o] = (int32_t)(uint32_t)(uint64_t)c;
        float ws = xs * n->wq.scale[o];
        l->s[o] = l->y->q.set ? ws / l->y->q.scale : ws;
        l->fast &= fabsf(l->s[o]) < 0.25f; /* false for NaN */
    }
}

/* What the accumulator holds besides the K products: the zero-point terms
 * and the bias. Declared to the kernels so that a K whose true sum could
 * leave int32 is refused (the modular sums are exact whenever it fits). */
static ax_acc_extra corrections(const axnn_layer_rt *l)
{
    int32_t zw = 0;
    int64_t bias = 0;
    float xs = l->x->q.scale;
    for (size_t o = 0; o < l->n->oc; o++) {
        int32_t a = l->zw[o] < 0 ? -l->zw[o] : l->zw[o];
        int64_t b = axnn_bias_q(l->n, xs, o);
        zw = a > zw ? a : zw;
        bias = (b < 0 ? -b : b) > bias ? (b < 0 ? -b : b) : bias;
    }
    if (!l->folded) return ax_acc_extra_zero_points(l->plan, l->za, zw, bias);
    /* the table holds -zw*a; -za*sum w + K*za*zw stay outside, w in the
     * multiplier's type (the plan's are the tensors'). F's entries lie
     * within |zw|*max|a| of T's, which the plain bound adds per k, so a
     * folded layer's K bound is never below its unfolded one. */
    int64_t za = l->za < 0 ? -(int64_t)l->za : l->za, wmax = l->w_type == AX_S8 ? 128 : 255;
    return (ax_acc_extra){.per_k = za * wmax + za * zw, .fixed = bias};
}

/* FC and dense convs: K x N GEMM weights (HWIO rows are the im2col
 * columns), batch-independent; grouped convs: ax_conv2d's form for one
 * image. Either way packed once, when the runtime is created. */
static int pack(axnn_layer_rt *l, const uint8_t *wb, ax_error *err)
{
    const axnn_node *n = l->n;
    ax_acc_extra extra = corrections(l);
    int rc;
    if (n->op == NN_GEMM) {
        rc = ax_gemm_pack_weights_ex(l->plan, l->K, n->oc, wb, n->oc, &extra, &l->pw, err);
    } else {
        ax_conv2d_shape *s = &l->shape;
        l->dense = n->groups == 1;
        *s = (ax_conv2d_shape){.batch = 1, .in_h = l->x->h, .in_w = l->x->w, .in_c = n->ic, .out_c = n->oc,
                               .kernel_h = n->kh, .kernel_w = n->kw, .stride_h = n->sh, .stride_w = n->sw,
                               .dilation_h = n->dh, .dilation_w = n->dw, .pad_top = n->pt, .pad_left = n->pl,
                               .pad_bottom = n->pb, .pad_right = n->pr, .groups = n->groups,
                               .pad_byte = (uint8_t)(l->za ^ l->pad_xor)};
        rc = l->dense ? ax_gemm_pack_weights_ex(l->plan, l->K, n->oc, wb, n->oc, &extra, &l->pw, err)
                      : ax_conv2d_pack_weights_ex(l->plan, s, wb, &extra, &l->cw, err);
    }
    if (rc != 0) { /* the kernels' message, with the layer's name in front */
        char why[AX_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return ax_fail(err, "layer '%s': %s", n->layer, why);
    }
    return 0;
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
                       const axnn_fold *fold, axnn_layer_rt **out, char *warning, ax_error *err)
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
    l->a_type = mult->act, l->w_type = mult->wgt;
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
    if (fold) { /* the kernels read both tensors as stored; no activation sums */
        l->folded = true;
        l->pad_xor = l->a_xor;
        l->a_xor = 0;
        l->need_suma = false;
        for (size_t i = 0; i < l->K * n->oc; i++) wb[i] ^= fold->w_xor;
    }
    output_range(l);
    int rc = pack(l, wb, err);
    free(wb);
    if (rc != 0) {
        axnn_layer_free(l);
        return -1;
    }
    warn_zero_points(l, mult, warning);
    *out = l;
    return 0;
}

static inline uint8_t requantize(const axnn_layer_rt *l, int32_t acc, size_t c)
{
    return axnn_saturate(axnn_round_half_even((float)acc * l->s[c]), l->y->q.zp, l->qlo, l->qhi);
}

/* Adds the exact corrections and writes one image's outputs. (Depthwise
 * layers with zero-point sums take axnn_requantize_dw in conv_images.) */
static void finish(const axnn_layer_rt *l, int32_t *acc, const int32_t *suma, size_t pixels, uint8_t *yq, float *yf)
{
    size_t oc = l->n->oc, groups = l->n->groups, og = oc / groups;
    if (yq && l->fast && (!suma || groups == 1)) {
        axnn_requant r = {.corr = l->corr, .zw = l->zw, .s = l->s, .zp = l->y->q.zp, .lo = l->qlo, .hi = l->qhi,
                          .oc = oc};
        axnn_requantize_fast(ax_gemm_plan_isa(l->plan), &r, acc, suma, pixels, yq);
        return;
    }
    for (size_t p = 0; p < pixels; p++)
        for (size_t c = 0; c < oc; c++) {
            uint32_t a = (uint32_t)acc[p * oc + c] + (uint32_t)l->corr[c];
            if (suma) a -= (uint32_t)l->zw[c] * (uint32_t)suma[p * groups + c / og];
            int32_t v = (int32_t)a;
            if (yq) yq[p * oc + c] = requantize(l, v, c);
            else yf[p * oc + c] = (float)v * l->s[c];
        }
    if (yf) axnn_float_act(l->n, yf, pixels * oc);
}

/* n consecutive images of a conv layer: input bytes mapped to the
 * multiplier's type, the convolution (weights packed once for batch 1, valid
 * for any batch), the zero-point sums and the requantized outputs. ws:
 * scratch for xa, acc and suma (conv_scratch_bytes per image). */
static int conv_images(const axnn_layer_rt *l, size_t n, const uint8_t *xq, uint8_t *yq, float *yf, uint8_t *ws,
                       int threads, double *kernel_s, ax_error *err)
{
    size_t xs = axnn_value_size(l->x), ys = axnn_value_size(l->y), pixels = l->y->h * l->y->w;
    size_t ss = l->need_suma ? pixels * l->n->groups : 0;
    int32_t *acc = (int32_t *)ws, *suma = l->need_suma ? acc + n * ys : NULL;
    const uint8_t *in = xq;
    if (l->a_xor) {
        uint8_t *xa = ws + n * (ys + ss) * sizeof(int32_t);
        for (size_t i = 0; i < n * xs; i++) xa[i] = xq[i] ^ l->a_xor;
        in = xa;
    }
    ax_conv2d_shape s = l->shape;
    s.batch = n;
    double t0 = axnn_now();
    if (ax_conv2d(l->plan, &s, in, l->cw, acc, false, threads, err) != 0) return -1;
    *kernel_s += axnn_now() - t0;
    size_t groups = l->n->groups;
    ax_isa isa = ax_gemm_plan_isa(l->plan);
    if (yq && suma && l->fast && groups == l->n->oc) { /* one output channel per group: depthwise */
        axnn_requant r = {.corr = l->corr, .zw = l->zw, .s = l->s, .zp = l->y->q.zp, .lo = l->qlo, .hi = l->qhi,
                          .oc = groups};
        for (size_t b = 0; b < n; b++)
            axnn_requantize_dw(isa, &r, &l->shape, 0, l->y->h, l->y->w, l->a_type, l->za, in + b * xs, acc + b * ys,
                               suma, yq + b * ys);
        return 0;
    }
    for (size_t b = 0; suma && b < n; b++)
        axnn_conv_suma(isa, &l->shape, l->y->h, l->y->w, l->a_type, l->za, in + b * xs, suma + b * ss);
    finish(l, acc, suma, n * pixels, yq, yf);
    return 0;
}

/* Depthwise layers whose kernel computes bands of output rows
 * (ax_conv2d_computes_bands): the whole batch in one ax_conv2d_bands call,
 * each band requantized while its int32 sums are in L2 (the same bits as
 * conv_images: the same kernel values, the same epilogue per pixel). */
typedef struct dw_bands {
    const axnn_layer_rt *l;
    axnn_requant r;
    ax_isa isa;
    const uint8_t *in;
    uint8_t *yq;
    int32_t *const *row; /* per thread: one pixel's zero-point sums */
} dw_bands;

static void dw_band(void *ctx, size_t b, size_t oy0, size_t rows, const int32_t *Y)
{
    const dw_bands *d = ctx;
    const axnn_layer_rt *l = d->l;
    size_t ow = l->y->w, oc = l->n->oc;
    uint8_t *y = d->yq + b * axnn_value_size(l->y) + oy0 * ow * oc;
    if (!l->need_suma) {
        axnn_requantize_fast(d->isa, &d->r, Y, NULL, rows * ow, y);
        return;
    }
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    axnn_requantize_dw(d->isa, &d->r, &l->shape, oy0, oy0 + rows, ow, l->a_type, l->za,
                       d->in + b * axnn_value_size(l->x), Y, d->row[t], y);
}

/* AX_NN_DW_BANDS=0 keeps such layers on conv_images (A/B runs) */
static bool dw_bands_wanted(void)
{
    const char *env = getenv("AX_NN_DW_BANDS");
    return !env || strcmp(env, "0") != 0;
}

static int run_dw_bands(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, int threads, axnn_scratch *sc,
                        ax_error *err)
{
    size_t oc = l->n->oc, row_bytes = (oc * sizeof(int32_t) + 63) / 64 * 64, xs = axnn_value_size(l->x);
    enum { MAX_SLOTS = 256 };
    int32_t *row[MAX_SLOTS];
    if (threads > MAX_SLOTS) threads = MAX_SLOTS;
    if (axnn_scratch_reserve(sc, (size_t)threads) != 0) return ax_fail(err, "layer '%s': out of memory", l->n->layer);
    uint8_t *ws0 = NULL;
    for (int t = 0; t < threads; t++) {
        uint8_t *ws = axnn_scratch_get(sc, (size_t)t, row_bytes + (t == 0 && l->a_xor ? batch * xs : 0));
        if (!ws) return ax_fail(err, "layer '%s': out of memory", l->n->layer);
        row[t] = (int32_t *)ws;
        if (t == 0) ws0 = ws;
    }
    const uint8_t *in = xq;
    if (l->a_xor) {
        uint8_t *xa = ws0 + row_bytes;
        for (size_t i = 0; i < batch * xs; i++) xa[i] = xq[i] ^ l->a_xor;
        in = xa;
    }
    dw_bands d = {.l = l,
                  .r = {.corr = l->corr, .zw = l->zw, .s = l->s, .zp = l->y->q.zp, .lo = l->qlo, .hi = l->qhi,
                        .oc = oc},
                  .isa = ax_gemm_plan_isa(l->plan),
                  .in = in,
                  .yq = yq,
                  .row = row};
    ax_conv2d_shape s = l->shape;
    s.batch = batch;
    double t0 = axnn_now();
    int rc = ax_conv2d_bands(l->plan, &s, in, l->cw, dw_band, &d, threads, err);
    l->kernel_s += axnn_now() - t0;
    return rc;
}

static size_t conv_scratch_bytes(const axnn_layer_rt *l)
{
    size_t ys = axnn_value_size(l->y), pixels = l->y->h * l->y->w;
    return (ys + (l->need_suma ? pixels * l->n->groups : 0)) * sizeof(int32_t) + (l->a_xor ? axnn_value_size(l->x) : 0);
}

/* Grouped (depthwise) convs: runs of consecutive images per ax_conv2d call,
 * as many as keep a run's scratch within GROUP_BYTES (the direct kernels
 * stack small images' planes: a 7x7 LUT depthwise layer ran image by image
 * at 0.4-0.5x its speed on 8 images, its runs of 49 pixels too short for
 * the byte planes' and row tables' set-up; large images stay one per call,
 * their int32 outputs in L2). Runs in parallel, one thread each, when there
 * are runs for every thread (every stage is per image and the kernels give
 * the same bits for any thread count and batch); else one run at a time
 * with the threads inside. oneDNN's convolutions stay image by image (their
 * primitives are cached per batch size). */
#define GROUP_BYTES ((size_t)2 << 20)
static int run_conv(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, float *yf, int threads,
                    axnn_scratch *sc, ax_error *err)
{
    double *kernel_s = &l->kernel_s;
    size_t xs = axnn_value_size(l->x), ys = axnn_value_size(l->y), bytes = conv_scratch_bytes(l);
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    if (threads < 1) threads = 1;
    if (yq && l->fast && l->n->groups == l->n->oc && ax_conv2d_computes_bands(l->cw) && dw_bands_wanted())
        return run_dw_bands(l, batch, xq, yq, threads, sc, err);
    bool across = threads > 1 && batch >= (size_t)threads;
    size_t per = bytes && GROUP_BYTES / bytes > 1 ? GROUP_BYTES / bytes : 1;
    if (strcmp(ax_conv2d_kernel_name(l->cw), "exact_conv__onednn") == 0) per = 1;
    if (per > batch) per = batch ? batch : 1;
    size_t runs = (batch + per - 1) / per;
    if (across) { /* a multiple of the threads' runs of equal size */
        runs = (runs + threads - 1) / threads * threads;
        per = (batch + runs - 1) / runs;
        runs = (batch + per - 1) / per;
        if (runs < (size_t)threads) per = 1, runs = batch;
    }
    int slots = across ? threads : 1;
    if (axnn_scratch_reserve(sc, (size_t)slots) != 0) return ax_fail(err, "layer '%s': out of memory", l->n->layer);
    if (!across) {
        uint8_t *ws = axnn_scratch_get(sc, 0, per * bytes);
        if (!ws) return ax_fail(err, "layer '%s': out of memory", l->n->layer);
        for (size_t b = 0; b < batch; b += per) {
            size_t n = batch - b < per ? batch - b : per;
            if (conv_images(l, n, xq + b * xs, yq ? yq + b * ys : NULL, yf ? yf + b * ys : NULL, ws, threads, kernel_s,
                            err) != 0)
                return -1;
        }
        return 0;
    }
    int failed = 0;
    ax_error first = {{0}};
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        ax_error e = {{0}};
        uint8_t *ws = axnn_scratch_get(sc, (size_t)t, per * bytes);
        int rc = ws ? 0 : ax_fail(&e, "layer '%s': out of memory", l->n->layer);
        double mine = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (size_t r = 0; r < runs; r++)
            if (rc == 0) {
                size_t b = r * per, n = batch - b < per ? batch - b : per;
                rc = conv_images(l, n, xq + b * xs, yq ? yq + b * ys : NULL, yf ? yf + b * ys : NULL, ws, 1, &mine, &e);
            }
#ifdef _OPENMP
#pragma omp atomic
#endif
        *kernel_s += mine / threads; /* the threads' average */
        if (rc != 0) {
#ifdef _OPENMP
#pragma omp critical(axnn_layer_error)
#endif
            if (!failed++) first = e;
        }
    }
    if (failed) {
        if (err) *err = first;
        return -1;
    }
    return 0;
}

static int run_fc(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, float *yf, int threads,
                  ax_error *err)
{
    size_t K = l->K, N = l->n->oc;
    uint8_t *xa = l->a_xor ? malloc(batch * K) : NULL;
    int32_t *acc = malloc(batch * N * sizeof *acc), *suma = l->need_suma ? malloc(batch * sizeof *suma) : NULL;
    int rc = -1;
    if (!acc || (l->a_xor && !xa) || (l->need_suma && !suma)) {
        ax_fail(err, "layer '%s': out of memory", l->n->layer);
        goto done;
    }
    for (size_t i = 0; xa && i < batch * K; i++) xa[i] = xq[i] ^ l->a_xor;
    const uint8_t *in = xa ? xa : xq;
    double t0 = axnn_now();
    if (ax_gemm(l->plan, batch, in, K, l->pw, acc, N, false, threads, err) != 0) goto done;
    l->kernel_s += axnn_now() - t0;
    for (size_t b = 0; suma && b < batch; b++) {
        int64_t s = 0;
        for (size_t k = 0; k < K; k++) s += ax_operand_value(l->a_type, in[b * K + k]);
        suma[b] = (int32_t)s;
    }
    finish(l, acc, suma, batch, yq, yf);
    rc = 0;
done:
    free(xa), free(acc), free(suma);
    return rc;
}

/* Dense convs as one GEMM over a chunk of rows (output pixels of the whole
 * batch) at a time: the kernels see many rows (a LUT kernel's 256-row panels
 * fill up) and thread over them; im2col and zero-point sums run threaded
 * over row blocks. Requantized to bytes (the usual case), the GEMM hands
 * its tiles over as they finish (ax_gemm_blocks) and they are requantized
 * while in cache: the layer's int32 outputs never go to memory, where
 * writing them and reading them back cost as much as a LOWRANK kernel
 * (MobileNetV2). Otherwise (float outputs, the general requantization) the
 * chunk's acc is kept, near CHUNK_BYTES (smaller chunks measured slower
 * here: more thread synchronization on a shared machine), and finished by
 * row blocks. A chunk's im2col rows stay near CHUNK_BYTES either way; 1x1
 * stride-1 unpadded convs read the input in place. Requantized to bytes
 * without zero-point row sums, there are no chunks: each GEMM tile makes
 * its own im2col rows (ax_gemm_blocks_rows), which then never go to
 * memory (ResNet-50: ~400 MB of rows per batch of 32, 2-4% of its time). */
#define CHUNK_BYTES ((size_t)16 << 20)
#define ROW_BLOCK 256
#define MIN_ROWS 2048 /* rows per GEMM call: enough 256-row panels for the threads */

/* ax_gemm_blocks' hand-over: a block of a chunk's outputs to bytes */
typedef struct dense_out {
    axnn_requant r;
    ax_isa isa;
    const int32_t *suma; /* per row of the chunk, or NULL */
    uint8_t *y;          /* the chunk's first output row */
} dense_out;

static void requantize_block(void *ctx, size_t m0, size_t rows, size_t n0, size_t cols, const int32_t *C, size_t ldc)
{
    const dense_out *d = ctx;
    axnn_requantize_block(d->isa, &d->r, n0, cols, C, ldc, d->suma ? d->suma + m0 : NULL, rows, d->y + m0 * d->r.oc,
                          d->r.oc);
}

/* ax_gemm_blocks_rows' rows: a dense conv's im2col rows, made by each
 * tile as it packs them */
typedef struct dense_rows {
    const ax_conv2d_shape *s;
    size_t oh, ow;
    const uint8_t *x;
    uint8_t xor_in;
    bool s8;
} dense_rows;

static void im2col_tile(void *ctx, size_t m0, size_t n, uint8_t *dst)
{
    const dense_rows *r = ctx;
    axnn_im2col_rows(r->s, r->oh, r->ow, r->x, m0, n, r->xor_in, dst, NULL, r->s8);
}

/* AX_NN_TILE_ROWS=0 keeps the im2col chunks (A/B runs) */
static bool tile_rows_wanted(void)
{
    const char *env = getenv("AX_NN_TILE_ROWS");
    return !env || strcmp(env, "0") != 0;
}

static int run_dense(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, float *yf, int threads,
                     axnn_scratch *sc, ax_error *err)
{
    const ax_conv2d_shape *s = &l->shape;
    size_t oh = l->y->h, ow = l->y->w, pixels = oh * ow, K = l->K, N = l->n->oc, C = s->in_c;
    bool in_place = s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 && !s->pad_top &&
                    !s->pad_left && !s->pad_bottom && !s->pad_right && !l->a_xor;
    bool s8 = l->a_type == AX_S8, blocks_out = yq && l->fast;
    size_t M = batch * pixels, chunk = blocks_out ? M : CHUNK_BYTES / (N * sizeof(int32_t));
    dense_out d = {.r = {.corr = l->corr, .zw = l->zw, .s = l->s, .zp = l->y->q.zp, .lo = l->qlo, .hi = l->qhi,
                         .oc = N},
                   .isa = ax_gemm_plan_isa(l->plan), .y = yq};
    if (blocks_out && !in_place && !l->need_suma && tile_rows_wanted()) {
        /* no chunks: each tile makes its im2col rows in L1 or L2, so they
         * never go to memory (the kernel's time includes them here) */
        dense_rows rows = {.s = s, .oh = oh, .ow = ow, .x = xq, .xor_in = l->a_xor, .s8 = s8};
        double t0 = axnn_now();
        int rc = ax_gemm_blocks_rows(l->plan, M, im2col_tile, &rows, l->pw, requantize_block, &d, threads, err);
        l->kernel_s += axnn_now() - t0;
        return rc;
    }
    if (!in_place && CHUNK_BYTES / K < chunk) chunk = CHUNK_BYTES / K;
    if (chunk < M) chunk = chunk < MIN_ROWS ? MIN_ROWS : chunk / ROW_BLOCK * ROW_BLOCK; /* (whole row blocks) */
    if (chunk > M) chunk = M;
    size_t rows_max = chunk, acc_n = blocks_out ? 0 : N;
    size_t bytes = rows_max * (acc_n + (l->need_suma ? 1 : 0)) * sizeof(int32_t) + (in_place ? 0 : rows_max * K);
    uint8_t *ws = axnn_scratch_reserve(sc, 1) == 0 ? axnn_scratch_get(sc, 0, bytes ? bytes : 1) : NULL;
    if (!ws) return ax_fail(err, "layer '%s': out of memory", l->n->layer);
    int32_t *acc = (int32_t *)ws, *suma = l->need_suma ? acc + rows_max * acc_n : NULL;
    uint8_t *abuf = ws + rows_max * (acc_n + (suma ? 1 : 0)) * sizeof(int32_t);
    d.suma = suma;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    if (threads < 1) threads = 1;
    for (size_t r0 = 0; r0 < M; r0 += chunk) {
        size_t nr = M - r0 < chunk ? M - r0 : chunk;
        size_t blocks = (nr + ROW_BLOCK - 1) / ROW_BLOCK;
        const uint8_t *A = in_place ? xq + r0 * C : abuf;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && blocks > 1)
#endif
        for (size_t i = 0; i < blocks; i++) {
            size_t rb = i * ROW_BLOCK, n = nr - rb < ROW_BLOCK ? nr - rb : ROW_BLOCK;
            if (!in_place)
                axnn_im2col_rows(s, oh, ow, xq, r0 + rb, n, l->a_xor, abuf + rb * K, suma ? suma + rb : NULL, s8);
            else if (suma)
                axnn_row_sums(A + rb * C, C, K, n, suma + rb, s8);
        }
        double t0 = axnn_now();
        if (blocks_out) { /* the kernel's time includes the requantization here */
            d.y = yq + r0 * N;
            if (ax_gemm_blocks(l->plan, nr, A, in_place ? C : K, l->pw, requantize_block, &d, threads, err) != 0)
                return -1;
            l->kernel_s += axnn_now() - t0;
            continue;
        }
        if (ax_gemm(l->plan, nr, A, in_place ? C : K, l->pw, acc, N, false, threads, err) != 0) return -1;
        l->kernel_s += axnn_now() - t0;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && blocks > 1)
#endif
        for (size_t i = 0; i < blocks; i++) {
            size_t rb = i * ROW_BLOCK, n = nr - rb < ROW_BLOCK ? nr - rb : ROW_BLOCK;
            finish(l, acc + rb * N, suma ? suma + rb : NULL, n, yq ? yq + (r0 + rb) * N : NULL,
                   yf ? yf + (r0 + rb) * N : NULL);
        }
    }
    return 0;
}

int axnn_layer_run(axnn_layer_rt *l, size_t batch, const uint8_t *xq, uint8_t *yq, float *yf, int threads,
                   axnn_scratch *sc, ax_error *err)
{
    l->kernel_s = 0;
    if (l->n->op == NN_GEMM) return run_fc(l, batch, xq, yq, yf, threads, err);
    if (l->dense) return run_dense(l, batch, xq, yq, yf, threads, sc, err);
    return run_conv(l, batch, xq, yq, yf, threads, sc, err);
}

double axnn_layer_kernel_seconds(const axnn_layer_rt *l)
{
    return l->kernel_s;
}

const char *axnn_layer_kernel_name(const axnn_layer_rt *l)
{
    return l->cw ? ax_conv2d_kernel_name(l->cw) : ax_gemm_plan_kernel_name(l->plan);
}

/* ---- scratch kept by a runtime between runs ---- */
int axnn_scratch_reserve(axnn_scratch *s, size_t slots)
{
    if (slots <= s->n) return 0;
    void **p = realloc(s->p, slots * sizeof *p);
    if (!p) return -1;
    s->p = p;
    size_t *cap = realloc(s->cap, slots * sizeof *cap);
    if (!cap) return -1;
    s->cap = cap;
    for (size_t i = s->n; i < slots; i++) s->p[i] = NULL, s->cap[i] = 0;
    s->n = slots;
    return 0;
}

void *axnn_scratch_get(axnn_scratch *s, size_t slot, size_t bytes)
{
    if (slot >= s->n) return NULL;
    if (s->cap[slot] >= bytes && s->p[slot]) return s->p[slot];
    axnn_big_free(s->p[slot], s->cap[slot]);
    s->p[slot] = NULL, s->cap[slot] = 0;
    if (!(s->p[slot] = axnn_big_alloc(bytes))) return NULL;
    s->cap[slot] = bytes;
    return s->p[slot];
}

void axnn_scratch_free(axnn_scratch *s)
{
    for (size_t i = 0; i < s->n; i++) axnn_big_free(s->p[i], s->cap[i]);
    free(s->p), free(s->cap);
    memset(s, 0, sizeof *s);
}
