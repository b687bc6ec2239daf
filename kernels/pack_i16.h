/* pack_i16.h - the int16 operand layouts the vpmaddwd/vpdpwssd kernels share
 * (exact_gemm_4x16__avx2 and the LOWRANK kernels): a k of the plan expands
 * into `terms` virtual k (1 for EXACT: the operand values; LOWRANK: the
 * plan's maps amap[t][a], wmap[t][w], whose products sum to the table), and
 * virtual k go in pairs, the unit of a multiply-add of two int16 products.
 *
 * Panel (mr rows): for each pair of virtual k, mr rows x 2 int16 (a missing
 * odd k is 0). Weights: blocks of `bw` columns, each K2 x bw x 2 int16, plus
 * one all-zero block so a tile may always read two blocks. Internal; include
 * from kernel files only. */
#ifndef AX_PACK_I16_H
#define AX_PACK_I16_H

#include "kernels/gemm_internal.h"

#include <string.h>

static inline size_t ax_i16_k2(size_t K) { return (K + 1) / 2; }
static inline size_t ax_i16_terms(const ax_gemm_plan *p) { return p->amap ? (size_t)p->terms : 1; }

/* K here is K * terms (what gemm.c passes) */
static inline size_t ax_i16_panel_bytes(size_t K, size_t mr)
{
    return K / 2 + 1 > SIZE_MAX / (mr * 4) ? SIZE_MAX : (ax_i16_k2(K) ? ax_i16_k2(K) : 1) * mr * 4;
}

static inline size_t ax_i16_bx_bytes(size_t K, size_t N, size_t bw)
{
    size_t blocks = (N + bw - 1) / bw + 1, K2 = ax_i16_k2(K);
    if (K2 && blocks > SIZE_MAX / (bw * 4) / K2) return SIZE_MAX;
    return blocks * (K2 ? K2 : 1) * bw * 4;
}

/* k outer, rows inner: the stores of consecutive rows are adjacent (a
 * row-outer loop would write one int32 per 256-byte panel row and miss L1 on
 * every store); the rows' source lines stay in L1 across consecutive k. */
static inline void ax_i16_pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda,
                                 uint8_t *panel, size_t mr)
{
    uint32_t *dst = (uint32_t *)panel;
    size_t T = ax_i16_terms(p), K2 = ax_i16_k2(K * T), Kf = K / 2;
    if (p->amap) { /* low rank: virtual k = k * T + t */
        int16_t *d16 = (int16_t *)panel;
        for (size_t k = 0; k < K; k++) {
            int16_t *d[AX_LOWRANK_TERMS];
            for (size_t t = 0; t < T; t++) {
                size_t kk = k * T + t;
                d[t] = d16 + (kk / 2) * mr * 2 + (kk & 1);
            }
            for (size_t m = 0; m < rows; m++) {
                uint8_t a = A[m * lda + k];
                for (size_t t = 0; t < T; t++) d[t][2 * m] = p->amap[t][a];
            }
        }
        if (K * T % 2)
            for (size_t m = 0; m < rows; m++) d16[(K2 - 1) * mr * 2 + m * 2 + 1] = 0;
    } else {
        bool s8 = p->act == AX_S8;
        for (size_t k2 = 0; k2 < Kf; k2++) {
            uint32_t *d = dst + k2 * mr;
            const uint8_t *src = A + 2 * k2;
            if (s8)
                for (size_t m = 0; m < rows; m++)
                    d[m] = (uint16_t)(int8_t)src[m * lda] | (uint32_t)(uint16_t)(int8_t)src[m * lda + 1] << 16;
            else
                for (size_t m = 0; m < rows; m++) d[m] = src[m * lda] | (uint32_t)src[m * lda + 1] << 16;
        }
        if (Kf < K2)
            for (size_t m = 0; m < rows; m++)
                dst[Kf * mr + m] = (uint16_t)(int16_t)ax_operand_value(p->act, A[m * lda + K - 1]);
    }
    for (size_t k2 = 0; k2 < K2; k2++) memset(dst + k2 * mr + rows, 0, (mr - rows) * 4);
}

static inline void ax_i16_pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                                 uint8_t *bx, uint32_t *corr, size_t bw)
{
    int16_t *dst = (int16_t *)bx;
    size_t T = ax_i16_terms(p), K2 = ax_i16_k2(K * T);
    memset(bx, 0, ((N + bw - 1) / bw + 1) * (K2 ? K2 : 1) * bw * 4);
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++)
            for (size_t t = 0; t < T; t++) {
                size_t kk = k * T + t;
                uint8_t b = B[k * ldb + n];
                dst[((n / bw) * K2 + kk / 2) * bw * 2 + (n % bw) * 2 + (kk & 1)] =
                    p->amap ? p->wmap[t][b] : (int16_t)ax_operand_value(p->wgt, b);
            }
    memset(corr, 0, N * sizeof *corr);
}

#endif
