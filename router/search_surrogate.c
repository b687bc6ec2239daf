/* search_surrogate.c - the learned surrogate: a regularized linear model
 * predicts the top-1 and top-5 drop of an assignment from the per-layer
 * sensitivities; it is refitted on every real evaluation, proposes the
 * cheapest assignment it predicts feasible, and a real evaluation confirms
 * or refutes it. */
#include "router_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    if (rt_cost_of(p, c, &now) != 0) return -1;
    for (;;) {
        size_t bl = 0, bj = 0;
        double bc = now;
        for (size_t l = 0; l < p->L; l++)
            for (size_t j = 0; j < p->J; j++) {
                if (j == c[l]) continue;
                memcpy(cand, c, p->L * sizeof *cand);
                cand[l] = j;
                double k;
                if (rt_cost_of(p, cand, &k) != 0) return -1;
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
    rt_repair_k(p, c);
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
    const ax_route_point *inc = rt_incumbent(p);
    double inc_cost = inc->cost, best = INFINITY;
    size_t *c = rt_choice_new(p), *cand = rt_choice_new(p);
    int rc = c && cand ? 0 : ax_fail(p->err, "router: out of memory");
    *found = false;
    for (size_t r = 0; rc == 0 && r <= SURROGATE_RESTARTS; r++) {
        if (r == 0) memcpy(c, inc->choice, p->L * sizeof *c);
        else random_start(p, m, inc->choice, c);
        if (!predicted_ok(p, m, c) && r > 0) continue;
        rc = descend(p, m, c, cand);
        double k;
        if (rc == 0) rc = rt_cost_of(p, c, &k);
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
    size_t *c = rt_choice_new(p);
    int rc = c ? 0 : ax_fail(p->err, "router: out of memory");
    while (rc == 0 && rt_budget_left(p, start, budget)) {
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
    if (rc == 0) memcpy(best, rt_incumbent(p)->choice, p->L * sizeof *best);
    free(c);
    return rc;
}
