/* dwconv2d.c - grouped convolutions with few input channels per group
 * (depthwise: one), which as GEMMs would be thousands of tiny ones (N = 1,
 * K = 9), run directly, weight-stationary per output channel and vectorized
 * over output pixels (never over K, which is tiny):
 *
 * - A task's input channels are laid out as padded channel planes, split
 *   into stride phases: padded pixel (y, x) of channel c lives in phase
 *   (y % sh, x % sw) at (y / sh, x / sw), a plane of hs x ws bytes (small
 *   images: several images' planes stacked; large ones: a band of rows).
 *   Tap (ky, kx) of output pixel (oy, ox) is then byte oy*ws + ox of its
 *   phase plane, shifted by a per-tap offset: for every tap, a run of output
 *   pixels reads a contiguous run of input bytes, whatever the stride.
 * - Output rows are computed "wide": ws pixels a row, of which the first ow
 *   are kept, so a chunk of output rows is one contiguous run per tap.
 *   Neighbouring rows (and stacked images) share their pad columns (rows):
 *   fewer pixels computed and dropped (7x7 images: 64 wide pixels an image
 *   instead of 81).
 * - The microkernel (ax_dw_ukernel: byte-plane permutes on AVX-512, table
 *   loads elsewhere; on AVX2 3x3 kernels of one input channel, dilation 1,
 *   stride 1 or 2 along the rows, its run_3x3: per-channel row tables,
 *   one call per input channel of a group) sums one channel's taps over
 *   such a run; 16 channels' sums are then
 *   written into NHWC together (non-temporal stores when the output is
 *   far larger than the caches).
 * Tasks are (64 output channels, a group of images or a band of output rows
 * of one image), channel groups consecutive: independent, so any thread
 * count gives the same bits.
 * Depthwise layers with an integer form of the table (p->dwlr, in_c = out_c
 * = groups: LOWRANK plans, and EXACT ones on AVX2) take another route
 * (run_lowrank): vpdpbusd over byte terms (AVX-512 VNNI) or vpmaddwd over
 * int16 terms (AVX2) with channels as lanes, straight from and into NHWC
 * (no planes, no transposes). */
#include "gemm_internal.h"
#include "kernels/transpose_u8.h"
#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* output channels per block (the store's width); wide pixels per chunk: the
 * plan's dw_pix (the channels' int32 sums, CB x dw_pix x 4 bytes, in L2) */
enum { CB = 16 };

typedef struct dw_job {
    const ax_gemm_plan *p;
    const ax_conv2d_shape *s;
    const uint8_t *X;
    size_t oh, ow, hs, ws;
    /* A task: GB blocks of CB output channels (their input channels laid out
     * once: whole cache lines of NHWC pixels) of nimg images (small images,
     * stacked: a phase plane = nimg x hb rows of ws) or of a band of R output
     * rows of one image (hb = R + the taps' extra plane rows). */
    size_t nimg, hb, R, n_band, n_bg, n_cg;
    size_t hl, slack;          /* plane rows of the last image; bytes past the last row (shared pads) */
    size_t pl, pb;             /* bytes per phase plane ((nimg-1)*hb + hl rows of ws, + slack), per channel */
    size_t cin;                /* most input channels a task lays out */
    size_t ntaps, rows_per, n_cb, lda;
    const uint8_t *wt;         /* [o][t] */
    const uint32_t *corr;      /* [o] */
    size_t *tap_off, *tap_ch;  /* per tap: offset in a channel's planes, input channel within the group */
    int32_t *Y;
    ax_dw_out out;             /* outputs far larger than the caches: streamed (dst NULL for pixels not kept) */
    /* the kernel's 3x3 form when the layer has that shape (else NULL) */
    void (*run_3x3)(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t sw, size_t n,
                    uint32_t *acc, bool add);
} dw_job;

enum { GB = 4 }; /* channel blocks per task: 64 channels, a cache line of a pixel */

static bool mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return true;
    *out = a * b;
    return false;
}

/* dst[k * ldd + m] = pix[m][k0 + k] for m < n, k < C: 16x16 blocks through
 * SSE2 (the last one of a row overlapping the one before), the rest byte by
 * byte */
static void transpose_ptr(size_t n, size_t k0, size_t C, const uint8_t *const *pix, uint8_t *dst, size_t ldd)
{
    size_t k16 = 0;
#if defined(__SSE2__)
    k16 = n >= 16 ? C / 16 * 16 : 0;
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = 0;; m += 16) {
            if (m + 16 > n) m = n - 16;
            uint8_t blk[256];
            for (size_t i = 0; i < 16; i++) memcpy(blk + 16 * i, pix[m + i] + k0 + k, 16);
            ax_transpose_16x16_u8(blk, 16, dst + k * ldd + m, ldd);
            if (m + 16 == n) break;
        }
#endif
    for (size_t m = 0; m < n; m++)
        for (size_t k = k16; k < C; k++) dst[k * ldd + m] = pix[m][k0 + k];
}

/* pix: the NHWC pixel (channel 0) of every plane position of images
 * [b0, b0 + nb), plane rows [pr0, pr0 + hb), phase after phase (pad
 * positions: padpix, in_c bytes of the pad byte). */
static void pixel_list(const dw_job *j, size_t b0, size_t nb, size_t pr0, const uint8_t **pix,
                       const uint8_t *padpix)
{
    const ax_conv2d_shape *s = j->s;
    size_t C = s->in_c, sh = s->stride_h, sw = s->stride_w, i = 0;
    for (size_t py = 0; py < sh; py++)
        for (size_t px = 0; px < sw; px++) {
            for (size_t r = 0; r < (j->nimg - 1) * j->hb + j->hl; r++) {
                size_t b = r / j->hb < j->nimg ? r / j->hb : j->nimg - 1;
                size_t y = (pr0 + r - b * j->hb) * sh + py - s->pad_top; /* wraps when above the image */
                bool in = b < nb && y < s->in_h;
                const uint8_t *row = in ? j->X + (((b0 + b) * s->in_h + y) * s->in_w) * C : padpix;
                for (size_t x = 0; x < j->ws; x++) {
                    size_t xi = x * sw + px - s->pad_left;
                    pix[i++] = in && xi < s->in_w ? row + xi * C : padpix;
                }
            }
            for (size_t k = 0; k < j->slack; k++) pix[i++] = padpix;
        }
}

/* Input channels [ci0, ci0 + nc) of images [b0, b0 + nb) of X (NHWC),
 * plane rows [pr0, pr0 + hb), into their padded, phase-split channel planes,
 * the images' planes of a phase one below the other (img: nc x pb bytes):
 * the pixel list is built only when fresh (a new image group or band: a
 * thread's consecutive tasks are the channel groups of one), and one
 * transpose writes each channel's planes whole. */
static void to_planes(const dw_job *j, size_t b0, size_t nb, size_t ci0, size_t nc, size_t pr0, uint8_t *img,
                      const uint8_t **pix, const uint8_t *padpix, bool fresh)
{
    if (fresh) pixel_list(j, b0, nb, pr0, pix, padpix);
    (j->p->dw->transpose ? j->p->dw->transpose : transpose_ptr)(j->pb, ci0, nc, pix, img, j->pb);
}

/* The input channels output channels [o0, o0 + nch) read */
static void in_range(const ax_conv2d_shape *s, size_t o0, size_t nch, size_t *ci0, size_t *nc)
{
    size_t cg = s->in_c / s->groups, og = s->out_c / s->groups;
    *ci0 = o0 / og * cg;
    *nc = ((o0 + nch - 1) / og + 1) * cg - *ci0;
}

/* One task: channel blocks [cb0, cb0 + GB) of images [b0, b0 + nb), output
 * rows [oy0, oy0 + R) (nb = 1) or all (nb >= 1): their input channels laid
 * out (img), then per block of 16 output channels, chunks of stacked wide
 * rows (the rows between two images' outputs are computed and dropped). */
static void run_task(const dw_job *j, size_t task, uint8_t *img, const uint8_t **pix, const uint8_t *padpix,
                     const uint8_t **src, uint32_t *acc, uint32_t **dst, uint32_t *sink, size_t *key)
{
    const ax_conv2d_shape *s = j->s;
    size_t cgi = task % j->n_cg, band = task / j->n_cg % j->n_band, b0 = task / j->n_cg / j->n_band * j->nimg;
    size_t nb = s->batch - b0 < j->nimg ? s->batch - b0 : j->nimg, oy0 = band * j->R;
    size_t Rb = j->oh - oy0 < j->R ? j->oh - oy0 : j->R, cb0 = cgi * GB, cb1 = cb0 + GB < j->n_cb ? cb0 + GB : j->n_cb;
    size_t cg = s->in_c / s->groups, og = s->out_c / s->groups, ci0, nc;
    in_range(s, cb0 * CB, (s->out_c < cb1 * CB ? s->out_c : cb1 * CB) - cb0 * CB, &ci0, &nc);
    /* the pixel and destination lists are the same for every channel group */
    bool fresh = key[0] != b0 || key[1] != oy0;
    key[0] = b0, key[1] = oy0;
    to_planes(j, b0, nb, ci0, nc, oy0, img, pix, padpix, fresh);
    size_t rows_all = (nb - 1) * j->hb + Rb;
    /* every wide pixel's output pixel (channel 0), or the sink (streamed:
     * NULL): the rows between two images' outputs and the columns past ow */
    if (j->out == AX_DW_STREAM) sink = NULL;
    if (fresh)
        for (size_t r = 0, i = 0; r < rows_all; r++) {
            size_t b = r / j->hb, rr = r % j->hb;
            uint32_t *row = rr < Rb ? (uint32_t *)j->Y + (((b0 + b) * j->oh + oy0 + rr) * j->ow) * s->out_c : NULL;
            for (size_t x = 0; x < j->ws; x++, i++) dst[i] = row && x < j->ow ? row + x * s->out_c : sink;
        }
    for (size_t cb = cb0; cb < cb1; cb++) {
        size_t o0 = cb * CB, nch = s->out_c - o0 < CB ? s->out_c - o0 : CB;
        for (size_t r0 = 0; r0 < rows_all; r0 += j->rows_per) {
            size_t rows = rows_all - r0 < j->rows_per ? rows_all - r0 : j->rows_per, n = (rows - 1) * j->ws + j->ow;
            const uint8_t *base = img + r0 * j->ws;
            for (size_t c = 0; c < nch; c++) {
                size_t o = o0 + c, ci = o / og * cg - ci0;
                for (size_t t = 0; t < j->ntaps; t++) src[t] = base + (ci + j->tap_ch[t]) * j->pb + j->tap_off[t];
                if (j->run_3x3) /* one call per input channel: taps t * cg + i */
                    for (size_t i = 0; i < cg; i++) {
                        const uint8_t *src9[9], *wo = j->wt + o * j->ntaps;
                        uint8_t w9[9];
                        for (size_t t = 0; t < 9; t++) src9[t] = src[t * cg + i], w9[t] = wo[t * cg + i];
                        j->run_3x3(j->p, src9, w9, s->stride_w, n, acc + c * j->lda, i > 0);
                    }
                else
                    j->p->dw->run(j->p, src, j->wt + o * j->ntaps, j->ntaps, n, acc + c * j->lda);
            }
            j->p->dw->store(acc, j->lda, nch, j->corr + o0, n, dst + r0 * j->ws, o0, j->out);
        }
    }
#if defined(__SSE__)
    if (j->out == AX_DW_STREAM) _mm_sfence(); /* the streamed lines visible to the thread that joins */
#endif
}

static void tap_layout(dw_job *j)
{
    const ax_conv2d_shape *s = j->s;
    size_t cg = s->in_c / s->groups, t = 0;
    for (size_t ky = 0; ky < s->kernel_h; ky++)
        for (size_t kx = 0; kx < s->kernel_w; kx++)
            for (size_t i = 0; i < cg; i++, t++) {
                size_t dy = ky * s->dilation_h, dx = kx * s->dilation_w;
                size_t phase = (dy % s->stride_h) * s->stride_w + dx % s->stride_w;
                j->tap_off[t] = phase * j->pl + dy / s->stride_h * j->ws + dx / s->stride_w;
                j->tap_ch[t] = i;
            }
}

/* Depthwise on an integer form (ax_dwlr_ukernel): the weights in the
 * kernel's layout (a few KiB, packed per call from wt), then tasks of
 * (image, a few output rows), every channel, straight into NHWC, or with fn
 * into a band buffer per thread that fn receives at once (still in L2). */
static int run_lowrank(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                       const uint8_t *wt, int32_t *Y, bool accumulate, ax_conv2d_band_fn fn, void *ctx, int threads,
                       ax_error *err)
{
    const ax_dwlr_ukernel *k = p->dwlr;
    uint8_t *pw = ax_aligned_alloc(64, k->w_bytes(p, s));
    uint32_t *corr = malloc(s->out_c * sizeof *corr);
    if (!pw || !corr) {
        free(pw), free(corr);
        return ax_fail(err, "conv2d: out of memory");
    }
    k->pack_w(p, s, wt, pw, corr);
    /* output rows per task: two pairs of rows (a pair shares its column
     * builds; tasks share nothing), or with long_tasks an even count
     * leaving 4 tasks per thread; bands at most L2/4 of int32 sums */
#ifdef _OPENMP
    threads = ax_default_threads(threads);
#endif
    size_t per = 4, row_bytes = ow * s->out_c * sizeof(int32_t);
    if (k->long_tasks) {
        size_t want = 4 * (size_t)(threads > 1 ? threads : 1), bands = (want + s->batch - 1) / s->batch;
        size_t r = (oh + bands - 1) / bands;
        if (fn) {
            size_t fit = ax_cpu_caches_get()->l2 / 4 / (row_bytes ? row_bytes : 1) / 2 * 2;
            if (r > fit) r = fit;
        }
        if (r > per) per = (r + 1) / 2 * 2;
    }
    size_t n_rc = (oh + per - 1) / per, tasks = s->batch * n_rc, bb = (k->buf_bytes(p, s) + 63) / 64 * 64;
    size_t band_bytes = fn ? per * row_bytes : 0;
    bool ok = true, stream = !fn && !accumulate && ax_dw_output_streams(s, oh, ow);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#else
    (void)threads;
#endif
    {
        uint8_t *buf = ax_aligned_alloc(64, bb + band_bytes);
        if (!buf) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            ok = false;
        }
#ifdef _OPENMP
#pragma omp barrier
#pragma omp for schedule(dynamic, 1)
#endif
        for (size_t t = 0; t < tasks; t++)
            if (ok) {
                size_t b = t / n_rc, oy0 = t % n_rc * per, n = oh - oy0 < per ? oh - oy0 : per;
                if (fn) {
                    int32_t *band = (int32_t *)(buf + bb);
                    k->rows(p, s, ow, X, pw, corr, b, oy0, n, band, false, false, buf);
                    fn(ctx, b, oy0, n, band);
                } else
                    k->rows(p, s, ow, X, pw, corr, b, oy0, n, Y + (b * oh + oy0) * ow * s->out_c, accumulate, stream,
                            buf);
            }
        free(buf);
    }
    free(pw), free(corr);
    return ok ? 0 : ax_fail(err, "conv2d: out of memory");
}

/* the plan whose integer form the depthwise kernel reads: the form with
 * its signs swapped when that has one (no row corrections), else p's */
static const ax_gemm_plan *dwlr_plan(const ax_gemm_plan *p) { return p->s8u8 && p->s8u8->dwlr ? p->s8u8 : p; }

int ax_dwconv2d(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                const uint8_t *wt, const uint32_t *corr, int32_t *Y, bool accumulate, int threads, ax_error *err)
{
    if (dwlr_plan(p)->dwlr && s->in_c == s->groups && s->out_c == s->groups)
        return run_lowrank(dwlr_plan(p), s, oh, ow, X, wt, Y, accumulate, NULL, NULL, threads, err);
    dw_job j = {.p = p, .s = s, .oh = oh, .ow = ow, .X = X, .wt = wt, .corr = corr, .Y = Y,
                .out = accumulate ? AX_DW_ADD : AX_DW_SET};
    /* outputs past 8 L2s (the layer's, not the task's) go past the caches
     * (no read for ownership: the store was memory-bound), whole aligned
     * 16-channel rows only */
    if (!accumulate && s->out_c % CB == 0 && (uintptr_t)Y % 64 == 0 &&
        ax_dw_output_streams(s, oh, ow))
        j.out = AX_DW_STREAM;
    size_t hp = s->in_h + s->pad_top + s->pad_bottom, wp = s->in_w + s->pad_left + s->pad_right;
    j.hs = (hp + s->stride_h - 1) / s->stride_h, j.ws = (wp + s->stride_w - 1) / s->stride_w;
    j.ntaps = s->kernel_h * s->kernel_w * (s->in_c / s->groups);
    if (s->kernel_h == 3 && s->kernel_w == 3 && s->dilation_h == 1 && s->dilation_w == 1 && s->stride_w <= 2)
        j.run_3x3 = p->dw->run_3x3;
    j.n_cb = (s->out_c + CB - 1) / CB;
    j.n_cg = (j.n_cb + GB - 1) / GB;
    for (size_t cb = 0; cb < j.n_cb; cb += GB) {
        size_t ci0, nc, o1 = s->out_c < (cb + GB) * CB ? s->out_c : (cb + GB) * CB;
        in_range(s, cb * CB, o1 - cb * CB, &ci0, &nc);
        if (nc > j.cin) j.cin = nc;
    }
    /* a task's planes within L2/4: several small images, or one image's
     * bands of R output rows */
    size_t budget = ax_cpu_caches_get()->l2 / 4, one, row, extra = (s->kernel_h - 1) * s->dilation_h / s->stride_h;
    if (mul_overflows(j.ws * j.cin, s->stride_h * s->stride_w, &row) || mul_overflows(row, j.hs, &one) ||
        one > SIZE_MAX / 2 - 64)
        return ax_fail(err, "conv2d: sizes too large");
    /* Pads shared: a row's right pad columns are the next row's left ones,
     * an image's bottom pad rows the next image's top ones (both all pad
     * bytes), so rows are in_w + max(pad) wide, images in_h + max(pad) rows
     * apart, when the output still fits (the taps' reads past a row land in
     * the next row's pad); the last row's overhang is the plane's slack. */
    size_t mw = s->pad_left > s->pad_right ? s->pad_left : s->pad_right, ws = j.ws;
    size_t mh = s->pad_top > s->pad_bottom ? s->pad_top : s->pad_bottom;
    size_t wsh = (s->in_w + mw + s->stride_w - 1) / s->stride_w, hsh = (s->in_h + mh + s->stride_h - 1) / s->stride_h;
    if (ow <= wsh) j.ws = wsh;
    j.slack = ws - j.ws;
    j.nimg = 1, j.hb = j.hl = j.hs, j.R = oh;
    if (one <= budget) {
        j.nimg = budget / one > s->batch ? s->batch : budget / one;
        if (oh <= hsh) j.hb = hsh;
    } else if (budget / row > extra + 1) {
        j.R = budget / row - extra;
        if (j.R < oh) j.hb = j.hl = j.R + extra;
        else j.R = oh;
    }
    j.pl = ((j.nimg - 1) * j.hb + j.hl) * j.ws + j.slack, j.pb = j.pl * s->stride_h * s->stride_w;
    j.n_bg = (s->batch + j.nimg - 1) / j.nimg, j.n_band = (oh + j.R - 1) / j.R;
    size_t rows_all = (j.nimg - 1) * j.hb + j.R;
    j.rows_per = p->dw_pix / j.ws ? p->dw_pix / j.ws : 1;
    if (j.rows_per > rows_all) j.rows_per = rows_all;
    j.lda = ((j.rows_per - 1) * j.ws + ow + 63) / 64 * 64;
    j.tap_off = malloc(2 * j.ntaps * sizeof *j.tap_off);
    if (!j.tap_off) return ax_fail(err, "conv2d: out of memory");
    j.tap_ch = j.tap_off + j.ntaps;
    tap_layout(&j);
    size_t tasks = j.n_bg * j.n_cg * j.n_band;
    bool ok = true;
#ifdef _OPENMP
    threads = ax_default_threads(threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
#else
    (void)threads;
#endif
    {
        const uint8_t **src = malloc(j.ntaps * sizeof *src), **pix = malloc(j.pb * sizeof *pix);
        uint32_t *acc = ax_aligned_alloc(64, CB * j.lda * sizeof *acc), **dst = malloc(j.pl * sizeof *dst);
        uint32_t *sink = malloc((s->out_c + CB) * sizeof *sink);
        /* + 64: the kernel reads whole blocks of 64 pixels past a run's end */
        uint8_t *img = malloc(j.cin * j.pb + 64), *padpix = malloc(s->in_c + 16);
        size_t key[2] = {SIZE_MAX, SIZE_MAX}; /* the image group and band of the lists in pix and dst */
        if (!src || !pix || !acc || !dst || !sink || !img || !padpix) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            ok = false;
        } else {
            memset(padpix, s->pad_byte, s->in_c + 16);
        }
#ifdef _OPENMP
#pragma omp barrier
#pragma omp for schedule(dynamic, 1)
#endif
        for (size_t t = 0; t < tasks; t++)
            if (ok) run_task(&j, t, img, pix, padpix, src, acc, dst, sink, key);
        free(src);
        free(pix);
        free(acc);
        free(dst);
        free(sink);
        free(img);
        free(padpix);
    }
    free(j.tap_off);
    return ok ? 0 : ax_fail(err, "conv2d: out of memory");
}

bool ax_dwconv2d_has_bands(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return dwlr_plan(p)->dwlr && s->in_c == s->groups && s->out_c == s->groups;
}

const char *ax_dwconv2d_kernel_name(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    if (ax_dwconv2d_has_bands(p, s)) return dwlr_plan(p)->dwlr->name;
    return p->dw ? p->dw->name : ax_gemm_plan_kernel_name(p);
}

int ax_dwconv2d_bands(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                      const uint8_t *wt, ax_conv2d_band_fn fn, void *ctx, int threads, ax_error *err)
{
    return run_lowrank(dwlr_plan(p), s, oh, ow, X, wt, NULL, false, fn, ctx, threads, err);
}
