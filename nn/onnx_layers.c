/* onnx_layers.c - Conv, Gemm and MatMul nodes into conv/FC layers: shape
 * checks, weights (float, or int8/uint8 per channel behind DequantizeLinear),
 * biases (float, or int32 behind DequantizeLinear), layer names. */
#include "onnx_import.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int take_wq(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n, const axnn_const *w, int ch_axis)
{
    if (!w->quant) return 0;
    if (w->qelem != ONNX__TENSOR_PROTO__DATA_TYPE__INT8 && w->qelem != ONNX__TENSOR_PROTO__DATA_TYPE__UINT8)
        return axnn_node_fail(c, nd, "quantized weights must be int8 or uint8");
    if (w->n_scale != 1 && w->axis != ch_axis)
        return axnn_node_fail(c, nd, "per-channel weight quantization must be along the output channels");
    n->wq.type = w->qelem == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ? AX_S8 : AX_U8;
    n->wq.scale = malloc(n->oc * sizeof(float));
    n->wq.zp = malloc(n->oc * sizeof(int32_t));
    n->wq.q = malloc(w->numel);
    if (!n->wq.scale || !n->wq.zp || !n->wq.q) return ax_fail(c->err, "%s: out of memory", c->what);
    for (size_t o = 0; o < n->oc; o++) {
        size_t s = w->n_scale == 1 ? 0 : o;
        n->wq.scale[o] = w->scale[s];
        n->wq.zp[o] = (int32_t)w->zp[s];
    }
    n->wq.set = true;
    return 0;
}

static int take_bias(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n, const axnn_const *b)
{
    if (!b) return 0;
    if (b->numel != n->oc) return axnn_node_fail(c, nd, "bias has %zu values for %zu output channels", b->numel, n->oc);
    n->bias = malloc(n->oc * sizeof(float));
    if (!n->bias) return ax_fail(c->err, "%s: out of memory", c->what);
    memcpy(n->bias, b->f, n->oc * sizeof(float));
    if (b->quant && b->qelem == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
        n->wq.bias_q = malloc(n->oc * sizeof(int32_t));
        if (!n->wq.bias_q) return ax_fail(c->err, "%s: out of memory", c->what);
        for (size_t o = 0; o < n->oc; o++) n->wq.bias_q[o] = (int32_t)b->i[o];
    }
    return 0;
}

static int set_layer_name(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n)
{
    n->layer = axnn_strdup(nd->name && nd->name[0] ? nd->name : axnn_out_name(nd));
    if (!n->layer) return ax_fail(c->err, "%s: out of memory", c->what);
    if (ax_nn_layer_find(c->m, n->layer) != (int)ax_nn_layer_count(c->m) - 1)
        return axnn_node_fail(c, nd, "layer name '%s' is not unique", n->layer);
    return 0;
}

/* ---- Conv ---- */
int axnn_conv_geometry(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n, const axnn_value *x, size_t *oh, size_t *ow)
{
    const Onnx__AttributeProto *ap = axnn_attr(nd, "auto_pad");
    if (ap && ap->has_s && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6)) &&
        !(ap->s.len == 5 && !memcmp(ap->s.data, "VALID", 5)))
        return axnn_node_fail(c, nd, "unsupported attribute auto_pad=%.*s", (int)ap->s.len, (const char *)ap->s.data);
    int64_t st[2] = {1, 1}, di[2] = {1, 1}, pd[4] = {0, 0, 0, 0};
    if (axnn_attr_ints(nd, "strides", st, 2) > 2 || axnn_attr_ints(nd, "dilations", di, 2) > 2 ||
        axnn_attr_ints(nd, "pads", pd, 4) > 4)
        return axnn_node_fail(c, nd, "only 2-D operations are supported");
    for (int i = 0; i < 4; i++)
        if (pd[i] < 0 || pd[i] > 1024 || (i < 2 && (st[i] < 1 || st[i] > 1024 || di[i] < 1 || di[i] > 1024)))
            return axnn_node_fail(c, nd, "invalid strides, dilations or pads");
    n->sh = (size_t)st[0], n->sw = (size_t)st[1], n->dh = (size_t)di[0], n->dw = (size_t)di[1];
    n->pt = (size_t)pd[0], n->pl = (size_t)pd[1], n->pb = (size_t)pd[2], n->pr = (size_t)pd[3];
    size_t ekh = (n->kh - 1) * n->dh + 1, ekw = (n->kw - 1) * n->dw + 1;
    if (x->h + n->pt + n->pb < ekh || x->w + n->pl + n->pr < ekw)
        return axnn_node_fail(c, nd, "the %zux%zu kernel does not fit the %zux%zu input", n->kh, n->kw, x->h, x->w);
    *oh = (x->h + n->pt + n->pb - ekh) / n->sh + 1;
    *ow = (x->w + n->pl + n->pr - ekw) / n->sw + 1;
    return 0;
}

int axnn_op_conv(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
    int xv = -1;
    bool bad;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    axnn_const *w = axnn_in_const(c, nd, 1, true, &bad), *b = axnn_in_const(c, nd, 2, false, &bad);
    if (bad || !w) return -1;
    const axnn_value x = c->m->values[xv];
    if (x.rank != 4 || w->ndims != 4) return axnn_node_fail(c, nd, "only 2-D convolution (NCHW input, OIHW weights) is supported");
    int64_t g = axnn_attr_int(nd, "group", 1);
    if (g < 1 || (size_t)g > x.c || x.c % (size_t)g || w->dims[0] % g || (size_t)w->dims[1] * (size_t)g != x.c)
        return axnn_node_fail(c, nd, "weights [%lld,%lld,..] with group %lld do not match %zu input channels",
                            (long long)w->dims[0], (long long)w->dims[1], (long long)g, x.c);
    int64_t ks[2] = {w->dims[2], w->dims[3]};
    if (axnn_attr_ints(nd, "kernel_shape", ks, 2) && (ks[0] != w->dims[2] || ks[1] != w->dims[3]))
        return axnn_node_fail(c, nd, "kernel_shape does not match the weights");
    axnn_node *n = axnn_new_node(c, nd, NN_CONV);
    if (!n) return -1;
    n->in[0] = xv, n->n_in = 1;
    n->oc = (size_t)w->dims[0], n->ic = x.c, n->groups = (size_t)g, n->kh = (size_t)ks[0], n->kw = (size_t)ks[1];
    size_t oh, ow;
    if (axnn_conv_geometry(c, nd, n, &x, &oh, &ow) != 0) return -1;
    n->weight = malloc(w->numel * sizeof(float));
    if (!n->weight) return ax_fail(c->err, "%s: out of memory", c->what);
    memcpy(n->weight, w->f, w->numel * sizeof(float));
    if (take_wq(c, nd, n, w, 0) != 0 || take_bias(c, nd, n, b) != 0) return -1;
    if (n->wq.set)
        for (size_t i = 0; i < w->numel; i++) n->wq.q[i] = (uint8_t)w->i[i];
    if (set_layer_name(c, nd, n) != 0) return -1;
    return axnn_set_out(c, nd, n, 4, n->oc, oh, ow);
}

/* ---- Gemm / MatMul: weights stored [N][K] ---- */
static int fc_layer(axnn_import *c, const Onnx__NodeProto *nd, const axnn_const *w, const axnn_const *b, bool trans_b, float alpha,
                    float beta)
{
    int xv = -1;
    if (axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    const axnn_value x = c->m->values[xv];
    if (x.rank != 2) return axnn_node_fail(c, nd, "input must be 2-D [N, features] (Flatten first)");
    if (w->ndims != 2) return axnn_node_fail(c, nd, "weights must be 2-D");
    size_t K = (size_t)w->dims[trans_b ? 1 : 0], N = (size_t)w->dims[trans_b ? 0 : 1];
    if (K != x.c) return axnn_node_fail(c, nd, "weights expect %zu input features, the input has %zu", K, x.c);
    if (w->quant && alpha != 1.0f) return axnn_node_fail(c, nd, "alpha != 1 with quantized weights is unsupported");
    axnn_node *n = axnn_new_node(c, nd, NN_GEMM);
    if (!n) return -1;
    n->in[0] = xv, n->n_in = 1;
    n->oc = N, n->ic = K, n->kh = n->kw = 1;
    n->weight = malloc(N * K * sizeof(float));
    if (!n->weight) return ax_fail(c->err, "%s: out of memory", c->what);
    if (take_wq(c, nd, n, w, trans_b ? 0 : 1) != 0) return -1;
    for (size_t o = 0; o < N; o++)
        for (size_t k = 0; k < K; k++) {
            size_t s = trans_b ? o * K + k : k * N + o;
            n->weight[o * K + k] = alpha * w->f[s];
            if (n->wq.set) n->wq.q[o * K + k] = (uint8_t)w->i[s];
        }
    if (b && b->numel == 1 && N != 1) return axnn_node_fail(c, nd, "scalar bias C is unsupported");
    if (take_bias(c, nd, n, b) != 0) return -1;
    for (size_t o = 0; b && o < N; o++) n->bias[o] *= beta;
    if (set_layer_name(c, nd, n) != 0) return -1;
    return axnn_set_out(c, nd, n, 2, N, 1, 1);
}

int axnn_op_gemm(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"alpha", "beta", "transA", "transB", NULL};
    bool bad;
    if (axnn_check_attrs(c, nd, ok) != 0) return -1;
    if (axnn_attr_int(nd, "transA", 0)) return axnn_node_fail(c, nd, "unsupported attribute transA=1");
    axnn_const *w = axnn_in_const(c, nd, 1, true, &bad), *b = axnn_in_const(c, nd, 2, false, &bad);
    if (bad || !w) return -1;
    return fc_layer(c, nd, w, b, axnn_attr_int(nd, "transB", 0) != 0, axnn_attr_float(nd, "alpha", 1.0f),
                    axnn_attr_float(nd, "beta", 1.0f));
}

int axnn_op_matmul(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {NULL};
    bool bad;
    if (axnn_check_attrs(c, nd, ok) != 0) return -1;
    axnn_const *w = axnn_in_const(c, nd, 1, true, &bad);
    if (bad || !w) return -1;
    return fc_layer(c, nd, w, NULL, false, 1.0f, 1.0f);
}

/* ---- activations ---- */
