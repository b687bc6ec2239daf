/* exec.c - runs the IR on a batch: the float reference (calibration, tests)
 * and the quantized runtime. In the quantized run every conv/FC layer reads
 * and writes bytes through its multiplier (layer_q.c); the ops between
 * layers compute in float on dequantized inputs and quantize their output
 * when it carries quantization parameters, which is what a QDQ graph means. */
#include "exec_internal.h"

#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Activation buffers: from the runtime's pool, malloc for the float reference. */
void *axnn_val_alloc(run_ctx *c, size_t bytes)
{
    return axnn_pool_alloc(c->rt ? &c->rt->pool : NULL, bytes ? bytes : 1);
}

void axnn_val_free(run_ctx *c, void *p)
{
    axnn_pool_give(c->rt ? &c->rt->pool : NULL, p);
}

static int threads_of(const run_ctx *c)
{
#ifdef _OPENMP
    if (c->threads <= 0) return omp_get_max_threads();
#endif
    return c->threads > 0 ? c->threads : 1;
}

static int oom(run_ctx *c)
{
    return ax_fail(c->err, "network run: out of memory (batch %zu)", c->batch);
}

/* The ISA of the runtime's kernels (AUTO for a float run), which its byte
 * loops outside the kernels follow too. */
static ax_isa run_isa(const run_ctx *c)
{
    return c->rt && c->rt->plans && c->rt->plans[0] ? ax_gemm_plan_isa(c->rt->plans[0]) : AX_ISA_AUTO;
}

/* Conversions run in pieces of this many values, shared out between threads. */
#define CONVERT_RUN ((size_t)16384)

float *axnn_get_float(run_ctx *c, int v)
{
    rt_val *r = &c->vals[v];
    if (r->f || !r->q) return r->f;
    size_t n = c->batch * axnn_value_size(&c->m->values[v]);
    r->f = axnn_val_alloc(c, n * sizeof *r->f);
    if (!r->f) return NULL;
    axnn_dequantize_run(c, &c->m->values[v].q, r->q, n, r->f);
    return r->f;
}

void axnn_dequantize_run(run_ctx *c, const axnn_qp *q, const uint8_t *x, size_t n, float *y)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads_of(c)) if (c->rt && n > 65536)
#endif
    for (size_t i = 0; i < n; i += CONVERT_RUN)
        axnn_dequantize_bytes(run_isa(c), q, x + i, n - i < CONVERT_RUN ? n - i : CONVERT_RUN, y + i);
}

static uint8_t *get_bytes(run_ctx *c, int v)
{
    rt_val *r = &c->vals[v];
    if (r->q || !r->f) return r->q;
    size_t n = c->batch * axnn_value_size(&c->m->values[v]);
    r->q = axnn_val_alloc(c, n);
    if (!r->q) return NULL;
    const axnn_qp *q = &c->m->values[v].q;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads_of(c)) if (c->rt && n > 65536)
#endif
    for (size_t i = 0; i < n; i += CONVERT_RUN)
        axnn_quantize_floats(run_isa(c), q, r->f + i, n - i < CONVERT_RUN ? n - i : CONVERT_RUN, r->q + i);
    return r->q;
}

/* Quantized run: a float result of an annotated value becomes its bytes. */
int axnn_settle(run_ctx *c, int v)
{
    if (!c->rt || !c->m->values[v].q.set || !c->vals[v].f) return 0;
    if (!get_bytes(c, v)) return oom(c);
    axnn_val_free(c, c->vals[v].f);
    c->vals[v].f = NULL;
    return 0;
}

static int elementwise(run_ctx *c, const axnn_node *n, float *y, size_t count)
{
    const float *a = axnn_get_float(c, n->in[0]), *b = axnn_get_float(c, n->in[1]);
    if (!a || !b) return oom(c);
    for (size_t i = 0; i < count; i++) y[i] = n->op == NN_ADD ? a[i] + b[i] : a[i] * b[i];
    return 0;
}

static int concat(run_ctx *c, const axnn_node *n, float *y)
{
    const axnn_value *yv = &c->m->values[n->out];
    size_t pixels = c->batch * yv->h * yv->w, off = 0;
    for (int j = 0; j < n->n_in; j++) {
        const float *x = axnn_get_float(c, n->in[j]);
        if (!x) return oom(c);
        size_t xc = c->m->values[n->in[j]].c;
        for (size_t p = 0; p < pixels; p++) memcpy(y + p * yv->c + off, x + p * xc, xc * sizeof *y);
        off += xc;
    }
    return 0;
}

static int layer_q(run_ctx *c, const axnn_node *n, size_t layer, float *yf)
{
    const axnn_value *y = &c->m->values[n->out];
    const uint8_t *xq = get_bytes(c, n->in[0]);
    size_t count = c->batch * axnn_value_size(y);
    if (!xq) return oom(c);
    if (y->q.set) {
        c->vals[n->out].q = axnn_val_alloc(c, count);
        if (!c->vals[n->out].q) return oom(c);
    }
    return axnn_layer_run(c->rt->layers[layer], c->batch, xq, c->vals[n->out].q, yf, c->threads, &c->rt->scratch,
                          c->err);
}

static int float_op(run_ctx *c, const axnn_node *n, float *y)
{
    const axnn_value *x = &c->m->values[n->in[0]], *yv = &c->m->values[n->out];
    if (n->op == NN_ADD || n->op == NN_MUL) return elementwise(c, n, y, c->batch * axnn_value_size(yv));
    if (n->op == NN_CONCAT) return concat(c, n, y);
    const float *in = axnn_get_float(c, n->in[0]);
    if (!in) return oom(c);
    switch (n->op) {
    case NN_CONV:
        if (axnn_float_conv(n, x, yv, c->batch, in, y) != 0) return oom(c);
        break;
    case NN_GEMM: axnn_float_gemm(n, c->batch, in, y); break;
    case NN_RELU: case NN_CLIP:
        memcpy(y, in, c->batch * axnn_value_size(yv) * sizeof *y);
        axnn_float_act(n, y, c->batch * axnn_value_size(yv));
        break;
    case NN_MAXPOOL: case NN_AVGPOOL: axnn_float_pool(n, x, yv, c->batch, in, y); break;
    case NN_GAP: axnn_float_gap(x, c->batch, in, y); break;
    case NN_FLATTEN: axnn_float_flatten(x, c->batch, in, y); break;
    case NN_AFFINE: axnn_float_affine(n, x, c->batch, in, y); break;
    case NN_SOFTMAX: axnn_float_softmax(x, c->batch, in, y); break;
    default: break;
    }
    return 0;
}

/* MaxPool and Flatten on bytes, when the output keeps the input's
 * quantization: the same result as dequantize-op-quantize, without floats. */
static bool bytes_pass_through(run_ctx *c, const axnn_node *n)
{
    const axnn_value *x = &c->m->values[n->in[0]], *y = &c->m->values[n->out];
    if (!c->rt || !axnn_passes_through(n) || !c->vals[n->in[0]].q || !y->q.set || y->q.type != x->q.type ||
        y->q.scale != x->q.scale || y->q.zp != x->q.zp)
        return false;
    uint8_t *out = axnn_val_alloc(c, c->batch * axnn_value_size(y));
    if (!out) return false;
    if (n->op == NN_FLATTEN) axnn_bytes_flatten(x, c->batch, c->vals[n->in[0]].q, out);
    else axnn_bytes_maxpool(n, x, y, c->batch, c->vals[n->in[0]].q, out, c->threads);
    c->vals[n->out].q = out;
    return true;
}

/* Element-wise ops on quantized values, on their bytes (ops_q.c). */
static bool bytes_table_op(run_ctx *c, size_t i)
{
    const axnn_node *n = &c->m->nodes[i];
    const axnn_qop *op = c->rt ? c->rt->qop[i] : NULL;
    const uint8_t *a = op ? c->vals[n->in[0]].q : NULL, *b = n->n_in > 1 && a ? c->vals[n->in[1]].q : a;
    if (!a || !b) return false;
    size_t count = c->batch * axnn_value_size(&c->m->values[n->out]);
    uint8_t *out = axnn_val_alloc(c, count);
    if (!out) return false;
    axnn_qop_run(run_isa(c), op, a, b, out, count, c->threads);
    c->vals[op->next_fused ? c->m->nodes[i + 1].out : n->out].q = out; /* axnn_qop_fuse */
    return true;
}

void axnn_release(run_ctx *c, int v)
{
    const rt_val *b = c->borrowed ? &c->borrowed[v] : NULL;
    if (!b || c->vals[v].f != b->f) axnn_val_free(c, c->vals[v].f);
    if (!b || c->vals[v].q != b->q) axnn_val_free(c, c->vals[v].q);
    c->vals[v].f = NULL, c->vals[v].q = NULL;
}

int axnn_run_node(run_ctx *c, size_t i, size_t *layer)
{
    const axnn_node *n = &c->m->nodes[i];
    size_t count = c->batch * axnn_value_size(&c->m->values[n->out]);
    bool quant_layer = c->rt && axnn_is_layer(n);
    bool bytes_out = quant_layer && c->m->values[n->out].q.set;
    bool by_previous = c->rt && c->rt->qop[i] && c->rt->qop[i]->by_previous && c->vals[n->out].q;
    bool done = by_previous || (!quant_layer && (bytes_pass_through(c, n) || bytes_table_op(c, i)));
    float *y = bytes_out || done ? NULL : axnn_val_alloc(c, count * sizeof *y);
    if (!bytes_out && !done && !y) return oom(c);
    c->vals[n->out].f = y;
    int rc = done ? 0 : quant_layer ? layer_q(c, n, *layer, y) : float_op(c, n, y);
    if (axnn_is_layer(n)) (*layer)++;
    if (rc != 0) return -1;
    for (int j = 0; j < n->n_in; j++)
        if (c->last_use[n->in[j]] == (int)i && n->in[j] != c->m->output) axnn_release(c, n->in[j]);
    return axnn_settle(c, n->out);
}

int *axnn_last_uses(const ax_nn_model *m)
{
    int *u = malloc(m->n_values * sizeof *u);
    if (!u) return NULL;
    for (size_t v = 0; v < m->n_values; v++) u[v] = -1;
    for (size_t i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++) u[m->nodes[i].in[j]] = (int)i;
    return u;
}

static int run_all(run_ctx *c, const float *input, float *output, axnn_observe_fn obs, void *octx)
{
    const ax_nn_model *m = c->m;
    size_t in_n = c->batch * axnn_value_size(&m->values[m->input]);
    c->vals[m->input].f = axnn_val_alloc(c, in_n * sizeof(float));
    if (!c->vals[m->input].f) return oom(c);
    memcpy(c->vals[m->input].f, input, in_n * sizeof(float));
    if (obs) obs(m->input, input, in_n, octx);
    if (axnn_settle(c, m->input) != 0) return -1;
    size_t layer = 0;
    double *prof = c->rt ? c->rt->profile : NULL, t0 = prof ? axnn_now() : 0, t = t0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (axnn_run_node(c, i, &layer) != 0) return -1;
        if (prof) prof[i] = axnn_now() - t, t += prof[i];
        if (prof && axnn_is_layer(&m->nodes[i]))
            c->rt->kprofile[i] = axnn_layer_kernel_seconds(c->rt->layers[layer - 1]);
        const axnn_node *n = &m->nodes[i];
        if (obs) obs(n->out, c->vals[n->out].f, c->batch * axnn_value_size(&m->values[n->out]), octx);
    }
    const float *out = axnn_get_float(c, m->output);
    if (!out) return oom(c);
    memcpy(output, out, c->batch * axnn_value_size(&m->values[m->output]) * sizeof(float));
    if (prof) axnn_profile_print(m, c->batch, prof, c->rt->kprofile, axnn_now() - t0);
    return 0;
}

int axnn_execute(const ax_nn_model *m, ax_nn_runtime *rt, size_t batch, const float *input, float *output,
               int threads, axnn_observe_fn obs, void *ctx, ax_error *err)
{
    if (batch == 0) return 0;
    run_ctx c = {m, rt, batch, threads, calloc(m->n_values, sizeof(rt_val)), axnn_last_uses(m), err, NULL};
    int rc = c.vals && c.last_use ? run_all(&c, input, output, obs, ctx) : oom(&c);
    for (size_t v = 0; c.vals && v < m->n_values; v++) axnn_release(&c, (int)v);
    free(c.vals), free(c.last_use);
    return rc;
}

int ax_nn_run_float(const ax_nn_model *m, size_t batch, const float *input, float *output, ax_error *err)
{
    return axnn_execute(m, NULL, batch, input, output, 0, NULL, NULL, err);
}

/* ---- the quantized runtime ---- */
void ax_nn_runtime_free(ax_nn_runtime *rt)
{
    if (!rt) return;
    for (size_t i = 0; i < rt->n_layers; i++) {
        if (rt->layers) axnn_layer_free(rt->layers[i]);
        if (rt->plans && rt->own[i]) ax_gemm_plan_free(rt->plans[i]);
    }
    for (size_t i = 0; i < rt->n_folds; i++) ax_gemm_plan_free(rt->folds[i].plan);
    free(rt->folds);
    for (size_t i = 0; rt->qop && i < rt->m->n_nodes; i++) free(rt->qop[i]);
    free(rt->qop);
    axnn_scratch_free(&rt->scratch);
    axnn_pool_free(&rt->pool);
    free(rt->layers), free(rt->plans), free(rt->own), free(rt->warnings), free(rt->profile);
    free(rt->kprofile);
    free(rt);
}

/* One plan per distinct multiplier. */
static int plan_for(ax_nn_runtime *rt, const ax_mult *const *mults, size_t i, ax_error *err)
{
    for (size_t j = 0; j < i; j++)
        if (mults[j] == mults[i]) {
            rt->plans[i] = rt->plans[j];
            return 0;
        }
    rt->own[i] = true;
    return ax_gemm_plan_create(mults[i], rt->isa, rt->path, &rt->plans[i], err);
}

/* A folded table's plan (made on the same path) pays when it runs the same
 * kernels with no more planes or terms: the fold then only removes work.
 * (Folding usually keeps a table's planes: the XOR permutes its rows, zw*a
 * is linear in a. random-u8 under s8 weights would need a third plane.) */
static bool fold_pays(const ax_gemm_plan *t, const ax_gemm_plan *f)
{
    return ax_gemm_plan_planes(f) <= ax_gemm_plan_planes(t) && ax_gemm_plan_terms(f) <= ax_gemm_plan_terms(t) &&
           strcmp(ax_gemm_plan_kernel_name(f), ax_gemm_plan_kernel_name(t)) == 0;
}

/* The folded plan for layer li's multiplier and fold (made once per pair),
 * or NULL: not worth it, or the table cannot be folded. AX_NN_FOLD=0 turns
 * folding off (a diagnostic: the same bits either way). */
static const ax_gemm_plan *fold_plan_for(ax_nn_runtime *rt, const ax_mult *mult, size_t li, axnn_fold f)
{
    const char *env = getenv("AX_NN_FOLD");
    if (env && strcmp(env, "0") == 0) return NULL;
    for (size_t i = 0; i < rt->n_folds; i++)
        if (rt->folds[i].mult == mult && rt->folds[i].fold.a_xor == f.a_xor && rt->folds[i].fold.w_xor == f.w_xor &&
            rt->folds[i].fold.zw == f.zw)
            return rt->folds[i].plan;
    axnn_fold_plan *fp = &rt->folds[rt->n_folds++];
    *fp = (axnn_fold_plan){.mult = mult, .fold = f};
    ax_mult *t = axnn_fold_table(mult, f);
    ax_gemm_plan *p = NULL;
    ax_error e;
    /* on the base plan's path (F's AUTO choice could differ where T's was
     * close); exact plans stay, F being rarely an exact product */
    ax_path path = ax_gemm_plan_path(rt->plans[li]);
    if (t && path != AX_PATH_EXACT && ax_gemm_plan_create(t, ax_gemm_plan_isa(rt->plans[li]), path, &p, &e) == 0 &&
        fold_pays(rt->plans[li], p))
        fp->plan = p;
    else ax_gemm_plan_free(p);
    ax_mult_free(t);
    return fp->plan;
}

static int prepare_layers(ax_nn_runtime *rt, const ax_mult *const *mults, ax_error *err)
{
    const ax_nn_model *m = rt->m;
    size_t li = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const axnn_node *n = &m->nodes[i];
        if (!axnn_is_layer(n)) continue;
        char warning[AX_ERROR_MAX];
        if (plan_for(rt, mults, li, err) != 0) return -1;
        axnn_fold f;
        const ax_gemm_plan *folded = axnn_layer_fold(m, n, mults[li], &f) ? fold_plan_for(rt, mults[li], li, f) : NULL;
        /* a row term is free only in the GEMM's byte kernel: with one, a
         * depthwise layer would run the byte planes instead of the
         * low-rank kernel and a grouped one lose the grouped kernel */
        if (folded && n->groups > 1 && ax_gemm_plan_row_terms(folded) > 0) folded = NULL;
        if (axnn_layer_prepare(m, n, mults[li], folded ? folded : rt->plans[li], folded ? &f : NULL, &rt->layers[li],
                               warning, err) != 0)
            return -1;
        if (warning[0] && rt->n_warnings < AX_NN_MAX_WARNINGS)
            memcpy(rt->warnings[rt->n_warnings++], warning, AX_ERROR_MAX);
        li++;
    }
    return 0;
}

int ax_nn_runtime_create(const ax_nn_model *m, const ax_mult *const *mults, ax_nn_runtime **out, ax_error *err)
{
    return ax_nn_runtime_create_on(m, mults, AX_ISA_AUTO, AX_PATH_AUTO, out, err);
}

int ax_nn_runtime_create_on(const ax_nn_model *m, const ax_mult *const *mults, ax_isa isa, ax_path path,
                            ax_nn_runtime **out, ax_error *err)
{
    *out = NULL;
    if (!ax_nn_is_quantized(m)) return ax_fail(err, "the model is not quantized (quantize it first)");
    ax_nn_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return ax_fail(err, "runtime: out of memory");
    rt->m = m, rt->isa = isa, rt->path = path;
    rt->n_layers = ax_nn_layer_count(m);
    rt->layers = calloc(rt->n_layers, sizeof *rt->layers);
    rt->plans = calloc(rt->n_layers, sizeof *rt->plans);
    rt->own = calloc(rt->n_layers, sizeof *rt->own);
    rt->folds = calloc(rt->n_layers ? rt->n_layers : 1, sizeof *rt->folds);
    rt->warnings = calloc(AX_NN_MAX_WARNINGS, sizeof *rt->warnings);
    rt->qop = calloc(m->n_nodes ? m->n_nodes : 1, sizeof *rt->qop);
    if (axnn_profile_wanted()) {
        rt->profile = calloc(m->n_nodes, sizeof *rt->profile);
        rt->kprofile = calloc(m->n_nodes, sizeof *rt->kprofile);
    }
    if (!rt->layers || !rt->plans || !rt->own || !rt->folds || !rt->warnings || !rt->qop || (axnn_profile_wanted() && (!rt->profile || !rt->kprofile))) {
        ax_nn_runtime_free(rt);
        return ax_fail(err, "runtime: out of memory");
    }
    for (size_t i = 0; rt->qop && i < m->n_nodes; i++) rt->qop[i] = axnn_qop_make(m, &m->nodes[i]);
    const char *fuse = getenv("AX_NN_FUSE"); /* AX_NN_FUSE=0: the ops apart (A/B runs, the test) */
    if (!fuse || strcmp(fuse, "0") != 0) axnn_qop_fuse(m, rt->qop);
    if (prepare_layers(rt, mults, err) != 0) {
        ax_nn_runtime_free(rt);
        return -1;
    }
    *out = rt;
    return 0;
}

size_t ax_nn_runtime_warning_count(const ax_nn_runtime *rt)
{
    return rt->n_warnings;
}

const char *ax_nn_runtime_warning(const ax_nn_runtime *rt, size_t i)
{
    return i < rt->n_warnings ? rt->warnings[i] : NULL;
}

const char *ax_nn_runtime_kernel(const ax_nn_runtime *rt, size_t layer)
{
    if (layer >= rt->n_layers) return NULL;
    return rt->layers && rt->layers[layer] ? axnn_layer_kernel_name(rt->layers[layer])
                                           : ax_gemm_plan_kernel_name(rt->plans[layer]);
}

const axnn_layer_rt *axnn_runtime_layer(const ax_nn_runtime *rt, size_t layer)
{
    return layer < rt->n_layers ? rt->layers[layer] : NULL;
}

const char *ax_nn_runtime_isa(const ax_nn_runtime *rt)
{
    return ax_isa_name(ax_gemm_plan_isa(rt->plans[0]));
}

const ax_nn_model *ax_nn_runtime_model(const ax_nn_runtime *rt)
{
    return rt->m;
}

int ax_nn_runtime_run(ax_nn_runtime *rt, size_t batch, const float *input, float *output, int threads, ax_error *err)
{
    return axnn_execute(rt->m, rt, batch, input, output, threads, NULL, NULL, err);
}
