/* conv2d.c - 2-D convolution (NHWC activations, HWIO weights, groups,
 * depthwise, stride, dilation, padding with the zero-point byte) as one GEMM
 * per group, the groups' GEMMs run as one job (ax_gemm_groups). The GEMM
 * reads activation rows; a 1x1 stride-1 unpadded convolution's rows are the
 * input pixels themselves, read in place, and every other convolution gets
 * im2col rows built for a bounded chunk of output pixels at a time (every
 * group from one pass over the input), so memory stays O(chunk * K), not
 * O(M * K).
 * Depthwise-like convolutions (<= 4 input channels per group) would be
 * thousands of tiny GEMMs; they run directly instead (dwconv2d.c). An
 * EXACT plan with oneDNN may run a whole layer as one oneDNN convolution
 * primitive instead (exact_conv_onednn.c; onednn_wanted says which layers),
 * its own packed weights kept for what the primitive cannot serve. Grouped
 * layers on an integer form the grouped kernel takes (AVX-512 VNNI: byte
 * forms of LOWRANK or EXACT plans; AVX2: the
 * int16 terms of LOWRANK and EXACT plans) map the input through the activation factors
 * once and run the grouped kernel on the mapped pixels in place through
 * tap pointers: no im2col, no packing of A (run_glr). A LUT plan over a
 * linear base runs its grouped layers' base there too, and the residual as
 * LUT GEMMs (split); LUT kernels with pack_lines pack grouped layers' panels
 * straight from the input pixels, without im2col rows. */
#include "gemm_internal.h"
#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>

/* most input channels per group for the direct loop (dwconv2d.c); the
 * im2col rows per chunk follow the plan's im2col_bytes (L2-sized), in
 * multiples of CHUNK_UNIT (run_own) */
enum { DIRECT_MAX_CG = 4, CHUNK_UNIT = 320, LINE = 64 };

struct ax_conv2d_weights {
    const ax_gemm_plan *plan;
    ax_conv2d_shape shape;    /* batch not compared: any batch size runs */
    size_t n_groups, max_k;
    ax_packed_weights **g; /* one per group: K = kh*kw*in_c/groups, N = out_c/groups */
    uint8_t *direct;       /* or, for the direct loop (dwconv2d.c): the weights as [out_c][tap] */
    uint32_t *direct_corr; /* and per output channel, the sum of its taps' dw_colmin */
    ax_onednn_conv *dnn;   /* or NULL: the layer as one oneDNN primitive (exact_conv_onednn.c) */
    uint8_t *glr;          /* or the grouped kernel's weights (run_glr), glr_unit bytes per unit of glr_per groups */
    size_t glr_unit, glr_per;
    /* split: glr holds the linear base's weights (plan->base) and g the
     * residual's (plan->resid), the layer their sum (run_own) */
    bool split;
};

static bool same_shape(const ax_conv2d_shape *a, const ax_conv2d_shape *b)
{ /* field by field: padding bytes of the struct may differ; not the batch */
    return a->in_h == b->in_h && a->in_w == b->in_w && a->in_c == b->in_c &&
           a->out_c == b->out_c && a->kernel_h == b->kernel_h && a->kernel_w == b->kernel_w &&
           a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->dilation_h == b->dilation_h &&
           a->dilation_w == b->dilation_w && a->pad_top == b->pad_top && a->pad_left == b->pad_left &&
           a->pad_bottom == b->pad_bottom && a->pad_right == b->pad_right && a->groups == b->groups &&
           a->pad_byte == b->pad_byte;
}

static bool use_direct(const ax_conv2d_shape *s) { return s->groups > 1 && s->in_c / s->groups <= DIRECT_MAX_CG; }

/* Groups per unit of the grouped LOWRANK kernel (p->glr; its per says
 * which channels per group it takes, before the direct loop: 4 on both
 * ISAs, on AVX-512 for at most 4 terms, 3 with row corrections); 0: not
 * that kernel. */
static const ax_gemm_plan *glr_plan(const ax_gemm_plan *p) { return p->s8u8 ? p->s8u8 : p; }

static size_t glr_per(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    if (!p->glr || s->groups < 2) return 0;
    return p->glr->per(p, s->in_c / s->groups, s->out_c / s->groups, s->groups);
}

static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int ax_conv2d_output_size(const ax_conv2d_shape *s, size_t *out_h, size_t *out_w, ax_error *err)
{
    if (!s) return ax_fail(err, "conv2d: no shape");
    if (!s->stride_h || !s->stride_w || !s->dilation_h || !s->dilation_w || !s->groups || !s->kernel_h ||
        !s->kernel_w)
        return ax_fail(err, "conv2d: stride, dilation, kernel size and groups must be >= 1");
    if (!s->in_c || !s->out_c || s->in_c % s->groups || s->out_c % s->groups)
        return ax_fail(err, "conv2d: groups %zu must divide in_c %zu and out_c %zu (both >= 1)", s->groups, s->in_c,
                       s->out_c);
    size_t ext_h, ext_w, span_h, span_w;
    if (!mul_ok(s->kernel_h - 1, s->dilation_h, &ext_h) || !mul_ok(s->kernel_w - 1, s->dilation_w, &ext_w) ||
        s->in_h > SIZE_MAX / 4 || s->in_w > SIZE_MAX / 4 || s->pad_top > SIZE_MAX / 4 ||
        s->pad_bottom > SIZE_MAX / 4 || s->pad_left > SIZE_MAX / 4 || s->pad_right > SIZE_MAX / 4)
        return ax_fail(err, "conv2d: sizes too large");
    span_h = s->in_h + s->pad_top + s->pad_bottom;
    span_w = s->in_w + s->pad_left + s->pad_right;
    if (span_h <= ext_h || span_w <= ext_w)
        return ax_fail(err, "conv2d: the %zux%zu kernel (dilated) does not fit the padded %zux%zu input",
                       s->kernel_h, s->kernel_w, span_h, span_w);
    *out_h = (span_h - ext_h - 1) / s->stride_h + 1;
    *out_w = (span_w - ext_w - 1) / s->stride_w + 1;
    size_t t;
    if (!mul_ok(s->batch, *out_h, &t) || !mul_ok(t, *out_w, &t) || !mul_ok(t, s->out_c, &t) ||
        !mul_ok(s->kernel_h * s->kernel_w, s->in_c, &t) || !mul_ok(t, s->out_c, &t))
        return ax_fail(err, "conv2d: sizes too large");
    return 0;
}

/* the input byte under output pixel (oy, ox) of image b, tap (ky, kx), channel c */
static inline uint8_t tap(const ax_conv2d_shape *s, const uint8_t *X, size_t b, size_t oy, size_t ox, size_t ky,
                          size_t kx, size_t c)
{
    size_t y = oy * s->stride_h + ky * s->dilation_h, x = ox * s->stride_w + kx * s->dilation_w;
    if (y < s->pad_top || x < s->pad_left) return s->pad_byte;
    y -= s->pad_top, x -= s->pad_left;
    if (y >= s->in_h || x >= s->in_w) return s->pad_byte;
    return X[((b * s->in_h + y) * s->in_w + x) * s->in_c + c];
}

void ax_conv2d_reference(const int32_t table[AX_TABLE_SIZE], const ax_conv2d_shape *s, const uint8_t *X,
                         const uint8_t *W, int32_t *Y, bool accumulate)
{
    size_t oh, ow;
    if (ax_conv2d_output_size(s, &oh, &ow, NULL) != 0) return;
    size_t cg = s->in_c / s->groups, og = s->out_c / s->groups;
    for (size_t b = 0; b < s->batch; b++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++)
                for (size_t o = 0; o < s->out_c; o++) {
                    int32_t *y = Y + ((b * oh + oy) * ow + ox) * s->out_c + o;
                    uint32_t acc = accumulate ? (uint32_t)*y : 0;
                    size_t g = o / og;
                    for (size_t ky = 0; ky < s->kernel_h; ky++)
                        for (size_t kx = 0; kx < s->kernel_w; kx++)
                            for (size_t i = 0; i < cg; i++) {
                                uint8_t a = tap(s, X, b, oy, ox, ky, kx, g * cg + i);
                                uint8_t w = W[((ky * s->kernel_w + kx) * cg + i) * s->out_c + o];
                                acc += (uint32_t)table[a * 256u + w];
                            }
                    *y = (int32_t)acc;
                }
}

int ax_conv2d_pack_weights(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W,
                           ax_conv2d_weights **out, ax_error *err)
{
    return ax_conv2d_pack_weights_ex(p, s, W, NULL, out, err);
}

/* Layers of an EXACT s8 x s8 plan that our AVX-512 VNNI kernel runs
 * rather than oneDNN's convolution: 1x1, unpadded, K <= OWN_MAX_K, at most
 * OWN_MAX_PIXELS output pixels an image. oneDNN takes u8 sources: s8 ones
 * cost it a compensation per output (native) or a shifted copy of the
 * input (ext, shift), a large share of a short-K layer, while our kernel
 * flips the bytes in registers and folds the correction into its sums'
 * start (exact_gemm_6x64__avx512vnni.c); past K = 256 oneDNN's blocking
 * wins, and so it does on ResNet-50's 56x56 1x1 layers of N <= K (quiet
 * machine, alternated runs: 0.80 vs 0.69x of the u8 layer at K = N = 64),
 * while the 28x28 and 14x14 ones go ours (l2.0.downsample.0 1.01 vs 0.86),
 * and so do larger images' layers of N >= 2K, whose outputs (streamed past
 * the caches, gemm.c) bind them (layer1.0.conv3 1.3x oneDNN's u8 layer;
 * docs/kernels.md). Their weights are not packed for oneDNN's GEMM either. */
enum { OWN_MAX_K = 256, OWN_MAX_PIXELS = 28 * 28 };
static bool own_exact(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    bool padded = s->pad_top || s->pad_left || s->pad_bottom || s->pad_right;
    size_t oh = s->stride_h ? (s->in_h + s->stride_h - 1) / s->stride_h : 0; /* 1x1, unpadded */
    size_t ow = s->stride_w ? (s->in_w + s->stride_w - 1) / s->stride_w : 0;
    /* an EXACT plan on AVX-512 with VNNI runs exact_gemm_6x64__avx512vnni (gemm_plan.c) */
    return p->path == AX_PATH_EXACT && p->isa == AX_ISA_AVX512 && ax_cpu_has_avx512vnni() && p->act == AX_S8 &&
           p->wgt == AX_S8 && !p->onednn_always && s->kernel_h == 1 && s->kernel_w == 1 && !padded &&
           s->groups == 1 && s->in_c <= OWN_MAX_K && (oh * ow <= OWN_MAX_PIXELS || s->out_c >= 2 * s->in_c);
}

/* Whether oneDNN's convolution may run this layer of plan p: an EXACT plan
 * whose GEMMs verified on oneDNN, s8 weights (oneDNN has no u8 ones),
 * padding that means 0 (oneDNN pads with 0), and where it pays: dense
 * layers, grouped layers of more than 8 channels per group (or of more
 * than DIRECT_MAX_CG that our grouped kernel does not take), and depthwise
 * layers with one output per input channel (oneDNN's depthwise kernel)
 * that no integer-form kernel of ours takes (ax_dwconv2d_has_bands:
 * AVX-512 VNNI's runs 1.2-3x oneDNN's s8 depthwise); the rest only under
 * $AX_ONEDNN=always; never the layers of own_exact. The primitive checks
 * itself before use (exact_conv_onednn.c). */
static bool onednn_wanted(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    bool padded = s->pad_top || s->pad_left || s->pad_bottom || s->pad_right;
    if (!p->onednn || p->path != AX_PATH_EXACT || p->wgt != AX_S8 || (padded && s->pad_byte != 0) || own_exact(p, s))
        return false;
    bool depthwise = s->groups == s->in_c && s->out_c == s->in_c;
    if (p->onednn_always) return true;
    /* the grouped kernel ran 1.8-2.2x oneDNN's grouped convolution on
     * ResNeXt's layer2.0 / 2.1 (8 channels a group); at 16 and 32 the two
     * ran within 10% of each other */
    if (!depthwise && s->groups > 1 && s->in_c / s->groups <= 8 && glr_per(glr_plan(p), s)) return false;
    return !use_direct(s) || (depthwise && !ax_dwconv2d_has_bands(p, s));
}

static int pack_own(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W, const ax_acc_extra *extra,
                    ax_conv2d_weights **out, ax_error *err);

int ax_conv2d_pack_weights_ex(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W,
                              const ax_acc_extra *extra, ax_conv2d_weights **out, ax_error *err)
{
    *out = NULL;
    if (pack_own(p, s, W, extra, out, err) != 0) return -1;
    /* our own weights stay packed too: other batch sizes or thread counts
     * past the primitive cache, or a primitive that fails its check */
    if (onednn_wanted(p, s) && ax_onednn_conv_create(p, s, W, &(*out)->dnn, err) != 0) {
        ax_conv2d_weights_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

const char *ax_conv2d_kernel_name(const ax_conv2d_weights *w)
{
    if (!w) return "";
    if (w->dnn) return "exact_conv__onednn";
    if (w->split) return w->plan->split_name;
    if (w->glr && w->glr_per == 16) return w->plan->s8u8 ? w->plan->glr->name16_s8 : w->plan->glr->name16;
    if (w->glr) return w->plan->s8u8 ? w->plan->glr->name_s8 : w->plan->glr->name;
    if (w->direct) return ax_dwconv2d_kernel_name(w->plan, &w->shape);
    return own_exact(w->plan, &w->shape) ? w->plan->exact->name : ax_gemm_plan_kernel_name(w->plan);
}

static int pack_own(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W, const ax_acc_extra *extra,
                    ax_conv2d_weights **out, ax_error *err)
{
    *out = NULL;
    size_t oh, ow;
    if (!p || !W) return ax_fail(err, "conv2d weights: missing plan or weights");
    if (ax_conv2d_output_size(s, &oh, &ow, err) != 0) return -1;
    size_t cg = s->in_c / s->groups, og = s->out_c / s->groups, K = s->kernel_h * s->kernel_w * cg;
    if (ax_check_k(p, K, extra, "conv2d weights", err) != 0) return -1;
    ax_conv2d_weights *cw = calloc(1, sizeof *cw);
    uint8_t *B = malloc(K && og ? K * og : 1);
    if (!cw || !B || !(cw->g = calloc(s->groups, sizeof *cw->g))) {
        free(B);
        if (cw) free(cw->g);
        free(cw);
        return ax_fail(err, "conv2d weights: out of memory");
    }
    cw->plan = p;
    cw->shape = *s;
    cw->n_groups = s->groups;
    cw->max_k = ax_gemm_plan_max_k_ex(p, extra);
    const ax_gemm_plan *gp = glr_plan(p); /* the grouped kernel's plan */
    size_t per = glr_per(gp, s);
    /* a linear base split off (plan->base): its exact GEMM filled 8 of 64
     * lanes at 8 outputs a group (ResNeXt's layer2: 1.2-1.7x), and with the
     * row sums vectorized the split gains at 16 and 32 too (layer3/4: 1.03-1.17x) */
    if (!per && p->base && !use_direct(s) && (per = glr_per(glr_plan(p->base), s)) != 0)
        gp = glr_plan(p->base), cw->split = true;
    if (per) {
        cw->glr_per = per;
        cw->glr_unit = gp->glr->w_bytes(gp, K, og, per);
        if (!(cw->glr = ax_aligned_alloc(64, cw->glr_unit * (s->groups / per)))) {
            free(B);
            ax_conv2d_weights_free(cw);
            return ax_fail(err, "conv2d weights: out of memory");
        }
        for (size_t u = 0; u < s->groups / per; u++)
            gp->glr->pack_w(gp, K, K / (s->kernel_h * s->kernel_w), og, per, W + u * per * og, s->out_c,
                            cw->glr + u * cw->glr_unit);
        if (!cw->split) {
            free(B);
            *out = cw;
            return 0;
        }
    }
    if (use_direct(s)) {
        free(B);
        cw->direct = malloc(K * s->out_c + 1);
        cw->direct_corr = calloc(s->out_c, sizeof *cw->direct_corr);
        if (!cw->direct || !cw->direct_corr) {
            ax_conv2d_weights_free(cw);
            return ax_fail(err, "conv2d weights: out of memory");
        }
        for (size_t o = 0; o < s->out_c; o++)
            for (size_t k = 0; k < K; k++) { /* row k = (ky*kw + kx)*cg + i of HWIO */
                uint8_t w = W[k * s->out_c + o];
                cw->direct[o * K + k] = w;
                if (p->dw_colmin) cw->direct_corr[o] += p->dw_colmin[w];
            }
        *out = cw;
        return 0;
    }
    for (size_t g = 0; g < s->groups; g++) {
        for (size_t k = 0; k < K; k++) /* row k = (ky*kw + kx)*cg + i of HWIO */
            memcpy(B + k * og, W + k * s->out_c + g * og, og);
        if (ax_gemm_pack_weights_for(cw->split ? p->resid : p, K, og, B, og, extra, !own_exact(p, s), &cw->g[g],
                                     err) != 0) {
            free(B);
            ax_conv2d_weights_free(cw);
            return -1;
        }
    }
    free(B);
    *out = cw;
    return 0;
}

void ax_conv2d_weights_free(ax_conv2d_weights *w)
{
    if (!w) return;
    for (size_t g = 0; g < w->n_groups && w->g; g++) ax_packed_weights_free(w->g[g]);
    free(w->g);
    free(w->direct);
    free(w->direct_corr);
    free(w->glr);
    ax_onednn_conv_free(w->dnn);
    free(w);
}

/* One tap of one pixel for every group: the pixel's cg channels of group g
 * go to dst + g * gs. Fixed sizes for the common widths, so the copies are
 * plain moves rather than calls (grouped layers copy G pieces per tap). */
static inline void copy_groups(uint8_t *dst, size_t gs, const uint8_t *src, size_t G, size_t cg)
{
    switch (cg) {
    case 8:
        for (size_t g = 0; g < G; g++) memcpy(dst + g * gs, src + g * 8, 8);
        break;
    case 16:
        for (size_t g = 0; g < G; g++) memcpy(dst + g * gs, src + g * 16, 16);
        break;
    case 32:
        for (size_t g = 0; g < G; g++) memcpy(dst + g * gs, src + g * 32, 32);
        break;
    default:
        for (size_t g = 0; g < G; g++) memcpy(dst + g * gs, src + g * cg, cg);
    }
}

/* n bytes from src to dst as 8-byte moves, the last one overlapping: the
 * short runs of im2col (conv1's 21 bytes a kernel row) without a call to
 * memcpy */
static inline void copy_run(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n < 8) {
        memcpy(dst, src, n);
        return;
    }
    for (size_t i = 0; i + 8 < n; i += 8) memcpy(dst + i, src + i, 8);
    memcpy(dst + n - 8, src + n - 8, 8);
}

/* im2col rows of output pixels [r0, r0 + rows) for groups [g0, g0 + ng) at
 * once, each group's rows (K = kh*kw*cg bytes each) together: group g0 + i's
 * row r at dst + i * ldg * K + r * K (ldg >= rows: the chunk's rows when
 * this is a piece of it). Each input pixel is read once per tap for all ng
 * groups, and each group's GEMM reads one contiguous run. pad: in_c pad
 * bytes. */
static void im2col(const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X, size_t r0, size_t rows,
                   size_t g0, size_t ng, const uint8_t *pad, uint8_t *dst, size_t ldg)
{
    size_t cg = s->in_c / s->groups, kg = s->kernel_h * s->kernel_w * cg, gs = ldg * kg;
    size_t b = r0 / (oh * ow), oy = r0 / ow % oh, ox = r0 % ow;
    for (size_t r = 0; r < rows; r++, dst += kg) {
        uint8_t *d = dst;
        for (size_t ky = 0; ky < s->kernel_h; ky++) {
            /* a whole row of taps inside the image is one contiguous run (few
             * input channels, e.g. conv1's 3: 7 copies per row instead of 49) */
            size_t y0 = oy * s->stride_h + ky * s->dilation_h, x0 = ox * s->stride_w;
            bool row_in = y0 >= s->pad_top && y0 - s->pad_top < s->in_h;
            if (s->groups == 1 && s->dilation_w == 1 && row_in && x0 >= s->pad_left &&
                x0 - s->pad_left + s->kernel_w <= s->in_w) {
                copy_run(d, X + ((b * s->in_h + y0 - s->pad_top) * s->in_w + x0 - s->pad_left) * s->in_c,
                         s->kernel_w * cg);
                d += s->kernel_w * cg;
                continue;
            }
            for (size_t kx = 0; kx < s->kernel_w; kx++, d += cg) {
                size_t x = x0 + kx * s->dilation_w;
                bool in = row_in && x >= s->pad_left && x - s->pad_left < s->in_w;
                const uint8_t *src =
                    in ? X + ((b * s->in_h + y0 - s->pad_top) * s->in_w + x - s->pad_left) * s->in_c : pad;
                copy_groups(d, gs, src + g0 * cg, ng, cg);
            }
        }
        if (++ox == ow) {
            ox = 0;
            if (++oy == oh) oy = 0, b++;
        }
    }
}

/* im2col of a chunk in pieces shared out between the threads, for layers
 * whose rows are cheap to multiply (K x N <= SHARE_KN per group): one
 * thread built each chunk while the others waited, so a few-channel first
 * layer (MobileNetV2's features.0.0: K = 27, N = 32, the copies about as
 * long as the GEMM) ran no faster on two threads than on one. ResNet-50's
 * 3x3 layers (K x N >= 36864) measured -6% to +6% by stage (two threads),
 * so they keep one thread. */
enum { SHARE_KN = 16384 };

static void im2col_threads(const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X, size_t r0, size_t rows,
                           size_t g0, size_t ng, const uint8_t *pad, uint8_t *dst, int threads)
{
    size_t kg = s->kernel_h * s->kernel_w * (s->in_c / s->groups);
    threads = kg * (s->out_c / s->groups) <= SHARE_KN ? ax_default_threads(threads) : 1;
    size_t piece = threads > 1 ? (rows / ((size_t)threads * 4) + 63) / 64 * 64 : rows;
    if (piece < 256) piece = 256;
    size_t pieces = (rows + piece - 1) / piece;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && pieces > 1)
#endif
    for (size_t i = 0; i < pieces; i++) {
        size_t a = i * piece;
        im2col(s, oh, ow, X, r0 + a, rows - a < piece ? rows - a : piece, g0, ng, pad, dst + a * kg, rows);
    }
}

static int run_own(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                   const ax_conv2d_weights *W, int32_t *Y, bool accumulate, int threads, ax_error *err);

int ax_conv2d(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *X, const ax_conv2d_weights *W,
              int32_t *Y, bool accumulate, int threads, ax_error *err)
{
    size_t oh, ow;
    if (!p || !W || !X || !Y) return ax_fail(err, "conv2d: missing plan, weights, input or output");
    if (ax_conv2d_output_size(s, &oh, &ow, err) != 0) return -1;
    if (W->plan != p || !same_shape(&W->shape, s))
        return ax_fail(err, "conv2d: weights were packed for another plan or shape");
    size_t K = s->kernel_h * s->kernel_w * (s->in_c / s->groups);
    if (K > W->max_k) /* packing refuses these already */
        return ax_fail(err, "conv2d: K = %zu exceeds the largest exact K %zu of these weights", K, W->max_k);
    if (W->dnn && s->batch) {
        bool done = false;
        if (ax_onednn_conv_run(W->dnn, s, X, Y, accumulate, threads, &done, err) != 0) return -1;
        if (done) return 0;
    }
    return run_own(p, s, oh, ow, X, W, Y, accumulate, threads, err);
}

bool ax_conv2d_computes_bands(const ax_conv2d_weights *W)
{
    return W && W->direct && !W->dnn && ax_dwconv2d_has_bands(W->plan, &W->shape);
}

/* Whole images for weights without bands: as many per ax_conv2d call as
 * keep the buffer within 2 MiB (at least one) */
#define BAND_IMAGES_BYTES ((size_t)2 << 20)
int ax_conv2d_bands(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *X, const ax_conv2d_weights *W,
                    ax_conv2d_band_fn fn, void *ctx, int threads, ax_error *err)
{
    size_t oh, ow;
    if (!p || !W || !X || !fn) return ax_fail(err, "conv2d: missing plan, weights, input or band function");
    if (ax_conv2d_output_size(s, &oh, &ow, err) != 0) return -1;
    if (W->plan != p || !same_shape(&W->shape, s))
        return ax_fail(err, "conv2d: weights were packed for another plan or shape");
    if (ax_conv2d_computes_bands(W)) return ax_dwconv2d_bands(p, s, oh, ow, X, W->direct, fn, ctx, threads, err);
    size_t img = oh * ow * s->out_c, in_img = s->in_h * s->in_w * s->in_c;
    size_t per = img ? BAND_IMAGES_BYTES / (img * sizeof(int32_t)) : 1;
    if (per < 1) per = 1;
    if (per > s->batch) per = s->batch;
    int32_t *Y = s->batch ? ax_aligned_alloc(64, per * img * sizeof *Y) : NULL;
    if (s->batch && !Y) return ax_fail(err, "conv2d: out of memory");
    int rc = 0;
    for (size_t b = 0; rc == 0 && b < s->batch; b += per) {
        ax_conv2d_shape sub = *s;
        sub.batch = s->batch - b < per ? s->batch - b : per;
        rc = ax_conv2d(p, &sub, X + b * in_img, W, Y, false, threads, err);
        for (size_t i = 0; rc == 0 && i < sub.batch; i++) fn(ctx, b + i, 0, oh, Y + i * img);
    }
    free(Y);
    return rc;
}

int ax_conv2d_oracle(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *X, const uint8_t *W, int32_t *Y,
                     int threads, ax_error *err)
{
    size_t oh, ow;
    ax_gemm_plan *own = malloc(sizeof *own); /* a shallow copy: the same forms, oneDNN off */
    if (!own) return ax_fail(err, "conv2d: out of memory");
    *own = *p;
    own->onednn = false;
    ax_conv2d_weights *cw = NULL;
    int rc = ax_conv2d_output_size(s, &oh, &ow, err);
    if (rc == 0) rc = pack_own(own, s, W, NULL, &cw, err);
    if (rc == 0) rc = run_own(own, s, oh, ow, X, cw, Y, false, threads, err);
    ax_conv2d_weights_free(cw);
    free(own);
    return rc;
}

/* Rows per im2col chunk of row_bytes each: at most im2col_bytes of them in
 * whole multiples of unit (320: five 64-row blocks, the AVX-512 LUT
 * kernel's sub-panel), then the same number of chunks evened out in 64-row
 * blocks, so no chunk ends in a short panel (layer4's 392 rows: 256 + 136,
 * not 320 + 72). Grouped layers on the VNNI kernels (64-row panels) take
 * multiples of 64: 320 pixels of every group's K may pass L2 (ResNeXt's
 * layer4, 9 KiB a pixel), while the LUT kernels lose more on short panels
 * than on L3 (measured both ways). */
static size_t chunk_rows(const ax_gemm_plan *p, size_t M, size_t row_bytes, size_t unit)
{
    size_t chunk = p->im2col_bytes / (row_bytes ? row_bytes : 1) / unit * unit;
    if (chunk < unit) chunk = unit;
    size_t n_chunks = M ? (M + chunk - 1) / chunk : 1; /* batch 0 runs too */
    chunk = ((M + n_chunks - 1) / n_chunks + 63) / 64 * 64;
    return chunk > M ? M : chunk;
}

/* The input bytes [lo, hi) that output rows [r0, r0 + rows) read: from
 * the first row's image and top tap row to the last row's image and bottom
 * tap row (whole input rows; clamped to the image) */
static void glr_span(const ax_conv2d_shape *s, size_t oh, size_t ow, size_t r0, size_t rows, size_t *lo, size_t *hi)
{
    size_t r1 = r0 + rows - 1, row = s->in_w * s->in_c;
    size_t b0 = r0 / (oh * ow), y0 = r0 / ow % oh * s->stride_h, b1 = r1 / (oh * ow);
    size_t y1 = r1 / ow % oh * s->stride_h + (s->kernel_h - 1) * s->dilation_h + 1; /* padded rows, exclusive */
    y0 = y0 > s->pad_top ? y0 - s->pad_top : 0;
    y1 = y1 > s->pad_top ? y1 - s->pad_top : 0;
    if (y1 > s->in_h) y1 = s->in_h;
    *lo = (b0 * s->in_h + y0) * row;
    *hi = (b1 * s->in_h + y1) * row;
    if (*hi < *lo) *hi = *lo;
}

/* y[i] = sum of x[i * QG .. i * QG + QG - 1] (mod 2^32), i < n: one loop of
 * constant QG that gcc vectorizes (the loop over pixels and groups with a
 * variable inner count ran scalar: 7-14% of ResNeXt's layer2 on the split
 * linear base) */
static inline __attribute__((always_inline)) void run_sums_n(const int32_t *x, size_t n, size_t QG, int32_t *y)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t sum = 0;
        for (size_t j = 0; j < QG; j++) sum += (uint32_t)x[i * QG + j];
        y[i] = (int32_t)sum;
    }
}

static void run_sums(const int32_t *x, size_t n, size_t qg, int32_t *y)
{
    switch (qg) {
    case 2: run_sums_n(x, n, 2, y); break;
    case 4: run_sums_n(x, n, 4, y); break;
    case 8: run_sums_n(x, n, 8, y); break;
    default: run_sums_n(x, n, qg, y); break;
    }
}

/* a / d rounded up (a >= 0, d >= 1), without a division at strides 1 and
 * 2: tap_table's divisions, per tap and run, took a third of its time */
static inline ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t d)
{
    return d == 1 ? a : d == 2 ? (a + 1) >> 1 : (a + d - 1) / d;
}

/* The taps of output pixel (b, oy, x0 = its tap kx = 0's input x) at
 * o[t * ts] (and its input pixel, counted from lo_pix, at op[t * ts], npix
 * for pad): the pixels whose taps are not all in the image */
static void edge_taps(const ax_conv2d_shape *s, size_t b, size_t oy, ptrdiff_t x0, size_t lo_pix,
                      const uint8_t *base, size_t pix_bytes, const uint8_t *pad, size_t ts, const uint8_t **o,
                      uint32_t *op, uint32_t npix)
{
    const ptrdiff_t in_w = (ptrdiff_t)s->in_w;
    for (size_t ky = 0, t = 0; ky < s->kernel_h; ky++) {
        size_t y = oy * s->stride_h + ky * s->dilation_h;
        bool row_in = y >= s->pad_top && y - s->pad_top < s->in_h;
        ptrdiff_t row0 = row_in ? (ptrdiff_t)((b * s->in_h + y - s->pad_top) * s->in_w) - (ptrdiff_t)lo_pix : 0;
        for (size_t kx = 0; kx < s->kernel_w; kx++, t++) {
            ptrdiff_t x = x0 + (ptrdiff_t)(kx * s->dilation_w);
            bool in = row_in && x >= 0 && x < in_w;
            o[t * ts] = in ? base + (size_t)(row0 + x) * pix_bytes : pad;
            if (op) op[t * ts] = in ? (uint32_t)(row0 + x) : npix;
        }
    }
}

/* the tap pointers of pixels [j0, j1) of a run, all inside the image:
 * pixel i's tap k at px[i * rs + k], tap 0's input pixel first + i * sw
 * (and, if pix is given, tap k's pixel first + i * sw + step[k] there) */
static inline __attribute__((always_inline)) void inside_taps(const uint8_t **px, uint32_t *pix, size_t rs,
                                                              ptrdiff_t j0, ptrdiff_t j1, ptrdiff_t first,
                                                              ptrdiff_t sw, const uint8_t *base, size_t pix_bytes,
                                                              const ptrdiff_t *step, const ptrdiff_t *step_bytes,
                                                              size_t ntaps)
{
    for (ptrdiff_t i = j0; i < j1; i++) {
        ptrdiff_t p0 = first + i * sw;
        const uint8_t *at = base + (size_t)p0 * pix_bytes;
        for (size_t k = 0; k < ntaps; k++) px[(size_t)i * rs + k] = at + step_bytes[k];
        if (pix)
            for (size_t k = 0; k < ntaps; k++) pix[(size_t)i * rs + k] = (uint32_t)(p0 + step[k]);
    }
}

enum { AX_MAX_TAPS_INSIDE = 64 }; /* kernels of up to this many taps get tap_table's pixel-major path */

/* The tap pointers of output rows [r0, r0 + rows): row r's tap t at
 * px[r * rs + t * ts], base + pixel * pix_bytes for an input pixel (pixels
 * counted from pixel lo_pix of the input), pad outside the image; and, if
 * pix is given, the pixel itself there (npix for pad). Per run of an
 * output row, the pixels whose taps all lie in the image (from the first
 * and the last tap: rows and columns between lie between) are runs of
 * contiguous pointers, tap 0's plus fixed offsets; only the others check
 * their taps one by one. (Runs of taps over the row, each tap's range and
 * start found by divisions, took 24% of ResNeXt's layer1.0 on the grouped
 * VNNI kernel, whose kernel reads 36 bytes a tap; per-tap ranges found
 * twice a run, 13-16%.) */
static void tap_table(const ax_conv2d_shape *s, size_t oh, size_t ow, size_t r0, size_t rows, size_t lo_pix,
                      const uint8_t *base, size_t pix_bytes, const uint8_t *pad, size_t rs, size_t ts,
                      const uint8_t **px, uint32_t *pix, uint32_t npix)
{
    size_t b = r0 / (oh * ow), oy = r0 / ow % oh, ox = r0 % ow, ntaps = s->kernel_h * s->kernel_w;
    const ptrdiff_t in_w = (ptrdiff_t)s->in_w, sw = (ptrdiff_t)s->stride_w;
    ptrdiff_t step[AX_MAX_TAPS_INSIDE], step_bytes[AX_MAX_TAPS_INSIDE];
    bool inside_ok = ts == 1 && ntaps <= AX_MAX_TAPS_INSIDE;
    for (size_t ky = 0, t = 0; inside_ok && ky < s->kernel_h; ky++)
        for (size_t kx = 0; kx < s->kernel_w; kx++, t++) {
            step[t] = (ptrdiff_t)(ky * s->dilation_h) * in_w + (ptrdiff_t)(kx * s->dilation_w);
            step_bytes[t] = step[t] * (ptrdiff_t)pix_bytes;
        }
    const ptrdiff_t span_x = (ptrdiff_t)((s->kernel_w - 1) * s->dilation_w);
    const size_t span_y = (s->kernel_h - 1) * s->dilation_h;
    for (size_t r = 0; r < rows;) {
        size_t n = ow - ox < rows - r ? ow - ox : rows - r, y = oy * s->stride_h;
        ptrdiff_t x0 = (ptrdiff_t)(ox * s->stride_w) - (ptrdiff_t)s->pad_left, j0 = 0, j1 = 0, first = 0;
        if (inside_ok && y >= s->pad_top && y + span_y - s->pad_top < s->in_h) { /* [j0, j1): every tap inside */
            j0 = x0 < 0 ? ceil_div(-x0, sw) : 0;
            j1 = x0 + span_x < in_w ? ceil_div(in_w - x0 - span_x, sw) : 0;
            if (j1 > (ptrdiff_t)n) j1 = (ptrdiff_t)n;
            if (j0 > j1) j0 = j1;
            first = (ptrdiff_t)((b * s->in_h + y - s->pad_top) * s->in_w) - (ptrdiff_t)lo_pix + x0;
        }
        for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++) {
            if (i == j0) i = j1; /* past the inside pixels */
            if (i == (ptrdiff_t)n) break;
            edge_taps(s, b, oy, x0 + i * sw, lo_pix, base, pix_bytes, pad, ts, px + (r + (size_t)i) * rs,
                      pix ? pix + (r + (size_t)i) * rs : NULL, npix);
        }
        uint32_t *pr = pix ? pix + r * rs : NULL;
        if (ntaps == 9) /* 3x3: the stores unrolled (the loop over taps was half the table's time) */
            inside_taps(px + r * rs, pr, rs, j0, j1, first, sw, base, pix_bytes, step, step_bytes, 9);
        else
            inside_taps(px + r * rs, pr, rs, j0, j1, first, sw, base, pix_bytes, step, step_bytes, ntaps);
        r += n, ox += n;
        if (ox == ow) {
            ox = 0;
            if (++oy == oh) oy = 0, b++;
        }
    }
}

/* The grouped LOWRANK kernel (glr_per): per chunk of output rows, the input
 * rows they read mapped to the form's factors (esize bytes per input byte;
 * each looked up about once, not once per tap as packing im2col rows
 * would), a table of each row's tap pointers into them (pad taps at a
 * mapped pad pixel), and tasks of (64 rows, a slice of the units) reading
 * the mapped pixels in place: no im2col copy. A task runs its units one
 * after another over the same pixels, whose lines they share (a unit's
 * bytes of each), while in L1. */
static int run_glr(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                   const ax_conv2d_weights *W, size_t m_lo, size_t m_hi, int32_t *Y, bool accumulate, int threads,
                   ax_error *err)
{
    const ax_glr_ukernel *gk = p->glr;
    size_t per = W->glr_per, units = s->groups / per, cg = s->in_c / s->groups, og = s->out_c / s->groups;
    size_t ntaps = s->kernel_h * s->kernel_w, K = ntaps * cg, M = m_hi, es = gk->esize(p);
    if (m_lo >= m_hi) return 0;
    /* chunks: the mapped input rows within L2/2 at most (in_c * stride inputs an output pixel, es bytes each) */
    size_t chunk = chunk_rows(p, m_hi - m_lo, 2 * es * s->in_c * s->stride_h * s->stride_w, 64), span = 0, lo, hi,
           bytes;
    for (size_t r0 = m_lo; r0 < M; r0 += chunk) {
        glr_span(s, oh, ow, r0, M - r0 < chunk ? M - r0 : chunk, &lo, &hi);
        if (hi - lo > span) span = hi - lo;
    }
    /* px and rc hold rows up to the next multiple of 64 (pad taps, zero
     * corrections): the kernel reads whole tiles (8 or 4 rows) and keeps
     * only its rows */
    size_t slots = (chunk + 63) / 64 * 64;
    const uint8_t **px = mul_ok(slots, ntaps * sizeof *px, &bytes) ? malloc(bytes) : NULL;
    /* the mapped pixels on whole lines where a pixel is (the kernels' 64-byte loads) */
    uint8_t *xm = ax_aligned_alloc(64, span * es + 1), *pad = ax_aligned_alloc(64, s->in_c * es), *pb = malloc(s->in_c);
    /* a byte form's row corrections: per input pixel and group, the sum of
     * h(a) = sum_t w_off[t] f'_t(a) over the group's channels (rg, from the
     * kernel's quad sums rq over h's byte planes hp; the pad pixel's at the
     * end); per output row and group, the sum of its taps' (rc), which the
     * kernel adds */
    bool rows_corr = gk->byte_terms && p->lr->row_corr && !(gk->rows_inside && gk->rows_inside(p, per));
    size_t G = s->groups, pix = span / s->in_c, nq = s->in_c / 4; /* quads of channels a pixel (cg % 4 == 0) */
    uint32_t h[256], hmin = 0;
    uint8_t hp[4][256];
    int np = 0;
    /* rq: quad sums (row_quads); rg: their groups' (rq itself at 4 channels a group) */
    int32_t *rq = rows_corr ? malloc((pix + 1) * nq * sizeof *rq) : NULL;
    int32_t *rg = rows_corr && cg > 4 ? malloc((pix + 1) * G * sizeof *rg) : rq;
    int32_t *rc = rows_corr && mul_ok(slots, G * sizeof *rc, &bytes) ? calloc(slots, G * sizeof *rc) : NULL;
    uint32_t *pi = rows_corr && mul_ok(chunk, ntaps * sizeof *pi, &bytes) ? malloc(bytes) : NULL; /* taps' pixels */
    if (!px || !xm || !pad || !pb || (rows_corr && (!rq || !rg || !rc || !pi))) {
        free(px), free(xm), free(pad), free(pb), free(rc), free(rq), free(pi);
        if (rg != rq) free(rg);
        return ax_fail(err, "conv2d: out of memory for the mapped input");
    }
    if (rows_corr) {
        const ax_lowrank *lr = p->lr;
        int32_t lo_h = INT32_MAX;
        uint32_t span_h = 0;
        for (int a = 0; a < 256; a++) { /* mod 2^32, as the kernel's sums: a signed view for the planes' base */
            h[a] = 0;
            for (int t = 0; t < lr->terms + lr->row_terms; t++) h[a] += (uint32_t)lr->w_off[t] * lr->abyte[t][a];
            if ((int32_t)h[a] < lo_h) lo_h = (int32_t)h[a];
        }
        hmin = (uint32_t)lo_h;
        for (int a = 0; a < 256; a++)
            if (h[a] - hmin > span_h) span_h = h[a] - hmin;
        for (np = 1; np < 4 && span_h >> (8 * np); np++) {}
        for (int j = 0; j < np; j++)
            for (int a = 0; a < 256; a++) hp[j][a] = (uint8_t)((h[a] - hmin) >> (8 * j));
        for (size_t g = 0; g < G; g++) rg[pix * G + g] = (int32_t)(h[s->pad_byte] * (uint32_t)cg);
    }
    threads = ax_default_threads(threads);
    /* an output far past the caches goes to memory without being read for
     * ownership first (the kernel streams where it writes whole lines):
     * ResNeXt's layer1.0 at batch 8, 12.8 MB */
    bool stream = !accumulate && ax_output_streams((m_hi - m_lo) * s->out_c * sizeof(int32_t));
    memset(pb, s->pad_byte, s->in_c);
    gk->map(p, s->in_c, pb, pad, per, cg); /* a mapped pad pixel */
    free(pb);
    for (size_t r0 = m_lo; r0 < M; r0 += chunk) {
        size_t rows = M - r0 < chunk ? M - r0 : chunk, blocks = (rows + 63) / 64;
        glr_span(s, oh, ow, r0, rows, &lo, &hi);
        enum { PIECE = 1 << 14 }; /* a multiple of 64 */
        size_t pieces = (hi - lo + PIECE - 1) / PIECE;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && pieces > 1)
#endif
        for (size_t i = 0; i < pieces; i++) {
            size_t n = hi - lo - i * PIECE < PIECE ? hi - lo - i * PIECE : PIECE;
            gk->map(p, n, X + lo + i * PIECE, xm + i * PIECE * es, per, cg);
            if (rows_corr) gk->row_quads((const uint8_t(*)[256])hp, np, hmin, n, X + lo + i * PIECE, rq + i * PIECE / 4);
        }
        if (rows_corr && cg > 4) { /* rq is [pixel][group][quad]: runs of qg quads, summed */
            size_t runs = (hi - lo) / s->in_c * G, qg = cg / 4, part = (runs + 15) / 16;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && runs > 4096)
#endif
            for (size_t i = 0; i < 16; i++) {
                size_t r0 = i * part < runs ? i * part : runs, rn = runs - r0 < part ? runs - r0 : part;
                run_sums(rq + r0 * qg, rn, qg, rg + r0);
            }
        }
        /* the tap table and rc in parts of 64 rows among the threads (alone
         * on one thread they were a fifth of layer1.0 on two) */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && blocks > 1)
#endif
        for (size_t i = 0; i < blocks; i++) {
            size_t a = i * 64, n = rows - a < 64 ? rows - a : 64;
            tap_table(s, oh, ow, r0 + a, n, lo / s->in_c, xm, s->in_c * es, pad, ntaps, 1, px + a * ntaps,
                      rows_corr ? pi + a * ntaps : NULL, (uint32_t)pix);
            for (size_t r = a; rows_corr && r < a + n; r++) /* rc: the sums of row r's taps' rg */
                gk->tap_sums(rg, G, pi + r * ntaps, ntaps, rc + r * G);
        }
        for (size_t i = rows * ntaps; i < blocks * 64 * ntaps; i++) px[i] = pad;
        if (rows_corr) memset(rc + rows * G, 0, (blocks * 64 - rows) * G * sizeof *rc);
        /* enough tasks to share out: blocks x slices of the units */
        size_t want = (size_t)threads * 4, slices = threads > 1 && blocks < want ? (want + blocks - 1) / blocks : 1;
        if (slices > units) slices = units;
        size_t tasks = blocks * slices;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && tasks > 1)
#endif
        for (size_t t = 0; t < tasks; t++) {
            size_t m0 = t / slices * 64, sl = t % slices, mn = rows - m0 < 64 ? rows - m0 : 64;
            for (size_t u = sl * units / slices; u < (sl + 1) * units / slices; u++)
                gk->run(p, mn, px + m0 * ntaps, ntaps, u * per * cg * es, K, og, per, W->glr + u * W->glr_unit,
                        rc ? rc + m0 * G + u * per : NULL, G, Y + (r0 + m0) * s->out_c + u * per * og, s->out_c,
                        accumulate, stream);
        }
    }
    free(px), free(xm), free(pad), free(rc), free(rq), free(pi);
    if (rg != rq) free(rg);
    return 0;
}

/* ax_gemm_rows' rows of a dense layer: rows [m0, m0 + n) of its im2col */
typedef struct tile_rows {
    const ax_conv2d_shape *s;
    size_t oh, ow;
    const uint8_t *X, *pad;
} tile_rows;

static void im2col_tile(void *ctx, size_t m0, size_t n, uint8_t *dst)
{
    const tile_rows *t = ctx;
    im2col(t->s, t->oh, t->ow, t->X, m0, n, 0, 1, t->pad, dst, n);
}

static int run_own(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                   const ax_conv2d_weights *W, int32_t *Y, bool accumulate, int threads, ax_error *err)
{
    size_t M = s->batch * oh * ow, cg = s->in_c / s->groups, og = s->out_c / s->groups;
    size_t K = s->kernel_h * s->kernel_w * cg;
    if (W->direct) return ax_dwconv2d(p, s, oh, ow, X, W->direct, W->direct_corr, Y, accumulate, threads, err);
    /* split: the residual's GEMMs, then the base added on the grouped
     * kernel chunk by chunk, while the chunk's outputs are in L2 (the base's
     * whole layer first made the residual's additions read C from memory:
     * 13% of ResNeXt's layer2.1) */
    const ax_gemm_plan *base = NULL;
    if (W->split) base = glr_plan(p->base), p = p->resid;
    else if (W->glr) return run_glr(glr_plan(p), s, oh, ow, X, W, 0, M, Y, accumulate, threads, err);
    bool in_place = s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 && !s->pad_top &&
                    !s->pad_left && !s->pad_bottom && !s->pad_right;
    if (in_place) { /* the input pixels are the GEMM rows */
        int rc = ax_gemm_groups(p, s->groups, M, X, s->in_c, cg, W->g, Y, s->out_c, og, accumulate, threads, err);
        return rc == 0 && base ? run_glr(base, s, oh, ow, X, W, 0, M, Y, true, threads, err) : rc;
    }
    uint8_t *pad = malloc(s->in_c);
    if (!pad) return ax_fail(err, "conv2d: out of memory");
    memset(pad, s->pad_byte, s->in_c);
    if (s->groups == 1 && ax_gemm_rows_fit(p, M, W->g[0])) { /* each tile's rows made by its thread */
        tile_rows tr = {.s = s, .oh = oh, .ow = ow, .X = X, .pad = pad};
        int rc = ax_gemm_rows(p, M, im2col_tile, &tr, W->g[0], Y, s->out_c, accumulate, threads, err);
        free(pad);
        return rc;
    }
    /* Grouped layers: one im2col pass for all groups and their GEMMs as one
     * job, unless the LUT plan takes another way there (AVX2's row tables
     * amortize their builds over a chunk's rows: those run group by group
     * on chunks of that group's K, as dense layers). */
    size_t unit = s->groups > 1 && !p->lut ? 64 : CHUNK_UNIT;
    size_t chunk = chunk_rows(p, M, s->groups * K, unit), ng = s->groups, nb = s->groups;
    if (s->groups > 1 && ax_lut_choose(p, chunk, K, og) != AX_LUT_OWN) {
        chunk = chunk_rows(p, M, K, CHUNK_UNIT);
        /* im2col for the groups sharing an input cache line at once (the
         * input is then read once per line, not once per group) */
        nb = cg < LINE ? LINE / cg : 1;
        if (nb > s->groups) nb = s->groups;
        ng = 1;
    }
    /* or, where the LUT kernel packs every group's panels from the rows'
     * pixel pointers (pack_lines), no im2col rows at all: a table of the
     * chunk's tap pointers and the panels */
    size_t ntaps = s->kernel_h * s->kernel_w, bytes;
    bool lines = s->groups > 1 && ng == s->groups && p->lut && !p->exact && p->lut->pack_lines && cg % 8 == 0;
    if (lines && chunk > p->lut->mr) chunk = p->lut->mr;
    uint8_t *buf = NULL, *panels = NULL;
    const uint8_t **px = NULL;
    if (lines) px = mul_ok(chunk, ntaps * sizeof *px, &bytes) ? malloc(bytes ? bytes : 1) : NULL;
    if (lines && px) panels = mul_ok(s->groups * K, 64 * ((chunk + 63) / 64), &bytes) ? ax_aligned_alloc(64, bytes) : NULL;
    if (!lines) buf = mul_ok(chunk, nb * K, &bytes) ? malloc(bytes ? bytes : 1) : NULL;
    if (lines ? !panels : !buf) {
        free(px);
        free(pad);
        return ax_fail(err, "conv2d: out of memory for %zu im2col rows of %zu bytes", chunk, ng * K);
    }
    int rc = 0;
    for (size_t r0 = 0; r0 < M && rc == 0; r0 += chunk) {
        size_t rows = M - r0 < chunk ? M - r0 : chunk;
        if (lines) {
            tap_table(s, oh, ow, r0, rows, 0, X, s->in_c, pad, 1, rows, px, NULL, 0); /* tap-major */
            size_t gstep = K * 64 * ((rows + 63) / 64);
            int nth = ax_default_threads(threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1)
#endif
            for (size_t t = 0; t < ntaps; t++)
                p->lut->pack_lines(rows, px + t * rows, t, ntaps, s->in_c, cg, panels, gstep);
            rc = ax_gemm_groups_panels(p, s->groups, rows, panels, gstep, W->g, Y + r0 * s->out_c, s->out_c, og,
                                       accumulate, threads, err);
        } else if (ng == s->groups) {
            im2col_threads(s, oh, ow, X, r0, rows, 0, ng, pad, buf, threads);
            rc = ax_gemm_groups(p, s->groups, rows, buf, K, rows * K, W->g, Y + r0 * s->out_c, s->out_c, og,
                                accumulate, threads, err);
        } else {
            for (size_t g = 0; g < s->groups && rc == 0; g++) {
                if (g % nb == 0)
                    im2col_threads(s, oh, ow, X, r0, rows, g, s->groups - g < nb ? s->groups - g : nb, pad, buf,
                                   threads);
                rc = ax_gemm(p, rows, buf + g % nb * rows * K, K, W->g[g], Y + r0 * s->out_c + g * og, s->out_c,
                             accumulate, threads, err);
            }
        }
        if (rc == 0 && base) rc = run_glr(base, s, oh, ow, X, W, r0, r0 + rows, Y, true, threads, err);
    }
    free(pad);
    free(buf);
    free(px);
    free(panels);
    return rc;
}
