/* gemm_internal.h - what the portable loop nest (gemm.c), the plan
 * (gemm_plan.c) and the per-ISA microkernels share: the plan's derived forms
 * of the table, the packed weights, and the microkernel descriptors.
 *
 * BLIS shape: gemm.c cuts C into tiles of MR rows x NC columns, packs the MR
 * rows of A once per tile into the panel layout its microkernel reads, and
 * calls the microkernel, which returns raw column sums; gemm.c adds the
 * per-column correction and writes or accumulates C. Not installed. */
#ifndef AX_GEMM_INTERNAL_H
#define AX_GEMM_INTERNAL_H

#include "autoapprox/gemm.h"

#include <stddef.h>
#include <stdint.h>

/* LUT microkernel: for `rows` <= mr rows of a packed A panel and nn columns
 * of packed weights (column j at w + j*wstride, K bytes), writes
 * out[m*ldo + j] = sum_k col[w_k][a_mk] (mod 2^32), where col is the plan's
 * min-subtracted per-weight column. The caller adds the correction. */
typedef struct ax_lut_ukernel {
    const char *name;
    size_t mr;
    size_t (*panel_bytes)(size_t K);
    void (*pack_a)(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel);
    void (*run)(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                size_t wstride, size_t nn, uint32_t *out, size_t ldo);
} ax_lut_ukernel;

/* EXACT-type microkernel (also LOWRANK: see `terms` below): products a*w
 * under the plan's operand types. Panels of A and weights are in the
 * kernel's own layouts (pack_b fills the weights' `bx` buffer of
 * bx_bytes(K, N) and the per-column term corr[N]); run writes out[m*ldo + j]
 * such that out + corr[n0 + j] is the exact sum (mod 2^32). */
typedef struct ax_exact_ukernel {
    const char *name;
    size_t mr;
    size_t (*panel_bytes)(size_t K);
    void (*pack_a)(const ax_gemm_plan *p, size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t *panel);
    size_t (*bx_bytes)(size_t K, size_t N);
    void (*pack_b)(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, uint8_t *bx,
                   uint32_t *corr);
    void (*run)(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N,
                const uint8_t *bx, size_t n0, size_t nn, uint32_t *out, size_t ldo);
} ax_exact_ukernel;

/* Paths as kernels: EXACT and LOWRANK run `exact` alone; LUT runs `lut`
 * alone, or, when `linear` is set, `lut` on the residual E = T - c_w * a
 * plus `exact` on the weights mapped w -> c_w (a LUT with an exact linear
 * base: near-exact tables leave a residual of fewer byte planes). */
struct ax_gemm_plan {
    ax_isa isa;
    ax_path path;
    ax_operand act, wgt;
    int nplanes;              /* LUT: bytes per min-subtracted entry, 1..4 */
    int64_t max_abs;          /* largest |T| */
    bool linear;              /* LUT over a linear base (see above) */
    uint8_t lin_w[256];       /* linear: the weight byte of c_w, per w */
    uint32_t colmin[256];     /* per w: min over a of the (residual) column, mod 2^32 */
    uint32_t *cols;           /* [w][a]: column - colmin[w], 256 x 256 */
    uint8_t *planes;          /* [w][plane][a]: byte planes of cols, 64-aligned */
    const ax_lut_ukernel *lut;
    const ax_exact_ukernel *exact;
    char kernel_name[96];
    /* LOWRANK: T[a][w] = sum_{t < terms} amap[t][a] * wmap[t][w] (term 0 is
     * the exact product); the exact-type kernel then runs over K * terms
     * virtual k, so gemm.c sizes its panel_bytes/bx_bytes with K * terms.
     * Other paths: terms = 1, maps NULL. */
    int terms;
    int16_t (*amap)[256], (*wmap)[256];
    int32_t *table_t; /* the table transposed, [w][a] (direct depthwise convolution) */
    /* LUT and LUTROW: the row-table kernel (lutrow.h), NULL when the ISA has
     * none; a LUT plan runs it when ax_lutrow_wanted says so. lut_name: the
     * LUT plan's other kernel(s). */
    const struct ax_lutrow_ukernel *lutrow;
    char lut_name[96];
};

/* At most this many low-rank terms besides the exact product. */
#define AX_LOWRANK_MAX 7
/* Fills amap/wmap[0..rank] (rank + 1 terms) and *rank; -1 when the table has
 * no exact int16 low-rank form of rank <= max_rank. */
int ax_lowrank_factor(const ax_mult *m, int max_rank, int *rank, int16_t amap[][256], int16_t wmap[][256]);

struct ax_packed_weights {
    ax_path path;
    size_t K, N;
    const ax_gemm_plan *plan; /* identity check only */
    uint8_t *bt;              /* LUT: N x K weight bytes, column n at bt + n*K */
    uint32_t *corr;           /* LUT: sum_k colmin[B[k][n]]; EXACT: per-n term */
    uint8_t *bx;              /* EXACT: the kernel's weight layout */
    /* LOWRANK with a long K: the weights as K-chunks (BLIS's kc) whose
     * int16 panels stay in L2; ax_gemm accumulates chunk after chunk. */
    size_t n_chunks, kc;
    struct ax_packed_weights **chunk;
};

void *ax_aligned_alloc(size_t align, size_t size); /* NULL on overflow/OOM */
bool ax_cpu_has_avx512vnni(void);

/* Per-ISA descriptors (NULL when the build lacks them). */
extern const ax_lut_ukernel ax_lut_ukernel_scalar;
extern const ax_exact_ukernel ax_exact_ukernel_scalar;
extern const ax_exact_ukernel ax_lowrank_ukernel_scalar;
#if defined(__x86_64__)
extern const ax_exact_ukernel ax_lowrank_ukernel_avx2;
extern const ax_exact_ukernel ax_lowrank_ukernel_avx512vnni;
/* conv2d.c's depthwise rows on the LUT planes (lut_gemm_256x1__avx512vbmi.c) */
void ax_lut_dw_row_avx512vbmi(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps,
                              size_t n, uint32_t *acc);
extern const ax_lut_ukernel ax_lut_ukernel_avx2;
extern const ax_lut_ukernel ax_lut_ukernel_avx512vbmi;
extern const ax_exact_ukernel ax_exact_ukernel_avx2;
extern const ax_exact_ukernel ax_exact_ukernel_avx512vnni;
#endif
/* NEON hook (kernels/neon/): AX_HAVE_NEON comes from the `neon` option. */
#if defined(__aarch64__)
#include "ax_config.h"
#if AX_HAVE_NEON
extern const ax_lut_ukernel ax_lut_ukernel_neon;
extern const ax_exact_ukernel ax_exact_ukernel_neondot;
extern const ax_exact_ukernel ax_exact_ukernel_neon;
extern const ax_exact_ukernel ax_lowrank_ukernel_neon;
bool ax_cpu_has_neon_dotprod(void);
#endif
#endif

#endif
