/* lutrow.h - the activation-indexed row-table LUT kernels (lutrow.c drives
 * them; the microkernel is avx2/lutrow_gemm_8x4__avx2.c, which AVX-512 CPUs
 * run too). For one k and a group of G
 * consecutive output columns n..n+G-1, the row table R_k[a] holds the G
 * products T[a*256 + w[k][n+j]] of activation value a: 256 x G int32. Then
 * acc[m][n..n+G-1] += R_k[a[m][k]] is one vector add with a memory operand,
 * G MACs per load, for any int32 table (plain wrapping sums: bit-exact by
 * construction). Tables of KB consecutive k stay in L1 while every row of an
 * M chunk streams through them; building them costs 256 x G stores per
 * (k, group), so the cost model (ax_lut_choose) takes this path only for
 * large M (or, transposed, large N). Not installed. */
#ifndef AX_LUTROW_H
#define AX_LUTROW_H

#include "gemm_internal.h"

/* Offsets: off[m * kb + i] = a[m][k0 + i] * 4G (a byte offset into R_i).
 * build: R[a * g + j] = table_t[w[j] * 256 + a] for a < 256, j < g.
 * run: for m < rows, strip[m * g + j] = (zero ? 0 : strip[m * g + j]) +
 * sum_{i < kn} R_i[off[m * kb + i] / 4 + j], with R_i = R + i * 256 * g and
 * 1 <= kn <= kb (mod 2^32). R and strip are 64-byte aligned. */
typedef struct ax_lutrow_ukernel {
    const char *name;
    size_t g, kb;
    size_t mc;            /* rows per M chunk (the strip stays in L2) */
    double adds_per_cycle; /* cost model: measured row-adds (G MACs) per cycle */
    double build_cycles;  /* cost model: cycles per row table */
    void (*build)(const int32_t *table_t, const uint8_t *w, uint32_t *R);
    void (*run)(size_t kn, bool zero, const uint32_t *R, const uint16_t *off, size_t rows, uint32_t *strip);
} ax_lutrow_ukernel;

#if defined(__x86_64__)
extern const ax_lutrow_ukernel ax_lutrow_ukernel_avx2; /* also the AVX-512 one */
#endif

/* The row-table kernel this ISA has, or NULL. */
const ax_lutrow_ukernel *ax_lutrow_for(ax_isa isa);
/* Cycles the cost model expects for an M x K x N GEMM on kernel u. */
double ax_lutrow_cycles(const ax_lutrow_ukernel *u, size_t M, size_t K, size_t N);
/* ax_gemm on the row-table kernel (arguments checked by the caller);
 * transposed: on the transposed problem (the plan's tp: W's N rows stream
 * through row tables built from A's M rows; C written transposed). */
int ax_lutrow_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   int32_t *C, size_t ldc, bool accumulate, bool transposed, int threads, ax_error *err);

#endif
