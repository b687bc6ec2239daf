/* gemm_blocks_gather.h - what the GEMM tests (test_gemm.c, and the aarch64
 * driver tests/neon/kernel_check.c, which has no Criterion) hand to
 * ax_gemm_blocks: each block copied into one C (row stride ldc) and each
 * element's hand-overs counted, since exactly one each is the contract.
 * Safe to call from several threads on disjoint blocks. And what they hand
 * to ax_gemm_blocks_rows to make A's rows: copies from A, checked to lie
 * inside it. */
#ifndef AX_TESTS_GEMM_BLOCKS_GATHER_H
#define AX_TESTS_GEMM_BLOCKS_GATHER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct gathered {
    int32_t *C;
    unsigned *seen; /* M x N */
    size_t M, N, ldc;
    int bad; /* a block outside C */
} gathered;

static void gather_block(void *ctx, size_t m0, size_t rows, size_t n0, size_t cols, const int32_t *C, size_t ldc)
{
    gathered *g = ctx;
    if (m0 + rows > g->M || n0 + cols > g->N || rows == 0 || cols == 0 || ldc < cols) {
        __atomic_store_n(&g->bad, 1, __ATOMIC_RELAXED);
        return;
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            g->C[(m0 + i) * g->ldc + n0 + j] = C[i * ldc + j];
            __atomic_fetch_add(&g->seen[(m0 + i) * g->N + n0 + j], 1u, __ATOMIC_RELAXED);
        }
}

/* ax_gemm_blocks_rows' rows of A, copied from A (lda) and counted */
typedef struct made_rows {
    const uint8_t *A;
    size_t lda, K, M;
    int bad;       /* rows outside [0, M) */
    unsigned made; /* calls */
} made_rows;

static void make_rows(void *ctx, size_t m0, size_t n, uint8_t *dst)
{
    made_rows *r = ctx;
    __atomic_fetch_add(&r->made, 1u, __ATOMIC_RELAXED);
    if (n == 0 || m0 + n > r->M) {
        __atomic_store_n(&r->bad, 1, __ATOMIC_RELAXED);
        return;
    }
    for (size_t i = 0; i < n; i++) memcpy(dst + i * r->K, r->A + (m0 + i) * r->lda, r->K);
}

#endif
