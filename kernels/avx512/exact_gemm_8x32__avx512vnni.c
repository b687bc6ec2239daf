/* exact_gemm_8x32__avx512vnni.c - the EXACT path on AVX-512 VNNI: when the
 * table is a*w, an exact int8 GEMM with vpdpbusd (u8 x s8, four products
 * summed into an int32 lane; no saturation). Whichever operand is signed
 * plays the s8 side: for s8 activations the weights become the u8 operand,
 * so A is read in place (a 4-byte broadcast per row and 4 k, no repacking).
 * A u8 operand from an s8 tensor, or an s8 one from a u8 tensor, is shifted
 * losslessly by flipping bit 7, and the exact correction is +-128 x the row
 * sum of A:
 *   u8 x s8: a . w                      s8 x u8: w . a (roles swapped)
 *   u8 x u8: a . (w - 128) + 128 sum a   s8 x s8: (w + 128) . a - 128 sum a
 * Tile: 8 rows x 32 columns, sixteen zmm accumulators, 4 k per instruction
 * (8 x 16 for a last block alone).
 *
 * "Panel": where the rows are, and their row sums (when needed). Weights:
 * blocks of 16 columns, each K/4 x 16 x 4 bytes (missing k or column: 0),
 * plus one zero block (a 2-block tile may start on the last block). */
#include "kernels/gemm_internal.h"

#include <immintrin.h>
#include <string.h>

enum { MR = 64 };

typedef struct rows_ref {
    const uint8_t *A;
    size_t lda;
    int32_t corr[MR]; /* +-128 * row sum, or 0 */
} rows_ref;

static size_t k4_of(size_t K) { return (K + 3) / 4; }

static size_t panel_bytes(size_t K)
{
    (void)K;
    return sizeof(rows_ref);
}

/* +1: a . (w - 128) needs +128 sum a; -1: (w + 128) . a needs -128 sum a */
static int row_sign(const ax_gemm_plan *p)
{
    if (p->act == AX_U8) return p->wgt == AX_U8 ? 1 : 0;
    return p->wgt == AX_S8 ? -1 : 0;
}

/* sum of the bytes of a row as u8 (flip = 0) or as s8 (flip = 0x80), mod 2^32 */
static uint32_t row_sum(const uint8_t *a, size_t K, uint8_t flip)
{
    __m512i acc = _mm512_setzero_si512(), f = _mm512_set1_epi8((char)flip);
    for (size_t k = 0; k < K; k += 64) {
        __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : _bzhi_u64(~0ull, (unsigned)(K - k));
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + k), _mm512_maskz_mov_epi8(m, f));
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(x, _mm512_setzero_si512()));
    }
    uint32_t s = (uint32_t)_mm512_reduce_add_epi64(acc);
    return flip ? s - 128u * (uint32_t)K : s; /* (a ^ 0x80) = a_s8 + 128 */
}

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    rows_ref *r = (rows_ref *)panel;
    r->A = A, r->lda = lda;
    int sign = row_sign(p);
    for (size_t m = 0; m < rows; m++)
        r->corr[m] = sign ? (int32_t)(row_sum(A + m * lda, K, sign < 0 ? 0x80 : 0) * 128u * (uint32_t)sign) : 0;
}

static size_t bx_bytes(size_t K, size_t N)
{
    size_t blocks = (N + 15) / 16 + 1, K4 = k4_of(K);
    if (K4 && blocks > SIZE_MAX / 64 / K4) return SIZE_MAX;
    return blocks * (K4 ? K4 : 1) * 64;
}

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    /* the weights' side of vpdpbusd: s8 for u8 activations, u8 for s8 ones */
    bool want_s8 = p->act == AX_U8;
    uint8_t flip = (want_s8 ? p->wgt == AX_U8 : p->wgt == AX_S8) ? 0x80 : 0;
    size_t K4 = k4_of(K);
    memset(bx, 0, ((N + 15) / 16 + 1) * (K4 ? K4 : 1) * 64);
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++)
            bx[((n / 16) * K4 + k / 4) * 64 + (n % 16) * 4 + (k & 3)] = B[k * ldb + n] ^ flip;
    memset(corr, 0, N * sizeof *corr);
}

/* 4 activation bytes of a row at k = 4*k4 (zeros past K) */
static inline int32_t quad(const uint8_t *row, size_t k4, size_t K)
{
    int32_t q = 0;
    size_t k = 4 * k4;
    if (K - k >= 4) memcpy(&q, row + k, 4);
    else memcpy(&q, row + k, K - k);
    return q;
}

/* 8 rows x 16 nb columns (blocks b0, and b1 when nb = 2) over all K; rows
 * past mn repeat row 0 and are dropped. One block serves a last block
 * alone (grouped convolutions: N = 8 or 16 per group would spend half the
 * vpdpbusd on the zero block). */
static inline __attribute__((always_inline)) void tile(bool act_s8, int nb, const rows_ref *r, size_t m0, size_t mn,
                                                       size_t K, const __m512i *b0, const __m512i *b1,
                                                       uint32_t tmp[8][32])
{
    size_t K4 = k4_of(K);
    __m512i acc[8][2];
    const uint8_t *row[8];
    for (int i = 0; i < 8; i++) {
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
        row[i] = r->A + (m0 + ((size_t)i < mn ? (size_t)i : 0)) * r->lda;
    }
    for (size_t k4 = 0; k4 < K4; k4++) {
        __m512i w0 = _mm512_load_si512(b0 + k4), w1 = nb == 2 ? _mm512_load_si512(b1 + k4) : w0;
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m512i x = _mm512_set1_epi32(quad(row[i], k4, K));
            if (act_s8) { /* the weights are the u8 side */
                acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], w0, x);
                if (nb == 2) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], w1, x);
            } else {
                acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, w0);
                if (nb == 2) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, w1);
            }
        }
    }
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_si512(tmp[i], acc[i][0]);
        if (nb == 2) _mm512_storeu_si512(tmp[i] + 16, acc[i][1]);
    }
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    const rows_ref *r = (const rows_ref *)panel;
    size_t K4 = k4_of(K);
    bool act_s8 = p->act == AX_S8;
    for (size_t blk = n0 / 16; blk * 16 < n0 + nn; blk += 2) {
        const __m512i *b0 = (const __m512i *)(bx + blk * K4 * 64), *b1 = (const __m512i *)(bx + (blk + 1) * K4 * 64);
        size_t c0 = blk * 16 < n0 ? n0 - blk * 16 : 0, c1 = n0 + nn - blk * 16 < 32 ? n0 + nn - blk * 16 : 32;
        for (size_t m0 = 0; m0 < rows; m0 += 8) {
            size_t mn = rows - m0 < 8 ? rows - m0 : 8;
            uint32_t tmp[8][32];
            if (c1 <= 16) { /* the last block alone */
                if (act_s8) tile(true, 1, r, m0, mn, K, b0, b1, tmp);
                else tile(false, 1, r, m0, mn, K, b0, b1, tmp);
            } else if (act_s8) {
                tile(true, 2, r, m0, mn, K, b0, b1, tmp);
            } else {
                tile(false, 2, r, m0, mn, K, b0, b1, tmp);
            }
            for (size_t i = 0; i < mn; i++) {
                uint32_t *o = out + (m0 + i) * ldo + (blk * 16 + c0 - n0);
                for (size_t c = c0; c < c1; c++) *o++ = tmp[i][c] + (uint32_t)r->corr[m0 + i];
            }
        }
    }
}

const ax_exact_ukernel ax_exact_ukernel_avx512vnni = {.name = "exact_gemm_8x32__avx512vnni",
                                                      .mr = MR,
                                                      .panel_bytes = panel_bytes,
                                                      .pack_a = pack_a,
                                                      .bx_bytes = bx_bytes,
                                                      .pack_b = pack_b,
                                                      .run = run};
