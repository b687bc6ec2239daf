/* evaluate.c - real evaluations: the network with one multiplier per layer
 * over a source of images (top-1, top-5, agreement with the exact
 * network's top-1), and the memo of evaluated assignments on the search
 * images, which is what the evaluation count of every method counts. */
#include "router_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_log(const rt_problem *p, const char *fmt, ...)
{
    if (!p->o->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->o->log(p->o->log_ctx, line);
}

static size_t argmax(const float *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i; /* ties: the lower class, as ax_nn_rank */
    return b;
}

static size_t input_size(const ax_nn_model *m)
{
    size_t h, w, c;
    ax_nn_input_shape(m, &h, &w, &c);
    return h * w * c;
}

int rt_run_source(rt_problem *p, const ax_mult *const *mults, const ax_route_source *src, int32_t *pred,
                  uint8_t *ok, rt_score *s)
{
    size_t isz = input_size(p->m), nc = ax_nn_output_size(p->m), B = p->o->batch;
    ax_nn_runtime *rt;
    if (ax_nn_runtime_create(p->m, mults, &rt, p->err) != 0) return -1;
    float *x = malloc(B * isz * sizeof *x), *y = malloc(B * nc * sizeof *y);
    int32_t *lab = malloc(B * sizeof *lab);
    size_t top1 = 0, top5 = 0;
    const uint8_t *ref = src == p->search ? p->exact_ok : NULL;
    *s = (rt_score){0};
    int rc = x && y && lab ? 0 : ax_fail(p->err, "evaluation: out of memory (batch %zu)", B);
    for (size_t i = 0; rc == 0 && i < src->count; i += B) {
        size_t b = src->count - i < B ? src->count - i : B;
        rc = src->read(src->ctx, i, b, x, lab, p->err);
        if (rc == 0) rc = ax_nn_runtime_run(rt, b, x, y, p->o->threads, p->err);
        for (size_t j = 0; rc == 0 && j < b; j++) {
            size_t rank = ax_nn_rank(y + j * nc, nc, (size_t)lab[j]), top = argmax(y + j * nc, nc);
            top1 += rank == 0, top5 += rank < 5;
            if (pred) pred[i + j] = (int32_t)top;
            uint8_t now = (uint8_t)((rank == 0) | (rank < 5) << 1);
            if (ok) ok[i + j] = now;
            if (ref) rt_count_flips(s, ref[i + j], now);
        }
    }
    free(x), free(y), free(lab);
    ax_nn_runtime_free(rt);
    double n = src->count ? (double)src->count : 1;
    s->top1 = top1 / n, s->top5 = top5 / n;
    return rc;
}

bool rt_search_feasible(const rt_problem *p, const rt_score *s)
{
    double allowed = p->o->max_drop_pp / 100 * (double)p->search->count + 1e-9, z = p->o->confidence;
    double v1 = (double)s->lost1 - (double)s->gained1 + z * sqrt((double)(s->lost1 + s->gained1));
    double v5 = (double)s->lost5 - (double)s->gained5 + z * sqrt((double)(s->lost5 + s->gained5));
    return rt_feasible(p, s->top1, s->top5, p->exact_top1, p->exact_top5) && v1 <= allowed && v5 <= allowed;
}

bool rt_feasible(const rt_problem *p, double top1, double top5, double ref1, double ref5)
{
    double tol = p->o->max_drop_pp / 100 + 1e-12;
    return ref1 - top1 <= tol && ref5 - top5 <= tol;
}

const ax_route_point *rt_find_point(const rt_problem *p, const size_t *choice)
{
    for (size_t i = 0; i < p->r->n_points; i++)
        if (!memcmp(p->r->points[i].choice, choice, p->L * sizeof *choice)) return &p->r->points[i];
    return NULL;
}

static const ax_mult **mults_of(const rt_problem *p, const size_t *choice)
{
    const ax_mult **m = malloc(p->L * sizeof *m);
    for (size_t l = 0; m && l < p->L; l++) m[l] = p->bank[choice[l]];
    return m;
}

int rt_add_point(rt_problem *p, const size_t *choice, const char *by, const rt_score *s,
                 const ax_route_point **out)
{
    ax_route_result *r = p->r;
    ax_route_point *pts = realloc(r->points, (r->n_points + 1) * sizeof *pts);
    if (!pts) return ax_fail(p->err, "router: out of memory");
    r->points = pts;
    ax_route_point *pt = &pts[r->n_points];
    memset(pt, 0, sizeof *pt);
    pt->choice = malloc(p->L * sizeof *pt->choice);
    if (!pt->choice) return ax_fail(p->err, "router: out of memory");
    memcpy(pt->choice, choice, p->L * sizeof *choice);
    if (rt_cost(p, choice, &pt->cost) != 0) {
        free(pt->choice);
        return -1;
    }
    pt->top1 = s->top1, pt->top5 = s->top5, pt->by = by;
    pt->lost1 = s->lost1, pt->gained1 = s->gained1, pt->lost5 = s->lost5, pt->gained5 = s->gained5;
    pt->feasible = rt_search_feasible(p, s);
    r->n_points++;
    if (out) *out = pt;
    return 0;
}

int rt_evaluate(rt_problem *p, const size_t *choice, const char *by, const ax_route_point **out, bool *fresh)
{
    *fresh = false;
    if ((*out = rt_find_point(p, choice))) return 0;
    const ax_mult **m = mults_of(p, choice);
    if (!m) return ax_fail(p->err, "router: out of memory");
    rt_score s;
    int rc = rt_run_source(p, m, p->search, NULL, NULL, &s);
    free(m);
    if (rc != 0 || rt_add_point(p, choice, by, &s, out) != 0) return -1;
    p->r->evals_search++;
    *fresh = true;
    return 0;
}
