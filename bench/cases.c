/* cases.c - one benchmark case = one path on one multiplier and one shape:
 * operands (random bytes, fixed seed, built once per shape), weights packed
 * once outside the timed loop, the timed body, and one untimed computation
 * for --verify. Also the harness's own tables (random-u8, exact-u8s8). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

ax_mult *bench_random_table(uint64_t seed)
{
    ax_mult *m = ax_mult_new();
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "random-u8");
    snprintf(m->provenance, sizeof m->provenance,
             "bench-approx random table: u8 x u8, entries uniform in [0, 65025], splitmix64 seed=%llu",
             (unsigned long long)seed);
    m->act = m->wgt = AX_U8;
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)(bench_splitmix(&seed) % 65026u);
    return m;
}

ax_mult *bench_exact_u8s8(void)
{
    ax_mult *m = ax_mult_new();
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "exact-u8s8");
    snprintf(m->provenance, sizeof m->provenance, "exact product, u8 activation x s8 weight (oneDNN peer)");
    m->act = AX_U8;
    m->wgt = AX_S8;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) m->table[a * 256 + w] = ax_exact_product(AX_U8, AX_S8, a, w);
    return m;
}

void bench_shape_of(const bench_layer *l, size_t batch, bool conv, bench_shape *s)
{
    size_t pad = (size_t)l->kernel / 2;
    size_t ho = ((size_t)l->h + 2 * pad - (size_t)l->kernel) / (size_t)l->stride + 1;
    size_t wo = ((size_t)l->w + 2 * pad - (size_t)l->kernel) / (size_t)l->stride + 1;
    memset(s, 0, sizeof *s);
    s->layer = l;
    s->G = (size_t)l->groups;
    s->M = batch * ho * wo;
    s->K = (size_t)(l->c_in / l->groups) * (size_t)l->kernel * (size_t)l->kernel;
    s->N = (size_t)(l->c_out / l->groups);
    s->op = conv ? "conv" : l->groups == 1 ? "gemm" : "dwgemm";
    s->conv = conv;
    s->a_len = s->G * s->M * s->K;
    s->b_len = s->G * s->K * s->N;
    s->c_len = s->G * s->M * s->N;
    if (!conv) return;
    ax_conv2d_shape *c = &s->cs;
    c->batch = batch, c->in_h = (size_t)l->h, c->in_w = (size_t)l->w, c->in_c = (size_t)l->c_in;
    c->out_c = (size_t)l->c_out, c->kernel_h = c->kernel_w = (size_t)l->kernel;
    c->stride_h = c->stride_w = (size_t)l->stride, c->dilation_h = c->dilation_w = 1;
    c->pad_top = c->pad_left = c->pad_bottom = c->pad_right = pad;
    c->groups = (size_t)l->groups, c->pad_byte = 0;
    s->a_len = batch * c->in_h * c->in_w * c->in_c;
}

double bench_shape_macs(const bench_shape *s) { return (double)s->G * (double)s->M * (double)s->N * (double)s->K; }

void bench_operands_free(bench_operands *o)
{
    free(o->A);
    free(o->B);
    free(o->C);
    memset(o, 0, sizeof *o);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t r = bench_splitmix(&seed);
        memcpy(p + i, &r, 8);
    }
    for (; i < n; i++) p[i] = (uint8_t)bench_splitmix(&seed);
}

/* Makes s the current shape: new operands, and every case's packed weights
 * of the previous shape released. */
int bench_operands_use(bench_run *run, const bench_shape *s, ax_error *err)
{
    if (run->ops.shape == s) return 0;
    for (size_t i = 0; i < run->n_cases; i++) bench_case_release(&run->cases[i]);
    bench_operands_free(&run->ops);
    size_t a = s->a_len, b = s->b_len, c = s->c_len;
    run->ops.A = malloc(a);
    run->ops.B = malloc(b);
    /* 64-byte aligned as the runtime's buffers (nn/layer_q.c): kernels that
     * stream whole output lines take that path here too */
    run->ops.C = aligned_alloc(64, (c * sizeof(int32_t) + 63) / 64 * 64);
    if (!run->ops.A || !run->ops.B || !run->ops.C) {
        bench_operands_free(&run->ops);
        snprintf(err->msg, sizeof err->msg, "%s: out of memory for operands", s->layer->name);
        return -1;
    }
    memset(run->ops.C, 0, c * sizeof(int32_t)); /* no page faults in timed loops */
    fill_random(run->ops.A, a, 0xA11CEull);
    fill_random(run->ops.B, b, 0xB0Bull);
    run->ops.shape = s;
    return 0;
}

/* What a case builds once per shape, outside the timed loop. */
typedef struct prepared {
    uint8_t *bytes;                 /* naive: weights N x K per group (conv: O x KH x KW x Cg);
                                     * onednn: activations masked to 7 bits */
    ax_packed_weights **packed;     /* kernel GEMM: one per group */
    ax_conv2d_weights *conv_w;      /* kernel conv */
    bench_onednn_conv *onednn_conv; /* onednn conv */
} prepared;

void bench_case_release(bench_case *c)
{
    prepared *p = c->prepared;
    if (!p) return;
    if (p->packed)
        for (size_t g = 0; g < c->shape->G; g++)
            if (p->packed[g]) ax_packed_weights_free(p->packed[g]);
    if (p->conv_w) ax_conv2d_weights_free(p->conv_w);
    bench_onednn_conv_free(p->onednn_conv);
    free(p->packed);
    free(p->bytes);
    free(p);
    c->prepared = NULL;
}

static int oom(const bench_case *c, ax_error *err)
{
    snprintf(err->msg, sizeof err->msg, "%s: out of memory", c->name);
    return -1;
}

/* The weights as the naive loop reads them: per output channel, contiguous
 * over k (a framework's row-major weights). */
static uint8_t *naive_weights(const bench_shape *s, const uint8_t *B)
{
    uint8_t *wt = malloc(s->b_len);
    if (!wt) return NULL;
    if (s->conv) { /* HWIO [k = (ky*KW + kx)*Cg + i][o] -> [o][k] */
        size_t O = s->cs.out_c;
        for (size_t k = 0; k < s->K; k++)
            for (size_t o = 0; o < O; o++) wt[o * s->K + k] = B[k * O + o];
        return wt;
    }
    for (size_t g = 0; g < s->G; g++)
        for (size_t k = 0; k < s->K; k++)
            for (size_t n = 0; n < s->N; n++) wt[g * s->N * s->K + n * s->K + k] = B[g * s->K * s->N + k * s->N + n];
    return wt;
}

static int prepare_kernel(bench_case *c, prepared *p, ax_error *err)
{
    const bench_shape *s = c->shape;
    const uint8_t *B = c->run->ops.B;
    if (s->conv) return ax_conv2d_pack_weights(c->plan, &s->cs, B, &p->conv_w, err);
    if (!(p->packed = calloc(s->G, sizeof *p->packed))) return oom(c, err);
    for (size_t g = 0; g < s->G; g++)
        if (ax_gemm_pack_weights(c->plan, s->K, s->N, B + g * s->K * s->N, s->N, &p->packed[g], err) != 0) return -1;
    return 0;
}

/* Weights (and oneDNN's activations) in the form the case reads, once per shape. */
static int prepare(bench_case *c, ax_error *err)
{
    if (c->prepared) return 0;
    const bench_shape *s = c->shape;
    prepared *p = calloc(1, sizeof *p);
    if (!p) return oom(c, err);
    c->prepared = p;
    int rc = 0;
    if (c->kind == BENCH_NAIVE) {
        if (!(p->bytes = naive_weights(s, c->run->ops.B))) rc = oom(c, err);
    } else if (c->kind == BENCH_ONEDNN) { /* see bench_case_activations */
        if (!(p->bytes = malloc(s->a_len))) rc = oom(c, err);
        for (size_t i = 0; rc == 0 && i < s->a_len; i++) p->bytes[i] = c->run->ops.A[i] & 0x7f;
        if (rc == 0 && s->conv)
            rc = bench_onednn_conv_create(&s->cs, c->run->ops.B, c->run->threads, &p->onednn_conv, err);
    } else {
        rc = prepare_kernel(c, p, err);
    }
    if (rc != 0) bench_case_release(c);
    return rc;
}

const uint8_t *bench_case_activations(const bench_case *c)
{
    return c->kind == BENCH_ONEDNN ? ((const prepared *)c->prepared)->bytes : c->run->ops.A;
}

static int compute_conv(bench_case *c, const uint8_t *X, int32_t *Y, ax_error *err)
{
    const prepared *p = c->prepared;
    const ax_conv2d_shape *cs = &c->shape->cs;
    int threads = c->run->threads;
    switch (c->kind) {
    case BENCH_NAIVE: bench_naive_conv(c->mult->m->table, cs, X, p->bytes, Y, threads); return 0;
    case BENCH_ONEDNN: return bench_onednn_conv_run(p->onednn_conv, X, Y, threads, err);
    case BENCH_KERNEL: return ax_conv2d(c->plan, cs, X, p->conv_w, Y, false, threads, err);
    }
    return -1;
}

int bench_case_compute(bench_case *c, int32_t *C, ax_error *err)
{
    if (bench_operands_use(c->run, c->shape, err) != 0 || prepare(c, err) != 0) return -1;
    if (!C) C = c->run->ops.C;
    const bench_shape *s = c->shape;
    const prepared *p = c->prepared;
    const uint8_t *A = bench_case_activations(c), *B = c->run->ops.B;
    if (s->conv) return compute_conv(c, A, C, err);
    int threads = c->run->threads;
    for (size_t g = 0; g < s->G; g++) {
        const uint8_t *Ag = A + g * s->M * s->K;
        int32_t *Cg = C + g * s->M * s->N;
        switch (c->kind) {
        case BENCH_NAIVE:
            bench_naive_gemm(c->mult->m->table, s->M, s->N, s->K, Ag, p->bytes + g * s->N * s->K, Cg, threads);
            break;
        case BENCH_ONEDNN:
            if (bench_onednn_gemm(s->M, s->N, s->K, Ag, B + g * s->K * s->N, Cg, threads, err) != 0) return -1;
            break;
        case BENCH_KERNEL:
            if (ax_gemm(c->plan, s->M, Ag, s->K, p->packed[g], Cg, s->N, false, threads, err) != 0) return -1;
            break;
        }
    }
    return 0;
}

static double seconds(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_case_body(ax_gb_state *st, void *ctx)
{
    bench_case *c = ctx;
    const bench_shape *s = c->shape;
    ax_error err = {{0}};
    /* untimed: operands and packing; oneDNN also gets a warm-up call (its
     * kernels are generated on first use), and so do our convolutions (an
     * exact layer may run a oneDNN primitive made for the batch and thread
     * count of its first call). Others need none: Google Benchmark's own
     * estimation runs warm the caches. */
    int warm = c->kind == BENCH_ONEDNN || s->conv ? bench_case_compute(c, NULL, &err)
                                       : bench_operands_use(c->run, s, &err) || prepare(c, &err);
    if (warm != 0) {
        ax_gb_skip_with_error(st, err.msg);
        return;
    }
    int rc = 0;
    /* the clock Google Benchmark reports: wall time when threaded, else CPU */
    clockid_t clk = c->run->threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
    double t0 = seconds(clk);
    while (ax_gb_keep_running(st)) rc |= bench_case_compute(c, NULL, &err);
    double t = seconds(clk) - t0;
    if (rc != 0) {
        ax_gb_skip_with_error(st, err.msg);
        return;
    }
    double macs = bench_shape_macs(s), iters = (double)ax_gb_iterations(st);
    double hz = bench_core_hz(); /* right after the work: the clock under load */
    ax_gb_set_items_per_iteration(st, macs);
    if (t > 0) ax_gb_set_counter(st, "GMAC/s", macs * iters / t / 1e9, AX_GB_PLAIN);
    if (t > 0 && hz > 0) ax_gb_set_counter(st, "MAC/cycle", macs * iters / t / hz / c->run->threads, AX_GB_PLAIN);
    ax_gb_set_counter(st, "layers", s->layer->mult, AX_GB_PLAIN);
    char label[192], groups[32] = "", kernel[112] = "";
    if (s->G > 1) snprintf(groups, sizeof groups, " G=%zu", s->G);
    /* a LUT plan has two kernels: name the one this GEMM runs (one call) */
    if (c->plan && !s->conv && s->G <= 1 && strchr(ax_gemm_plan_kernel_name(c->plan), '|'))
        snprintf(kernel, sizeof kernel, " %s", ax_gemm_kernel_for(c->plan, s->M, s->K, s->N));
    /* a convolution may run as one oneDNN primitive, or on a grouped or
     * depthwise kernel, instead of the plan's GEMMs: name it */
    const prepared *pr = c->prepared;
    if (c->plan && s->conv && pr && pr->conv_w) {
        const char *ck = ax_conv2d_kernel_name(pr->conv_w);
        if (strcmp(ck, ax_gemm_plan_kernel_name(c->plan)) != 0) snprintf(kernel, sizeof kernel, " %s", ck);
    }
    snprintf(label, sizeof label, "M=%zu N=%zu K=%zu%s x%d%s", s->M, s->N, s->K, groups, s->layer->mult, kernel);
    ax_gb_set_label(st, label);
}
