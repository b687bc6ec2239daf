/* lowrank.c - finds an exact low-rank form of a multiplier table:
 *   T[a][w] = value(a) * value(w) + sum_{r<R} u_r(a) * v_r(w)
 * with small integers u_r, v_r (int16), so a GEMM over the table becomes one
 * integer GEMM over R+1 "terms" per k (the LOWRANK path). The error table
 * E = T - a*w is written on a basis of its rows: first the smallest rows of
 * E themselves (the u_r are then usually 0/+-1, e.g. dropped partial-product
 * bits), else an integer echelon basis of the row lattice (extended-Euclid
 * row operations, Hermite-style), on which every row is an integer
 * combination: no denominator at all. A form is used only if it reproduces
 * all 65,536 entries exactly and every factor fits int16. */
#include "gemm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LIM = 1 << 30 }; /* growth bound during elimination (int64 stays exact) */

typedef struct basis {
    int n;
    int piv[AX_LOWRANK_MAX];
    int64_t v[AX_LOWRANK_MAX][256];
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

/* Rows of E as the basis: R independent rows (smallest first, independence
 * tested modulo a prime), coefficients solved in double on R pivot columns
 * and rounded; the caller's exact check decides. Fills maps 1..R. */
static int factor_on_rows(const int64_t (*E)[256], const int *order, int max_rank, int *rank,
                          int16_t amap[][256], int16_t wmap[][256])
{
    int64_t red[AX_LOWRANK_MAX][256];
    int piv[AX_LOWRANK_MAX], src[AX_LOWRANK_MAX], R = 0;
    for (int i = 0; i < 256; i++) {
        int64_t e[256];
        for (int j = 0; j < 256; j++) e[j] = ((E[order[i]][j] % PRIME) + PRIME) % PRIME;
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
    /* M[s][r] = E[src[r]][piv[s]]; solve U[a] M^T = E[a][piv] by Gauss-Jordan in double */
    double M[AX_LOWRANK_MAX][AX_LOWRANK_MAX], Minv[AX_LOWRANK_MAX][AX_LOWRANK_MAX];
    for (int s = 0; s < R; s++)
        for (int r = 0; r < R; r++) M[s][r] = (double)E[src[r]][piv[s]], Minv[s][r] = s == r;
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
        for (int w = 0; w < 256; w++) {
            if (E[src[r]][w] > INT16_MAX || E[src[r]][w] < -INT16_MAX) return -1;
            wmap[r + 1][w] = (int16_t)E[src[r]][w];
        }
    for (int a = 0; a < 256; a++) /* M u = E[a][piv], u = Minv E[a][piv] */
        for (int r = 0; r < R; r++) {
            double u = 0;
            for (int s = 0; s < R; s++) u += Minv[r][s] * (double)E[a][piv[s]];
            u = nearbyint(u);
            if (u > INT16_MAX || u < -INT16_MAX) return -1;
            amap[r + 1][a] = (int16_t)u;
        }
    *rank = R;
    return 0;
}

static bool reproduces(const ax_mult *m, int R, int16_t amap[][256], int16_t wmap[][256])
{
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) {
            int64_t t = 0;
            for (int r = 0; r <= R; r++) t += (int64_t)amap[r][a] * wmap[r][w];
            if (t != m->table[a * 256 + w]) return false;
        }
    return true;
}

int ax_lowrank_factor(const ax_mult *m, int max_rank, int *rank, int16_t amap[][256], int16_t wmap[][256])
{
    if (max_rank > AX_LOWRANK_MAX) max_rank = AX_LOWRANK_MAX;
    basis *B = calloc(1, sizeof *B);
    int64_t (*E)[256] = malloc(sizeof(int64_t) * AX_TABLE_SIZE), e[256];
    int rc = -1;
    if (!B || !E) goto done;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++)
            E[a][w] = (int64_t)m->table[a * 256 + w] - ax_exact_product(m->act, m->wgt, a, w);
    /* small rows first: they tend to be the factors themselves (u_r(a) = +-1) */
    int order[256];
    int64_t norm[256];
    for (int a = 0; a < 256; a++) {
        norm[a] = 0;
        for (int w = 0; w < 256; w++) norm[a] += E[a][w] < 0 ? -E[a][w] : E[a][w];
        int i = a;
        while (i > 0 && norm[order[i - 1]] > norm[a]) order[i] = order[i - 1], i--;
        order[i] = a;
    }
    for (unsigned w = 0; w < 256; w++) {
        amap[0][w] = (int16_t)ax_operand_value(m->act, w); /* the exact term */
        wmap[0][w] = (int16_t)ax_operand_value(m->wgt, w);
    }
    int R0;
    if (factor_on_rows((const int64_t(*)[256])E, order, max_rank, &R0, amap, wmap) == 0 &&
        reproduces(m, R0, amap, wmap)) {
        *rank = R0;
        rc = 0;
        goto done;
    }
    for (int i = 0; i < 256; i++) {
        memcpy(e, E[order[i]], sizeof e);
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
    for (unsigned w = 0; w < 256; w++) {
        for (int r = 0; r < R; r++) {
            if (B->v[r][w] > INT16_MAX || B->v[r][w] < -INT16_MAX) goto done;
            wmap[r + 1][w] = (int16_t)B->v[r][w];
        }
    }
    for (unsigned a = 0; a < 256; a++) { /* row a = sum_r u_r(a) basis_r, by back-substitution */
        memcpy(e, E[a], sizeof e);
        for (int r = 0; r < R; r++) {
            int c = B->piv[r];
            if (e[c] % B->v[r][c]) goto done;
            int64_t u = e[c] / B->v[r][c];
            if (u > INT16_MAX || u < -INT16_MAX) goto done;
            amap[r + 1][a] = (int16_t)u;
            for (int j = 0; j < 256; j++) e[j] -= u * B->v[r][j];
        }
        for (int j = 0; j < 256; j++)
            if (e[j]) goto done;
    }
    if (!reproduces(m, R, amap, wmap)) goto done; /* the whole table, once more, from the maps */
    *rank = R;
    rc = 0;
done:
    free(B);
    free(E);
    return rc;
}
