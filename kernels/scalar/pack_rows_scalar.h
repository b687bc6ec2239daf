/* pack_rows_scalar.h - the packing both integer-multiply scalar kernels
 * (exact and low-rank) read: panels of 64 rows of A copied contiguously, and
 * B stored column-major, so both inner operands stream. No corrections. */
#ifndef AX_PACK_ROWS_SCALAR_H
#define AX_PACK_ROWS_SCALAR_H

#include "kernels/gemm_internal.h"

#include <string.h>

enum { AX_ROWS_MR = 64 };

/* gemm.c may pass K * terms for the low-rank path; only K bytes per row are stored */
static inline size_t ax_rows_panel_bytes(size_t K)
{
    return K > SIZE_MAX / AX_ROWS_MR ? SIZE_MAX : (K ? K : 1) * AX_ROWS_MR;
}

static inline void ax_rows_pack_a(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda,
                                  uint8_t *panel)
{
    (void)p;
    for (size_t m = 0; m < rows; m++) memcpy(panel + m * K, A + m * lda, K);
}

static inline size_t ax_rows_bx_bytes(size_t K, size_t N) { return K && N > SIZE_MAX / K ? SIZE_MAX : K * N; }

static inline void ax_rows_pack_b(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                                  uint8_t *bx, uint32_t *corr)
{
    (void)p;
    for (size_t n = 0; n < N; n++) {
        corr[n] = 0;
        for (size_t k = 0; k < K; k++) bx[n * K + k] = B[k * ldb + n];
    }
}

#endif
