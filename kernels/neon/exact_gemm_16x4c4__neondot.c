/* exact_gemm_16x4c4__neondot.c - the EXACT path on aarch64 with the
 * dot-product extension (FEAT_DotProd: sdot/udot): when the table is a*w, an
 * exact int8 GEMM. Tile: 16 rows x 4 columns, 4 k per step; a q register of
 * the panel holds 4 rows x 4 k, one of the weights 4 columns x 4 k, and
 * vdotq_laneq picks a column, so each of the 16 accumulators holds 4 rows of
 * one column. u8 x u8 runs udot (lanes of <= 4 * 65025), everything else sdot
 * after the flips of exact_pack_c4_neon.h; sums wrap mod 2^32 like every
 * path. Compile with -march=armv8.2-a+dotprod; gemm_plan.c selects it only
 * when ax_cpu_has_neon_dotprod(). */
#include "kernels/neon/exact_pack_c4_neon.h"

#include <arm_neon.h>

#if !defined(__ARM_FEATURE_DOTPROD)
#error "compile with -march=armv8.2-a+dotprod"
#endif

enum { MR = 16 };

static size_t panel_bytes(size_t K) { return ax_c4_panel_bytes(K, MR); }

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_c4_pack_a(p, rows, K, A, lda, panel, MR);
}

/* acc[r][c] lane i: row 4r + i, column c of the block. */
#define DOT_ROW(DOT, acc, x, b, r)                                                                           \
    acc[r][0] = DOT(acc[r][0], x.val[r], b, 0), acc[r][1] = DOT(acc[r][1], x.val[r], b, 1),                 \
    acc[r][2] = DOT(acc[r][2], x.val[r], b, 2), acc[r][3] = DOT(acc[r][3], x.val[r], b, 3)
#define DOT_STEP(DOT, acc, x, b)                                                                             \
    DOT_ROW(DOT, acc, x, b, 0);                                                                              \
    DOT_ROW(DOT, acc, x, b, 1);                                                                              \
    DOT_ROW(DOT, acc, x, b, 2);                                                                              \
    DOT_ROW(DOT, acc, x, b, 3);

/* tile[c * MR + m]: the sums of one 4-column block. */
static void block_s8(const uint8_t *panel, size_t G, const uint8_t *bw, uint32_t *tile)
{
    int32x4_t acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_s32(0);
    for (size_t g = 0; g < G; g++) {
        int8x16x4_t x = vld1q_s8_x4((const int8_t *)panel + g * MR * 4);
        int8x16_t b = vld1q_s8((const int8_t *)bw + g * 16);
        DOT_STEP(vdotq_laneq_s32, acc, x, b)
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) vst1q_u32(tile + c * MR + 4 * r, vreinterpretq_u32_s32(acc[r][c]));
}

static void block_u8(const uint8_t *panel, size_t G, const uint8_t *bw, uint32_t *tile)
{
    uint32x4_t acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_u32(0);
    for (size_t g = 0; g < G; g++) {
        uint8x16x4_t x = vld1q_u8_x4(panel + g * MR * 4);
        uint8x16_t b = vld1q_u8(bw + g * 16);
        DOT_STEP(vdotq_laneq_u32, acc, x, b)
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) vst1q_u32(tile + c * MR + 4 * r, acc[r][c]);
}

static void run(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N, const uint8_t *bx,
                size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    (void)N;
    size_t G = ax_c4_groups(K);
    bool u8 = ax_c4_unsigned(p);
    uint32_t tile[4 * MR];
    for (size_t blk = n0 / 4; blk * 4 < n0 + nn; blk++) {
        if (u8) block_u8(panel, G, bx + blk * G * 16, tile);
        else block_s8(panel, G, bx + blk * G * 16, tile);
        ax_c4_store(tile, MR, panel + G * MR * 4, rows, blk, n0, nn, out, ldo);
    }
}

static size_t bx_bytes(size_t K, size_t N) { return ax_c4_bx_bytes(K, N); }

static void pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr)
{
    ax_c4_pack_b(p, K, N, B, ldb, bx, corr);
}

const ax_exact_ukernel ax_exact_ukernel_neondot = {.name = "exact_gemm_16x4c4__neondot",
                                                   .mr = MR,
                                                   .panel_bytes = panel_bytes,
                                                   .pack_a = pack_a,
                                                   .bx_bytes = bx_bytes,
                                                   .pack_b = pack_b,
                                                   .run = run};
