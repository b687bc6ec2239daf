/* route.c - ax_route: the router's steps in order (router.h): the problem
 * (bank with the exact multiplier first, chip, layer shapes), the exact
 * reference, the sensitivity pass, the search, then verification on the
 * verification images with the repair loop, and the chip reports. */
#include "router_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[] = {"surrogate", "greedy", "nsga2"};
static const char *const objective_names[] = {"power", "energy", "area"};

const char *ax_route_method_name(ax_route_method m) { return method_names[m]; }
const char *ax_route_objective_name(ax_route_objective o) { return objective_names[o]; }

int ax_route_method_parse(const char *s, ax_route_method *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, method_names[i])) return *out = (ax_route_method)i, 0;
    return -1;
}

int ax_route_objective_parse(const char *s, ax_route_objective *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, objective_names[i])) return *out = (ax_route_objective)i, 0;
    return -1;
}

void ax_route_options_init(ax_route_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 256;
    o->ppa_batch = 1;
}

int ax_route_check_bank(const ax_mult *const *bank, const char *const *specs, size_t n, ax_error *err)
{
    if (n == 0) return ax_fail(err, "bank: no multiplier given");
    for (size_t i = 0; i < n; i++) {
        if (bank[i]->act != bank[0]->act || bank[i]->wgt != bank[0]->wgt)
            return ax_fail(err, "bank: %s multiplies %s x %s but %s multiplies %s x %s: every array of a chip "
                                "takes the same operand types", specs[i], ax_operand_name(bank[i]->act),
                           ax_operand_name(bank[i]->wgt), specs[0], ax_operand_name(bank[0]->act),
                           ax_operand_name(bank[0]->wgt));
        ax_pe_cost pe;
        ax_error e;
        if (ax_pe_cost_of(bank[i], &pe, &e) != 0)
            return ax_fail(err, "bank: %s: the chip objective needs its power and area: %s", specs[i], e.msg);
    }
    return 0;
}

/* Bank entry 0 is the exact multiplier (the caller's, or made here). */
static int make_bank(rt_problem *p, const ax_mult *const *bank, const char *const *specs, size_t n)
{
    p->bank = calloc(n + 1, sizeof *p->bank);
    p->spec = calloc(n + 1, sizeof *p->spec);
    if (!p->bank || !p->spec) return ax_fail(p->err, "router: out of memory");
    for (size_t i = 0; i < n && !p->bank[0]; i++)
        if (ax_mult_is_exact(bank[i])) p->bank[0] = bank[i], p->spec[0] = specs[i];
    if (!p->bank[0]) {
        p->spec[0] = ax_exact_spec_for(bank[0]);
        if (ax_mult_from_family_spec(p->spec[0], &p->exact_owned, p->err) != 0) return -1;
        p->bank[0] = p->exact_owned;
    }
    p->J = 1;
    for (size_t i = 0; i < n; i++) {
        bool dup = ax_mult_is_exact(bank[i]);
        for (size_t j = 1; j < p->J && !dup; j++) dup = !strcmp(p->spec[j], specs[i]);
        if (!dup) p->bank[p->J] = bank[i], p->spec[p->J++] = specs[i];
    }
    return 0;
}

static int make_chip(rt_problem *p)
{
    if (p->o->chip) p->chip = *p->o->chip;
    else ax_chip_default(&p->chip);
    p->N = p->chip.n_arrays;
    p->K = p->o->max_arrays ? p->o->max_arrays : p->N;
    if (p->K > p->N)
        return ax_fail(p->err, "--max-arrays %zu: the chip %s has only %zu arrays", p->K, p->chip.name, p->N);
    return 0;
}

static int setup(rt_problem *p, const ax_mult *const *bank, const char *const *specs, size_t n)
{
    if (!ax_nn_is_quantized(p->m)) return ax_fail(p->err, "router: the model is not quantized (quantize it first)");
    if (ax_route_check_bank(bank, specs, n, p->err) != 0 || make_bank(p, bank, specs, n) != 0 || make_chip(p) != 0)
        return -1;
    p->L = ax_nn_layer_count(p->m);
    p->macs = calloc(p->L, sizeof *p->macs);
    p->uniform = calloc(p->J, sizeof *p->uniform);
    p->exact_pred = malloc((p->search->count ? p->search->count : 1) * sizeof *p->exact_pred);
    p->exact_ok = malloc(p->search->count ? p->search->count : 1);
    p->sens_score = calloc(p->L * p->J, sizeof *p->sens_score);
    p->r->sens = calloc(p->L * p->J, sizeof *p->r->sens);
    const ax_mult **all = malloc(p->L * sizeof *all);
    int rc = p->macs && p->uniform && p->exact_pred && p->exact_ok && p->sens_score && p->r->sens && all
                 ? 0 : ax_fail(p->err, "router: out of memory");
    for (size_t l = 0; rc == 0 && l < p->L; l++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(p->m, l, &li);
        p->macs[l] = (double)li.macs;
        p->total_macs += (double)li.macs;
    }
    for (size_t j = 0; rc == 0 && j < p->J; j++) {
        for (size_t l = 0; l < p->L; l++) all[l] = p->bank[j];
        rc = ax_nn_runtime_create(p->m, all, &p->uniform[j], p->err);
    }
    free(all);
    if (rc == 0) rc = ax_topology_from_nn(p->m, "model", &p->topo, p->err);
    p->r->n_layers = p->L, p->r->n_bank = p->J;
    return rc;
}

static int exact_reference(rt_problem *p)
{
    const ax_mult **all = malloc(p->L * sizeof *all);
    size_t *zero = calloc(p->L, sizeof *zero);
    rt_score s;
    int rc = all && zero ? 0 : ax_fail(p->err, "router: out of memory");
    for (size_t l = 0; rc == 0 && l < p->L; l++) all[l] = p->bank[0];
    uint8_t *ok = p->exact_ok;
    p->exact_ok = NULL; /* not known yet: no flips to count */
    if (rc == 0) rc = rt_run_source(p, all, p->search, p->exact_pred, ok, &s);
    p->exact_ok = ok;
    if (rc == 0) {
        p->exact_top1 = s.top1, p->exact_top5 = s.top5;
        p->r->exact_top1 = s.top1, p->r->exact_top5 = s.top5;
        p->r->evals_search = 1;
        rc = rt_add_point(p, zero, "exact", &s, NULL);
    }
    free(all), free(zero);
    return rc;
}

/* The single-layer runs of the sensitivity pass are real evaluations too:
 * they seed every search and train the surrogate. */
static int sensitivity_points(rt_problem *p)
{
    size_t *c = calloc(p->L, sizeof *c);
    if (!c) return ax_fail(p->err, "router: out of memory");
    int rc = 0;
    for (size_t l = 0; rc == 0 && l < p->L; l++)
        for (size_t j = 1; rc == 0 && j < p->J; j++) {
            memset(c, 0, p->L * sizeof *c);
            c[l] = j;
            if (rt_distinct(p, c) <= p->K && !rt_find_point(p, c))
                rc = rt_add_point(p, c, "sensitivity", &p->sens_score[l * p->J + j], NULL);
        }
    free(c);
    return rc;
}

static int run_verify(rt_problem *p, const size_t *choice, rt_score *s)
{
    const ax_mult **m = malloc(p->L * sizeof *m);
    if (!m) return ax_fail(p->err, "router: out of memory");
    for (size_t l = 0; l < p->L; l++) m[l] = p->bank[choice[l]];
    int rc = rt_run_source(p, m, p->verify, NULL, NULL, s);
    free(m);
    p->r->evals_verify++;
    return rc;
}

/* Verification on the whole verification set; while the bound breaks, the
 * most harmful approximate layer returns to the exact array. */
static int verify_and_repair(rt_problem *p, size_t *choice)
{
    ax_route_result *r = p->r;
    size_t *zero = calloc(p->L, sizeof *zero);
    rt_score ex, s;
    int rc = zero ? run_verify(p, zero, &ex) : ax_fail(p->err, "router: out of memory");
    free(zero);
    if (rc != 0) return -1;
    r->verify_exact_top1 = ex.top1, r->verify_exact_top5 = ex.top5, r->verify_images = p->verify->count;
    for (;;) {
        if (run_verify(p, choice, &s) != 0) return -1;
        rt_log(p, "verification on %s: top-1 %.4f (exact %.4f), top-5 %.4f (exact %.4f)", p->verify->name, s.top1,
               ex.top1, s.top5, ex.top5);
        if (rt_feasible(p, s.top1, s.top5, ex.top1, ex.top5)) break;
        size_t w = p->L;
        for (size_t l = 0; l < p->L; l++)
            if (choice[l] && (w == p->L || rt_harm(p, l, choice[l]) > rt_harm(p, w, choice[w]))) w = l;
        if (w == p->L) return ax_fail(p->err, "verification: the all-exact network differs from itself");
        ax_nn_layer_info li;
        ax_nn_layer_get(p->m, w, &li);
        rt_log(p, "repair: layer %s returns to the exact array", li.name);
        choice[w] = 0;
        r->repairs++;
    }
    r->verify_top1 = s.top1, r->verify_top5 = s.top5;
    return 0;
}

static int finish(rt_problem *p, const size_t *choice)
{
    ax_route_result *r = p->r;
    r->n_arrays = p->N;
    r->choice = malloc(p->L * sizeof *r->choice);
    r->layer_array = malloc(p->L * sizeof *r->layer_array);
    r->array_bank = malloc(p->N * sizeof *r->array_bank);
    r->array_id = malloc(p->N * sizeof *r->array_id);
    if (!r->choice || !r->layer_array || !r->array_bank || !r->array_id) return ax_fail(p->err, "router: out of memory");
    memcpy(r->choice, choice, p->L * sizeof *choice);
    rt_layout(p, choice, r->array_bank, r->layer_array);
    for (size_t i = 0; i < p->N; i++) ax_strlcpy(r->array_id[i], p->chip.arrays[i].id, AX_ARRAY_ID_MAX);
    if (rt_ppa(p, choice, &r->chip, &r->exact_chip) != 0) return -1;
    r->cost = rt_objective(p->o, &r->chip.chip);
    r->exact_cost = rt_objective(p->o, &r->exact_chip.chip);
    return 0;
}

static int search(rt_problem *p, size_t *best)
{
    switch (p->o->method) {
    case AX_ROUTE_GREEDY: return rt_search_greedy(p, best);
    case AX_ROUTE_NSGA2: return rt_search_nsga2(p, best);
    default: return rt_search_surrogate(p, best);
    }
}

static int steps(rt_problem *p, size_t *best)
{
    if (exact_reference(p) != 0) return -1;
    rt_log(p, "exact network on %s: top-1 %.4f, top-5 %.4f", p->search->name, p->exact_top1, p->exact_top5);
    if (rt_sensitivity(p) != 0 || sensitivity_points(p) != 0) return -1;
    rt_log(p, "sensitivity: %zu layers x %zu multipliers, %.4g GMAC (%.1f%% saved by prefix caching against %.4g)",
           p->L, p->J - 1, p->r->sens_macs / 1e9, 100 * (1 - p->r->sens_macs / p->r->sens_macs_full),
           p->r->sens_macs_full / 1e9);
    if (search(p, best) != 0) return -1;
    const ax_route_point *pt = rt_find_point(p, best);
    p->r->search_choice = malloc(p->L * sizeof *best);
    if (!p->r->search_choice) return ax_fail(p->err, "router: out of memory");
    memcpy(p->r->search_choice, best, p->L * sizeof *best);
    p->r->search_top1 = pt->top1, p->r->search_top5 = pt->top5;
    rt_log(p, "search (%s): %zu evaluations, best cost %.6g", ax_route_method_name(p->o->method),
           p->r->evals_search, pt->cost);
    if (verify_and_repair(p, best) != 0) return -1;
    return finish(p, best);
}

int ax_route(const ax_nn_model *model, const ax_mult *const *bank, const char *const *specs, size_t n,
             const ax_route_source *search, const ax_route_source *verify, const ax_route_options *o,
             ax_route_result *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    if (search->count == 0 || verify->count == 0) return ax_fail(err, "router: no images to search or verify on");
    size_t h, w, c;
    ax_nn_input_shape(model, &h, &w, &c);
    rt_image_cache cache;
    ax_route_source cached;
    rt_cache_source(search, h * w * c, &cache, &cached);
    rt_problem p = {.m = model, .o = o, .search = &cached, .verify = verify, .r = out, .err = err};
    p.rng.s = o->seed;
    int rc = setup(&p, bank, specs, n);
    size_t *best = calloc(p.L ? p.L : 1, sizeof *best);
    if (rc == 0 && !best) rc = ax_fail(err, "router: out of memory");
    if (rc == 0) rc = steps(&p, best);
    out->n_bank = p.J;
    out->bank_spec = p.spec ? malloc(p.J * sizeof *out->bank_spec) : NULL;
    for (size_t j = 0; out->bank_spec && j < p.J; j++) out->bank_spec[j] = strdup(p.spec[j]);
    free(best);
    for (size_t j = 0; p.uniform && j < p.J; j++) ax_nn_runtime_free(p.uniform[j]);
    free(p.uniform), free(p.macs), free(p.exact_pred), free(p.exact_ok), free(p.sens_score), free(p.bank), free(p.spec);
    ax_mult_free(p.exact_owned);
    ax_topology_free(p.topo);
    rt_cost_cache_free(&p.costs);
    rt_cache_free(&cache);
    if (rc != 0) ax_route_result_free(out);
    return rc;
}

const char *ax_route_bank_spec(const ax_route_result *r, size_t j)
{
    return j < r->n_bank && r->bank_spec ? r->bank_spec[j] : NULL;
}

void ax_route_result_free(ax_route_result *r)
{
    for (size_t i = 0; i < r->n_points; i++) free(r->points[i].choice);
    for (size_t j = 0; r->bank_spec && j < r->n_bank; j++) free(r->bank_spec[j]);
    free(r->points), free(r->sens), free(r->choice), free(r->search_choice), free(r->array_bank), free(r->layer_array), free(r->array_id);
    free(r->bank_spec);
    ax_ppa_report_free(&r->chip);
    ax_ppa_report_free(&r->exact_chip);
    memset(r, 0, sizeof *r);
}
