/* cost.c - what an assignment costs on the chip: the layout of the chosen
 * multipliers over the chip's arrays, then the chip model of ppa/ (the same
 * binding and report `autoapprox ppa --assign` makes), so the objective the
 * search minimizes is the figure the chip report prints. */
#include "router_internal.h"

#include <stdlib.h>
#include <string.h>

size_t rt_distinct(const rt_problem *p, const size_t *choice)
{
    size_t n = 1; /* exact is always an array */
    for (size_t j = 1; j < p->J; j++)
        for (size_t l = 0; l < p->L; l++)
            if (choice[l] == j) {
                n++;
                break;
            }
    return n;
}

int rt_layout(const rt_problem *p, const size_t *choice, size_t *array_bank, size_t *layer_array)
{
    if (rt_distinct(p, choice) > p->K) return -1;
    size_t used = 1, *layers = calloc(p->J, sizeof *layers), *arrays = calloc(p->J, sizeof *arrays);
    if (!layers || !arrays) {
        free(layers), free(arrays);
        return -1;
    }
    array_bank[0] = 0;
    for (size_t l = 0; l < p->L; l++) layers[choice[l]]++;
    for (size_t j = 1; j < p->J; j++)
        if (layers[j]) array_bank[used++] = j, arrays[j] = 1;
    while (used < p->N) { /* spare arrays: to the multiplier with the most layers per array */
        size_t best = 0;
        for (size_t j = 1; j < p->J; j++)
            if (layers[j] > arrays[j] && (!best || layers[j] * arrays[best] > layers[best] * arrays[j])) best = j;
        array_bank[used++] = best; /* 0: nothing to spread, the array stays exact and idle */
        arrays[best]++;
    }
    for (size_t j = 0; j < p->J; j++) layers[j] = 0; /* now: layers placed so far */
    for (size_t l = 0; l < p->L; l++) {
        size_t j = choice[l], k = j == 0 ? 0 : layers[j]++ % arrays[j], a = 0;
        while (array_bank[a] != j || k-- > 0) a++;
        layer_array[l] = j == 0 ? 0 : a;
    }
    free(layers), free(arrays);
    return 0;
}

double rt_objective(const ax_route_options *o, const ax_ppa_figures *f)
{
    return o->objective == AX_OBJ_AREA ? f->area_mm2 : o->objective == AX_OBJ_ENERGY ? f->energy_mj : f->power_w;
}

/* Multipliers come from the bank (no file is read again): the binding gets copies. */
static int resolve_bank(const char *spec, ax_mult **out, ax_error *err, void *ctx)
{
    const rt_problem *p = ctx;
    for (size_t j = 0; j < p->J; j++)
        if (!strcmp(p->spec[j], spec)) {
            *out = ax_mult_new();
            if (!*out) return ax_fail(err, "out of memory");
            memcpy(*out, p->bank[j], sizeof **out);
            return 0;
        }
    return ax_fail(err, "multiplier '%s' is not in the bank", spec);
}

static int bind(rt_problem *p, const size_t *choice, ax_binding *b)
{
    size_t *ab = malloc(p->N * sizeof *ab), *la = malloc(p->L * sizeof *la);
    ax_assignment a = {.version = 1, .n_arrays = p->N, .n_layers = p->L};
    a.arrays = calloc(p->N, sizeof *a.arrays), a.layers = calloc(p->L, sizeof *a.layers);
    int rc = ab && la && a.arrays && a.layers ? 0 : ax_fail(p->err, "router: out of memory");
    if (rc == 0 && rt_layout(p, choice, ab, la) != 0)
        rc = ax_fail(p->err, "router: assignment uses more than %zu distinct multipliers", p->K);
    if (rc == 0) {
        ax_strlcpy(a.source, "router", sizeof a.source);
        for (size_t i = 0; i < p->N; i++) {
            ax_strlcpy(a.arrays[i].id, p->chip.arrays[i].id, sizeof a.arrays[i].id);
            ax_strlcpy(a.arrays[i].spec, p->spec[ab[i]], sizeof a.arrays[i].spec);
        }
        for (size_t l = 0; l < p->L; l++) {
            ax_strlcpy(a.layers[l].layer, p->topo->layers[l].name, sizeof a.layers[l].layer);
            ax_strlcpy(a.layers[l].array, p->chip.arrays[la[l]].id, sizeof a.layers[l].array);
        }
        rc = ax_bind(&p->chip, &a, p->topo, resolve_bank, p, b, p->err);
    }
    free(ab), free(la), free(a.arrays), free(a.layers);
    return rc;
}

int rt_ppa(rt_problem *p, const size_t *choice, ax_ppa_report *rep, ax_ppa_report *exact)
{
    ax_binding b, x;
    if (bind(p, choice, &b) != 0) return -1;
    uint32_t batch = p->o->ppa_batch ? p->o->ppa_batch : 1;
    int rc = ax_ppa_evaluate(&b, p->topo, batch, rep, p->err);
    if (rc == 0 && exact) {
        rc = ax_bind_exact(&b, &x, p->err);
        if (rc == 0) rc = ax_ppa_evaluate(&x, p->topo, batch, exact, p->err);
        if (rc != 0) ax_ppa_report_free(rep);
        ax_binding_free(&x);
    }
    ax_binding_free(&b);
    return rc;
}

/* Costs are memoized (open addressing on an FNV-1a hash of the choice):
 * the searches ask for the same assignments many times. */
static uint64_t hash_choice(const size_t *c, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint64_t)c[i]) * 0x100000001b3ull;
    return h;
}

static int cache_grow(rt_problem *p)
{
    rt_cost_cache *c = &p->costs, n = {.cap = c->cap ? 2 * c->cap : 1024};
    n.keys = malloc(n.cap * p->L * sizeof *n.keys), n.vals = malloc(n.cap * sizeof *n.vals);
    n.used = calloc(n.cap, sizeof *n.used);
    if (!n.keys || !n.vals || !n.used) {
        free(n.keys), free(n.vals), free(n.used);
        return ax_fail(p->err, "router: out of memory");
    }
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->used[i]) continue;
        size_t k = hash_choice(c->keys + i * p->L, p->L) & (n.cap - 1);
        while (n.used[k]) k = (k + 1) & (n.cap - 1);
        n.used[k] = true, n.vals[k] = c->vals[i], n.count++;
        memcpy(n.keys + k * p->L, c->keys + i * p->L, p->L * sizeof *n.keys);
    }
    free(c->keys), free(c->vals), free(c->used);
    *c = n;
    return 0;
}

void rt_cost_cache_free(rt_cost_cache *c)
{
    free(c->keys), free(c->vals), free(c->used);
    memset(c, 0, sizeof *c);
}

int rt_cost(rt_problem *p, const size_t *choice, double *cost)
{
    rt_cost_cache *c = &p->costs;
    if (2 * (c->count + 1) > c->cap && cache_grow(p) != 0) return -1;
    size_t k = hash_choice(choice, p->L) & (c->cap - 1);
    for (; c->used[k]; k = (k + 1) & (c->cap - 1))
        if (!memcmp(c->keys + k * p->L, choice, p->L * sizeof *choice)) return *cost = c->vals[k], 0;
    ax_ppa_report r;
    if (rt_ppa(p, choice, &r, NULL) != 0) return -1;
    *cost = rt_objective(p->o, &r.chip);
    ax_ppa_report_free(&r);
    c->used[k] = true, c->vals[k] = *cost, c->count++;
    memcpy(c->keys + k * p->L, choice, p->L * sizeof *choice);
    return 0;
}
