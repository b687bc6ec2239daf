/* kernel_check.c - the aarch64 kernel test: a small static driver (no
 * Criterion, no host-only libraries) that runs every GEMM path an aarch64
 * build has (NEON LUT; NEON exact: sdot/udot when the CPU has the
 * dot-product extension, else smull; NEON low-rank; AUTO; scalar LUT and
 * exact) against ax_gemm_reference, bit for bit, over random and edge tables
 * (exact of every operand type, 1-, 2- and 4-plane, negative, all-zero,
 * extreme, 255-byte planes, per-column offsets, rank 2, one factored term of
 * the table itself) and shapes (1, odd,
 * primes, K = 0 and past the 16-bit widening point, strides, accumulate),
 * plus ax_gemm_blocks and ax_gemm_blocks_rows (every element handed over
 * once, the same bits),
 * ax_conv2d on each path and which kernel the dispatch picked, on 1, 2
 * and 3 OpenMP threads; a K past the table's accumulator bound must be
 * refused. tests/neon/run.sh builds it with the kernels and
 * runs it under qemu-aarch64. Prints one line per failure and ends with
 * "neon: N passed, N failed"; exits 1 on any failure. */
#include "autoapprox/gemm.h"
#include "kernels/gemm_internal.h"
#include "lut/ax_internal.h"
#include "../gemm_blocks_gather.h"

#if !defined(__aarch64__) || !AX_HAVE_NEON
#error "kernel_check is the aarch64 NEON test: build and run it with tests/neon/run.sh"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers, tables, shapes ------------------------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef enum kind { EXACT, RAND8, RAND16, RAND32, NEGATIVE, ZERO, EXTREME, MAX_BYTES, COLUMN_OFFSET, TRUNC, RANK2, DROP1 } kind;

static void fill(ax_mult *m, kind k, ax_operand act, ax_operand wgt, const char *name)
{
    snprintf(m->name, sizeof m->name, "%s", name);
    m->act = act, m->wgt = wgt;
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        unsigned a = i >> 8, w = i & 255;
        int32_t exact = ax_exact_product(act, wgt, a, w), v = 0;
        switch (k) {
        case EXACT: v = exact; break;
        case RAND8: v = (int32_t)(rnd() % 256); break;
        case RAND16: v = (int32_t)(rnd() % 65536); break;
        case RAND32: v = (int32_t)(uint32_t)rnd(); break;
        case NEGATIVE: v = -1 - (int32_t)(rnd() % (1u << 20)); break;
        case ZERO: v = 0; break;
        case EXTREME: v = rnd() % 2 ? INT32_MAX : INT32_MIN; break;
        case MAX_BYTES: v = a == 0 ? 0 : 0xffff; break; /* every plane byte 255: widening at its limit */
        case COLUMN_OFFSET: v = (int32_t)(w * 8388593u) - (int32_t)(rnd() % 256); break;
        case TRUNC: v = exact & ~7; break;
        case RANK2: v = exact + (int32_t)((a & 3) * (w & 7)) - 5 * (int32_t)(((a >> 4) & 1) * ((w >> 2) & 3)); break;
        case DROP1: /* one term of the table itself, (a & ~1)(w & ~1): the mul8s_1L2J structure */
            v = (ax_operand_value(act, a) & ~1) * (ax_operand_value(wgt, w) & ~1);
            break;
        }
        m->table[i] = v;
    }
}

typedef struct shape {
    size_t M, N, K;
} shape;

/* 1, odd, primes, tails of 16/64 rows and 4/64 columns, K past 256 (the
 * widening point) and past 1000; ~8 M MACs per table and path. */
static const shape SHAPES[] = {{1, 1, 1},     {1, 7, 3},      {3, 5, 1},     {13, 17, 31},   {16, 4, 4},
                               {17, 5, 33},   {64, 64, 64},   {65, 3, 257},  {2, 67, 5},     {130, 9, 17},
                               {7, 3, 1000},  {67, 6, 1031},  {31, 70, 300}, {5, 2, 2053},   {129, 65, 256},
                               {97, 31, 1543}, {1, 131, 4099}, {3, 5, 0},
                               {8, 300, 77}}; /* small M: the transposed problem */

static int passed, failed;

/* One plan on one shape: random operands and strides, reference vs ax_gemm. */
/* A K past the accumulator bound must be refused, with the bound named. */
static void check_refused(const ax_mult *m, const ax_gemm_plan *p, size_t K, size_t N)
{
    uint8_t *B = calloc(K * N + 1, 1);
    ax_packed_weights *W = NULL;
    ax_error err = {{0}};
    if (B && ax_gemm_pack_weights(p, K, N, B, N, &W, &err) == -1 && !W && strstr(err.msg, "largest exact K")) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s %s: K=%zu past the bound %zu was not refused\n", m->name, ax_gemm_plan_kernel_name(p), K,
               ax_gemm_plan_max_k(p, 0));
    }
    ax_packed_weights_free(W);
    free(B);
}

static void check(const ax_mult *m, const ax_gemm_plan *p, shape s, bool acc, int threads)
{
    if (s.K > ax_gemm_plan_max_k(p, 0)) {
        check_refused(m, p, s.K, s.N);
        return;
    }
    size_t lda = s.K + rnd() % 3, ldb = s.N + rnd() % 3, ldc = s.N + rnd() % 3;
    uint8_t *A = malloc(s.M * lda + 1), *B = malloc(s.K * ldb + 1);
    int32_t *want = malloc(sizeof(int32_t) * s.M * ldc), *got = malloc(sizeof(int32_t) * s.M * ldc);
    ax_packed_weights *W = NULL;
    ax_error err = {{0}};
    bool ok = A && B && want && got;
    if (ok) {
        for (size_t i = 0; i < s.M * lda; i++) A[i] = (uint8_t)rnd();
        for (size_t i = 0; i < s.K * ldb; i++) B[i] = (uint8_t)rnd();
        for (size_t i = 0; i < s.M * ldc; i++) want[i] = (int32_t)rnd();
        memcpy(got, want, sizeof(int32_t) * s.M * ldc);
        ax_gemm_reference(m->table, s.M, s.N, s.K, A, lda, B, ldb, want, ldc, acc);
        ok = ax_gemm_pack_weights(p, s.K, s.N, B, ldb, &W, &err) == 0 &&
             ax_gemm(p, s.M, A, lda, W, got, ldc, acc, threads, &err) == 0;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; ok && i < s.M * ldc; i++)
        if (want[i] != got[i] && bad++ == 0) first = i;
    if (ok && bad == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s %s/%s M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu acc=%d threads=%d: ", m->name,
               ax_gemm_plan_kernel_name(p), ax_isa_name(ax_gemm_plan_isa(p)), s.M, s.N, s.K, lda, ldb, ldc, acc,
               threads);
        if (!ok) printf("error: %s\n", err.msg[0] ? err.msg : "out of memory");
        else printf("%zu mismatches, first at [%zu][%zu]: want %d got %d\n", bad, first / ldc, first % ldc,
                    want[first], got[first]);
    }
    ax_packed_weights_free(W);
    free(A), free(B), free(want), free(got);
}

/* ax_gemm_blocks (by_rows: ax_gemm_blocks_rows, A's rows made on demand):
 * the same C handed over tile by tile (each element once) */
static void check_blocks_once(const ax_mult *m, const ax_gemm_plan *p, shape s, int threads, bool by_rows)
{
    if (s.K > ax_gemm_plan_max_k(p, 0)) return;
    size_t lda = s.K + rnd() % 3, ldb = s.N + rnd() % 3;
    uint8_t *A = malloc(s.M * lda + 1), *B = malloc(s.K * ldb + 1);
    int32_t *want = malloc(sizeof(int32_t) * s.M * s.N + 1);
    gathered g = {.C = malloc(sizeof(int32_t) * s.M * s.N + 1), .seen = calloc(s.M * s.N + 1, sizeof(unsigned)),
                  .M = s.M, .N = s.N, .ldc = s.N};
    made_rows r = {.A = A, .lda = lda, .K = s.K, .M = s.M};
    ax_packed_weights *W = NULL;
    ax_error err = {{0}};
    bool ok = A && B && want && g.C && g.seen;
    if (ok) {
        for (size_t i = 0; i < s.M * lda; i++) A[i] = (uint8_t)rnd();
        for (size_t i = 0; i < s.K * ldb; i++) B[i] = (uint8_t)rnd();
        ax_gemm_reference(m->table, s.M, s.N, s.K, A, lda, B, ldb, want, s.N, false);
        ok = ax_gemm_pack_weights(p, s.K, s.N, B, ldb, &W, &err) == 0 &&
             (by_rows ? ax_gemm_blocks_rows(p, s.M, make_rows, &r, W, gather_block, &g, threads, &err)
                      : ax_gemm_blocks(p, s.M, A, lda, W, gather_block, &g, threads, &err)) == 0 &&
             !g.bad && !r.bad;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; ok && i < s.M * s.N; i++)
        if ((want[i] != g.C[i] || g.seen[i] != 1) && bad++ == 0) first = i;
    if (ok && bad == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s %s/%s blocks%s M=%zu N=%zu K=%zu threads=%d: ", m->name, ax_gemm_plan_kernel_name(p),
               ax_isa_name(ax_gemm_plan_isa(p)), by_rows ? " (rows made)" : "", s.M, s.N, s.K, threads);
        if (!ok)
            printf("error: %s\n", err.msg[0] ? err.msg
                                  : g.bad   ? "a block outside C"
                                  : r.bad   ? "rows asked for outside A"
                                            : "out of memory");
        else printf("%zu mismatches, first at [%zu][%zu]: want %d got %d (handed over %u times)\n", bad,
                    first / s.N, first % s.N, want[first], g.C[first], g.seen[first]);
    }
    ax_packed_weights_free(W);
    free(A), free(B), free(want), free(g.C), free(g.seen);
}

static void check_blocks(const ax_mult *m, const ax_gemm_plan *p, shape s, int threads)
{
    check_blocks_once(m, p, s, threads, false);
    check_blocks_once(m, p, s, threads, true);
}

/* ax_conv2d (im2col chunks or in-place 1x1 on top of the GEMM) against
 * ax_conv2d_reference: padding, stride, dilation, groups, depthwise. */
static const ax_conv2d_shape CONVS[] = {
    {.batch = 2, .in_h = 7, .in_w = 6, .in_c = 5, .out_c = 6, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
     .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1,
     .groups = 1},
    {.batch = 1, .in_h = 11, .in_w = 9, .in_c = 4, .out_c = 3, .kernel_h = 3, .kernel_w = 2, .stride_h = 2,
     .stride_w = 3, .dilation_h = 2, .dilation_w = 1, .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 3,
     .groups = 1, .pad_byte = 3},
    {.batch = 1, .in_h = 9, .in_w = 9, .in_c = 8, .out_c = 8, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
     .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1,
     .groups = 8, .pad_byte = 128},
    {.batch = 3, .in_h = 5, .in_w = 7, .in_c = 33, .out_c = 17, .kernel_h = 1, .kernel_w = 1, .stride_h = 1,
     .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 1},
    {.batch = 1, .in_h = 6, .in_w = 5, .in_c = 6, .out_c = 4, .kernel_h = 2, .kernel_w = 2, .stride_h = 1,
     .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 2},
};

static void check_conv(const ax_mult *m, const ax_gemm_plan *p, const ax_conv2d_shape *s, bool acc, int threads)
{
    ax_error err = {{0}};
    size_t oh = 0, ow = 0;
    bool ok = ax_conv2d_output_size(s, &oh, &ow, &err) == 0;
    size_t nx = s->batch * s->in_h * s->in_w * s->in_c, ny = s->batch * oh * ow * s->out_c;
    size_t nw = s->kernel_h * s->kernel_w * (s->in_c / s->groups) * s->out_c;
    uint8_t *X = malloc(nx), *W = malloc(nw);
    int32_t *want = malloc(sizeof(int32_t) * (ny ? ny : 1)), *got = malloc(sizeof(int32_t) * (ny ? ny : 1));
    ax_conv2d_weights *cw = NULL;
    ok = ok && X && W && want && got;
    if (ok) {
        for (size_t i = 0; i < nx; i++) X[i] = (uint8_t)rnd();
        for (size_t i = 0; i < nw; i++) W[i] = (uint8_t)rnd();
        for (size_t i = 0; i < ny; i++) want[i] = (int32_t)rnd();
        memcpy(got, want, sizeof(int32_t) * ny);
        ax_conv2d_reference(m->table, s, X, W, want, acc);
        if (s->kernel_h * s->kernel_w * (s->in_c / s->groups) > ax_gemm_plan_max_k(p, 0)) { /* refused */
            ok = ax_conv2d_pack_weights(p, s, W, &cw, &err) == -1 && strstr(err.msg, "largest exact K");
            memcpy(got, want, sizeof(int32_t) * ny);
        } else {
            ok = ax_conv2d_pack_weights(p, s, W, &cw, &err) == 0 &&
                 ax_conv2d(p, s, X, cw, got, acc, threads, &err) == 0;
        }
    }
    size_t bad = 0;
    for (size_t i = 0; ok && i < ny; i++) bad += want[i] != got[i];
    if (ok && bad == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s %s/%s conv %zux%zux%zu -> %zu, %zux%zu kernel, groups %zu: %s%zu mismatches\n", m->name,
               ax_gemm_plan_kernel_name(p), ax_isa_name(ax_gemm_plan_isa(p)), s->in_h, s->in_w, s->in_c, s->out_c,
               s->kernel_h, s->kernel_w, s->groups, ok ? "" : err.msg, bad);
    }
    ax_conv2d_weights_free(cw);
    free(X), free(W), free(want), free(got);
}

/* The kernel dispatch must pick the NEON kernel of the plan's path, and for
 * EXACT the dot-product one exactly when the CPU reports FEAT_DotProd. */
static void check_dispatch(const ax_gemm_plan *p, const char *table)
{
    ax_path path = ax_gemm_plan_path(p);
    const char *want = path == AX_PATH_LUT         ? ax_lut_ukernel_neon.name
                       : path == AX_PATH_LOWRANK   ? ax_lowrank_ukernel_neon.name
                       : ax_cpu_has_neon_dotprod() ? ax_exact_ukernel_neondot.name
                                                   : ax_exact_ukernel_neon.name;
    if (strcmp(ax_gemm_plan_kernel_name(p), want) == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s neon/%s: dispatched %s, want %s\n", table, ax_path_name(ax_gemm_plan_path(p)),
               ax_gemm_plan_kernel_name(p), want);
    }
}

/* Every path this build and CPU offer for the table, on every shape: LUT,
 * EXACT for exact tables, LOWRANK for exact and low-rank ones, and AUTO
 * (whatever the plan picks, on a few shapes); scalar LUT and EXACT next to
 * them (scalar LOWRANK and AUTO are the x86 suites' business). */
static void check_table(const ax_mult *m, bool low_rank)
{
    const ax_isa isas[] = {AX_ISA_NEON, AX_ISA_SCALAR};
    const ax_path paths[] = {AX_PATH_LUT, AX_PATH_EXACT, AX_PATH_LOWRANK, AX_PATH_AUTO};
    bool exact = ax_mult_is_exact(m);
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 4; j++) {
            if (paths[j] == AX_PATH_EXACT && !exact) continue;
            if (paths[j] == AX_PATH_LOWRANK && !exact && !low_rank) continue;
            if (isas[i] == AX_ISA_SCALAR && (paths[j] == AX_PATH_LOWRANK || paths[j] == AX_PATH_AUTO)) continue;
            size_t n_shapes = paths[j] == AX_PATH_AUTO ? 4 : sizeof SHAPES / sizeof *SHAPES;
            size_t n_convs = paths[j] == AX_PATH_AUTO ? 1 : sizeof CONVS / sizeof *CONVS;
            ax_gemm_plan *p = NULL;
            ax_error err = {{0}};
            if (ax_gemm_plan_create(m, isas[i], paths[j], &p, &err) != 0) {
                failed++;
                printf("FAIL %s %s/%s: plan: %s\n", m->name, ax_path_name(paths[j]), ax_isa_name(isas[i]), err.msg);
                continue;
            }
            if (isas[i] == AX_ISA_NEON) check_dispatch(p, m->name);
            for (size_t s = 0; s < n_shapes; s++) check(m, p, SHAPES[s], s % 2, 1 + (int)(s % 3));
            for (size_t s = 0; s < n_shapes; s += 2) check_blocks(m, p, SHAPES[s], 1 + (int)(s / 2 % 3));
            for (size_t s = 0; s < n_convs; s++) check_conv(m, p, &CONVS[s], s % 2, 1 + (int)(s % 3));
            printf("ok   %-14s %-6s %-7s %-7s %-28s planes=%d\n", m->name, ax_isa_name(isas[i]),
                   ax_path_name(paths[j]), ax_path_name(ax_gemm_plan_path(p)), ax_gemm_plan_kernel_name(p),
                   ax_gemm_plan_planes(p));
            ax_gemm_plan_free(p);
        }
}

/* Usage: kernel_check [--exact-tables]: the option limits the run to the
 * exact tables (what a CPU without the dot-product extension changes). */
int main(int argc, char **argv)
{
    bool exact_only = argc > 1 && strcmp(argv[1], "--exact-tables") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("neon: CPU dot product (HWCAP_ASIMDDP): %s\n", ax_cpu_has_neon_dotprod() ? "yes" : "no");
    if (!ax_cpu_supports(AX_ISA_NEON)) {
        printf("neon: this build or CPU has no NEON kernels\nneon: 0 passed, 1 failed\n");
        return 1;
    }
    static const struct {
        kind k;
        ax_operand act, wgt;
        const char *name;
    } tables[] = {
        {EXACT, AX_S8, AX_S8, "exact-s8"},   {EXACT, AX_U8, AX_U8, "exact-u8"},
        {EXACT, AX_U8, AX_S8, "exact-u8s8"}, {EXACT, AX_S8, AX_U8, "exact-s8u8"},
        {RAND8, AX_S8, AX_S8, "rand-1plane"}, {RAND16, AX_U8, AX_U8, "rand-2plane"},
        {RAND32, AX_S8, AX_S8, "rand-int32"}, {NEGATIVE, AX_S8, AX_S8, "negative"},
        {ZERO, AX_S8, AX_S8, "zero"},         {EXTREME, AX_S8, AX_S8, "extreme"},
        {MAX_BYTES, AX_U8, AX_U8, "max-bytes"},
        {COLUMN_OFFSET, AX_U8, AX_S8, "col-offset"}, {TRUNC, AX_S8, AX_S8, "trunc-s8:k=3"},
        {RANK2, AX_S8, AX_S8, "rank2-s8"},    {RANK2, AX_U8, AX_S8, "rank2-u8s8"},
        {DROP1, AX_S8, AX_S8, "drop1-s8"},    {DROP1, AX_U8, AX_U8, "drop1-u8"},
    };
    ax_mult *m = malloc(sizeof *m);
    if (!m) return 1;
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        if (exact_only && tables[t].k != EXACT) continue;
        memset(m, 0, sizeof *m);
        fill(m, tables[t].k, tables[t].act, tables[t].wgt, tables[t].name);
        check_table(m, tables[t].k == RANK2 || tables[t].k == DROP1);
    }
    free(m);
    printf("neon: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
