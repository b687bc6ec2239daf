/* exact_onednn.c - the EXACT path backed by oneDNN's integer GEMM
 * (`exact_gemm__onednn`): when the table is a*w and oneDNN is in the build,
 * an exact plan may hand its GEMMs to dnnl_gemm_u8s8s32 / dnnl_gemm_s8s8s32
 * (row-major, int32 out, alpha 1). oneDNN's A side is the activations as
 * they are (u8 -> u8s8, s8 -> s8s8); its B side must be s8, so u8 weights
 * are packed once as w ^ 0x80 = w - 128 with the B offset bo = -128:
 * (w_s8 - bo) = w exactly. No other correction, no copy of A.
 *
 * Trust, but verify: oneDNN's u8 x s8 kernels without VNNI (vpmaddubsw)
 * saturate pair sums to int16, and a build may round its int32 results
 * through float. So a plan uses oneDNN only after a probe, run at plan
 * creation with the ISA oneDNN is allowed in this process, has matched
 * ax_gemm_reference bit for bit: operands at the extremes of oneDNN's own
 * u8 x s8 domain (pairs 255 x 127 and 255 x -128: the int16 pair-sum
 * saturation), sums past 2^24 and odd (float rounding), accumulate on and
 * off, several shapes (GEMV-like, tails, a block large enough for the
 * blocked kernels) and 1 and 2 threads. Otherwise the plan keeps our own
 * exact kernel.
 *
 * ISA: dnnl_set_max_cpu_isa is process-global and fixed at the first use of
 * oneDNN (the first call wins, later ones fail). An AVX2 plan ("avx2" means
 * no AVX-VNNI, no AVX-512) uses oneDNN only when oneDNN is limited to AVX2
 * or less: when $AX_ISA says avx2 we ask for that limit (bench-approx
 * --isa avx2 does the same before any plan; with that limit an AVX-512
 * plan's probe then runs oneDNN at AVX2 too); an explicit AVX2 plan in a
 * process where oneDNN already runs wider keeps our kernel. oneDNN at AVX2
 * (no VNNI) saturates, so there the probe fails and the own kernel runs.
 * AVX-512 plans use whatever oneDNN is allowed, after the probe. Scalar and
 * NEON plans never use it.
 *
 * Which GEMMs: those of at least ONEDNN_MIN_M rows, ONEDNN_MIN_N columns
 * and ONEDNN_MIN_K k (the cost model below); the rest run the plan's own exact
 * kernel, whose weights are packed as well. $AX_ONEDNN=never keeps oneDNN
 * out of every plan, =always sends it every shape (the tests use both).
 *
 * Threads: oneDNN uses the OpenMP runtime; the calling thread's OpenMP
 * thread count is set for the call and restored. Integer sums are exact,
 * so any thread count gives the same bits. */
#include "gemm_internal.h"
#include "lut/ax_internal.h"

#include "ax_config.h"

#include <stdlib.h>
#include <string.h>

#if AX_HAVE_ONEDNN && defined(__x86_64__)
#include <oneapi/dnnl/dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The cost model (one core, ResNet-50 layers at batch 8, this Xeon with AMX):
 * dnnl_gemm_* beats our VNNI kernel on wide layers (N = 512, K = 4608:
 * 1.6x; N = 128..256: 1.0-1.2x) and loses on narrow or short ones (N = 64:
 * 0.4-0.8x; short, K = 64: 0.5x; the FC layer's M = 8: 0.4x). */
enum { ONEDNN_MIN_M = 32, ONEDNN_MIN_N = 128, ONEDNN_MIN_K = 256 };

/* The weights as oneDNN's B reads them: K x N s8, row stride N. */
int ax_onednn_pack(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, ax_packed_weights *w,
                   ax_error *err)
{
    uint8_t flip = p->wgt == AX_U8 ? 0x80 : 0;
    w->ob = malloc(K && N ? K * N : 1);
    if (!w->ob) return ax_fail(err, "gemm weights: out of memory for %zu x %zu", K, N);
    for (size_t k = 0; k < K; k++)
        for (size_t n = 0; n < N; n++) w->ob[k * N + n] = B[k * ldb + n] ^ flip;
    return 0;
}

static int run_gemm(const ax_gemm_plan *p, size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                    const uint8_t *bx, int32_t *C, size_t ldc, bool accumulate)
{
    const int32_t co = 0;
    const int8_t bo = p->wgt == AX_U8 ? -128 : 0;
    float beta = accumulate ? 1.0f : 0.0f;
    dnnl_dim_t m = (dnnl_dim_t)M, n = (dnnl_dim_t)N, k = (dnnl_dim_t)K;
    dnnl_dim_t la = (dnnl_dim_t)(lda ? lda : 1), lb = (dnnl_dim_t)(N ? N : 1), lc = (dnnl_dim_t)ldc;
    dnnl_status_t s;
    if (p->act == AX_U8)
        s = dnnl_gemm_u8s8s32('N', 'N', 'F', m, n, k, 1.0f, A, la, 0, (const int8_t *)bx, lb, bo, beta, C, lc, &co);
    else
        s = dnnl_gemm_s8s8s32('N', 'N', 'F', m, n, k, 1.0f, (const int8_t *)A, la, 0, (const int8_t *)bx, lb, bo,
                              beta, C, lc, &co);
    return s == dnnl_success ? 0 : (int)s;
}

int ax_onednn_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err)
{
    size_t K = W->K, N = W->N;
    if (K == 0) { /* oneDNN wants K >= 1; the sum of nothing is 0 */
        if (!accumulate)
            for (size_t i = 0; i < M; i++) memset(C + i * ldc, 0, N * sizeof *C);
        return 0;
    }
#ifdef _OPENMP
    int old = omp_get_max_threads();
    omp_set_num_threads(ax_default_threads(threads));
#else
    (void)threads;
#endif
    int s = run_gemm(p, M, N, K, A, lda, W->ob, C, ldc, accumulate);
#ifdef _OPENMP
    omp_set_num_threads(old);
#endif
    if (s) return ax_fail(err, "gemm: oneDNN failed (status %d) on M=%zu N=%zu K=%zu", s, M, N, K);
    return 0;
}

/* Whether oneDNN may run for a plan of this ISA in this process. */
static bool isa_allows(ax_isa isa)
{
    const char *env = getenv("AX_ISA");
    if (env && strcmp(env, "avx2") == 0) (void)dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2); /* fails once fixed */
    if (isa == AX_ISA_AVX512) return true;
    if (isa != AX_ISA_AVX2) return false;
    dnnl_cpu_isa_t eff = dnnl_get_effective_cpu_isa();
    return eff == dnnl_cpu_isa_sse41 || eff == dnnl_cpu_isa_avx || eff == dnnl_cpu_isa_avx2;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* One probe shape: rows of A alternate between the saturating extremes
 * (oneDNN's u8 side 255 everywhere) and random bytes; columns of B between
 * 127, -128, alternating 127/-128 pairs (oneDNN's s8 side) and random. */
static bool probe_shape(const ax_gemm_plan *p, const int32_t *table, size_t M, size_t N, size_t K, uint64_t seed)
{
    uint8_t aflip = p->act == AX_S8 ? 0x80 : 0, wflip = p->wgt == AX_U8 ? 0x80 : 0;
    uint8_t *A = malloc(M * K), *B = malloc(K * N);
    int32_t *want = malloc(sizeof(int32_t) * M * N), *got = malloc(sizeof(int32_t) * M * N);
    ax_packed_weights w = {.path = AX_PATH_EXACT, .K = K, .N = N, .max_k = K, .plan = p};
    bool ok = A && B && want && got;
    for (size_t i = 0; ok && i < M; i++)
        for (size_t k = 0; k < K; k++) A[i * K + k] = i % 3 == 2 ? (uint8_t)next(&seed) : (uint8_t)(255 ^ aflip);
    for (size_t k = 0; ok && k < K; k++)
        for (size_t n = 0; n < N; n++) {
            uint8_t v = n % 4 == 0 ? 127 : n % 4 == 1 ? 0x80 : n % 4 == 2 ? ((k / 2) % 2 ? 0x80 : 127)
                                                                            : (uint8_t)next(&seed);
            B[k * N + n] = v ^ wflip;
        }
    ok = ok && ax_onednn_pack(p, K, N, B, N, &w, NULL) == 0;
    for (int round = 0; ok && round < 4; round++) { /* accumulate off/on x 1, 2 threads */
        bool acc = round & 1;
        for (size_t i = 0; i < M * N; i++) want[i] = got[i] = (int32_t)(next(&seed) >> 33) - (1 << 29);
        ax_gemm_reference(table, M, N, K, A, K, B, N, want, N, acc);
        ok = ax_onednn_gemm(p, M, A, K, &w, got, N, acc, 1 + (round >> 1), NULL) == 0 &&
             memcmp(want, got, sizeof(int32_t) * M * N) == 0;
    }
    free(w.ob);
    free(A), free(B), free(want), free(got);
    return ok;
}

bool ax_onednn_verify(ax_gemm_plan *p, const int32_t *table)
{
    /* $AX_ONEDNN: never, always (every shape: tests), else the cost model */
    const char *env = getenv("AX_ONEDNN");
    bool always = env && strcmp(env, "always") == 0;
    p->onednn_min_m = always ? 1 : ONEDNN_MIN_M, p->onednn_min_n = always ? 1 : ONEDNN_MIN_N;
    p->onednn_min_k = always ? 0 : ONEDNN_MIN_K;
    p->onednn_always = always;
    if ((env && strcmp(env, "never") == 0) || !isa_allows(p->isa)) return false;
    /* K: 255 * 127 * 1031 > 2^24 (and odd); within every exact table's bound */
    static const size_t shapes[][3] = {{1, 67, 1031}, {37, 1, 1031}, {3, 5, 7}, {70, 72, 1031}, {17, 33, 130}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (!probe_shape(p, table, shapes[i][0], shapes[i][1], shapes[i][2], 0x9e3779b97f4a7c15ull + i)) return false;
    return true;
}
#else
bool ax_onednn_verify(ax_gemm_plan *p, const int32_t *table)
{
    (void)p, (void)table;
    return false;
}
int ax_onednn_pack(const ax_gemm_plan *p, size_t K, size_t N, const uint8_t *B, size_t ldb, ax_packed_weights *w,
                   ax_error *err)
{
    (void)p, (void)K, (void)N, (void)B, (void)ldb, (void)w;
    return ax_fail(err, "gemm weights: oneDNN is not part of this build");
}
int ax_onednn_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err)
{
    (void)p, (void)M, (void)A, (void)lda, (void)W, (void)C, (void)ldc, (void)accumulate, (void)threads;
    return ax_fail(err, "gemm: oneDNN is not part of this build");
}
#endif
