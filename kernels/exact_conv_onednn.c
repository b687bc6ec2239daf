/* exact_conv_onednn.c - exact convolution layers through oneDNN's int8
 * convolution primitive (`exact_conv__onednn`). An EXACT plan whose GEMMs
 * passed oneDNN's probe (exact_onednn.c: same ISA rules, same overrides)
 * may run a whole conv layer as one oneDNN primitive instead of im2col
 * chunks through a GEMM: NHWC source (u8, or s8 as the plan's activations),
 * s8 weights reordered once into the primitive's own layout (format `any`),
 * int32 NHWC destination, strides, dilations, padding, groups.
 *
 * Exactness. oneDNN pads with the value 0 and takes s8 weights only, so a
 * layer qualifies only when its pad byte is 0 (or it has no padding) and
 * the weights are s8 (conv2d.c decides; u8-weight tables keep our path).
 * `accumulate` runs into a scratch buffer and adds in integers (oneDNN's sum
 * post-op goes through float). And nothing is trusted: every primitive is
 * checked bit for bit against our own exact path (ax_conv2d_oracle: our
 * kernels with oneDNN switched off) on the layer's own geometry, once with
 * operands at the extremes (activations at the top of oneDNN's u8 domain
 * and -128 against weights of 127, -128 and alternating pairs: the int16
 * pair-sum saturation of vpmaddubsw and the halved weights of non-VNNI
 * kernels; long K gives sums past 2^24 for a float round trip to show) and
 * once with the layer's weights on random activations. A mismatch, or an
 * oneDNN error, sends the layer back to our own path for good.
 *
 * Batch and threads. A primitive is made for one batch size and keeps the
 * thread count it was created with (its work split and scratchpad follow
 * it), so the layer keeps a small cache of primitives keyed by (batch,
 * threads), created on first use under a mutex (nn/ runs images of one
 * layer from several threads at once). The first is made and verified at
 * packing on a batch of 1; a later primitive whose oneDNN implementation
 * (its impl string) was verified already for this layer is trusted, any
 * other is verified on its own batch before its first use. When the cache
 * is full, further (batch, threads) pairs run our own path. Primitives and
 * weights are never evicted while the layer lives, so concurrent calls
 * never lose them; each call brings its own stream and memory objects and
 * the entry's scratchpad (or a private one when another call holds it).
 * The OpenMP thread count of the calling thread is set around oneDNN's
 * calls and restored, as exact_onednn.c does; integer sums are exact, so
 * every thread count gives the same bits. */
#include "gemm_internal.h"
#include "lut/ax_internal.h"

#include "ax_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if AX_HAVE_ONEDNN && defined(__x86_64__)
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdatomic.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { CACHE = 8, IMPL_MAX = 96 };

typedef struct entry {
    size_t batch;
    int threads;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, dst_md, wei_md, scratch_md;
    dnnl_memory_t wei; /* the layer's weights in wei_md (shared when equal to an earlier entry's) */
    bool own_wei;
    size_t scratch_bytes;
    void *scratch;
    atomic_flag busy; /* scratch in use by a call */
    char impl[IMPL_MAX];
} entry;

struct ax_onednn_conv {
    const ax_gemm_plan *p;
    ax_conv2d_shape s;
    size_t oh, ow;
    dnnl_engine_t engine;
    uint8_t *w; /* HWIO weights, as packed */
    dnnl_memory_desc_t user_md;
    /* s8 activations (see `shift` above): oneDNN's own s8 source, or the
     * source as u8 a ^ 0x80 = a + 128 and, per output, corr[cls_y[oy] *
     * n_cx + cls_x[ox]][o] = -128 * (the sum of o's weights on the taps
     * inside the input) added back in int32 */
    bool shift;
    size_t *cls_y, *cls_x, n_cy, n_cx;
    size_t (*range_y)[2], (*range_x)[2]; /* per class: the taps inside, ky (kx) in [lo, hi] */
    uint32_t *corr;
    pthread_mutex_t mu;
    entry e[CACHE];
    _Atomic int n; /* entries ready (published after construction) */
    _Atomic bool bad;
    char verified[CACHE][IMPL_MAX];
    int n_verified;
};

struct omp_scope {
    int old;
};
static struct omp_scope omp_enter(int threads)
{
    struct omp_scope o = {0};
#ifdef _OPENMP
    o.old = omp_get_max_threads();
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    return o;
}
static void omp_leave(struct omp_scope o)
{
#ifdef _OPENMP
    omp_set_num_threads(o.old);
#else
    (void)o;
#endif
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* the HWIO weights as oneDNN's (g)oihw logical layout, by strides */
static dnnl_status_t user_weights_md(const ax_conv2d_shape *s, dnnl_memory_desc_t *md)
{
    const dnnl_dim_t G = (dnnl_dim_t)s->groups, O = (dnnl_dim_t)s->out_c, I = (dnnl_dim_t)s->in_c;
    const dnnl_dim_t KH = (dnnl_dim_t)s->kernel_h, KW = (dnnl_dim_t)s->kernel_w, Og = O / G, Ig = I / G;
    if (G == 1) {
        dnnl_dims_t d = {O, I, KH, KW}, st = {1, O, KW * I * O, I * O};
        return dnnl_memory_desc_init_by_strides(md, 4, d, dnnl_s8, st);
    }
    dnnl_dims_t d = {G, Og, Ig, KH, KW}, st = {Og, 1, O, KW * Ig * O, Ig * O};
    return dnnl_memory_desc_init_by_strides(md, 5, d, dnnl_s8, st);
}

/* W (HWIO bytes) reordered into a new memory of layout `to` */
static dnnl_status_t reorder_weights(const ax_onednn_conv *c, const uint8_t *W, const dnnl_memory_desc_t *to,
                                     dnnl_memory_t *out)
{
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t user = NULL;
    dnnl_stream_t stream = NULL;
    *out = NULL;
    dnnl_status_t st = dnnl_memory_create(out, to, c->engine, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success) st = dnnl_memory_create(&user, &c->user_md, c->engine, (void *)W);
    if (st == dnnl_success) st = dnnl_reorder_primitive_desc_create(&rpd, &c->user_md, c->engine, to, c->engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&r, rpd);
    if (st == dnnl_success) st = dnnl_stream_create(&stream, c->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *out}};
        st = dnnl_primitive_execute(r, stream, 2, args);
    }
    if (st == dnnl_success) st = dnnl_stream_wait(stream);
    if (stream) dnnl_stream_destroy(stream);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (user) dnnl_memory_destroy(user);
    if (st != dnnl_success && *out) dnnl_memory_destroy(*out), *out = NULL;
    return st;
}

/* Builds the primitive of entry e for (batch, threads) (OpenMP count set by
 * the caller); weights not reordered yet. */
static dnnl_status_t make_primitive(const ax_onednn_conv *c, size_t batch, entry *e)
{
    const ax_conv2d_shape *s = &c->s;
    dnnl_memory_desc_t any_md;
    dnnl_dims_t src_dims = {(dnnl_dim_t)batch, (dnnl_dim_t)s->in_c, (dnnl_dim_t)s->in_h, (dnnl_dim_t)s->in_w};
    dnnl_dims_t dst_dims = {(dnnl_dim_t)batch, (dnnl_dim_t)s->out_c, (dnnl_dim_t)c->oh, (dnnl_dim_t)c->ow};
    dnnl_dims_t strides = {(dnnl_dim_t)s->stride_h, (dnnl_dim_t)s->stride_w};
    dnnl_dims_t dil = {(dnnl_dim_t)s->dilation_h - 1, (dnnl_dim_t)s->dilation_w - 1};
    dnnl_dims_t pl = {(dnnl_dim_t)s->pad_top, (dnnl_dim_t)s->pad_left};
    dnnl_dims_t pr = {(dnnl_dim_t)s->pad_bottom, (dnnl_dim_t)s->pad_right};
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_data_type_t src_t = c->p->act == AX_S8 && !c->shift ? dnnl_s8 : dnnl_u8;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&e->src_md, 4, src_dims, src_t, dnnl_nhwc);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&e->dst_md, 4, dst_dims, dnnl_s32, dnnl_nhwc);
    if (st == dnnl_success)
        st = dnnl_memory_desc_init_by_tag(&any_md, c->user_md.ndims, c->user_md.dims, dnnl_s8, dnnl_format_tag_any);
    if (st == dnnl_success)
        st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                        &e->src_md, &any_md, NULL, &e->dst_md, strides, dil, pl, pr);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, attr, c->engine, NULL);
    if (st == dnnl_success) {
        const char *impl = NULL;
        e->wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        e->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        e->scratch_bytes = dnnl_memory_desc_get_size(&e->scratch_md);
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(e->impl, sizeof e->impl, "%s", impl);
        st = dnnl_primitive_create(&e->prim, pd);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    e->batch = batch;
    return st;
}

/* Runs entry e on X (batch e->batch) with weights wei into Y (overwritten). */
static dnnl_status_t execute(const ax_onednn_conv *c, entry *e, dnnl_memory_t wei, const uint8_t *X, int32_t *Y)
{
    dnnl_stream_t stream = NULL;
    dnnl_memory_t src = NULL, dst = NULL, pad = NULL;
    void *scratch = NULL, *mine = NULL;
    uint8_t *xs = NULL;
    bool held = false;
    dnnl_status_t st = dnnl_success;
    if (c->shift) { /* s8 -> u8 = a + 128: corr takes the 128 back */
        size_t nx = e->batch * c->s.in_h * c->s.in_w * c->s.in_c;
        if (!(xs = ax_aligned_alloc(64, nx))) return dnnl_out_of_memory;
        for (size_t i = 0; i < nx; i++) xs[i] = X[i] ^ 0x80;
        X = xs;
    }
    if (e->scratch_bytes) {
        held = e->scratch && !atomic_flag_test_and_set(&e->busy);
        scratch = held ? e->scratch : (mine = ax_aligned_alloc(64, e->scratch_bytes));
        if (!scratch) st = dnnl_out_of_memory;
    }
    if (st == dnnl_success) st = dnnl_stream_create(&stream, c->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) st = dnnl_memory_create(&src, &e->src_md, c->engine, (void *)X);
    if (st == dnnl_success) st = dnnl_memory_create(&dst, &e->dst_md, c->engine, Y);
    if (st == dnnl_success && scratch) st = dnnl_memory_create(&pad, &e->scratch_md, c->engine, scratch);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst},
                                  {DNNL_ARG_SCRATCHPAD, pad}};
        st = dnnl_primitive_execute(e->prim, stream, pad ? 4 : 3, args);
    }
    if (st == dnnl_success) st = dnnl_stream_wait(stream);
    free(xs);
    if (pad) dnnl_memory_destroy(pad);
    if (dst) dnnl_memory_destroy(dst);
    if (src) dnnl_memory_destroy(src);
    if (stream) dnnl_stream_destroy(stream);
    if (held) atomic_flag_clear(&e->busy);
    free(mine);
    return st;
}

static bool corr_of(const ax_onednn_conv *c, const uint8_t *W, uint32_t **out);

/* Y (+)= the primitive of e on X with weights wei, in int32: oneDNN
 * writes Y itself, or a scratch buffer when there is something to add
 * (accumulate: the old Y; shift: the correction of the +128). */
static int run_entry(const ax_onednn_conv *c, entry *e, dnnl_memory_t wei, const uint32_t *corr, const uint8_t *X,
                     int32_t *Y, bool accumulate)
{
    const ax_conv2d_shape *s = &c->s;
    size_t pixels = e->batch * c->oh * c->ow, O = s->out_c;
    uint32_t *d = (uint32_t *)Y;
    if (accumulate && !(d = ax_aligned_alloc(64, 4 * (pixels * O > 0 ? pixels * O : 1)))) return dnnl_out_of_memory;
    dnnl_status_t st = execute(c, e, wei, X, (int32_t *)d);
    if (st == dnnl_success && (accumulate || c->shift))
        for (size_t pix = 0; pix < pixels; pix++) {
            uint32_t *y = (uint32_t *)Y + pix * O;
            const uint32_t *dp = d + pix * O;
            if (c->shift) {
                size_t oy = pix / c->ow % c->oh, ox = pix % c->ow;
                const uint32_t *k = corr + (c->cls_y[oy] * c->n_cx + c->cls_x[ox]) * O;
                if (accumulate)
                    for (size_t o = 0; o < O; o++) y[o] += dp[o] + k[o];
                else
                    for (size_t o = 0; o < O; o++) y[o] += k[o];
            } else {
                for (size_t o = 0; o < O; o++) y[o] += dp[o];
            }
        }
    if (accumulate) free(d);
    return (int)st;
}

/* The primitive of e against our own exact path on batch e->batch:
 * activations all at the top of oneDNN's u8 side (u8 255, s8 127), all at
 * -128 (u8 128), each of those with one byte in 8 random (large sums with
 * random low bits: a float round trip past 2^24 shows), mixed per pixel,
 * against weights whose output channels are all 127, all -128, 127/-128
 * in alternate pairs (int16 pair-sum saturation) and random; then random
 * activations with the layer's weights. Threads: e->threads (set by the
 * caller). */
static bool verify(const ax_onednn_conv *c, entry *e)
{
    ax_conv2d_shape s = c->s;
    s.batch = e->batch;
    const ax_gemm_plan *p = c->p;
    size_t cg = s.in_c / s.groups, K = s.kernel_h * s.kernel_w * cg;
    size_t nx = s.batch * s.in_h * s.in_w * s.in_c, ny = s.batch * c->oh * c->ow * s.out_c, nw = K * s.out_c;
    uint8_t *X = malloc(nx ? nx : 1), *W = malloc(nw ? nw : 1);
    int32_t *want = malloc(4 * (ny ? ny : 1)), *got = malloc(4 * (ny ? ny : 1));
    dnnl_memory_t adv = NULL;
    uint32_t *adv_corr = NULL;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(s.out_c * 131 + K);
    bool ok = X && W && want && got;
    uint8_t top = p->act == AX_S8 ? 0x7f : 0xff, low = 0x80;
    for (size_t k = 0; ok && k < K; k++)
        for (size_t o = 0; o < s.out_c; o++)
            W[k * s.out_c + o] = o % 4 == 0 ? 127 : o % 4 == 1 ? 0x80 : o % 4 == 2 ? ((k / 2) % 2 ? 0x80 : 127)
                                                                                    : (uint8_t)next(&seed);
    ax_error err = {{0}};
    ok = ok && reorder_weights(c, W, &e->wei_md, &adv) == dnnl_success && (!c->shift || corr_of(c, W, &adv_corr));
    for (int round = 0; ok && round < 6; round++) {
        for (size_t i = 0; i < nx; i++) {
            size_t pix = i / s.in_c;
            uint64_t r = next(&seed);
            uint8_t mixed = pix % 3 == 0 ? top : pix % 3 == 1 ? low : (uint8_t)r;
            uint8_t sprinkled = (r >> 40) % 8 == 0 ? (uint8_t)r : round == 2 ? top : low;
            X[i] = round == 0 ? top : round == 1 ? low : round < 4 ? sprinkled : round == 4 ? mixed : (uint8_t)r;
        }
        const uint8_t *Wr = round == 5 ? c->w : W;
        memset(got, 0x5a, 4 * ny);
        ok = ax_conv2d_oracle(p, &s, X, Wr, want, e->threads, &err) == 0 &&
             run_entry(c, e, round == 5 ? e->wei : adv, round == 5 ? c->corr : adv_corr, X, got, false) == dnnl_success &&
             memcmp(want, got, 4 * ny) == 0;
        if (!ok && getenv("AX_DEBUG_CONV")) {
            size_t i = 0;
            while (i < ny && want[i] == got[i]) i++;
            fprintf(stderr, "verify %s shift %d round %d: first diff at %zu/%zu (o=%zu): want %d got %d [%s]\n",
                    e->impl, c->shift, round, i, ny, i % s.out_c, i < ny ? want[i] : 0, i < ny ? got[i] : 0, err.msg);
        }
    }
    if (adv) dnnl_memory_destroy(adv);
    free(adv_corr);
    free(X), free(W), free(want), free(got);
    return ok;
}

/* The correction classes of `shift`: the taps inside the input form one
 * range of ky per output row and one of kx per output column. */
static size_t classes(size_t n_out, size_t stride, size_t dil, size_t pad, size_t in, size_t kn, size_t *cls,
                      size_t (*range)[2])
{
    size_t n = 0;
    for (size_t o = 0; o < n_out; o++) {
        size_t lo = kn, hi = 0; /* empty: lo > hi */
        for (size_t k = 0; k < kn; k++) {
            size_t y = o * stride + k * dil;
            if (y >= pad && y - pad < in) {
                if (lo == kn) lo = k;
                hi = k;
            }
        }
        size_t j = 0;
        while (j < n && !(range[j][0] == lo && range[j][1] == hi)) j++;
        if (j == n) range[n][0] = lo, range[n][1] = hi, n++;
        cls[o] = j;
    }
    return n;
}

static bool build_classes(ax_onednn_conv *c)
{
    const ax_conv2d_shape *s = &c->s;
    size_t(*ry)[2] = malloc(sizeof *ry * c->oh), (*rx)[2] = malloc(sizeof *rx * c->ow);
    c->cls_y = malloc(sizeof *c->cls_y * c->oh), c->cls_x = malloc(sizeof *c->cls_x * c->ow);
    bool ok = ry && rx && c->cls_y && c->cls_x;
    if (ok) {
        c->n_cy = classes(c->oh, s->stride_h, s->dilation_h, s->pad_top, s->in_h, s->kernel_h, c->cls_y, ry);
        c->n_cx = classes(c->ow, s->stride_w, s->dilation_w, s->pad_left, s->in_w, s->kernel_w, c->cls_x, rx);
        ok = (c->range_y = malloc(sizeof *ry * c->n_cy)) && (c->range_x = malloc(sizeof *rx * c->n_cx));
        if (ok) memcpy(c->range_y, ry, sizeof *ry * c->n_cy), memcpy(c->range_x, rx, sizeof *rx * c->n_cx);
    }
    free(ry), free(rx);
    return ok;
}

/* The correction table of `shift` for HWIO weights W (new, in *out). */
static bool corr_of(const ax_onednn_conv *c, const uint8_t *W, uint32_t **out)
{
    const ax_conv2d_shape *s = &c->s;
    size_t O = s->out_c, cg = s->in_c / s->groups, KH = s->kernel_h, KW = s->kernel_w;
    uint32_t *tap = calloc(KH * KW * O, sizeof *tap);
    uint32_t *corr = *out = calloc(c->n_cy * c->n_cx * O, sizeof *corr);
    if (!tap || !corr) return free(tap), false;
    for (size_t t = 0; t < KH * KW; t++) /* per tap and output: the sum of its s8 weights */
        for (size_t i = 0; i < cg; i++)
            for (size_t o = 0; o < O; o++) tap[t * O + o] += (uint32_t)(int32_t)(int8_t)W[(t * cg + i) * O + o];
    for (size_t cy = 0; cy < c->n_cy; cy++)
        for (size_t cx = 0; cx < c->n_cx; cx++) {
            uint32_t *k = corr + (cy * c->n_cx + cx) * O;
            for (size_t ky = c->range_y[cy][0]; ky <= c->range_y[cy][1] && ky < KH; ky++)
                for (size_t kx = c->range_x[cx][0]; kx <= c->range_x[cx][1] && kx < KW; kx++)
                    for (size_t o = 0; o < O; o++) k[o] -= 128u * tap[(ky * KW + kx) * O + o];
        }
    free(tap);
    return true;
}

static void entry_free(entry *e)
{
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->wei && e->own_wei) dnnl_memory_destroy(e->wei);
    free(e->scratch);
    memset(e, 0, sizeof *e);
}

/* A new entry for (batch, threads), verified unless its implementation was
 * verified for this layer already; called under the mutex. NULL when it
 * cannot serve (the layer is then marked bad, except for a full cache). */
static entry *add_entry(ax_onednn_conv *c, size_t batch, int threads)
{
    int n = atomic_load(&c->n);
    if (n >= CACHE) return NULL;
    entry *e = &c->e[n];
    memset(e, 0, sizeof *e);
    atomic_flag_clear(&e->busy);
    e->threads = threads;
    struct omp_scope o = omp_enter(threads);
    bool ok = make_primitive(c, batch, e) == dnnl_success;
    for (int i = 0; ok && i < n && !e->wei; i++) /* the same layout: share the weights */
        if (dnnl_memory_desc_equal(&c->e[i].wei_md, &e->wei_md)) e->wei = c->e[i].wei;
    if (ok && !e->wei) ok = reorder_weights(c, c->w, &e->wei_md, &e->wei) == dnnl_success, e->own_wei = ok;
    if (ok && e->scratch_bytes) ok = (e->scratch = ax_aligned_alloc(64, e->scratch_bytes)) != NULL;
    bool known = false;
    for (int i = 0; ok && i < c->n_verified; i++) known = known || strcmp(c->verified[i], e->impl) == 0;
    if (ok && !known) {
        ok = verify(c, e);
        if (ok && c->n_verified < CACHE) memcpy(c->verified[c->n_verified++], e->impl, IMPL_MAX);
    }
    /* a reference implementation is exact but slow: only when asked for every shape */
    if (ok && !c->p->onednn_always && strncmp(e->impl, "ref", 3) == 0) ok = false;
    omp_leave(o);
    if (!ok && getenv("AX_DEBUG_CONV"))
        fprintf(stderr, "oneDNN conv entry batch %zu threads %d impl '%s' refused\n", batch, threads, e->impl);
    if (!ok) {
        entry_free(e);
        atomic_store(&c->bad, true);
        return NULL;
    }
    atomic_store(&c->n, n + 1); /* published: readers see a complete entry */
    return e;
}

void ax_onednn_conv_free(ax_onednn_conv *c)
{
    if (!c) return;
    int n = atomic_load(&c->n);
    for (int i = 0; i < n; i++) entry_free(&c->e[i]);
    if (c->engine) dnnl_engine_destroy(c->engine);
    pthread_mutex_destroy(&c->mu);
    free(c->cls_y), free(c->cls_x), free(c->range_y), free(c->range_x), free(c->corr);
    free(c->w);
    free(c);
}

int ax_onednn_conv_create(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W, ax_onednn_conv **out,
                          ax_error *err)
{
    *out = NULL;
    size_t K = s->kernel_h * s->kernel_w * (s->in_c / s->groups);
    ax_onednn_conv *c = calloc(1, sizeof *c);
    if (!c || !(c->w = malloc(K * s->out_c > 0 ? K * s->out_c : 1))) {
        free(c);
        return ax_fail(err, "conv2d weights: out of memory");
    }
    pthread_mutex_init(&c->mu, NULL);
    c->p = p;
    c->s = *s;
    memcpy(c->w, W, K * s->out_c);
    /* s8 activations: oneDNN's own s8 source first (its compensation goes
     * through float: exact only while the sums stay small, which the check
     * finds out), else the shifted u8 source; $AX_ONEDNN_CONV_S8=shift|native
     * forces one (tests, measurements) */
    const char *mode = getenv("AX_ONEDNN_CONV_S8");
    bool only_shift = mode && strcmp(mode, "shift") == 0, only_native = mode && strcmp(mode, "native") == 0;
    bool ok = ax_conv2d_output_size(s, &c->oh, &c->ow, err) == 0 && K > 0 &&
              user_weights_md(s, &c->user_md) == dnnl_success &&
              dnnl_engine_create(&c->engine, dnnl_cpu, 0) == dnnl_success;
    bool served = false;
    if (ok && (p->act != AX_S8 || !only_shift)) served = add_entry(c, 1, ax_default_threads(0)) != NULL;
    if (ok && !served && p->act == AX_S8 && !only_native) {
        c->shift = true;
        atomic_store(&c->bad, false);
        c->n_verified = 0;
        served = build_classes(c) && corr_of(c, c->w, &c->corr) && add_entry(c, 1, ax_default_threads(0)) != NULL;
    }
    if (!served) {
        ax_onednn_conv_free(c); /* not for oneDNN: our own path */
        return 0;
    }
    *out = c;
    return 0;
}

int ax_onednn_conv_run(ax_onednn_conv *c, const ax_conv2d_shape *s, const uint8_t *X, int32_t *Y, bool accumulate,
                       int threads, bool *done, ax_error *err)
{
    *done = false;
    if (atomic_load(&c->bad)) return 0;
    threads = ax_default_threads(threads);
    entry *e = NULL;
    int n = atomic_load(&c->n);
    for (int i = 0; i < n && !e; i++)
        if (c->e[i].batch == s->batch && c->e[i].threads == threads) e = &c->e[i];
    if (!e) {
        pthread_mutex_lock(&c->mu);
        n = atomic_load(&c->n);
        for (int i = 0; i < n && !e; i++)
            if (c->e[i].batch == s->batch && c->e[i].threads == threads) e = &c->e[i];
        if (!e && !atomic_load(&c->bad)) e = add_entry(c, s->batch, threads);
        pthread_mutex_unlock(&c->mu);
        if (!e) return 0;
    }
    struct omp_scope o = omp_enter(threads);
    int st = run_entry(c, e, e->wei, c->corr, X, Y, accumulate);
    omp_leave(o);
    if (st != dnnl_success) return ax_fail(err, "conv2d: oneDNN convolution failed (status %d)", st);
    *done = true;
    return 0;
}
#else
void ax_onednn_conv_free(ax_onednn_conv *c) { (void)c; }
int ax_onednn_conv_create(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W, ax_onednn_conv **out,
                          ax_error *err)
{
    (void)p, (void)s, (void)W, (void)err;
    *out = NULL;
    return 0;
}
int ax_onednn_conv_run(ax_onednn_conv *c, const ax_conv2d_shape *s, const uint8_t *X, int32_t *Y, bool accumulate,
                       int threads, bool *done, ax_error *err)
{
    (void)c, (void)s, (void)X, (void)Y, (void)accumulate, (void)threads, (void)err;
    *done = false;
    return 0;
}
#endif
