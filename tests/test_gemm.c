/* test_gemm.c - every GEMM path this machine can run (ISA x path, XNNPACK
 * style: one generic body drives them all: LUT everywhere, EXACT for exact
 * tables, LOWRANK wherever the table has that form; on AVX-512 the LUT over a
 * linear base for near-exact tables) against ax_gemm_reference, bit for
 * bit: shapes with 1, primes, tails of every vector width, AVX-512 LUT
 * panels of 1-10 blocks of 64 rows (sub-panels 5 + 5, 4 + 3) and a second
 * panel, K past the 16-bit
 * widening point and past the LOWRANK K-chunk; strides; accumulate on/off;
 * 1, 2 and 3 threads; exact, random (1 to 4 byte planes), negative, extreme,
 * near-exact, low-rank, family and EvoApproxLib tables. Plus the plan's
 * errors and choices. Sizes shrink under sanitizers (AX_TEST_REDUCED). */
#include <criterion/criterion.h>

#include "autoapprox/gemm.h"
#include "ax_config.h"
#include "gemm_blocks_gather.h"
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { AX_MAX_TERMS_LOG = 8 };

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

typedef struct shape {
    size_t M, N, K;
} shape;

static const shape FULL[] = {{1, 1, 1},     {1, 7, 3},      {3, 5, 1},     {13, 17, 31},  {64, 64, 64},
                             {65, 3, 257},  {257, 19, 300}, {97, 131, 5},  {256, 1, 513}, {511, 2, 64},
                             {2, 200, 77},  {300, 70, 1031}, {67, 9, 2053}, {392, 5, 70}, {577, 4, 33},
                             {700, 3, 97},  {4, 5, 0},
                             /* small M, large N: the transposed problem (LUT, LUTROW) */
                             {1, 40, 100},  {1, 300, 64},   {2, 257, 33},  {7, 200, 130}, {8, 333, 257},
                             {13, 129, 17}, {8, 520, 300}};
static const shape REDUCED[] = {{1, 1, 1}, {3, 5, 1}, {13, 17, 31}, {65, 3, 257}, {70, 9, 600}, {392, 3, 20},
                                {4, 5, 0}, {1, 40, 100}, {7, 130, 67}};

/* The variants this CPU supports for a multiplier: LUT everywhere, EXACT
 * where the table is exact, LOWRANK where the table has that form, LUTROW
 * (the row-table kernel on every shape) on AVX2 and AVX-512. */
static int variants(const ax_mult *m, ax_isa isas[], ax_path paths[])
{
    int n = 0;
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_NEON; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        isas[n] = isa, paths[n++] = AX_PATH_LUT;
        if (ax_mult_is_exact(m)) isas[n] = isa, paths[n++] = AX_PATH_EXACT;
        /* our own exact kernel where EXACT may run oneDNN */
        if (ax_mult_is_exact(m) && (isa == AX_ISA_AVX2 || isa == AX_ISA_AVX512)) isas[n] = isa, paths[n++] = AX_PATH_EXACT_OWN;
        ax_gemm_plan *p = NULL;
        ax_error err;
        if (ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &p, &err) == 0) isas[n] = isa, paths[n++] = AX_PATH_LOWRANK;
        ax_gemm_plan_free(p);
        p = NULL;
        if (ax_gemm_plan_create(m, isa, AX_PATH_LUTROW, &p, &err) == 0) isas[n] = isa, paths[n++] = AX_PATH_LUTROW;
        ax_gemm_plan_free(p);
    }
    return n;
}

/* ax_gemm_blocks (or, by_rows, ax_gemm_blocks_rows with A's rows made on
 * demand) against the reference (want: C = A x W, not accumulated) */
static void check_blocks_once(const ax_mult *m, const ax_gemm_plan *p, const ax_packed_weights *W, shape s,
                              const uint8_t *A, size_t lda, const int32_t *want, size_t ldc, int threads, bool by_rows)
{
    gathered g = {.C = malloc(sizeof(int32_t) * s.M * ldc + 1), .seen = calloc(s.M * s.N + 1, sizeof(unsigned)),
                  .M = s.M, .N = s.N, .ldc = ldc};
    cr_assert(g.C && g.seen);
    ax_error err = {{0}};
    made_rows r = {.A = A, .lda = lda, .K = s.K, .M = s.M};
    if (by_rows) {
        cr_assert_eq(ax_gemm_blocks_rows(p, s.M, make_rows, &r, W, gather_block, &g, threads, &err), 0, "%s", err.msg);
        cr_assert_eq(r.bad, 0, "%s %s: rows asked for outside A", m->name, ax_gemm_plan_kernel_name(p));
        cr_assert(s.M == 0 || s.N == 0 || r.made > 0, "%s %s: no rows made", m->name, ax_gemm_plan_kernel_name(p));
    } else {
        cr_assert_eq(ax_gemm_blocks(p, s.M, A, lda, W, gather_block, &g, threads, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(g.bad, 0, "%s %s: a block outside C", m->name, ax_gemm_plan_kernel_name(p));
    for (size_t i = 0; i < s.M; i++)
        for (size_t j = 0; j < s.N; j++) {
            if (g.seen[i * s.N + j] != 1)
                cr_assert_fail("%s %s/%s kernel %s: M=%zu N=%zu K=%zu threads=%d%s: blocks gave C[%zu][%zu] %u times",
                               m->name, ax_isa_name(ax_gemm_plan_isa(p)), ax_path_name(ax_gemm_plan_path(p)),
                               ax_gemm_plan_kernel_name(p), s.M, s.N, s.K, threads, by_rows ? ", rows made" : "", i, j,
                               g.seen[i * s.N + j]);
            if (g.C[i * ldc + j] != want[i * ldc + j])
                cr_assert_fail("%s %s/%s kernel %s: M=%zu N=%zu K=%zu threads=%d%s: blocks' C[%zu][%zu] = %d, "
                               "reference %d",
                               m->name, ax_isa_name(ax_gemm_plan_isa(p)), ax_path_name(ax_gemm_plan_path(p)),
                               ax_gemm_plan_kernel_name(p), s.M, s.N, s.K, threads, by_rows ? ", rows made" : "", i,
                               j, g.C[i * ldc + j], want[i * ldc + j]);
        }
    free(g.C), free(g.seen);
}

static void check_blocks(const ax_mult *m, const ax_gemm_plan *p, const ax_packed_weights *W, shape s,
                         const uint8_t *A, size_t lda, const int32_t *want, size_t ldc, int threads)
{
    check_blocks_once(m, p, W, s, A, lda, want, ldc, threads, false);
    check_blocks_once(m, p, W, s, A, lda, want, ldc, threads, true);
}

/* A K past the accumulator bound: every plan refuses to pack it. */
static void check_refused(const ax_mult *m, ax_gemm_plan *const plans[], int n_plans, size_t K, size_t N)
{
    uint8_t *B = calloc(K * N + 1, 1);
    cr_assert(B);
    for (int v = 0; v < n_plans; v++) {
        ax_error err = {{0}};
        ax_packed_weights *W = NULL;
        cr_assert_eq(ax_gemm_pack_weights(plans[v], K, N, B, N, &W, &err), -1, "%s %s: K=%zu packed", m->name,
                     ax_gemm_plan_kernel_name(plans[v]), K);
        cr_assert_null(W);
        cr_assert(strstr(err.msg, "too long") && strstr(err.msg, "largest exact K"), "%s", err.msg);
    }
    free(B);
}

static void check_shape(const ax_mult *m, ax_gemm_plan *const plans[], int n_plans, shape s, bool acc)
{
    if (n_plans && s.K > ax_gemm_plan_max_k(plans[0], 0)) {
        check_refused(m, plans, n_plans, s.K, s.N);
        return;
    }
    size_t lda = s.K + (rnd() % 2 ? 3 : 0), ldb = s.N + (rnd() % 2 ? 2 : 0), ldc = s.N + (rnd() % 2 ? 5 : 0);
    uint8_t *A = malloc(s.M * lda), *B = malloc(s.K * ldb);
    int32_t *want = malloc(sizeof(int32_t) * s.M * ldc), *got = malloc(sizeof(int32_t) * s.M * ldc);
    cr_assert(A && B && want && got);
    for (size_t i = 0; i < s.M * lda; i++) A[i] = (uint8_t)rnd();
    for (size_t i = 0; i < s.K * ldb; i++) B[i] = (uint8_t)rnd();
    for (size_t i = 0; i < s.M * ldc; i++) want[i] = (int32_t)rnd();
    int32_t *init = malloc(sizeof(int32_t) * s.M * ldc);
    memcpy(init, want, sizeof(int32_t) * s.M * ldc);
    ax_gemm_reference(m->table, s.M, s.N, s.K, A, lda, B, ldb, want, ldc, acc);
    for (int v = 0; v < n_plans; v++) {
        ax_error err = {{0}};
        ax_packed_weights *W = NULL;
        cr_assert_eq(ax_gemm_pack_weights(plans[v], s.K, s.N, B, ldb, &W, &err), 0, "%s", err.msg);
        for (int threads = 1; threads <= 3; threads++) {
            memcpy(got, init, sizeof(int32_t) * s.M * ldc);
            cr_assert_eq(ax_gemm(plans[v], s.M, A, lda, W, got, ldc, acc, threads, &err), 0, "%s", err.msg);
            for (size_t i = 0; i < s.M; i++)
                for (size_t j = 0; j < ldc; j++)
                    if (got[i * ldc + j] != want[i * ldc + j])
                        cr_assert_fail("%s %s/%s kernel %s: M=%zu N=%zu K=%zu acc=%d threads=%d: C[%zu][%zu] = %d, "
                                 "reference %d",
                                 m->name, ax_isa_name(ax_gemm_plan_isa(plans[v])),
                                 ax_path_name(ax_gemm_plan_path(plans[v])), ax_gemm_plan_kernel_name(plans[v]),
                                 s.M, s.N, s.K, (int)acc, threads, i, j, got[i * ldc + j], want[i * ldc + j]);
        }
        if (!acc) /* the same C handed over block by block */
            for (int threads = 1; threads <= 3; threads += 2)
                check_blocks(m, plans[v], W, s, A, lda, want, ldc, threads);
        ax_packed_weights_free(W);
    }
    free(A), free(B), free(want), free(got), free(init);
}

/* The generic body: every supported (ISA, path) on every shape. */
static void check_mult(const ax_mult *m, uint64_t seed)
{
    rng_state = seed | 1;
    ax_isa isas[16];
    ax_path paths[16];
    ax_gemm_plan *plans[16];
    int n = variants(m, isas, paths);
    for (int v = 0; v < n; v++) {
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, isas[v], paths[v], &plans[v], &err), 0, "%s", err.msg);
        cr_assert_eq(ax_gemm_plan_isa(plans[v]), isas[v]);
        cr_assert_eq(ax_gemm_plan_path(plans[v]), paths[v] == AX_PATH_EXACT_OWN ? AX_PATH_EXACT : paths[v]);
    }
    bool red = ax_test_reduced();
    const shape *sh = red ? REDUCED : FULL;
    size_t ns = red ? sizeof REDUCED / sizeof *REDUCED : sizeof FULL / sizeof *FULL;
    for (size_t i = 0; i < ns; i++) {
        check_shape(m, plans, n, sh[i], false);
        check_shape(m, plans, n, sh[i], true);
    }
    for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
}

static ax_mult *exact_mult(ax_operand act, ax_operand wgt)
{
    ax_mult *m = ax_mult_new();
    cr_assert_not_null(m);
    m->act = act, m->wgt = wgt;
    snprintf(m->name, sizeof m->name, "exact-%s%s", ax_operand_name(act), act == wgt ? "" : ax_operand_name(wgt));
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = ax_exact_product(act, wgt, i >> 8, i & 255);
    return m;
}

/* A table of uniform values in [lo, lo + span). */
static ax_mult *random_mult(const char *name, int64_t lo, uint64_t span, uint64_t seed)
{
    ax_mult *m = ax_mult_new();
    cr_assert_not_null(m);
    snprintf(m->name, sizeof m->name, "%s", name);
    rng_state = seed;
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)(lo + (int64_t)(rnd() % span));
    return m;
}

static void check_and_free(ax_mult *m, uint64_t seed)
{
    check_mult(m, seed);
    ax_mult_free(m);
}

static void check_family(const char *spec, int planes_at_least)
{
    ax_mult *m = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_from_family_spec(spec, &m, &err), 0, "%s: %s", spec, err.msg);
    ax_gemm_plan *p = NULL;
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    cr_assert_geq(ax_gemm_plan_planes(p), planes_at_least, "%s", spec);
    ax_gemm_plan_free(p);
    check_and_free(m, 0x5eed);
}

Test(gemm, exact_s8) { check_and_free(exact_mult(AX_S8, AX_S8), 1); }
Test(gemm, exact_u8) { check_and_free(exact_mult(AX_U8, AX_U8), 2); }
Test(gemm, exact_u8s8) { check_and_free(exact_mult(AX_U8, AX_S8), 3); }
Test(gemm, exact_s8u8) { check_and_free(exact_mult(AX_S8, AX_U8), 4); }
/* oneDNN (kernels/exact_onednn.c): EXACT and AUTO on AVX-512 run it when
 * it passes the plan's probe (here: AVX-512 VNNI or AMX, no saturation);
 * EXACT_OWN keeps our VNNI kernel. The generic body above checks both. */
Test(gemm, onednn_plan)
{
    if (!AX_HAVE_ONEDNN || !ax_cpu_supports(AX_ISA_AVX512)) return;
    ax_operand ops[][2] = {{AX_S8, AX_S8}, {AX_U8, AX_U8}, {AX_U8, AX_S8}, {AX_S8, AX_U8}};
    for (size_t i = 0; i < 4; i++) {
        ax_mult *m = exact_mult(ops[i][0], ops[i][1]);
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        for (ax_path path = AX_PATH_AUTO; path <= AX_PATH_EXACT_OWN; path++) {
            if (path == AX_PATH_LUT || path == AX_PATH_LOWRANK || path == AX_PATH_LUTROW) continue;
            cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX512, path, &p, &err), 0, "%s", err.msg);
            cr_assert_eq(ax_gemm_plan_path(p), AX_PATH_EXACT);
            cr_assert_str_eq(ax_gemm_plan_kernel_name(p),
                             path == AX_PATH_EXACT_OWN ? "exact_gemm_6x64__avx512vnni" : "exact_gemm__onednn", "%s %s",
                             m->name, ax_path_name(path));
            ax_gemm_plan_free(p);
        }
        ax_mult_free(m);
    }
}
/* AX_ONEDNN=always: every shape through oneDNN (the cost model otherwise
 * keeps narrow and short GEMMs on our kernel), also at the K bound;
 * AX_ONEDNN=never: our kernel everywhere */
static void check_bound(const ax_mult *m, ax_path path, size_t M, size_t N);
Test(gemm, onednn_every_shape)
{
    setenv("AX_ONEDNN", "always", 1);
    check_and_free(exact_mult(AX_S8, AX_S8), 51);
    check_and_free(exact_mult(AX_U8, AX_U8), 52);
    check_and_free(exact_mult(AX_U8, AX_S8), 53);
    check_and_free(exact_mult(AX_S8, AX_U8), 54);
    ax_mult *m = exact_mult(AX_U8, AX_U8); /* 255 * 255: bound 33025 */
    check_bound(m, AX_PATH_EXACT, 2, 3);
    ax_mult_free(m);
    setenv("AX_ONEDNN", "never", 1);
    m = exact_mult(AX_S8, AX_S8);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AUTO, AX_PATH_EXACT, &p, &err), 0, "%s", err.msg);
    cr_assert(!strstr(ax_gemm_plan_kernel_name(p), "onednn"), "%s", ax_gemm_plan_kernel_name(p));
    ax_gemm_plan_free(p);
    ax_mult_free(m);
    unsetenv("AX_ONEDNN");
}
/* AX_ISA=avx2 limits oneDNN to AVX2 for the whole process (the first
 * limit wins). oneDNN's u8 x s8 GEMM without VNNI saturates int16 pair
 * sums: the probe rejects it, and every plan, AVX-512 ones included, falls
 * back to our own exact kernel, still bit-exact. */
Test(gemm, onednn_avx2_fallback)
{
    if (!ax_cpu_supports(AX_ISA_AVX2)) return;
    setenv("AX_ISA", "avx2", 1);
    ax_mult *m = exact_mult(AX_S8, AX_S8);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AUTO, AX_PATH_AUTO, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_isa(p), AX_ISA_AVX2);
    cr_assert_str_eq(ax_gemm_plan_kernel_name(p), "exact_gemm_4x16__avx2");
    ax_gemm_plan_free(p);
    if (ax_cpu_supports(AX_ISA_AVX512)) {
        cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_EXACT, &p, &err), 0, "%s", err.msg);
        cr_assert_str_eq(ax_gemm_plan_kernel_name(p), "exact_gemm_6x64__avx512vnni");
        ax_gemm_plan_free(p);
    }
    check_and_free(m, 42);
    unsetenv("AX_ISA");
}
Test(gemm, one_plane) { check_and_free(random_mult("rand-1plane", -60, 256, 11), 5); }
Test(gemm, two_planes) { check_and_free(random_mult("rand-u16", 0, 65536, 12), 6); }
Test(gemm, three_planes) { check_and_free(random_mult("rand-u24", -5000000, 1 << 24, 13), 7); }
Test(gemm, four_planes) { check_and_free(random_mult("rand-i26", -(1 << 24), 1 << 25, 18), 19); }
Test(gemm, full_int32) { check_and_free(random_mult("rand-i32", INT32_MIN, 1ull << 32, 14), 8); }
Test(gemm, negative_offset)
{
    ax_mult *m = exact_mult(AX_S8, AX_S8);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] -= 1000003;
    snprintf(m->name, sizeof m->name, "exact-s8-minus-1000003");
    check_and_free(m, 9);
}
/* exact plus a small error: on AVX-512 the LUT runs on the residual over a
 * linear base (fewer planes) plus an exact GEMM */
static ax_mult *near_exact(ax_operand act, ax_operand wgt, int lo, unsigned span, uint64_t seed)
{
    ax_mult *m = exact_mult(act, wgt);
    rng_state = seed;
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] += lo + (int)(rnd() % span);
    snprintf(m->name, sizeof m->name, "near-exact-%s%s", ax_operand_name(act), ax_operand_name(wgt));
    return m;
}
Test(gemm, near_exact_s8) { check_and_free(near_exact(AX_S8, AX_S8, -40, 140, 21), 22); }
Test(gemm, near_exact_u8) { check_and_free(near_exact(AX_U8, AX_U8, 0, 200, 23), 24); }
Test(gemm, near_exact_u8s8) { check_and_free(near_exact(AX_U8, AX_S8, -100, 256, 25), 26); }
Test(gemm, near_exact_s8u8) { check_and_free(near_exact(AX_S8, AX_U8, -3, 7, 27), 28); }
Test(gemm, linear_base_plan)
{
    if (!ax_cpu_supports(AX_ISA_AVX512)) return;
    ax_mult *m = near_exact(AX_S8, AX_S8, -40, 140, 21);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_planes(p), 1);
    cr_assert(strchr(ax_gemm_plan_kernel_name(p), '+'), "%s", ax_gemm_plan_kernel_name(p));
    ax_gemm_plan_free(p);
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_planes(p), 2);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}
/* the linear base's slope: value(w) with range 0 on exact tables; on a
 * near-exact and a random table the smallest range over every slope of
 * the weight type (brute force), so the convex walk misses nothing */
static uint64_t range_at(const ax_mult *m, unsigned w, int c)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (unsigned a = 0; a < 256; a++) {
        int64_t e = (int64_t)m->table[a * 256 + w] - (int64_t)c * ax_operand_value(m->act, a);
        lo = e < lo ? e : lo, hi = e > hi ? e : hi;
    }
    return (uint64_t)(hi - lo);
}
static uint64_t brute_residual(const ax_mult *m, unsigned w)
{
    uint64_t best = UINT64_MAX;
    for (int c = m->wgt == AX_S8 ? -128 : 0; c <= (m->wgt == AX_S8 ? 127 : 255); c++)
        if (range_at(m, w, c) < best) best = range_at(m, w, c);
    return best;
}
Test(gemm, linear_residual)
{
    const ax_operand ops[4][2] = {{AX_S8, AX_S8}, {AX_U8, AX_U8}, {AX_U8, AX_S8}, {AX_S8, AX_U8}};
    for (int i = 0; i < 4; i++) {
        ax_mult *m = exact_mult(ops[i][0], ops[i][1]);
        for (unsigned w = 0; w < 256; w++) {
            int c = 1000;
            cr_assert_eq(ax_gemm_linear_residual(m, w, &c), 0, "%s w %u", m->name, w);
            cr_assert_eq(c, ax_operand_value(m->wgt, w), "%s w %u", m->name, w);
        }
        ax_mult_free(m);
    }
    ax_mult *tables[2] = {near_exact(AX_U8, AX_S8, -100, 256, 25), random_mult("rand-u16", 0, 65536, 12)};
    for (int i = 0; i < 2; i++) {
        for (unsigned w = 0; w < 256; w++) {
            int c;
            uint64_t r = ax_gemm_linear_residual(tables[i], w, &c);
            cr_assert_eq(r, brute_residual(tables[i], w), "%s w %u", tables[i]->name, w);
            cr_assert_eq(range_at(tables[i], w, c), r, "%s w %u: the slope returned gives the range returned",
                         tables[i]->name, w);
        }
        ax_mult_free(tables[i]);
    }
}
/* exact plus sum_r u_r(a) v_r(w) with random small integers (su = 0: u_r
 * is bit r of a, as when partial-product bits are dropped): the LOWRANK
 * path must find a form and reproduce it */
static ax_mult *low_rank(ax_operand act, ax_operand wgt, int rank, int scale, int su, int sv, uint64_t seed)
{
    ax_mult *m = exact_mult(act, wgt);
    rng_state = seed;
    for (int r = 0; r < rank; r++) {
        int u[256], v[256];
        for (int i = 0; i < 256; i++)
            u[i] = su ? (int)(rnd() % (2 * su + 1)) - su : (i >> r) & 1, v[i] = (int)(rnd() % (2 * sv + 1)) - sv;
        for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] += scale * (r + 1) * u[i >> 8] * v[i & 255];
    }
    snprintf(m->name, sizeof m->name, "lowrank%d-%s%s", rank, ax_operand_name(act), ax_operand_name(wgt));
    return m;
}
static void check_lowrank(ax_mult *m, uint64_t seed)
{
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LOWRANK, &p, &err), 0, "%s: %s", m->name, err.msg);
    cr_assert_eq(ax_gemm_plan_path(p), AX_PATH_LOWRANK);
    ax_gemm_plan_free(p);
    check_and_free(m, seed);
}
Test(gemm, lowrank1_s8) { check_lowrank(low_rank(AX_S8, AX_S8, 1, 1, 30, 20, 31), 32); }
Test(gemm, lowrank2_u8) { check_lowrank(low_rank(AX_U8, AX_U8, 2, 3, 30, 20, 33), 34); }
Test(gemm, lowrank4_u8s8) { check_lowrank(low_rank(AX_U8, AX_S8, 4, 1, 0, 15, 35), 36); }
Test(gemm, lowrank_errors)
{
    ax_mult *m = random_mult("rand", 0, 1 << 20, 37);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LOWRANK, &p, &err), -1);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "low-rank"), "%s", err.msg);
    ax_mult_free(m);
    /* AUTO on AVX2 takes LOWRANK for a rank-1 table */
    if (ax_cpu_supports(AX_ISA_AVX2)) {
        m = low_rank(AX_S8, AX_S8, 1, 1, 30, 20, 38);
        cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX2, AX_PATH_AUTO, &p, &err), 0, "%s", err.msg);
        cr_assert_eq(ax_gemm_plan_path(p), AX_PATH_LOWRANK);
        cr_assert_str_eq(ax_gemm_plan_kernel_name(p), "lowrank_gemm_4x16__avx2");
        ax_gemm_plan_free(p);
        cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX2, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
        cr_assert_eq(ax_gemm_plan_path(p), AX_PATH_LUT);
        ax_gemm_plan_free(p);
        ax_mult_free(m);
    }
}
/* EvoApproxLib's signed multipliers have error rank <= 4 */
Test(gemm, evoapprox_lowrank)
{
    const char *dir = getenv("AX_EVOAPPROX_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/mul8s_1L2J.bin.gz", dir && *dir ? dir : "../shared/evoapprox");
    FILE *f = fopen(path, "rb");
    if (!f) return; /* the reference tables are optional */
    fclose(f);
    ax_mult *m = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_load_evoapprox(path, &m, &err), 0, "%s", err.msg);
    check_lowrank(m, 39);
}
/* T = f(a) * g(w) on operand values (+ h(a) * k(w) when h is given): rank-1
 * tables of the table itself (dropped operand bits), as many real
 * multipliers are; kind picks f, g. */
static int64_t fac(int kind, int v, bool act)
{
    switch (kind) {
    case 0: return v & ~1;                        /* (a & ~1)(w & ~1), signed: the mul8s_1L2J structure */
    case 1: return act ? v : v & ~3;              /* a (w & ~3), u8 x u8: the weight factor shifted */
    case 2: return act ? v | 1 : v & ~1;          /* u8 x s8 */
    case 3: return act ? v : v + 300 * (v & 1);   /* weight factor spans 555 values: no byte form */
    default: return act ? (v >> 2) - 7 : 3 * v;   /* a factor 3 to move between the two */
    }
}
static ax_mult *factored(const char *name, ax_operand act, ax_operand wgt, int kind)
{
    ax_mult *m = ax_mult_new();
    cr_assert_not_null(m);
    m->act = act, m->wgt = wgt;
    snprintf(m->name, sizeof m->name, "%s", name);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        m->table[i] = (int32_t)(fac(kind, ax_operand_value(act, i >> 8), true) *
                                fac(kind, ax_operand_value(wgt, i & 255), false));
    return m;
}
/* LOWRANK plans of m: `terms` factor products; on AVX-512 VNNI the byte
 * kernel when `bytes`, else the int16 one; then every path on every shape. */
static void check_factored(ax_mult *m, int terms, bool bytes, uint64_t seed)
{
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_AVX512; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &p, &err), 0, "%s: %s", m->name, err.msg);
        cr_assert_eq(ax_gemm_plan_terms(p), terms, "%s on %s: %d terms", m->name, ax_isa_name(isa),
                     ax_gemm_plan_terms(p));
        const char *k = ax_gemm_plan_kernel_name(p);
        if (isa == AX_ISA_AVX512 && strstr(k, "vnni"))
            cr_assert_str_eq(k, bytes ? "lowrank_gemm_8x32c4__avx512vnni" : "lowrank_gemm_8x32__avx512vnni", "%s",
                             m->name);
        ax_gemm_plan_free(p);
    }
    check_and_free(m, seed);
}
Test(gemm, factored_drop1_s8) { check_factored(factored("drop1-s8", AX_S8, AX_S8, 0), 1, true, 61); }
Test(gemm, factored_drop1_u8) { check_factored(factored("drop1-u8", AX_U8, AX_U8, 0), 1, true, 62); }
Test(gemm, factored_wdrop2_u8) { check_factored(factored("wdrop2-u8", AX_U8, AX_U8, 1), 1, true, 63); }
Test(gemm, factored_u8s8) { check_factored(factored("odd-even-u8s8", AX_U8, AX_S8, 2), 1, true, 64); }
Test(gemm, factored_s8u8) { check_factored(factored("odd-even-s8u8", AX_S8, AX_U8, 2), 1, true, 65); }
Test(gemm, factored_wide_weight) { check_factored(factored("wide-w-u8", AX_U8, AX_U8, 3), 1, false, 66); }
Test(gemm, factored_content) { check_factored(factored("content3-s8", AX_S8, AX_S8, 4), 1, true, 67); }

/* C far past the caches (34.7 MB: over 8 L2s of up to 4 MiB), where the
 * AVX-512 exact-type kernels write whole 64-byte lines of C by non-temporal
 * stores (gemm.c): C aligned with rows of whole lines, and C one int32 off
 * with a stride of 533, set and accumulated, on 1 and 2 threads. */
static void check_streamed(ax_mult *m, ax_path path, const char *kernel)
{
    if (!ax_cpu_supports(AX_ISA_AVX512)) {
        ax_mult_free(m);
        cr_skip_test("no AVX-512 on this CPU: the streaming kernels do not run here");
    }
    ax_gemm_plan *p = NULL;
    ax_packed_weights *W = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX512, path, &p, &err), 0, "%s", err.msg);
    if (strcmp(ax_gemm_plan_kernel_name(p), kernel) != 0) {
        ax_gemm_plan_free(p), ax_mult_free(m);
        cr_skip_test("%s: plan kernel %s, not %s (no VNNI?)", m->name, ax_gemm_plan_kernel_name(p), kernel);
    }
    const size_t M = 16411, N = 528, K = 36, LD = N + 5; /* odd M: a partial tile; N: 33 blocks of 16 */
    uint8_t *A = malloc(M * K), *B = malloc(K * N);
    int32_t *ref = malloc(sizeof(int32_t) * M * N), *init = malloc(sizeof(int32_t) * M * LD);
    int32_t *buf = aligned_alloc(64, (sizeof(int32_t) * (M * LD + 16) + 63) / 64 * 64); /* C11: whole alignments */
    cr_assert(A && B && ref && init && buf);
    rng_state = 77;
    for (size_t i = 0; i < M * K; i++) A[i] = (uint8_t)rnd();
    for (size_t i = 0; i < K * N; i++) B[i] = (uint8_t)rnd();
    for (size_t i = 0; i < M * LD; i++) init[i] = (int32_t)rnd();
    ax_gemm_reference(m->table, M, N, K, A, K, B, N, ref, N, false);
    cr_assert_eq(ax_gemm_pack_weights(p, K, N, B, N, &W, &err), 0, "%s", err.msg);
    for (int layout = 0; layout < 2; layout++) {
        int32_t *C = layout ? buf + 1 : buf; /* aligned rows of whole lines, or neither */
        size_t ldc = layout ? LD : N;
        for (int acc = 0; acc < 2; acc++)
            for (int threads = 1; threads <= 2; threads++) {
                for (size_t i = 0; i < M; i++) memcpy(C + i * ldc, init + i * LD, sizeof(int32_t) * ldc);
                cr_assert_eq(ax_gemm(p, M, A, K, W, C, ldc, acc, threads, &err), 0, "%s", err.msg);
                for (size_t i = 0; i < M; i++)
                    for (size_t j = 0; j < ldc; j++) {
                        int32_t want = j >= N ? init[i * LD + j]
                                              : (int32_t)((acc ? (uint32_t)init[i * LD + j] : 0u) +
                                                          (uint32_t)ref[i * N + j]);
                        if (C[i * ldc + j] != want)
                            cr_assert_fail("%s %s: C %s, acc %d, threads %d: C[%zu][%zu] = %d, reference %d",
                                           m->name, kernel, layout ? "unaligned" : "aligned", acc, threads, i, j,
                                           C[i * ldc + j], want);
                    }
            }
    }
    ax_packed_weights_free(W);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
    free(A), free(B), free(ref), free(init), free(buf);
}
Test(gemm, streamed_outputs_exact)
{
    check_streamed(exact_mult(AX_S8, AX_S8), AX_PATH_EXACT_OWN, "exact_gemm_6x64__avx512vnni");
}
Test(gemm, streamed_outputs_lowrank)
{
    check_streamed(factored("drop1-s8", AX_S8, AX_S8, 0), AX_PATH_LOWRANK, "lowrank_gemm_8x32c4__avx512vnni");
}
/* K past the byte kernel's K-chunk (a 64-row byte panel is L2/2: 8192 k on
 * a 1 MiB L2) on every LOWRANK kernel */
Test(gemm, factored_long_k)
{
    ax_mult *m = factored("drop1-s8", AX_S8, AX_S8, 0);
    ax_gemm_plan *plans[4];
    int n = 0;
    ax_error err = {{0}};
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_AVX512; isa++)
        if (ax_cpu_supports(isa)) cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &plans[n++], &err), 0);
    rng_state = 71;
    check_shape(m, plans, n, (shape){9, 37, ax_test_reduced() ? 9000 : 12000}, true);
    for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
    ax_mult_free(m);
}
/* exact + rank-2 error with 0/1 activation factors: the a*w + E form, 3 terms */
Test(gemm, factored_error_form)
{
    check_factored(low_rank(AX_S8, AX_S8, 2, 1, 0, 20, 68), 3, true, 69);
}
/* A u8 x u8 table of exact + rank-2 error folded as the network runtime
 * folds it under s8 tensors (nn/layer_q.c: F[x][v] = T[x ^ 0x80][v ^ 0x80]
 * - 128 a): F = (x + 128) v + E', the exact product of a shifted operand
 * plus T's error permuted, so its form keeps T's three byte terms. */
Test(gemm, factored_folded_error_form)
{
    check_factored(ax_test_fold_u8(low_rank(AX_U8, AX_U8, 2, 1, 0, 20, 72)), 3, true, 73);
}
/* A table of one product plus a function of the activation alone: on the
 * AVX-512 VNNI byte kernel the latter is a row term (summed while packing A,
 * never multiplied), elsewhere a second term; bit-exact on every path,
 * accumulating or not, and past the byte kernel's K-chunk. */
static void check_row_term(ax_mult *m, uint64_t seed)
{
    ax_gemm_plan *plans[4];
    int n = 0;
    ax_error err = {{0}};
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_AVX512; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &plans[n], &err), 0, "%s: %s", m->name, err.msg);
        bool bytes = strcmp(ax_gemm_plan_kernel_name(plans[n]), "lowrank_gemm_8x32c4__avx512vnni") == 0;
        cr_assert_eq(ax_gemm_plan_terms(plans[n]), bytes ? 1 : 2, "%s on %s", m->name, ax_isa_name(isa));
        cr_assert_eq(ax_gemm_plan_row_terms(plans[n]), bytes ? 1 : 0, "%s on %s", m->name, ax_isa_name(isa));
        n++;
    }
    rng_state = seed;
    check_shape(m, plans, n, (shape){9, 37, ax_test_reduced() ? 9000 : 12000}, true);
    for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
    check_and_free(m, seed);
}
Test(gemm, factored_row_term)
{
    ax_mult *m = factored("drop1-plus-row-s8", AX_S8, AX_S8, 0);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] += 5 * (((int)(int8_t)(i >> 8) >> 2) - 3);
    check_row_term(m, 74);
}
/* drum-u8 folded under s8 tensors: F = T(x ^ 0x80, v ^ 0x80) - 128 a is
 * drum's one term plus -128 a */
Test(gemm, folded_drum_row_term)
{
    ax_mult *t = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_from_family_spec("drum-u8:k=4", &t, &err), 0, "%s", err.msg);
    check_row_term(ax_test_fold_u8(t), 75);
}
/* LOWRANK plans of m: `terms` int16 terms, and on AVX-512 VNNI `split`
 * byte terms (ax_lowrank_split_bytes) and `row` row terms, which AUTO takes
 * there over the LUT's planes; then every path on every shape */
static void check_split(ax_mult *m, int terms, int split, int row, uint64_t seed)
{
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_AVX512; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &p, &err), 0, "%s", err.msg);
        bool vnni = strstr(ax_gemm_plan_kernel_name(p), "vnni") != NULL;
        cr_assert_eq(ax_gemm_plan_terms(p), vnni ? split : terms, "%s on %s: %d terms", m->name, ax_isa_name(isa),
                     ax_gemm_plan_terms(p));
        if (vnni) cr_assert_str_eq(ax_gemm_plan_kernel_name(p), "lowrank_gemm_8x32c4__avx512vnni");
        cr_assert_eq(ax_gemm_plan_row_terms(p), vnni ? row : 0, "%s on %s", m->name, ax_isa_name(isa));
        ax_gemm_plan_free(p);
        if (isa != AX_ISA_AVX512) continue;
        cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_AUTO, &p, &err), 0, "%s", err.msg);
        cr_assert_eq(ax_gemm_plan_path(p), vnni ? AX_PATH_LOWRANK : AX_PATH_LUT, "%s: AUTO on avx512", m->name);
        ax_gemm_plan_free(p);
    }
    check_and_free(m, seed);
}
/* a*w plus an error whose weight factor spans 16,257 values
 * (ax_test_wide_error_u8): split into three byte terms, v = r + 255 q */
Test(gemm, factored_split_bytes) { check_split(ax_test_wide_error_u8(), 2, 3, 0, 70); }
/* (a & ~1)(w & ~1) + (a & 1) 3w: the search's two terms mix the two
 * products (factors spanning 128 x 508 and 1 x 761 values: neither splits);
 * a move of a multiple between them and their common factors balanced
 * anew (narrow_terms) give back the two products, both byte terms */
Test(gemm, factored_narrowed_split)
{
    ax_mult *m = factored("drop1-plus-wide-s8", AX_S8, AX_S8, 0);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] += ((i >> 8) & 1) * 3 * (int)(i & 255);
    check_split(m, 2, 2, 0, 77);
}
/* a*w + (a >> 7)(w^2 / 4) + (a^2 >> 8), u8 x u8: the table's own form is
 * three terms, four as bytes (the wide one split); less its column at w = 0
 * it is the first two, three as bytes, and the column a row term
 * (ax_lowrank_row_split, taken: one multiplied term fewer, and the u8
 * weight factor's row corrections either way). On AVX-512 VNNI three
 * multiplied terms and a row term, elsewhere the three int16 terms; AUTO
 * takes them over the LUT's planes */
Test(gemm, factored_row_split)
{
    ax_mult *m = ax_mult_new();
    cr_assert_not_null(m);
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "row-split-u8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int32_t a = (int32_t)(i >> 8), w = (int32_t)(i & 255);
        m->table[i] = a * w + (a >> 7) * (w * w / 4) + (a * a >> 8);
    }
    check_split(m, 3, 3, 1, 78);
}
/* the one-term s8 table plus an error whose factors span 8 and 10,200
 * values: no split into two byte terms fits (8 * 10,200 > 255^2), so int16
 * terms */
Test(gemm, factored_no_bytes)
{
    ax_mult *m = factored("drop1-plus-wider-s8", AX_S8, AX_S8, 0);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] += ((i >> 12) & 7) * 40 * (int)(int8_t)(i & 255);
    check_factored(m, 2, false, 76);
}
/* Every EvoApproxLib table with a low-rank form, on every ISA's LOWRANK
 * kernel, on a few shapes; the terms per table go to the log. Tables that
 * are f(a) g(w) with dropped bits (mul8s_1L2J = (a & ~1)(w & ~1), ...) take
 * one term, and every form runs the byte kernel on AVX-512 VNNI. */
Test(gemm, evoapprox_all_lowrank, .timeout = 600)
{
    const char *dir = getenv("AX_EVOAPPROX_DIR");
    dir = dir && *dir ? dir : "../shared/evoapprox";
    DIR *d = opendir(dir);
    if (!d) return; /* the reference tables are optional */
    static const char *one[] = {"1KR3", "1KR8", "1KTY", "1KVM", "1KXF", "1L12", "1L1G", "1L2D", "1L2H", "1L2J",
                                "1L2L", "1L2N"};
    static const shape shapes[] = {{13, 17, 31}, {70, 40, 131}, {9, 33, 2053}};
    struct dirent *e;
    int tables = 0, with_form = 0, hist[AX_MAX_TERMS_LOG + 1] = {0};
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strcmp(e->d_name + len - 7, ".bin.gz")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ax_mult *m = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_mult_load_evoapprox(path, &m, &err), 0, "%s", err.msg);
        tables++;
        ax_gemm_plan *plans[4];
        int n = 0, terms = 0;
        for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_AVX512; isa++)
            if (ax_cpu_supports(isa) && ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &plans[n], &err) == 0)
                terms = ax_gemm_plan_terms(plans[n++]);
        if (n) {
            with_form++;
            hist[terms < AX_MAX_TERMS_LOG ? terms : AX_MAX_TERMS_LOG]++;
            cr_log_info("%s: %d terms (%s)", m->name, terms, ax_gemm_plan_kernel_name(plans[n - 1]));
            for (size_t i = 0; i < sizeof one / sizeof *one; i++)
                if (strstr(e->d_name, one[i])) cr_assert_eq(terms, 1, "%s: %d terms", m->name, terms);
            /* on AVX-512 VNNI every one is a byte form, 7 of them split (mul8u_13QR, 17C8_v1.1, 17MJ,
             * 17MN, 17QU, 18DU, 1SX: ax_lowrank_split_bytes) */
            const char *k = ax_gemm_plan_kernel_name(plans[n - 1]);
            if (strstr(k, "vnni")) cr_assert_str_eq(k, "lowrank_gemm_8x32c4__avx512vnni", "%s", m->name);
            for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) check_shape(m, plans, n, shapes[i], i & 1);
        }
        for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
        ax_mult_free(m);
    }
    closedir(d);
    cr_log_info("EvoApproxLib: %d tables, %d with a low-rank form; by terms 1..8: %d %d %d %d %d %d %d %d", tables,
                with_form, hist[1], hist[2], hist[3], hist[4], hist[5], hist[6], hist[7], hist[8]);
}
Test(gemm, all_zero) { check_and_free(random_mult("zero", 0, 1, 15), 10); }
Test(gemm, extremes)
{
    ax_mult *m = random_mult("extremes", 0, 1, 16);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (rnd() & 1) ? INT32_MAX : INT32_MIN;
    check_and_free(m, 17);
}
/* The row-table kernel past its row part (4096 rows), its phase and K chunk
 * (32 MiB of offsets: 4096 k at 4096 rows), forced (LUTROW) and chosen by a
 * LUT plan's cost model; M = 1 runs the transposed problem ("^T"). */
Test(gemm, lutrow_chunks)
{
    ax_mult *m = random_mult("rand-i32", INT32_MIN, 1ull << 32, 41);
    ax_gemm_plan *plans[4];
    int n = 0;
    ax_error err = {{0}};
    for (ax_isa isa = AX_ISA_AVX2; isa <= AX_ISA_AVX512; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        for (ax_path path = AX_PATH_LUT; path <= AX_PATH_LUTROW; path += AX_PATH_LUTROW - AX_PATH_LUT) {
            cr_assert_eq(ax_gemm_plan_create(m, isa, path, &plans[n], &err), 0, "%s", err.msg);
            const char *name = ax_gemm_plan_kernel_name(plans[n]);
            cr_assert(strstr(name, "lutrow_gemm_"), "%s", name);
            cr_assert(strncmp(ax_gemm_kernel_for(plans[n], 25088, 576, 64), "lutrow_gemm_", 12) == 0, "%s", name);
            const char *t = ax_gemm_kernel_for(plans[n], 1, 2048, 1000);
            cr_assert(strlen(t) > 2 && strcmp(t + strlen(t) - 2, "^T") == 0, "%s: %s", name, t);
            if (path == AX_PATH_LUT) cr_assert(strchr(name, '|'), "%s", name);
            n++;
        }
    }
    rng_state = 43;
    check_shape(m, plans, n, (shape){4100, 9, 4200}, false);
    check_shape(m, plans, n, (shape){4097, 8, 9}, true);
    for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
    ax_gemm_plan *p = NULL;
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUTROW, &p, &err), -1);
    cr_assert(strstr(err.msg, "lutrow"), "%s", err.msg);
    ax_mult_free(m);
}
/* Small M, large N: the transposed problem C^T = B^T (x) A^T on the plan's
 * kernels over T^T (the weights' rows as activations), chosen by the cost
 * model for every LUT kernel (byte planes or gathers, row tables) and on
 * every ISA; bit-exact with accumulate, strides and 1-3 threads. */
Test(gemm, transposed)
{
    ax_mult *m = random_mult("rand-u16", -30000, 65536, 81);
    m->act = AX_S8; /* swapped operand types in T^T */
    static const struct { ax_isa isa; ax_path path; size_t M, K, N; const char *want; } cases[] = {
        {AX_ISA_SCALAR, AX_PATH_LUT, 8, 2048, 1000, "lut_gemm_64x1__scalar^T"},
        {AX_ISA_AVX2, AX_PATH_LUT, 8, 2048, 1000, "lutrow_gemm_8x4__avx2^T"},
        {AX_ISA_AVX2, AX_PATH_LUT, 1, 100, 40, "lut_gemm_256x1__avx2^T"},
        {AX_ISA_AVX2, AX_PATH_LUTROW, 8, 2048, 1000, "lutrow_gemm_8x4__avx2^T"},
        {AX_ISA_AVX512, AX_PATH_LUT, 8, 2048, 1000, "lut_gemm_256x1__avx512vbmi^T"},
        {AX_ISA_AVX512, AX_PATH_LUT, 98, 4608, 512, "lut_gemm_256x1__avx512vbmi^T"},
        {AX_ISA_AVX512, AX_PATH_LUTROW, 2, 1000, 300, "lutrow_gemm_8x4__avx2^T"},
    };
    ax_gemm_plan *plans[8];
    int n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!ax_cpu_supports(cases[i].isa)) continue;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, cases[i].isa, cases[i].path, &plans[n], &err), 0, "%s", err.msg);
        cr_assert_str_eq(ax_gemm_kernel_for(plans[n], cases[i].M, cases[i].K, cases[i].N), cases[i].want);
        /* large M keeps the straight kernels */
        const char *big = ax_gemm_kernel_for(plans[n], 25088, 576, 64);
        cr_assert(!strstr(big, "^T"), "%s", big);
        n++;
    }
    rng_state = 82;
    static const shape shapes[] = {{1, 40, 100}, {2, 300, 1000}, {8, 1000, 300}, {5, 600, 1031}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) check_shape(m, plans, n, shapes[i], i & 1);
    for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
    ax_mult_free(m);
}
Test(gemm, family_trunc_s8) { check_family("trunc-s8:k=6", 2); }
Test(gemm, family_drum_u8) { check_family("drum-u8:k=4", 2); }
Test(gemm, family_mitchell_u8s8) { check_family("mitchell-u8s8", 2); }

Test(gemm, plane_counts)
{
    const struct { uint64_t span; int planes; } cases[] = {{1, 1}, {256, 1}, {257, 2}, {65536, 2}, {1 << 20, 3},
                                                           {1ull << 32, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ax_mult *m = random_mult("r", -7, cases[i].span, 100 + i);
        /* make sure every column reaches the span's extremes */
        for (unsigned w = 0; w < 256; w++) m->table[w] = -7, m->table[256 + w] = (int32_t)(-7 + (int64_t)cases[i].span - 1);
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
        cr_assert_eq(ax_gemm_plan_planes(p), cases[i].planes, "span %llu", (unsigned long long)cases[i].span);
        ax_gemm_plan_free(p);
        ax_mult_free(m);
    }
}

Test(gemm, plan_errors)
{
    ax_mult *ex = exact_mult(AX_S8, AX_S8), *rnd_m = random_mult("rand", 0, 1000, 3);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_NEON; isa++)
        if (!ax_cpu_supports(isa)) {
            cr_assert_eq(ax_gemm_plan_create(ex, isa, AX_PATH_LUT, &p, &err), -1, "%s", ax_isa_name(isa));
            cr_assert_null(p);
            cr_assert(strstr(err.msg, ax_isa_name(isa)), "%s", err.msg);
        }
    cr_assert_eq(ax_gemm_plan_create(rnd_m, AX_ISA_SCALAR, AX_PATH_EXACT, &p, &err), -1);
    cr_assert(strstr(err.msg, "exact"), "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_create(rnd_m, (ax_isa)99, AX_PATH_LUT, &p, &err), -1);
    /* AUTO picks EXACT for the exact table and LUT otherwise */
    cr_assert_eq(ax_gemm_plan_create(ex, AX_ISA_AUTO, AX_PATH_AUTO, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_path(p), AX_PATH_EXACT);
    cr_assert_eq(ax_gemm_plan_planes(p), 0);
    ax_gemm_plan *q = NULL;
    cr_assert_eq(ax_gemm_plan_create(rnd_m, AX_ISA_AUTO, AX_PATH_AUTO, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_path(q), AX_PATH_LUT);
    cr_assert_eq(ax_gemm_plan_isa(q), ax_cpu_best_isa());
    /* weights of one plan, a shape error, a stride error */
    uint8_t B[12] = {0}, A[12] = {0};
    int32_t C[16];
    ax_packed_weights *W = NULL;
    cr_assert_eq(ax_gemm_pack_weights(p, 3, 4, B, 4, &W, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_packed_weights_k(W), 3);
    cr_assert_eq(ax_packed_weights_n(W), 4);
    cr_assert_eq(ax_gemm(q, 1, A, 3, W, C, 4, false, 1, &err), -1);
    cr_assert_eq(ax_gemm(p, 1, A, 2, W, C, 4, false, 1, &err), -1);
    cr_assert_eq(ax_gemm(p, 1, A, 3, W, C, 3, false, 1, &err), -1);
    cr_assert_eq(ax_gemm(p, 0, A, 3, W, C, 4, false, 1, &err), 0);
    /* the same errors by block; no block for M = 0 */
    gathered g = {.C = C, .seen = (unsigned[4]){0}, .M = 1, .N = 4, .ldc = 4};
    cr_assert_eq(ax_gemm_blocks(q, 1, A, 3, W, gather_block, &g, 1, &err), -1);
    cr_assert(strstr(err.msg, "another plan"), "%s", err.msg);
    cr_assert_eq(ax_gemm_blocks(p, 1, A, 2, W, gather_block, &g, 1, &err), -1);
    cr_assert(strstr(err.msg, "lda"), "%s", err.msg);
    cr_assert_eq(ax_gemm_blocks(p, 1, A, 3, W, NULL, &g, 1, &err), -1);
    cr_assert(strstr(err.msg, "block function"), "%s", err.msg);
    cr_assert_eq(ax_gemm_blocks(p, 0, A, 3, W, gather_block, &g, 1, &err), 0);
    cr_assert_eq(ax_gemm_blocks_rows(p, 1, NULL, NULL, W, gather_block, &g, 1, &err), -1);
    cr_assert_eq(ax_gemm_blocks_rows(p, 1, make_rows, NULL, W, NULL, &g, 1, &err), -1);
    cr_assert_eq(g.seen[0] + g.seen[1] + g.seen[2] + g.seen[3], 0u);
    ax_packed_weights *W2 = NULL;
    cr_assert_eq(ax_gemm_pack_weights(p, 3, 4, B, 3, &W2, &err), -1);
    cr_assert_null(W2);
    ax_packed_weights_free(W);
    cr_assert_eq(ax_gemm_plan_max_k(p, 0), (size_t)(INT32_MAX / 16384));
    ax_gemm_plan_free(p);
    ax_gemm_plan_free(q);
    ax_mult_free(ex);
    ax_mult_free(rnd_m);
}

Test(gemm, isa_names)
{
    ax_isa isa;
    for (ax_isa i = AX_ISA_AUTO; i <= AX_ISA_NEON; i++) {
        cr_assert_eq(ax_isa_parse(ax_isa_name(i), &isa), 0);
        cr_assert_eq(isa, i);
    }
    cr_assert_eq(ax_isa_parse("sse9", &isa), -1);
    cr_assert(ax_cpu_supports(AX_ISA_SCALAR));
    cr_assert_str_eq(ax_path_name(AX_PATH_LOWRANK), "lowrank");
    cr_assert_str_eq(ax_path_name(AX_PATH_LUTROW), "lutrow");
}

Test(gemm, env_isa)
{
    ax_mult *m = random_mult("rand", 0, 1000, 3);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    setenv("AX_ISA", "scalar", 1);
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AUTO, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_isa(p), AX_ISA_SCALAR);
    ax_gemm_plan_free(p);
    setenv("AX_ISA", "vax", 1);
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AUTO, AX_PATH_LUT, &p, &err), -1);
    cr_assert(strstr(err.msg, "AX_ISA"), "%s", err.msg);
    unsetenv("AX_ISA");
    ax_mult_free(m);
}

/* ---- accumulator range ------------------------------------------------------
 * At K = ax_gemm_plan_max_k every path is bit-exact, also on the operands
 * whose products are the table's extreme (the sum then sits at the edge of
 * int32); K + 1 is refused. Paths: `path` on every ISA this CPU supports. */
static void bound_operands(const ax_mult *m, int kind, uint8_t *a, uint8_t *w)
{
    int64_t best = 0;
    *a = *w = 0;
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int64_t t = m->table[i];
        if (kind == 0 ? t > best : t < best) best = t, *a = (uint8_t)(i >> 8), *w = (uint8_t)(i & 255);
    }
}

static void check_bound(const ax_mult *m, ax_path path, size_t M, size_t N)
{
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_NEON; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, isa, path, &p, &err), 0, "%s: %s", m->name, err.msg);
        size_t K = ax_gemm_plan_max_k(p, 0);
        cr_assert_lt(K, (size_t)1 << 20, "%s: bound %zu", m->name, K);
        check_refused(m, &p, 1, K + 1, N);
        uint8_t *A = malloc(M * K + 1), *B = malloc(K * N + 1);
        int32_t *want = malloc(4 * M * N), *got = malloc(4 * M * N);
        cr_assert(A && B && want && got);
        ax_packed_weights *W = NULL;
        for (int kind = 0; kind < 3; kind++) { /* largest product, smallest, random */
            uint8_t a, w;
            bound_operands(m, kind, &a, &w);
            for (size_t i = 0; i < M * K; i++) A[i] = kind < 2 ? a : (uint8_t)rnd();
            for (size_t i = 0; i < K * N; i++) B[i] = kind < 2 ? w : (uint8_t)rnd();
            ax_gemm_reference(m->table, M, N, K, A, K, B, N, want, N, false);
            if (kind < 2) /* the reference sits at the edge, unwrapped */
                cr_assert_eq((int64_t)want[0], (int64_t)K * m->table[a * 256 + w]);
            cr_assert_eq(ax_gemm_pack_weights(p, K, N, B, N, &W, &err), 0, "%s: %s", m->name, err.msg);
            for (int threads = 1; threads <= 3; threads += 2) {
                memset(got, 0, 4 * M * N);
                cr_assert_eq(ax_gemm(p, M, A, K, W, got, N, false, threads, &err), 0, "%s", err.msg);
                cr_assert_arr_eq(got, want, 4 * M * N, "%s %s K=%zu kind %d", m->name, ax_gemm_plan_kernel_name(p), K,
                                 kind);
            }
            ax_packed_weights_free(W);
        }
        /* declared zero-point and bias corrections lower the bound */
        ax_acc_extra e = ax_acc_extra_zero_points(p, 3, -2, 1 << 25);
        size_t K2 = ax_gemm_plan_max_k_ex(p, &e);
        cr_assert_lt(K2, K);
        cr_assert_eq(ax_gemm_pack_weights_ex(p, K2, N, B, N, &e, &W, &err), 0, "%s", err.msg);
        ax_packed_weights_free(W);
        cr_assert_eq(ax_gemm_pack_weights_ex(p, K2 + 1, N, B, N, &e, &W, &err), -1);
        cr_assert(strstr(err.msg, "corrections"), "%s", err.msg);
        free(A), free(B), free(want), free(got);
        ax_gemm_plan_free(p);
    }
}

/* One product near +2^24 (4 planes, bound 127), one near -2^20 (bound 2047:
 * past the 16-bit widening and the K blocks of every kernel). */
Test(gemm, bound_lut)
{
    ax_mult *m = random_mult("big-positive", -1000, 2001, 40);
    m->table[0] = (1 << 24) + 12345;
    check_bound(m, AX_PATH_LUT, 5, 3);
    m->table[0] = 0;
    m->table[AX_TABLE_SIZE - 1] = -(1 << 20) - 7;
    snprintf(m->name, sizeof m->name, "big-negative");
    check_bound(m, AX_PATH_LUT, 3, 2);
    ax_mult_free(m);
}
/* -128 * -128 = 16384: bound 131071 */
Test(gemm, bound_exact)
{
    ax_mult *m = exact_mult(AX_S8, AX_S8);
    check_bound(m, AX_PATH_EXACT, 2, 3);
    ax_mult_free(m);
}
/* the low-rank terms wrap modulo 2^32 inside the int32 lanes; with no
 * denominator the sum is exact up to the table's own bound */
Test(gemm, bound_lowrank)
{
    ax_mult *m = low_rank(AX_S8, AX_S8, 2, 3, 30, 20, 41);
    check_bound(m, AX_PATH_LOWRANK, 2, 3);
    ax_mult_free(m);
}
/* INT32_MIN and INT32_MAX: one product fits, two do not */
Test(gemm, bound_extremes)
{
    ax_mult *m = random_mult("extremes", 0, 1, 16);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (rnd() & 1) ? INT32_MAX : INT32_MIN;
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_max_k(p, 0), 1);
    cr_assert_eq(ax_gemm_plan_max_k(p, 1), 0);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
    m = random_mult("zero", 0, 1, 15);
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_gemm_plan_max_k(p, 0), SIZE_MAX);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}
