/* onnx_export.c - writes the IR back as ONNX (protobuf-c pack): a float
 * model, or a QDQ model when quantized: QuantizeLinear/DequantizeLinear
 * after every annotated activation, int8/uint8 per-channel weights and
 * int32 biases behind DequantizeLinear, fused activations unfused again,
 * metadata_props carried over. Readable by any ONNX runtime. */
#include "nn_internal.h"

#include "lut/ax_internal.h"
#include "onnx.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything allocated for the message tree, freed at once. */
typedef struct exporter {
    void **blocks;
    size_t n_blocks, cap_blocks;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const ax_nn_model *m;
    bool failed;
} exporter;

static void *ex_alloc(exporter *e, size_t size)
{
    if (e->n_blocks == e->cap_blocks) {
        size_t cap = e->cap_blocks ? e->cap_blocks * 2 : 256;
        void **b = realloc(e->blocks, cap * sizeof *b);
        if (!b) return e->failed = true, NULL;
        e->blocks = b, e->cap_blocks = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) return e->failed = true, NULL;
    return e->blocks[e->n_blocks++] = p;
}

static char *ex_str(exporter *e, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = ex_alloc(e, la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    if (b) memcpy(s + la, b, lb);
    return s;
}

static bool push(exporter *e, void ***arr, size_t *n, size_t *cap, void *item)
{
    if (!item) return false;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void **a = realloc(*arr, c * sizeof *a);
        if (!a) return e->failed = true, false;
        *arr = a, *cap = c;
    }
    (*arr)[(*n)++] = item;
    return true;
}

/* ---- tensors ---- */
static Onnx__TensorProto *tensor(exporter *e, const char *name, int type, const int64_t *dims, size_t nd,
                                 const void *data, size_t bytes)
{
    Onnx__TensorProto *t = ex_alloc(e, sizeof *t);
    int64_t *d = ex_alloc(e, (nd ? nd : 1) * sizeof *d);
    uint8_t *raw = ex_alloc(e, bytes);
    char *nm = ex_str(e, name, NULL);
    if (!t || !d || !raw || !nm) return NULL;
    onnx__tensor_proto__init(t);
    if (nd) memcpy(d, dims, nd * sizeof *d);
    if (bytes) memcpy(raw, data, bytes); /* little-endian hosts only, as ONNX's raw_data is */
    t->n_dims = nd, t->dims = d;
    t->has_data_type = true, t->data_type = type;
    t->name = nm;
    t->has_raw_data = true, t->raw_data.len = bytes, t->raw_data.data = raw;
    push(e, (void ***)&e->inits, &e->n_inits, &e->cap_inits, t);
    return t;
}

static void init_float(exporter *e, const char *name, const float *v, const int64_t *dims, size_t nd, size_t n)
{
    tensor(e, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, nd, v, n * sizeof(float));
}

static int onnx_type(ax_operand t)
{
    return t == AX_S8 ? ONNX__TENSOR_PROTO__DATA_TYPE__INT8 : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
}

/* ---- nodes ---- */
static Onnx__NodeProto *node(exporter *e, const char *op, const char *name, const char *const *in, size_t n_in,
                             const char *out)
{
    Onnx__NodeProto *n = ex_alloc(e, sizeof *n);
    char **ins = ex_alloc(e, (n_in ? n_in : 1) * sizeof *ins), **outs = ex_alloc(e, sizeof *outs);
    Onnx__AttributeProto **attrs = ex_alloc(e, 8 * sizeof *attrs);
    if (!n || !ins || !outs || !attrs) return NULL;
    onnx__node_proto__init(n);
    for (size_t i = 0; i < n_in; i++) ins[i] = ex_str(e, in[i], NULL);
    outs[0] = ex_str(e, out, NULL);
    n->n_input = n_in, n->input = ins, n->n_output = 1, n->output = outs;
    n->op_type = ex_str(e, op, NULL);
    n->name = ex_str(e, name ? name : "", NULL);
    n->attribute = attrs;
    push(e, (void ***)&e->nodes, &e->n_nodes, &e->cap_nodes, n);
    return n;
}

static Onnx__AttributeProto *attr(exporter *e, Onnx__NodeProto *n, const char *name)
{
    if (!n || n->n_attribute >= 8) return NULL;
    Onnx__AttributeProto *a = ex_alloc(e, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = ex_str(e, name, NULL);
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_int(exporter *e, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(e, n, name);
    if (!a) return;
    a->has_type = true, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = true, a->i = v;
}

static void attr_ints(exporter *e, Onnx__NodeProto *n, const char *name, const int64_t *v, size_t k)
{
    Onnx__AttributeProto *a = attr(e, n, name);
    int64_t *d = ex_alloc(e, k * sizeof *d);
    if (!a || !d) return;
    memcpy(d, v, k * sizeof *d);
    a->has_type = true, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = k, a->ints = d;
}

/* ---- activations: the name consumers read ---- */
static const char *ref(exporter *e, int v)
{
    const axnn_value *val = &e->m->values[v];
    return val->q.set ? ex_str(e, val->name, "_dq") : val->name;
}

/* Q + DQ after an annotated value. */
static void qdq(exporter *e, int v)
{
    const axnn_value *val = &e->m->values[v];
    if (!val->q.set) return;
    char *s = ex_str(e, val->name, "_scale"), *z = ex_str(e, val->name, "_zp"), *q = ex_str(e, val->name, "_q");
    if (!s || !z || !q) return;
    uint8_t zb = (uint8_t)val->q.zp;
    init_float(e, s, &val->q.scale, NULL, 0, 1);
    tensor(e, z, onnx_type(val->q.type), NULL, 0, &zb, 1);
    const char *qin[] = {val->name, s, z}, *dqin[] = {q, s, z};
    node(e, "QuantizeLinear", ex_str(e, val->name, "_QuantizeLinear"), qin, 3, q);
    node(e, "DequantizeLinear", ex_str(e, val->name, "_DequantizeLinear"), dqin, 3, ref(e, v));
}

/* ---- layers ---- */
static const char *layer_weights(exporter *e, const axnn_node *n, const int64_t *dims, size_t nd)
{
    size_t count = n->oc * (n->ic / n->groups) * n->kh * n->kw;
    char *w = ex_str(e, n->layer, "_weight");
    if (!n->wq.set) {
        init_float(e, w, n->weight, dims, nd, count);
        return w;
    }
    char *q = ex_str(e, n->layer, "_weight_q"), *s = ex_str(e, n->layer, "_weight_scale"),
         *z = ex_str(e, n->layer, "_weight_zp");
    uint8_t *zb = ex_alloc(e, n->oc);
    if (!q || !s || !z || !zb) return w;
    for (size_t o = 0; o < n->oc; o++) zb[o] = (uint8_t)n->wq.zp[o];
    int64_t oc = (int64_t)n->oc;
    tensor(e, q, onnx_type(n->wq.type), dims, nd, n->wq.q, count);
    init_float(e, s, n->wq.scale, &oc, 1, n->oc);
    tensor(e, z, onnx_type(n->wq.type), &oc, 1, zb, n->oc);
    const char *in[] = {q, s, z};
    attr_int(e, node(e, "DequantizeLinear", ex_str(e, n->layer, "_weight_DequantizeLinear"), in, 3, w), "axis", 0);
    return w;
}

static const char *layer_bias(exporter *e, const axnn_node *n)
{
    if (!n->bias && !n->wq.bias_q) return NULL;
    char *b = ex_str(e, n->layer, "_bias");
    int64_t oc = (int64_t)n->oc;
    const axnn_value *x = &e->m->values[n->in[0]];
    if (!n->wq.set || !x->q.set) {
        init_float(e, b, n->bias, &oc, 1, n->oc);
        return b;
    }
    int32_t *bq = ex_alloc(e, n->oc * sizeof *bq), *zp = ex_alloc(e, n->oc * sizeof *zp);
    float *s = ex_alloc(e, n->oc * sizeof *s);
    char *qn = ex_str(e, n->layer, "_bias_q"), *sn = ex_str(e, n->layer, "_bias_scale"), *zn = ex_str(e, n->layer, "_bias_zp");
    if (!bq || !zp || !s || !qn || !sn || !zn) return b;
    for (size_t o = 0; o < n->oc; o++) {
        s[o] = x->q.scale * n->wq.scale[o];
        bq[o] = axnn_bias_q(n, x->q.scale, o);
    }
    tensor(e, qn, ONNX__TENSOR_PROTO__DATA_TYPE__INT32, &oc, 1, bq, n->oc * 4);
    init_float(e, sn, s, &oc, 1, n->oc);
    tensor(e, zn, ONNX__TENSOR_PROTO__DATA_TYPE__INT32, &oc, 1, zp, n->oc * 4);
    const char *in[] = {qn, sn, zn};
    attr_int(e, node(e, "DequantizeLinear", ex_str(e, n->layer, "_bias_DequantizeLinear"), in, 3, b), "axis", 0);
    return b;
}

static void activation(exporter *e, const char *name, axnn_act act, float lo, float hi, const char *in, const char *out)
{
    if (act == NN_ACT_RELU) {
        node(e, "Relu", name, &in, 1, out);
        return;
    }
    char *ln = ex_str(e, name, "_min"), *hn = ex_str(e, name, "_max");
    if (!ln || !hn) return;
    init_float(e, ln, &lo, NULL, 0, 1);
    init_float(e, hn, &hi, NULL, 0, 1);
    const char *ins[] = {in, ln, hn};
    node(e, "Clip", name, ins, 3, out);
}

static void export_layer(exporter *e, const axnn_node *n)
{
    const axnn_value *y = &e->m->values[n->out];
    int64_t dims[4] = {(int64_t)n->oc, (int64_t)(n->ic / n->groups), (int64_t)n->kh, (int64_t)n->kw};
    const char *in[3] = {ref(e, n->in[0]), layer_weights(e, n, dims, n->op == NN_CONV ? 4 : 2), layer_bias(e, n)};
    const char *out = n->act == NN_ACT_NONE ? y->name : n->preact ? n->preact : ex_str(e, y->name, "_preact");
    Onnx__NodeProto *nd = node(e, n->op == NN_CONV ? "Conv" : "Gemm", n->layer, in, in[2] ? 3 : 2, out);
    if (n->op == NN_GEMM) {
        attr_int(e, nd, "transB", 1);
    } else {
        int64_t k[2] = {(int64_t)n->kh, (int64_t)n->kw}, s[2] = {(int64_t)n->sh, (int64_t)n->sw};
        int64_t d[2] = {(int64_t)n->dh, (int64_t)n->dw}, p[4] = {(int64_t)n->pt, (int64_t)n->pl, (int64_t)n->pb, (int64_t)n->pr};
        attr_ints(e, nd, "kernel_shape", k, 2), attr_ints(e, nd, "strides", s, 2);
        attr_ints(e, nd, "dilations", d, 2), attr_ints(e, nd, "pads", p, 4);
        attr_int(e, nd, "group", (int64_t)n->groups);
    }
    if (n->act != NN_ACT_NONE) activation(e, ex_str(e, n->layer, "_act"), n->act, n->lo, n->hi, out, y->name);
}

/* ---- other ops ---- */
static void export_pool(exporter *e, const axnn_node *n, const char *in, const char *out)
{
    Onnx__NodeProto *nd = node(e, n->op == NN_MAXPOOL ? "MaxPool" : "AveragePool", n->name, &in, 1, out);
    int64_t k[2] = {(int64_t)n->kh, (int64_t)n->kw}, s[2] = {(int64_t)n->sh, (int64_t)n->sw};
    int64_t p[4] = {(int64_t)n->pt, (int64_t)n->pl, (int64_t)n->pb, (int64_t)n->pr};
    attr_ints(e, nd, "kernel_shape", k, 2), attr_ints(e, nd, "strides", s, 2), attr_ints(e, nd, "pads", p, 4);
    if (n->ceil_mode) attr_int(e, nd, "ceil_mode", 1);
    if (n->op == NN_AVGPOOL && n->count_include_pad) attr_int(e, nd, "count_include_pad", 1);
}

static void export_affine(exporter *e, const axnn_node *n, const char *in, const char *out)
{
    const axnn_value *x = &e->m->values[n->in[0]];
    int64_t d4[4] = {1, (int64_t)n->cn, 1, 1}, d1 = (int64_t)n->cn;
    bool r4 = x->rank == 4 && n->cn > 1;
    char *sn = ex_str(e, out, "_affine_scale"), *bn = ex_str(e, out, "_affine_bias"), *mid = ex_str(e, out, "_scaled");
    if (!sn || !bn || !mid) return;
    init_float(e, sn, n->cscale, r4 ? d4 : &d1, r4 ? 4 : 1, n->cn);
    init_float(e, bn, n->cbias, r4 ? d4 : &d1, r4 ? 4 : 1, n->cn);
    const char *mi[] = {in, sn}, *ai[] = {mid, bn};
    node(e, "Mul", ex_str(e, out, "_Mul"), mi, 2, mid);
    node(e, "Add", n->name, ai, 2, out);
}

static void export_node(exporter *e, const axnn_node *n)
{
    const char *out = e->m->values[n->out].name, *in[NN_MAX_IN];
    for (int i = 0; i < n->n_in; i++) in[i] = ref(e, n->in[i]);
    switch (n->op) {
    case NN_CONV: case NN_GEMM: export_layer(e, n); break;
    case NN_RELU: activation(e, n->name, NN_ACT_RELU, 0, 0, in[0], out); break;
    case NN_CLIP: activation(e, n->name, NN_ACT_CLIP, n->lo, n->hi, in[0], out); break;
    case NN_ADD: node(e, "Add", n->name, in, 2, out); break;
    case NN_MUL: node(e, "Mul", n->name, in, 2, out); break;
    case NN_CONCAT: attr_int(e, node(e, "Concat", n->name, in, (size_t)n->n_in, out), "axis", 1); break;
    case NN_MAXPOOL: case NN_AVGPOOL: export_pool(e, n, in[0], out); break;
    case NN_GAP: node(e, "GlobalAveragePool", n->name, in, 1, out); break;
    case NN_FLATTEN: attr_int(e, node(e, "Flatten", n->name, in, 1, out), "axis", 1); break;
    case NN_AFFINE: export_affine(e, n, in[0], out); break;
    case NN_SOFTMAX: attr_int(e, node(e, "Softmax", n->name, in, 1, out), "axis", 1); break;
    }
    qdq(e, n->out);
}

/* ---- graph and model ---- */
static Onnx__ValueInfoProto *value_info(exporter *e, const char *name, const axnn_value *v)
{
    Onnx__ValueInfoProto *vi = ex_alloc(e, sizeof *vi);
    Onnx__TypeProto *t = ex_alloc(e, sizeof *t);
    Onnx__TypeProto__Tensor *tt = ex_alloc(e, sizeof *tt);
    Onnx__TensorShapeProto *sh = ex_alloc(e, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = ex_alloc(e, 4 * sizeof *dims);
    if (!vi || !t || !tt || !sh || !dims) return NULL;
    onnx__value_info_proto__init(vi), onnx__type_proto__init(t), onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    int64_t d[4] = {0, (int64_t)v->c, (int64_t)v->h, (int64_t)v->w};
    for (int i = 0; i < v->rank; i++) {
        dims[i] = ex_alloc(e, sizeof **dims);
        if (!dims[i]) return NULL;
        onnx__tensor_shape_proto__dimension__init(dims[i]);
        if (i == 0) dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM, dims[i]->dim_param = ex_str(e, "N", NULL);
        else dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, dims[i]->dim_value = d[i];
    }
    sh->n_dim = (size_t)v->rank, sh->dim = dims;
    tt->has_elem_type = true, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, t->tensor_type = tt;
    vi->name = ex_str(e, name, NULL), vi->type = t;
    return vi;
}

static void build_graph(exporter *e, Onnx__GraphProto *g)
{
    const ax_nn_model *m = e->m;
    qdq(e, m->input);
    for (size_t i = 0; i < m->n_nodes; i++) export_node(e, &m->nodes[i]);
    const char *last = ref(e, m->output);
    if (strcmp(last, m->output_name)) node(e, "Identity", "output_Identity", &last, 1, m->output_name);
    g->name = ex_str(e, "autoapprox", NULL);
    g->n_input = 1, g->input = ex_alloc(e, sizeof *g->input);
    g->n_output = 1, g->output = ex_alloc(e, sizeof *g->output);
    if (!g->input || !g->output) return;
    g->input[0] = value_info(e, m->input_name, &m->values[m->input]);
    g->output[0] = value_info(e, m->output_name, &m->values[m->output]);
    g->n_node = e->n_nodes, g->node = e->nodes;
    g->n_initializer = e->n_inits, g->initializer = e->inits;
}

static void build_model(exporter *e, Onnx__ModelProto *mp, Onnx__GraphProto *g)
{
    Onnx__OperatorSetIdProto *op = ex_alloc(e, sizeof *op), **ops = ex_alloc(e, sizeof *ops);
    Onnx__StringStringEntryProto **meta = ex_alloc(e, (e->m->n_meta + 1) * sizeof *meta);
    if (!op || !ops || !meta) return;
    onnx__operator_set_id_proto__init(op);
    op->domain = ex_str(e, "", NULL), op->has_version = true, op->version = 13;
    ops[0] = op;
    mp->has_ir_version = true, mp->ir_version = 7;
    mp->n_opset_import = 1, mp->opset_import = ops;
    mp->producer_name = ex_str(e, "autoapprox", NULL);
    mp->graph = g;
    for (size_t i = 0; i < e->m->n_meta; i++) {
        meta[i] = ex_alloc(e, sizeof **meta);
        if (!meta[i]) return;
        onnx__string_string_entry_proto__init(meta[i]);
        meta[i]->key = ex_str(e, e->m->meta_key[i], NULL), meta[i]->value = ex_str(e, e->m->meta_val[i], NULL);
    }
    mp->n_metadata_props = e->m->n_meta, mp->metadata_props = meta;
}

static void ex_free(exporter *e)
{
    for (size_t i = 0; i < e->n_blocks; i++) free(e->blocks[i]);
    free(e->blocks), free(e->nodes), free(e->inits);
}

int ax_nn_save_onnx(const ax_nn_model *m, const char *path, ax_error *err)
{
    exporter e = {.m = m};
    Onnx__ModelProto mp;
    Onnx__GraphProto g;
    onnx__model_proto__init(&mp);
    onnx__graph_proto__init(&g);
    build_graph(&e, &g);
    build_model(&e, &mp, &g);
    int rc = -1;
    if (e.failed) {
        ax_fail(err, "%s: out of memory while building the model", path);
    } else {
        size_t len = onnx__model_proto__get_packed_size(&mp);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) ax_fail(err, "%s: out of memory (%zu bytes)", path, len);
        else {
            onnx__model_proto__pack(&mp, buf);
            rc = ax_write_file_atomic(path, buf, len, err);
            free(buf);
        }
    }
    ex_free(&e);
    return rc;
}
