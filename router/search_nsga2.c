/* search_nsga2.c - ALWANN's method as the router's baseline: NSGA-II (Deb
 * et al., IEEE TEVC 2002) over (chip cost, -top-1) with Deb's constraint
 * domination for the accuracy bound, every individual a real evaluation on
 * the search images (memoized), generations until the budget is spent or one
 * brings nothing new. */
#include "router_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- NSGA-II ------------------------------------------------------------- */

typedef struct indiv {
    size_t *c;
    double f1, f2, viol; /* cost, -top1, constraint violation */
    size_t rank;
    double crowd;
    bool mark;
} indiv;

/* How far a point is from the search bound (router.h), in images. */
static double violation(const rt_problem *p, const ax_route_point *x)
{
    if (x->feasible) return 0;
    double allowed = p->o->max_drop_pp / 100 * (double)p->search->count, z = p->o->confidence;
    double v1 = (double)x->lost1 - (double)x->gained1 + z * sqrt((double)(x->lost1 + x->gained1)) - allowed;
    double v5 = (double)x->lost5 - (double)x->gained5 + z * sqrt((double)(x->lost5 + x->gained5)) - allowed;
    double v = (v1 > 0 ? v1 : 0) + (v5 > 0 ? v5 : 0);
    return v > 0 ? v : 1e-9;
}

/* Constraint domination (Deb 2002): feasible beats infeasible, less violation
 * beats more, else Pareto dominance on (cost, -top1). */
static bool dominates(const indiv *a, const indiv *b)
{
    if (a->viol == 0 && b->viol > 0) return true;
    if (a->viol > 0) return b->viol > 0 && a->viol < b->viol;
    if (b->viol > 0) return true;
    return a->f1 <= b->f1 && a->f2 <= b->f2 && (a->f1 < b->f1 || a->f2 < b->f2);
}

static void sort_fronts(indiv *v, size_t n)
{
    const size_t none = (size_t)-1;
    for (size_t i = 0; i < n; i++) v[i].rank = none, v[i].mark = false;
    for (size_t r = 0, left = n; left > 0; r++) {
        for (size_t i = 0; i < n; i++) {
            if (v[i].rank != none) continue;
            bool dom = false;
            for (size_t k = 0; k < n && !dom; k++) dom = k != i && v[k].rank == none && dominates(&v[k], &v[i]);
            v[i].mark = !dom;
        }
        for (size_t i = 0; i < n; i++)
            if (v[i].rank == none && v[i].mark) v[i].rank = r, left--;
    }
}

static int cmp_f1(const void *a, const void *b)
{
    const indiv *x = *(indiv *const *)a, *y = *(indiv *const *)b;
    return x->f1 < y->f1 ? -1 : x->f1 > y->f1;
}

static int cmp_f2(const void *a, const void *b)
{
    const indiv *x = *(indiv *const *)a, *y = *(indiv *const *)b;
    return x->f2 < y->f2 ? -1 : x->f2 > y->f2;
}

static void crowding(indiv *v, size_t n, indiv **tmp)
{
    for (size_t i = 0; i < n; i++) v[i].crowd = 0;
    for (size_t r = 0; r < n; r++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i].rank == r) tmp[m++] = &v[i];
        if (m == 0) break;
        for (int obj = 0; obj < 2; obj++) {
            qsort(tmp, m, sizeof *tmp, obj ? cmp_f2 : cmp_f1);
            tmp[0]->crowd = tmp[m - 1]->crowd = INFINITY;
            double lo = obj ? tmp[0]->f2 : tmp[0]->f1, hi = obj ? tmp[m - 1]->f2 : tmp[m - 1]->f1;
            for (size_t i = 1; i + 1 < m && hi > lo; i++)
                tmp[i]->crowd += ((obj ? tmp[i + 1]->f2 : tmp[i + 1]->f1) - (obj ? tmp[i - 1]->f2 : tmp[i - 1]->f1)) /
                                 (hi - lo);
        }
    }
}

static bool better(const indiv *a, const indiv *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->crowd > b->crowd);
}

static int score_indiv(rt_problem *p, indiv *x, size_t start, size_t budget, bool *done)
{
    const ax_route_point *pt = rt_find_point(p, x->c);
    bool fresh;
    *done = pt != NULL;
    if (!pt && rt_budget_left(p, start, budget)) {
        if (rt_evaluate(p, x->c, "nsga2", &pt, &fresh) != 0) return -1;
        *done = true;
    }
    if (*done) x->f1 = pt->cost, x->f2 = -pt->top1, x->viol = violation(p, pt);
    return 0;
}

static void make_child(rt_problem *p, const indiv *pop, size_t P, size_t *child)
{
    const indiv *par[2];
    for (int k = 0; k < 2; k++) {
        const indiv *a = &pop[rt_below(&p->rng, P)], *b = &pop[rt_below(&p->rng, P)];
        par[k] = better(a, b) ? a : b;
    }
    for (size_t l = 0; l < p->L; l++) {
        child[l] = par[rt_next(&p->rng) & 1]->c[l];
        if (rt_unit(&p->rng) < 1.0 / (double)p->L) child[l] = rt_below(&p->rng, p->J);
    }
    rt_repair_k(p, child);
}

#define NSGA_POP 16
#define NSGA_DEFAULT_EVALS 160

int rt_search_nsga2(rt_problem *p, size_t *best)
{
    size_t P = NSGA_POP, start = p->r->evals_search;
    size_t budget = p->o->max_evals ? p->o->max_evals : NSGA_DEFAULT_EVALS;
    indiv *v = calloc(2 * P, sizeof *v);
    indiv **tmp = calloc(2 * P, sizeof *tmp);
    size_t *mem = calloc(2 * P * p->L, sizeof *mem), *kc = malloc(P * p->L * sizeof *kc);
    indiv *kv = malloc(P * sizeof *kv);
    int rc = v && tmp && mem && kc && kv ? 0 : ax_fail(p->err, "router: out of memory");
    for (size_t i = 0; rc == 0 && i < 2 * P; i++) v[i].c = mem + i * p->L;
    /* first population: the incumbent, then random assignments */
    size_t n = 0;
    for (size_t i = 0; rc == 0 && n < P && i < 64 * P; i++) {
        if (i == 0) memcpy(v[n].c, rt_incumbent(p)->choice, p->L * sizeof(size_t));
        else
            for (size_t l = 0; l < p->L; l++) v[n].c[l] = rt_unit(&p->rng) < 0.5 ? 0 : rt_below(&p->rng, p->J);
        rt_repair_k(p, v[n].c);
        bool done;
        rc = score_indiv(p, &v[n], start, budget, &done);
        n += done;
        if (!done) break;
    }
    /* generations end with the budget, or when one brings nothing new (a
     * small space is exhausted) */
    for (size_t before = (size_t)-1; rc == 0 && n == P && rt_budget_left(p, start, budget) &&
                                     p->r->evals_search != before;) {
        size_t m = P;
        before = p->r->evals_search;
        sort_fronts(v, P);
        crowding(v, P, tmp);
        for (size_t tries = 0; rc == 0 && m < 2 * P && tries < 64 * P; tries++) {
            make_child(p, v, P, v[m].c);
            bool done;
            rc = score_indiv(p, &v[m], start, budget, &done);
            if (done) m++;
            if (!rt_budget_left(p, start, budget)) break;
        }
        sort_fronts(v, m);
        crowding(v, m, tmp);
        for (size_t i = 0; i < m; i++) tmp[i] = &v[i];
        for (size_t i = 0; i < P; i++) { /* selection sort: the P best move to the front */
            size_t b = i;
            for (size_t k = i + 1; k < m; k++)
                if (better(tmp[k], tmp[b])) b = k;
            indiv *t = tmp[i];
            tmp[i] = tmp[b], tmp[b] = t;
        }
        for (size_t i = 0; i < P; i++) kv[i] = *tmp[i], memcpy(kc + i * p->L, tmp[i]->c, p->L * sizeof *kc);
        for (size_t i = 0; i < P; i++) {
            size_t *c = v[i].c;
            v[i] = kv[i], v[i].c = c;
            memcpy(c, kc + i * p->L, p->L * sizeof *c);
        }
    }
    if (rc == 0) {
        const ax_route_point *b = NULL;
        for (size_t i = 0; i < p->r->n_points; i++) {
            const ax_route_point *x = &p->r->points[i];
            if (x->feasible && (!b || x->cost < b->cost)) b = x;
        }
        memcpy(best, b->choice, p->L * sizeof *best);
    }
    free(v), free(tmp), free(mem), free(kc), free(kv);
    return rc;
}
