/* exact_gemm_6x64__avx512vnni.c - the EXACT path on AVX-512 VNNI: when the
 * table is a*w, an exact int8 GEMM with vpdpbusd (u8 x s8, four products
 * summed into an int32 lane; no saturation). A is read in place (a 4-byte
 * broadcast per row and 4 k, no repacking). The activations play the u8
 * side unless they are s8 against u8 weights; a u8 operand from an s8
 * tensor, or an s8 one from a u8 tensor, is shifted losslessly by flipping
 * bit 7, and the exact correction is folded into the accumulators' start:
 *   u8 x s8: a . w                        s8 x u8: w . a (roles swapped)
 *   u8 x u8: a . (w - 128) + 128 sum_k a  s8 x s8: (a + 128) . w - 128 sum_k w
 * s8 x s8 flips the activations in registers (one vpxord per broadcast)
 * and takes a per-column correction, so nothing passes over A first: the
 * 1x1 convolutions of short K read their input once, in place, and write
 * their output once (what oneDNN's u8 convolution does; its s8 source
 * costs a compensation or our shifted copy). u8 x u8 keeps a row sum per
 * row (packing the panel).
 * Tile: 6 rows x 64 columns (24 zmm accumulators, 4 weight zmm), 4 k per
 * instruction, written straight into C (run_c) with the corrections and
 * `accumulate`; narrower column tails run 1-3 blocks of 16.
 *
 * "Panel": where the rows are, and their row sums (u8 x u8). Weights:
 * blocks of 16 columns, each K/4 x 16 x 4 bytes (missing k or column: 0). */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 60, TR = 6, PREFETCH_MAX_K = 128 }; /* panel rows: ten tiles of TR rows */

typedef struct rows_ref {
    const uint8_t *A;
    size_t lda;
    int32_t corr[MR]; /* +128 * row sum (u8 x u8), or 0 */
} rows_ref;

static size_t k4_of(size_t K) { return (K + 3) / 4; }

static size_t panel_bytes(size_t K)
{
    (void)K;
    return sizeof(rows_ref);
}

/* the weights are vpdpbusd's u8 side only for s8 activations x u8 weights */
static bool swapped(const ax_gemm_plan *p) { return p->act == AX_S8 && p->wgt == AX_U8; }

/* sum of the bytes of a row as u8, mod 2^32 */
static uint32_t row_sum(const uint8_t *a, size_t K)
{
    __m512i acc = _mm512_setzero_si512();
    for (size_t k = 0; k < K; k += 64) {
        __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)(K - k));
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, a + k), _mm512_setzero_si512()));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    rows_ref *r = (rows_ref *)panel;
    r->A = A, r->lda = lda;
    bool u8u8 = p->act == AX_U8 && p->wgt == AX_U8;
    for (size_t m = 0; m < rows; m++) r->corr[m] = u8u8 ? (int32_t)(row_sum(A + m * lda, K) * 128u) : 0;
}

static size_t bx_bytes(size_t K, size_t N)
{
    size_t blocks = (N + 15) / 16, K4 = k4_of(K);
    if (K4 && blocks > SIZE_MAX / 64 / K4) return SIZE_MAX;
    return (blocks ? blocks : 1) * (K4 ? K4 : 1) * 64;
}

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    /* the weights' side: u8 (as they are) when swapped, else s8 (u8 weights flipped) */
    uint8_t flip = !swapped(p) && p->wgt == AX_U8 ? 0x80 : 0;
    bool s8s8 = p->act == AX_S8 && p->wgt == AX_S8;
    size_t K4 = k4_of(K);
    memset(bx, 0, bx_bytes(K, N));
    memset(corr, 0, N * sizeof *corr);
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++) {
            uint8_t w = B[k * ldb + n];
            bx[((n / 16) * K4 + k / 4) * 64 + (n % 16) * 4 + (k & 3)] = w ^ flip;
            if (s8s8) corr[n] -= 128u * (uint32_t)(int32_t)(int8_t)w;
        }
}

/* the lanes of block [c, c + 16) inside columns [n0, n0 + nn) */
static inline __mmask16 lanes_in(size_t c, size_t n0, size_t nn)
{
    size_t lo = c < n0 ? n0 - c : 0, hi = n0 + nn - c < 16 ? n0 + nn - c : 16;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* corr (NULL: 0; pointing at column n0) for the lanes of block [c, c + 16)
 * inside [n0, n0 + nn), 0 elsewhere: an expand load, whatever the offset */
static inline __m512i corr16(const uint32_t *corr, size_t c, size_t n0, size_t nn)
{
    if (!corr) return _mm512_setzero_si512();
    if (c >= n0 && c + 16 <= n0 + nn) return _mm512_loadu_si512(corr + (c - n0));
    return _mm512_maskz_expandloadu_epi32(lanes_in(c, n0, nn), corr + (c > n0 ? c - n0 : 0));
}

/* a row's block [c, c + 16) (+ C) into C (pointing at column n0), the
 * lanes inside [n0, n0 + nn) only: a compress store at the edges */
static inline void put16(__m512i v, int32_t *C, size_t c, size_t n0, size_t nn, bool accumulate)
{
    if (c >= n0 && c + 16 <= n0 + nn) {
        if (accumulate) v = _mm512_add_epi32(v, _mm512_loadu_si512(C + (c - n0)));
        _mm512_storeu_si512(C + (c - n0), v);
        return;
    }
    __mmask16 k = lanes_in(c, n0, nn);
    int32_t *d = C + (c > n0 ? c - n0 : 0);
    if (accumulate) v = _mm512_add_epi32(v, _mm512_maskz_expandloadu_epi32(k, d));
    _mm512_mask_compressstoreu_epi32(d, k, v);
}

/* one quad of k (x: the rows' 4 bytes broadcast) into the accumulators */
static inline __attribute__((always_inline)) void step(const int NB, const bool swap, const uint32_t flip,
                                                       __m512i acc[TR][4], const __m512i x[TR], const __m512i w[4])
{
    const __m512i fv = _mm512_set1_epi32((int)flip);
#pragma GCC unroll 6
    for (int i = 0; i < TR; i++) {
        __m512i xi = flip ? _mm512_xor_si512(x[i], fv) : x[i];
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++)
            acc[i][j] = swap ? _mm512_dpbusd_epi32(acc[i][j], w[j], xi) : _mm512_dpbusd_epi32(acc[i][j], xi, w[j]);
    }
}

/* TR rows (mn valid; the rest repeat row 0 and are dropped) x NB blocks of
 * 16 columns starting at column c (b: block c / 16), straight into C */
static inline __attribute__((always_inline)) void tile(const int NB, const bool swap, const uint32_t flip,
                                                       const rows_ref *r, size_t m0, size_t mn, size_t K,
                                                       const uint8_t *b, size_t bstride, size_t c, size_t n0,
                                                       size_t nn, const uint32_t *corr, int32_t *C, size_t ldc,
                                                       ax_c_store store)
{
    const bool accumulate = store == AX_C_ADD, stream = store == AX_C_STREAM;
    __m512i acc[TR][4], x[TR], w[4];
    const uint8_t *row[TR];
    /* the sums start at the corrections */
#pragma GCC unroll 4
    for (int j = 0; j < NB; j++) w[j] = corr16(corr, c + 16 * (size_t)j, n0, nn);
#pragma GCC unroll 6
    for (int i = 0; i < TR; i++) {
        size_t m = m0 + ((size_t)i < mn ? (size_t)i : 0);
        __m512i rc = _mm512_set1_epi32(r->corr[m]);
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) acc[i][j] = _mm512_add_epi32(w[j], rc);
        row[i] = r->A + m * r->lda;
    }
    /* short K: the next tile's output lines and its rows' first lines, so
     * that their misses overlap this tile's sums (56x56x64 -> 256: 0.75 ->
     * 0.95x oneDNN; at K = 256 the hardware's prefetch keeps up, and this
     * measured slightly slower) */
    if (K <= PREFETCH_MAX_K && !stream)
#pragma GCC unroll 6
    for (int i = 0; i < TR; i++) {
        const int32_t *d = C + (m0 + TR + i) * ldc + (c - n0);
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) _mm_prefetch((const char *)(d + 16 * j), _MM_HINT_T0);
        _mm_prefetch((const char *)(r->A + (m0 + TR + i) * r->lda), _MM_HINT_T0);
    }
    size_t K4 = K / 4;
    if (K % 4) { /* the last, partial quad first (zeros past K, weights 0 there): after the
                   * loop it measured spills in the loop */
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) w[j] = _mm512_load_si512(b + j * bstride + 64 * K4);
#pragma GCC unroll 6
        for (int i = 0; i < TR; i++) {
            int32_t q = 0;
            memcpy(&q, row[i] + 4 * K4, K % 4);
            x[i] = _mm512_set1_epi32(q);
        }
        step(NB, swap, flip, acc, x, w);
    }
    for (size_t k4 = 0; k4 < K4; k4++) {
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) w[j] = _mm512_load_si512(b + j * bstride + 64 * k4);
#pragma GCC unroll 6
        for (int i = 0; i < TR; i++) {
            int32_t q;
            memcpy(&q, row[i] + 4 * k4, 4);
            x[i] = _mm512_set1_epi32(q);
        }
        step(NB, swap, flip, acc, x, w);
    }
    if (mn == TR && c >= n0 && c + 16 * NB <= n0 + nn) { /* whole tile: from the registers */
#pragma GCC unroll 6
        for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < NB; j++) {
                int32_t *d = C + (m0 + i) * ldc + (c - n0) + 16 * j;
                __m512i v = accumulate ? _mm512_add_epi32(acc[i][j], _mm512_loadu_si512(d)) : acc[i][j];
                if (stream && ((uintptr_t)d & 63) == 0) _mm512_stream_si512((void *)d, v);
                else _mm512_storeu_si512(d, v);
            }
        return;
    }
    /* edges through memory: the accumulators indexed by constants only */
    __m512i tmp[TR][4];
#pragma GCC unroll 6
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) _mm512_store_si512(&tmp[i][j], acc[i][j]);
    for (size_t i = 0; i < mn; i++)
        for (int j = 0; j < NB; j++) put16(tmp[i][j], C + (m0 + i) * ldc, c + 16 * (size_t)j, n0, nn, accumulate);
}

/* every TR-row tile of the panel over one group of NB blocks */
static inline __attribute__((always_inline)) void group(const int NB, const bool swap, const uint32_t flip,
                                                        const rows_ref *r, size_t rows, size_t K, const uint8_t *b,
                                                        size_t bstride, size_t c, size_t n0, size_t nn,
                                                        const uint32_t *corr, int32_t *C, size_t ldc, ax_c_store store)
{
    for (size_t m0 = 0; m0 < rows; m0 += TR)
        tile(NB, swap, flip, r, m0, rows - m0 < TR ? rows - m0 : TR, K, b, bstride, c, n0, nn, corr, C, ldc, store);
}

#define GROUPS(SWAP, FLIP)                                                                                           \
    static void groups_##SWAP##_##FLIP(const rows_ref *r, size_t rows, size_t K, const uint8_t *bx, size_t n0,      \
                                       size_t nn, const uint32_t *corr, int32_t *C, size_t ldc, ax_c_store store)    \
    {                                                                                                                \
        size_t bstride = k4_of(K) * 64, end = (n0 + nn + 15) / 16;                                                   \
        for (size_t blk = n0 / 16; blk < end; blk += 4) {                                                            \
            const uint8_t *b = bx + blk * bstride;                                                                   \
            switch (end - blk) {                                                                                     \
            case 1: group(1, SWAP, FLIP, r, rows, K, b, bstride, blk * 16, n0, nn, corr, C, ldc, store); break;      \
            case 2: group(2, SWAP, FLIP, r, rows, K, b, bstride, blk * 16, n0, nn, corr, C, ldc, store); break;      \
            case 3: group(3, SWAP, FLIP, r, rows, K, b, bstride, blk * 16, n0, nn, corr, C, ldc, store); break;      \
            default: group(4, SWAP, FLIP, r, rows, K, b, bstride, blk * 16, n0, nn, corr, C, ldc, store);           \
            }                                                                                                        \
        }                                                                                                            \
    }
GROUPS(false, 0)
GROUPS(false, 0x80808080u)
GROUPS(true, 0)

/* C[m][j] (+)= the rows' sums for column n0 + j + corr[j] (NULL: 0), j < nn
 * (C and corr point at column n0) */
static void run_c(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                  size_t n0, size_t nn, const uint32_t *corr, int32_t *C, size_t ldc, ax_c_store store)
{
    (void)N;
    const rows_ref *r = (const rows_ref *)panel;
    if (swapped(p)) groups_true_0(r, rows, K, bx, n0, nn, corr, C, ldc, store);
    else if (p->act == AX_S8) groups_false_0x80808080u(r, rows, K, bx, n0, nn, corr, C, ldc, store);
    else groups_false_0(r, rows, K, bx, n0, nn, corr, C, ldc, store);
    if (store == AX_C_STREAM) _mm_sfence();
}

/* the sums without the per-column correction (LUT plans over a linear base) */
static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    run_c(p, rows, panel, K, N, bx, n0, nn, NULL, (int32_t *)out, ldo, AX_C_SET);
}

const ax_exact_ukernel ax_exact_ukernel_avx512vnni = {.name = "exact_gemm_6x64__avx512vnni",
                                                      .mr = MR,
                                                      .panel_bytes = panel_bytes,
                                                      .pack_a = pack_a,
                                                      .bx_bytes = bx_bytes,
                                                      .pack_b = pack_b,
                                                      .run = run,
                                                      .run_c = run_c};
