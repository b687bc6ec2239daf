/* gemm.h - GEMM and convolution whose every multiply is a lookup in a
 * multiplier's 256x256 product table, accumulated exactly in int32: the
 * public API of kernels/.
 *
 *   C[m][n] (+)= sum_k T[A(m,k) * 256 + B(k,n)]
 *
 * A holds activation bytes, B weight bytes (raw bytes, as the table sees
 * them). Every path (ISA x method) returns exactly what ax_gemm_reference
 * returns, for every table and shape: that is the contract the tests pin.
 *
 * Accumulation is exact int32. Packing weights refuses a K for which a sum
 * of K products (plus the corrections the caller declares, ax_acc_extra)
 * could leave the int32 range: ax_gemm_plan_max_k_ex() gives that bound,
 * and every packing entry point (ax_gemm_pack_weights*, ax_conv2d_pack_
 * weights*) and run (ax_gemm, ax_conv2d) enforces it with a clear error.
 * Only the reference oracles wrap modulo 2^32. */
#ifndef AUTOAPPROX_GEMM_H
#define AUTOAPPROX_GEMM_H

#include "autoapprox/mult.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ax_isa { AX_ISA_AUTO = 0, AX_ISA_SCALAR, AX_ISA_AVX2, AX_ISA_AVX512, AX_ISA_NEON } ax_isa;

/* How the products are formed. LUT: table lookups (any table); EXACT: the
 * table is a*w, so an exact int8 GEMM (oneDNN's when the build has it and
 * it passes the plan's bit-exactness probe on the ISA in force, else our
 * own kernel); LOWRANK: exact GEMMs on transformed operands that reproduce
 * the table (structured tables only). LUTROW: the LUT path's row-table
 * kernel on every shape (AVX2 and AVX-512 only; a LUT plan there already
 * runs it on its own when M is large enough). EXACT_OWN: a request only,
 * EXACT with our own kernel, never oneDNN (the plan's path is then EXACT). */
typedef enum ax_path {
    AX_PATH_AUTO = 0, AX_PATH_LUT, AX_PATH_EXACT, AX_PATH_LOWRANK, AX_PATH_LUTROW, AX_PATH_EXACT_OWN
} ax_path;

const char *ax_isa_name(ax_isa isa);      /* "scalar", "avx2", "avx512", "neon" */
int ax_isa_parse(const char *s, ax_isa *out); /* also "auto" */
const char *ax_path_name(ax_path path);   /* "lut", "exact", "lowrank", "lutrow", "exact-own" */
/* Whether this CPU (and this build) can run an ISA's kernels. "avx2" means
 * AVX2+FMA+BMI2 only; "avx512" needs F, BW, VL and VBMI. */
bool ax_cpu_supports(ax_isa isa);
ax_isa ax_cpu_best_isa(void);

/* A multiplier prepared for one ISA and path: the table and every form
 * derived from it (byte planes, exact-product check, factors). Immutable
 * once built; share it between threads and layers. */
typedef struct ax_gemm_plan ax_gemm_plan;

/* AUTO isa: $AX_ISA when set ("scalar", "avx2", ...), else the best this
 * CPU has. AUTO path: EXACT when the table is the exact product; else
 * LOWRANK when the table is an exact sum of a few products of small integer
 * factors (of the table itself, or a*w plus its error) and the ISA's cost
 * model favours it (AVX2: <= 3 int16 terms; AVX-512 VNNI: when the byte or
 * int16 terms beat the LUT's byte planes); else LUT. On AVX-512 a LUT
 * plan may run over a linear base (residual planes + an exact GEMM; the
 * kernel name then joins both). An explicit path that cannot serve this
 * table (EXACT on an inexact table, LOWRANK without such a form), or an ISA
 * the CPU lacks, is an error. */
int ax_gemm_plan_create(const ax_mult *m, ax_isa isa, ax_path path, ax_gemm_plan **out, ax_error *err);
void ax_gemm_plan_free(ax_gemm_plan *p);
ax_isa ax_gemm_plan_isa(const ax_gemm_plan *p);
ax_path ax_gemm_plan_path(const ax_gemm_plan *p);
/* The microkernel actually used, XNNPACK-style, e.g. "lut_gemm_256x1__avx512vbmi".
 * A LUT plan on AVX2/AVX-512 names both of its kernels, "A|B": the byte-plane
 * or gather kernel A, and the row-table kernel B that ax_gemm runs instead
 * when its cost model says so (large M); ax_gemm_kernel_for names the one a
 * shape gets, with "^T" appended when a LUT or LUTROW plan runs it on the
 * transposed problem C^T = B^T A^T over the transposed table (small M,
 * large N: e.g. "lut_gemm_256x1__avx512vbmi^T"). */
const char *ax_gemm_plan_kernel_name(const ax_gemm_plan *p);
const char *ax_gemm_kernel_for(const ax_gemm_plan *p, size_t M, size_t K, size_t N);
/* Byte planes the LUT path reads: the bytes needed by the widest per-weight
 * column of the table after subtracting that column's minimum (1..4; 0 for
 * the EXACT and LOWRANK paths). */
int ax_gemm_plan_planes(const ax_gemm_plan *p);
/* The linear base a LUT plan considers for weight byte w: the slope c (a
 * value of the weight operand type) minimizing the range over activations
 * of T[a][w] - c * value(a), in *slope; returns that range. The plan takes
 * the base when the residual needs fewer byte planes than the table. */
uint64_t ax_gemm_linear_residual(const ax_mult *m, unsigned w, int *slope);
/* LOWRANK: the number of factor products per k (the table is their sum);
 * 1 for the other paths. */
int ax_gemm_plan_terms(const ax_gemm_plan *p);
/* LOWRANK on the AVX-512 VNNI byte kernel: terms that add a function of the
 * activation alone (a constant weight factor), summed per row while packing
 * A instead of multiplied; not counted in ax_gemm_plan_terms. Depthwise
 * layers of such a plan run the byte planes, not the low-rank kernel. */
int ax_gemm_plan_row_terms(const ax_gemm_plan *p);
/* What the caller adds to every sum after the GEMM, as bounds on its
 * magnitude: per_k for each of the K terms (zero-point corrections grow with
 * K: |zw|*max|a| + |za|*max|w| + |za*zw|) plus a fixed part (the bias). */
typedef struct ax_acc_extra {
    int64_t per_k, fixed;
} ax_acc_extra;
/* The corrections of zero points za (activations) and zw (weights, the
 * largest |zw| of any channel) and a bias of at most |bias|, for this
 * plan's operand types. */
ax_acc_extra ax_acc_extra_zero_points(const ax_gemm_plan *p, int32_t za, int32_t zw, int64_t bias);
/* The largest K for which every sum of K products of this table plus the
 * corrections `extra` (NULL: none) stays in the int32 range:
 *   K * (max(T, 0) + per_k) + fixed <= INT32_MAX  and
 *   K * (max(-T, 0) + per_k) + fixed <= 2^31.
 * SIZE_MAX when nothing can overflow (all-zero table, no corrections).
 * Holds for every path: LOWRANK sums its integer terms modulo 2^32 with no
 * division (denominator 1), so its int32 result is the true sum whenever
 * that fits; LUT 16-bit partial sums are widened inside the kernels. */
size_t ax_gemm_plan_max_k_ex(const ax_gemm_plan *p, const ax_acc_extra *extra);
/* The same with a fixed correction of at most |extra| and no per-k part. */
size_t ax_gemm_plan_max_k(const ax_gemm_plan *p, int64_t extra);

/* Weights of one layer, packed once into the form the plan's kernel reads.
 * B is K x N row-major bytes with row stride ldb. Refused (-1, err says
 * why) when K > ax_gemm_plan_max_k_ex(p, extra); extra NULL: none. */
typedef struct ax_packed_weights ax_packed_weights;
int ax_gemm_pack_weights(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                         ax_packed_weights **out, ax_error *err);
int ax_gemm_pack_weights_ex(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                            const ax_acc_extra *extra, ax_packed_weights **out, ax_error *err);
void ax_packed_weights_free(ax_packed_weights *w);

/* Activations: M x K row-major bytes, row stride lda >= K (an im2col row
 * per output pixel); the kernels repack panels of A themselves (O(MK), next
 * to the O(MKN) lookups). C: M x N int32, row stride ldc >= N; accumulate
 * adds to C, otherwise C is overwritten. threads <= 0: the OpenMP default;
 * every thread count gives the same bits. M == 0 is a no-op.
 * Returns 0, or -1 with err filled (bad stride, plan/weights mismatch, out
 * of memory). */
int ax_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
            int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err);

/* C = A x W (not accumulating) handed over block by block instead of
 * stored: fn receives rows [m0, m0 + rows) x columns [n0, n0 + cols) of C
 * at C[0 .. rows-1][0 .. cols-1] (row stride ldc), while the block is still
 * in cache, and typically turns it into something smaller (a network
 * layer's requantized bytes), so the whole int32 C never goes to memory.
 * Every element of C is in exactly one block; blocks come in no particular
 * order, from several threads at once when threads > 1 (fn must be safe for
 * that on disjoint blocks); a block's C is valid only during the call.
 * The values are ax_gemm's, bit for bit, on every path: those that compute
 * C tile by tile (LUT byte planes, EXACT and LOWRANK kernels) call fn per
 * tile; the others (oneDNN, row tables, the transposed problem, K-chunks)
 * compute bands of rows into a buffer of a few MiB first. */
typedef void (*ax_gemm_block_fn)(void *ctx, size_t m0, size_t rows, size_t n0, size_t cols, const int32_t *C,
                                 size_t ldc);
int ax_gemm_blocks(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   ax_gemm_block_fn fn, void *ctx, int threads, ax_error *err);

/* ax_gemm_blocks with A's rows made on demand instead of read from A: rows
 * writes rows [m0, m0 + n) of A (K bytes each, row i at dst + i * K), for
 * the tile about to use them, so they are made in cache and never stored
 * whole (a convolution's im2col rows). rows is called from several threads
 * at once on any rows of [0, M), possibly more than once for the same rows;
 * it must give the same bytes every time. */
typedef void (*ax_gemm_rows_fn)(void *ctx, size_t m0, size_t n, uint8_t *dst);
int ax_gemm_blocks_rows(const ax_gemm_plan *p, size_t M, ax_gemm_rows_fn rows, void *rows_ctx,
                        const ax_packed_weights *W, ax_gemm_block_fn fn, void *ctx, int threads, ax_error *err);

size_t ax_packed_weights_k(const ax_packed_weights *w);
size_t ax_packed_weights_n(const ax_packed_weights *w);

/* The oracle: plain and obviously correct, any K (sums wrap modulo 2^32). */
void ax_gemm_reference(const int32_t table[AX_TABLE_SIZE], size_t M, size_t N, size_t K, const uint8_t *A,
                       size_t lda, const uint8_t *B, size_t ldb, int32_t *C, size_t ldc, bool accumulate);

/* ---- convolution ------------------------------------------------------------
 * 2-D convolution on top of ax_gemm. Activations are NHWC bytes, weights HWIO
 * bytes ([kernel_h][kernel_w][in_c / groups][out_c]; output channel o belongs
 * to group o / (out_c / groups)), outputs NHWC int32:
 *   Y[b][y][x][o] (+)= sum_{ky,kx,i} T[X[b][y*sh + ky*dh - pt][x*sw + kx*dw - pl][g*Cg + i] * 256
 *                                     + W[ky][kx][i][o]]
 * where a position outside the input reads pad_byte (the activation zero
 * point, so that padding means "zero" exactly as the hardware sees it).
 * Each group is one GEMM with K = kernel_h*kernel_w*in_c/groups; a 1x1,
 * stride-1, unpadded convolution reads X in place, others build im2col rows
 * for a bounded chunk of output pixels at a time (never the whole copy).
 * Grouped convolutions with <= 4 input channels per group (depthwise) run a
 * direct weight-stationary loop over the table instead (byte-plane permutes
 * on AVX-512 for stride-1 LUT plans). */
typedef struct ax_conv2d_shape {
    size_t batch, in_h, in_w, in_c;
    size_t out_c;
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;       /* >= 1 */
    size_t dilation_h, dilation_w;   /* >= 1 */
    size_t pad_top, pad_left, pad_bottom, pad_right;
    size_t groups;                   /* >= 1, divides in_c and out_c; depthwise: groups == in_c */
    uint8_t pad_byte;
} ax_conv2d_shape;

/* Fills out_h/out_w; -1 with err when the shape is inconsistent. */
int ax_conv2d_output_size(const ax_conv2d_shape *s, size_t *out_h, size_t *out_w, ax_error *err);

/* Weights packed once per layer: they do not depend on s->batch (one
 * packing serves every batch size). Refused when the GEMM's K =
 * kernel_h*kernel_w*in_c/groups exceeds ax_gemm_plan_max_k_ex(p, extra). */
typedef struct ax_conv2d_weights ax_conv2d_weights;
int ax_conv2d_pack_weights(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W,
                           ax_conv2d_weights **out, ax_error *err);
int ax_conv2d_pack_weights_ex(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W,
                              const ax_acc_extra *extra, ax_conv2d_weights **out, ax_error *err);
void ax_conv2d_weights_free(ax_conv2d_weights *w);

/* The kernel these weights run: "exact_conv__onednn" when the layer runs
 * as one oneDNN int8 convolution primitive (an EXACT plan whose oneDNN path
 * verified, s8 weights, pad byte 0; the primitive itself checked bit for
 * bit against our own kernels before use); the grouped or depthwise
 * kernel's name when the layer runs one of those (e.g.
 * "lowrank_gconv_8x32c4__avx512vnni", "lut_dwconv_256x1__avx512vbmi"),
 * else the plan's kernel name. */
const char *ax_conv2d_kernel_name(const ax_conv2d_weights *w);

/* Y: batch x out_h x out_w x out_c int32 (NHWC). The weights must have been
 * packed for this plan and shape (any batch size). */
int ax_conv2d(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *X, const ax_conv2d_weights *W,
              int32_t *Y, bool accumulate, int threads, ax_error *err);

/* Y = the convolution (not accumulating) handed over in bands of output
 * rows instead of stored, as ax_gemm_blocks does for a GEMM: fn receives
 * rows [oy0, oy0 + rows) of image b, every channel, at Y (NHWC: row oy0 +
 * i at Y + i * out_w * out_c), and typically requantizes them to bytes, so
 * the layer's int32 output never goes to memory. Every output row is in
 * exactly one band; bands come in no particular order, from several
 * threads at once when threads > 1 (fn must be safe for that on disjoint
 * bands); a band's Y is valid only during the call. The values are
 * ax_conv2d's, bit for bit. Layers whose kernel computes bands of rows
 * (ax_conv2d_computes_bands: depthwise layers on an integer form of the
 * table) fill a buffer of a few rows per thread, in L2; the others compute
 * whole images into a buffer of at most a few MiB first. */
typedef void (*ax_conv2d_band_fn)(void *ctx, size_t b, size_t oy0, size_t rows, const int32_t *Y);
int ax_conv2d_bands(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *X, const ax_conv2d_weights *W,
                    ax_conv2d_band_fn fn, void *ctx, int threads, ax_error *err);
bool ax_conv2d_computes_bands(const ax_conv2d_weights *W);

/* The oracle: the direct seven-deep loop, any K (sums wrap modulo 2^32). The shape
 * must be valid (see ax_conv2d_output_size). */
void ax_conv2d_reference(const int32_t table[AX_TABLE_SIZE], const ax_conv2d_shape *s, const uint8_t *X,
                         const uint8_t *W, int32_t *Y, bool accumulate);

#ifdef __cplusplus
}
#endif
#endif
