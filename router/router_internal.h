/* router_internal.h - what the files of router/ share: the problem being
 * routed (network, bank, chip, image sets), its evaluation memo, a small
 * seeded PRNG, and the steps of ax_route. Not installed. */
#ifndef AX_ROUTER_INTERNAL_H
#define AX_ROUTER_INTERNAL_H

#include "autoapprox/router.h"
#include "lut/ax_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator, one
 * add and a mix per draw; ours, so results never depend on libc's rand(). */
typedef struct rt_rng {
    uint64_t s;
} rt_rng;
static inline uint64_t rt_next(rt_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline size_t rt_below(rt_rng *r, size_t n) { return n ? (size_t)(rt_next(r) % n) : 0; }
static inline double rt_unit(rt_rng *r) { return (double)(rt_next(r) >> 11) * 0x1.0p-53; }

typedef struct rt_score {
    double top1, top5;
    size_t lost1, gained1, lost5, gained5; /* search images, against the exact network */
} rt_score;

typedef struct rt_cost_cache {
    size_t cap, count; /* cap: a power of two */
    size_t *keys;      /* cap x L */
    double *vals;
    bool *used;
} rt_cost_cache;

typedef struct rt_problem {
    const ax_nn_model *m;
    const ax_route_options *o;
    const ax_route_source *search, *verify;
    size_t L, J;            /* layers; bank entries, 0 = exact */
    const ax_mult **bank;
    const char **spec;
    ax_mult *exact_owned;   /* bank[0] when the caller's bank lacked it */
    ax_nn_runtime **uniform; /* per bank entry: every layer on it (sensitivity) */
    double *macs;           /* per layer, per image */
    double total_macs;
    ax_chip chip;           /* the chip template: N arrays */
    size_t N, K;            /* arrays; distinct multipliers allowed (exact included) */
    ax_topology *topo;
    int32_t *exact_pred;    /* exact top-1 class per search image */
    uint8_t *exact_ok;      /* exact correctness per search image: bit 0 top-1, bit 1 top-5 */
    rt_score *sens_score;   /* [layer * J + j]: single-layer runs */
    double exact_top1, exact_top5;
    ax_route_result *r;
    rt_cost_cache costs;
    rt_rng rng;
    ax_error *err;
} rt_problem;

/* ---- source.c ---- */
/* The search images held in memory as the floats the network reads: every
 * evaluation on them (the exact reference, the sensitivity pass, each step
 * of the search) reads the same images, and a folder of JPEGs would decode
 * them all again each time. rt_cache_source makes *out read through the
 * cache when count x isz floats fit its budget (a quarter of the physical
 * memory), else *out = *src; items are read from src on first use. */
typedef struct rt_image_cache {
    const ax_route_source *src;
    size_t isz;
    float *x;
    int32_t *lab;
    uint8_t *have;
} rt_image_cache;
void rt_cache_source(const ax_route_source *src, size_t isz, rt_image_cache *c, ax_route_source *out);
void rt_cache_free(rt_image_cache *c);

/* ---- evaluate.c ---- */
/* Runs the network with mults[layer] over a source; pred and ok (may be
 * NULL) receive every image's top-1 class and correctness (bit 0 top-1, bit 1
 * top-5). On the search images, once p->exact_ok is known, the images lost
 * and gained against the exact network are counted. */
int rt_run_source(rt_problem *p, const ax_mult *const *mults, const ax_route_source *src, int32_t *pred,
                  uint8_t *ok, rt_score *s);
/* The search bound with its confidence margin (router.h). */
bool rt_search_feasible(const rt_problem *p, const rt_score *s);
/* A real evaluation of a choice on the search images, memoized: the point
 * (new or earlier). *fresh tells whether it ran. */
int rt_evaluate(rt_problem *p, const size_t *choice, const char *by, const ax_route_point **out, bool *fresh);
/* Records an evaluation made elsewhere (the exact reference, sensitivity). */
int rt_add_point(rt_problem *p, const size_t *choice, const char *by, const rt_score *s,
                 const ax_route_point **out);
const ax_route_point *rt_find_point(const rt_problem *p, const size_t *choice);
bool rt_feasible(const rt_problem *p, double top1, double top5, double ref1, double ref5);
static inline void rt_count_flips(rt_score *s, uint8_t was, uint8_t now)
{
    s->lost1 += (was & 1) && !(now & 1), s->gained1 += !(was & 1) && (now & 1);
    s->lost5 += (was & 2) && !(now & 2), s->gained5 += !(was & 2) && (now & 2);
}

/* ---- sensitivity.c ---- */
int rt_sensitivity(rt_problem *p);

/* ---- cost.c ---- */
/* The chip's arrays for a choice: array 0 exact; one array per approximate
 * multiplier used, in bank order; spare arrays go one by one to the
 * multiplier with the most layers per array (layers spread round-robin over
 * its arrays); arrays still spare stay exact and idle. -1 when the choice
 * uses more than K distinct multipliers. */
int rt_layout(const rt_problem *p, const size_t *choice, size_t *array_bank, size_t *layer_array);
size_t rt_distinct(const rt_problem *p, const size_t *choice); /* exact included */
int rt_cost(rt_problem *p, const size_t *choice, double *cost);
int rt_ppa(rt_problem *p, const size_t *choice, ax_ppa_report *rep, ax_ppa_report *exact);
void rt_cost_cache_free(rt_cost_cache *c);
double rt_objective(const ax_route_options *o, const ax_ppa_figures *f);

/* ---- search.c, search_nsga2.c, search_surrogate.c ---- */
size_t *rt_choice_new(const rt_problem *p);
/* The cheapest feasible evaluated point so far (the exact one at worst). */
const ax_route_point *rt_incumbent(const rt_problem *p);
bool rt_budget_left(const rt_problem *p, size_t start, size_t budget);
/* The cost, INFINITY beyond K distinct multipliers. */
int rt_cost_of(rt_problem *p, const size_t *c, double *out);
/* Keeps at most K distinct multipliers: the least used extra ones go exact. */
void rt_repair_k(const rt_problem *p, size_t *c);
int rt_search_greedy(rt_problem *p, size_t *best);
int rt_search_nsga2(rt_problem *p, size_t *best);
int rt_search_surrogate(rt_problem *p, size_t *best);
/* Sensitivity score of layer l on bank entry j: higher = more harmful. */
double rt_harm(const rt_problem *p, size_t l, size_t j);

void rt_log(const rt_problem *p, const char *fmt, ...) AX_PRINTF(2, 3);

#endif
