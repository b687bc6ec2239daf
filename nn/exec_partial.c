/* exec_partial.c - runs part of a quantized network: a snapshot of the
 * tensors live before one conv/FC layer, taken from a run (the exact one in
 * the router's sensitivity pass), and runs of the suffix from that snapshot
 * with another multiplier on one layer. The suffix executes the very nodes
 * and kernels a full run executes, so its results are bit-identical to a full
 * run with the same multipliers; only the prefix is not recomputed. */
#include "exec_internal.h"

#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>

struct ax_nn_snapshot {
    const ax_nn_model *m;
    size_t batch;
    size_t node;  /* the node of layer `layer`: the next to run */
    size_t layer;
    rt_val *vals; /* the values live before `node`, owned */
};

static int oom(ax_error *err, size_t batch)
{
    return ax_fail(err, "partial run: out of memory (batch %zu)", batch);
}

/* Node index of conv/FC layer `layer`; n_nodes when there is none. */
static size_t node_of_layer(const ax_nn_model *m, size_t layer)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (axnn_is_layer(&m->nodes[i]) && layer-- == 0) return i;
    return m->n_nodes;
}

static void free_vals(const ax_nn_model *m, rt_val *v)
{
    for (size_t i = 0; v && i < m->n_values; i++) axnn_pool_give(NULL, v[i].f), axnn_pool_give(NULL, v[i].q);
    free(v);
}

/* Runs nodes [from, to) of c; *layer is the layer index at `from`. */
static int run_nodes(run_ctx *c, size_t from, size_t to, size_t *layer)
{
    for (size_t i = from; i < to; i++)
        if (axnn_run_node(c, i, layer) != 0) return -1;
    return 0;
}

int ax_nn_snapshot_take(ax_nn_runtime *rt, size_t batch, const float *input, size_t layer, int threads,
                        ax_nn_snapshot **out, ax_error *err)
{
    const ax_nn_model *m = rt->m;
    *out = NULL;
    if (batch == 0) return ax_fail(err, "partial run: empty batch");
    if (layer >= rt->n_layers) return ax_fail(err, "partial run: layer %zu of %zu", layer, rt->n_layers);
    ax_nn_snapshot *s = calloc(1, sizeof *s);
    run_ctx c = {m, rt, batch, threads, calloc(m->n_values, sizeof(rt_val)), axnn_last_uses(m), err, NULL};
    size_t in_n = batch * axnn_value_size(&m->values[m->input]);
    if (c.vals) c.vals[m->input].f = axnn_val_alloc(&c, in_n * sizeof(float));
    int rc = s && c.last_use && c.vals && c.vals[m->input].f ? 0 : oom(err, batch);
    if (rc == 0) {
        memcpy(c.vals[m->input].f, input, in_n * sizeof(float));
        *s = (ax_nn_snapshot){m, batch, node_of_layer(m, layer), 0, c.vals};
        rc = axnn_settle(&c, m->input);
    }
    if (rc == 0) rc = run_nodes(&c, 0, s->node, &s->layer);
    free(c.last_use);
    if (rc != 0) {
        free_vals(m, c.vals);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

size_t ax_nn_snapshot_layer(const ax_nn_snapshot *s) { return s->layer; }
size_t ax_nn_snapshot_batch(const ax_nn_snapshot *s) { return s->batch; }

void ax_nn_snapshot_free(ax_nn_snapshot *s)
{
    if (!s) return;
    free_vals(s->m, s->vals);
    free(s);
}

static rt_val *copy_vals(const ax_nn_snapshot *s)
{
    const ax_nn_model *m = s->m;
    rt_val *v = calloc(m->n_values, sizeof *v);
    for (size_t i = 0; v && i < m->n_values; i++) {
        size_t n = s->batch * axnn_value_size(&m->values[i]);
        if (s->vals[i].f && (v[i].f = axnn_pool_alloc(NULL, n * sizeof(float)))) memcpy(v[i].f, s->vals[i].f, n * sizeof(float));
        if (s->vals[i].q && (v[i].q = axnn_pool_alloc(NULL, n ? n : 1))) memcpy(v[i].q, s->vals[i].q, n);
        if ((s->vals[i].f && !v[i].f) || (s->vals[i].q && !v[i].q)) {
            free_vals(m, v);
            return NULL;
        }
    }
    return v;
}

int ax_nn_snapshot_copy(const ax_nn_snapshot *s, ax_nn_snapshot **out, ax_error *err)
{
    *out = calloc(1, sizeof **out);
    rt_val *v = *out ? copy_vals(s) : NULL;
    if (!v) {
        free(*out);
        *out = NULL;
        return oom(err, s->batch);
    }
    **out = *s;
    (*out)->vals = v;
    return 0;
}

/* The layer's output, just computed, as dequantized floats. */
static int read_layer(run_ctx *c, int v, float *out)
{
    const axnn_value *x = &c->m->values[v];
    size_t n = c->batch * axnn_value_size(x);
    if (c->vals[v].q) {
        axnn_dequantize_run(c, &x->q, c->vals[v].q, n, out);
        return 0;
    }
    if (!c->vals[v].f) return ax_fail(c->err, "partial run: layer output missing");
    memcpy(out, c->vals[v].f, n * sizeof(float));
    return 0;
}

int ax_nn_snapshot_advance(ax_nn_snapshot *s, ax_nn_runtime *rt, float *layer_out, int threads, ax_error *err)
{
    if (s->layer >= rt->n_layers) return ax_fail(err, "partial run: the snapshot is past the last layer");
    run_ctx c = {s->m, rt, s->batch, threads, s->vals, axnn_last_uses(s->m), err, NULL};
    if (!c.last_use) return oom(err, s->batch);
    size_t to = node_of_layer(s->m, s->layer + 1), layer = s->layer;
    int rc = 0;
    for (size_t i = s->node; rc == 0 && i < to; i++) {
        rc = axnn_run_node(&c, i, &layer);
        if (rc == 0 && i == s->node && layer_out) rc = read_layer(&c, s->m->nodes[i].out, layer_out);
    }
    free(c.last_use);
    if (rc != 0) return -1; /* the snapshot is now unusable: the caller frees it */
    s->node = to, s->layer = layer;
    return 0;
}

static int run_suffix(run_ctx *c, const ax_nn_snapshot *s, size_t layer, float *output, float *layer_out)
{
    const ax_nn_model *m = s->m;
    size_t at = s->layer, target = node_of_layer(m, layer);
    for (size_t i = s->node; i < m->n_nodes; i++) {
        if (axnn_run_node(c, i, &at) != 0) return -1;
        if (i == target && layer_out && read_layer(c, m->nodes[i].out, layer_out) != 0) return -1;
        if (i == target && !output) return 0; /* the layer's output was all the caller wanted */
    }
    const float *y = axnn_get_float(c, m->output);
    if (!y) return oom(c->err, s->batch);
    memcpy(output, y, s->batch * axnn_value_size(&m->values[m->output]) * sizeof(float));
    return 0;
}

int ax_nn_run_from(const ax_nn_snapshot *s, ax_nn_runtime *rt, size_t layer, ax_nn_runtime *with, float *output,
                   float *layer_out, int threads, ax_error *err)
{
    if (rt->m != s->m || (with && with->m != s->m))
        return ax_fail(err, "partial run: runtime and snapshot belong to different models");
    if (layer < s->layer || layer >= rt->n_layers)
        return ax_fail(err, "partial run: layer %zu is not in the suffix from layer %zu", layer, s->layer);
    /* rt with one layer swapped: a shallow copy sharing rt's prepared layers;
     * its buffer pool and scratch go back to rt after the run (they may grow).
     * The run reads the snapshot's buffers in place (every op reads its
     * inputs and writes a new value) and takes the rest from rt's pool, so
     * a steady stream of runs copies nothing and allocates nothing. */
    ax_nn_runtime mixed = *rt;
    mixed.layers = malloc(rt->n_layers * sizeof *mixed.layers);
    const ax_nn_model *m = s->m;
    run_ctx c = {m, &mixed, s->batch, threads, calloc(m->n_values, sizeof(rt_val)), axnn_last_uses(m), err, s->vals};
    int rc = mixed.layers && c.vals && c.last_use ? 0 : oom(err, s->batch);
    if (rc == 0) {
        memcpy(c.vals, s->vals, m->n_values * sizeof(rt_val));
        memcpy(mixed.layers, rt->layers, rt->n_layers * sizeof *mixed.layers);
        if (with) mixed.layers[layer] = with->layers[layer];
        rc = run_suffix(&c, s, layer, output, layer_out);
    }
    for (size_t i = 0; c.vals && i < m->n_values; i++) axnn_release(&c, (int)i);
    free(c.vals);
    rt->pool = mixed.pool, rt->scratch = mixed.scratch;
    free(c.last_use), free(mixed.layers);
    return rc;
}

size_t ax_nn_layer_output_size(const ax_nn_model *m, size_t layer)
{
    size_t i = node_of_layer(m, layer);
    return i < m->n_nodes ? axnn_value_size(&m->values[m->nodes[i].out]) : 0;
}
