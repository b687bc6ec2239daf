/* lowrank_gemm_16x4__neon.c - the LOWRANK path on aarch64 NEON: the table is
 * sum_t amap[t][a] * wmap[t][w] over `terms` int16 factor pairs (term 0 the
 * exact product; see lowrank.c), so C is one int16 GEMM over K * terms
 * virtual k (kv = k * terms + t) on operands mapped at pack time. Products of
 * int16 fit int32 and smlal sums wrap mod 2^32, as the table's sums do.
 * Tile: 16 rows x 4 columns; per kv two q registers hold the 16 rows' values
 * and a d register the 4 columns', and 16 smlal/smlal2 by lane fill 16
 * accumulators of 4 rows each. Baseline aarch64 flags.
 *
 * Panel: K * terms rows of 16 int16 (row m at element m, zero past `rows`).
 * Weights: blocks of 4 columns, each K * terms rows of 4 int16, zero-padded.
 * gemm.c sizes both with K * terms (panel_bytes, bx_bytes); pack and run get
 * the real K. */
#include "kernels/gemm_internal.h"

#include <arm_neon.h>
#include <string.h>

enum { MR = 16, NR = 4 };

static size_t panel_bytes(size_t Kv) { return Kv > SIZE_MAX / (MR * 2) ? SIZE_MAX : (Kv ? Kv : 1) * MR * 2; }

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    size_t T = (size_t)p->terms;
    int16_t *dst = (int16_t *)panel;
    memset(panel, 0, panel_bytes(K * T));
    for (size_t m = 0; m < rows; m++)
        for (size_t k = 0; k < K; k++)
            for (size_t t = 0; t < T; t++) dst[(k * T + t) * MR + m] = p->amap[t][A[m * lda + k]];
}

static size_t bx_bytes(size_t Kv, size_t N)
{
    size_t blocks = N / NR + (N % NR != 0);
    if (Kv && blocks > SIZE_MAX / (NR * 2) / Kv) return SIZE_MAX;
    return (blocks ? blocks : 1) * (Kv ? Kv : 1) * NR * 2;
}

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    size_t T = (size_t)p->terms, Kv = K * T;
    int16_t *dst = (int16_t *)bx;
    memset(bx, 0, bx_bytes(Kv, N));
    for (size_t n = 0; n < N; n++) {
        int16_t *blk = dst + (n / NR) * Kv * NR + n % NR;
        for (size_t k = 0; k < K; k++)
            for (size_t t = 0; t < T; t++) blk[(k * T + t) * NR] = p->wmap[t][B[k * ldb + n]];
        corr[n] = 0;
    }
}

/* tile[c * MR + m]: the sums of one 4-column block over Kv virtual k. */
static void block(const int16_t *a, size_t Kv, const int16_t *b, uint32_t *tile)
{
    int32x4_t acc[4][4]; /* [rows 4i..4i+3][column c] */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[i][c] = vdupq_n_s32(0);
    for (size_t kv = 0; kv < Kv; kv++, a += MR, b += NR) {
        int16x8_t x0 = vld1q_s16(a), x1 = vld1q_s16(a + 8);
        int16x4_t w = vld1_s16(b);
#define COL(c)                                                                                               \
    acc[0][c] = vmlal_lane_s16(acc[0][c], vget_low_s16(x0), w, c);                                           \
    acc[1][c] = vmlal_high_lane_s16(acc[1][c], x0, w, c);                                                    \
    acc[2][c] = vmlal_lane_s16(acc[2][c], vget_low_s16(x1), w, c);                                           \
    acc[3][c] = vmlal_high_lane_s16(acc[3][c], x1, w, c);
        COL(0)
        COL(1)
        COL(2)
        COL(3)
#undef COL
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) vst1q_u32(tile + c * MR + 4 * i, vreinterpretq_u32_s32(acc[i][c]));
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    size_t Kv = K * (size_t)p->terms;
    uint32_t tile[NR * MR];
    for (size_t blk = n0 / NR; blk * NR < n0 + nn; blk++) {
        block((const int16_t *)panel, Kv, (const int16_t *)bx + blk * Kv * NR, tile);
        for (size_t c = 0; c < NR; c++) {
            size_t n = blk * NR + c;
            if (n < n0 || n >= n0 + nn) continue;
            for (size_t m = 0; m < rows; m++) out[m * ldo + (n - n0)] = tile[c * MR + m];
        }
    }
}

const ax_exact_ukernel ax_lowrank_ukernel_neon = {.name = "lowrank_gemm_16x4__neon",
                                                  .mr = MR,
                                                  .panel_bytes = panel_bytes,
                                                  .pack_a = pack_a,
                                                  .bx_bytes = bx_bytes,
                                                  .pack_b = pack_b,
                                                  .run = run};
