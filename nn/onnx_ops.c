/* onnx_ops.c - one ONNX node into the IR: the input/output helpers every op
 * handler uses, the ops between layers (BN folded and ReLU/Clip fused into
 * the layer before them where that layer's output has no other reader,
 * Dropout/Identity absorbed into aliases), and the dispatch by op type.
 * Layers are in onnx_layers.c, Q/DQ in onnx_qdq.c. Anything else is one
 * error naming op and node. */
#include "onnx_import.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef int (*op_fn)(axnn_import *c, const Onnx__NodeProto *nd);

/* ---- inputs ---- */
int axnn_in_value(axnn_import *c, const Onnx__NodeProto *nd, size_t i, int *v)
{
    if (i >= nd->n_input || !nd->input[i][0]) return axnn_node_fail(c, nd, "input %zu missing", i);
    const axnn_name *n = axnn_lookup(c, nd->input[i]);
    if (!n) return axnn_node_fail(c, nd, "input '%s' is neither the graph input, an initializer nor an earlier output", nd->input[i]);
    if (n->value < 0) return axnn_node_fail(c, nd, "input '%s' is a constant; a computed tensor is expected", nd->input[i]);
    *v = n->value;
    return 0;
}

/* NULL (and no error) when the optional input is absent; -1 via *bad. */
axnn_const *axnn_in_const(axnn_import *c, const Onnx__NodeProto *nd, size_t i, bool required, bool *bad)
{
    *bad = false;
    if (i >= nd->n_input || !nd->input[i][0]) {
        if (required) *bad = axnn_node_fail(c, nd, "input %zu missing", i) != 0;
        return NULL;
    }
    const axnn_name *n = axnn_lookup(c, nd->input[i]);
    if (!n) {
        *bad = axnn_node_fail(c, nd, "initializer '%s' missing", nd->input[i]) != 0;
        return NULL;
    }
    if (n->cst < 0) {
        *bad = axnn_node_fail(c, nd, "input '%s' must be a constant (initializer)", nd->input[i]) != 0;
        return NULL;
    }
    return &c->consts[n->cst];
}

const char *axnn_out_name(const Onnx__NodeProto *nd)
{
    return nd->n_output ? nd->output[0] : "";
}

axnn_node *axnn_new_node(axnn_import *c, const Onnx__NodeProto *nd, axnn_op op)
{
    axnn_node *n = axnn_add_node(c->m, op, nd->name ? nd->name : "", nd->op_type);
    if (!n) ax_fail(c->err, "%s: out of memory", c->what);
    return n;
}

/* Creates the node's output value and binds its first output name. */
int axnn_set_out(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n, int rank, size_t ch, size_t h, size_t w)
{
    if (!nd->n_output) return axnn_node_fail(c, nd, "no output");
    int idx = (int)(n - c->m->nodes);
    int v = axnn_add_value(c->m, axnn_out_name(nd), rank, ch, h, w);
    if (v < 0 || axnn_bind(c, axnn_out_name(nd), v, -1) != 0) return ax_fail(c->err, "%s: out of memory", c->what);
    c->m->nodes[idx].out = v;
    c->m->values[v].producer = idx;
    return 0;
}

static int unary(axnn_import *c, const Onnx__NodeProto *nd, axnn_op op, axnn_node **out)
{
    int x = -1;
    if (axnn_in_value(c, nd, 0, &x) != 0) return -1;
    axnn_node *n = axnn_new_node(c, nd, op);
    if (!n) return -1;
    n->in[0] = x, n->n_in = 1;
    const axnn_value *v = &c->m->values[x];
    if (axnn_set_out(c, nd, n, v->rank, v->c, v->h, v->w) != 0) return -1;
    *out = &c->m->nodes[c->m->n_nodes - 1];
    return 0;
}

/* The layer that alone produces value v and may absorb what follows it. */
static axnn_node *fusable_layer(axnn_import *c, int v, const char *name)
{
    const axnn_value *val = &c->m->values[v];
    if (val->producer < 0 || val->q.set) return NULL;
    axnn_node *p = &c->m->nodes[val->producer];
    if (!axnn_is_layer(p) || p->act != NN_ACT_NONE || p->out != v) return NULL;
    if (axnn_name_uses(c, name) != 1) return NULL;
    return p;
}

/* Renames the fused layer's output to the absorbing node's output. */
static int absorb(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *p, bool keep_preact)
{
    axnn_value *v = &c->m->values[p->out];
    char *nm = axnn_strdup(axnn_out_name(nd));
    if (!nm) return ax_fail(c->err, "%s: out of memory", c->what);
    if (keep_preact && !p->preact) p->preact = v->name;
    else free(v->name);
    v->name = nm;
    return axnn_bind(c, nm, p->out, -1);
}

/* ---- quantized constants into layer weights ---- */
static int activation(axnn_import *c, const Onnx__NodeProto *nd, axnn_act act, float lo, float hi)
{
    int xv = -1;
    if (axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    axnn_node *p = fusable_layer(c, xv, nd->input[0]);
    if (p) {
        p->act = act, p->lo = lo, p->hi = hi;
        return absorb(c, nd, p, true);
    }
    axnn_node *n;
    if (unary(c, nd, act == NN_ACT_RELU ? NN_RELU : NN_CLIP, &n) != 0) return -1;
    n->lo = lo, n->hi = hi;
    return 0;
}

static int op_relu(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {NULL};
    return axnn_check_attrs(c, nd, ok) != 0 ? -1 : activation(c, nd, NN_ACT_RELU, 0.0f, INFINITY);
}

static int op_clip(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"min", "max", NULL};
    bool bad;
    if (axnn_check_attrs(c, nd, ok) != 0) return -1;
    float lo = axnn_attr_float(nd, "min", -INFINITY), hi = axnn_attr_float(nd, "max", INFINITY);
    axnn_const *a = axnn_in_const(c, nd, 1, false, &bad);
    if (bad) return -1;
    axnn_const *b = axnn_in_const(c, nd, 2, false, &bad);
    if (bad) return -1;
    if ((a && a->numel != 1) || (b && b->numel != 1)) return axnn_node_fail(c, nd, "min and max must be scalars");
    if (a) lo = a->f[0];
    if (b) hi = b->f[0];
    return activation(c, nd, NN_ACT_CLIP, lo, hi);
}

/* ---- elementwise ---- */
/* Whether constant k broadcasts against v per channel (or as a scalar). */
static bool per_channel(const axnn_const *k, const axnn_value *v)
{
    if (k->numel == 1) return true;
    if (k->numel != v->c || k->ndims > v->rank) return false;
    for (int d = 0; d < k->ndims; d++) {
        int vd = v->rank - k->ndims + d; /* right-aligned ONNX axis */
        if (k->dims[d] != 1 && vd != 1) return false;
    }
    return true;
}

static int affine(axnn_import *c, const Onnx__NodeProto *nd, int xv, const float *scale, const float *bias, size_t cn)
{
    axnn_node *n = axnn_new_node(c, nd, NN_AFFINE);
    if (!n) return -1;
    n->in[0] = xv, n->n_in = 1, n->cn = cn;
    n->cscale = malloc(cn * sizeof(float));
    n->cbias = malloc(cn * sizeof(float));
    if (!n->cscale || !n->cbias) return ax_fail(c->err, "%s: out of memory", c->what);
    for (size_t i = 0; i < cn; i++) n->cscale[i] = scale ? scale[i] : 1.0f, n->cbias[i] = bias ? bias[i] : 0.0f;
    const axnn_value *v = &c->m->values[xv];
    return axnn_set_out(c, nd, n, v->rank, v->c, v->h, v->w);
}

static int binary(axnn_import *c, const Onnx__NodeProto *nd, bool add)
{
    static const char *const ok[] = {NULL};
    if (axnn_check_attrs(c, nd, ok) != 0) return -1;
    if (nd->n_input != 2) return axnn_node_fail(c, nd, "two inputs expected");
    const axnn_name *a = axnn_lookup(c, nd->input[0]), *b = axnn_lookup(c, nd->input[1]);
    if (!a || !b) return axnn_node_fail(c, nd, "input '%s' unknown", a ? nd->input[1] : nd->input[0]);
    if (a->value >= 0 && b->value >= 0) {
        const axnn_value *x = &c->m->values[a->value], *y = &c->m->values[b->value];
        if (x->rank != y->rank || x->c != y->c || x->h != y->h || x->w != y->w)
            return axnn_node_fail(c, nd, "inputs of different shapes (broadcasting is unsupported)");
        axnn_node *n = axnn_new_node(c, nd, add ? NN_ADD : NN_MUL);
        if (!n) return -1;
        n->in[0] = a->value, n->in[1] = b->value, n->n_in = 2;
        return axnn_set_out(c, nd, n, x->rank, x->c, x->h, x->w);
    }
    if (a->value < 0 && b->value < 0) return axnn_node_fail(c, nd, "two constant inputs (fold them before export)");
    int xv = a->value >= 0 ? a->value : b->value;
    const axnn_const *k = &c->consts[a->value >= 0 ? b->cst : a->cst];
    if (!per_channel(k, &c->m->values[xv]))
        return axnn_node_fail(c, nd, "constant of %zu values does not broadcast per channel", k->numel);
    axnn_node *p = add && k->numel == c->m->values[xv].c ? fusable_layer(c, xv, nd->input[a->value >= 0 ? 0 : 1]) : NULL;
    if (p && p->bias && !p->wq.bias_q) {
        for (size_t o = 0; o < p->oc; o++) p->bias[o] += k->f[o];
        return absorb(c, nd, p, false);
    }
    return affine(c, nd, xv, add ? NULL : k->f, add ? k->f : NULL, k->numel);
}

static int op_add(axnn_import *c, const Onnx__NodeProto *nd) { return binary(c, nd, true); }
static int op_mul(axnn_import *c, const Onnx__NodeProto *nd) { return binary(c, nd, false); }

static int op_batchnorm(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"epsilon", "momentum", "spatial", "training_mode", NULL};
    int xv = -1;
    bool bad = false;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    if (axnn_attr_int(nd, "training_mode", 0)) return axnn_node_fail(c, nd, "unsupported attribute training_mode=1");
    if (nd->n_output > 1) return axnn_node_fail(c, nd, "training outputs (running mean/var) are unsupported");
    axnn_const *k[4];
    for (int i = 0; i < 4 && !bad; i++) k[i] = axnn_in_const(c, nd, (size_t)i + 1, true, &bad);
    if (bad) return -1;
    size_t C = c->m->values[xv].c;
    for (int i = 0; i < 4; i++)
        if (k[i]->numel != C) return axnn_node_fail(c, nd, "parameters have %zu values for %zu channels", k[i]->numel, C);
    float eps = axnn_attr_float(nd, "epsilon", 1e-5f), *s = malloc(C * sizeof(float)), *t = malloc(C * sizeof(float));
    if (!s || !t) {
        free(s), free(t);
        return ax_fail(c->err, "%s: out of memory", c->what);
    }
    for (size_t i = 0; i < C; i++) {
        s[i] = k[0]->f[i] / sqrtf(k[3]->f[i] + eps);
        t[i] = k[1]->f[i] - k[2]->f[i] * s[i];
    }
    axnn_node *p = fusable_layer(c, xv, nd->input[0]);
    int rc;
    if (p && p->op == NN_CONV && !p->wq.set) {
        size_t per = p->weight ? (p->ic / p->groups) * p->kh * p->kw : 0;
        if (!p->bias) p->bias = calloc(p->oc, sizeof(float));
        if (!p->bias) rc = ax_fail(c->err, "%s: out of memory", c->what);
        else {
            for (size_t o = 0; o < p->oc; o++) {
                for (size_t j = 0; j < per; j++) p->weight[o * per + j] *= s[o];
                p->bias[o] = p->bias[o] * s[o] + t[o];
            }
            rc = absorb(c, nd, p, false);
        }
    } else {
        rc = affine(c, nd, xv, s, t, C);
    }
    free(s), free(t);
    return rc;
}

/* ---- shape ops ---- */
static int op_concat(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"axis", NULL};
    if (axnn_check_attrs(c, nd, ok) != 0) return -1;
    if (nd->n_input < 1 || nd->n_input > NN_MAX_IN) return axnn_node_fail(c, nd, "1..%d inputs supported", NN_MAX_IN);
    axnn_node *n = axnn_new_node(c, nd, NN_CONCAT);
    if (!n) return -1;
    size_t idx = c->m->n_nodes - 1, ch = 0;
    axnn_value first = {0};
    for (size_t i = 0; i < nd->n_input; i++) {
        int v = -1;
        if (axnn_in_value(c, nd, i, &v) != 0) return -1;
        const axnn_value *x = &c->m->values[v];
        if (i == 0) first = *x;
        if (x->rank != first.rank || x->h != first.h || x->w != first.w)
            return axnn_node_fail(c, nd, "inputs differ in spatial size");
        c->m->nodes[idx].in[i] = v;
        ch += x->c;
    }
    int64_t axis = axnn_attr_int(nd, "axis", 1);
    if (axis < 0) axis += first.rank;
    if (axis != 1) return axnn_node_fail(c, nd, "unsupported attribute axis=%lld (channels only)", (long long)axis);
    c->m->nodes[idx].n_in = (int)nd->n_input;
    return axnn_set_out(c, nd, &c->m->nodes[idx], first.rank, ch, first.h, first.w);
}

static int op_pool(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads",
                                     "storage_order", "strides", NULL};
    int xv = -1;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    bool maxp = !strcmp(nd->op_type, "MaxPool");
    if (nd->n_output > 1) return axnn_node_fail(c, nd, "the Indices output is unsupported");
    if (axnn_attr_int(nd, "storage_order", 0)) return axnn_node_fail(c, nd, "unsupported attribute storage_order=1");
    int64_t ks[2] = {0, 0};
    if (axnn_attr_ints(nd, "kernel_shape", ks, 2) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > 1024 || ks[1] > 1024)
        return axnn_node_fail(c, nd, "kernel_shape must give 2 sizes");
    const axnn_value x = c->m->values[xv];
    if (x.rank != 4) return axnn_node_fail(c, nd, "input must be NCHW");
    axnn_node *n = axnn_new_node(c, nd, maxp ? NN_MAXPOOL : NN_AVGPOOL);
    if (!n) return -1;
    n->in[0] = xv, n->n_in = 1, n->kh = (size_t)ks[0], n->kw = (size_t)ks[1];
    n->ceil_mode = axnn_attr_int(nd, "ceil_mode", 0) != 0;
    n->count_include_pad = axnn_attr_int(nd, "count_include_pad", 0) != 0;
    size_t oh, ow;
    if (axnn_conv_geometry(c, nd, n, &x, &oh, &ow) != 0) return -1;
    if (n->dh != 1 || n->dw != 1) return axnn_node_fail(c, nd, "unsupported attribute dilations (only 1)");
    if (n->ceil_mode) {
        oh = (x.h + n->pt + n->pb - n->kh + n->sh - 1) / n->sh + 1;
        ow = (x.w + n->pl + n->pr - n->kw + n->sw - 1) / n->sw + 1;
        if ((oh - 1) * n->sh >= x.h + n->pt) oh--;
        if ((ow - 1) * n->sw >= x.w + n->pl) ow--;
    }
    return axnn_set_out(c, nd, n, 4, x.c, oh, ow);
}

static int op_gap(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {NULL};
    axnn_node *n;
    if (axnn_check_attrs(c, nd, ok) != 0) return -1;
    int xv = -1;
    if (axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    if (c->m->values[xv].rank != 4) return axnn_node_fail(c, nd, "input must be NCHW");
    if (unary(c, nd, NN_GAP, &n) != 0) return -1;
    axnn_value *y = &c->m->values[n->out];
    y->h = y->w = 1;
    return 0;
}

static int alias(axnn_import *c, const Onnx__NodeProto *nd)
{
    if (!nd->n_input || !nd->n_output) return axnn_node_fail(c, nd, "input or output missing");
    const axnn_name *n = axnn_lookup(c, nd->input[0]);
    if (!n) return axnn_node_fail(c, nd, "input '%s' unknown", nd->input[0]);
    return axnn_bind(c, nd->output[0], n->value, n->cst);
}

static int to_2d(axnn_import *c, const Onnx__NodeProto *nd, int xv)
{
    const axnn_value x = c->m->values[xv];
    if (x.rank == 2) return axnn_bind(c, axnn_out_name(nd), xv, -1);
    axnn_node *n = axnn_new_node(c, nd, NN_FLATTEN);
    if (!n) return -1;
    n->in[0] = xv, n->n_in = 1;
    return axnn_set_out(c, nd, n, 2, axnn_value_size(&x), 1, 1);
}

static int op_flatten(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"axis", NULL};
    int xv = -1;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    if (axnn_attr_int(nd, "axis", 1) != 1) return axnn_node_fail(c, nd, "unsupported attribute axis (only 1)");
    return to_2d(c, nd, xv);
}

static int op_reshape(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"allowzero", NULL};
    int xv = -1;
    bool bad;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    axnn_const *s = axnn_in_const(c, nd, 1, true, &bad);
    if (bad || !s) return -1;
    const axnn_value *x = &c->m->values[xv];
    size_t sz = axnn_value_size(x);
    if (!s->i || s->numel != 2 || (s->i[1] != -1 && s->i[1] != (int64_t)sz) || (s->i[0] == -1 && s->i[1] == -1))
        return axnn_node_fail(c, nd, "only a reshape to [N, %zu] (a flatten) is supported", sz);
    return to_2d(c, nd, xv);
}

static int op_softmax(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"axis", NULL};
    int xv = -1;
    axnn_node *n;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0) return -1;
    int64_t axis = axnn_attr_int(nd, "axis", c->m->opset >= 13 ? -1 : 1);
    if (c->m->values[xv].rank != 2 || (axis != 1 && axis != -1))
        return axnn_node_fail(c, nd, "only softmax over the classes of a [N, C] tensor is supported");
    return unary(c, nd, NN_SOFTMAX, &n);
}

static int op_constant(axnn_import *c, const Onnx__NodeProto *nd)
{
    const Onnx__AttributeProto *a = axnn_attr(nd, "value");
    if (nd->n_attribute != 1 || !a || !a->t) return axnn_node_fail(c, nd, "only a 'value' tensor attribute is supported");
    axnn_const k;
    if (axnn_tensor_to_const(c, a->t, axnn_out_name(nd), &k) != 0) return -1;
    return axnn_add_const(c, axnn_out_name(nd), &k);
}

static int op_dropout(axnn_import *c, const Onnx__NodeProto *nd)
{
    if (nd->n_output > 1 && axnn_name_uses(c, nd->output[1]))
        return axnn_node_fail(c, nd, "the mask output is unsupported");
    return alias(c, nd);
}

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"Conv", axnn_op_conv}, {"Gemm", axnn_op_gemm}, {"MatMul", axnn_op_matmul}, {"Relu", op_relu}, {"Clip", op_clip},
    {"Add", op_add}, {"Mul", op_mul}, {"Concat", op_concat}, {"MaxPool", op_pool}, {"AveragePool", op_pool},
    {"GlobalAveragePool", op_gap}, {"Flatten", op_flatten}, {"Reshape", op_reshape},
    {"BatchNormalization", op_batchnorm}, {"Dropout", op_dropout}, {"Identity", alias}, {"Softmax", op_softmax},
    {"Constant", op_constant}, {"QuantizeLinear", axnn_op_quantize}, {"DequantizeLinear", axnn_op_dequantize},
};

int axnn_import_node(axnn_import *c, const Onnx__NodeProto *nd)
{
    const char *op = nd->op_type ? nd->op_type : "";
    if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx"))
        return axnn_node_fail(c, nd, "unsupported operator domain '%s'", nd->domain);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].name, op)) return ops[i].fn(c, nd);
    return axnn_node_fail(c, nd, "unsupported operator %s", op);
}

