/* search.c - what the three searches share (the incumbent, the budget, the
 * cost of a choice within K distinct multipliers, the K repair, the harm
 * score that orders layers) and the greedy baseline; the surrogate search is
 * in search_surrogate.c, NSGA-II in search_nsga2.c. Every search spends real
 * evaluations on the search images (rt_evaluate counts them), starts from the
 * best feasible assignment the sensitivity pass already evaluated, and draws
 * randomness from the seeded rt_rng only.
 *  - greedy: layers in order of sensitivity, each tried on its cheapest
 *    multiplier first, kept when a real evaluation says feasible. */
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

size_t *rt_choice_new(const rt_problem *p)
{
    return calloc(p->L, sizeof(size_t));
}

/* The cheapest feasible evaluated point so far (the exact one at worst). */
const ax_route_point *rt_incumbent(const rt_problem *p)
{
    const ax_route_point *b = NULL;
    for (size_t i = 0; i < p->r->n_points; i++) {
        const ax_route_point *x = &p->r->points[i];
        if (x->feasible && (!b || x->cost < b->cost)) b = x;
    }
    return b;
}

bool rt_budget_left(const rt_problem *p, size_t start, size_t budget)
{
    return p->r->evals_search - start < budget;
}

int rt_cost_of(rt_problem *p, const size_t *c, double *out)
{
    if (rt_distinct(p, c) > p->K) return *out = INFINITY, 0;
    return rt_cost(p, c, out);
}

/* Keeps at most K distinct multipliers: the least used extra ones go exact. */
void rt_repair_k(const rt_problem *p, size_t *c)
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
    size_t *cand = rt_choice_new(p);
    int rc = ord && opt && cand ? 0 : ax_fail(p->err, "router: out of memory");
    memcpy(best, rt_incumbent(p)->choice, p->L * sizeof *best);
    for (size_t l = 0; rc == 0 && l < p->L; l++) { /* least harmful layers first */
        double h = 0;
        for (size_t j = 1; j < p->J; j++) h += rt_harm(p, l, j);
        ord[2 * l] = h, ord[2 * l + 1] = (double)l;
    }
    if (rc == 0) qsort(ord, p->L, 2 * sizeof *ord, by_key);
    for (size_t i = 0; rc == 0 && i < p->L && rt_budget_left(p, start, budget); i++) {
        size_t l = (size_t)ord[2 * i + 1], n = 0;
        double now;
        if ((rc = rt_cost_of(p, best, &now)) != 0) break;
        for (size_t j = 1; j < p->J && rc == 0; j++) { /* cheapest first, feasible alone */
            memcpy(cand, best, p->L * sizeof *cand);
            cand[l] = j;
            double c;
            rc = rt_cost_of(p, cand, &c);
            if (rc == 0 && c < now && rt_search_feasible(p, &p->sens_score[l * p->J + j]))
                opt[2 * n] = c, opt[2 * n + 1] = (double)j, n++;
        }
        if (rc == 0) qsort(opt, n, 2 * sizeof *opt, by_key);
        for (size_t k = 0; rc == 0 && k < n && rt_budget_left(p, start, budget); k++) {
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
