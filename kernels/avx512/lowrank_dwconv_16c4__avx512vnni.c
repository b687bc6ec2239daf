/* lowrank_dwconv_16c4__avx512vnni.c - depthwise convolution (one input
 * channel per group, one output channel per input channel) on the LOWRANK
 * path for a byte form (lowrank.c): T[a][w] = sum_t f_t(a) g_t(w) with
 * f_t = f'_t + a_off[t] (u8) and g_t = g'_t + w_off[t] (s8), summed with
 * vpdpbusd straight from and into NHWC (no phase planes, no transposes).
 *
 * Lanes are channels: an int32 lane holds one channel, its four bytes four
 * kernel rows (ky = 4g .. 4g+3) of one kernel column. For an output row, each
 * padded input column ix gets, per 16 channels, one zmm of the four input
 * rows' mapped bytes interleaved (per 64 channels: a 64-byte load per row,
 * the f'_t map, two rounds of vpermi2b; rows past the kernel are 0), built
 * once and read by every output pixel whose window covers that column (kw
 * of them at stride 1; there one build of rows oy..oy+3 serves output rows
 * oy and oy+1). An output pixel of 16 channels is then kw * groups * terms
 * vpdpbusd and one 64-byte NHWC store; a pair of rows is written 4 pixels
 * (of every channel block) at a time, so that the output's lines go out
 * nearly in memory order. 3x3 at stride 2 (pair_s2) builds, per 2 output
 * pixels and 64 channels, only the 5 columns they read and sums them at
 * once in registers: rows 2oy..2oy+3 for row oy, 2oy+2..2oy+4 for oy+1.
 * 3 wide at stride 1 with 16k channels (pair_s1), the columns of rows
 * oy..oy+3 are built just ahead of the 4 pixels that read them into a ring
 * of 8 columns in L1, 64 bytes of the rows at a time across pixels (so 32,
 * 96 or 144 channels fill every permute). Both stream outputs larger
 * than 8 L2s (non-temporal stores of whole lines: no read for ownership).
 * Forms of several terms take the row pairs too (the stride-1 build of
 * whole rows, each term's columns and weights side by side; pair_s2, each
 * column's rows mapped per term and every term summed in the same registers).
 * Corrections as the dense byte kernel: per channel sum_t a_off[t] sum g'_t
 * + taps * a_off[t] w_off[t] (packed with the weights), per pixel and
 * channel w_off[t] sum f'_t (a vpdpbusd against ones, only when some w_off
 * is not 0). Everything wraps mod 2^32; the K bound keeps the true sum in
 * int32. */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

/* DP(acc, x, w): acc + the dot products of activation bytes x and weight
 * bytes w, x unsigned and w signed; compiled again with AX_DWLR_S8U8 for
 * forms with their signs swapped (lr->acts_s8: x signed, w unsigned),
 * lowrank_dwconv_16c4_s8u8__avx512vnni.c */
#ifdef AX_DWLR_S8U8
#define DP(acc, x, w) _mm512_dpbusd_epi32(acc, w, x)
#define AX_DWLR_KERNEL ax_dwlr_ukernel_avx512vnni_s8u8
#define AX_DWLR_NAME "lowrank_dwconv_16c4_s8u8__avx512vnni"
#else
#define DP(acc, x, w) _mm512_dpbusd_epi32(acc, x, w)
#define AX_DWLR_KERNEL ax_dwlr_ukernel_avx512vnni
#define AX_DWLR_NAME "lowrank_dwconv_16c4__avx512vnni"
#endif

static size_t groups_of(const ax_conv2d_shape *s) { return (s->kernel_h + 3) / 4; }
static size_t vecs(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{ /* weight vectors per 16 channels: the terms' (g, t, kx), then each term's shifted (kh <= 3) */
    return (groups_of(s) + 1) * (size_t)p->lr->terms * s->kernel_w;
}

static size_t w_bytes(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    return (s->out_c + 15) / 16 * vecs(p, s) * 64;
}

/* byte 16j + c -> 4c + j: four rows of 16 channels into a lane per channel */
static const uint8_t perm_b[64] = {0, 16, 32, 48, 1, 17, 33, 49, 2, 18, 34, 50, 3, 19, 35, 51,
                                   4, 20, 36, 52, 5, 21, 37, 53, 6, 22, 38, 54, 7, 23, 39, 55,
                                   8, 24, 40, 56, 9, 25, 41, 57, 10, 26, 42, 58, 11, 27, 43, 59,
                                   12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};

/* a 256-byte table (f'_t, g'_t) at 64 bytes */
static inline __m512i lookup(const __m512i tab[4], __m512i x)
{
    __m512i lo = _mm512_permutex2var_epi8(tab[0], x, tab[1]), hi = _mm512_permutex2var_epi8(tab[2], x, tab[3]);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi);
}

/* the interleaved columns of one output row: C/16 * G * T * wp vectors, or
 * pair_s1's ring (8 or 16 columns); pair_s2 keeps its columns in registers */
static size_t buf_bytes(const ax_gemm_plan *p, const ax_conv2d_shape *s)
{
    size_t nb = (s->in_c + 15) / 16, n = nb * groups_of(s) * (size_t)p->lr->terms * (s->in_w + s->pad_left + s->pad_right);
    return (n > 16 * nb ? n : 16 * nb) * 64;
}

/* pw: per 16 channels, per (g, t, kx), 64 bytes: byte 4c + j = g'_t of the
 * weight of channel c at (4g + j, kx), 0 past the kernel or the channels;
 * then T x kw more: each term shifted by one row (byte 4c + j + 1; kh <=
 * 3), for the second output row of a stride-1 pair (rows_fn) */
static void pack_w(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *wt, uint8_t *pw, uint32_t *corr)
{ /* per block and (g, kx): the weight bytes gathered as rows x channels,
   * then per term a vector lookup and the build's vpermb; the corrections
   * from the packed vectors (one vpdpbusd against ones per vector) */
    const ax_lowrank *lr = p->lr;
    size_t T = (size_t)lr->terms, G = groups_of(s), kh = s->kernel_h, kw = s->kernel_w, ntaps = kh * kw;
    size_t nv = vecs(p, s), C = s->out_c;
    const __m512i perm = _mm512_loadu_si512(perm_b), ones = _mm512_set1_epi8(1);
    __m512i tab[AX_LOWRANK_TERMS][4];
    uint32_t c0 = 0;
    for (size_t t = 0; t < T; t++) {
        c0 += (uint32_t)ntaps * (uint32_t)lr->a_off[t] * (uint32_t)lr->w_off[t];
        for (int q = 0; q < 4; q++) tab[t][q] = _mm512_loadu_si512(lr->wbyte[t] + 64 * q);
    }
    for (size_t o0 = 0; o0 < C; o0 += 16) {
        size_t nc = C - o0 < 16 ? C - o0 : 16;
        __m512i *blk = (__m512i *)(pw + o0 / 16 * nv * 64), sum = _mm512_set1_epi32((int)c0);
        memset(blk, 0, nv * 64); /* vectors this kernel shape does not use */
        for (size_t g = 0; g < G; g++)
            for (size_t kx = 0; kx < kw; kx++) {
                uint8_t raw[64] __attribute__((aligned(64))) = {0};
                __mmask64 live = 0;
                for (size_t j = 0, ky = 4 * g; j < 4 && ky < kh; j++, ky++) {
                    live |= (__mmask64)((1u << nc) - 1) << (16 * j);
                    for (size_t c = 0; c < nc; c++) raw[16 * j + c] = wt[(o0 + c) * ntaps + ky * kw + kx];
                }
                __m512i x = _mm512_load_si512(raw);
                for (size_t t = 0; t < T; t++) {
                    __m512i v = _mm512_permutexvar_epi8(perm, _mm512_maskz_mov_epi8(live, lookup(tab[t], x)));
                    _mm512_storeu_si512(blk + (g * T + t) * kw + kx, v);
                    sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(DP(_mm512_setzero_si512(), ones, v),
                                                                   _mm512_set1_epi32(lr->a_off[t])));
                    if (kh <= 3) /* G = 1 */
                        _mm512_storeu_si512(blk + (G * T + t) * kw + kx, _mm512_slli_epi32(v, 8));
                }
            }
        _mm512_mask_storeu_epi32(corr + o0, (__mmask16)((1u << nc) - 1), sum);
    }
}

typedef struct row_ctx {
    const ax_gemm_plan *p;
    const ax_conv2d_shape *s;
    size_t wp, G, T, cs; /* cs: vectors per column (nb * G * T) */
    /* f'_t: 0 a lookup, 1 identity, 2 (a ^ fx) & fm (signed forms that drop
     * low bits, e.g. mul8s_1L2J: one vpternlogd instead of four) */
    int kind[AX_LOWRANK_TERMS];
    /* pair_s1/pair_s2 stream their whole 4-pixel groups past the caches
     * (rows_fn says when) */
    bool nt;
    __m512i fx[AX_LOWRANK_TERMS], fm[AX_LOWRANK_TERMS];
    __m512i tab[AX_LOWRANK_TERMS][4];
} row_ctx;

static inline __attribute__((always_inline)) __m512i map(const row_ctx *r, size_t t, __m512i v)
{
    if (r->kind[t] == 1) return v;
    if (r->kind[t] == 2) return _mm512_ternarylogic_epi32(v, r->fx[t], r->fm[t], 0x28); /* (A ^ B) & C */
    return lookup(r->tab[t], v);
}

/* Input columns [0, wp) of output row oy, every channel of image b, into
 * I[((ix * nb + c/16) * G + g) * T + t] (a column's vectors together, so
 * that builds write and rows read in memory order): byte 4c' + j = f'_t(x)
 * of kernel row 4g + j (0 past the kernel). Rows outside the image read a
 * pad vector (step 0), so the loop over the columns inside has no branches,
 * and the channels of a pixel are read in memory order. kh: the kernel's
 * rows, or 4 for a stride-1 pair (rows oy .. oy + 3); next: output rows to
 * the next build (its new rows are prefetched). */
typedef struct build_args {
    size_t x0, x1, g;
    bool live[4];
    __m512i pad;
    __m512i ilo, ihi, io0, io1;
    const uint8_t *pre[4]; /* rows the next build adds (npre): prefetched */
    size_t npre;
    __m512i *I;
} build_args;

/* the columns inside the image; kind: r->kind[0] when one term (the loop
 * specialized on it), else -1; all: every row live (the pair builds).
 * Per 64 channels: one load per row, the map, then two rounds of vpermi2b
 * (rows 0|1 and 2|3 byte-interleaved, then those word-interleaved per block
 * of 16): 2 permutes and one load per block rather than four 16-byte loads,
 * three inserts and a vpermb. Everything the loop reads is copied to locals
 * first: the vector stores may alias any memory for the compiler, which
 * otherwise reloads the arguments and constants after each of them. */
static inline __attribute__((always_inline)) void interior(const row_ctx *r, const build_args *a,
                                                            const uint8_t *const row[4], const size_t step[4],
                                                            int kind, bool one, bool all)
{
    const ax_conv2d_shape *s = r->s;
    const size_t C = s->in_c, G = r->G, T = one ? 1 : r->T, gt = G * r->T, cs = r->cs;
    const size_t x0 = a->x0, x1 = a->x1, full = C / 64 * 64, rest = C - full, nt = (rest + 15) / 16;
    const __m512i ilo = a->ilo, ihi = a->ihi, io0 = a->io0, io1 = a->io1, pad = a->pad;
    const __m512i fx = r->fx[0], fm = r->fm[0], t0 = r->tab[0][0], t1 = r->tab[0][1], t2 = r->tab[0][2],
                  t3 = r->tab[0][3];
    const __mmask64 cm = rest ? ((__mmask64)1 << rest) - 1 : 0;
    const bool l0 = all || a->live[0], l1 = all || a->live[1], l2 = all || a->live[2], l3 = all || a->live[3];
    const uint8_t *const pre0 = a->pre[0], *const pre1 = a->pre[1], *const pre2 = a->pre[2], *const pre3 = a->pre[3];
    const size_t npre = a->npre;
    /* per row: the first inside column, the step per column and per 64
     * channels (0 for pad rows: they read the pad vector) */
    const size_t i0 = C * step[0], i1 = C * step[1], i2 = C * step[2], i3 = C * step[3];
    const size_t k0 = 64 * step[0], k1 = 64 * step[1], k2 = 64 * step[2], k3 = 64 * step[3];
    const uint8_t *q0 = row[0] + (x0 - s->pad_left) * i0, *q1 = row[1] + (x0 - s->pad_left) * i1,
                  *q2 = row[2] + (x0 - s->pad_left) * i2, *q3 = row[3] + (x0 - s->pad_left) * i3;
    __m512i *d = a->I + x0 * cs + a->g * T;
    for (size_t ix = x0; ix < x1; ix++, d += cs, q0 += i0, q1 += i1, q2 += i2, q3 += i3) {
        for (size_t c = (ix - s->pad_left) * C, ce = c + C; c < ce; c += 64) {
            if (npre > 0) _mm_prefetch((const char *)(pre0 + c), _MM_HINT_T0);
            if (npre > 1) _mm_prefetch((const char *)(pre1 + c), _MM_HINT_T0);
            if (npre > 2) _mm_prefetch((const char *)(pre2 + c), _MM_HINT_T0);
            if (npre > 3) _mm_prefetch((const char *)(pre3 + c), _MM_HINT_T0);
        }
        const uint8_t *p0 = q0, *p1 = q1, *p2 = q2, *p3 = q3;
        __m512i *e0 = d;
        for (size_t c0 = 0; c0 <= C; c0 += 64, p0 += k0, p1 += k1, p2 += k2, p3 += k3, e0 += 4 * gt) {
            if (c0 == full && !rest) break;
            bool last = c0 == full; /* pad bytes past C do not matter (weights 0); reads stay inside */
            __m512i x[4] = {last ? _mm512_mask_loadu_epi8(pad, cm, p0) : _mm512_loadu_si512(p0),
                            last ? _mm512_mask_loadu_epi8(pad, cm, p1) : _mm512_loadu_si512(p1),
                            last ? _mm512_mask_loadu_epi8(pad, cm, p2) : _mm512_loadu_si512(p2),
                            last ? _mm512_mask_loadu_epi8(pad, cm, p3) : _mm512_loadu_si512(p3)};
            const bool lv[4] = {l0, l1, l2, l3};
            size_t n = last ? nt : 4;
            for (size_t t = 0; t < T; t++) {
                __m512i m[4];
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    __m512i v = kind == 1   ? x[j]
                                : kind == 2 ? _mm512_ternarylogic_epi32(x[j], fx, fm, 0x28)
                                : kind == 0 ? _mm512_mask_blend_epi8(_mm512_movepi8_mask(x[j]),
                                                                     _mm512_permutex2var_epi8(t0, x[j], t1),
                                                                     _mm512_permutex2var_epi8(t2, x[j], t3))
                                            : map(r, t, x[j]);
                    m[j] = lv[j] ? v : _mm512_setzero_si512();
                }
                __m512i u01 = _mm512_permutex2var_epi8(m[0], ilo, m[1]);
                __m512i u23 = _mm512_permutex2var_epi8(m[0], ihi, m[1]);
                __m512i v01 = _mm512_permutex2var_epi8(m[2], ilo, m[3]);
                __m512i v23 = _mm512_permutex2var_epi8(m[2], ihi, m[3]);
                __m512i *e = e0 + t;
                e[0] = _mm512_permutex2var_epi8(u01, io0, v01);
                if (n > 1) e[gt] = _mm512_permutex2var_epi8(u01, io1, v01);
                if (n > 2) e[2 * gt] = _mm512_permutex2var_epi8(u23, io0, v23);
                if (n > 3) e[3 * gt] = _mm512_permutex2var_epi8(u23, io1, v23);
            }
        }
    }
}

/* interleave indices (interior): ilo/ihi byte 2k + j = k (+ 32) of row j
 * (k < 32); io0/io1 byte 4c + j = channel c of row j, block 0/1 of a pair */
static const uint8_t ilv_b[4][64] = {
#define P2(k, o) (k) + (o), 64 + (k) + (o)
#define P8(k, o) P2(k, o), P2((k) + 1, o), P2((k) + 2, o), P2((k) + 3, o)
#define Q4(c, o) 2 * (c) + (o), 2 * (c) + 1 + (o), 64 + 2 * (c) + (o), 65 + 2 * (c) + (o)
#define Q16(c, o) Q4(c, o), Q4((c) + 1, o), Q4((c) + 2, o), Q4((c) + 3, o)
    {P8(0, 0), P8(4, 0), P8(8, 0), P8(12, 0), P8(16, 0), P8(20, 0), P8(24, 0), P8(28, 0)},
    {P8(0, 32), P8(4, 32), P8(8, 32), P8(12, 32), P8(16, 32), P8(20, 32), P8(24, 32), P8(28, 32)},
    {Q16(0, 0), Q16(4, 0), Q16(8, 0), Q16(12, 0)},
    {Q16(0, 32), Q16(4, 32), Q16(8, 32), Q16(12, 32)},
#undef P2
#undef P8
#undef Q4
#undef Q16
};

/* pair_s2's columns of row oy + 1 straight from rows 2|3 byte-interleaved
 * (v01/v23 of s2_col) and row 4 as loaded: byte 4c + j of block q = channel
 * 16q + c of row 2 + j (j < 2; from v) or of row 4 (j = 2, 3; byte 3 under
 * a 0 weight) */
static const uint8_t s2b_b[4][64] = {
#define R4(c, o, q) 2 * (c) + (o), 2 * (c) + 1 + (o), 64 + 16 * (q) + (c), 64 + 16 * (q) + (c)
#define R16(c, o, q) R4(c, o, q), R4((c) + 1, o, q), R4((c) + 2, o, q), R4((c) + 3, o, q)
#define R64(o, q) R16(0, o, q), R16(4, o, q), R16(8, o, q), R16(12, o, q)
    {R64(0, 0)}, {R64(32, 1)}, {R64(0, 2)}, {R64(32, 3)},
#undef R4
#undef R16
#undef R64
};

/* The constants of the pair builds (pair_s1, pair_s2): the pad vector, the
 * interleave indices, the f'_0 map of a one-term form and a pad column.
 * Built once per call into a local (always inline, never address-taken
 * outside pair_map) so that GCC keeps them in registers across the column
 * stores, which may alias anything for it. */
typedef struct pair_k {
    __m512i pad, ilo, ihi, io0, io1, padA;
    __m512i fx, fm, t0, t1, t2, t3;
    int kind; /* row_ctx's kind[0]; a constant where inlined */
} pair_k;

static inline __attribute__((always_inline)) __m512i pair_map(const pair_k *k, __m512i v)
{
    if (k->kind == 1) return v;
    if (k->kind == 2) return _mm512_ternarylogic_epi32(v, k->fx, k->fm, 0x28);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), _mm512_permutex2var_epi8(k->t0, v, k->t1),
                                  _mm512_permutex2var_epi8(k->t2, v, k->t3));
}

/* padv: 64 pad bytes the caller keeps (rows outside the image point there) */
static inline __attribute__((always_inline)) pair_k pair_consts(const row_ctx *r, int kind, uint8_t padv[64])
{
    memset(padv, r->s->pad_byte, 64);
    pair_k k = {.pad = _mm512_load_si512(padv), .ilo = _mm512_loadu_si512(ilv_b[0]),
                .ihi = _mm512_loadu_si512(ilv_b[1]), .io0 = _mm512_loadu_si512(ilv_b[2]),
                .io1 = _mm512_loadu_si512(ilv_b[3]), .fx = r->fx[0], .fm = r->fm[0], .t0 = r->tab[0][0],
                .t1 = r->tab[0][1], .t2 = r->tab[0][2], .t3 = r->tab[0][3], .kind = kind};
    __m512i mp = pair_map(&k, k.pad), up = _mm512_permutex2var_epi8(mp, k.ilo, mp);
    k.padA = _mm512_permutex2var_epi8(up, k.io0, up);
    return k;
}

/* 64 bytes of a row (the last step: only cm of them, the rest pad), mapped */
static inline __attribute__((always_inline)) __m512i load_map(const pair_k *k, const uint8_t *q, bool last,
                                                               __mmask64 cm)
{
    return pair_map(k, last ? _mm512_mask_loadu_epi8(k->pad, cm, q) : _mm512_loadu_si512(q));
}

/* mapped rows m[0..3] of 64 channels into the columns of their 4 blocks
 * e[0..3]; v: rows 2|3 byte-interleaved (pair_s2's B columns reuse them) */
static inline __attribute__((always_inline)) void ilv4(const pair_k *k, const __m512i m[4], __m512i *e, __m512i v[2])
{
    __m512i u01 = _mm512_permutex2var_epi8(m[0], k->ilo, m[1]), u23 = _mm512_permutex2var_epi8(m[0], k->ihi, m[1]);
    v[0] = _mm512_permutex2var_epi8(m[2], k->ilo, m[3]), v[1] = _mm512_permutex2var_epi8(m[2], k->ihi, m[3]);
    e[0] = _mm512_permutex2var_epi8(u01, k->io0, v[0]);
    e[1] = _mm512_permutex2var_epi8(u01, k->io1, v[0]);
    e[2] = _mm512_permutex2var_epi8(u23, k->io0, v[1]);
    e[3] = _mm512_permutex2var_epi8(u23, k->io1, v[1]);
}

/* input rows iy0 .. iy0 + n - 1 of image b: their first pixel, or padv
 * with step 0 outside the image (so one loop serves both) */
static inline __attribute__((always_inline)) void rows_at(const ax_conv2d_shape *s, const uint8_t *X, size_t b,
                                                           size_t iy0, size_t n, const uint8_t *padv,
                                                           const uint8_t **row, size_t *step)
{
    for (size_t j = 0; j < n; j++) {
        size_t iy = iy0 + j;
        bool in = iy >= s->pad_top && iy - s->pad_top < s->in_h;
        row[j] = in ? X + (b * s->in_h + iy - s->pad_top) * s->in_w * s->in_c : padv, step[j] = in;
    }
}

static void build(const row_ctx *r, const uint8_t *X, size_t b, size_t oy, size_t kh, size_t next, __m512i *I)
{
    const ax_conv2d_shape *s = r->s;
    size_t C = s->in_c, wp = r->wp, G = r->G, T = r->T, nb = (C + 15) / 16;
    uint8_t padv[64] __attribute__((aligned(64)));
    memset(padv, s->pad_byte, 64);
    __m512i pad = _mm512_load_si512(padv);
    const __m512i perm = _mm512_loadu_si512(perm_b);
    __m512i padz[AX_LOWRANK_TERMS]; /* a column of pad pixels, per term */
    for (size_t g = 0; g < G; g++) {
        const uint8_t *row[4];
        size_t step[4];
        __mmask64 live = 0;
        build_args a = {.g = g, .pad = pad, .I = I, .ilo = _mm512_loadu_si512(ilv_b[0]),
                        .ihi = _mm512_loadu_si512(ilv_b[1]), .io0 = _mm512_loadu_si512(ilv_b[2]),
                        .io1 = _mm512_loadu_si512(ilv_b[3])};
        for (size_t j = 0; j < 4; j++) {
            size_t ky = 4 * g + j, iy = oy * s->stride_h + ky * s->dilation_h;
            row[j] = padv, step[j] = 0, a.live[j] = ky < kh;
            if (ky >= kh) continue;
            live |= (__mmask64)0xffff << (16 * j);
            if (iy >= s->pad_top && iy - s->pad_top < s->in_h)
                row[j] = X + ((b * s->in_h + iy - s->pad_top) * s->in_w) * C, step[j] = 1;
        }
        for (size_t t = 0; t < T; t++)
            padz[t] = _mm512_permutexvar_epi8(perm, _mm512_maskz_mov_epi8(live, map(r, t, pad)));
        /* the rows the next build adds: fetched while this one builds */
        for (size_t ky = 0, last = oy * s->stride_h + (kh - 1) * s->dilation_h; g == 0 && ky < kh; ky++) {
            size_t ny = (oy + next) * s->stride_h + ky * s->dilation_h;
            if (a.npre < 4 && ny > last && ny >= s->pad_top && ny - s->pad_top < s->in_h)
                a.pre[a.npre++] = X + ((b * s->in_h + ny - s->pad_top) * s->in_w) * C;
        }
        a.x0 = s->pad_left < wp ? s->pad_left : wp, a.x1 = s->pad_left + s->in_w < wp ? s->pad_left + s->in_w : wp;
        for (size_t cb = 0; cb < nb; cb++) {
            __m512i *d = I + (cb * G + g) * T;
            for (size_t t = 0; t < T; t++) {
                for (size_t ix = 0; ix < a.x0; ix++) d[t + ix * r->cs] = padz[t];
                for (size_t ix = a.x1; ix < wp; ix++) d[t + ix * r->cs] = padz[t];
            }
        }
        bool all = a.live[0] && a.live[1] && a.live[2] && a.live[3];
        if (T == 1 && all && r->kind[0] == 2) interior(r, &a, row, step, 2, true, true);
        else if (T == 1 && r->kind[0] == 1) interior(r, &a, row, step, 1, true, false);
        else if (T == 1 && r->kind[0] == 2) interior(r, &a, row, step, 2, true, false);
        else if (T == 1) interior(r, &a, row, step, 0, true, false);
        else interior(r, &a, row, step, -1, false, false);
    }
}

/* v (+ the row correction) + corr (+ Y) into 16 channels of one pixel */
static inline __attribute__((always_inline)) void put(__m512i v, __m512i corr, int32_t *y, __mmask16 cm,
                                                       bool accumulate)
{
    v = _mm512_add_epi32(v, corr);
    if (cm == 0xffff) { /* masked stores measured slower here */
        if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(y));
        _mm512_storeu_si512(y, v);
        return;
    }
    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(cm, y));
    _mm512_mask_storeu_epi32(y, cm, v);
}

/* 3 kernel columns, one group, one term, no row correction: 4 pixels at a
 * time, the three weight vectors in registers */
static void row_k3(const __m512i *I, size_t ow, size_t sw, size_t dw, const __m512i *W, __m512i corr, int32_t *Y,
                   size_t ldy, __mmask16 cm, bool accumulate)
{
    __m512i w0 = W[0], w1 = W[1], w2 = W[2];
    size_t ox = 0;
    for (; ox + 4 <= ow; ox += 4) {
        __m512i a[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            const __m512i *c = I + (ox + (size_t)i) * sw;
            a[i] = DP(_mm512_setzero_si512(), c[0], w0);
            a[i] = DP(a[i], c[dw], w1);
            a[i] = DP(a[i], c[2 * dw], w2);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) put(a[i], corr, Y + (ox + (size_t)i) * ldy, cm, accumulate);
    }
    for (; ox < ow; ox++) {
        const __m512i *c = I + ox * sw;
        __m512i a = DP(_mm512_setzero_si512(), c[0], w0);
        a = DP(a, c[dw], w1);
        a = DP(a, c[2 * dw], w2);
        put(a, corr, Y + ox * ldy, cm, accumulate);
    }
}

/* How pair_px stores: plain (whole blocks, no accumulate), put's general
 * case (the masked last block, accumulate), or non-temporal (whole blocks
 * at 64-byte aligned pixels, no accumulate: a line each, no read for
 * ownership) */
enum { ST_PLAIN, ST_ANY, ST_NT };

static inline __attribute__((always_inline)) void store_px(__m512i v, __m512i cv, int32_t *y, __mmask16 cm,
                                                            bool accumulate, int mode)
{
    if (mode == ST_PLAIN) _mm512_storeu_si512(y, _mm512_add_epi32(v, cv));
    else if (mode == ST_NT) _mm512_stream_si512((void *)y, _mm512_add_epi32(v, cv));
    else put(v, cv, y, cm, accumulate);
}

/* Output rows oy (Y0) and oy + 1 (Y1), pixels [ox, ox + n), one block of 16
 * channels, from one build of rows oy .. oy + 3 (stride 1: per term t,
 * W[3t .. 3t+2] bytes 0..2, W[3T + 3t ..] the same shifted to bytes 1..3;
 * term t's columns at A + t). unit: stride and dilation 1 along x, each
 * column loaded once for the pixels that share it. Every load comes before
 * the first store (Y may alias the columns for the compiler). */
static inline __attribute__((always_inline)) void pair_px(const __m512i *A, size_t sw, size_t dw, const __m512i *W,
                                                           size_t T, __m512i cv, int32_t *Y0, int32_t *Y1, size_t ldy,
                                                           __mmask16 cm, bool accumulate, int mode, int n, bool unit)
{
    __m512i a[4], e[4], col[6];
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) a[i] = e[i] = _mm512_setzero_si512();
    for (size_t t = 0; t < T; t++) {
        const __m512i *At = A + t, *Wa = W + 3 * t, *We = W + 3 * (T + t);
        if (unit)
#pragma GCC unroll 6
            for (int k = 0; k < n + 2; k++) col[k] = At[(size_t)k * sw];
#pragma GCC unroll 4
        for (int i = 0; i < n; i++) {
            const __m512i *c = At + (size_t)i * sw;
            __m512i x0 = unit ? col[i] : c[0], x1 = unit ? col[i + 1] : c[dw], x2 = unit ? col[i + 2] : c[2 * dw];
            a[i] = DP(a[i], x0, Wa[0]);
            a[i] = DP(a[i], x1, Wa[1]);
            a[i] = DP(a[i], x2, Wa[2]);
            e[i] = DP(e[i], x0, We[0]);
            e[i] = DP(e[i], x1, We[1]);
            e[i] = DP(e[i], x2, We[2]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) store_px(a[i], cv, Y0 + (size_t)i * ldy, cm, accumulate, mode);
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) store_px(e[i], cv, Y1 + (size_t)i * ldy, cm, accumulate, mode);
}

/* the arguments of pair_rows */
typedef struct pair_args {
    const __m512i *A;
    size_t nb, T, ow, sw, dw, nv, C; /* sw, dw in vectors */
    bool unit;                    /* stride and dilation 1 along x */
    const uint8_t *pw;
    const uint32_t *corr;
    int32_t *Y0, *Y1;
    bool accumulate;
} pair_args;

/* Output rows oy (Y0) and oy + 1 (Y1) of every channel block
 * from one build (pair_px), pixel after pixel: 4 pixels of every block, then
 * the next 4, so that the output's lines are written nearly in memory order
 * (one block along the row at a time, lines C * 4 bytes apart, ran at a
 * third of the speed of in-order stores once the output left the cache:
 * tools/dw_roofline.c) */
static inline __attribute__((always_inline)) void pair_rows(const pair_args *g, bool unit, size_t T)
{
    size_t C = g->C, nfull = g->accumulate ? 0 : C / 16;
    for (size_t ox = 0; ox < g->ow;) {
        size_t n = g->ow - ox >= 4 ? 4 : g->ow - ox;
        for (size_t cb = 0; cb < g->nb; cb++) {
            size_t c0 = 16 * cb, at = cb * T + ox * g->sw;
            __mmask16 cm = C - c0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - c0)) - 1);
            __m512i cv = _mm512_maskz_loadu_epi32(cm, g->corr + c0);
            const __m512i *W = (const __m512i *)(g->pw + cb * g->nv * 64), *A = g->A + at;
            int32_t *y0 = g->Y0 + ox * C + c0, *y1 = g->Y1 + ox * C + c0;
            bool acc = g->accumulate;
            int m = cb < nfull ? ST_PLAIN : ST_ANY;
            if (n == 4 && m == ST_PLAIN)
                pair_px(A, g->sw, g->dw, W, T, cv, y0, y1, C, cm, false, ST_PLAIN, 4, unit);
            else if (n == 4) pair_px(A, g->sw, g->dw, W, T, cv, y0, y1, C, cm, acc, ST_ANY, 4, unit);
            else if (n == 3) pair_px(A, g->sw, g->dw, W, T, cv, y0, y1, C, cm, acc, m, 3, unit);
            else if (n == 2) pair_px(A, g->sw, g->dw, W, T, cv, y0, y1, C, cm, acc, m, 2, unit);
            else pair_px(A, g->sw, g->dw, W, T, cv, y0, y1, C, cm, acc, m, 1, unit);
        }
        ox += n;
    }
}

static __attribute__((noinline)) void pair_rows_s1(const pair_args *g)
{
    if (g->unit && g->T == 1) pair_rows(g, true, 1);
    else if (g->T == 1) pair_rows(g, false, 1);
    else if (g->unit) pair_rows(g, true, g->T);
    else pair_rows(g, false, g->T);
}

/* One column of pair_s2 (mapped rows m[0..4], 2oy .. 2oy + 4, of 64
 * channels; pad: the pad column instead) interleaved block by block: rows
 * 0..3 as ilv4 for row oy, and for row oy + 1 rows 2|3's first round with
 * row 4 by s2b_b. Each block's vector is taken at once by the sums that
 * read it: row oy's (a) and, with two, row oy + 1's (b) of pixel 0 as
 * kernel column k0 and of pixel 1 as k1 (-1: not read). W: block 0's
 * weights, nvb bytes to the next block's (a memory operand of vpdpbusd
 * each). */
static inline __attribute__((always_inline)) void s2_col(const pair_k *k, __m512i padA, const __m512i m[5],
                                                          bool pad, const uint8_t *W, size_t nvb, int nblk, int k0,
                                                          int k1, bool two, __m512i a[2][4], __m512i b[2][4])
{
    __m512i u01, u23, v01, v23;
    if (!pad) {
        u01 = _mm512_permutex2var_epi8(m[0], k->ilo, m[1]);
        if (nblk > 2) u23 = _mm512_permutex2var_epi8(m[0], k->ihi, m[1]);
        v01 = _mm512_permutex2var_epi8(m[2], k->ilo, m[3]);
        if (nblk > 2) v23 = _mm512_permutex2var_epi8(m[2], k->ihi, m[3]);
    }
#pragma GCC unroll 4
    for (int q = 0; q < nblk; q++) {
        const __m512i *w = (const __m512i *)(W + (size_t)q * nvb);
        __m512i e = pad ? padA : _mm512_permutex2var_epi8(q & 2 ? u23 : u01, q & 1 ? k->io1 : k->io0, q & 2 ? v23 : v01);
        if (k0 >= 0) a[0][q] = DP(a[0][q], e, w[k0]);
        if (k1 >= 0) a[1][q] = DP(a[1][q], e, w[k1]);
    }
    if (!two) return;
#pragma GCC unroll 4
    for (int q = 0; q < nblk; q++) {
        const __m512i *w = (const __m512i *)(W + (size_t)q * nvb);
        __m512i e = pad ? padA : _mm512_permutex2var_epi8(q & 2 ? v23 : v01, _mm512_loadu_si512(s2b_b[q]), m[4]);
        if (k0 >= 0) b[0][q] = DP(b[0][q], e, w[k0]);
        if (k1 >= 0) b[1][q] = DP(b[1][q], e, w[k1]);
    }
}

/* pair_s2's n (1 or 2) pixels at ox0, 64 channels (nblk blocks) from c0:
 * their 2n + 1 columns built and summed in registers, then stored. T = 1:
 * the one term mapped by k (specialized on its kind); else r's T terms,
 * each column's rows loaded once and mapped per term, every term summed
 * into the same registers (term t's weights at W[3t .. 3t + 2], its pad
 * column padA[t]). */
static inline __attribute__((always_inline)) void s2_group(const row_ctx *r, const pair_k *k, const __m512i *padA,
                                                            int T, const uint8_t *const row[5], const size_t step[5],
                                                            size_t rs, bool inner, size_t ox0, int n, size_t c0,
                                                            int nblk, bool last, __mmask64 cm, const uint8_t *pw,
                                                            size_t nv, const uint32_t *corr, int32_t *Y0, int32_t *Y1,
                                                            bool accumulate, int mode, bool two)
{
    const ax_conv2d_shape *s = r->s;
    const size_t C = s->in_c, pl = s->pad_left, inw = s->in_w, Tn = T == 1 ? 1 : r->T;
    __m512i a[2][4], b[2][4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++)
        a[0][q] = a[1][q] = b[0][q] = b[1][q] = _mm512_setzero_si512();
    const uint8_t *W = pw + c0 / 16 * nv * 64;
    const size_t nvb = nv * 64;
#pragma GCC unroll 5
    for (int l = 0; l < 2 * n + 1; l++) {
        /* pixel 0 reads columns 0..2, pixel 1 columns 2..4 */
        int k0 = l <= 2 ? l : -1, k1 = n == 2 && l >= 2 ? l - 2 : -1;
        size_t ix = 2 * ox0 + (size_t)l;
        __m512i m[5];
        if (ix < pl || ix - pl >= inw) {
            for (size_t t = 0; t < Tn; t++) s2_col(k, padA[t], m, true, W + 3 * 64 * t, nvb, nblk, k0, k1, two, a, b);
            continue;
        }
        size_t off = (ix - pl) * C + c0;
        const uint8_t *q0 = row[0] + off;
        if (T == 1) {
#pragma GCC unroll 5
            for (int j = 0; j < 5; j++) m[j] = load_map(k, inner ? q0 + j * rs : row[j] + off * step[j], last, cm);
            s2_col(k, padA[0], m, false, W, nvb, nblk, k0, k1, two, a, b);
            continue;
        }
        __m512i raw[5];
#pragma GCC unroll 5
        for (int j = 0; j < 5; j++) {
            const uint8_t *q = row[j] + off * step[j];
            raw[j] = last ? _mm512_mask_loadu_epi8(k->pad, cm, q) : _mm512_loadu_si512(q);
        }
        for (size_t t = 0; t < Tn; t++) {
#pragma GCC unroll 5
            for (int j = 0; j < 5; j++) m[j] = map(r, t, raw[j]);
            s2_col(k, padA[t], m, false, W + 3 * 64 * t, nvb, nblk, k0, k1, two, a, b);
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < nblk; q++) {
        size_t ch = c0 + 16 * (size_t)q;
        const __mmask16 bm = C - ch >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - ch)) - 1);
        const __m512i cv = _mm512_maskz_loadu_epi32(bm, corr + ch);
        for (int i = 0; i < n; i++) {
            store_px(a[i][q], cv, Y0 + (ox0 + (size_t)i) * C + ch, bm, accumulate, mode);
            if (two) store_px(b[i][q], cv, Y1 + (ox0 + (size_t)i) * C + ch, bm, accumulate, mode);
        }
    }
}

/* Stride 2 (stride_w 2, dilation 1, 3x3): output rows oy (Y0) and oy + 1
 * (Y1; NULL: only oy) of image b, 2 pixels at a time, each over every 64
 * channels: the 5 columns those pixels read are built and summed at once,
 * in registers. Rows 2oy .. 2oy + 3 interleaved as in interior (for row
 * oy), rows 2oy + 2 .. 2oy + 4 (for row oy + 1; its byte 3, under a 0
 * weight, repeats row 2oy + 4) from rows 2|3's first round and row 2oy + 4
 * as loaded: 12 permutes per 64 channels and column, 3 vpdpbusd per pixel
 * and row. Each column is built once per pixel pair (5 for 4 pixel
 * columns), each input row read 1.25 times. Groups of 4 pixels that built
 * their 9 columns into 4.6 KiB of L1 and read them back ran 1.15-1.4x
 * slower, and prefetching the next pair's rows cost 5-10%
 * (docs/kernels.md). */
static inline __attribute__((always_inline)) void pair_s2_k(const row_ctx *r, const uint8_t *X, size_t b, size_t oy,
                                                             size_t ow, const uint8_t *pw, const uint32_t *corr,
                                                             int32_t *Y0, int32_t *Y1, bool accumulate, int kind,
                                                             bool inner, int T)
{ /* inner: rows 2oy .. 2oy + 4 inside the image and Y1 set (most pairs): the
   * rows addressed from one pointer, fewer live registers. T: 1 (kind: its
   * map's), or several terms (r's; kind unused) */
    const ax_conv2d_shape *s = r->s;
    const size_t C = s->in_c, nv = vecs(r->p, s), inw = s->in_w;
    const size_t full = C / 64 * 64;
    const __mmask64 cm = C - full ? ((__mmask64)1 << (C - full)) - 1 : 0;
    const int tail = (int)(C - full + 15) / 16;
    uint8_t padv[64] __attribute__((aligned(64)));
    const pair_k k = pair_consts(r, kind, padv);
    __m512i padA[AX_LOWRANK_TERMS] = {k.padA};
    for (size_t t = 0; T > 1 && t < r->T; t++) {
        __m512i mp = map(r, t, k.pad), up = _mm512_permutex2var_epi8(mp, k.ilo, mp);
        padA[t] = _mm512_permutex2var_epi8(up, k.io0, up);
    }
    /* rows 2oy .. 2oy + 4: their first pixel, or the pad vector (step 0) */
    const uint8_t *row[5];
    size_t step[5];
    rows_at(s, X, b, 2 * oy, 5, padv, row, step);
    const size_t rs = inw * C;
    const bool two = inner || Y1;
    const int plain = accumulate ? ST_ANY : r->nt ? ST_NT : ST_PLAIN;
#define S2_GROUP(n_, nblk_, last_, mode_)                                                                      \
    s2_group(r, &k, padA, T, row, step, rs, inner, ox0, n_, c0, nblk_, last_, cm, pw, nv, corr, Y0, Y1,     \
             accumulate, mode_, two)
    for (size_t ox0 = 0; ox0 < ow; ox0 += 2) {
        const bool pair_px = ow - ox0 >= 2;
        size_t c0 = 0;
        for (; c0 < full; c0 += 64) {
            if (pair_px && plain == ST_NT) S2_GROUP(2, 4, false, ST_NT);
            else if (pair_px && plain == ST_PLAIN) S2_GROUP(2, 4, false, ST_PLAIN);
            else if (pair_px) S2_GROUP(2, 4, false, ST_ANY);
            else S2_GROUP(1, 4, false, ST_ANY);
        }
        if (tail == 0) continue;
        /* the last 16-48 channels: masked loads; whole blocks (C % 16 = 0)
         * stream as the others, a partial last block by put's masks */
        const bool tnt = plain == ST_NT && C % 16 == 0;
#define S2_TAIL(t_)                                                                                            \
    (pair_px && tnt ? S2_GROUP(2, t_, true, ST_NT) : pair_px ? S2_GROUP(2, t_, true, ST_ANY)                   \
                                                             : S2_GROUP(1, t_, true, ST_ANY))
        if (tail == 1) S2_TAIL(1);
        else if (tail == 2) S2_TAIL(2);
        else S2_TAIL(3);
#undef S2_TAIL
    }
#undef S2_GROUP
}

static __attribute__((noinline)) void pair_s2(const row_ctx *r, const uint8_t *X, size_t b, size_t oy, size_t ow,
                                              const uint8_t *pw, const uint32_t *corr, int32_t *Y0, int32_t *Y1,
                                              bool accumulate, __m512i *S)
{
    const ax_conv2d_shape *s = r->s;
    bool inner = Y1 && 2 * oy >= s->pad_top && 2 * oy + 4 < s->pad_top + s->in_h;
    (void)S; /* the columns live in registers */
    if (r->T > 1) pair_s2_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, 1, false, 2);
    else if (r->kind[0] == 2 && inner) pair_s2_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, 2, true, 1);
    else if (r->kind[0] == 2) pair_s2_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, 2, false, 1);
    else if (r->kind[0] == 1) pair_s2_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, 1, false, 1);
    else pair_s2_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, 0, false, 1);
}

/* pair_s1's n pixels of one block: columns col[0 .. n + 1] (block cb),
 * W[0..2] the weights of row oy (bytes 0..2), W[3..5] of row oy + 1 (bytes
 * 1..3); two: row oy + 1 too */
static inline __attribute__((always_inline)) void s1_px(const __m512i *const col[6], size_t cb, const __m512i *W,
                                                         __m512i cv, int32_t *Y0, int32_t *Y1, size_t ldy,
                                                         bool accumulate, int mode, int n, bool two)
{
    __m512i a[4], e[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                          _mm512_setzero_si512()}, x[6];
#pragma GCC unroll 6
    for (int k = 0; k < n + 2; k++) x[k] = col[k][cb];
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) {
        a[i] = DP(_mm512_setzero_si512(), x[i], W[0]);
        if (two) e[i] = DP(_mm512_setzero_si512(), x[i], W[3]);
        a[i] = DP(a[i], x[i + 1], W[1]);
        if (two) e[i] = DP(e[i], x[i + 1], W[4]);
        a[i] = DP(a[i], x[i + 2], W[2]);
        if (two) e[i] = DP(e[i], x[i + 2], W[5]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) store_px(a[i], cv, Y0 + (size_t)i * ldy, 0xffff, accumulate, mode);
    if (!two) return;
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) store_px(e[i], cv, Y1 + (size_t)i * ldy, 0xffff, accumulate, mode);
}

/* Stride 1 (3 wide, dilation 1, kh <= 3, C a multiple of 16): output rows
 * oy (Y0) and oy + 1 (Y1; NULL: only oy) of image b, 4 pixels at a time,
 * each over every channel, from the columns of rows oy .. oy + 3 as
 * interior builds them, built just ahead of their use into a ring of rc
 * columns (S, in L1): per 4 pixels the 4 new columns, so each column is
 * built once per pair as before, but written and read in L1 where a whole
 * row of columns (up to 36 KiB) went to L2 and back. With C % 16 = 0 an
 * input row's bytes are the column vectors' stream: it is built in 64-byte
 * steps along the row, across pixels, so 32, 96 or 144 channels fill every
 * permute (64-channel steps masked off half of features.1's). */
static inline __attribute__((always_inline)) void pair_s1_k(const row_ctx *r, const uint8_t *X, size_t b, size_t oy,
                                                             size_t ow, const uint8_t *pw, const uint32_t *corr,
                                                             int32_t *Y0, int32_t *Y1, bool accumulate, __m512i *S,
                                                             int kind, bool inner)
{ /* inner: rows oy .. oy + 5 inside the image (the last two prefetched for
   * the next pair): the rows addressed from one pointer */
    const ax_conv2d_shape *s = r->s;
    const size_t C = s->in_c, nb = C / 16, nv = vecs(r->p, s), pl = s->pad_left, inw = s->in_w;
    /* ring columns: the 6 a group reads plus a 64-byte step's overshoot
     * (3 vectors) into the next ones; slot of padded column ix */
    const size_t rc = nb == 1 ? 16 : 8, R = rc * nb, org = rc - pl % rc, end = inw * C;
    const __mmask64 tm = end % 64 ? ((__mmask64)1 << (end % 64)) - 1 : ~(__mmask64)0;
    uint8_t padv[64] __attribute__((aligned(64)));
    const pair_k k = pair_consts(r, kind, padv);
    const __m512i padA = k.padA;
    /* rows oy .. oy + 3, then oy + 4, oy + 5 (the next pair's new ones,
     * prefetched): their first pixel, or the pad vector (step 0) */
    const uint8_t *row[6];
    size_t step[6];
    rows_at(s, X, b, oy, 6, padv, row, step);
    const size_t rs = end;
    const bool two = inner || Y1, nt = r->nt;
    const int mode = accumulate ? ST_ANY : ST_PLAIN; /* the tail groups */
    size_t B = 0, v = 0; /* bytes of the rows built; their ring slot (vectors) */
    for (size_t ox0 = 0; ox0 < ow; ox0 += 4) {
        const size_t n = ow - ox0 < 4 ? ow - ox0 : 4, hi = ox0 + n + 2; /* columns [ox0, hi) */
        for (size_t ix = ox0 ? ox0 + 2 : 0; ix < hi; ix++)
            if (ix < pl || ix - pl >= inw) {
                __m512i *d = S + ((ix + org) & (rc - 1)) * nb;
                for (size_t cb = 0; cb < nb; cb++) d[cb] = padA;
            }
        for (size_t need = hi > pl ? (hi - pl < inw ? hi - pl : inw) * C : 0; B < need; B += 64) {
            const bool last = B + 64 > end;
            const uint8_t *q0 = row[0] + B;
            _mm_prefetch((const char *)(inner ? q0 + 4 * rs : row[4] + B * step[4]), _MM_HINT_T0);
            _mm_prefetch((const char *)(inner ? q0 + 5 * rs : row[5] + B * step[5]), _MM_HINT_T0);
            __m512i m[4], u[2];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) m[j] = load_map(&k, inner ? q0 + j * rs : row[j] + B * step[j], last, tm);
            ilv4(&k, m, S + v, u);
            v = v + 4 == R ? 0 : v + 4;
        }
        const __m512i *col[6];
        for (size_t k = 0; k < 6; k++) col[k] = S + ((ox0 + k + org) & (rc - 1)) * nb;
        for (size_t cb = 0; cb < nb; cb++) {
            const __m512i *W = (const __m512i *)(pw + cb * nv * 64);
            const __m512i cv = _mm512_loadu_si512(corr + 16 * cb);
            int32_t *y0 = Y0 + ox0 * C + 16 * cb, *y1 = two ? Y1 + ox0 * C + 16 * cb : NULL;
            if (n == 4 && nt) s1_px(col, cb, W, cv, y0, y1, C, false, ST_NT, 4, two);
            else if (n == 4 && !accumulate) s1_px(col, cb, W, cv, y0, y1, C, false, ST_PLAIN, 4, two);
            else if (n == 4) s1_px(col, cb, W, cv, y0, y1, C, true, ST_ANY, 4, two);
            else if (n == 3) s1_px(col, cb, W, cv, y0, y1, C, accumulate, mode, 3, two);
            else if (n == 2) s1_px(col, cb, W, cv, y0, y1, C, accumulate, mode, 2, two);
            else s1_px(col, cb, W, cv, y0, y1, C, accumulate, mode, 1, two);
        }
    }
}

static __attribute__((noinline)) void pair_s1(const row_ctx *r, const uint8_t *X, size_t b, size_t oy, size_t ow,
                                              const uint8_t *pw, const uint32_t *corr, int32_t *Y0, int32_t *Y1,
                                              bool accumulate, __m512i *S)
{
    const ax_conv2d_shape *s = r->s;
    bool inner = Y1 && oy >= s->pad_top && oy + 5 < s->pad_top + s->in_h;
    int kind = r->kind[0];
    if (kind == 2 && inner) pair_s1_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, S, 2, true);
    else if (kind == 2) pair_s1_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, S, 2, false);
    else if (kind == 1 && inner) pair_s1_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, S, 1, true);
    else if (kind == 1) pair_s1_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, S, 1, false);
    else if (inner) pair_s1_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, S, 0, true);
    else pair_s1_k(r, X, b, oy, ow, pw, corr, Y0, Y1, accumulate, S, 0, false);
}

/* any kernel, terms, row correction: n <= 4 pixels from ox, each its own
 * sums (one pixel at a time, its G * T * kw vpdpbusd were one chain that
 * waited on their latency: multi-term forms such as mul8s_1KV8's three) */
static inline __attribute__((always_inline)) void any_px(const row_ctx *r, const __m512i *I, size_t ox, int n,
                                                          const __m512i *W, __m512i corr, int32_t *Y, size_t ldy,
                                                          __mmask16 cm, bool accumulate, bool row_corr)
{
    const ax_conv2d_shape *s = r->s;
    const ax_lowrank *lr = r->p->lr;
    size_t kw = s->kernel_w, sw = s->stride_w * r->cs, dw = s->dilation_w * r->cs;
    const __m512i ones = _mm512_set1_epi8(1); /* f' past the kernel is 0: no mask needed */
    __m512i a[4], f[4];
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) a[i] = _mm512_setzero_si512();
    for (size_t g = 0; g < r->G; g++)
        for (size_t t = 0; t < r->T; t++) {
            const __m512i *c = I + g * r->T + t + ox * sw, *w = W + (g * r->T + t) * kw;
#pragma GCC unroll 4
            for (int i = 0; i < n; i++) f[i] = _mm512_setzero_si512();
            for (size_t kx = 0; kx < kw; kx++) {
                __m512i wv = w[kx];
#pragma GCC unroll 4
                for (int i = 0; i < n; i++) {
                    __m512i x = c[(size_t)i * sw + kx * dw];
                    a[i] = DP(a[i], x, wv);
                    if (row_corr) f[i] = DP(f[i], x, ones);
                }
            }
            if (row_corr) {
                __m512i wo = _mm512_set1_epi32(lr->w_off[t]);
#pragma GCC unroll 4
                for (int i = 0; i < n; i++) a[i] = _mm512_add_epi32(a[i], _mm512_mullo_epi32(f[i], wo));
            }
        }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) put(a[i], corr, Y + (ox + (size_t)i) * ldy, cm, accumulate);
}

static void row_any(const row_ctx *r, const __m512i *I, size_t ow, const __m512i *W, __m512i corr, int32_t *Y,
                    size_t ldy, __mmask16 cm, bool accumulate)
{
    bool rc = r->p->lr->row_corr;
    size_t ox = 0;
    for (; ox + 4 <= ow; ox += 4)
        if (rc) any_px(r, I, ox, 4, W, corr, Y, ldy, cm, accumulate, true);
        else any_px(r, I, ox, 4, W, corr, Y, ldy, cm, accumulate, false);
    for (; ox < ow; ox++) any_px(r, I, ox, 1, W, corr, Y, ldy, cm, accumulate, rc);
}

/* Output rows [oy0, oy0 + rows) of image b, all channels, row oy at Y + (oy - oy0) * ow * C. */
static void rows_fn(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t ow, const uint8_t *X,
                    const uint8_t *pw, const uint32_t *corr, size_t b, size_t oy0, size_t rows, int32_t *Y,
                    bool accumulate, bool stream, void *buf)
{
    const ax_lowrank *lr = p->lr;
    row_ctx r; /* not zero-initialized: its tables are 3 KiB, and this runs per task */
    r.p = p, r.s = s, r.wp = s->in_w + s->pad_left + s->pad_right, r.G = groups_of(s), r.T = (size_t)lr->terms;
    size_t nb = (s->in_c + 15) / 16;
    r.cs = nb * r.G * r.T;
    for (size_t t = 0; t < r.T; t++) {
        for (int q = 0; q < 4; q++) r.tab[t][q] = _mm512_loadu_si512(lr->abyte[t] + 64 * q);
        r.kind[t] = !lr->abits[t] ? 0 : lr->axor[t] == 0 && lr->amask[t] == 0xff ? 1 : 2;
        r.fx[t] = _mm512_set1_epi8((char)lr->axor[t]), r.fm[t] = _mm512_set1_epi8((char)lr->amask[t]);
    }
    size_t C = s->out_c, nv = vecs(p, s);
    bool k3 = s->kernel_w == 3 && r.G == 1 && !lr->row_corr, fast = k3 && r.T == 1;
    /* stride 1, dilation 1, kh <= 3: rows oy .. oy + 3 serve output rows oy
     * (weights in bytes 0..2) and oy + 1 (the shifted weights): one build
     * per two output rows, any number of terms */
    bool pair = k3 && s->stride_h == 1 && s->dilation_h == 1 && s->kernel_h <= 3;
    /* stride 2, dilation 1, kh = 3: rows 2oy .. 2oy + 3 (one build) serve
     * output row oy (bytes 0..2) and, with the next build's byte 0, oy + 1
     * (bytes 2, 3): each input row mapped once, not 1.5 times (pair_s2,
     * any number of terms) */
    bool pair2 = k3 && s->stride_h == 2 && s->dilation_h == 1 && s->kernel_h == 3 && s->stride_w == 2 &&
                 s->dilation_w == 1;
    /* the same, 3 wide at stride and dilation 1 along x, 16k channels, one
     * term: pair_s1 (columns built as they are used) */
    bool pair1 = pair && fast && s->stride_w == 1 && s->dilation_w == 1 && s->in_c % 16 == 0;
    __m512i *I = buf;
    size_t sw = s->stride_w * r.cs, dw = s->dilation_w * r.cs; /* in vectors */
    /* outputs the caller streams go past the caches as the AVX2 kernel's:
     * whole lines (16k channels, 64-byte aligned pixels) by non-temporal
     * stores, no read for ownership */
    r.nt = (pair2 || pair1) && stream && !accumulate && C % 16 == 0 && (uintptr_t)Y % 64 == 0;
    if (pair2 || pair1)
        for (size_t oy = oy0; oy < oy0 + rows; oy += 2) {
            bool two = oy + 1 < oy0 + rows;
            (pair2 ? pair_s2 : pair_s1)(&r, X, b, oy, ow, pw, corr, Y + (oy - oy0) * ow * C,
                                        two ? Y + (oy + 1 - oy0) * ow * C : NULL, accumulate, I);
        }
    else
        for (size_t oy = oy0; oy < oy0 + rows; oy++) {
            if (pair && oy + 1 < oy0 + rows) {
                build(&r, X, b, oy, 4, 2, I);
                pair_args g = {.A = I, .nb = nb, .T = r.T, .ow = ow, .sw = sw, .dw = dw, .nv = nv, .C = C,
                               .unit = s->stride_w == 1 && s->dilation_w == 1,
                               .pw = pw, .corr = corr, .Y0 = Y + (oy - oy0) * ow * C, .Y1 = Y + (oy + 1 - oy0) * ow * C,
                               .accumulate = accumulate};
                pair_rows_s1(&g);
                oy++;
                continue;
            }
            build(&r, X, b, oy, s->kernel_h, 1, I);
            for (size_t c0 = 0; c0 < C; c0 += 16) {
                __mmask16 cm = C - c0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - c0)) - 1);
                const __m512i *I0 = I + c0 / 16 * r.G * r.T;
                const __m512i *W = (const __m512i *)(pw + c0 / 16 * nv * 64);
                __m512i cv = _mm512_maskz_loadu_epi32(cm, corr + c0);
                int32_t *y = Y + (oy - oy0) * ow * C + c0;
                if (fast) row_k3(I0, ow, sw, dw, W, cv, y, C, cm, accumulate);
                else row_any(&r, I0, ow, W, cv, y, C, cm, accumulate);
            }
        }
    if (r.nt) _mm_sfence(); /* the streamed lines visible to the thread that joins */
}

const ax_dwlr_ukernel AX_DWLR_KERNEL = {
    .name = AX_DWLR_NAME, .w_bytes = w_bytes, .pack_w = pack_w, .buf_bytes = buf_bytes, .rows = rows_fn};
