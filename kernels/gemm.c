/* gemm.c - the portable loop nest around the microkernels (BLIS style):
 * C is cut into tiles of MR rows x NC columns; each tile packs its MR rows
 * of A into the microkernel's panel layout (O(MR*K), reused over the tile's
 * NC columns), runs the microkernel into a small int32 buffer and adds the
 * per-column correction while writing C. A LUT over a linear base runs both
 * kernels on the tile (the exact one in sub-panels of its own height) and
 * adds their sums. Tiles are independent, so OpenMP
 * threads share them out and every thread count gives the same bits.
 * Small M (ax_lut_choose) runs the transposed problem through the same
 * nest: the weights' rows as the tiles' rows, A's rows as the columns.
 * ax_gemm_blocks runs the same tiles into a per-thread buffer and hands
 * each to the caller's function instead of writing C (a network layer
 * requantizes it while it is in L2); ax_gemm_blocks_rows also has each
 * tile make its rows of A through the caller's function (a convolution's
 * im2col rows, built in L1 or L2 instead of going to memory). */
#include "gemm_internal.h"
#include "lutrow.h"
#include "lut/ax_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { NC_MAX = 64 }; /* columns per tile: the kernel's output buffer */

/* Straight: A's M rows against the packed weights' N columns. Transposed
 * (p = the plan's tp, LUT only): the weights' N rows (bt) as the rows, A's
 * M rows as the columns (bt = A, wstride = lda), C written transposed. */
typedef struct job {
    const ax_gemm_plan *p;
    const ax_packed_weights *w;
    size_t M, N, K, mr, lda, ldc, n_chunks, nc;
    const uint8_t *A;
    const uint8_t *bt;     /* LUT: column n's K bytes at bt + n * wstride */
    size_t wstride;
    const uint32_t *corr;  /* per column */
    const uint8_t *panels; /* LUT: every row panel packed already (transposed), else NULL */
    int32_t *C;
    bool accumulate, transposed;
    bool stream; /* C by non-temporal stores (run_job decides) */
    size_t panel_bytes, xpanel_bytes; /* LUT panel; exact sub-panel */
    /* groups > 1 (ax_gemm_groups): tiles over every group, group g's
     * weights wg[g], its A at A + g * a_step and C at C + g * c_step */
    size_t groups, m_panels, a_step, c_step;
    ax_packed_weights *const *wg;
    /* ax_gemm_blocks: each finished tile goes to fn from the thread's cbuf
     * (mr x nc) instead of into C */
    ax_gemm_block_fn fn;
    void *ctx;
    /* ax_gemm_blocks_rows: A's rows made per tile into the thread's abuf
     * (mr x K) instead of read from A */
    ax_gemm_rows_fn rows;
    void *rows_ctx;
    size_t panel_gstep; /* panels of groups > 1 (ax_gemm_groups_panels): group g's at panels + g * panel_gstep */
} job;

typedef struct scratch {
    uint8_t *panel, *xpanel, *abuf;
    uint32_t *out, *xout;
    int32_t *cbuf;
    size_t packed_mi;
} scratch;

/* out's rows x nn sums (+ the columns' corrections) into the tile's C at c0
 * (row stride ldc; the tile's top left), or transposed into the job's C */
static void write_tile(const job *j, size_t m0, size_t rows, size_t n0, size_t nn, const uint32_t *out, int32_t *c0,
                       size_t ldc, bool accumulate)
{
    if (j->transposed) { /* C[n][m] of the job is C[m][n] of the caller */
        for (size_t n = 0; n < nn; n++) {
            uint32_t *c = (uint32_t *)j->C + (n0 + n) * j->ldc + m0, corr = j->corr[n0 + n];
            if (accumulate)
                for (size_t m = 0; m < rows; m++) c[m] += out[m * NC_MAX + n] + corr;
            else
                for (size_t m = 0; m < rows; m++) c[m] = out[m * NC_MAX + n] + corr;
        }
        return;
    }
    for (size_t m = 0; m < rows; m++) {
        int32_t *c = c0 + m * ldc;
        const uint32_t *o = out + m * NC_MAX;
        const uint32_t *corr = j->corr + n0;
        if (accumulate)
            for (size_t n = 0; n < nn; n++) c[n] = (int32_t)((uint32_t)c[n] + o[n] + corr[n]);
        else
            for (size_t n = 0; n < nn; n++) c[n] = (int32_t)(o[n] + corr[n]);
    }
}

static void pack_tile(const job *j, size_t m0, size_t rows, scratch *s)
{
    const ax_gemm_plan *p = j->p;
    const uint8_t *A = s->abuf;
    size_t lda = j->K;
    if (j->rows) /* made here, while the tile's rows fit in L1 or L2 */
        j->rows(j->rows_ctx, m0, rows, s->abuf);
    else
        A = j->A + m0 * j->lda, lda = j->lda;
    if (p->lut) p->lut->pack_a(rows, j->K, A, lda, s->panel);
    if (p->exact)
        for (size_t r = 0; r < rows; r += p->exact->mr) {
            size_t rn = rows - r < p->exact->mr ? rows - r : p->exact->mr;
            uint8_t *xp = s->xpanel + r / p->exact->mr * j->xpanel_bytes;
            p->exact->pack_a(p, rn, j->K, A + r * lda, lda, xp);
        }
}

static void run_exact(const job *j, size_t rows, size_t n0, size_t cn, const scratch *s, uint32_t *out)
{
    const ax_gemm_plan *p = j->p;
    for (size_t r = 0; r < rows; r += p->exact->mr) {
        size_t rn = rows - r < p->exact->mr ? rows - r : p->exact->mr;
        const uint8_t *xp = s->xpanel + r / p->exact->mr * j->xpanel_bytes;
        p->exact->run(p, rn, xp, j->K, j->N, j->w->bx, n0, cn, out + r * NC_MAX, NC_MAX);
    }
}

/* One tile; the scratch remembers which row panel (of which group) it holds. */
static void run_tile(const job *j, size_t t, scratch *s)
{
    size_t pi = t / j->n_chunks, mi = pi % j->m_panels, ni = t % j->n_chunks, g = pi / j->m_panels;
    job jg;
    if (j->groups > 1) {
        jg = *j;
        jg.w = j->wg[g], jg.bt = jg.w->bt, jg.corr = jg.w->corr;
        if (jg.A) jg.A += g * j->a_step; /* (none with the caller's panels) */
        jg.C += g * j->c_step;
        j = &jg;
    }
    size_t m0 = mi * j->mr, rows = j->M - m0 < j->mr ? j->M - m0 : j->mr;
    size_t n0 = ni * j->nc, nn = j->N - n0 < j->nc ? j->N - n0 : j->nc;
    const ax_gemm_plan *p = j->p;
    if (j->panels) s->panel = (uint8_t *)(uintptr_t)(j->panels + g * j->panel_gstep + mi * j->panel_bytes);
    else if (s->packed_mi != pi) {
        pack_tile(j, m0, rows, s);
        s->packed_mi = pi;
    }
    /* the tile's C: in the job's C, or (fn) the thread's buffer, handed over below */
    int32_t *c0 = j->fn ? s->cbuf : j->transposed ? NULL : j->C + m0 * j->ldc + n0;
    size_t ldc = j->fn ? j->nc : j->ldc;
    bool accumulate = j->fn ? false : j->accumulate;
    if (!p->lut && p->exact && p->exact->run_c) { /* straight into C; rows <= mr = the exact kernel's */
        ax_c_store store = accumulate ? AX_C_ADD : j->stream ? AX_C_STREAM : AX_C_SET;
        p->exact->run_c(p, rows, s->xpanel, j->K, j->N, j->w->bx, n0, nn, j->corr + n0, c0, ldc, store);
    } else if (p->lut && !p->exact && p->lut->run_c && !j->transposed) { /* straight into C, every column */
        p->lut->run_c(p, rows, s->panel, j->K, j->bt + n0 * j->wstride, j->wstride, nn, j->corr + n0, c0, ldc,
                      accumulate);
    } else {
        for (size_t c = 0; c < nn; c += NC_MAX) {
            size_t cn = nn - c < NC_MAX ? nn - c : NC_MAX;
            if (p->lut)
                p->lut->run(p, rows, s->panel, j->K, j->bt + (n0 + c) * j->wstride, j->wstride, cn, s->out, NC_MAX);
            if (p->exact) run_exact(j, rows, n0 + c, cn, s, p->lut ? s->xout : s->out);
            if (p->lut && p->exact)
                for (size_t m = 0; m < rows; m++)
                    for (size_t n = 0; n < cn; n++) s->out[m * NC_MAX + n] += s->xout[m * NC_MAX + n];
            write_tile(j, m0, rows, n0 + c, cn, s->out, c0 ? c0 + c : NULL, ldc, accumulate);
        }
    }
    if (j->fn) j->fn(j->ctx, m0, rows, n0, nn, s->cbuf, ldc);
}

/* Consecutive tiles a thread takes at a time: about CHUNK_MACS of work,
 * but at least 8 grabs per thread. One tile at a time, the shared counter
 * went back and forth between the cores for every tile: on small-K layers
 * (MobileNetV2's 1x1 layers of K = 16 and 32: 64 rows x N in ~0.5 us) two
 * threads ran slower than one. Consecutive tiles also share their row panel. */
enum { CHUNK_MACS = 1 << 20 };

static size_t tiles_per_grab(const job *j, size_t n_tiles, int threads)
{
    size_t tile = j->mr * j->nc * (j->K ? j->K : 1) * (size_t)(j->p->terms > 0 ? j->p->terms : 1);
    size_t chunk = CHUNK_MACS / tile, most = n_tiles / ((size_t)(threads > 0 ? threads : 1) * 8);
    if (chunk > most) chunk = most;
    return chunk ? chunk : 1;
}

/* Runs every tile with per-thread scratch; false when out of memory. */
static bool run_tiles(const job *j, size_t n_tiles, int threads)
{
    bool ok = true;
    size_t chunk = tiles_per_grab(j, n_tiles, threads);
    size_t xsub = j->p->exact ? (j->mr + j->p->exact->mr - 1) / j->p->exact->mr : 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1 && n_tiles > 1)
#else
    (void)threads;
#endif
    {
        scratch s = {.packed_mi = SIZE_MAX};
        bool mine = true;
        if (j->p->lut && !j->panels) mine = (s.panel = ax_aligned_alloc(64, j->panel_bytes)) != NULL;
        if (xsub && mine) mine = xsub <= SIZE_MAX / j->xpanel_bytes &&
                                 (s.xpanel = ax_aligned_alloc(64, xsub * j->xpanel_bytes)) != NULL;
        if (mine) mine = (s.out = ax_aligned_alloc(64, sizeof(uint32_t) * j->mr * NC_MAX)) != NULL;
        if (mine && j->p->lut && j->p->exact)
            mine = (s.xout = ax_aligned_alloc(64, sizeof(uint32_t) * j->mr * NC_MAX)) != NULL;
        if (mine && j->fn) mine = (s.cbuf = ax_aligned_alloc(64, sizeof(int32_t) * j->mr * j->nc)) != NULL;
        if (mine && j->rows) mine = (s.abuf = ax_aligned_alloc(64, j->mr * j->K + 64)) != NULL;
        if (!mine) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            ok = false;
        }
#ifdef _OPENMP
#pragma omp barrier
#pragma omp for schedule(dynamic, chunk)
#endif
        for (size_t t = 0; t < n_tiles; t++)
            if (ok) run_tile(j, t, &s);
        if (!j->panels) free(s.panel);
        free(s.xpanel);
        free(s.out);
        free(s.xout);
        free(s.cbuf);
        free(s.abuf);
    }
    return ok;
}

/* Splits the job into tiles and runs them. */
static int run_job(job *jp, int threads, ax_error *err)
{
    job j = *jp;
    const ax_gemm_plan *p = j.p;
    size_t M = j.M, N = j.N, K = j.K;
    j.mr = p->lut ? p->lut->mr : p->exact->mr;
    j.panel_bytes = p->lut ? p->lut->panel_bytes(K) : 1;
    j.xpanel_bytes = p->exact ? p->exact->panel_bytes(K * (size_t)p->terms) : 1; /* terms <= 8 */
    if (j.panel_bytes == SIZE_MAX || j.xpanel_bytes == SIZE_MAX || (j.rows && K > (SIZE_MAX - 64) / j.mr))
        return ax_fail(err, "gemm: K %zu is too large", K);
    threads = ax_default_threads(threads);
    /* Split columns only when there are too few row panels to go round. */
    size_t m_panels = (M + j.mr - 1) / j.mr, groups = j.groups > 1 ? j.groups : 1;
    size_t want = (size_t)threads * 4;
    j.m_panels = m_panels;
    j.n_chunks = 1;
    if (threads > 1 && groups * m_panels < want) {
        j.n_chunks = (want + groups * m_panels - 1) / (groups * m_panels);
        size_t max_chunks = (N + 15) / 16; /* keep >= 16 columns per tile */
        if (j.n_chunks > max_chunks) j.n_chunks = max_chunks ? max_chunks : 1;
    }
    /* C far past the caches, written once and in place: non-temporal
     * stores (the exact kernels' whole lines) */
    size_t c_bytes = M > SIZE_MAX / sizeof(int32_t) / (N ? N : 1) ? SIZE_MAX : M * N * sizeof(int32_t);
    j.stream = !j.fn && !j.accumulate && !j.transposed && groups == 1 && !p->lut && p->exact && p->exact->run_c &&
               ax_output_streams(c_bytes);
    /* fn: a tile's C (the thread's buffer) within L2/2, so fn reads it from there */
    size_t nc_cap = j.fn ? ax_cpu_caches_get()->l2 / 2 / (j.mr * sizeof(int32_t)) / 16 * 16 : SIZE_MAX;
    if (nc_cap < 16) nc_cap = 16;
    if ((N + j.n_chunks - 1) / j.n_chunks > nc_cap) j.n_chunks = (N + nc_cap - 1) / nc_cap;
    j.nc = (N + j.n_chunks - 1) / j.n_chunks;
    j.n_chunks = (N + j.nc - 1) / j.nc;
    if (!run_tiles(&j, groups * m_panels * j.n_chunks, threads)) return ax_fail(err, "gemm: out of memory for panels");
    return 0;
}

/* The weights' panels for the transposed problem (W->tpanels), packed on
 * first use; NULL when out of memory (each call then packs its own). */
static const uint8_t *tpanels(const ax_gemm_plan *t, const ax_packed_weights *W)
{
    ax_packed_weights *w = (ax_packed_weights *)(uintptr_t)W; /* a cache: allocated non-const by packing */
    uint8_t *pn = atomic_load_explicit(&w->tpanels, memory_order_acquire);
    if (pn) return pn;
    size_t mr = t->lut->mr, pb = t->lut->panel_bytes(W->K), np = (W->N + mr - 1) / mr;
    if (pb == SIZE_MAX || np > SIZE_MAX / pb || !(pn = ax_aligned_alloc(64, np * pb))) return NULL;
    for (size_t i = 0; i < np; i++) {
        size_t rows = W->N - i * mr < mr ? W->N - i * mr : mr;
        t->lut->pack_a(rows, W->K, W->bt + i * mr * W->K, W->K, pn + i * pb);
    }
    uint8_t *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&w->tpanels, &none, pn, memory_order_acq_rel, memory_order_acquire)) {
        free(pn); /* another call published first */
        return none;
    }
    return pn;
}

/* The transposed problem (ax_lut_choose: small M, large N) on the plan of
 * T^T: the weights' N rows (bt, K bytes each) are packed into panels like
 * activations and A's M rows serve as the weights, so one loaded table
 * column serves full blocks of rows; the per-column correction is
 * sum_k colmin^T[a[m][k]], per call. */
static int gemm_transposed(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                           int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err)
{
    const ax_gemm_plan *t = p->tp;
    size_t K = W->K, N = W->N;
    uint32_t *corr = malloc(sizeof *corr * M);
    if (!corr) return ax_fail(err, "gemm: out of memory");
    for (size_t m = 0; m < M; m++) {
        uint32_t c = 0;
        for (size_t k = 0; k < K; k++) c += t->colmin[A[m * lda + k]];
        corr[m] = c;
    }
    const uint8_t *panels = tpanels(t, W);
    job j = {.p = t, .w = W, .M = N, .N = M, .K = K, .lda = K, .ldc = ldc, .A = W->bt, .bt = A, .wstride = lda,
             .corr = corr, .panels = panels, .C = C, .accumulate = accumulate, .transposed = true};
    int rc = run_job(&j, threads, err);
    free(corr);
    return rc;
}

int ax_gemm(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
            int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err)
{
    if (!p || !W) return ax_fail(err, "gemm: missing plan or weights");
    if (W->plan != p) return ax_fail(err, "gemm: weights were packed for another plan");
    size_t K = W->K, N = W->N;
    if (K > W->max_k) /* packing refuses these already */
        return ax_fail(err, "gemm: K = %zu exceeds the largest exact K %zu of these weights", K, W->max_k);
    if (M == 0 || N == 0) return 0;
    if (W->n_chunks) { /* K-chunks, each adding to C */
        if (lda < K) return ax_fail(err, "gemm: lda %zu is smaller than K %zu", lda, K);
        for (size_t c = 0; c < W->n_chunks; c++) {
            const ax_packed_weights *wc = W->chunk[c];
            ax_packed_weights view = *wc;
            view.plan = p;
            if (ax_gemm(p, M, A + c * W->kc, lda, &view, C, ldc, accumulate || c > 0, threads, err) != 0) return -1;
        }
        return 0;
    }
    if (lda < K) return ax_fail(err, "gemm: lda %zu is smaller than K %zu", lda, K);
    if (ldc < N) return ax_fail(err, "gemm: ldc %zu is smaller than N %zu", ldc, N);
    if (!A || !C) return ax_fail(err, "gemm: missing A or C");
    if (W->ob && M >= p->onednn_min_m) return ax_onednn_gemm(p, M, A, lda, W, C, ldc, accumulate, threads, err);
    if (K > SIZE_MAX / 16) return ax_fail(err, "gemm: K %zu is too large", K);
    ax_lut_way way = ax_lut_choose(p, M, K, N);
    if (way == AX_LUT_ROWS || way == AX_LUT_ROWS_T)
        return ax_lutrow_gemm(p, M, A, lda, W, C, ldc, accumulate, way == AX_LUT_ROWS_T, threads, err);
    if (way == AX_LUT_OWN_T) return gemm_transposed(p, M, A, lda, W, C, ldc, accumulate, threads, err);
    job j = {.p = p, .w = W, .M = M, .N = N, .K = K, .lda = lda, .ldc = ldc, .A = A, .bt = W->bt, .wstride = K,
             .corr = W->corr, .C = C, .accumulate = accumulate};
    return run_job(&j, threads, err);
}

/* ax_gemm_blocks on the paths without tiles of their own (oneDNN, row
 * tables, the transposed problem, K-chunks): bands of rows computed by
 * ax_gemm into a buffer of about BAND_BYTES, each handed over in blocks of
 * BAND_BLOCK rows by the threads. With rows (ax_gemm_blocks_rows), each
 * band's rows of A are made first, by the threads in blocks of BAND_BLOCK. */
enum { BAND_BYTES = 4 << 20, BAND_BLOCK = 64 };

static int blocks_by_band(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, ax_gemm_rows_fn rows_fn,
                          void *rows_ctx, const ax_packed_weights *W, ax_gemm_block_fn fn, void *ctx, int threads,
                          ax_error *err)
{
    size_t N = W->N, K = W->K, band = BAND_BYTES / sizeof(int32_t) / N;
    if (band < 1) band = 1;
    if (band > M) band = M;
    if (N > SIZE_MAX / sizeof(int32_t) / band || (rows_fn && K > (SIZE_MAX - 64) / band))
        return ax_fail(err, "gemm: N %zu or K %zu is too large", N, K);
    int32_t *buf = ax_aligned_alloc(64, band * N * sizeof *buf);
    uint8_t *abuf = rows_fn ? ax_aligned_alloc(64, band * K + 64) : NULL;
    if (!buf || (rows_fn && !abuf)) {
        free(buf), free(abuf);
        return ax_fail(err, "gemm: out of memory for %zu rows of %zu int32", band, N);
    }
    threads = ax_default_threads(threads);
    int rc = 0;
    for (size_t r0 = 0; r0 < M && rc == 0; r0 += band) {
        size_t rows = M - r0 < band ? M - r0 : band, nb = (rows + BAND_BLOCK - 1) / BAND_BLOCK;
        if (rows_fn) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nb > 1)
#endif
            for (size_t i = 0; i < nb; i++) {
                size_t m = i * BAND_BLOCK, n = rows - m < BAND_BLOCK ? rows - m : BAND_BLOCK;
                rows_fn(rows_ctx, r0 + m, n, abuf + m * K);
            }
        }
        rc = ax_gemm(p, rows, rows_fn ? abuf : A + r0 * lda, rows_fn ? K : lda, W, buf, N, false, threads, err);
        if (rc != 0) break;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nb > 1)
#endif
        for (size_t i = 0; i < nb; i++) {
            size_t m = i * BAND_BLOCK, n = rows - m < BAND_BLOCK ? rows - m : BAND_BLOCK;
            fn(ctx, r0 + m, n, 0, N, buf + m * N, N);
        }
    }
    free(buf), free(abuf);
    return rc;
}

bool ax_gemm_rows_fit(const ax_gemm_plan *p, size_t M, const ax_packed_weights *W)
{
    return p && W && W->plan == p && !W->n_chunks && !(W->ob && M >= p->onednn_min_m) && W->K <= SIZE_MAX / 16 &&
           ax_lut_choose(p, M, W->K, W->N) == AX_LUT_OWN;
}

int ax_gemm_rows(const ax_gemm_plan *p, size_t M, ax_gemm_rows_fn rows, void *rows_ctx, const ax_packed_weights *W,
                 int32_t *C, size_t ldc, bool accumulate, int threads, ax_error *err)
{
    if (!rows || !C) return ax_fail(err, "gemm: missing row function or C");
    if (!ax_gemm_rows_fit(p, M, W)) return ax_fail(err, "gemm: this plan runs M = %zu without tiles of its own", M);
    if (W->K > W->max_k)
        return ax_fail(err, "gemm: K = %zu exceeds the largest exact K %zu of these weights", W->K, W->max_k);
    if (ldc < W->N) return ax_fail(err, "gemm: ldc %zu is smaller than N %zu", ldc, W->N);
    if (M == 0 || W->N == 0) return 0;
    job j = {.p = p, .w = W, .M = M, .N = W->N, .K = W->K, .ldc = ldc, .bt = W->bt, .wstride = W->K, .corr = W->corr,
             .C = C, .accumulate = accumulate, .rows = rows, .rows_ctx = rows_ctx};
    return run_job(&j, threads, err);
}

static int blocks(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, ax_gemm_rows_fn rows_fn,
                  void *rows_ctx, const ax_packed_weights *W, ax_gemm_block_fn fn, void *ctx, int threads,
                  ax_error *err)
{
    if (!p || !W) return ax_fail(err, "gemm: missing plan or weights");
    if (W->plan != p) return ax_fail(err, "gemm: weights were packed for another plan");
    if (!fn) return ax_fail(err, "gemm: missing block function");
    size_t K = W->K, N = W->N;
    if (K > W->max_k)
        return ax_fail(err, "gemm: K = %zu exceeds the largest exact K %zu of these weights", K, W->max_k);
    if (M == 0 || N == 0) return 0;
    if (!rows_fn && lda < K) return ax_fail(err, "gemm: lda %zu is smaller than K %zu", lda, K);
    if (!rows_fn && !A) return ax_fail(err, "gemm: missing A");
    if (!ax_gemm_rows_fit(p, M, W)) return blocks_by_band(p, M, A, lda, rows_fn, rows_ctx, W, fn, ctx, threads, err);
    job j = {.p = p, .w = W, .M = M, .N = N, .K = K, .lda = lda, .ldc = N, .A = A, .bt = W->bt, .wstride = K,
             .corr = W->corr, .fn = fn, .ctx = ctx, .rows = rows_fn, .rows_ctx = rows_ctx};
    return run_job(&j, threads, err);
}

int ax_gemm_blocks(const ax_gemm_plan *p, size_t M, const uint8_t *A, size_t lda, const ax_packed_weights *W,
                   ax_gemm_block_fn fn, void *ctx, int threads, ax_error *err)
{
    return blocks(p, M, A, lda, NULL, NULL, W, fn, ctx, threads, err);
}

int ax_gemm_blocks_rows(const ax_gemm_plan *p, size_t M, ax_gemm_rows_fn rows, void *rows_ctx,
                        const ax_packed_weights *W, ax_gemm_block_fn fn, void *ctx, int threads, ax_error *err)
{
    if (!rows) return ax_fail(err, "gemm: missing row function");
    return blocks(p, M, NULL, 0, rows, rows_ctx, W, fn, ctx, threads, err);
}

/* G GEMMs of one shape (a grouped convolution's groups: A + g * a_step,
 * W[g], C + g * c_step) as one job, the tiles of every group shared out
 * together: one set of scratch and one parallel region rather than G. What
 * ax_gemm would run otherwise (K-chunks, oneDNN, row tables, the transposed
 * problem) runs group by group. */
int ax_gemm_groups(const ax_gemm_plan *p, size_t G, size_t M, const uint8_t *A, size_t lda, size_t a_step,
                   ax_packed_weights *const *W, int32_t *C, size_t ldc, size_t c_step, bool accumulate, int threads,
                   ax_error *err)
{
    bool together = G > 1 && p && W && A && C && M > 0;
    for (size_t g = 0; together && g < G; g++)
        together = W[g] && W[g]->plan == p && !W[g]->n_chunks && W[g]->K == W[0]->K && W[g]->N == W[0]->N &&
                   W[g]->K <= W[g]->max_k && !(W[g]->ob && M >= p->onednn_min_m);
    size_t K = together ? W[0]->K : 0, N = together ? W[0]->N : 0;
    if (together)
        together = N > 0 && lda >= K && ldc >= N && K <= SIZE_MAX / 16 && ax_lut_choose(p, M, K, N) == AX_LUT_OWN;
    if (!together) {
        for (size_t g = 0; g < G; g++)
            if (ax_gemm(p, M, A + g * a_step, lda, W[g], C + g * c_step, ldc, accumulate, threads, err) != 0)
                return -1;
        return 0;
    }
    job j = {.p = p, .w = W[0], .M = M, .N = N, .K = K, .lda = lda, .ldc = ldc, .A = A, .bt = W[0]->bt,
             .wstride = K, .corr = W[0]->corr, .C = C, .accumulate = accumulate, .groups = G, .a_step = a_step,
             .c_step = c_step, .wg = W};
    return run_job(&j, threads, err);
}

int ax_gemm_groups_panels(const ax_gemm_plan *p, size_t G, size_t M, const uint8_t *panels, size_t gstep,
                          ax_packed_weights *const *W, int32_t *C, size_t ldc, size_t c_step, bool accumulate,
                          int threads, ax_error *err)
{
    if (!p || !p->lut || p->exact || !panels || !W || !C || G == 0 || !W[0] || M > p->lut->mr)
        return ax_fail(err, "gemm: packed group panels need a LUT plan without an exact part and M <= its mr");
    size_t K = W[0]->K, N = W[0]->N;
    for (size_t g = 0; g < G; g++)
        if (!W[g] || W[g]->plan != p || W[g]->n_chunks || W[g]->K != K || W[g]->N != N || K > W[g]->max_k)
            return ax_fail(err, "gemm: packed groups need weights of one shape packed for this plan");
    if (ldc < N) return ax_fail(err, "gemm: ldc %zu is smaller than N %zu", ldc, N);
    if (M == 0 || N == 0) return 0;
    job j = {.p = p, .w = W[0], .M = M, .N = N, .K = K, .ldc = ldc, .bt = W[0]->bt, .wstride = K,
             .corr = W[0]->corr, .C = C, .accumulate = accumulate, .groups = G, .c_step = c_step, .wg = W,
             .panels = panels, .panel_gstep = gstep};
    return run_job(&j, threads, err);
}
