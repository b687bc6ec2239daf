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
 * kernels with oneDNN switched off) on the layer's own geometry (verify():
 * operands at the extremes of oneDNN's u8 x s8 domain, the int16 pair-sum
 * saturation of vpmaddubsw, large sums with random low bits that a float
 * round trip past 2^24 would change, then the layer's own weights). A
 * mismatch, or an oneDNN error, sends the layer back to our own path.
 *
 * s8 activations. oneDNN's u8 source is exact as it is (plain integer sums
 * to s32); its s8 source adds a compensation that some implementations
 * take through float (exact only while sums stay below 2^24) and that costs
 * per output (slow on short K). So an s8 layer takes the first of these
 * that verifies (create(): the order depends on the shape): native:
 * oneDNN's s8 source; ext (1x1 layers): the source as u8 a ^ 0x80 = a + 128
 * plus extra input channels per group (E of value 255, one of value 1)
 * whose weights cancel the +128 in oneDNN's own integer sums; shift: the u8
 * source and our int32 correction per output afterwards (border pixels by
 * class).
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

enum { CACHE = 16, IMPL_MAX = 96 };

typedef struct entry {
    size_t key; /* the batch */
    ax_conv2d_shape es; /* its geometry, and output size */
    size_t eoh, eow;
    int threads;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, dst_md, wei_md, scratch_md;
    dnnl_memory_t wei; /* the layer's weights in wei_md (shared when equal to an earlier entry's) */
    bool own_wei;
    size_t scratch_bytes;
    void *scratch;
    atomic_flag busy; /* scratch in use by a call */
    uint8_t *xbuf;     /* shift/ext: the source oneDNN reads (its geometry) */
    atomic_flag xbusy; /* xbuf in use by a call */
    char impl[IMPL_MAX];
} entry;

struct ax_onednn_conv {
    const ax_gemm_plan *p;
    ax_conv2d_shape s;
    size_t oh, ow;
    dnnl_engine_t engine;
    uint8_t *w; /* HWIO weights, as packed */
    dnnl_memory_desc_t user_md;
    /* shift: the source as u8 a ^ 0x80 = a + 128 and, per output, corr[cls_y[oy] *
     * n_cx + cls_x[ox]][o] = -128 * (the sum of o's weights on the taps
     * inside the input) added back in int32 */
    bool shift;
    /* ext: the shifted source plus extra input channels per group, of
     * value 255 (E of them, and the rounding) and a last one of value 1,
     * inside the input (oneDNN pads them with 0 like the rest), whose
     * weights per tap and output give -128 times the tap's weight sum:
     * oneDNN adds the correction itself, in its integer sums (cge = cg +
     * E + 1, rounded up to 4: oneDNN's k step) */
    bool ext;
    size_t cge, E;
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

/* ext: the correction of one tap and output, -128 * S (S: its weight sum),
 * as 255 * q + rem with rem in [-127, 127]: q goes to the extra channels of
 * value 255 (weights in [-128, 127] each), rem to the last extra channel,
 * of value 1. */
static int32_t ext_q(int32_t S, int32_t *rem)
{
    int32_t C = -128 * S, q = C >= 0 ? (C + 127) / 255 : -((-C + 127) / 255);
    *rem = C - 255 * q;
    return q;
}

/* ext: the HWIO weights with the extra input channels per group (new):
 * [cg, cge - 1) of value 255, cge - 1 of value 1. */
static uint8_t *extend_weights(const ax_onednn_conv *c, const uint8_t *W)
{
    const ax_conv2d_shape *s = &c->s;
    size_t O = s->out_c, cg = s->in_c / s->groups, taps = s->kernel_h * s->kernel_w;
    uint8_t *wx = calloc(taps * c->cge * O, 1);
    if (!wx) return NULL;
    for (size_t t = 0; t < taps; t++) {
        memcpy(wx + t * c->cge * O, W + t * cg * O, cg * O);
        for (size_t o = 0; o < O; o++) {
            int32_t S = 0, rem;
            for (size_t i = 0; i < cg; i++) S += (int8_t)W[(t * cg + i) * O + o];
            int32_t q = ext_q(S, &rem); /* in pieces of [-128, 127] */
            for (size_t j = cg; j + 1 < c->cge && q; j++) {
                int32_t x = q > 127 ? 127 : q < -128 ? -128 : q;
                wx[(t * c->cge + j) * O + o] = (uint8_t)(int8_t)x;
                q -= x;
            }
            wx[(t * c->cge + c->cge - 1) * O + o] = (uint8_t)(int8_t)rem;
        }
    }
    return wx;
}

/* ext: the extra channels of value 255 these weights need (the largest
 * |q| over 127, rounded up) */
static size_t extra_channels(const ax_onednn_conv *c, const uint8_t *W)
{
    const ax_conv2d_shape *s = &c->s;
    size_t O = s->out_c, cg = s->in_c / s->groups, taps = s->kernel_h * s->kernel_w, E = 0;
    for (size_t t = 0; t < taps; t++)
        for (size_t o = 0; o < O; o++) {
            int32_t S = 0, rem;
            for (size_t i = 0; i < cg; i++) S += (int8_t)W[(t * cg + i) * O + o];
            int32_t q = ext_q(S, &rem);
            size_t e = ((size_t)(q < 0 ? -q : q) + 126) / 127;
            if (e > E) E = e;
        }
    return E;
}

/* ext: weights whose every tap the extra channels can take (|q| <= 127
 * per channel of value 255), from W by moving its last channels of each
 * tap toward the other sign: the check's extreme weights, made fit. */
static void balance(const ax_onednn_conv *c, uint8_t *W)
{
    const ax_conv2d_shape *s = &c->s;
    size_t O = s->out_c, cg = s->in_c / s->groups, taps = s->kernel_h * s->kernel_w;
    /* |S| <= cap gives |C| = 128 |S| <= 255 * 127 * n - 127, so |q| <= 127 * n */
    int32_t cap = (255 * 127 * (int32_t)(c->cge - cg - 1) - 127) / 128;
    if (cap < 0) cap = 0;
    for (size_t t = 0; t < taps; t++)
        for (size_t o = 0; o < O; o++) {
            int32_t S = 0;
            for (size_t i = 0; i < cg; i++) S += (int8_t)W[(t * cg + i) * O + o];
            for (size_t i = cg; i-- > 0 && (S > cap || S < -cap);) {
                uint8_t *w = &W[(t * cg + i) * O + o];
                int32_t v = (int8_t)*w, nv = S > cap ? (v - (S - cap) < -128 ? -128 : v - (S - cap))
                                                     : (v + (-cap - S) > 127 ? 127 : v + (-cap - S));
                S += nv - v;
                *w = (uint8_t)(int8_t)nv;
            }
        }
}

/* W (HWIO bytes) reordered into a new memory of layout `to` */
static dnnl_status_t reorder_weights(const ax_onednn_conv *c, const uint8_t *W, const dnnl_memory_desc_t *to,
                                     dnnl_memory_t *out)
{
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t user = NULL;
    dnnl_stream_t stream = NULL;
    uint8_t *wx = NULL;
    *out = NULL;
    if (c->ext) {
        if (!(wx = extend_weights(c, W))) return dnnl_out_of_memory;
        W = wx;
    }
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
    free(wx);
    if (st != dnnl_success && *out) dnnl_memory_destroy(*out), *out = NULL;
    return st;
}

/* Entry e's geometry for its key. */
static void entry_shape(const ax_onednn_conv *c, entry *e, size_t key)
{
    e->key = key;
    e->es = c->s;
    e->eoh = c->oh, e->eow = c->ow;
    e->es.batch = key;
    if (c->ext) e->es.in_c = c->s.groups * c->cge;
}

/* Builds the primitive of entry e for its geometry (OpenMP count set by the
 * caller); weights not reordered yet. */
static dnnl_status_t make_primitive(const ax_onednn_conv *c, entry *e)
{
    const ax_conv2d_shape *s = &e->es;
    size_t batch = s->batch;
    dnnl_memory_desc_t any_md;
    dnnl_dims_t src_dims = {(dnnl_dim_t)batch, (dnnl_dim_t)s->in_c, (dnnl_dim_t)s->in_h, (dnnl_dim_t)s->in_w};
    dnnl_dims_t dst_dims = {(dnnl_dim_t)batch, (dnnl_dim_t)s->out_c, (dnnl_dim_t)e->eoh, (dnnl_dim_t)e->eow};
    dnnl_dims_t strides = {(dnnl_dim_t)s->stride_h, (dnnl_dim_t)s->stride_w};
    dnnl_dims_t dil = {(dnnl_dim_t)s->dilation_h - 1, (dnnl_dim_t)s->dilation_w - 1};
    dnnl_dims_t pl = {(dnnl_dim_t)s->pad_top, (dnnl_dim_t)s->pad_left};
    dnnl_dims_t pr = {(dnnl_dim_t)s->pad_bottom, (dnnl_dim_t)s->pad_right};
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_data_type_t src_t = c->p->act == AX_S8 && !c->shift && !c->ext ? dnnl_s8 : dnnl_u8;
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
    return st;
}

/* Runs entry e on X (its geometry) with weights wei into Y (overwritten). */
static dnnl_status_t execute(const ax_onednn_conv *c, entry *e, dnnl_memory_t wei, const uint8_t *X, int32_t *Y)
{
    dnnl_stream_t stream = NULL;
    dnnl_memory_t src = NULL, dst = NULL, pad = NULL;
    void *scratch = NULL, *mine = NULL;
    uint8_t *xs = NULL;
    bool held = false, xheld = false;
    dnnl_status_t st = dnnl_success;
    size_t pixels = e->es.batch * e->es.in_h * e->es.in_w, cg = c->s.in_c / c->s.groups;
    if (c->ext || c->shift) { /* a buffer kept in the entry (a fresh one page-faults every call) */
        xheld = e->xbuf && !atomic_flag_test_and_set(&e->xbusy);
        xs = xheld ? e->xbuf : ax_aligned_alloc(64, pixels * e->es.in_c);
        if (!xs) return dnnl_out_of_memory;
    }
    /* the copies below run on the entry's threads, as oneDNN does */
    int nt = e->threads > 1 && pixels >= 1024 ? e->threads : 1;
    (void)nt;
    if (c->ext) { /* s8 -> u8 = a + 128, then per group the extra channels: 255, ..., 255, 1 */
        size_t G = c->s.groups, cge = c->cge;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
        for (size_t p = 0; p < pixels; p++)
            for (size_t g = 0; g < G; g++) {
                const uint8_t *x = X + (p * G + g) * cg;
                uint8_t *d = xs + (p * G + g) * cge;
                for (size_t i = 0; i < cg; i++) d[i] = x[i] ^ 0x80;
                memset(d + cg, 255, cge - cg - 1);
                d[cge - 1] = 1;
            }
        X = xs;
    } else if (c->shift) { /* s8 -> u8 = a + 128: corr takes the 128 back */
        size_t row = e->es.in_c;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
        for (size_t p = 0; p < pixels; p++)
            for (size_t i = 0; i < row; i++) xs[p * row + i] = X[p * row + i] ^ 0x80;
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
    if (xheld) atomic_flag_clear(&e->xbusy);
    else free(xs);
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
    size_t pixels = e->es.batch * e->eoh * e->eow, O = s->out_c;
    bool one_class = c->n_cy * c->n_cx == 1; /* no padding */
    uint32_t *d = (uint32_t *)Y;
    if (accumulate && !(d = ax_aligned_alloc(64, 4 * (pixels * O > 0 ? pixels * O : 1)))) return dnnl_out_of_memory;
    dnnl_status_t st = execute(c, e, wei, X, (int32_t *)d);
    int nt = e->threads > 1 && pixels >= 1024 ? e->threads : 1;
    (void)nt;
    if (st == dnnl_success && (accumulate || c->shift)) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
        for (size_t pix = 0; pix < pixels; pix++) {
            uint32_t *y = (uint32_t *)Y + pix * O;
            const uint32_t *dp = d + pix * O;
            if (c->shift) {
                size_t oy = pix / c->ow % c->oh, ox = pix % c->ow;
                const uint32_t *k = one_class ? corr : corr + (c->cls_y[oy] * c->n_cx + c->cls_x[ox]) * O;
                if (accumulate)
                    for (size_t o = 0; o < O; o++) y[o] += dp[o] + k[o];
                else
                    for (size_t o = 0; o < O; o++) y[o] += k[o];
            } else {
                for (size_t o = 0; o < O; o++) y[o] += dp[o];
            }
        }
    }
    if (accumulate) free(d);
    return (int)st;
}

/* The primitive of e against our own exact path on its geometry:
 * activations all at the top of oneDNN's u8 side (u8 255, s8 127), all at
 * -128 (u8 128), each of those with one byte in 8 random (large sums with
 * random low bits: a float round trip past 2^24 shows), mixed per pixel,
 * against weights whose output channels are all 127, all -128, 127/-128
 * in alternate pairs (int16 pair-sum saturation) and random; then random
 * activations with the layer's weights. Threads: e->threads (set by the
 * caller). */
static bool verify(const ax_onednn_conv *c, entry *e)
{
    ax_conv2d_shape s = e->es;
    s.in_c = c->s.in_c; /* ext: oneDNN's extra channels are not the layer's */
    const ax_gemm_plan *p = c->p;
    size_t cg = s.in_c / s.groups, K = s.kernel_h * s.kernel_w * cg;
    size_t nx = s.batch * s.in_h * s.in_w * s.in_c, ny = s.batch * e->eoh * e->eow * s.out_c, nw = K * s.out_c;
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
    if (ok && c->ext) balance(c, W);
    ax_error err = {{0}};
    ok = ok && reorder_weights(c, W, &e->wei_md, &adv) == dnnl_success && (!c->shift || corr_of(c, W, &adv_corr));
    for (int round = 0; ok && round < 7; round++) {
        for (size_t i = 0; i < nx; i++) {
            size_t pix = i / s.in_c, ch = i % s.in_c % cg;
            uint64_t r = next(&seed);
            uint8_t mixed = pix % 3 == 0 ? top : pix % 3 == 1 ? low : (uint8_t)r;
            uint8_t sprinkled = (r >> 40) % 8 == 0 ? (uint8_t)r : round == 2 ? top : low;
            /* first channels top, last ones low (u8 0): with balanced weights large sums too */
            uint8_t halves = (r >> 40) % 8 == 0 ? (uint8_t)r : ch < cg / 2 ? top : (uint8_t)(top + 1);
            X[i] = round == 0 ? top : round == 1 ? low : round < 4 ? sprinkled : round == 4 ? mixed
                 : round == 5 ? halves : (uint8_t)r;
        }
        const uint8_t *Wr = round == 6 ? c->w : W;
        memset(got, 0x5a, 4 * ny);
        ok = ax_conv2d_oracle(p, &s, X, Wr, want, e->threads, &err) == 0 &&
             run_entry(c, e, round == 6 ? e->wei : adv, round == 6 ? c->corr : adv_corr, X, got, false) == dnnl_success &&
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
    free(e->xbuf);
    memset(e, 0, sizeof *e);
}

/* A new entry for (key, threads), verified unless its implementation was
 * verified for this layer already; called under the mutex. NULL when it
 * cannot serve (the layer is then marked bad, except for a full cache). */
static entry *add_entry(ax_onednn_conv *c, size_t key, int threads)
{
    int n = atomic_load(&c->n);
    if (n >= CACHE) return NULL;
    entry *e = &c->e[n];
    memset(e, 0, sizeof *e);
    atomic_flag_clear(&e->busy);
    e->threads = threads;
    struct omp_scope o = omp_enter(threads);
    entry_shape(c, e, key);
    bool ok = make_primitive(c, e) == dnnl_success;
    for (int i = 0; ok && i < n && !e->wei; i++) /* the same layout: share the weights */
        if (dnnl_memory_desc_equal(&c->e[i].wei_md, &e->wei_md)) e->wei = c->e[i].wei;
    if (ok && !e->wei) ok = reorder_weights(c, c->w, &e->wei_md, &e->wei) == dnnl_success, e->own_wei = ok;
    if (ok && e->scratch_bytes) ok = (e->scratch = ax_aligned_alloc(64, e->scratch_bytes)) != NULL;
    atomic_flag_clear(&e->xbusy);
    if (ok && (c->ext || c->shift))
        ok = (e->xbuf = ax_aligned_alloc(64, e->es.batch * e->es.in_h * e->es.in_w * e->es.in_c)) != NULL;
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
        fprintf(stderr, "oneDNN conv entry %zu threads %d impl '%s' refused\n", key, threads, e->impl);
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
    /* s8 activations, the first that verifies on batch 1 and on the
     * packing's batch (oneDNN may pick another implementation for it) of:
     * - native, first on 1x1 layers with K >= 256 or N <= 2K: oneDNN's own
     *   s8 source, no copy; its compensation is a cost per output (measured
     *   on ResNet-50 1x1 layers: 0.75-1.0x the u8 layer, but 0.45-0.6x on
     *   56x56x64 -> 256), and it is exact only while the sums stay small
     *   (3x3 layers: jit_int8 and brgconv round past 2^24; brgconv_1x1 held
     *   up to K = 1024 and failed at 2048: the check decides);
     * - ext, on 1x1 layers when its extra channels add at most half to K
     *   (56x56x64 -> 256: K 64 -> 76 at ~0.85x the u8 layer; on 3x3 layers
     *   oneDNN's kernels lose more to the odd channel count than to our
     *   correction pass): the source shifted to u8 plus the extra channels,
     *   a cost per input; oneDNN's u8 kernels as they are;
     * - shift: the shifted source and our int32 correction afterwards, one
     *   pass over the output: any K.
     * $AX_ONEDNN_CONV_S8=ext|native|shift forces one (tests, measurements). */
    const char *mode = getenv("AX_ONEDNN_CONV_S8");
    bool ok = ax_conv2d_output_size(s, &c->oh, &c->ow, err) == 0 && K > 0 &&
              dnnl_engine_create(&c->engine, dnnl_cpu, 0) == dnnl_success;
    size_t key0 = 1; /* batch 1: checked at packing */
    size_t cg = s->in_c / s->groups;
    /* the packing's own batch too (bench-approx, batch-sized packing):
     * checked now rather than in the first run; oneDNN may pick another
     * implementation for it, so a refusal there tries the next s8 mode */
    size_t keyb = s->batch;
    bool served = false;
    if (ok && p->act != AX_S8)
        served = user_weights_md(s, &c->user_md) == dnnl_success && add_entry(c, key0, ax_default_threads(0)) &&
                 (keyb == key0 || add_entry(c, keyb, ax_default_threads(0)));
    ok = ok && p->act == AX_S8 && build_classes(c) && corr_of(c, c->w, &c->corr);
    if (ok) c->E = extra_channels(c, c->w), c->cge = (cg + c->E + 1 + 3) / 4 * 4;
    /* native before ext on 1x1 layers where its compensation, a cost per
     * output, weighs less than ext's copy and extra channels, costs per
     * input: K >= 256 or N <= 2K (measured on ResNet-50's 1x1 layers) */
    bool native_first = s->kernel_h * s->kernel_w == 1 && (cg >= 256 || s->out_c / s->groups <= 2 * cg);
    static const char *const modes[] = {"ext", "native", "shift"};
    static const int order[2][3] = {{0, 1, 2}, {1, 0, 2}};
    for (int j = 0; ok && !served && j < 3; j++) {
        int i = order[native_first][j];
        if (mode ? strcmp(mode, modes[i]) != 0 : i == 0 && (2 * (c->cge - cg) > cg || s->kernel_h * s->kernel_w > 1))
            continue;
        c->ext = i == 0, c->shift = i == 2;
        ax_conv2d_shape sx = *s;
        if (c->ext) sx.in_c = s->groups * c->cge;
        atomic_store(&c->bad, false);
        c->n_verified = 0;
        served = user_weights_md(&sx, &c->user_md) == dnnl_success && add_entry(c, key0, ax_default_threads(0)) &&
                 (keyb == key0 || add_entry(c, keyb, ax_default_threads(0)));
        if (!served) { /* this mode's entries go */
            for (int k = atomic_load(&c->n); k-- > 0;) entry_free(&c->e[k]);
            atomic_store(&c->n, 0);
        }
    }
    if (!served) {
        ax_onednn_conv_free(c); /* not for oneDNN: our own path */
        return 0;
    }
    if (getenv("AX_DEBUG_CONV"))
        fprintf(stderr, "oneDNN conv %zux%zux%zu k%zux%zu o%zu g%zu: %s (E %zu)\n", s->in_h, s->in_w, s->in_c, s->kernel_h,
                s->kernel_w, s->out_c, s->groups, c->ext ? "ext" : c->shift ? "shift" : "native", c->E);
    *out = c;
    return 0;
}

/* The entry for (key, threads), made on first use; NULL: our own path. */
static entry *find_entry(ax_onednn_conv *c, size_t key, int threads)
{
    entry *e = NULL;
    int n = atomic_load(&c->n);
    for (int i = 0; i < n && !e; i++)
        if (c->e[i].key == key && c->e[i].threads == threads) e = &c->e[i];
    if (e) return e;
    pthread_mutex_lock(&c->mu);
    n = atomic_load(&c->n);
    for (int i = 0; i < n && !e; i++)
        if (c->e[i].key == key && c->e[i].threads == threads) e = &c->e[i];
    if (!e && !atomic_load(&c->bad)) e = add_entry(c, key, threads);
    pthread_mutex_unlock(&c->mu);
    return e;
}

int ax_onednn_conv_run(ax_onednn_conv *c, const ax_conv2d_shape *s, const uint8_t *X, int32_t *Y, bool accumulate,
                       int threads, bool *done, ax_error *err)
{
    *done = false;
    if (atomic_load(&c->bad)) return 0;
    threads = ax_default_threads(threads);
    /* every primitive this call needs before the first writes Y */
    entry *e = find_entry(c, s->batch, threads);
    if (!e) return 0;
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
