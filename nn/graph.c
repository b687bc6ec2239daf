/* graph.c - the IR's plumbing: adding values and nodes, metadata, layer
 * queries, preprocessing and scoring helpers, and freeing a model. */
#include "nn_internal.h"

#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *axnn_strdup(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s ? s : "", n);
    return d;
}

int axnn_add_value(ax_nn_model *m, const char *name, int rank, size_t c, size_t h, size_t w)
{
    if (m->n_values == m->cap_values) {
        size_t cap = m->cap_values ? m->cap_values * 2 : 64;
        axnn_value *v = realloc(m->values, cap * sizeof *v);
        if (!v) return -1;
        m->values = v, m->cap_values = cap;
    }
    axnn_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->name = axnn_strdup(name);
    if (!v->name) return -1;
    v->rank = rank, v->c = c, v->h = h, v->w = w;
    v->producer = -1;
    return (int)m->n_values++;
}

axnn_node *axnn_add_node(ax_nn_model *m, axnn_op op, const char *name, const char *onnx_op)
{
    if (m->n_nodes == m->cap_nodes) {
        size_t cap = m->cap_nodes ? m->cap_nodes * 2 : 64;
        axnn_node *n = realloc(m->nodes, cap * sizeof *n);
        if (!n) return NULL;
        m->nodes = n, m->cap_nodes = cap;
    }
    axnn_node *n = &m->nodes[m->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = axnn_strdup(name);
    n->onnx_op = axnn_strdup(onnx_op);
    n->out = -1;
    n->sh = n->sw = n->dh = n->dw = n->groups = 1;
    if (!n->name || !n->onnx_op) return NULL;
    m->n_nodes++;
    return n;
}

size_t axnn_value_size(const axnn_value *v)
{
    return v->c * v->h * v->w;
}

bool axnn_is_layer(const axnn_node *n)
{
    return n->op == NN_CONV || n->op == NN_GEMM;
}

int axnn_consumers(const ax_nn_model *m, int v)
{
    int c = v == m->output;
    for (size_t i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++) c += m->nodes[i].in[j] == v;
    return c;
}

const char *axnn_node_desc(const axnn_node *n, char *buf, size_t size)
{
    snprintf(buf, size, "node '%s' (%s)", n->name[0] ? n->name : "(unnamed)", n->onnx_op);
    return buf;
}

int axnn_set_meta(ax_nn_model *m, const char *key, const char *val)
{
    for (size_t i = 0; i < m->n_meta; i++) {
        if (strcmp(m->meta_key[i], key)) continue;
        char *v = axnn_strdup(val);
        if (!v) return -1;
        free(m->meta_val[i]);
        m->meta_val[i] = v;
        return 0;
    }
    char **k = realloc(m->meta_key, (m->n_meta + 1) * sizeof *k);
    if (!k) return -1;
    m->meta_key = k;
    char **v = realloc(m->meta_val, (m->n_meta + 1) * sizeof *v);
    if (!v) return -1;
    m->meta_val = v;
    k[m->n_meta] = axnn_strdup(key);
    v[m->n_meta] = axnn_strdup(val);
    if (!k[m->n_meta] || !v[m->n_meta]) return -1;
    m->n_meta++;
    return 0;
}

int ax_nn_set_meta(ax_nn_model *m, const char *key, const char *val, ax_error *err)
{
    return axnn_set_meta(m, key, val) == 0 ? 0 : ax_fail(err, "model metadata: out of memory");
}

const char *ax_nn_meta(const ax_nn_model *m, const char *key)
{
    for (size_t i = 0; i < m->n_meta; i++)
        if (!strcmp(m->meta_key[i], key)) return m->meta_val[i];
    return NULL;
}

static void free_node(axnn_node *n)
{
    free(n->name), free(n->onnx_op), free(n->layer), free(n->preact);
    free(n->weight), free(n->bias), free(n->cscale), free(n->cbias);
    free(n->wq.scale), free(n->wq.zp), free(n->wq.q), free(n->wq.bias_q);
}

void ax_nn_free(ax_nn_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_nodes; i++) free_node(&m->nodes[i]);
    for (size_t i = 0; i < m->n_values; i++) free(m->values[i].name);
    for (size_t i = 0; i < m->n_meta; i++) free(m->meta_key[i]), free(m->meta_val[i]);
    free(m->meta_key), free(m->meta_val);
    free(m->nodes), free(m->values), free(m->input_name), free(m->output_name);
    free(m);
}

const char *ax_nn_sha256(const ax_nn_model *m)
{
    return m->sha256;
}

bool ax_nn_is_quantized(const ax_nn_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const axnn_node *n = &m->nodes[i];
        if (axnn_is_layer(n) && (!n->wq.set || !m->values[n->in[0]].q.set)) return false;
    }
    return m->values[m->input].q.set;
}

bool axnn_passes_through(const axnn_node *n)
{
    return n->op == NN_MAXPOOL || n->op == NN_FLATTEN;
}

void axnn_propagate_qparams(ax_nn_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const axnn_node *n = &m->nodes[i];
        axnn_value *y = &m->values[n->out];
        if (axnn_passes_through(n) && !y->q.set && n->out != m->output) y->q = m->values[n->in[0]].q;
    }
}

void ax_nn_input_shape(const ax_nn_model *m, size_t *h, size_t *w, size_t *c)
{
    const axnn_value *v = &m->values[m->input];
    *h = v->h, *w = v->w, *c = v->c;
}

size_t ax_nn_output_size(const ax_nn_model *m)
{
    return axnn_value_size(&m->values[m->output]);
}

static const axnn_node *layer_at(const ax_nn_model *m, size_t i)
{
    for (size_t j = 0; j < m->n_nodes; j++)
        if (axnn_is_layer(&m->nodes[j]) && i-- == 0) return &m->nodes[j];
    return NULL;
}

size_t ax_nn_layer_count(const ax_nn_model *m)
{
    size_t c = 0;
    for (size_t j = 0; j < m->n_nodes; j++) c += axnn_is_layer(&m->nodes[j]);
    return c;
}

void ax_nn_layer_get(const ax_nn_model *m, size_t i, ax_nn_layer_info *out)
{
    const axnn_node *n = layer_at(m, i);
    memset(out, 0, sizeof *out);
    if (!n) return;
    const axnn_value *y = &m->values[n->out];
    out->name = n->layer;
    out->op = n->onnx_op;
    out->groups = n->groups;
    out->k = n->kh * n->kw * (n->ic / n->groups);
    out->n = n->oc;
    out->macs = out->k * n->oc * y->h * y->w;
    const axnn_value *x = &m->values[n->in[0]];
    out->in_h = x->h, out->in_w = x->w, out->in_c = n->ic;
    out->out_h = y->h, out->out_w = y->w;
    out->kernel_h = n->kh, out->kernel_w = n->kw, out->stride_h = n->sh, out->stride_w = n->sw;
    out->pad_h = n->pt + n->pb, out->pad_w = n->pl + n->pr, out->dilation_h = n->dh, out->dilation_w = n->dw;
}

int ax_nn_layer_find(const ax_nn_model *m, const char *name)
{
    size_t n = ax_nn_layer_count(m);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(layer_at(m, i)->layer, name)) return (int)i;
    return -1;
}

static float meta_float(const ax_nn_model *m, const char *key, float def, bool *found)
{
    const char *s = ax_nn_meta(m, key);
    if (!s) return def;
    char *end;
    double v = strtod(s, &end);
    if (end == s) return def;
    *found = true;
    return (float)v;
}

void ax_nn_preprocess_get(const ax_nn_model *m, ax_nn_preprocess *p)
{
    p->from_metadata = false;
    p->scale = meta_float(m, "autoapprox.input.scale", 1.0f / 255.0f, &p->from_metadata);
    p->mean = meta_float(m, "autoapprox.input.mean", 0.0f, &p->from_metadata);
    p->std = meta_float(m, "autoapprox.input.std", 1.0f, &p->from_metadata);
    if (p->std == 0.0f) p->std = 1.0f;
}

void ax_nn_preprocess_apply(const ax_nn_preprocess *p, const uint8_t *pixels, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = ((float)pixels[i] * p->scale - p->mean) / p->std;
}

size_t ax_nn_rank(const float *scores, size_t n, size_t label)
{
    if (label >= n) return n;
    size_t r = 0;
    float v = scores[label];
    for (size_t j = 0; j < n; j++) r += scores[j] > v || (scores[j] == v && j < label);
    return r;
}
