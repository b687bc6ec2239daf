/* dwconv2d.c - grouped convolutions with few input channels per group
 * (depthwise: one), which as GEMMs would be thousands of tiny ones (N = 1,
 * K = 9), run directly, weight-stationary per output channel and vectorized
 * over output pixels (never over K, which is tiny):
 *
 * - Each image is laid out once as padded channel planes (pad_byte filled
 *   in), split into stride phases: padded pixel (y, x) of channel c lives in
 *   phase (y % sh, x % sw) at (y / sh, x / sw), a plane of hs x ws bytes.
 *   Tap (ky, kx) of output pixel (oy, ox) is then byte oy*ws + ox of its
 *   phase plane, shifted by a per-tap offset: for every tap, a run of output
 *   pixels reads a contiguous run of input bytes, whatever the stride.
 * - Output rows are computed "wide": ws pixels a row, of which the first ow
 *   are kept, so a chunk of output rows is one contiguous run per tap.
 * - The microkernel (ax_dw_ukernel: byte-plane permutes on AVX-512, table
 *   loads elsewhere) sums one channel's taps over such a run; 16 channels'
 *   sums are then written into NHWC together.
 * Tasks are (image, 16 channels, chunk of output rows): independent, so any
 * thread count gives the same bits.
 * Depthwise layers on a LOWRANK byte form (p->dwlr, in_c = out_c = groups)
 * take another route (run_lowrank): vpdpbusd over the byte terms with
 * channels as lanes, straight from and into NHWC (no planes, no transposes). */
#include "gemm_internal.h"
#include "kernels/transpose_u8.h"
#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* output channels per task (the store's width); wide pixels per task: the
 * plan's dw_pix (the channels' int32 sums, CB x dw_pix x 4 bytes, stay in L1) */
enum { CB = 16 };

typedef struct dw_job {
    const ax_gemm_plan *p;
    const ax_conv2d_shape *s;
    const uint8_t *X;
    size_t oh, ow, hs, ws;
    size_t nimg;               /* images per task, stacked in the planes: phase plane = nimg*hs rows of ws */
    size_t pl, pb;             /* bytes per phase plane (nimg*hs*ws), per channel (all phases) */
    size_t cin;                /* most input channels a task lays out */
    size_t ntaps, rows_per, n_cb, n_bg, lda;
    bool small;                /* phase runs < 16 pixels: to_planes goes through tmp */
    const uint8_t *wt;         /* [o][t] */
    const uint32_t *corr;      /* [o] */
    size_t *tap_off, *tap_ch;  /* per tap: offset in a channel's planes, input channel within the group */
    int32_t *Y;
    bool accumulate;
} dw_job;

static bool mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return true;
    *out = a * b;
    return false;
}

/* dst[k * ldd + m] = src[m * lda + k] for m < n, k < C */
static void transpose(size_t n, size_t C, const uint8_t *src, size_t lda, uint8_t *dst, size_t ldd)
{
    size_t m16 = 0, k16 = 0;
#if defined(__SSE2__)
    m16 = n / 16 * 16, k16 = C / 16 * 16;
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = 0; m < m16; m += 16) ax_transpose_16x16_u8(src + m * lda + k, lda, dst + k * ldd + m, ldd);
#endif
    for (size_t m = 0; m < n; m++)
        for (size_t k = m < m16 ? k16 : 0; k < C; k++) dst[k * ldd + m] = src[m * lda + k];
}

/* dst[x'] = src[x' * sw] for x' < n: a row's stride phase (src may be
 * read up to 32 bytes past its last element) */
static void gather_phase(size_t n, const uint8_t *src, size_t sw, uint8_t *dst)
{
    if (sw == 1) {
        memcpy(dst, src, n);
        return;
    }
    size_t i = 0;
#if defined(__SSE2__)
    if (sw == 2 && n >= 16) { /* the even bytes of 32 at a time; the last 16 overlap */
        const __m128i lo = _mm_set1_epi16(0xff);
        for (;; i += 16) {
            if (i + 16 > n) i = n - 16;
            __m128i a = _mm_loadu_si128((const __m128i *)(src + 2 * i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + 2 * i + 16));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo)));
            if (i + 16 == n) return;
        }
    }
#endif
    for (; i < n; i++) dst[i] = src[i * sw];
}

/* dst[k * ldd + m] = src[m * lda + k] for m < n (n >= 16), k < C: full
 * 16x16 blocks, the last one of a row overlapping the one before */
static void transpose_wide(size_t n, size_t C, const uint8_t *src, size_t lda, uint8_t *dst, size_t ldd)
{
#if defined(__SSE2__)
    size_t k16 = C / 16 * 16;
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = 0;; m += 16) {
            if (m + 16 > n) m = n - 16;
            ax_transpose_16x16_u8(src + m * lda + k, lda, dst + k * ldd + m, ldd);
            if (m + 16 == n) break;
        }
    if (k16 < C) transpose(n, C - k16, src + k16, lda, dst + k16 * ldd, ldd);
#else
    transpose(n, C, src, lda, dst, ldd);
#endif
}

/* Input channels [ci0, ci0 + nc) of images [b0, b0 + nb) of X (NHWC) into
 * their padded, phase-split channel planes, the images' planes of a phase
 * one below the other (img: nc x pb bytes). A run of pixels of one input
 * row and stride phase (every sw-th pixel) is one transpose (source stride
 * sw*C) straight into the planes when it has 16 pixels or more; small
 * images are transposed whole into channel rows first (tmp: nc x in_h*in_w),
 * whose rows are then split into phases. */
static void to_planes(const dw_job *j, const uint8_t *X, size_t b0, size_t nb, size_t ci0, size_t nc, uint8_t *img,
                      uint8_t *tmp)
{
    const ax_conv2d_shape *s = j->s;
    size_t C = s->in_c, sh = s->stride_h, sw = s->stride_w, hw = s->in_h * s->in_w;
    memset(img, s->pad_byte, nc * j->pb);
    const ax_dw_ukernel *k = j->p->dw;
    void (*tr)(size_t, size_t, const uint8_t *, size_t, uint8_t *, size_t) = k->transpose;
    for (size_t b = b0; b < b0 + nb; b++) {
        uint8_t *im = img + (b - b0) * j->hs * j->ws;
        const uint8_t *xb = X + b * hw * C + ci0;
        if (j->small) {
            if (tr && hw >= 16) tr(hw, nc, xb, C, tmp, hw);
            else transpose(hw, nc, xb, C, tmp, hw);
        }
        for (size_t px = 0; px < sw; px++) {
            if (s->in_w - 1 + s->pad_left < px) continue;
            size_t lo = px >= s->pad_left ? 0 : (s->pad_left - px + sw - 1) / sw;
            size_t hi = (s->in_w - 1 + s->pad_left - px) / sw + 1;
            if (hi <= lo) continue;
            size_t x0 = lo * sw + px - s->pad_left; /* first input column of the run */
            if (j->small) { /* rows of one phase (py, px): every sh-th input row */
                for (size_t py = 0; py < sh; py++) {
                    size_t y0 = (py + sh - s->pad_top % sh) % sh;
                    if (y0 >= s->in_h) continue;
                    size_t ny = (s->in_h - 1 - y0) / sh + 1;
                    const uint8_t *src = tmp + y0 * s->in_w + x0;
                    uint8_t *dst = im + (py * sw + px) * j->pl + (y0 + s->pad_top) / sh * j->ws + lo;
                    if (k->gather && (hi - lo - 1) * sw < 64) {
                        k->gather(hi - lo, ny, nc, src, sh * s->in_w, hw, sw, dst, j->ws, j->pb);
                        continue;
                    }
                    for (size_t c = 0; c < nc; c++)
                        for (size_t y = 0; y < ny; y++)
                            gather_phase(hi - lo, src + c * hw + y * sh * s->in_w, sw, dst + c * j->pb + y * j->ws);
                }
                continue;
            }
            for (size_t y = 0; y < s->in_h; y++) {
                size_t yp = y + s->pad_top;
                uint8_t *dst = im + ((yp % sh) * sw + px) * j->pl + yp / sh * j->ws + lo;
                const uint8_t *src = xb + (y * s->in_w + x0) * C;
                if (hi - lo >= 16) (tr ? tr : transpose_wide)(hi - lo, nc, src, sw * C, dst, j->pb);
                else transpose(hi - lo, nc, src, sw * C, dst, j->pb); /* a short run in a wide image (wide padding) */
            }
        }
    }
}

/* The input channels output channels [o0, o0 + nch) read */
static void in_range(const ax_conv2d_shape *s, size_t o0, size_t nch, size_t *ci0, size_t *nc)
{
    size_t cg = s->in_c / s->groups, og = s->out_c / s->groups;
    *ci0 = o0 / og * cg;
    *nc = ((o0 + nch - 1) / og + 1) * cg - *ci0;
}

/* One task: channels [o0, o0 + nch) of images [b0, b0 + nb): their input
 * channels laid out (img), then chunks of stacked wide rows (the rows
 * between two images' outputs are computed and dropped). */
static void run_task(const dw_job *j, size_t task, uint8_t *img, uint8_t *tmp, const uint8_t **src, uint32_t *acc)
{
    const ax_conv2d_shape *s = j->s;
    size_t cb = task % j->n_cb, b0 = task / j->n_cb * j->nimg;
    size_t nb = s->batch - b0 < j->nimg ? s->batch - b0 : j->nimg;
    size_t o0 = cb * CB, nch = s->out_c - o0 < CB ? s->out_c - o0 : CB, ci0, nc;
    size_t cg = s->in_c / s->groups, og = s->out_c / s->groups;
    in_range(s, o0, nch, &ci0, &nc);
    to_planes(j, j->X, b0, nb, ci0, nc, img, tmp);
    size_t rows_all = (nb - 1) * j->hs + j->oh;
    for (size_t r0 = 0; r0 < rows_all; r0 += j->rows_per) {
        size_t rows = rows_all - r0 < j->rows_per ? rows_all - r0 : j->rows_per, n = (rows - 1) * j->ws + j->ow;
        const uint8_t *base = img + r0 * j->ws;
        for (size_t c = 0; c < nch; c++) {
            size_t o = o0 + c, ci = o / og * cg - ci0;
            for (size_t t = 0; t < j->ntaps; t++) src[t] = base + (ci + j->tap_ch[t]) * j->pb + j->tap_off[t];
            j->p->dw->run(j->p, src, j->wt + o * j->ntaps, j->ntaps, n, acc + c * j->lda);
        }
        for (size_t r = r0; r < r0 + rows;) { /* the output rows of each image in the chunk */
            size_t b = r / j->hs, oy = r % j->hs, m = j->hs - oy;
            if (m > r0 + rows - r) m = r0 + rows - r;
            if (oy < j->oh) {
                size_t k = j->oh - oy < m ? j->oh - oy : m;
                uint32_t *Y = (uint32_t *)j->Y + (((b0 + b) * j->oh + oy) * j->ow) * s->out_c + o0;
                j->p->dw->store(acc + (r - r0) * j->ws, j->lda, nch, j->corr + o0, k, j->ow, j->ws, Y, s->out_c,
                                j->accumulate);
            }
            r += m;
        }
    }
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

/* Depthwise on a LOWRANK byte form (ax_dwlr_ukernel): the weights in the
 * kernel's layout (a few KiB, packed per call from wt), then tasks of
 * (image, a few output rows), every channel, straight into NHWC. */
static int run_lowrank(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                       const uint8_t *wt, int32_t *Y, bool accumulate, int threads, ax_error *err)
{
    const ax_dwlr_ukernel *k = p->dwlr;
    uint8_t *pw = ax_aligned_alloc(64, k->w_bytes(p, s));
    uint32_t *corr = malloc(s->out_c * sizeof *corr);
    if (!pw || !corr) {
        free(pw), free(corr);
        return ax_fail(err, "conv2d: out of memory");
    }
    k->pack_w(p, s, wt, pw, corr);
    enum { ROWS = 4 }; /* output rows per task (even: stride-1 pairs) */
    size_t n_rc = (oh + ROWS - 1) / ROWS, tasks = s->batch * n_rc, bb = k->buf_bytes(p, s);
    bool ok = true;
#ifdef _OPENMP
    threads = ax_default_threads(threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
#else
    (void)threads;
#endif
    {
        void *buf = ax_aligned_alloc(64, bb);
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
                size_t b = t / n_rc, oy0 = t % n_rc * ROWS;
                k->rows(p, s, oh, ow, X, pw, corr, b, oy0, oh - oy0 < ROWS ? oh - oy0 : ROWS, Y, accumulate, buf);
            }
        free(buf);
    }
    free(pw), free(corr);
    return ok ? 0 : ax_fail(err, "conv2d: out of memory");
}

int ax_dwconv2d(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                const uint8_t *wt, const uint32_t *corr, int32_t *Y, bool accumulate, int threads, ax_error *err)
{
    if (p->dwlr && s->in_c == s->groups && s->out_c == s->groups)
        return run_lowrank(p, s, oh, ow, X, wt, Y, accumulate, threads, err);
    dw_job j = {.p = p, .s = s, .oh = oh, .ow = ow, .X = X, .wt = wt, .corr = corr, .Y = Y, .accumulate = accumulate};
    size_t hp = s->in_h + s->pad_top + s->pad_bottom, wp = s->in_w + s->pad_left + s->pad_right;
    j.hs = (hp + s->stride_h - 1) / s->stride_h, j.ws = (wp + s->stride_w - 1) / s->stride_w;
    j.ntaps = s->kernel_h * s->kernel_w * (s->in_c / s->groups);
    j.n_cb = (s->out_c + CB - 1) / CB;
    for (size_t cb = 0; cb < j.n_cb; cb++) {
        size_t ci0, nc;
        in_range(s, cb * CB, s->out_c - cb * CB < CB ? s->out_c - cb * CB : CB, &ci0, &nc);
        if (nc > j.cin) j.cin = nc;
    }
    /* images per task: as many as keep a task's planes within L2/4 (small
     * images: each tap's table then serves several images' pixels) */
    size_t one;
    if (mul_overflows(j.hs * j.ws, s->stride_h * s->stride_w, &one) || mul_overflows(one, j.cin, &one) ||
        one > SIZE_MAX / 2 - 64)
        return ax_fail(err, "conv2d: sizes too large");
    j.nimg = ax_cpu_caches_get()->l2 / 4 / one;
    j.nimg = j.nimg < 1 ? 1 : j.nimg > s->batch ? s->batch : j.nimg;
    j.pl = j.nimg * j.hs * j.ws, j.pb = j.pl * s->stride_h * s->stride_w;
    j.n_bg = (s->batch + j.nimg - 1) / j.nimg;
    size_t rows_all = (j.nimg - 1) * j.hs + oh;
    j.rows_per = p->dw_pix / j.ws ? p->dw_pix / j.ws : 1;
    if (j.rows_per > rows_all) j.rows_per = rows_all;
    j.lda = ((j.rows_per - 1) * j.ws + ow + 63) / 64 * 64;
    j.tap_off = malloc(2 * j.ntaps * sizeof *j.tap_off);
    if (!j.tap_off) return ax_fail(err, "conv2d: out of memory");
    j.tap_ch = j.tap_off + j.ntaps;
    j.small = s->in_w / s->stride_w < 17;
    tap_layout(&j);
    size_t tasks = j.n_bg * j.n_cb;
    bool ok = true;
#ifdef _OPENMP
    threads = ax_default_threads(threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
#else
    (void)threads;
#endif
    {
        const uint8_t **src = malloc(j.ntaps * sizeof *src);
        uint32_t *acc = ax_aligned_alloc(64, CB * j.lda * sizeof *acc);
        uint8_t *img = malloc(j.cin * j.pb + 64); /* the kernel's loads may run past the last plane's rows */
        uint8_t *tmp = j.small ? malloc(s->in_h * s->in_w * j.cin + 64) : NULL; /* gather_phase reads past a row */
        if (!src || !acc || !img || (j.small && !tmp)) {
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
            if (ok) run_task(&j, t, img, tmp, src, acc);
        free(src);
        free(acc);
        free(img);
        free(tmp);
    }
    free(j.tap_off);
    return ok ? 0 : ax_fail(err, "conv2d: out of memory");
}
