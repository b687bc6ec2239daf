/* exact_pack_c4_neon.h - the operand layouts the NEON EXACT kernels share
 * (sdot/udot and the baseline smull one), "c4": 4 consecutive k of a row or
 * column side by side, so one q register holds 4 rows (or 4 columns) x 4 k.
 *
 * Panel: ceil(K/4) groups of mr rows x 4 bytes (zero past K and `rows`), then
 * mr int32 row terms. Weights: blocks of 4 columns, each ceil(K/4) groups of
 * 4 columns x 4 bytes, zero-padded.
 *
 * Operand types: s8 x s8 and u8 x u8 keep their bytes. Mixed types become
 * s8 x s8 by XOR 0x80 (value - 128) on the u8 side: u8 a x s8 w =
 * (a - 128) w + 128 w, whose 128 * sum_k w is a per-column term (corr);
 * s8 a x u8 w = a (w - 128) + 128 a, whose 128 * sum_k a is the row term.
 * Internal; include from kernels/neon/ files only. */
#ifndef AX_EXACT_PACK_C4_NEON_H
#define AX_EXACT_PACK_C4_NEON_H

#include "kernels/gemm_internal.h"

#include <string.h>

static inline size_t ax_c4_groups(size_t K) { return K / 4 + (K % 4 != 0); }

static inline size_t ax_c4_panel_bytes(size_t K, size_t mr)
{
    size_t g = ax_c4_groups(K);
    return g > (SIZE_MAX - 4 * mr) / (4 * mr) ? SIZE_MAX : g * mr * 4 + mr * 4;
}

/* The XOR each operand's bytes get: only the u8 side of mixed types flips. */
static inline uint8_t ax_c4_act_flip(const ax_gemm_plan *p) { return p->act == AX_U8 && p->wgt == AX_S8 ? 0x80 : 0; }
static inline uint8_t ax_c4_wgt_flip(const ax_gemm_plan *p) { return p->act == AX_S8 && p->wgt == AX_U8 ? 0x80 : 0; }
/* Whether the kernel multiplies unsigned bytes (u8 x u8), else signed. */
static inline bool ax_c4_unsigned(const ax_gemm_plan *p) { return p->act == AX_U8 && p->wgt == AX_U8; }

static inline void ax_c4_pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda,
                                uint8_t *panel, size_t mr)
{
    size_t G = ax_c4_groups(K);
    uint8_t flip = ax_c4_act_flip(p);
    bool row_term = ax_c4_wgt_flip(p) != 0;
    memset(panel, 0, G * mr * 4 + mr * 4);
    uint8_t *terms = panel + G * mr * 4;
    for (size_t m = 0; m < rows; m++) {
        const uint8_t *a = A + m * lda;
        uint32_t sum = 0;
        for (size_t k = 0; k < K; k++) {
            panel[(k / 4) * mr * 4 + m * 4 + k % 4] = a[k] ^ flip;
            sum += (uint32_t)(int8_t)a[k]; /* mod 2^32 */
        }
        uint32_t t = row_term ? sum * 128u : 0;
        memcpy(terms + 4 * m, &t, 4);
    }
}

static inline size_t ax_c4_bx_bytes(size_t K, size_t N)
{
    size_t blocks = N / 4 + (N % 4 != 0), G = ax_c4_groups(K);
    if (G && blocks > SIZE_MAX / 16 / G) return SIZE_MAX;
    return (blocks ? blocks : 1) * (G ? G : 1) * 16;
}

static inline void ax_c4_pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                                uint8_t *bx, uint32_t *corr)
{
    size_t G = ax_c4_groups(K);
    uint8_t flip = ax_c4_wgt_flip(p);
    bool col_term = ax_c4_act_flip(p) != 0;
    memset(bx, 0, ax_c4_bx_bytes(K, N));
    for (size_t n = 0; n < N; n++) {
        uint8_t *blk = bx + (n / 4) * G * 16 + (n % 4) * 4;
        uint32_t sum = 0;
        for (size_t k = 0; k < K; k++) {
            uint8_t b = B[k * ldb + n];
            blk[(k / 4) * 16 + k % 4] = b ^ flip;
            sum += (uint32_t)(int8_t)b; /* mod 2^32 */
        }
        corr[n] = col_term ? sum * 128u : 0;
    }
}

/* Writes the columns of a 4-column block `blk` that fall in [n0, n0 + nn):
 * out[m * ldo + n - n0] = tile[c][m] + row term m, for m < rows. */
static inline void ax_c4_store(const uint32_t *tile, size_t mr, const uint8_t *terms, size_t rows, size_t blk,
                               size_t n0, size_t nn, uint32_t *out, size_t ldo)
{
    for (size_t c = 0; c < 4; c++) {
        size_t n = blk * 4 + c;
        if (n < n0 || n >= n0 + nn) continue;
        for (size_t m = 0; m < rows; m++) {
            uint32_t t;
            memcpy(&t, terms + 4 * m, 4);
            out[m * ldo + (n - n0)] = tile[c * mr + m] + t;
        }
    }
}

#endif
