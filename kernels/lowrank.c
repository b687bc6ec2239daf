/* lowrank.c - finds an exact low-rank form of a multiplier table, a sum of
 * `terms` products of small integer factors:
 *   T[a][w] = sum_{t < terms} amap[t][a] * wmap[t][w]
 * so a GEMM over the table becomes one integer GEMM over K * terms virtual k
 * (the LOWRANK path). Two forms are tried and the one with fewer terms wins:
 *  - the table itself (many approximate multipliers are f(a) * g(w) with
 *    some operand bits dropped: mul8s_1L2J is (a & ~1) * (w & ~1), one
 *    term, where its error has rank 2), and
 *  - a*w + E: term 0 the exact product, the error E = T - a*w factored.
 * A matrix is written on a basis of its rows: first its smallest rows
 * themselves (the activation factors are then usually 0/+-1), else an integer
 * echelon basis of the row lattice (extended-Euclid row operations,
 * Hermite-style), on which every row is an integer combination: no
 * denominator at all. Each term's common factors are then split between its
 * two factors so that both span at most 256 values where possible (the byte
 * form of the AVX-512 VNNI kernel). A form is used only if it reproduces all
 * 65,536 entries exactly and every factor fits int16. For that kernel a form
 * whose factors stay wider is split into a byte form of more terms
 * (ax_lowrank_split_bytes: the terms narrowed, then a wide factor in two
 * digits). */
#include "gemm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LIM = 1 << 30, ROWS_MAX = AX_LOWRANK_TERMS }; /* growth bound during elimination (int64 stays exact) */

typedef struct basis {
    int n;
    int piv[ROWS_MAX];
    int64_t v[ROWS_MAX][256];
} basis;

/* x, y with x*a + y*b = g = gcd(a, b) > 0 */
static int64_t egcd(int64_t a, int64_t b, int64_t *x, int64_t *y)
{
    int64_t x0 = 1, y0 = 0, x1 = 0, y1 = 1;
    while (b) {
        int64_t q = a / b, t = a - q * b;
        a = b, b = t;
        t = x0 - q * x1, x0 = x1, x1 = t;
        t = y0 - q * y1, y0 = y1, y1 = t;
    }
    if (a < 0) a = -a, x0 = -x0, y0 = -y0;
    *x = x0, *y = y0;
    return a;
}

/* Adds row e (destroyed) to the echelon basis of the lattice: while e's
 * leading column is some basis vector's pivot, a unimodular step on the pair
 * leaves the gcd in the basis vector and clears e there. False when the rank
 * or the entries grow past what this path handles. */
static bool insert(basis *B, int64_t *e, int max_rank)
{
    for (;;) {
        int c = 0, r = 0;
        while (c < 256 && !e[c]) c++;
        if (c == 256) return true;
        while (r < B->n && B->piv[r] != c) r++;
        if (r == B->n) break;
        int64_t *b = B->v[r], x, y, g = egcd(b[c], e[c], &x, &y);
        int64_t pb = b[c] / g, pe = e[c] / g;
        for (int j = 0; j < 256; j++) { /* (b, e) -> (x b + y e, pb e - pe b), in 128 bits */
            __int128 nb = (__int128)x * b[j] + (__int128)y * e[j], ne = (__int128)pb * e[j] - (__int128)pe * b[j];
            if (nb > LIM || nb < -LIM || ne > LIM || ne < -LIM) return false;
            b[j] = (int64_t)nb, e[j] = (int64_t)ne;
        }
    }
    int c = 0;
    while (!e[c]) c++;
    if (B->n == max_rank) return false;
    int r = B->n++; /* keep pivots increasing */
    while (r > 0 && B->piv[r - 1] > c) {
        B->piv[r] = B->piv[r - 1];
        memcpy(B->v[r], B->v[r - 1], sizeof B->v[r]);
        r--;
    }
    B->piv[r] = c;
    memcpy(B->v[r], e, sizeof B->v[r]);
    return true;
}

static const int64_t PRIME = 2147483629;

static int64_t inv_mod(int64_t b)
{
    int64_t r = 1, e = PRIME - 2;
    b %= PRIME;
    if (b < 0) b += PRIME;
    while (e) {
        if (e & 1) r = (int64_t)((__int128)r * b % PRIME);
        b = (int64_t)((__int128)b * b % PRIME);
        e >>= 1;
    }
    return r;
}

/* Rows of X as the basis: R independent rows (smallest first, independence
 * tested modulo a prime), coefficients solved in double on R pivot columns
 * and rounded: only a candidate, the caller's exact check decides.
 * X = sum_{r<R} u[r][a] v[r][w]. */
static int factor_on_rows(const int64_t (*X)[256], const int *order, int max_rank, int *rank, int64_t u[][256],
                          int64_t v[][256])
{
    int64_t red[ROWS_MAX][256];
    int piv[ROWS_MAX], src[ROWS_MAX], R = 0;
    for (int i = 0; i < 256; i++) {
        int64_t e[256];
        for (int j = 0; j < 256; j++) e[j] = ((X[order[i]][j] % PRIME) + PRIME) % PRIME;
        for (int r = 0; r < R; r++)
            if (e[piv[r]]) {
                int64_t f = e[piv[r]];
                for (int j = 0; j < 256; j++) e[j] = (int64_t)(((__int128)e[j] - (__int128)f * red[r][j]) % PRIME + PRIME) % PRIME;
            }
        int c = 0;
        while (c < 256 && !e[c]) c++;
        if (c == 256) continue;
        if (R == max_rank) return -1;
        int64_t iv = inv_mod(e[c]);
        for (int j = 0; j < 256; j++) red[R][j] = (int64_t)((__int128)e[j] * iv % PRIME);
        for (int r = 0; r < R; r++) /* keep the reduced basis reduced at the new pivot */
            if (red[r][c]) {
                int64_t f = red[r][c];
                for (int j = 0; j < 256; j++) red[r][j] = (int64_t)(((__int128)red[r][j] - (__int128)f * red[R][j]) % PRIME + PRIME) % PRIME;
            }
        piv[R] = c, src[R++] = order[i];
    }
    /* M[s][r] = X[src[r]][piv[s]]; solve U[a] M^T = X[a][piv] by Gauss-Jordan in double */
    double M[ROWS_MAX][ROWS_MAX], Minv[ROWS_MAX][ROWS_MAX];
    for (int s = 0; s < R; s++)
        for (int r = 0; r < R; r++) M[s][r] = (double)X[src[r]][piv[s]], Minv[s][r] = s == r;
    for (int c = 0; c < R; c++) {
        int best = c;
        for (int s = c + 1; s < R; s++)
            if (fabs(M[s][c]) > fabs(M[best][c])) best = s;
        if (M[best][c] == 0) return -1;
        for (int j = 0; j < R; j++) {
            double t = M[c][j]; M[c][j] = M[best][j], M[best][j] = t;
            t = Minv[c][j], Minv[c][j] = Minv[best][j], Minv[best][j] = t;
        }
        double d = M[c][c];
        for (int j = 0; j < R; j++) M[c][j] /= d, Minv[c][j] /= d;
        for (int s = 0; s < R; s++)
            if (s != c && M[s][c] != 0) {
                double f = M[s][c];
                for (int j = 0; j < R; j++) M[s][j] -= f * M[c][j], Minv[s][j] -= f * Minv[c][j];
            }
    }
    for (int r = 0; r < R; r++)
        for (int w = 0; w < 256; w++) v[r][w] = X[src[r]][w];
    for (int a = 0; a < 256; a++) /* M u = X[a][piv], u = Minv X[a][piv] */
        for (int r = 0; r < R; r++) {
            double x = 0;
            for (int s = 0; s < R; s++) x += Minv[r][s] * (double)X[a][piv[s]];
            x = nearbyint(x);
            if (x > LIM || x < -LIM) return -1;
            u[r][a] = (int64_t)x;
        }
    *rank = R;
    return 0;
}

/* The row lattice's echelon basis; every row an exact integer combination. */
static int factor_lattice(const int64_t (*X)[256], const int *order, int max_rank, int *rank, int64_t u[][256],
                          int64_t v[][256])
{
    basis *B = calloc(1, sizeof *B);
    int64_t e[256];
    int rc = -1;
    if (!B) return -1;
    for (int i = 0; i < 256; i++) {
        memcpy(e, X[order[i]], sizeof e);
        if (!insert(B, e, max_rank)) goto done;
    }
    /* reduce entries above each pivot (Hermite), which keeps factors small */
    for (int r = 0; r < B->n; r++) {
        int c = B->piv[r];
        if (B->v[r][c] < 0)
            for (int j = 0; j < 256; j++) B->v[r][j] = -B->v[r][j];
        for (int s = 0; s < r; s++) {
            int64_t q = B->v[s][c] / B->v[r][c]; /* |q|, |entries| <= 2^30: no overflow */
            if (q)
                for (int j = 0; j < 256; j++) B->v[s][j] -= q * B->v[r][j];
        }
    }
    int R = B->n;
    for (int r = 0; r < R; r++) memcpy(v[r], B->v[r], sizeof v[r]);
    for (unsigned a = 0; a < 256; a++) { /* row a = sum_r u_r(a) basis_r, by back-substitution */
        memcpy(e, X[a], sizeof e);
        for (int r = 0; r < R; r++) {
            int c = B->piv[r];
            if (e[c] % B->v[r][c]) goto done;
            int64_t q = e[c] / B->v[r][c];
            if (q > LIM || q < -LIM) goto done;
            u[r][a] = q;
            for (int j = 0; j < 256; j++) e[j] -= q * B->v[r][j];
        }
        for (int j = 0; j < 256; j++)
            if (e[j]) goto done;
    }
    *rank = R;
    rc = 0;
done:
    free(B);
    return rc;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    a = a < 0 ? -a : a, b = b < 0 ? -b : b;
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

static void span(const int64_t *x, int64_t s, int64_t *lo, int64_t *hi)
{
    *lo = INT64_MAX, *hi = INT64_MIN;
    for (int i = 0; i < 256; i++) {
        int64_t y = x[i] * s;
        *lo = y < *lo ? y : *lo;
        *hi = y > *hi ? y : *hi;
    }
}

static void span_i16(const int16_t *x, int64_t *lo, int64_t *hi)
{
    *lo = INT64_MAX, *hi = INT64_MIN;
    for (int i = 0; i < 256; i++) *lo = x[i] < *lo ? x[i] : *lo, *hi = x[i] > *hi ? x[i] : *hi;
}

/* Score of a term's factors u, v (v with sign s applied to both): 0 byte
 * form with v in s8 as it is, 1 byte form with v shifted, 2 int16 only,
 * 3 unusable. */
static int term_score(const int64_t *u, const int64_t *v)
{
    int64_t ul, uh, vl, vh;
    span(u, 1, &ul, &uh);
    span(v, 1, &vl, &vh);
    if (ul < -INT16_MAX || uh > INT16_MAX || vl < -INT16_MAX || vh > INT16_MAX) return 3;
    if (uh - ul > 255 || vh - vl > 255) return 2;
    return vl >= -128 && vh <= 127 ? 0 : 1;
}

/* Splits the term's common factor c = content(u) * content(v) as d * (c/d)
 * between the primitive parts, with a sign, for the best score; 3 when no
 * split fits int16. */
static int balance_term(int64_t *u, int64_t *v)
{
    int64_t cu = 0, cv = 0;
    for (int i = 0; i < 256; i++) cu = gcd64(cu, u[i]), cv = gcd64(cv, v[i]);
    if (!cu || !cv) { /* a zero term */
        memset(u, 0, 256 * sizeof *u), memset(v, 0, 256 * sizeof *v);
        return 0;
    }
    int best = term_score(u, v);
    if (cu > INT16_MAX || cv > INT16_MAX) return best; /* only splits with small parts are ever int16 */
    int64_t c = cu * cv, pu[256], pv[256], tu[256], tv[256];
    for (int i = 0; i < 256; i++) pu[i] = u[i] / cu, pv[i] = v[i] / cv;
    for (int64_t d = 1; d <= INT16_MAX && d <= c; d++) {
        if (c % d) continue;
        for (int64_t s = 1; s >= -1; s -= 2) {
            for (int i = 0; i < 256; i++) tu[i] = s * pu[i] * d, tv[i] = s * pv[i] * (c / d);
            int sc = term_score(tu, tv);
            if (sc < best) {
                best = sc;
                memcpy(u, tu, sizeof tu), memcpy(v, tv, sizeof tv);
            }
        }
    }
    return best;
}

static bool reproduces(const int32_t *table, const ax_lowrank *lr)
{
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) {
            int64_t t = 0;
            for (int r = 0; r < lr->terms + lr->row_terms; r++) t += (int64_t)lr->amap[r][a] * lr->wmap[r][w];
            if (t != table[a * 256 + w]) return false;
        }
    return true;
}

/* lr->abits[t]: whether f'_t(a) = (a ^ x) & m for all a, x = 0 or 0x80
 * (m is then f'_t(x ^ 255)); axor, amask 0 when not. Once per plan: the
 * kernels read it per call or task (the depthwise kernel's own scan of
 * the 256 bytes took 4-7% of its stride-2 layers in perf) */
static void bits_form(ax_lowrank *lr, int t)
{
    lr->abits[t] = false, lr->axor[t] = lr->amask[t] = 0;
    for (int x = 0; x < 256 && !lr->abits[t]; x += 128) {
        uint8_t m = lr->abyte[t][x ^ 255];
        bool all = true;
        for (int a = 0; a < 256 && all; a++) all = lr->abyte[t][a] == ((a ^ x) & m);
        if (all) lr->abits[t] = true, lr->axor[t] = (uint8_t)x, lr->amask[t] = m;
    }
}

static void swap_bytes(void *x, void *y, size_t n)
{
    unsigned char *p = x, *q = y;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        p[i] = q[i], q[i] = c;
    }
}

/* terms i and j of a form trade places (the sum is the same) */
static void swap_terms(ax_lowrank *lr, int i, int j)
{
#define AX_SWAP(f) swap_bytes(&lr->f[i], &lr->f[j], sizeof lr->f[i])
    AX_SWAP(a_off), AX_SWAP(w_off), AX_SWAP(amap), AX_SWAP(wmap), AX_SWAP(abyte), AX_SWAP(wbyte), AX_SWAP(abits),
        AX_SWAP(axor), AX_SWAP(amask);
#undef AX_SWAP
}

/* The byte form (see ax_lowrank in gemm_internal.h): every factor spans at
 * most 256 values; a weight factor outside s8 whose negation fits has both
 * factors of its term negated (the product is unchanged), else it is shifted. */
static void byte_form(ax_lowrank *lr)
{
    lr->bytes = true;
    lr->row_corr = false;
    for (int t = 0; t < lr->terms + lr->row_terms; t++) {
        int ul = INT16_MAX, uh = -INT16_MAX, vl = INT16_MAX, vh = -INT16_MAX;
        for (int i = 0; i < 256; i++) {
            ul = lr->amap[t][i] < ul ? lr->amap[t][i] : ul, uh = lr->amap[t][i] > uh ? lr->amap[t][i] : uh;
            vl = lr->wmap[t][i] < vl ? lr->wmap[t][i] : vl, vh = lr->wmap[t][i] > vh ? lr->wmap[t][i] : vh;
        }
        if (uh - ul > 255 || vh - vl > 255) {
            lr->bytes = false;
            return;
        }
        if (t >= lr->terms) { /* a row term: g constant, all of it in w_off */
            lr->a_off[t] = ul, lr->w_off[t] = vl;
            lr->row_corr = true;
            for (int i = 0; i < 256; i++) lr->abyte[t][i] = (uint8_t)(lr->amap[t][i] - ul), lr->wbyte[t][i] = 0;
            bits_form(lr, t);
            continue;
        }
        if ((vl < -128 || vh > 127) && -vh >= -128 && -vl <= 127) {
            for (int i = 0; i < 256; i++)
                lr->amap[t][i] = (int16_t)-lr->amap[t][i], lr->wmap[t][i] = (int16_t)-lr->wmap[t][i];
            int x = ul;
            ul = -uh, uh = -x, x = vl, vl = -vh, vh = -x;
        }
        lr->a_off[t] = ul;
        lr->w_off[t] = vl >= -128 && vh <= 127 ? 0 : vl + 128;
        lr->row_corr |= lr->w_off[t] != 0;
        for (int i = 0; i < 256; i++) {
            lr->abyte[t][i] = (uint8_t)(lr->amap[t][i] - lr->a_off[t]);
            lr->wbyte[t][i] = (int8_t)(lr->wmap[t][i] - lr->w_off[t]);
        }
        bits_form(lr, t);
    }
    /* a term that alone has a w_off goes first: the grouped VNNI kernel
     * sums the row corrections of term 0 itself (rows_inside) */
    int alone = -1, with = 0;
    for (int t = 0; t < lr->terms + lr->row_terms; t++)
        if (lr->w_off[t]) with++, alone = t;
    if (with == 1 && alone > 0 && alone < lr->terms) swap_terms(lr, 0, alone);
}

/* X = sum_{r<R} u v (from rows, else the lattice), balanced, into lr from
 * term `first` on (terms before it already set); false when no form
 * reproduces the whole table `target`. */
static bool factor_form(const int32_t *target, const int64_t (*X)[256], int max_rank, int first, ax_lowrank *lr)
{
    int64_t (*u)[256] = malloc(sizeof(int64_t) * 256 * ROWS_MAX), (*v)[256] = malloc(sizeof(int64_t) * 256 * ROWS_MAX);
    bool ok = false;
    if (!u || !v || max_rank < 0) goto done;
    int order[256], R = 0; /* small rows first: they tend to be the factors themselves (u_r(a) = +-1) */
    int64_t norm[256];
    for (int a = 0; a < 256; a++) {
        norm[a] = 0;
        for (int w = 0; w < 256; w++) norm[a] += X[a][w] < 0 ? -X[a][w] : X[a][w];
        int i = a;
        while (i > 0 && norm[order[i - 1]] > norm[a]) order[i] = order[i - 1], i--;
        order[i] = a;
    }
    for (int pass = 0; pass < 2 && !ok; pass++) {
        if ((pass ? factor_lattice : factor_on_rows)(X, order, max_rank, &R, u, v) != 0) continue;
        ok = true;
        for (int r = 0; r < R && ok; r++) {
            ok = balance_term(u[r], v[r]) < 3;
            for (int i = 0; i < 256 && ok; i++)
                lr->amap[first + r][i] = (int16_t)u[r][i], lr->wmap[first + r][i] = (int16_t)v[r][i];
        }
        lr->terms = first + R;
        if (lr->terms == 0) { /* the zero table: one zero term */
            memset(lr->amap[0], 0, sizeof lr->amap[0]), memset(lr->wmap[0], 0, sizeof lr->wmap[0]);
            lr->terms = 1;
        }
        ok = ok && reproduces(target, lr); /* the exact check on the whole table decides */
    }
done:
    free(u);
    free(v);
    return ok;
}

/* Which of two forms to keep: fewer terms in all, then the byte form, then
 * fewer multiplied ones (more row terms), then fewer shifted weight factors
 * (each costs a row correction). */
static bool better(const ax_lowrank *x, const ax_lowrank *y)
{
    int tx = x->terms + x->row_terms, ty = y->terms + y->row_terms;
    if (tx != ty) return tx < ty;
    if (x->bytes != y->bytes) return x->bytes;
    if (x->terms != y->terms) return x->terms < y->terms;
    return x->bytes && !x->row_corr && y->row_corr;
}

/* The most terms a candidate may have and still be kept: as many as the
 * best form so far (ties may go to the candidate), else max_terms. */
static int limit(const ax_lowrank *best, int max_terms)
{
    return best && best->terms + best->row_terms < max_terms ? best->terms + best->row_terms : max_terms;
}

/* Digit split of one term u*v whose factor x (u or v) spans more than 256
 * values while the other, y, spans sy <= 255: with x = x0 + r + B*q, x0 =
 * min x, r = (x - x0) mod B, q = (x - x0) div B,
 *   x*y = (x0 + r)*y + q*(B*y)
 * two terms whose factors span at most B - 1, sx / B and B * sy values: B =
 * 255 / sy (256 when y is constant) makes both bytes when sx * sy is under
 * about 2^16. The pieces are written at terms t and `*n`; false when the
 * split needs more terms than fit, or any factor leaves int16. */
static bool split_term(ax_lowrank *lr, int t, int *n)
{
    int64_t ul, uh, vl, vh;
    span_i16(lr->amap[t], &ul, &uh);
    span_i16(lr->wmap[t], &vl, &vh);
    if (uh - ul <= 255 && vh - vl <= 255) return true;
    if ((uh - ul > 255 && vh - vl > 255) || *n >= AX_LOWRANK_TERMS) return false;
    bool on_u = uh - ul > 255; /* which factor is split */
    int16_t *x = on_u ? lr->amap[t] : lr->wmap[t], *y = on_u ? lr->wmap[t] : lr->amap[t];
    int16_t *xq = on_u ? lr->amap[*n] : lr->wmap[*n], *yq = on_u ? lr->wmap[*n] : lr->amap[*n];
    int64_t x0 = on_u ? ul : vl, sx = on_u ? uh - ul : vh - vl, sy = on_u ? vh - vl : uh - ul;
    int64_t B = sy ? 255 / sy : 256;
    if (sx / B > 255) return false;
    for (int i = 0; i < 256; i++) {
        int64_t by = B * y[i];
        if (by < -INT16_MAX || by > INT16_MAX) return false;
    }
    for (int i = 0; i < 256; i++) {
        int64_t d = x[i] - x0;
        xq[i] = (int16_t)(d / B), yq[i] = (int16_t)(B * y[i]);
        x[i] = (int16_t)(x0 + d % B);
    }
    (*n)++;
    return true;
}

/* Byte terms a term needs (split_term's rule): 1, 2, or more than any form
 * holds; *width grows by its factors' log spans (the tie-break). */
static int term_pieces(const int16_t *u, const int16_t *v, double *width)
{
    int64_t ul, uh, vl, vh;
    span_i16(u, &ul, &uh);
    span_i16(v, &vl, &vh);
    int64_t su = uh - ul, sv = vh - vl, sx = su > sv ? su : sv, sy = su > sv ? sv : su, B = sy ? 255 / sy : 256;
    *width += log2((double)su + 1) + log2((double)sv + 1);
    return sx <= 255 ? 1 : sy > 255 || sx / B > 255 ? AX_LOWRANK_TERMS + 1 : 2;
}

/* x_j -= k x_i and y_i += k y_j, where (x, y) = (v, u) or (u, v): the same
 * sum, u_i v_i + u_j v_j; false (nothing changed) when a factor would
 * leave int16 */
static bool move_multiple(ax_lowrank *s, int i, int j, int k, bool on_u)
{
    int16_t *xj = on_u ? s->amap[j] : s->wmap[j], *xi = on_u ? s->amap[i] : s->wmap[i];
    int16_t *yi = on_u ? s->wmap[i] : s->amap[i], *yj = on_u ? s->wmap[j] : s->amap[j];
    for (int n = 0; n < 256; n++) {
        int64_t x = xj[n] - (int64_t)k * xi[n], y = yi[n] + (int64_t)k * yj[n];
        if (x < -INT16_MAX || x > INT16_MAX || y < -INT16_MAX || y > INT16_MAX) return false;
    }
    for (int n = 0; n < 256; n++) xj[n] = (int16_t)(xj[n] - k * xi[n]), yi[n] = (int16_t)(yi[n] + k * yj[n]);
    return true;
}

/* The search's basis mixes terms (mul8u_17C8_v1.1 folded under s8 weights,
 * nn/layer_q.c: a factor spanning 21,000 values against 4, where the
 * table's own form has 8,192 against 4): moves of multiples between pairs
 * of terms (move_multiple; k the least-squares multiple that narrows x_j,
 * and its neighbours and +-1, +-2), each kept when the form then needs
 * fewer byte terms, or as many with narrower factors. A greedy integer
 * size reduction, exact by construction (the caller checks the table). */
static void narrow_terms(ax_lowrank *s)
{
    int T = s->terms, pieces[AX_LOWRANK_TERMS];
    double width[AX_LOWRANK_TERMS];
    for (int t = 0; t < T; t++) width[t] = 0, pieces[t] = term_pieces(s->amap[t], s->wmap[t], &width[t]);
    for (int round = 0, moved = 1; round < 64 && moved; round++) {
        moved = 0;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++)
                for (int on_u = 0; on_u < 2 && i != j; on_u++) {
                    const int16_t *xj = on_u ? s->amap[j] : s->wmap[j], *xi = on_u ? s->amap[i] : s->wmap[i];
                    double mj = 0, mi = 0, num = 0, den = 0;
                    for (int n = 0; n < 256; n++) mj += xj[n], mi += xi[n];
                    mj /= 256, mi /= 256;
                    for (int n = 0; n < 256; n++) num += (xj[n] - mj) * (xi[n] - mi), den += (xi[n] - mi) * (xi[n] - mi);
                    int k0 = den > 0 && fabs(num / den) < INT16_MAX ? (int)lround(num / den) : 0;
                    const int ks[7] = {k0, k0 - 1, k0 + 1, 1, -1, 2, -2};
                    for (int q = 0; q < 7; q++) {
                        if (!ks[q] || !move_multiple(s, i, j, ks[q], on_u)) continue;
                        double wi = 0, wj = 0;
                        int pi = term_pieces(s->amap[i], s->wmap[i], &wi), pj = term_pieces(s->amap[j], s->wmap[j], &wj);
                        int before = pieces[i] + pieces[j], after = pi + pj;
                        if (after < before || (after == before && wi + wj < width[i] + width[j] - 1e-9)) {
                            pieces[i] = pi, pieces[j] = pj, width[i] = wi, width[j] = wj, moved = 1;
                        } else {
                            move_multiple(s, i, j, -ks[q], on_u); /* undone exactly: x_i, y_j did not change */
                        }
                    }
                }
    }
    for (int t = 0; t < T; t++) { /* each term's common factors split anew (balance_term) */
        int64_t u[256], v[256];
        for (int n = 0; n < 256; n++) u[n] = s->amap[t][n], v[n] = s->wmap[t][n];
        if (balance_term(u, v) < 3)
            for (int n = 0; n < 256; n++) s->amap[t][n] = (int16_t)u[n], s->wmap[t][n] = (int16_t)v[n];
    }
}

/* ax_lowrank_split_bytes on a form of `table` */
static int split_bytes(const int32_t *table, ax_lowrank *lr)
{
    if (lr->bytes) return 0;
    ax_lowrank *s = malloc(sizeof *s);
    if (!s) return -1;
    *s = *lr;
    if (s->row_terms == 0) narrow_terms(s);
    int n = s->terms + s->row_terms;
    bool ok = s->row_terms == 0; /* forms with row terms are byte forms already (row_term_form) */
    for (int t = 0, all = n; t < all && ok; t++) ok = split_term(s, t, &n);
    if (ok) {
        s->terms = n;
        byte_form(s);
        ok = s->bytes && reproduces(table, s);
    }
    if (ok) *lr = *s;
    free(s);
    return ok ? 0 : -1;
}

int ax_lowrank_split_bytes(const ax_mult *m, ax_lowrank *lr) { return split_bytes(m->table, lr); }

bool ax_lowrank_swap_signs(ax_lowrank *lr)
{
    if (!lr->bytes || !lr->row_corr || lr->row_terms || lr->acts_s8) return false;
    for (int t = 0; t < lr->terms; t++)
        for (int i = 0; i < 256; i++)
            if (lr->wmap[t][i] < 0 || lr->wmap[t][i] > 255) return false;
    for (int t = 0; t < lr->terms; t++) {
        int ul = INT16_MAX;
        for (int i = 0; i < 256; i++) ul = lr->amap[t][i] < ul ? lr->amap[t][i] : ul;
        lr->a_off[t] = ul + 128, lr->w_off[t] = 0; /* f' in [-128, 127]: byte_form checked the span */
        for (int i = 0; i < 256; i++) {
            lr->abyte[t][i] = (uint8_t)(lr->amap[t][i] - lr->a_off[t]);
            lr->wbyte[t][i] = (int8_t)(uint8_t)lr->wmap[t][i];
        }
        bits_form(lr, t);
    }
    lr->row_corr = false, lr->acts_s8 = true;
    return true;
}

/* The table as a form of T - r(a) plus the row term r(a) = F[a][v0], the
 * column where the weight is 0 in either signedness (v0 = 0x00 or 0x80;
 * a folded table's F[x][0x80] = -zw*a over a u8 table): the difference of
 * two columns has the rank of T's own form. Only byte forms keep it. */
static bool row_term_form(const ax_mult *m, unsigned v0, int max_terms, int64_t (*X)[256], ax_lowrank *lr, bool split)
{
    int64_t r[256], c = 0;
    for (unsigned a = 0; a < 256; a++) r[a] = m->table[a * 256 + v0], c = gcd64(c, r[a]);
    if (!c || c > INT16_MAX || max_terms < 2) return false;
    int32_t *target = malloc(sizeof(int32_t) * AX_TABLE_SIZE);
    if (!target) return false;
    bool ok = true;
    for (unsigned i = 0; i < AX_TABLE_SIZE && ok; i++) {
        X[i >> 8][i & 255] = (int64_t)m->table[i] - r[i >> 8];
        ok = X[i >> 8][i & 255] >= INT32_MIN && X[i >> 8][i & 255] <= INT32_MAX;
        target[i] = (int32_t)X[i >> 8][i & 255];
    }
    memset(lr, 0, sizeof *lr);
    ok = ok && factor_form(target, (const int64_t(*)[256])X, max_terms - 1, 0, lr);
    if (ok && split) { /* T - r's form split into bytes (the row term needs the byte kernel anyway) */
        byte_form(lr);
        ok = split_bytes(target, lr) == 0;
        lr->bytes = false; /* set again below, with the row term */
    }
    free(target);
    if (!ok || lr->terms >= max_terms) return false;
    int t = lr->terms;
    for (unsigned a = 0; a < 256; a++) {
        if (r[a] / c > INT16_MAX || r[a] / c < -INT16_MAX) return false;
        lr->amap[t][a] = (int16_t)(r[a] / c), lr->wmap[t][a] = (int16_t)c;
    }
    lr->row_terms = 1;
    lr->t_form = true;
    byte_form(lr);
    return lr->bytes && reproduces(m->table, lr);
}

/* The exact product's operands shifted into the other signedness: 0, or
 * the shift (+-128) that maps t's values onto those of the byte ^ 0x80 in
 * the other type. A table folded over XORed operands (nn/layer_q.c: the
 * tensors' bytes, minus zw * a) is such a product plus the table's own
 * error, which keeps its rank and factor widths only against this shift. */
static int other_sign_shift(ax_operand t)
{
    return ax_operand_value(t, 0x80) < 0 ? 128 : -128;
}

/* Keeps candidate c when it is the first form or a better one (ties: the
 * earlier). */
static void keep(const ax_lowrank *c, ax_lowrank *best, bool *found)
{
    if (!*found || better(c, best)) *best = *c, *found = true;
}

int ax_lowrank_factor(const ax_mult *m, int max_terms, ax_lowrank *out)
{
    if (max_terms > AX_LOWRANK_TERMS) max_terms = AX_LOWRANK_TERMS;
    int64_t (*X)[256] = malloc(sizeof(int64_t) * AX_TABLE_SIZE);
    ax_lowrank *cand = calloc(2, sizeof *cand), *c = cand, *best = cand + 1;
    bool found = false;
    if (!X || !cand || max_terms < 1) goto done;
    /* (a + da) * (w + dw) + E: term 0 the exact product, its operands
     * shifted or not */
    for (int s = 0; s < 4; s++) {
        int da = s & 1 ? other_sign_shift(m->act) : 0, dw = s & 2 ? other_sign_shift(m->wgt) : 0;
        for (unsigned a = 0; a < 256; a++)
            for (unsigned w = 0; w < 256; w++)
                X[a][w] = (int64_t)m->table[a * 256 + w] -
                          (int64_t)(ax_operand_value(m->act, a) + da) * (ax_operand_value(m->wgt, w) + dw);
        memset(c, 0, sizeof *c);
        for (unsigned i = 0; i < 256; i++) {
            c->amap[0][i] = (int16_t)(ax_operand_value(m->act, i) + da);
            c->wmap[0][i] = (int16_t)(ax_operand_value(m->wgt, i) + dw);
        }
        if (!factor_form(m->table, (const int64_t(*)[256])X, limit(found ? best : NULL, max_terms) - 1, 1, c))
            continue;
        byte_form(c);
        /* the byte form only negated whole terms: the products are unchanged, checked once more */
        if (reproduces(m->table, c)) keep(c, best, &found);
    }
    /* the table itself */
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) X[i >> 8][i & 255] = m->table[i];
    memset(c, 0, sizeof *c);
    if (factor_form(m->table, (const int64_t(*)[256])X, limit(found ? best : NULL, max_terms), 0, c)) {
        c->t_form = true;
        byte_form(c);
        if (reproduces(m->table, c)) keep(c, best, &found);
    }
    for (unsigned v0 = 0; v0 < 256; v0 += 0x80)
        if (row_term_form(m, v0, limit(found ? best : NULL, max_terms), X, c, false)) keep(c, best, &found);
    if (found) *out = *best;
done:
    free(X);
    free(cand);
    return found ? 0 : -1;
}

int ax_lowrank_row_split(const ax_mult *m, ax_lowrank *out)
{
    int64_t (*X)[256] = malloc(sizeof(int64_t) * AX_TABLE_SIZE);
    ax_lowrank *c = malloc(sizeof *c);
    bool found = false;
    for (unsigned v0 = 0; v0 < 256 && X && c; v0 += 0x80)
        if (row_term_form(m, v0, AX_LOWRANK_TERMS, X, c, true) && (!found || c->terms < out->terms))
            *out = *c, found = true;
    free(X);
    free(c);
    return found ? 0 : -1;
}
