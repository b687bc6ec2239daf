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

#include <stdatomic.h>
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
    /* Optional (NULL: gemm.c uses run and a second pass): the same sums plus
     * corr[j], written (or, accumulate, added) straight into C[m*ldc + j]
     * for j < nn (any nn), C and corr pointing at the tile's first column.
     * gemm.c calls it when the plan has no exact part (no linear base). */
    void (*run_c)(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, const uint8_t *w,
                  size_t wstride, size_t nn, const uint32_t *corr, int32_t *C, size_t ldc, bool accumulate);
    /* Optional (NULL: none): pack_a's panels of every group of a
     * convolution's rows at once, for one tap t, from the rows' pixel
     * pointers (in_c and cg multiples of 8; K = ntaps * cg): row m's k = t*cg
     * + c of group g is pt[m][g*cg + c], group g's panel at panels + g *
     * gstep. conv2d.c's grouped layers then never build im2col rows. */
    void (*pack_lines)(size_t rows, const uint8_t *const *pt, size_t t, size_t ntaps, size_t in_c, size_t cg,
                       uint8_t *panels, size_t gstep);
} ax_lut_ukernel;

/* How an EXACT-type kernel's run_c writes C: set it, add to it, or set it
 * with non-temporal stores where a store covers a whole aligned 64-byte
 * line (the rest as SET), fencing before it returns. gemm.c streams C only
 * when it is far larger than the caches: there the stores' reads for
 * ownership doubled the memory traffic of output-bound layers. */
typedef enum { AX_C_SET, AX_C_ADD, AX_C_STREAM } ax_c_store;

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
    /* Optional (NULL: gemm.c uses run): the same sums plus corr[j], written
     * (or added, or streamed: store) straight into C[m*ldc + j] for j < nn, C and
     * corr pointing at column n0; no buffer, no second pass over C (short-K
     * LOWRANK layers spent a third of their time there). gemm.c calls it
     * whenever the plan has no LUT part, so a kernel that serves only such
     * plans (the LOWRANK byte kernel) may leave run NULL. */
    void (*run_c)(const ax_gemm_plan *p, size_t rows, const uint8_t *panel, size_t K, size_t N,
                  const uint8_t *bx, size_t n0, size_t nn, const uint32_t *corr, int32_t *C, size_t ldc,
                  ax_c_store store);
    /* LOWRANK: sums a form's row terms while packing A (ax_lowrank); other
     * kernels get them as ordinary terms */
    bool row_terms;
} ax_exact_ukernel;

/* Depthwise microkernel (dwconv2d.c): for i < n,
 *   acc[i] = sum_{t < ntaps} col[w[t]][src[t][i]]   (mod 2^32)
 * with col the plan's dw columns (minus dw_colmin when set): one output
 * channel over a run of n output pixels, each tap reading a contiguous run
 * of input bytes (dwconv2d.c lays the input out so, with 64 readable bytes
 * past every run). acc has room for n rounded up to 64, and holds the sums
 * in the kernel's own order within each block of 64 pixels (AVX-512: the
 * order its widening leaves them in). `store` writes nch <= 16 channels'
 * sums into NHWC, pixel i at dst[i] (a sink for pixels not kept):
 *   dst[i][c0 + j] (+)= acc[j*lda + i] + corr[j]   for i < n, j < nch,
 * as `out` says: AX_DW_ADD adds; AX_DW_STREAM (outputs far larger than the
 * caches: nch = 16, every dst[i] + c0 64-byte aligned) stores past the
 * caches, the pixels not kept NULL and skipped (no sink line written by
 * every row), and the caller fences. */
typedef enum { AX_DW_SET, AX_DW_ADD, AX_DW_STREAM } ax_dw_out;
typedef struct ax_dw_ukernel {
    const char *name;
    void (*run)(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t ntaps, size_t n,
                uint32_t *acc);
    void (*store)(const uint32_t *acc, size_t lda, size_t nch, const uint32_t *corr, size_t n,
                  uint32_t *const *dst, size_t c0, ax_dw_out out);
    /* Optional (NULL: dwconv2d.c's own SSE2/plain loops): the layout's
     * transpose dst[k*ldd + m] = pix[m][k0 + k], m < n, k < C */
    void (*transpose)(size_t n, size_t k0, size_t C, const uint8_t *const *pix, uint8_t *dst, size_t ldd);
    /* Optional (NULL: run): run's sums for a 3x3 kernel of one input
     * channel, dilation 1, stride sw (1 or 2) along the rows (ntaps = 9),
     * added to acc's (add: several input channels per group) or not */
    void (*run_3x3)(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t sw, size_t n,
                    uint32_t *acc, bool add);
} ax_dw_ukernel;

/* Depthwise on an integer form of the table, p->lr (dwconv2d.c; in_c =
 * out_c = groups; byte terms on AVX-512 VNNI, int16 terms on AVX2):
 * straight from and into NHWC. pack_w turns wt ([o][tap]) into w_bytes of
 * the kernel's layout (64-aligned) and corr[o], the per-channel
 * correction; rows writes (or adds) output rows [oy0, oy0 + rows) of image
 * b, all channels, row oy at Y + (oy - oy0) * ow * out_c (the layer's
 * output or a band buffer), using buf (buf_bytes, 64-aligned) as scratch;
 * stream: outputs far larger than the caches, stored past them where the
 * kernel can (non-temporal, whole aligned lines). */
typedef struct ax_dwlr_ukernel {
    const char *name;
    size_t (*w_bytes)(const ax_gemm_plan *p, const ax_conv2d_shape *s);
    void (*pack_w)(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *wt, uint8_t *pw, uint32_t *corr);
    size_t (*buf_bytes)(const ax_gemm_plan *p, const ax_conv2d_shape *s);
    void (*rows)(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t ow, const uint8_t *X, const uint8_t *pw,
                 const uint32_t *corr, size_t b, size_t oy0, size_t rows, int32_t *Y, bool accumulate, bool stream,
                 void *buf);
    /* rows shares its builds between the rows of one call: tasks as long
     * as the threads allow (else 4 rows) */
    bool long_tasks;
} ax_dwlr_ukernel;

/* Grouped convolutions on an integer form of the table (conv2d.c): any
 * byte form on AVX-512 VNNI, int16 terms on AVX2. map writes the form's
 * activation factors of n input bytes, esize bytes each (units of per
 * groups of cg channels: the groups of every per * cg input bytes in the
 * kernel's order), and run reads the mapped pixels in place. per says how
 * many groups (1, 2, 4 or 16) make a unit, given the plan, the input and
 * output channels per group and the groups (0: not this kernel). A unit
 * is `per` groups of K = ntaps * cg k and N columns each; pack_w packs
 * its weights (group s's column j at W[k * ldw + s * N + j]; cg = K /
 * ntaps) into w_bytes (64-aligned); run writes (or adds) C[m][s * N + j]
 * for rows m < rows, tap t of row m being the per * cg mapped inputs at
 * px[m * ntaps + t] + coff (coff in bytes), plus rc[m * ldrc + s]: a byte
 * form's row corrections of group s (conv2d.c sums them; NULL: none, as
 * int16 forms carry, or summed by run itself: rows_inside). px
 * and rc hold rows up to the multiple of 64 at or after rows (pad taps,
 * zero corrections), so a kernel may compute whole tiles of 8 or 4 rows
 * and store only its rows. */
typedef struct ax_glr_ukernel {
    const char *name;
    const char *name_s8; /* running a form with its signs swapped (lr->acts_s8), or NULL: it takes none */
    const char *name16, *name16_s8; /* the same, units of 16 groups (per 16), or NULL: none */
    bool byte_terms; /* reads the byte form (lr->abyte/wbyte): its row corrections come as rc */
    /* byte_terms: q[i] = the sum of h over x[4i..4i+3], i < n/4 (n % 4 == 0),
     * h(a) = hmin + sum_{j < np} hp[j][a] << 8j mod 2^32 (conv2d.c's row
     * corrections, summed per input pixel and group from these) */
    void (*row_quads)(const uint8_t (*hp)[256], int np, uint32_t hmin, size_t n, const uint8_t *x, int32_t *q);
    /* byte_terms: to[g] = the sum over taps t of rg[at[t] * G + g] (mod
     * 2^32), g < G: an output row's corrections from its taps' pixels' */
    void (*tap_sums)(const int32_t *rg, size_t G, const uint32_t *at, size_t ntaps, int32_t *to);
    /* or NULL; true: run sums the form's row corrections itself (rc NULL) */
    bool (*rows_inside)(const ax_gemm_plan *p, size_t per);
    size_t (*per)(const ax_gemm_plan *p, size_t cg, size_t og, size_t groups);
    size_t (*esize)(const ax_gemm_plan *p);
    void (*map)(const ax_gemm_plan *p, size_t n, const uint8_t *x, uint8_t *y, size_t per, size_t cg);
    size_t (*w_bytes)(const ax_gemm_plan *p, size_t K, size_t N, size_t per);
    void (*pack_w)(const ax_gemm_plan *p, size_t K, size_t cg, size_t N, size_t per, const uint8_t *W, size_t ldw,
                   uint8_t *pw);
    /* stream: C past the caches by non-temporal stores where a kernel
     * writes whole lines (not accumulating; the kernel fences them) */
    void (*run)(const ax_gemm_plan *p, size_t rows, const uint8_t *const *px, size_t ntaps, size_t coff, size_t K,
                size_t N, size_t per, const uint8_t *pw, const int32_t *rc, size_t ldrc, int32_t *C, size_t ldc,
                bool accumulate, bool stream);
} ax_glr_ukernel;

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
    int64_t tmax, tmin;       /* max(T, 0), min(T, 0): the accumulator bound */
    char name[AX_NAME_MAX];   /* the multiplier's, for error messages */
    bool linear;              /* LUT over a linear base (see above) */
    uint8_t lin_w[256];       /* linear: the weight byte of c_w, per w */
    uint32_t colmin[256];     /* per w: min over a of the (residual) column, mod 2^32 */
    uint32_t *cols;           /* [w][a]: column - colmin[w], 256 x 256 */
    uint8_t *planes;          /* [w][plane][a]: byte planes of cols, 64-aligned */
    const ax_lut_ukernel *lut;
    const ax_exact_ukernel *exact;
    char kernel_name[96];
    /* LOWRANK: T[a][w] = sum_{t < terms} amap[t][a] * wmap[t][w] (lr: the
     * form, lowrank.c; amap/wmap point into it); the exact-type kernel then
     * runs over K * terms virtual k, so gemm.c sizes its panel_bytes/bx_bytes
     * with K * terms (the byte kernel's bound). Other paths: terms = 1, maps
     * and lr NULL. */
    int terms;
    int16_t (*amap)[256], (*wmap)[256];
    struct ax_lowrank *lr;
    /* Per activation byte, the int16 values of its virtual k (terms of them,
     * or the operand value when amap is NULL; zeros after): one 16-byte
     * load per (row, k) for the int16 kernels' vectorized pack_a
     * (pack_i16.h). Filled for every plan. */
    _Alignas(16) int16_t avirt[256][8];
    /* One virtual k per k whose value is bits of the byte: v((a ^ abits_xor)
     * & abits_mask) + abits_off, v the byte's s8 (abits_s8) or u8 value. The
     * operand values (amap NULL) and every one-term EvoApproxLib form
     * (mul8s_1L2J: a & 0xfe as s8) are; pack_a then widens 16 bytes a vector
     * instead of looking each one up (pack_i16.h). */
    bool abits, abits_s8;
    uint8_t abits_xor, abits_mask;
    int16_t abits_off;
    /* Blocking from the caches (cpu_caches.c), fixed at plan creation:
     * lut_kc: k per block of the AVX-512 LUT kernel (its panel rows in use,
     * 256 x lut_kc bytes, fill <= 1/2 of L1, the rest for the planes the
     * columns load; <= 256 for the 16-bit sums); lowrank_kv: virtual k per
     * LOWRANK weight chunk (a 64-row int16 panel, 128 x lowrank_kv bytes, is
     * L2/8; a byte panel, 64 x lowrank_kv, L2/2); im2col_bytes: im2col rows per
     * conv chunk (L2); dw_pix: wide output pixels per depthwise chunk (16
     * channels' int32 sums, 3 x L1 in L2: a channel's tap tables then come
     * from L2 once per chunk, from L1 for the rest of its pixels; L1/2
     * measured ~10% slower). Results never depend on them. */
    size_t lut_kc, lowrank_kv, im2col_bytes, dw_pix;
    /* EXACT through oneDNN (exact_onednn.c), verified at plan creation,
     * for GEMMs of at least onednn_min_m rows, onednn_min_n columns and
     * onednn_min_k k (other weights are not packed for it); `exact` stays
     * our own kernel for the rest. */
    bool onednn;
    bool onednn_always; /* $AX_ONEDNN=always: every shape, every conv layer */
    size_t onednn_min_m, onednn_min_n, onednn_min_k;
    int32_t *table_t; /* the table transposed, [w][a] (direct depthwise convolution) */
    /* Depthwise convolution (dwconv2d.c): the microkernel and the byte
     * planes it reads, of the plain table (never a linear base): the LUT
     * planes themselves, or, for LOWRANK and linear-base plans on AVX-512,
     * planes of their own (dw_own). dw_colmin NULL: no min subtracted. */
    const ax_dw_ukernel *dw;
    const uint8_t *dw_planes;
    const uint32_t *dw_colmin;
    int dw_nplanes;
    uint8_t *dw_own;
    uint32_t *dw_own_colmin;
    /* LOWRANK byte forms on AVX-512 VNNI, any form on AVX2: the depthwise
     * kernel over the terms (NULL: the planes above serve LOWRANK too) */
    const struct ax_dwlr_ukernel *dwlr;
    /* and the grouped kernel (NULL: none): on AVX-512 VNNI for byte forms,
     * on AVX2 any form */
    const struct ax_glr_ukernel *glr;
    /* LUT and LUTROW: the row-table kernel (lutrow.h), NULL when the ISA has
     * none; a LUT plan runs it when ax_lutrow_wanted says so. lut_name: the
     * LUT plan's other kernel(s). */
    const struct ax_lutrow_ukernel *lutrow;
    char lut_name[96];
    /* LUT and LUTROW: the transposed problem for small M (gemm.c, lutrow.c):
     * C^T[N x M] = sum_k T^T[w[k][n]*256 + a[m][k]], the weights' N rows as
     * activations and A's M rows as per-call weights. tp is a LUT plan of
     * the plain table T^T (act/wgt swapped; its planes, columns and colmin;
     * table_t = T itself for the row tables; never a linear base), on this
     * ISA's kernels; lut_name_t/lutrow_name_t are what ax_gemm_kernel_for
     * reports for it ("...^T"). */
    struct ax_gemm_plan *tp;
    char lut_name_t[112], lutrow_name_t[48];
    /* LUT over a linear base on AVX-512 VNNI: its grouped layers (more than
     * 4 channels per group) run the base c_w * a on the grouped kernel of
     * `base` (a LOWRANK plan of that one-term table, a byte form with row
     * corrections) and the residual E through `resid` (this plan without
     * its exact part: a LUT plan of E alone, no transposed or row-table
     * way, which serve T), accumulated (conv2d.c): the base's exact GEMM
     * wasted 7/8 of its lanes at 8 columns a group. NULL otherwise.
     * resid shares this plan's buffers; split_name: both kernels. */
    struct ax_gemm_plan *base, *resid;
    char split_name[112];
    /* The grouped and depthwise VNNI kernels' plan when the byte form has
     * row corrections that its signs swapped drop (ax_lowrank_swap_signs:
     * unsigned weight factors, a*w and a*c_w among them): this plan with lr
     * that form and dwlr its depthwise kernel (or NULL), nothing else of it
     * used; one block (the plan, then its lr), freed with free(). NULL
     * otherwise: those kernels take this plan. */
    struct ax_gemm_plan *s8u8;
};

/* How ax_gemm runs a LUT or LUTROW plan on one shape (ax_lut_choose, the
 * cost model of gemm_plan.c): the plan's own LUT kernel(s), the row-table
 * kernel, or either on the transposed problem (plan tp). */
typedef enum ax_lut_way { AX_LUT_OWN, AX_LUT_ROWS, AX_LUT_OWN_T, AX_LUT_ROWS_T } ax_lut_way;
ax_lut_way ax_lut_choose(const ax_gemm_plan *p, size_t M, size_t K, size_t N);

/* At most this many low-rank terms (lowrank.c). */
#define AX_LOWRANK_TERMS 8
/* An exact low-rank form T[a][w] = sum_{t < terms} amap[t][a] * wmap[t][w]
 * (int16 factors; t_form: factors of T itself, else the exact product and
 * the error). bytes: every factor spans at most 256 values, so f'_t(a) =
 * amap[t][a] - a_off[t] is a u8 and g'_t(w) = wmap[t][w] - w_off[t] an s8
 * (w_off[t] = 0 when wmap[t] fits s8 as it is; row_corr: some w_off is not
 * 0; a term that alone has one is term 0), and
 *   sum_k T = sum_k sum_t f'_t g'_t + sum_t a_off[t] sum_k g'_t      (per column)
 *           + sum_t w_off[t] sum_k f'_t                              (per row)
 *           + K sum_t a_off[t] w_off[t]                              (per column)
 * all modulo 2^32: the VNNI byte kernel's form.
 * Row terms, t in [terms, terms + row_terms) (byte forms only): a weight
 * factor constant, wmap[t][w] = w_off[t] (g'_t = 0), so the term adds a
 * function of the activation alone, w_off[t] f_t(a): the byte kernel sums
 * it per row while packing A and multiplies nothing (a table folded under
 * a weight zero point, F = T - zw*a, nn/layer_q.c, is T's form plus one).
 * Every other kernel runs them as ordinary terms: gemm_plan.c then counts
 * them in terms (row_terms 0). */
typedef struct ax_lowrank {
    int terms, row_terms;
    bool t_form, bytes, row_corr;
    int32_t a_off[AX_LOWRANK_TERMS], w_off[AX_LOWRANK_TERMS];
    int16_t amap[AX_LOWRANK_TERMS][256], wmap[AX_LOWRANK_TERMS][256];
    uint8_t abyte[AX_LOWRANK_TERMS][256]; /* bytes: f'_t(a) */
    int8_t wbyte[AX_LOWRANK_TERMS][256];  /* bytes: g'_t(w) */
    /* bytes: f'_t(a) = (a ^ axor[t]) & amask[t] for every a (axor 0 or the
     * sign bit: the identity, and signed forms that drop low bits such as
     * mul8s_1L2J's (a ^ 0x80) & 0xfe), one logic op where a table lookup
     * takes four */
    bool abits[AX_LOWRANK_TERMS];
    uint8_t axor[AX_LOWRANK_TERMS], amask[AX_LOWRANK_TERMS];
    /* bytes, signs swapped (ax_lowrank_swap_signs): abyte holds f'_t as
     * s8, wbyte g'_t as u8 (w_off 0), so vpdpbusd takes the weights as its
     * unsigned operand and no row corrections are left. Only the grouped
     * and depthwise VNNI kernels read this form (plan->s8u8). */
    bool acts_s8;
} ax_lowrank;
/* The form with the fewest terms (<= max_terms; ties: the byte form) of
 * T itself or of a*w + E, verified on all 65,536 entries; -1 when none. */
int ax_lowrank_factor(const ax_mult *m, int max_terms, ax_lowrank *out);
/* A form with factors wider than a byte (lr->bytes false) rewritten as a
 * byte form of more terms: multiples moved between its terms to narrow
 * their factors, then each wide factor split in two digits (at most
 * AX_LOWRANK_TERMS in all), for the VNNI byte kernel, which runs a term
 * 2-3x faster than int16 ones; verified on m's whole table. -1 when no
 * split fits: lr is then unchanged. */
int ax_lowrank_split_bytes(const ax_mult *m, ax_lowrank *lr);
/* A byte form with row corrections rewritten with its signs swapped
 * (acts_s8): every term's weight factor in [0, 255] and its activation
 * factor shifted into s8. Then
 *   sum_k T = sum_k sum_t f'_t g'_t + sum_t a_off[t] sum_k g'_t,
 * per column only: a*w with u8 weights (exact u8 x u8, the linear base
 * a*c_w of unsigned LUT plans) drops its row sums so. False, lr
 * unchanged, when some term does not fit or there are none to drop. */
bool ax_lowrank_swap_signs(ax_lowrank *lr);
/* A byte form of T - r(a), split as above, plus the row term r(a) = T[a][v0]
 * (v0 = 0x00 or 0x80), the one with fewer multiplied terms. mul8u_1SX: 4
 * terms and a row term where its split form has 5; a table folded under a
 * weight zero point (F = T' - zw*a, nn/layer_q.c) keeps T's split terms so,
 * zw*a a row term, which the VNNI byte kernel never multiplies. -1 when
 * neither column gives one. */
int ax_lowrank_row_split(const ax_mult *m, ax_lowrank *out);

struct ax_packed_weights {
    ax_path path;
    size_t K, N;
    size_t max_k;             /* the bound K was checked against at packing */
    const ax_gemm_plan *plan; /* identity check only */
    uint8_t *bt;              /* LUT: N x K weight bytes, column n at bt + n*K */
    /* LUT: bt packed as activation panels of the plan's tp (its lut
     * kernel's pack_a, panel i at i * panel_bytes(K)) for the transposed
     * problem; packed by the first ax_gemm that runs it, published
     * atomically (concurrent calls may share the weights). */
    _Atomic(uint8_t *) tpanels;
    uint32_t *corr;           /* LUT: sum_k colmin[B[k][n]]; EXACT: per-n term */
    uint8_t *bx;              /* EXACT: the kernel's weight layout */
    uint8_t *ob;              /* EXACT via oneDNN: K x N s8 (NULL: not for it) */
    /* LOWRANK with a long K: the weights as K-chunks (BLIS's kc) whose
     * int16 panels stay in L2; ax_gemm accumulates chunk after chunk. */
    size_t n_chunks, kc;
    struct ax_packed_weights **chunk;
};

/* gemm.c: G GEMMs of one M x K x N shape, group g reading A + g * a_step
 * (stride lda), weights W[g], writing C + g * c_step (stride ldc), as one
 * job (conv2d.c's groups); the same bits as G ax_gemm calls. */
int ax_gemm_groups(const ax_gemm_plan *p, size_t G, size_t M, const uint8_t *A, size_t lda, size_t a_step,
                   ax_packed_weights *const *W, int32_t *C, size_t ldc, size_t c_step, bool accumulate, int threads,
                   ax_error *err);

/* gemm.c: ax_gemm_groups for a LUT plan without an exact part, every
 * group's row panel packed beforehand in its kernel's layout (pack_a's or
 * pack_lines'), group g's at panels + g * gstep; M <= the kernel's mr. The
 * same bits as ax_gemm_groups. */
int ax_gemm_groups_panels(const ax_gemm_plan *p, size_t G, size_t M, const uint8_t *panels, size_t gstep,
                          ax_packed_weights *const *W, int32_t *C, size_t ldc, size_t c_step, bool accumulate,
                          int threads, ax_error *err);

/* gemm.c: ax_gemm with A's rows made per tile, as ax_gemm_blocks_rows
 * makes them, and C written in place (conv2d.c's im2col rows, never stored
 * whole). Only where the plan runs this M on tiles of its own
 * (ax_gemm_rows_fit: not K-chunks, oneDNN, row tables or the transposed
 * problem); the same bits as ax_gemm over the rows. */
bool ax_gemm_rows_fit(const ax_gemm_plan *p, size_t M, const ax_packed_weights *W);
int ax_gemm_rows(const ax_gemm_plan *p, size_t M, ax_gemm_rows_fn rows, void *rows_ctx, const ax_packed_weights *W,
                 int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err);

/* dwconv2d.c: a grouped convolution run directly (conv2d.c decides when);
 * wt: the weights as [out_c][tap] (tap = (ky*kw + kx)*cg + i), corr[o] =
 * sum over o's taps of p->dw_colmin (0 without). */
int ax_dwconv2d(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                const uint8_t *wt, const uint32_t *corr, int32_t *Y, bool accumulate, int threads, ax_error *err);
/* Whether the layer runs on p->dwlr, whose tasks are bands of output rows:
 * then ax_dwconv2d_bands computes each band into a buffer per thread and
 * hands it to fn at once (ax_conv2d_bands). */
bool ax_dwconv2d_has_bands(const ax_gemm_plan *p, const ax_conv2d_shape *s);
/* The name of the kernel ax_dwconv2d runs for this layer */
const char *ax_dwconv2d_kernel_name(const ax_gemm_plan *p, const ax_conv2d_shape *s);
int ax_dwconv2d_bands(const ax_gemm_plan *p, const ax_conv2d_shape *s, size_t oh, size_t ow, const uint8_t *X,
                      const uint8_t *wt, ax_conv2d_band_fn fn, void *ctx, int threads, ax_error *err);

/* cpu_caches.c: per-core cache sizes and physical cores (hwloc, else
 * sysconf, else defaults); the blocking follows them. */
typedef struct ax_cpu_caches {
    size_t l1d, l2;
    int cores;
    const char *source; /* "hwloc", "sysconf" or "defaults" */
} ax_cpu_caches;
const ax_cpu_caches *ax_cpu_caches_get(void);
/* Whether an int32 output of this many bytes (a whole layer's or GEMM's,
 * not a task's) goes past the caches by non-temporal stores: only when far
 * larger than them (8 L2s), where the stores were memory-bound; smaller
 * outputs are read back from the caches (the network runtime's calls stay
 * below: it hands tiles and bands over while in L2). */
static inline bool ax_output_streams(size_t bytes) { return bytes > 8 * ax_cpu_caches_get()->l2; }
static inline bool ax_dw_output_streams(const ax_conv2d_shape *s, size_t oh, size_t ow)
{
    return ax_output_streams(s->batch * oh * ow * s->out_c * sizeof(int32_t));
}
/* threads <= 0: $OMP_NUM_THREADS when set, else one per physical core */
int ax_default_threads(int threads);

void *ax_aligned_alloc(size_t align, size_t size); /* NULL on overflow/OOM */
/* -1 with a clear message when K products (plus extra) can leave int32. */
int ax_check_k(const ax_gemm_plan *p, size_t K, const ax_acc_extra *extra, const char *what, ax_error *err);
/* ax_gemm_pack_weights_ex; onednn false: never for oneDNN's GEMM, so
 * ax_gemm runs the plan's own kernel on them (conv2d.c's own route) */
int ax_gemm_pack_weights_for(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb,
                             const ax_acc_extra *extra, bool onednn, ax_packed_weights **out, ax_error *err);
bool ax_cpu_has_avx512vnni(void);
/* exact_onednn.c (stubs without oneDNN): whether oneDNN reproduces the exact
 * table `table` bit for bit on the probe, for the ISA in force; the weights
 * in its layout (w->bx); the GEMM. */
bool ax_onednn_verify(ax_gemm_plan *p, const int32_t *table);
int ax_onednn_pack(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, ax_packed_weights *w,
                   ax_error *err);
int ax_onednn_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err);

/* exact_conv_onednn.c (stubs without oneDNN): a conv layer as one oneDNN
 * int8 convolution primitive, for an EXACT plan with p->onednn, s8 weights
 * and a pad byte meaning 0 (conv2d.c checks those). create leaves *out NULL
 * (and returns 0) when oneDNN cannot serve the layer bit-exactly; run sets
 * *done only when it ran (else the caller runs its own path). */
typedef struct ax_onednn_conv ax_onednn_conv;
int ax_onednn_conv_create(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *W, ax_onednn_conv **out,
                          ax_error *err);
int ax_onednn_conv_run(ax_onednn_conv *c, const ax_conv2d_shape *s, const uint8_t *X, int32_t *Y, bool accumulate,
                       int threads, bool *done, ax_error *err);
void ax_onednn_conv_free(ax_onednn_conv *c);
/* conv2d.c: Y = the convolution of X by HWIO weights W on our own kernels
 * (the plan with oneDNN switched off): the oracle the primitive is checked
 * against. */
int ax_conv2d_oracle(const ax_gemm_plan *p, const ax_conv2d_shape *s, const uint8_t *X, const uint8_t *W, int32_t *Y,
                     int threads, ax_error *err);

/* Per-ISA descriptors (NULL when the build lacks them). */
extern const ax_lut_ukernel ax_lut_ukernel_scalar;
extern const ax_exact_ukernel ax_exact_ukernel_scalar;
extern const ax_exact_ukernel ax_lowrank_ukernel_scalar;
extern const ax_dw_ukernel ax_dw_ukernel_scalar;
#if defined(__x86_64__)
extern const ax_exact_ukernel ax_lowrank_ukernel_avx2;
extern const ax_exact_ukernel ax_lowrank_ukernel_avx512vnni;
extern const ax_exact_ukernel ax_lowrank_ukernel_u8s8_avx512vnni;
extern const ax_dw_ukernel ax_dw_ukernel_avx512vbmi;
extern const ax_dw_ukernel ax_dw_ukernel_avx2;
extern const ax_dwlr_ukernel ax_dwlr_ukernel_avx512vnni;
extern const ax_dwlr_ukernel ax_dwlr_ukernel_avx512vnni_s8u8; /* forms with their signs swapped (acts_s8) */
extern const ax_dwlr_ukernel ax_dwlr_ukernel_avx2;
void ax_lut_dwconv_3x3__avx2(const ax_gemm_plan *p, const uint8_t *const *src, const uint8_t *w, size_t sw, size_t n,
                             uint32_t *acc, bool add);
extern const ax_glr_ukernel ax_glr_ukernel_avx512vnni;
extern const ax_glr_ukernel ax_glr_ukernel_avx2;
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
