/* exact_gemm_8x4c4__neon.c - the EXACT path on aarch64 CPUs without the
 * dot-product extension (Armv8.0 NEON: Cortex-A53/A72, ...). Same layouts as
 * the sdot kernel (exact_pack_c4_neon.h). Tile: 8 rows x 4 columns, 4 k per
 * step: a column's 4 k are broadcast to 4 rows (dup of one 32-bit lane), one
 * widening multiply (smull/umull, |products| <= 16384 fit int16, u8 x u8
 * <= 65025 fits uint16) gives 2 rows x 4 k, and a pairwise add-accumulate
 * (sadalp/uadalp) folds them into int32 pairs; two int16 products are never
 * added in 16 bits ((-128)^2 * 2 would not fit). A final pairwise add turns
 * the pairs into row sums. Baseline aarch64 flags. */
#include "kernels/neon/exact_pack_c4_neon.h"

#include <arm_neon.h>

enum { MR = 8 };

static size_t panel_bytes(size_t K) { return ax_c4_panel_bytes(K, MR); }

static void pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel)
{
    ax_c4_pack_a(p, rows, K, A, lda, panel, MR);
}

/* lo[r][c]: rows 4r, 4r+1 of column c as (k01, k23) pairs; hi: rows 4r+2, 4r+3. */
static void block_s8(const uint8_t *panel, size_t G, const uint8_t *bw, uint32_t *tile)
{
    int32x4_t lo[2][4], hi[2][4];
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) lo[r][c] = hi[r][c] = vdupq_n_s32(0);
    for (size_t g = 0; g < G; g++) {
        int8x16x2_t x = vld1q_s8_x2((const int8_t *)panel + g * MR * 4);
        int32x4_t b = vreinterpretq_s32_s8(vld1q_s8((const int8_t *)bw + g * 16));
        int8x16_t bc[4] = {vreinterpretq_s8_s32(vdupq_laneq_s32(b, 0)), vreinterpretq_s8_s32(vdupq_laneq_s32(b, 1)),
                           vreinterpretq_s8_s32(vdupq_laneq_s32(b, 2)), vreinterpretq_s8_s32(vdupq_laneq_s32(b, 3))};
#pragma GCC unroll 2
        for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                lo[r][c] = vpadalq_s16(lo[r][c], vmull_s8(vget_low_s8(x.val[r]), vget_low_s8(bc[c])));
                hi[r][c] = vpadalq_s16(hi[r][c], vmull_high_s8(x.val[r], bc[c]));
            }
    }
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            vst1q_u32(tile + c * MR + 4 * r, vreinterpretq_u32_s32(vpaddq_s32(lo[r][c], hi[r][c])));
}

static void block_u8(const uint8_t *panel, size_t G, const uint8_t *bw, uint32_t *tile)
{
    uint32x4_t lo[2][4], hi[2][4];
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) lo[r][c] = hi[r][c] = vdupq_n_u32(0);
    for (size_t g = 0; g < G; g++) {
        uint8x16x2_t x = vld1q_u8_x2(panel + g * MR * 4);
        uint32x4_t b = vreinterpretq_u32_u8(vld1q_u8(bw + g * 16));
        uint8x16_t bc[4] = {vreinterpretq_u8_u32(vdupq_laneq_u32(b, 0)), vreinterpretq_u8_u32(vdupq_laneq_u32(b, 1)),
                            vreinterpretq_u8_u32(vdupq_laneq_u32(b, 2)), vreinterpretq_u8_u32(vdupq_laneq_u32(b, 3))};
#pragma GCC unroll 2
        for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                lo[r][c] = vpadalq_u16(lo[r][c], vmull_u8(vget_low_u8(x.val[r]), vget_low_u8(bc[c])));
                hi[r][c] = vpadalq_u16(hi[r][c], vmull_high_u8(x.val[r], bc[c]));
            }
    }
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) vst1q_u32(tile + c * MR + 4 * r, vpaddq_u32(lo[r][c], hi[r][c]));
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

const ax_exact_ukernel ax_exact_ukernel_neon = {.name = "exact_gemm_8x4c4__neon",
                                                .mr = MR,
                                                .panel_bytes = panel_bytes,
                                                .pack_a = pack_a,
                                                .bx_bytes = bx_bytes,
                                                .pack_b = pack_b,
                                                .run = run};
