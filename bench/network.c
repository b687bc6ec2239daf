/* network.c - suite network: whole networks through the quantized runtime
 * of nn/ at batch B (default 32), in MAC/s (items_per_second, as every
 * benchmark) and images/s. The networks are ResNet-50 and MobileNetV2 built
 * with seeded random weights (ax_nn_build_*), or one --model file. Each
 * multiplier (exact-s8 always, then every --mult) runs on every layer with
 * the path its plan picks for the ISA; the peer `naive` is the same runtime
 * on the scalar LUT kernel (acc += T[a*256+w] over packed operands), which is
 * also the reference --verify compares the logits with, bit for bit (for
 * each multiplier). */
#include "bench.h"

#include "autoapprox/nn.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NET_SEED 20251125ull
#define VERIFY_IMAGES 2
#define MAX_NETS 2

typedef struct net {
    char name[64];
    ax_nn_model *m;
    double macs;              /* per image */
    size_t layers, in_size, out_size;
    float *input;             /* batch images, fixed seed */
} net;

typedef struct net_case {
    bench_networks *all;
    net *net;
    const bench_mult *mult;
    bool naive;
    ax_path path;              /* AUTO, or LOWRANK where AUTO picks another path */
    char name[AX_BENCH_NAME_MAX];
} net_case;

struct bench_networks {
    net nets[MAX_NETS];
    size_t n_nets;
    net_case *cases;
    size_t n_cases;
    bench_mult exact;          /* exact-s8, unless --mult gave it */
    const bench_mult *mults[BENCH_MAX_MULTS + 1];
    int n_mults;
    size_t batch;
    int threads;
    ax_isa isa;
    float *logits;
};

static int fail(ax_error *err, const char *fmt, const char *a, const char *b)
{
    snprintf(err->msg, sizeof err->msg, fmt, a, b);
    return -1;
}

static void random_floats(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(bench_splitmix(&seed) >> 40) / (float)(1u << 24) * 4.0f - 2.0f;
}

/* A model file: QDQ as given, a float one quantized on 4 random images. */
static int load_model(const char *path, net *n, ax_error *err)
{
    if (ax_nn_load_onnx(path, &n->m, err) != 0) return -1;
    const char *base = strrchr(path, '/');
    snprintf(n->name, sizeof n->name, "%s", base ? base + 1 : path);
    char *dot = strrchr(n->name, '.');
    if (dot && dot != n->name) *dot = 0;
    for (char *p = n->name; *p; p++)
        if (*p == '/' || *p == ' ') *p = '_';
    if (ax_nn_is_quantized(n->m)) return 0;
    size_t h, w, c;
    ax_nn_input_shape(n->m, &h, &w, &c);
    float *x = malloc(4 * h * w * c * sizeof *x);
    if (!x) return fail(err, "%s: out of memory%s", path, "");
    random_floats(x, 4 * h * w * c, NET_SEED);
    ax_nn_quant_options o;
    ax_nn_quant_options_init(&o);
    fprintf(stderr, "bench-approx: note: %s is a float model: quantized (min-max, s8) on 4 random images\n", path);
    int rc = ax_nn_quantize(n->m, &o, 4, x, err);
    free(x);
    return rc;
}

static int add_net(bench_networks *b, const char *which, const char *model, size_t size, ax_error *err)
{
    net *n = &b->nets[b->n_nets];
    int rc;
    if (model) {
        rc = load_model(model, n, err);
    } else {
        snprintf(n->name, sizeof n->name, "%s", which);
        rc = strcmp(which, "resnet50") == 0 ? ax_nn_build_resnet50(size, NET_SEED, &n->m, err)
                                            : ax_nn_build_mobilenet_v2(size, NET_SEED, &n->m, err);
    }
    if (rc != 0) return -1;
    b->n_nets++;
    size_t h, w, c;
    ax_nn_input_shape(n->m, &h, &w, &c);
    n->in_size = h * w * c, n->out_size = ax_nn_output_size(n->m);
    n->layers = ax_nn_layer_count(n->m);
    for (size_t i = 0; i < n->layers; i++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(n->m, i, &li);
        n->macs += (double)li.macs;
    }
    if (!(n->input = malloc(b->batch * n->in_size * sizeof *n->input)))
        return fail(err, "%s: out of memory for %s input images", n->name, "the");
    random_floats(n->input, b->batch * n->in_size, NET_SEED + 1);
    return 0;
}

/* The path a multiplier's plan takes on this ISA (AUTO: its own choice);
 * NULL when that path cannot serve the table. */
static const char *path_of(const ax_mult *m, ax_isa isa, ax_path path)
{
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    if (ax_gemm_plan_create(m, isa, path, &p, &err) != 0) return NULL;
    const char *name = ax_path_name(ax_gemm_plan_path(p));
    ax_gemm_plan_free(p);
    return name;
}

static void add_case(bench_networks *b, net *n, const bench_mult *m, bool naive, ax_path path, const char *pname)
{
    net_case *c = &b->cases[b->n_cases++];
    c->all = b;
    c->net = n;
    c->mult = m;
    c->naive = naive;
    c->path = path;
    snprintf(c->name, sizeof c->name, "network/%s/%s/%s/%s.b%zu", pname, naive ? "scalar" : ax_isa_name(b->isa),
             m->name, n->name, b->batch);
}

/* Per network: the naive peer once (its speed does not depend on the
 * table; the summary uses it for every multiplier); per multiplier: the
 * path the plan picks, and the low-rank path too when the table has one the
 * plan did not pick. */
static int make_cases(bench_networks *b)
{
    b->cases = calloc(b->n_nets * (size_t)b->n_mults * 3, sizeof *b->cases);
    if (!b->cases) return -1;
    for (size_t i = 0; i < b->n_nets; i++)
        for (int j = 0; j < b->n_mults; j++) {
            const ax_mult *m = b->mults[j]->m;
            const char *best = path_of(m, b->isa, AX_PATH_AUTO), *lr = path_of(m, b->isa, AX_PATH_LOWRANK);
            if (j == 0) add_case(b, &b->nets[i], b->mults[j], true, AX_PATH_LUT, "naive");
            add_case(b, &b->nets[i], b->mults[j], false, AX_PATH_AUTO, best ? best : "lut");
            if (lr && (!best || strcmp(best, lr) != 0))
                add_case(b, &b->nets[i], b->mults[j], false, AX_PATH_LOWRANK, lr);
        }
    return 0;
}

int bench_networks_create(const bench_net_options *o, const bench_mult *mults, int n_mults, bench_networks **out,
                          ax_error *err)
{
    *out = NULL;
    bench_networks *b = calloc(1, sizeof *b);
    if (!b) return fail(err, "out of memory%s%s", "", "");
    *out = b;
    b->batch = o->batch, b->threads = o->threads, b->isa = o->isa;
    bool have_exact = false;
    for (int i = 0; i < n_mults; i++) have_exact |= strcmp(mults[i].name, "exact-s8") == 0;
    if (!have_exact) {
        if (ax_mult_resolve("exact-s8", &b->exact.m, err) != 0) return -1;
        snprintf(b->exact.name, sizeof b->exact.name, "exact-s8");
        b->mults[b->n_mults++] = &b->exact;
    }
    for (int i = 0; i < n_mults; i++) b->mults[b->n_mults++] = &mults[i];
    int rc = o->model ? add_net(b, NULL, o->model, 0, err)
                      : add_net(b, "resnet50", NULL, o->input_size, err) || add_net(b, "mobilenetv2", NULL, o->input_size, err);
    if (rc != 0) return -1;
    size_t most = 0;
    for (size_t i = 0; i < b->n_nets; i++) most = b->nets[i].out_size > most ? b->nets[i].out_size : most;
    if (!(b->logits = malloc(b->batch * most * sizeof *b->logits)) || make_cases(b) != 0)
        return fail(err, "out of memory%s%s", "", "");
    return 0;
}

void bench_networks_free(bench_networks *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n_nets; i++) ax_nn_free(b->nets[i].m), free(b->nets[i].input);
    ax_mult_free(b->exact.m);
    free(b->cases), free(b->logits);
    free(b);
}

size_t bench_networks_count(const bench_networks *b) { return b ? b->n_cases : 0; }
const char *bench_networks_name(const bench_networks *b, size_t i) { return b->cases[i].name; }

/* A runtime with the case's multiplier on every layer. */
static int runtime(const net_case *c, ax_isa isa, ax_path path, ax_nn_runtime **rt, ax_error *err)
{
    size_t n = c->net->layers;
    const ax_mult **ms = malloc((n ? n : 1) * sizeof *ms);
    if (!ms) return fail(err, "%s: out of memory%s", c->name, "");
    for (size_t i = 0; i < n; i++) ms[i] = c->mult->m;
    int rc = ax_nn_runtime_create_on(c->net->m, ms, isa, path, rt, err);
    free(ms);
    return rc;
}

static int case_runtime(const net_case *c, ax_nn_runtime **rt, ax_error *err)
{
    return c->naive ? runtime(c, AX_ISA_SCALAR, AX_PATH_LUT, rt, err) : runtime(c, c->all->isa, c->path, rt, err);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Untimed: the runtime (plans, packed weights) and one warm-up run (not for
 * the slow naive peer); timed: whole batches, wall clock. */
static void body(ax_gb_state *st, void *ctx)
{
    net_case *c = ctx;
    bench_networks *b = c->all;
    ax_error err = {{0}};
    ax_nn_runtime *rt = NULL;
    if (case_runtime(c, &rt, &err) != 0 ||
        (!c->naive && ax_nn_runtime_run(rt, b->batch, c->net->input, b->logits, b->threads, &err) != 0)) {
        ax_nn_runtime_free(rt);
        ax_gb_skip_with_error(st, err.msg);
        return;
    }
    int rc = 0;
    double t0 = seconds();
    while (ax_gb_keep_running(st)) rc |= ax_nn_runtime_run(rt, b->batch, c->net->input, b->logits, b->threads, &err);
    double t = seconds() - t0;
    ax_nn_runtime_free(rt);
    if (rc != 0) {
        ax_gb_skip_with_error(st, err.msg);
        return;
    }
    double macs = c->net->macs * (double)b->batch, iters = (double)ax_gb_iterations(st);
    double hz = bench_core_hz(), images = (double)b->batch * iters;
    ax_gb_set_items_per_iteration(st, macs);
    if (t > 0) {
        ax_gb_set_counter(st, "GMAC/s", macs * iters / t / 1e9, AX_GB_PLAIN);
        ax_gb_set_counter(st, "images_per_second", images / t, AX_GB_PLAIN);
        ax_gb_set_counter(st, "min_per_50k_images", 50000.0 / (images / t) / 60.0, AX_GB_PLAIN);
    }
    if (t > 0 && hz > 0) ax_gb_set_counter(st, "MAC/cycle", macs * iters / t / hz / b->threads, AX_GB_PLAIN);
    ax_gb_set_counter(st, "layers", (double)c->net->layers, AX_GB_PLAIN);
    char label[128];
    snprintf(label, sizeof label, "batch=%zu %.3f GMAC/image %zu layers", b->batch, c->net->macs / 1e9,
             c->net->layers);
    ax_gb_set_label(st, label);
}

size_t bench_networks_register(bench_networks *b, const char *filter, bool real_time)
{
    size_t n = 0;
    for (size_t i = 0; i < bench_networks_count(b); i++)
        if (bench_filter_match(filter, b->cases[i].name) &&
            ax_gb_register(b->cases[i].name, body, &b->cases[i], real_time) == 0)
            n++;
    return n;
}

/* The logits of the first images under a runtime. */
static int logits_of(const net_case *c, bool reference, size_t images, float *out, ax_error *err)
{
    ax_nn_runtime *rt = NULL;
    int rc = reference ? runtime(c, AX_ISA_SCALAR, AX_PATH_LUT, &rt, err) : case_runtime(c, &rt, err);
    if (rc == 0) rc = ax_nn_runtime_run(rt, images, c->net->input, out, c->all->threads, err);
    ax_nn_runtime_free(rt);
    return rc;
}

/* Every selected case against the scalar LUT runtime on the first images:
 * the logits must be the same floats. Returns how many failed. */
int bench_networks_verify(bench_networks *b, const char *filter, FILE *err_out)
{
    int failed = 0, checked = 0;
    for (size_t i = 0; i < bench_networks_count(b); i++) {
        net_case *c = &b->cases[i];
        if (c->naive || !bench_filter_match(filter, c->name)) continue; /* naive is the reference */
        size_t images = b->batch < VERIFY_IMAGES ? b->batch : VERIFY_IMAGES, n = images * c->net->out_size;
        float *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
        ax_error err = {{0}};
        if (!ref || !got) {
            fprintf(err_out, "bench-approx: --verify: %s: out of memory\n", c->name);
            failed++;
        } else if (logits_of(c, true, images, ref, &err) != 0 || logits_of(c, false, images, got, &err) != 0) {
            fprintf(err_out, "bench-approx: --verify: %s: %s\n", c->name, err.msg);
            failed++;
        } else {
            size_t k = 0;
            while (k < n && memcmp(&ref[k], &got[k], sizeof *ref) == 0) k++;
            if (k < n) {
                fprintf(err_out,
                        "bench-approx: --verify: %s differs from the scalar reference runtime at image %zu logit %zu: "
                        "got %.9g, want %.9g\n",
                        c->name, k / c->net->out_size, k % c->net->out_size, got[k], ref[k]);
                failed++;
            }
            checked++;
        }
        free(ref), free(got);
    }
    if (!failed && checked)
        fprintf(err_out, "bench-approx: --verify: %d networks give the scalar reference runtime's logits\n", checked);
    return failed;
}

void bench_networks_context(const bench_networks *b)
{
    char key[160], val[160];
    for (size_t i = 0; i < b->n_nets; i++) {
        const net *n = &b->nets[i];
        snprintf(key, sizeof key, "network.%s.sha256", n->name);
        ax_gb_add_context(key, ax_nn_sha256(n->m));
        snprintf(key, sizeof key, "network.%s.macs_per_image", n->name);
        snprintf(val, sizeof val, "%.0f", n->macs);
        ax_gb_add_context(key, val);
        snprintf(key, sizeof key, "network.%s.model", n->name);
        const char *desc = ax_nn_meta(n->m, "autoapprox.model");
        ax_gb_add_context(key, desc ? desc : "ONNX file (--model)");
    }
    snprintf(val, sizeof val, "%zu", b->batch);
    ax_gb_add_context("network_batch", val);
    ax_gb_add_context("network_naive", "the same runtime on the scalar LUT kernel (acc += T[a*256+w]); "
                                       "--verify's reference");
}
