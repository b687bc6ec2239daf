/* search.c - the three searches over assignments, each spending real
 * evaluations on the search images (rt_evaluate counts them):
 *  - surrogate: a regularized linear model predicts the top-1 and top-5 drop
 *    of an assignment from the per-layer sensitivities; it is refitted on
 *    every real evaluation, proposes the cheapest assignment it predicts
 *    feasible, and a real evaluation confirms or refutes it;
 *  - greedy: layers in order of sensitivity, each tried on its cheapest
 *    multiplier first, kept when a real evaluation says feasible;
 *  - nsga2: ALWANN's method, NSGA-II (Deb et al. 2002) over (cost, top-1)
 *    with constraint domination for the accuracy bound.
 * All start from the best feasible assignment the sensitivity pass already
 * evaluated, and all draw randomness from the seeded rt_rng only. */
#include "router_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double rt_harm(const rt_problem *p, size_t l, size_t j)
{
    const ax_route_sens *s = &p->r->sens[l * p->J + j];
    double d1 = p->exact_top1 - s->top1, d5 = p->exact_top5 - s->top5;
    double noise = isinf(s->snr_db) ? 0 : pow(10, -s->snr_db / 10); /* noise / signal: breaks ties */
    return (1 - s->agree) + (d1 > 0 ? d1 : 0) + (d5 > 0 ? d5 : 0) + 1e-3 * noise;
}

static size_t *choice_new(const rt_problem *p)
{
    return calloc(p->L, sizeof(size_t));
}

/* The cheapest feasible evaluated point so far (the exact one at worst). */
static const ax_route_point *incumbent(const rt_problem *p)
{
    const ax_route_point *b = NULL;
    for (size_t i = 0; i < p->r->n_points; i++) {
        const ax_route_point *x = &p->r->points[i];
        if (x->feasible && (!b || x->cost < b->cost)) b = x;
    }
    return b;
}

static bool budget_left(const rt_problem *p, size_t start, size_t budget)
{
    return p->r->evals_search - start < budget;
}

static int cost_of(rt_problem *p, const size_t *c, double *out)
{
    if (rt_distinct(p, c) > p->K) return *out = INFINITY, 0;
    return rt_cost(p, c, out);
}

/* ---- greedy -------------------------------------------------------------- */

static int by_key(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1];
}

int rt_search_greedy(rt_problem *p, size_t *best)
{
    size_t start = p->r->evals_search, budget = p->o->max_evals ? p->o->max_evals : (size_t)-1;
    double *ord = malloc(p->L * 2 * sizeof *ord), *opt = malloc(p->J * 2 * sizeof *opt);
    size_t *cand = choice_new(p);
    int rc = ord && opt && cand ? 0 : ax_fail(p->err, "router: out of memory");
    memcpy(best, incumbent(p)->choice, p->L * sizeof *best);
    for (size_t l = 0; rc == 0 && l < p->L; l++) { /* least harmful layers first */
        double h = 0;
        for (size_t j = 1; j < p->J; j++) h += rt_harm(p, l, j);
        ord[2 * l] = h, ord[2 * l + 1] = (double)l;
    }
    if (rc == 0) qsort(ord, p->L, 2 * sizeof *ord, by_key);
    for (size_t i = 0; rc == 0 && i < p->L && budget_left(p, start, budget); i++) {
        size_t l = (size_t)ord[2 * i + 1], n = 0;
        double now;
        if ((rc = cost_of(p, best, &now)) != 0) break;
        for (size_t j = 1; j < p->J && rc == 0; j++) { /* cheapest first, feasible alone */
            memcpy(cand, best, p->L * sizeof *cand);
            cand[l] = j;
            double c;
            rc = cost_of(p, cand, &c);
            if (rc == 0 && c < now && rt_search_feasible(p, &p->sens_score[l * p->J + j]))
                opt[2 * n] = c, opt[2 * n + 1] = (double)j, n++;
        }
        if (rc == 0) qsort(opt, n, 2 * sizeof *opt, by_key);
        for (size_t k = 0; rc == 0 && k < n && budget_left(p, start, budget); k++) {
            memcpy(cand, best, p->L * sizeof *cand);
            cand[l] = (size_t)opt[2 * k + 1];
            const ax_route_point *pt;
            bool fresh;
            rc = rt_evaluate(p, cand, "greedy", &pt, &fresh);
            if (rc == 0 && pt->feasible) {
                memcpy(best, cand, p->L * sizeof *best);
                break;
            }
        }
    }
    free(ord), free(opt), free(cand);
    return rc;
}

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

/* Keeps at most K distinct multipliers: the least used extra ones go exact. */
static void repair_k(const rt_problem *p, size_t *c)
{
    while (rt_distinct(p, c) > p->K) {
        size_t worst = 0, wn = (size_t)-1;
        for (size_t j = 1; j < p->J; j++) {
            size_t n = 0;
            for (size_t l = 0; l < p->L; l++) n += c[l] == j;
            if (n && n < wn) wn = n, worst = j;
        }
        for (size_t l = 0; l < p->L; l++)
            if (c[l] == worst) c[l] = 0;
    }
}

static int score_indiv(rt_problem *p, indiv *x, size_t start, size_t budget, bool *done)
{
    const ax_route_point *pt = rt_find_point(p, x->c);
    bool fresh;
    *done = pt != NULL;
    if (!pt && budget_left(p, start, budget)) {
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
    repair_k(p, child);
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
        if (i == 0) memcpy(v[n].c, incumbent(p)->choice, p->L * sizeof(size_t));
        else
            for (size_t l = 0; l < p->L; l++) v[n].c[l] = rt_unit(&p->rng) < 0.5 ? 0 : rt_below(&p->rng, p->J);
        repair_k(p, v[n].c);
        bool done;
        rc = score_indiv(p, &v[n], start, budget, &done);
        n += done;
        if (!done) break;
    }
    /* generations end with the budget, or when one brings nothing new (a
     * small space is exhausted) */
    for (size_t before = (size_t)-1; rc == 0 && n == P && budget_left(p, start, budget) &&
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
            if (!budget_left(p, start, budget)) break;
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

/* ---- surrogate ------------------------------------------------------------ */

/* drop (pp) ~ a * sum of the layers' single drops + b * sum of their
 * disagreements (pp): ridge toward the additive model (a = 1, b = 0). */
typedef struct lin {
    double a, b;
} lin;

typedef struct feats {
    double f1, f5, dis;
    double flips1, flips5; /* images changed, summed over the layers' single runs */
} feats;

static feats features(const rt_problem *p, const size_t *c)
{
    feats f = {0, 0, 0, 0, 0};
    for (size_t l = 0; l < p->L; l++) {
        if (c[l] == 0) continue;
        const ax_route_sens *s = &p->r->sens[l * p->J + c[l]];
        f.f1 += 100 * (p->exact_top1 - s->top1);
        f.f5 += 100 * (p->exact_top5 - s->top5);
        f.dis += 100 * (1 - s->agree);
        const rt_score *k = &p->sens_score[l * p->J + c[l]];
        f.flips1 += (double)(k->lost1 + k->gained1), f.flips5 += (double)(k->lost5 + k->gained5);
    }
    return f;
}

#define RIDGE 1.0

static lin fit(const rt_problem *p, bool five)
{
    /* normal equations with the prior: [Sxx+l Sxd; Sxd Sdd+l] [a b] = [Sxy+l, Sdy] */
    double sxx = RIDGE, sxd = 0, sdd = RIDGE, sxy = RIDGE, sdy = 0;
    for (size_t i = 0; i < p->r->n_points; i++) {
        const ax_route_point *x = &p->r->points[i];
        feats f = features(p, x->choice);
        double u = five ? f.f5 : f.f1, y = 100 * (five ? p->exact_top5 - x->top5 : p->exact_top1 - x->top1);
        sxx += u * u, sxd += u * f.dis, sdd += f.dis * f.dis, sxy += u * y, sdy += f.dis * y;
    }
    double det = sxx * sdd - sxd * sxd;
    lin m = {1, 0};
    if (fabs(det) > 1e-12) m.a = (sxy * sdd - sxd * sdy) / det, m.b = (sxx * sdy - sxd * sxy) / det;
    return m;
}

typedef struct model {
    lin top1, top5;
} model;

static bool predicted_ok(const rt_problem *p, const model *m, const size_t *c)
{
    /* predictions are continuous, the bound counts images: a predicted loss of
     * less than half an image rounds to none */
    feats f = features(p, c);
    double n = (double)p->search->count, md = p->o->max_drop_pp + 50 / n, z = p->o->confidence;
    double m1 = 100 * z * sqrt(f.flips1) / n, m5 = 100 * z * sqrt(f.flips5) / n; /* the bound's margin, pp */
    return m->top1.a * f.f1 + m->top1.b * f.dis + m1 <= md && m->top5.a * f.f5 + m->top5.b * f.dis + m5 <= md;
}

/* Steepest descent in cost over single-layer changes that stay predicted feasible. */
static int descend(rt_problem *p, const model *m, size_t *c, size_t *cand)
{
    double now;
    if (cost_of(p, c, &now) != 0) return -1;
    for (;;) {
        size_t bl = 0, bj = 0;
        double bc = now;
        for (size_t l = 0; l < p->L; l++)
            for (size_t j = 0; j < p->J; j++) {
                if (j == c[l]) continue;
                memcpy(cand, c, p->L * sizeof *cand);
                cand[l] = j;
                double k;
                if (cost_of(p, cand, &k) != 0) return -1;
                if (k < bc && predicted_ok(p, m, cand)) bc = k, bl = l, bj = j;
            }
        if (!(bc < now)) return 0;
        c[bl] = bj, now = bc;
    }
}

/* A random start: some layers on random multipliers, then the most harmful
 * of them back to exact until the model predicts feasible. */
static void random_start(rt_problem *p, const model *m, const size_t *from, size_t *c)
{
    memcpy(c, from, p->L * sizeof *c);
    for (size_t l = 0; l < p->L; l++)
        if (rt_unit(&p->rng) < 0.5) c[l] = rt_below(&p->rng, p->J);
    repair_k(p, c);
    while (!predicted_ok(p, m, c)) {
        size_t w = p->L;
        for (size_t l = 0; l < p->L; l++)
            if (c[l] && (w == p->L || rt_harm(p, l, c[l]) > rt_harm(p, w, c[w]))) w = l;
        if (w == p->L) break;
        c[w] = 0;
    }
}

#define SURROGATE_DEFAULT_EVALS 24
#define SURROGATE_RESTARTS 12

/* The cheapest unevaluated assignment the model predicts feasible, cheaper
 * than the incumbent; false when there is none. */
static int propose(rt_problem *p, const model *m, size_t *out, bool *found)
{
    const ax_route_point *inc = incumbent(p);
    double inc_cost = inc->cost, best = INFINITY;
    size_t *c = choice_new(p), *cand = choice_new(p);
    int rc = c && cand ? 0 : ax_fail(p->err, "router: out of memory");
    *found = false;
    for (size_t r = 0; rc == 0 && r <= SURROGATE_RESTARTS; r++) {
        if (r == 0) memcpy(c, inc->choice, p->L * sizeof *c);
        else random_start(p, m, inc->choice, c);
        if (!predicted_ok(p, m, c) && r > 0) continue;
        rc = descend(p, m, c, cand);
        double k;
        if (rc == 0) rc = cost_of(p, c, &k);
        if (rc == 0 && k < inc_cost && k < best && !rt_find_point(p, c) && predicted_ok(p, m, c)) {
            best = k, *found = true;
            memcpy(out, c, p->L * sizeof *out);
        }
    }
    free(c), free(cand);
    return rc;
}

int rt_search_surrogate(rt_problem *p, size_t *best)
{
    size_t start = p->r->evals_search;
    size_t budget = p->o->max_evals ? p->o->max_evals : SURROGATE_DEFAULT_EVALS;
    size_t *c = choice_new(p);
    int rc = c ? 0 : ax_fail(p->err, "router: out of memory");
    while (rc == 0 && budget_left(p, start, budget)) {
        model m = {fit(p, false), fit(p, true)};
        bool found;
        rc = propose(p, &m, c, &found);
        if (rc != 0 || !found) break;
        const ax_route_point *pt;
        bool fresh;
        rc = rt_evaluate(p, c, "surrogate", &pt, &fresh);
        if (rc == 0)
            rt_log(p, "surrogate: model top-1 drop = %.3f*sum(drop) %+.3f*sum(disagree); proposal %s (cost %.6g, "
                   "top-1 %.4f, top-5 %.4f)", m.top1.a, m.top1.b, pt->feasible ? "confirmed" : "refuted", pt->cost,
                   pt->top1, pt->top5);
    }
    if (rc == 0) memcpy(best, incumbent(p)->choice, p->L * sizeof *best);
    free(c);
    return rc;
}
