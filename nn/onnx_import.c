/* onnx_import.c - reads an ONNX model (protobuf-c over the ONNX schema) into
 * the IR: checks the opset, loads initializers, binds the graph input, hands
 * every node to onnx_ops.c, and binds the graph output. */
#include "onnx_import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int axnn_node_fail(axnn_import *c, const Onnx__NodeProto *nd, const char *fmt, ...)
{
    char msg[AX_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = nd->name && nd->name[0] ? nd->name : (nd->n_output ? nd->output[0] : "(unnamed)");
    return ax_fail(c->err, "%s: node '%s' (%s): %s", c->what, name, nd->op_type ? nd->op_type : "?", msg);
}

const axnn_name *axnn_lookup(const axnn_import *c, const char *name)
{
    for (size_t i = c->n_names; i-- > 0;)
        if (!strcmp(c->names[i].name, name)) return &c->names[i];
    return NULL;
}

int axnn_bind(axnn_import *c, const char *name, int value, int cst)
{
    if (c->n_names == c->cap_names) {
        size_t cap = c->cap_names ? c->cap_names * 2 : 128;
        axnn_name *n = realloc(c->names, cap * sizeof *n);
        if (!n) return ax_fail(c->err, "%s: out of memory", c->what);
        c->names = n, c->cap_names = cap;
    }
    axnn_name *n = &c->names[c->n_names];
    n->name = axnn_strdup(name);
    if (!n->name) return ax_fail(c->err, "%s: out of memory", c->what);
    n->value = value, n->cst = cst;
    c->n_names++;
    return 0;
}

void axnn_const_free(axnn_const *k)
{
    free(k->name), free(k->f), free(k->i), free(k->scale), free(k->zp);
    memset(k, 0, sizeof *k);
}

int axnn_add_const(axnn_import *c, const char *name, axnn_const *k)
{
    if (c->n_consts == c->cap_consts) {
        size_t cap = c->cap_consts ? c->cap_consts * 2 : 128;
        axnn_const *n = realloc(c->consts, cap * sizeof *n);
        if (!n) {
            axnn_const_free(k);
            return ax_fail(c->err, "%s: out of memory", c->what);
        }
        c->consts = n, c->cap_consts = cap;
    }
    k->name = axnn_strdup(name);
    c->consts[c->n_consts] = *k;
    return axnn_bind(c, name, -1, (int)c->n_consts++);
}

int axnn_name_uses(const axnn_import *c, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < c->g->n_node; i++)
        for (size_t j = 0; j < c->g->node[i]->n_input; j++) n += !strcmp(c->g->node[i]->input[j], name);
    for (size_t i = 0; i < c->g->n_output; i++) n += !strcmp(c->g->output[i]->name, name);
    return n;
}

/* ---- tensors ---- */
static size_t elem_size(int t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return 8;
    default: return 0;
    }
}

static int64_t raw_int(const uint8_t *p, int t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (int8_t)p[0];
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return p[0];
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        return (int32_t)u;
    }
    default: {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
        return (int64_t)u;
    }
    }
}

static float raw_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Typed fields: float_data, int32_data (int8/uint8/int32), int64_data. */
static int typed_value(const Onnx__TensorProto *t, size_t i, float *f, int64_t *v)
{
    switch (t->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        if (i >= t->n_float_data) return -1;
        *f = t->float_data[i];
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        if (i >= t->n_int64_data) return -1;
        *v = t->int64_data[i];
        return 0;
    default:
        if (i >= t->n_int32_data) return -1;
        *v = t->int32_data[i];
        return 0;
    }
}

static int tensor_shape(axnn_import *c, const Onnx__TensorProto *t, const char *name, axnn_const *k)
{
    if (t->n_dims > 8) return ax_fail(c->err, "%s: tensor '%s' has %zu dimensions (8 at most)", c->what, name, t->n_dims);
    k->ndims = (int)t->n_dims;
    k->numel = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || (t->dims[d] && k->numel > (SIZE_MAX / 16) / (size_t)t->dims[d]))
            return ax_fail(c->err, "%s: tensor '%s' has an invalid dimension %lld", c->what, name, (long long)t->dims[d]);
        k->dims[d] = t->dims[d];
        k->numel *= (size_t)t->dims[d];
    }
    return 0;
}

int axnn_tensor_to_const(axnn_import *c, const Onnx__TensorProto *t, const char *name, axnn_const *k)
{
    memset(k, 0, sizeof *k);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return ax_fail(c->err, "%s: tensor '%s' keeps its data in an external file (unsupported)", c->what, name);
    size_t es = elem_size(t->data_type);
    if (!es) return ax_fail(c->err, "%s: tensor '%s' has data type %d (float, int8, uint8, int32, int64 supported)",
                            c->what, name, t->data_type);
    if (tensor_shape(c, t, name, k) != 0) return -1;
    k->elem = t->data_type;
    bool is_float = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    if (t->has_raw_data && t->raw_data.len != k->numel * es)
        return ax_fail(c->err, "%s: tensor '%s' holds %zu bytes, its shape needs %zu", c->what, name, t->raw_data.len,
                       k->numel * es);
    size_t typed = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? t->n_float_data
                   : t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? t->n_int64_data : t->n_int32_data;
    if (!t->has_raw_data && typed < k->numel)
        return ax_fail(c->err, "%s: tensor '%s' holds %zu values, its shape needs %zu", c->what, name, typed, k->numel);
    k->f = malloc((k->numel ? k->numel : 1) * sizeof *k->f);
    k->i = is_float ? NULL : malloc((k->numel ? k->numel : 1) * sizeof *k->i);
    if (!k->f || (!is_float && !k->i)) {
        axnn_const_free(k);
        return ax_fail(c->err, "%s: out of memory for tensor '%s'", c->what, name);
    }
    for (size_t i = 0; i < k->numel; i++) {
        float f = 0;
        int64_t v = 0;
        if (t->has_raw_data) {
            const uint8_t *p = t->raw_data.data + i * es;
            if (is_float) f = raw_float(p);
            else v = raw_int(p, t->data_type);
        } else if (typed_value(t, i, &f, &v) != 0) {
            axnn_const_free(k);
            return ax_fail(c->err, "%s: tensor '%s' holds fewer values than its shape needs", c->what, name);
        } else if ((t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 && (v < -128 || v > 127)) ||
                   (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 && (v < 0 || v > 255))) {
            /* int32_data carries int8/uint8 values as int32: they must fit */
            axnn_const_free(k);
            return ax_fail(c->err, "%s: tensor '%s' holds %lld, out of range for %s", c->what, name, (long long)v,
                           t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ? "int8" : "uint8");
        }
        k->f[i] = is_float ? f : (float)v;
        if (!is_float) k->i[i] = v;
    }
    return 0;
}

/* ---- attributes ---- */
const Onnx__AttributeProto *axnn_attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && !strcmp(nd->attribute[i]->name, name)) return nd->attribute[i];
    return NULL;
}

int64_t axnn_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = axnn_attr(nd, name);
    return a && a->has_i ? a->i : def;
}

float axnn_attr_float(const Onnx__NodeProto *nd, const char *name, float def)
{
    const Onnx__AttributeProto *a = axnn_attr(nd, name);
    return a && a->has_f ? a->f : def;
}

size_t axnn_attr_ints(const Onnx__NodeProto *nd, const char *name, int64_t *out, size_t max)
{
    const Onnx__AttributeProto *a = axnn_attr(nd, name);
    if (!a) return 0;
    for (size_t i = 0; i < a->n_ints && i < max; i++) out[i] = a->ints[i];
    return a->n_ints;
}

int axnn_check_attrs(axnn_import *c, const Onnx__NodeProto *nd, const char *const *allowed)
{
    for (size_t i = 0; i < nd->n_attribute; i++) {
        const char *n = nd->attribute[i]->name ? nd->attribute[i]->name : "";
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(*a, n);
        if (!ok) return axnn_node_fail(c, nd, "unsupported attribute '%s'", n);
    }
    return 0;
}

/* ---- the graph ---- */
static int check_opset(axnn_import *c, const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (o->domain && o->domain[0] && strcmp(o->domain, "ai.onnx")) continue;
        c->m->opset = o->version;
    }
    if (c->m->opset < 7 || c->m->opset > 21)
        return ax_fail(c->err, "%s: ONNX opset %lld unsupported (7..21 are)", c->what, (long long)c->m->opset);
    return 0;
}

static int load_initializers(axnn_import *c)
{
    for (size_t i = 0; i < c->g->n_initializer; i++) {
        const Onnx__TensorProto *t = c->g->initializer[i];
        const char *name = t->name ? t->name : "";
        axnn_const k;
        if (axnn_tensor_to_const(c, t, name, &k) != 0 || axnn_add_const(c, name, &k) != 0) return -1;
    }
    return 0;
}

static int bind_input(axnn_import *c)
{
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < c->g->n_input; i++) {
        if (axnn_lookup(c, c->g->input[i]->name)) continue; /* an initializer listed as input */
        if (in) return ax_fail(c->err, "%s: more than one graph input ('%s', '%s'); one image input is supported",
                               c->what, in->name, c->g->input[i]->name);
        in = c->g->input[i];
    }
    if (!in) return ax_fail(c->err, "%s: the graph has no input", c->what);
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape)
        return ax_fail(c->err, "%s: graph input '%s' has no tensor shape", c->what, in->name);
    if (t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return ax_fail(c->err, "%s: graph input '%s' is not float", c->what, in->name);
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    int64_t d[4] = {1, 1, 1, 1};
    if (s->n_dim != 4 && s->n_dim != 2)
        return ax_fail(c->err, "%s: graph input '%s' has rank %zu (NCHW or [N, features] supported)", c->what, in->name, s->n_dim);
    for (size_t i = 1; i < s->n_dim; i++) {
        if (s->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || s->dim[i]->dim_value <= 0 ||
            s->dim[i]->dim_value > (1 << 24))
            return ax_fail(c->err, "%s: graph input '%s' needs fixed sizes past the batch dimension", c->what, in->name);
        d[i] = s->dim[i]->dim_value;
    }
    if (d[1] * d[2] * d[3] > ((int64_t)1 << 28))
        return ax_fail(c->err, "%s: graph input '%s' is too large per image", c->what, in->name);
    int v = axnn_add_value(c->m, in->name, (int)s->n_dim, (size_t)d[1], (size_t)d[2], (size_t)d[3]);
    if (v < 0 || axnn_bind(c, in->name, v, -1) != 0) return ax_fail(c->err, "%s: out of memory", c->what);
    c->m->input = v;
    c->m->input_name = axnn_strdup(in->name);
    return 0;
}

static int bind_output(axnn_import *c)
{
    if (c->g->n_output != 1) return ax_fail(c->err, "%s: the graph has %zu outputs (one is supported)", c->what, c->g->n_output);
    const char *name = c->g->output[0]->name;
    const axnn_name *n = axnn_lookup(c, name);
    if (!n || n->value < 0) return ax_fail(c->err, "%s: graph output '%s' is not computed by any node", c->what, name);
    c->m->output = n->value;
    c->m->output_name = axnn_strdup(name);
    return 0;
}

static int copy_meta(axnn_import *c, const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = mp->metadata_props[i];
        if (e->key && e->value && axnn_set_meta(c->m, e->key, e->value) != 0)
            return ax_fail(c->err, "%s: out of memory", c->what);
    }
    return 0;
}

/* proto2 leaves absent strings NULL: graph inputs and outputs need names. */
static int check_names(axnn_import *c)
{
    for (size_t i = 0; i < c->g->n_input; i++)
        if (!c->g->input[i]->name) return ax_fail(c->err, "%s: graph input %zu has no name", c->what, i);
    for (size_t i = 0; i < c->g->n_output; i++)
        if (!c->g->output[i]->name) return ax_fail(c->err, "%s: graph output %zu has no name", c->what, i);
    return 0;
}

static int import_graph(axnn_import *c, const Onnx__ModelProto *mp)
{
    if (!mp->graph) return ax_fail(c->err, "%s: the model has no graph", c->what);
    c->g = mp->graph;
    if (check_names(c) != 0) return -1;
    if (check_opset(c, mp) != 0 || copy_meta(c, mp) != 0 || load_initializers(c) != 0 || bind_input(c) != 0) return -1;
    for (size_t i = 0; i < c->g->n_node; i++)
        if (axnn_import_node(c, c->g->node[i]) != 0) return -1;
    if (bind_output(c) != 0) return -1;
    axnn_propagate_qparams(c->m);
    if (ax_nn_layer_count(c->m) == 0) return ax_fail(c->err, "%s: the model has no Conv, Gemm or MatMul layer", c->what);
    return 0;
}

static void import_free(axnn_import *c)
{
    for (size_t i = 0; i < c->n_consts; i++) axnn_const_free(&c->consts[i]);
    for (size_t i = 0; i < c->n_names; i++) free(c->names[i].name);
    free(c->consts), free(c->names);
}

int ax_nn_decode_onnx(const uint8_t *buf, size_t len, const char *what, ax_nn_model **out, ax_error *err)
{
    *out = NULL;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) return ax_fail(err, "%s: not an ONNX model (protobuf parse failed: truncated or corrupt)", what);
    axnn_import c = {.what = what, .err = err};
    c.m = calloc(1, sizeof *c.m);
    int rc = c.m ? import_graph(&c, mp) : ax_fail(err, "%s: out of memory", what);
    onnx__model_proto__free_unpacked(mp, NULL);
    import_free(&c);
    if (rc != 0) {
        ax_nn_free(c.m);
        return -1;
    }
    ax_sha256_hex(buf, len, c.m->sha256);
    *out = c.m;
    return 0;
}

int ax_nn_load_onnx(const char *path, ax_nn_model **out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    if (ax_read_file(path, AX_NN_MAX_FILE, &buf, &len, err) != 0) return -1;
    int rc = ax_nn_decode_onnx(buf, len, path, out, err);
    free(buf);
    return rc;
}
