/* build.c - built-in networks without an ONNX file: torchvision's ResNet-50
 * (v1.5, the stride on the 3x3 conv of a bottleneck) and MobileNetV2 (width
 * 1.0) as the real graphs (bottlenecks with residual Adds, inverted residuals
 * with depthwise convs), already quantized, with fixed pseudo-random int8
 * weights from a seed. For benchmarks and tests of the runtime: same layers,
 * same MACs, same ops between layers as the exported models, no accuracy.
 *
 * Weights are drawn so that a layer keeps the spread of its input (He-style
 * gain after ReLU, half gain on the last conv of a residual branch, as BN
 * would keep it); then the model is quantized as `autoapprox quantize` does
 * by default (min-max over one pseudo-random image, symmetric s8
 * activations, per-channel symmetric s8 weights), so scales are plausible. */
#include "nn_internal.h"

#include "lut/ax_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACT_SCALE (1.0f / 32.0f) /* before calibration */

typedef struct bld {
    ax_nn_model *m;
    uint64_t rng;
    const char *net;
    ax_error *err;
    float linear_gain; /* of layers without activation: 0.5 on residual branches */
} bld;

static uint64_t next(bld *b)
{
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float uniform(bld *b) /* [0, 1) */
{
    return (float)(next(b) >> 40) / (float)(1u << 24);
}

static int oom(bld *b)
{
    return ax_fail(b->err, "%s: out of memory while building the network", b->net);
}

/* A new activation value, quantized s8 with the given scale. */
static int value(bld *b, const char *name, int rank, size_t c, size_t h, size_t w, float scale)
{
    int v = axnn_add_value(b->m, name, rank, c, h, w);
    if (v < 0) return -1;
    b->m->values[v].q = (axnn_qp){true, AX_S8, scale, 0};
    return v;
}

static axnn_node *node(bld *b, axnn_op op, const char *name, const char *onnx_op, int x)
{
    axnn_node *n = axnn_add_node(b->m, op, name, onnx_op);
    if (!n) return NULL;
    n->in[0] = x, n->n_in = 1;
    return n;
}

static int finish_node(bld *b, axnn_node *n, int rank, size_t c, size_t h, size_t w, float scale, bool quantized)
{
    char name[160];
    snprintf(name, sizeof name, "%s_out", n->name);
    int v = quantized ? value(b, name, rank, c, h, w, scale) : axnn_add_value(b->m, name, rank, c, h, w);
    if (v < 0) return -1;
    n = &b->m->nodes[b->m->n_nodes - 1];
    n->out = v;
    b->m->values[v].producer = (int)(b->m->n_nodes - 1);
    return v;
}

/* Per-channel s8 weights in [-127, 127], scale gain * sqrt(3) / (127 sqrt(K))
 * jittered by +-25 % per channel, a small random int32 bias, and the float
 * weights and bias they stand for (the float reference runs them too). */
static int weights(bld *b, axnn_node *n, float x_scale, float gain)
{
    size_t per = (n->ic / n->groups) * n->kh * n->kw, total = per * n->oc;
    n->wq = (axnn_wq){.set = true, .type = AX_S8};
    n->wq.scale = malloc(n->oc * sizeof(float));
    n->wq.zp = calloc(n->oc, sizeof(int32_t));
    n->wq.q = malloc(total);
    n->wq.bias_q = malloc(n->oc * sizeof(int32_t));
    n->weight = malloc(total * sizeof(float));
    n->bias = malloc(n->oc * sizeof(float));
    if (!n->wq.scale || !n->wq.zp || !n->wq.q || !n->wq.bias_q || !n->weight || !n->bias) return -1;
    float base = gain * sqrtf(3.0f) / (127.0f * sqrtf((float)per));
    for (size_t o = 0; o < n->oc; o++) {
        float s = base * (0.75f + 0.5f * uniform(b));
        n->wq.scale[o] = s;
        for (size_t i = 0; i < per; i++) {
            int8_t q = (int8_t)((int)(next(b) % 255u) - 127);
            n->wq.q[o * per + i] = (uint8_t)q;
            n->weight[o * per + i] = s * (float)q;
        }
        float acc_scale = x_scale * s; /* bias up to ~0.1 of an activation unit */
        int32_t bq = (int32_t)((uniform(b) - 0.5f) * 0.2f / acc_scale);
        n->wq.bias_q[o] = bq;
        n->bias[o] = (float)bq * acc_scale;
    }
    return 0;
}

typedef enum act { LINEAR, RELU, RELU6 } act;

/* A conv layer named `layer` (torchvision module path) on value x, padding k/2. */
static int conv(bld *b, const char *layer, int x, size_t oc, size_t k, size_t stride, size_t groups, act a)
{
    const axnn_value xv = b->m->values[x];
    char name[160];
    snprintf(name, sizeof name, "%s", layer);
    axnn_node *n = node(b, NN_CONV, name, "Conv", x);
    if (!n || !(n->layer = axnn_strdup(layer))) return -1;
    n->oc = oc, n->ic = xv.c, n->kh = n->kw = k, n->sh = n->sw = stride, n->groups = groups;
    n->pt = n->pl = n->pb = n->pr = k / 2;
    n->act = a == LINEAR ? NN_ACT_NONE : a == RELU ? NN_ACT_RELU : NN_ACT_CLIP;
    n->lo = 0.0f, n->hi = a == RELU6 ? 6.0f : INFINITY;
    if (weights(b, n, xv.q.scale, a == LINEAR ? b->linear_gain : sqrtf(2.0f)) != 0) return -1;
    size_t oh = (xv.h + 2 * (k / 2) - k) / stride + 1, ow = (xv.w + 2 * (k / 2) - k) / stride + 1;
    return finish_node(b, n, 4, oc, oh, ow, a == RELU6 ? 6.0f / 127.0f : ACT_SCALE, true);
}

static int add(bld *b, const char *name, int x, int y, float scale)
{
    axnn_node *n = node(b, NN_ADD, name, "Add", x);
    if (!n) return -1;
    n->in[1] = y, n->n_in = 2;
    const axnn_value *v = &b->m->values[x];
    return finish_node(b, n, 4, v->c, v->h, v->w, scale, true);
}

static int unary(bld *b, axnn_op op, const char *name, const char *onnx_op, int x, bool keep_q)
{
    axnn_node *n = node(b, op, name, onnx_op, x);
    if (!n) return -1;
    const axnn_value v = b->m->values[x];
    if (op == NN_RELU) n->lo = 0.0f, n->hi = INFINITY;
    if (op == NN_FLATTEN) return finish_node(b, n, 2, axnn_value_size(&v), 1, 1, v.q.scale, keep_q);
    if (op == NN_GAP) return finish_node(b, n, 4, v.c, 1, 1, v.q.scale, keep_q);
    return finish_node(b, n, 4, v.c, v.h, v.w, v.q.scale, keep_q);
}

static int maxpool(bld *b, const char *name, int x)
{
    axnn_node *n = node(b, NN_MAXPOOL, name, "MaxPool", x);
    if (!n) return -1;
    n->kh = n->kw = 3, n->sh = n->sw = 2, n->pt = n->pl = n->pb = n->pr = 1;
    const axnn_value v = b->m->values[x];
    return finish_node(b, n, 4, v.c, (v.h + 2 - 3) / 2 + 1, (v.w + 2 - 3) / 2 + 1, v.q.scale, true);
}

/* GAP, Flatten and the classifier; the logits stay float. */
static int head(bld *b, const char *fc_name, int x, size_t classes)
{
    int v = unary(b, NN_GAP, "avgpool", "GlobalAveragePool", x, true);
    if (v < 0 || (v = unary(b, NN_FLATTEN, "flatten", "Flatten", v, true)) < 0) return -1;
    const axnn_value xv = b->m->values[v];
    axnn_node *n = node(b, NN_GEMM, fc_name, "Gemm", v);
    if (!n || !(n->layer = axnn_strdup(fc_name))) return -1;
    n->oc = classes, n->ic = xv.c, n->kh = n->kw = 1;
    if (weights(b, n, xv.q.scale, 1.0f) != 0) return -1;
    return finish_node(b, n, 2, classes, 1, 1, 0.0f, false);
}

static int bottleneck(bld *b, int x, int layer, int block, size_t width, size_t stride)
{
    char p[64], name[96];
    snprintf(p, sizeof p, "layer%d.%d", layer, block);
    size_t out_c = width * 4;
    int id = x, y;
    snprintf(name, sizeof name, "%s.conv1", p);
    if ((y = conv(b, name, x, width, 1, 1, 1, RELU)) < 0) return -1;
    snprintf(name, sizeof name, "%s.conv2", p);
    if ((y = conv(b, name, y, width, 3, stride, 1, RELU)) < 0) return -1;
    snprintf(name, sizeof name, "%s.conv3", p);
    b->linear_gain = 0.5f;
    if ((y = conv(b, name, y, out_c, 1, 1, 1, LINEAR)) < 0) return -1;
    b->linear_gain = 1.0f;
    if (block == 0) {
        snprintf(name, sizeof name, "%s.downsample.0", p);
        if ((id = conv(b, name, x, out_c, 1, stride, 1, LINEAR)) < 0) return -1;
    }
    snprintf(name, sizeof name, "%s.add", p);
    if ((y = add(b, name, y, id, 1.5f * ACT_SCALE)) < 0) return -1;
    snprintf(name, sizeof name, "%s.relu", p);
    return unary(b, NN_RELU, name, "Relu", y, true);
}

static int resnet50(bld *b, size_t classes)
{
    static const size_t blocks[4] = {3, 4, 6, 3}, widths[4] = {64, 128, 256, 512};
    int x = b->m->input;
    if ((x = conv(b, "conv1", x, 64, 7, 2, 1, RELU)) < 0 || (x = maxpool(b, "maxpool", x)) < 0) return -1;
    for (int l = 0; l < 4; l++)
        for (size_t i = 0; i < blocks[l]; i++)
            if ((x = bottleneck(b, x, l + 1, (int)i, widths[l], i == 0 && l > 0 ? 2 : 1)) < 0) return -1;
    return head(b, "fc", x, classes);
}

static int inverted_residual(bld *b, int x, int f, size_t t, size_t c, size_t stride)
{
    char name[96];
    size_t in_c = b->m->values[x].c, hidden = in_c * t;
    int y = x, i = 0;
    if (t != 1) {
        snprintf(name, sizeof name, "features.%d.conv.0.0", f);
        if ((y = conv(b, name, y, hidden, 1, 1, 1, RELU6)) < 0) return -1;
        i = 1;
    }
    snprintf(name, sizeof name, "features.%d.conv.%d.0", f, i);
    if ((y = conv(b, name, y, hidden, 3, stride, hidden, RELU6)) < 0) return -1;
    snprintf(name, sizeof name, "features.%d.conv.%d", f, i + 1);
    b->linear_gain = stride == 1 && in_c == c ? 0.5f : 1.0f;
    if ((y = conv(b, name, y, c, 1, 1, 1, LINEAR)) < 0) return -1;
    b->linear_gain = 1.0f;
    if (stride != 1 || in_c != c) return y;
    snprintf(name, sizeof name, "features.%d.add", f);
    return add(b, name, x, y, 1.5f * ACT_SCALE);
}

static int mobilenet_v2(bld *b, size_t classes)
{
    static const size_t cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                     {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}; /* t, c, n, s */
    int x = conv(b, "features.0.0", b->m->input, 32, 3, 2, 1, RELU6), f = 1;
    for (int g = 0; g < 7 && x >= 0; g++)
        for (size_t i = 0; i < cfg[g][2] && x >= 0; i++, f++)
            x = inverted_residual(b, x, f, cfg[g][0], cfg[g][1], i == 0 ? cfg[g][3] : 1);
    if (x < 0 || (x = conv(b, "features.18.0", x, 1280, 1, 1, 1, RELU6)) < 0) return -1;
    return head(b, "classifier.1", x, classes);
}

/* Activation scales from one pseudo-random image (uniform in [-2, 2]) through
 * the float graph, min-max as `autoapprox quantize` does; weights requantized
 * from their float values (the same bytes: they are already s8 multiples of
 * their channel's max). */
static int calibrate(bld *b)
{
    size_t h, w, c;
    ax_nn_input_shape(b->m, &h, &w, &c);
    float *x = malloc(h * w * c * sizeof *x);
    if (!x) return oom(b);
    for (size_t i = 0; i < h * w * c; i++) x[i] = 4.0f * uniform(b) - 2.0f;
    ax_nn_quant_options o;
    ax_nn_quant_options_init(&o);
    int rc = ax_nn_quantize(b->m, &o, 1, x, b->err);
    free(x);
    return rc;
}

static int build(const char *net, size_t size, uint64_t seed, ax_nn_model **out, ax_error *err)
{
    *out = NULL;
    if (size < 32 || size > 4096 || size % 32)
        return ax_fail(err, "%s: input size %zu must be a multiple of 32 in [32, 4096]", net, size);
    bld b = {calloc(1, sizeof(ax_nn_model)), seed, net, err, 1.0f};
    if (!b.m) return oom(&b);
    b.m->opset = 13;
    int x = value(&b, "input", 4, 3, size, size, 2.0f / 127.0f), y = -1;
    if (x >= 0) {
        b.m->input = x;
        y = strcmp(net, "resnet50") == 0 ? resnet50(&b, 1000) : mobilenet_v2(&b, 1000);
    }
    char desc[160];
    snprintf(desc, sizeof desc, "autoapprox built-in %s size=%zu seed=%llu", net, size, (unsigned long long)seed);
    if (y < 0 || !(b.m->input_name = axnn_strdup("input")) || !(b.m->output_name = axnn_strdup("logits")) ||
        axnn_set_meta(b.m, "autoapprox.model", desc) != 0 || axnn_set_meta(b.m, "autoapprox.quant.act", "s8") != 0 ||
        axnn_set_meta(b.m, "autoapprox.quant.weights", "s8") != 0) {
        ax_nn_free(b.m);
        return oom(&b);
    }
    b.m->output = y;
    ax_sha256_hex(desc, strlen(desc), b.m->sha256);
    if (calibrate(&b) != 0) {
        ax_nn_free(b.m);
        return -1;
    }
    *out = b.m;
    return 0;
}

int ax_nn_build_resnet50(size_t size, uint64_t seed, ax_nn_model **out, ax_error *err)
{
    return build("resnet50", size, seed, out, err);
}

int ax_nn_build_mobilenet_v2(size_t size, uint64_t seed, ax_nn_model **out, ax_error *err)
{
    return build("mobilenetv2", size, seed, out, err);
}
