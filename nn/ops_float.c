/* ops_float.c - the float reference of every op, on NHWC batches: what
 * calibration runs and what the quantized ops are tested against. Plain
 * loops, written to be obviously right; the convolution alone is made fast
 * enough for calibrating ImageNet networks without changing a single bit:
 * every output keeps its own summation order, vector lanes run over output
 * channels, threads over output rows, and -ffp-contract=off forbids FMA. */
#include "nn_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Weights [oc][cg][kh][kw] -> [kh][kw][cg][oc], so that the innermost loop
 * runs over contiguous output channels. */
static float *hwio(const axnn_node *n)
{
    size_t cg = n->ic / n->groups, K = n->kh * n->kw * cg;
    float *w = malloc(K * n->oc * sizeof *w);
    if (!w) return NULL;
    for (size_t o = 0; o < n->oc; o++)
        for (size_t i = 0; i < cg; i++)
            for (size_t k = 0; k < n->kh * n->kw; k++) w[(k * cg + i) * n->oc + o] = n->weight[(o * cg + i) * n->kh * n->kw + k];
    return w;
}

/* One output pixel: all channels at once. Cloned per ISA: wider lanes over
 * output channels leave each channel's arithmetic unchanged. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void conv_pixel(const axnn_node *n, const axnn_value *x, const float *img, const float *w, size_t oy, size_t ox,
                       float *out)
{
    size_t cg = n->ic / n->groups, og = n->oc / n->groups;
    for (size_t o = 0; o < n->oc; o++) out[o] = n->bias ? n->bias[o] : 0.0f;
    for (size_t ky = 0; ky < n->kh; ky++) {
        long iy = (long)(oy * n->sh + ky * n->dh) - (long)n->pt;
        if (iy < 0 || iy >= (long)x->h) continue;
        for (size_t kx = 0; kx < n->kw; kx++) {
            long ix = (long)(ox * n->sw + kx * n->dw) - (long)n->pl;
            if (ix < 0 || ix >= (long)x->w) continue;
            const float *px = img + ((size_t)iy * x->w + (size_t)ix) * x->c;
            const float *wk = w + (ky * n->kw + kx) * cg * n->oc;
            for (size_t g = 0; g < n->groups; g++)
                for (size_t i = 0; i < cg; i++) {
                    float v = px[g * cg + i];
                    const float *wr = wk + i * n->oc + g * og;
                    float *o = out + g * og;
                    for (size_t j = 0; j < og; j++) o[j] += v * wr[j];
                }
        }
    }
}

int axnn_float_conv(const axnn_node *n, const axnn_value *x, const axnn_value *y, size_t batch, const float *in,
                    float *out)
{
    float *w = hwio(n);
    if (!w) return -1;
    size_t rows = batch * y->h;
#pragma omp parallel for schedule(dynamic, 1) if (rows * y->w * n->oc > 65536)
    for (size_t r = 0; r < rows; r++) {
        size_t b = r / y->h, oy = r % y->h;
        const float *img = in + b * axnn_value_size(x);
        float *o = out + b * axnn_value_size(y) + oy * y->w * y->c;
        for (size_t ox = 0; ox < y->w; ox++, o += y->c) conv_pixel(n, x, img, w, oy, ox, o);
    }
    free(w);
    axnn_float_act(n, out, batch * axnn_value_size(y));
    return 0;
}

void axnn_float_gemm(const axnn_node *n, size_t batch, const float *in, float *out)
{
    for (size_t b = 0; b < batch; b++)
        for (size_t o = 0; o < n->oc; o++) {
            float acc = n->bias ? n->bias[o] : 0.0f;
            const float *w = n->weight + o * n->ic, *x = in + b * n->ic;
            for (size_t k = 0; k < n->ic; k++) acc += x[k] * w[k];
            out[b * n->oc + o] = acc;
        }
    axnn_float_act(n, out, batch * n->oc);
}

void axnn_float_act(const axnn_node *n, float *y, size_t count)
{
    bool relu = n->act == NN_ACT_RELU || n->op == NN_RELU;
    bool clip = n->act == NN_ACT_CLIP || n->op == NN_CLIP;
    for (size_t i = 0; i < count; i++) {
        if (relu && y[i] < 0.0f) y[i] = 0.0f;
        if (clip) y[i] = y[i] < n->lo ? n->lo : y[i] > n->hi ? n->hi : y[i];
    }
}

static float pool_at(const axnn_node *n, const axnn_value *x, const float *img, size_t oy, size_t ox, size_t c)
{
    bool maxp = n->op == NN_MAXPOOL;
    float acc = maxp ? -FLT_MAX : 0.0f;
    size_t count = 0, padded = 0;
    for (size_t ky = 0; ky < n->kh; ky++) {
        long iy = (long)(oy * n->sh + ky) - (long)n->pt;
        for (size_t kx = 0; kx < n->kw; kx++) {
            long ix = (long)(ox * n->sw + kx) - (long)n->pl;
            bool in_pad = iy < (long)(x->h + n->pb) && ix < (long)(x->w + n->pr);
            padded += in_pad;
            if (iy < 0 || ix < 0 || iy >= (long)x->h || ix >= (long)x->w) continue;
            float v = img[((size_t)iy * x->w + (size_t)ix) * x->c + c];
            acc = maxp ? (v > acc ? v : acc) : acc + v;
            count++;
        }
    }
    if (maxp) return acc;
    size_t div = n->count_include_pad ? padded : count;
    return div ? acc / (float)div : 0.0f;
}

void axnn_float_pool(const axnn_node *n, const axnn_value *x, const axnn_value *y, size_t batch, const float *in, float *out)
{
    for (size_t b = 0; b < batch; b++) {
        const float *img = in + b * axnn_value_size(x);
        float *o = out + b * axnn_value_size(y);
        for (size_t oy = 0; oy < y->h; oy++)
            for (size_t ox = 0; ox < y->w; ox++)
                for (size_t c = 0; c < y->c; c++) *o++ = pool_at(n, x, img, oy, ox, c);
    }
}

/* Pixels outer, channels inner: contiguous loads that vectorize, each
 * channel's sum still taken in pixel order (the same float bits as a
 * per-channel loop; that one strided through NHWC and took 1.6% of a
 * quantized MobileNetV2 run). */
void axnn_float_gap(const axnn_value *x, size_t batch, const float *in, float *out)
{
    size_t hw = x->h * x->w, C = x->c;
    for (size_t b = 0; b < batch; b++) {
        float *o = out + b * C;
        const float *img = in + b * hw * C;
        for (size_t c = 0; c < C; c++) o[c] = 0.0f;
        for (size_t p = 0; p < hw; p++)
            for (size_t c = 0; c < C; c++) o[c] += img[p * C + c];
        for (size_t c = 0; c < C; c++) o[c] /= (float)hw;
    }
}

/* NHWC to the NCHW order ONNX flattens in. */
void axnn_float_flatten(const axnn_value *x, size_t batch, const float *in, float *out)
{
    size_t hw = x->h * x->w, sz = axnn_value_size(x);
    for (size_t b = 0; b < batch; b++)
        for (size_t p = 0; p < hw; p++)
            for (size_t c = 0; c < x->c; c++) out[b * sz + c * hw + p] = in[b * sz + p * x->c + c];
}

void axnn_float_affine(const axnn_node *n, const axnn_value *x, size_t batch, const float *in, float *out)
{
    size_t total = batch * axnn_value_size(x);
    for (size_t i = 0; i < total; i++) {
        size_t c = n->cn == 1 ? 0 : i % x->c;
        out[i] = in[i] * (n->cscale ? n->cscale[c] : 1.0f) + (n->cbias ? n->cbias[c] : 0.0f);
    }
}

void axnn_float_softmax(const axnn_value *x, size_t batch, const float *in, float *out)
{
    size_t n = axnn_value_size(x);
    for (size_t b = 0; b < batch; b++) {
        const float *v = in + b * n;
        float *o = out + b * n, mx = -FLT_MAX, sum = 0.0f;
        for (size_t i = 0; i < n; i++) mx = v[i] > mx ? v[i] : mx;
        for (size_t i = 0; i < n; i++) sum += o[i] = expf(v[i] - mx);
        for (size_t i = 0; i < n; i++) o[i] /= sum;
    }
}

/* ---- the same two shape ops on quantized bytes ---- */
void axnn_bytes_flatten(const axnn_value *x, size_t batch, const uint8_t *in, uint8_t *out)
{
    size_t hw = x->h * x->w, sz = axnn_value_size(x);
    for (size_t b = 0; b < batch; b++)
        for (size_t p = 0; p < hw; p++)
            for (size_t c = 0; c < x->c; c++) out[b * sz + c * hw + p] = in[b * sz + p * x->c + c];
}

/* Max of raw bytes in the order of the type: s8 bytes compare as unsigned
 * once bit 7 is flipped. A window with no tap inside the input gives 0 (the
 * float path's choice). Vectorized over channels, threaded over images. */
void axnn_bytes_maxpool(const axnn_node *n, const axnn_value *x, const axnn_value *y, size_t batch, const uint8_t *in,
                        uint8_t *out, int threads)
{
    const uint8_t flip = x->q.type == AX_S8 ? 0x80 : 0;
    const size_t C = y->c;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && batch > 1)
#endif
    for (size_t b = 0; b < batch; b++) {
        const uint8_t *img = in + b * axnn_value_size(x);
        uint8_t *o = out + b * axnn_value_size(y);
        for (size_t oy = 0; oy < y->h; oy++)
            for (size_t ox = 0; ox < y->w; ox++, o += C) {
                bool any = false;
                memset(o, 0, C);
                for (size_t ky = 0; ky < n->kh; ky++) {
                    long iy = (long)(oy * n->sh + ky) - (long)n->pt;
                    for (size_t kx = 0; kx < n->kw; kx++) {
                        long ix = (long)(ox * n->sw + kx) - (long)n->pl;
                        if (iy < 0 || ix < 0 || iy >= (long)x->h || ix >= (long)x->w) continue;
                        const uint8_t *restrict p = img + ((size_t)iy * x->w + (size_t)ix) * x->c;
                        uint8_t *restrict q = o;
                        for (size_t c = 0; c < C; c++) {
                            uint8_t v = p[c] ^ flip;
                            q[c] = v > q[c] ? v : q[c];
                        }
                        any = true;
                    }
                }
                for (size_t c = 0; c < C; c++) o[c] = any ? o[c] ^ flip : 0;
            }
    }
}
