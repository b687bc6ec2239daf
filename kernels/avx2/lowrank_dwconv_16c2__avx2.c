/* lowrank_dwconv_16c2__avx2.c - depthwise convolution (one input channel
 * per group, one output channel per input channel) on the LOWRANK path
 * with AVX2 only: T[a][w] = sum_t amap[t][a] * wmap[t][w] (int16 factors,
 * lowrank.c) summed with vpmaddwd straight from and into NHWC (no phase
 * planes, no transposes), the AVX2 counterpart of
 * lowrank_dwconv_16c4__avx512vnni (no vpmaddubsw: it saturates).
 *
 * Lanes are channels: an int32 lane holds one channel, its two int16 two
 * padded input rows of one column, so one vpmaddwd sums two kernel rows of
 * 8 channels; 16 channels are one 16-byte load per row, widened. Exact
 * modulo 2^32: vpmaddwd's only overflow, (-2^15)^2 * 2, wraps to the right
 * residue.
 * A "pair" is padded input rows (2p, 2p+1): its columns (every padded
 * column, per term and 16 channels, two ymm) are built once and serve every
 * output row whose window covers them (with dilation 1: output row oy reads
 * pairs oy*sh/2 .. (oy*sh + kh - 1)/2, the weights packed for both parities
 * of oy*sh, so a kernel row pairs with the one below whatever the output
 * row). Pairs live in a ring of slots for one task's rows (tasks as long
 * as the threads allow: long_tasks, each pair built once); with dilation
 * above 1 the kernel rows (2j, 2j+1) of each output row are built afresh.
 * Activation factors that are the operand's value, masked (mul8s_1L2J:
 * a & ~1), widen with vpmovsx/zxbw (+ vpand); others are looked up byte by
 * byte. Output pixels go four at a time, all channel blocks of a pixel in
 * memory order (as the AVX-512 kernel found, in-order output lines store
 * fastest), by non-temporal stores when the layer's output is past the
 * caches. */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* groups (row pairs) per output row, the most over both parities */
static size_t ngroups(const ax_conv2d_shape *s) { return (s->kernel_h + 2) / 2; }
static size_t slots(const ax_conv2d_shape *s) { return ngroups(s) + 1; }
static size_t wpad(const ax_conv2d_shape *s) { return s->in_w + s->pad_left + s->pad_right; }

/* per 16 channels: 2 parities x groups x terms x kw x 2 ymm */
static size_t w_vecs(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return 2 * ngroups(s) * (size_t)p->lr->terms * s->kernel_w * 2;
}

/* how each term's activation factor is built, classified once per call
 * (pack_w) and stored after the weights: kind 1 amap = v(a) & mask (v: the
 * operand's value, sext or zext), 0 a byte-by-byte lookup */
typedef struct form {
    __m256i mask[AX_LOWRANK_TERMS];
    __m256i padcol[AX_LOWRANK_TERMS]; /* f(pad) in both rows */
    int kind[AX_LOWRANK_TERMS];
    bool sext[AX_LOWRANK_TERMS];
} form;

static size_t wt_bytes(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return (s->out_c + 15) / 16 * w_vecs(p, s) * 32;
}

static size_t w_bytes(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return wt_bytes(p, s) + (sizeof(form) + 31) / 32 * 32;
}

/* the slots: terms x 16-channel blocks x padded columns x 2 ymm each */
static size_t slot_vecs(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return (size_t)p->lr->terms * ((s->in_c + 15) / 16) * wpad(s) * 2;
}

/* the slots, then per slot its pair's tag and pointer (kernels may be tall:
 * not on the stack) */
static size_t buf_bytes(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return slots(s) * (slot_vecs(p, s) * 32 + sizeof(size_t) + sizeof(__m256i *));
}

static void classify(const ax_lowrank *lr, uint8_t pad_byte, form *f)
{
    memset(f, 0, sizeof *f);
    for (size_t t = 0; t < (size_t)lr->terms; t++) {
        for (int sx = 0; sx < 2 && !f->kind[t]; sx++) { /* amap[t][a] = v(a) & m, m = amap[t][v^-1(-1 or 255)] */
            int16_t m = lr->amap[t][255];
            bool ok = true;
            for (int a = 0; a < 256 && ok; a++) {
                int v = sx ? (int8_t)a : a;
                ok = lr->amap[t][a] == (int16_t)(v & m);
            }
            if (ok) f->kind[t] = 1, f->sext[t] = sx, f->mask[t] = _mm256_set1_epi16(m);
        }
        f->padcol[t] = _mm256_set1_epi16(lr->amap[t][pad_byte]);
    }
}

/* pw: per 16 channels, vector ((e*G + j)*T + t)*kw + kx, half h (channels
 * 8h .. 8h+7): int16 2c+i = wmap[t] of channel 8h+c's weight at kernel row
 * 2j + i - e, column kx (0 outside the kernel or past C). No corrections:
 * the int16 form is exact as it is. */
static void pack_w(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *wt, uint8_t *pw, uint32_t *corr)
{
    const ax_lowrank *lr = p->lr;
    size_t T = (size_t)lr->terms, G = ngroups(s), kh = s->kernel_h, kw = s->kernel_w, C = s->out_c;
    int16_t *v = (int16_t *)pw;
    memset(corr, 0, C * sizeof *corr);
    for (size_t o0 = 0; o0 < C; o0 += 16)
        for (size_t e = 0; e < 2; e++)
            for (size_t j = 0; j < G; j++)
                for (size_t t = 0; t < T; t++)
                    for (size_t kx = 0; kx < kw; kx++)
                        for (size_t l = 0; l < 32; l++, v++) { /* 2 halves x 8 channels x 2 rows */
                            size_t c = o0 + l / 2, ky = 2 * j + l % 2 - e;
                            *v = c < C && ky < kh ? lr->wmap[t][wt[c * kh * kw + ky * kw + kx]] : 0;
                        }
    classify(lr, s->pad_byte, (form *)(pw + wt_bytes(p, s)));
}

typedef struct ctx {
    const ax_gemm_plan *p;
    const ax_conv2d_shape *s;
    const uint8_t *X;
    size_t b, T, G, nb, wp, sv;
    const form *f;
    uint8_t pad[16];
} ctx;

/* the two ymm of 16 channels' f_t of rows qa, qb, int16 2c + i of lane c
 * from row i: kind 1 (v(a) & mask) by interleaving the bytes and widening
 * them, else looked up; kind -1: the term's own (several terms) */
static inline __attribute__((always_inline)) void map2(const ctx *c, size_t t, const uint8_t *qa, const uint8_t *qb,
                                                       int kind, bool sext, __m256i *d)
{
    if (kind < 0) kind = c->f->kind[t], sext = c->f->sext[t];
    if (kind == 1) {
        __m128i xa = _mm_loadu_si128((const __m128i *)qa), xb = _mm_loadu_si128((const __m128i *)qb);
        __m128i lo = _mm_unpacklo_epi8(xa, xb), hi = _mm_unpackhi_epi8(xa, xb);
        __m256i l = sext ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo);
        __m256i h = sext ? _mm256_cvtepi8_epi16(hi) : _mm256_cvtepu8_epi16(hi);
        d[0] = _mm256_and_si256(l, c->f->mask[t]), d[1] = _mm256_and_si256(h, c->f->mask[t]);
        return;
    }
    int16_t tmp[32] __attribute__((aligned(32)));
    for (int i = 0; i < 16; i++) tmp[2 * i] = c->p->lr->amap[t][qa[i]], tmp[2 * i + 1] = c->p->lr->amap[t][qb[i]];
    d[0] = _mm256_load_si256((const __m256i *)tmp), d[1] = _mm256_load_si256((const __m256i *)tmp + 1);
}

/* the input row of padded row y (NULL: a pad row) */
static const uint8_t *in_row(const ctx *c, size_t y)
{
    const ax_conv2d_shape *s = c->s;
    if (y < s->pad_top || y - s->pad_top >= s->in_h) return NULL;
    return c->X + ((c->b * s->in_h + y - s->pad_top) * s->in_w) * s->in_c;
}

/* One slot D from input rows ra, rb (NULL: pad rows): per term, block and
 * padded column, the two ymm of the rows' f_t interleaved (map2). */
static inline __attribute__((always_inline)) void build_k(const ctx *c, const uint8_t *ra, const uint8_t *rb,
                                                           const uint8_t *pa, const uint8_t *pb, __m256i *D, int kind,
                                                           bool sext, size_t T)
{
    const ax_conv2d_shape *s = c->s;
    size_t C = s->in_c, wp = c->wp, x0 = s->pad_left, x1 = s->pad_left + s->in_w;
    for (size_t t = 0; t < T; t++)
        for (size_t cb = 0; cb < c->nb; cb++) {
            __m256i *d = D + (t * c->nb + cb) * wp * 2;
            for (size_t ix = 0; ix < x0; ix++) d[2 * ix] = d[2 * ix + 1] = c->f->padcol[t];
            for (size_t ix = x1; ix < wp; ix++) d[2 * ix] = d[2 * ix + 1] = c->f->padcol[t];
        }
    /* pixel after pixel, its channels in memory order; the rows of the
     * next pair (pa, pb) fetched meanwhile */
    size_t nfull = C / 16;
    for (size_t ix = x0; ix < x1; ix++) {
        size_t off = (ix - x0) * C;
        for (size_t k = 0; k < C; k += 64) {
            if (pa) _mm_prefetch((const char *)(pa + off + k), _MM_HINT_T0);
            if (pb) _mm_prefetch((const char *)(pb + off + k), _MM_HINT_T0);
        }
        for (size_t cb = 0; cb < nfull; cb++) {
            const uint8_t *qa = ra ? ra + off + 16 * cb : c->pad, *qb = rb ? rb + off + 16 * cb : c->pad;
            for (size_t t = 0; t < T; t++) map2(c, t, qa, qb, kind, sext, D + ((t * c->nb + cb) * wp + ix) * 2);
        }
        if (nfull < c->nb) { /* the last block: channels past C read as pad (their weights are 0) */
            size_t c0 = 16 * nfull;
            uint8_t ta[16], tb[16];
            memcpy(ta, c->pad, 16), memcpy(tb, c->pad, 16);
            if (ra) memcpy(ta, ra + off + c0, C - c0);
            if (rb) memcpy(tb, rb + off + c0, C - c0);
            for (size_t t = 0; t < T; t++) map2(c, t, ta, tb, kind, sext, D + ((t * c->nb + nfull) * wp + ix) * 2);
        }
    }
}

/* rows ya, yb into D, fetching rows ya + dy, yb + dy (the next build's) */
static void build(const ctx *c, size_t ya, size_t yb, size_t dy, __m256i *D)
{
    const uint8_t *ra = in_row(c, ya), *rb = in_row(c, yb), *pa = in_row(c, ya + dy), *pb = in_row(c, yb + dy);
    if (c->T == 1 && c->f->kind[0] == 1 && c->f->sext[0]) build_k(c, ra, rb, pa, pb, D, 1, true, 1);
    else if (c->T == 1 && c->f->kind[0] == 1) build_k(c, ra, rb, pa, pb, D, 1, false, 1);
    else build_k(c, ra, rb, pa, pb, D, -1, false, c->T);
}

/* v (+ Y) into the channels [c0, c0 + 8) of one pixel, n of them live;
 * nt: a non-temporal store (y 32-byte aligned, not accumulating) */
static inline __attribute__((always_inline)) void put(__m256i v, int32_t *y, size_t n, bool accumulate, bool nt)
{
    if (nt && n >= 8) {
        _mm256_stream_si256((__m256i *)y, v);
        return;
    }
    if (n >= 8) {
        if (accumulate) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)y));
        _mm256_storeu_si256((__m256i *)y, v);
        return;
    }
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (accumulate) v = _mm256_add_epi32(v, _mm256_maskload_epi32(y, m));
    _mm256_maskstore_epi32(y, m, v);
}

/* n <= 4 output pixels from ox of one block's half h: groups S[j] (each a
 * slot's columns of this block, term-major), weights W (kw per (j, t)) */
static inline __attribute__((always_inline)) void px(const __m256i *const *S, size_t G, size_t T, size_t tstride,
                                                     size_t kw, size_t sw, size_t dw, const __m256i *W, size_t h,
                                                     size_t ox, int n, int32_t *y, size_t C, size_t live,
                                                     bool accumulate)
{
    __m256i a[4];
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) a[i] = _mm256_setzero_si256();
    for (size_t j = 0; j < G; j++)
        for (size_t t = 0; t < T; t++) {
            const __m256i *col = S[j] + t * tstride + h, *w = W + ((j * T + t) * kw) * 2 + h;
            for (size_t kx = 0; kx < kw; kx++) {
                __m256i wv = w[2 * kx];
#pragma GCC unroll 4
                for (int i = 0; i < n; i++)
                    a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(col[2 * ((ox + (size_t)i) * sw + kx * dw)], wv));
            }
        }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) put(a[i], y + (size_t)i * C, live, accumulate, false);
}

/* One output row, any kernel and terms: pixels four at a time, every
 * block (both halves) of them before the next four. */
static __attribute__((noinline)) void out_row_any(const ctx *c, const __m256i *const *S, size_t G,
                                                  const uint8_t *pw, size_t e, int32_t *y, size_t ow, bool accumulate)
{
    const ax_conv2d_shape *s = c->s;
    size_t C = s->out_c, T = c->T, kw = s->kernel_w, sw = s->stride_w, dw = s->dilation_w;
    size_t wv = w_vecs(c->p, s), ts = c->nb * c->wp * 2, Gp = ngroups(s);
    for (size_t ox = 0; ox < ow; ox += 4) {
        int n = ow - ox >= 4 ? 4 : (int)(ow - ox);
        for (size_t cb = 0; cb < c->nb; cb++) {
            const __m256i *Sb[G];
            for (size_t j = 0; j < G; j++) Sb[j] = S[j] + cb * c->wp * 2;
            const __m256i *W = (const __m256i *)pw + cb * wv + e * Gp * T * kw * 2;
            for (size_t h = 0; h < 2; h++) {
                size_t c0 = 16 * cb + 8 * h;
                if (c0 >= C) break;
                size_t live = C - c0;
                int32_t *yy = y + ox * C + c0;
                if (n == 4) px(Sb, G, T, ts, kw, sw, dw, W, h, ox, 4, yy, C, live, accumulate);
                else if (n == 3) px(Sb, G, T, ts, kw, sw, dw, W, h, ox, 3, yy, C, live, accumulate);
                else if (n == 2) px(Sb, G, T, ts, kw, sw, dw, W, h, ox, 2, yy, C, live, accumulate);
                else px(Sb, G, T, ts, kw, sw, dw, W, h, ox, 1, yy, C, live, accumulate);
            }
        }
    }
}

/* 3x3, dilation 1 rows, one term (two groups, both parities): n pixels of
 * one half, the six weights in registers. SW: the column stride (1 or 2,
 * dw = 1) as a constant, so the columns neighbouring pixels share are
 * loaded once; 0: sw, dw from the shape. */
static inline __attribute__((always_inline)) void px3(const __m256i *A, const __m256i *B, const __m256i *W, int SW,
                                                      size_t sw, size_t dw, int32_t *y, size_t C, size_t live,
                                                      bool accumulate, bool nt, int n)
{
    __m256i a[4], w[6];
#pragma GCC unroll 6
    for (int k = 0; k < 6; k++) w[k] = W[2 * k];
    size_t st = SW ? (size_t)SW : sw, d = SW ? 2 : 2 * dw;
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) {
        const __m256i *p = A + 2 * (size_t)i * st, *q = B + 2 * (size_t)i * st;
        __m256i u = _mm256_add_epi32(_mm256_madd_epi16(p[0], w[0]), _mm256_madd_epi16(q[0], w[3]));
        __m256i v = _mm256_add_epi32(_mm256_madd_epi16(p[d], w[1]), _mm256_madd_epi16(q[d], w[4]));
        __m256i x = _mm256_add_epi32(_mm256_madd_epi16(p[2 * d], w[2]), _mm256_madd_epi16(q[2 * d], w[5]));
        a[i] = _mm256_add_epi32(_mm256_add_epi32(u, v), x);
    }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) put(a[i], y + (size_t)i * C, live, accumulate, nt);
}

static inline __attribute__((always_inline)) void row3(const ctx *c, const __m256i *const *S, const uint8_t *pw,
                                                       size_t e, int32_t *y, size_t ow, bool accumulate, int SW,
                                                       bool NT)
{
    size_t C = c->s->out_c, sw = c->s->stride_w, dw = c->s->dilation_w, wv = w_vecs(c->p, c->s), wp = c->wp;
    size_t st = SW ? (size_t)SW : sw;
    /* at stride 2, whole groups of 4 pixels over full blocks, stored: one
     * pointer step per block, no per-half tests (GCC kept the general
     * loop's state on the stack; at stride 1 this loop measured slower) */
    size_t ow4 = SW == 2 && C % 16 == 0 && !accumulate ? ow / 4 * 4 : 0, nb = c->nb;
    for (size_t ox = 0; ox < ow4; ox += 4) {
        const __m256i *A = S[0] + ox * st * 2, *B = S[1] + ox * st * 2, *W = (const __m256i *)pw + e * 12;
        int32_t *yy = y + ox * C;
        for (size_t cb = 0; cb < nb; cb++, A += wp * 2, B += wp * 2, W += wv, yy += 16) {
            px3(A, B, W, SW, sw, dw, yy, C, 8, false, NT, 4);
            px3(A + 1, B + 1, W + 1, SW, sw, dw, yy + 8, C, 8, false, NT, 4);
        }
    }
    for (size_t ox = ow4; ox < ow; ox += 4) {
        int n = ow - ox >= 4 ? 4 : (int)(ow - ox);
        for (size_t cb = 0; cb < nb; cb++) {
            const __m256i *A = S[0] + (cb * wp + ox * st) * 2, *B = S[1] + (cb * wp + ox * st) * 2;
            const __m256i *W = (const __m256i *)pw + cb * wv + e * 12;
            for (size_t h = 0; h < 2; h++) {
                size_t c0 = 16 * cb + 8 * h;
                if (c0 >= C) break;
                size_t live = C - c0;
                int32_t *yy = y + ox * C + c0;
                if (n == 4) px3(A + h, B + h, W + h, SW, sw, dw, yy, C, live, accumulate, NT, 4);
                else if (n == 3) px3(A + h, B + h, W + h, SW, sw, dw, yy, C, live, accumulate, false, 3);
                else if (n == 2) px3(A + h, B + h, W + h, SW, sw, dw, yy, C, live, accumulate, false, 2);
                else px3(A + h, B + h, W + h, SW, sw, dw, yy, C, live, accumulate, false, 1);
            }
        }
    }
}

static __attribute__((noinline)) void out_row3(const ctx *c, const __m256i *const *S, const uint8_t *pw, size_t e,
                                               int32_t *y, size_t ow, bool accumulate, bool nt)
{
    bool d1 = c->s->dilation_w == 1;
    if (d1 && c->s->stride_w == 1 && nt) row3(c, S, pw, e, y, ow, accumulate, 1, true);
    else if (d1 && c->s->stride_w == 1) row3(c, S, pw, e, y, ow, accumulate, 1, false);
    else if (d1 && c->s->stride_w == 2 && nt) row3(c, S, pw, e, y, ow, accumulate, 2, true);
    else if (d1 && c->s->stride_w == 2) row3(c, S, pw, e, y, ow, accumulate, 2, false);
    else row3(c, S, pw, e, y, ow, accumulate, 0, false);
}

/* Output rows [oy0, oy0 + rows) of image b, all channels, row oy at Y + (oy - oy0) * ow * C. */
static void rows_fn(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t ow, const uint8_t *X,
                    const uint8_t *pw, const uint32_t *corr, size_t b, size_t oy0, size_t rows, int32_t *Y,
                    bool accumulate, bool stream, void *buf)
{
    (void)corr; /* all 0 */
    ctx c = {.p = p, .s = s, .X = X, .b = b, .T = (size_t)p->lr->terms, .G = ngroups(s), .nb = (s->in_c + 15) / 16,
             .wp = wpad(s)};
    c.sv = slot_vecs(p, s);
    memset(c.pad, s->pad_byte, sizeof c.pad);
    c.f = (const form *)(pw + wt_bytes(p, s));
    __m256i *B = buf;
    size_t S = slots(s), C = s->out_c, kh = s->kernel_h, dh = s->dilation_h;
    size_t *tag = (size_t *)(B + S * c.sv);
    const __m256i **Sp = (const __m256i **)(tag + S);
    for (size_t i = 0; i < S; i++) tag[i] = SIZE_MAX;
    bool k3 = s->kernel_h == 3 && s->kernel_w == 3 && dh == 1 && c.T == 1;
    /* outputs the caller streams go past the caches: whole lines (16k
     * channels) by non-temporal stores, no read for ownership */
    bool nt = k3 && stream && !accumulate && C % 16 == 0 && (uintptr_t)Y % 32 == 0;
    for (size_t oy = oy0; oy < oy0 + rows; oy++) {
        size_t y0 = oy * s->stride_h, e = 0, G;
        if (dh == 1) { /* pairs y0/2 .. (y0 + kh - 1)/2 from the ring */
            e = y0 & 1, G = (e + kh + 1) / 2;
            for (size_t j = 0; j < G; j++) {
                size_t pr = y0 / 2 + j, sl = pr % S;
                if (tag[sl] != pr) build(&c, 2 * pr, 2 * pr + 1, 2, B + sl * c.sv), tag[sl] = pr;
                Sp[j] = B + sl * c.sv;
            }
        } else { /* kernel rows 2j, 2j + 1 (past the kernel: any row, its weights are 0) */
            G = (kh + 1) / 2;
            for (size_t j = 0; j < G; j++) {
                build(&c, y0 + 2 * j * dh, y0 + (2 * j + 1) * dh, s->stride_h, B + j * c.sv);
                Sp[j] = B + j * c.sv;
            }
        }
        int32_t *y = Y + (oy - oy0) * ow * C;
        if (k3) out_row3(&c, Sp, pw, e, y, ow, accumulate, nt);
        else out_row_any(&c, Sp, G, pw, e, y, ow, accumulate);
    }
    if (nt) _mm_sfence(); /* the streamed lines visible to the thread that joins */
}

const ax_dwlr_ukernel ax_dwlr_ukernel_avx2 = {.name = "lowrank_dwconv_16c2__avx2",
                                              .w_bytes = w_bytes,
                                              .pack_w = pack_w,
                                              .buf_bytes = buf_bytes,
                                              .rows = rows_fn,
                                              .long_tasks = true};
