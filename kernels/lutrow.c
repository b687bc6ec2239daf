/* lutrow.c - the loop nest around the row-table LUT microkernels
 * (kernels/lutrow.h) and their cost model.
 *
 * M is cut into phases and K into chunks so that a phase's activation
 * offsets (rows x kc uint16) stay within OFF_BYTES; usually one phase and
 * one chunk hold the whole GEMM. Per (phase, K chunk) the threads first turn
 * the activations into byte offsets into the row tables (off[k-block][m][i]
 * = a * 4G, shared by every column group), then share out tiles = row part
 * (at most mc rows) x column group, with no barrier in between: a tile
 * builds the KB row tables of each k-block (in L1) and streams its rows
 * through them, sums in a per-thread strip of G int32 per row (in L2); the
 * tile's last k-block adds the strip into C. Builds are amortized over a
 * part's rows, hence the cost model. Every output is summed by one tile,
 * modulo 2^32, so every thread count gives the same bits. Transposed (small
 * M): the weights' rows stream as the activations, the tables are built
 * from A's rows, C is written with swapped strides. */
#include "lutrow.h"
#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* Activation offsets per (phase, K chunk): a tile reads only its rows x KB
 * slice per k-block, so this bounds memory, not cache use (few phases: few
 * barriers, which a busy machine makes costly); rows packed at once. */
enum { OFF_BYTES = 1 << 25, PACK_ROWS = 16 };

const ax_lutrow_ukernel *ax_lutrow_for(ax_isa isa)
{
#if defined(__x86_64__)
    /* AVX-512 too: a zmm kernel (16 columns, 2 k per 32 KiB of tables) was
     * measured 0.8-0.9x of it (Xeon and Zen 5): its strip traffic per MAC
     * is twice as high */
    if (isa == AX_ISA_AVX512 || isa == AX_ISA_AVX2) return &ax_lutrow_ukernel_avx2;
#endif
    (void)isa;
    return NULL;
}

double ax_lutrow_cycles(const ax_lutrow_ukernel *u, size_t M, size_t K, size_t N)
{
    double groups = (double)((N + u->g - 1) / u->g), chunks = (double)((M + u->mc - 1) / u->mc);
    double kblocks = (double)((K + u->kb - 1) / u->kb) * (double)u->kb;
    return (double)M * groups * (double)K / u->adds_per_cycle + chunks * groups * kblocks * u->build_cycles;
}

/* C[m * csr + n * csc] (+)= sum_k table_t[w(n, k) * 256 + A[m][k]], with
 * w(n, k) = wt[n * wstride + k]: straight, wt = the packed weights and
 * csr = ldc, csc = 1; transposed, A = the weights, wt = the activations,
 * csr = 1, csc = ldc. */
typedef struct job {
    const ax_lutrow_ukernel *u;
    const int32_t *table_t;
    const uint8_t *A, *wt;
    int32_t *C;
    size_t M, N, K, lda, wstride, csr, csc, mc, phase, kc, parts;
    bool accumulate;
    uint16_t *off; /* mc x kc, shared */
} job;

/* Offsets of rows [m0, m0 + rows) and k [k0, k0 + kn), for the rows
 * [r, r + PACK_ROWS) of them, block by block (so the writes of one block are
 * contiguous and the rows' bytes stay in L1): full blocks of 4 (or 2) bytes
 * are spread into 16-bit lanes in a GPR and shifted by log2(4G) (a byte
 * times 64 still fits 16 bits). */
static void pack_rows(const job *j, size_t m0, size_t rows, size_t k0, size_t kn, size_t r)
{
    size_t KB = j->u->kb, scale = 4 * j->u->g, bs = rows * KB, full = kn / KB;
    size_t r1 = rows - r < PACK_ROWS ? rows : r + PACK_ROWS;
    unsigned shift = (unsigned)__builtin_ctzll(scale);
    const uint8_t *A = j->A + m0 * j->lda + k0;
    size_t b0 = 0;
#if defined(__SSE2__)
    /* 16 k of a row at a time: widened to 16 bits, shifted, stored as 16/KB records */
    size_t k16 = kn / 16 * 16;
    const __m128i zero = _mm_setzero_si128(), cnt = _mm_cvtsi32_si128((int)shift);
    for (size_t k = 0; k < k16; k += 16)
        for (size_t m = r; m < r1; m++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(A + m * j->lda + k));
            __m128i v[2] = {_mm_sll_epi16(_mm_unpacklo_epi8(x, zero), cnt),
                            _mm_sll_epi16(_mm_unpackhi_epi8(x, zero), cnt)};
            uint16_t *o = j->off + k / KB * bs + m * KB;
            if (KB == 4) {
                for (int h = 0; h < 2; h++) {
                    _mm_storel_epi64((__m128i *)(o + (2 * h) * bs), v[h]);
                    _mm_storel_epi64((__m128i *)(o + (2 * h + 1) * bs), _mm_unpackhi_epi64(v[h], v[h]));
                }
            } else {
                uint32_t t[8];
                memcpy(t, v, sizeof t);
                for (int q = 0; q < 8; q++) memcpy(o + q * bs, t + q, 4);
            }
        }
    b0 = KB == 4 || KB == 2 ? k16 / KB : 0;
#endif
    for (size_t b = b0; b * KB < kn; b++)
        for (size_t m = r; m < r1; m++) {
            const uint8_t *a = A + m * j->lda + b * KB;
            uint16_t *o = j->off + b * bs + m * KB;
            if (KB == 4 && b < full) {
                uint32_t x;
                memcpy(&x, a, 4);
                uint64_t v = ((uint64_t)x | (uint64_t)x << 16) & 0x0000ffff0000ffffull;
                v = ((v | v << 8) & 0x00ff00ff00ff00ffull) << shift;
                memcpy(o, &v, 8);
            } else if (KB == 2 && b < full) {
                uint32_t v = ((uint32_t)a[0] | (uint32_t)a[1] << 16) << shift;
                memcpy(o, &v, 4);
            } else {
                for (size_t i = 0; i < KB; i++) o[i] = b * KB + i < kn ? (uint16_t)(a[i] * scale) : 0;
            }
        }
}

/* One tile of one (phase, K chunk): row part (<= mc rows), column group g;
 * consecutive tiles share the part's offsets. */
static void run_tile(const job *j, size_t m0, size_t rows, size_t k0, size_t kn, size_t parts, size_t t, uint32_t *R,
                     uint32_t *strip)
{
    const ax_lutrow_ukernel *u = j->u;
    size_t G = u->g, KB = u->kb, groups = (j->N + G - 1) / G, g = t % groups, part = t / groups;
    size_t r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
    size_t n0 = g * G, nn = j->N - n0 < G ? j->N - n0 : G;
    if (r0 == r1) return;
    uint8_t w[64];
    for (size_t b = 0; b * KB < kn; b++) {
        size_t kb_n = kn - b * KB < KB ? kn - b * KB : KB;
        for (size_t i = 0; i < kb_n; i++) {
            for (size_t c = 0; c < G; c++) w[c] = c < nn ? j->wt[(n0 + c) * j->wstride + k0 + b * KB + i] : 0;
            u->build(j->table_t, w, R + i * 256 * G);
        }
        u->run(kb_n, b == 0, R, j->off + b * rows * KB + r0 * KB, r1 - r0, strip);
    }
    bool add = j->accumulate || k0 > 0;
    for (size_t m = r0; m < r1; m++) {
        uint32_t *c = (uint32_t *)j->C + (m0 + m) * j->csr + n0 * j->csc;
        const uint32_t *s = strip + (m - r0) * G;
        if (add)
            for (size_t c2 = 0; c2 < nn; c2++) c[c2 * j->csc] += s[c2];
        else if (j->csc == 1 && nn == 8) /* a fixed size: moves, not a call per row (N = 8 per group) */
            memcpy(c, s, 8 * sizeof *c);
        else if (j->csc == 1)
            memcpy(c, s, nn * sizeof *c);
        else
            for (size_t c2 = 0; c2 < nn; c2++) c[c2 * j->csc] = s[c2];
    }
}

static void run_chunks(const job *j, bool *ok, uint32_t *R, uint32_t *strip)
{
    size_t groups = (j->N + j->u->g - 1) / j->u->g;
    for (size_t m0 = 0; m0 < j->M; m0 += j->phase) {
        size_t rows = j->M - m0 < j->phase ? j->M - m0 : j->phase;
        size_t parts = (rows + j->mc - 1) / j->mc;
        if (parts < j->parts) parts = j->parts;
        for (size_t k0 = 0; k0 < j->K; k0 += j->kc) {
            size_t kn = j->K - k0 < j->kc ? j->K - k0 : j->kc;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (size_t r = 0; r < rows; r += PACK_ROWS) pack_rows(j, m0, rows, k0, kn, r);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (size_t t = 0; t < parts * groups; t++)
                if (*ok) run_tile(j, m0, rows, k0, kn, parts, t, R, strip);
        }
    }
}

int ax_lutrow_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   int32_t *C, size_t ldc, bool accumulate, bool transposed, int threads, ax_error *err)
{
    const ax_lutrow_ukernel *u = p->lutrow;
    size_t K = W->K, N = W->N, G = u->g, KB = u->kb;
    if (K == 0) {
        if (!accumulate)
            for (size_t m = 0; m < M; m++) memset(C + m * ldc, 0, N * sizeof *C);
        return 0;
    }
    job j = {.u = u, .table_t = p->table_t, .A = A, .wt = W->bt, .C = C, .M = M, .N = N, .K = K, .lda = lda,
             .wstride = K, .csr = ldc, .csc = 1, .accumulate = accumulate};
    if (transposed) {
        j.table_t = p->tp->table_t;
        j.A = W->bt, j.lda = K, j.wt = A, j.wstride = lda, j.csr = 1, j.csc = ldc;
        size_t t = M;
        j.M = M = N, j.N = N = t;
    }
    size_t kpad = (K + KB - 1) / KB * KB;
    j.mc = M < u->mc ? M : u->mc;
    j.phase = OFF_BYTES / sizeof(uint16_t) / kpad;
    if (j.phase < j.mc) j.phase = j.mc;
    if (j.phase > M) j.phase = M;
    j.kc = OFF_BYTES / sizeof(uint16_t) / j.phase / KB * KB;
    if (j.kc < KB) j.kc = KB;
    if (j.kc > kpad) j.kc = kpad;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    if (threads <= 0) threads = 1;
    size_t groups = (N + G - 1) / G, want = 2 * (size_t)threads;
    j.parts = threads > 1 && groups < want ? (want + groups - 1) / groups : 1; /* at least, per phase */
    j.off = malloc(j.phase * j.kc * sizeof(uint16_t));
    if (!j.off) return ax_fail(err, "gemm: out of memory for %zu x %zu activation offsets", j.phase, j.kc);
    bool ok = true;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
        uint32_t *R = ax_aligned_alloc(64, KB * 256 * G * sizeof(uint32_t));
        uint32_t *strip = ax_aligned_alloc(64, j.mc * G * sizeof(uint32_t));
        if (!R || !strip) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            ok = false;
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        if (ok) run_chunks(&j, &ok, R, strip);
        free(R);
        free(strip);
    }
    free(j.off);
    if (!ok) return ax_fail(err, "gemm: out of memory for row tables");
    return 0;
}
