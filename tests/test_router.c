/* test_router.c - the router (router/, `autoapprox route`) and the partial
 * runs it is built on (nn/exec_partial.c), on the synthetic network of
 * tests/fixtures/router (tools/scripts/make_router_fixtures.py): conv_a and
 * fc multiply exactly on perforated-s8:m=2,s=0 (weights are multiples of 4),
 * conv_b collapses on it (its weights are 0..3), so the best assignment is
 * known: conv_a and fc on perforated arrays, conv_b on the exact array. */
#include "test_util.h"

#include "autoapprox/data.h"
#include "autoapprox/nn.h"
#include "autoapprox/ppa.h"
#include "autoapprox/router.h"
#include "nn/exec_internal.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PERF "perforated-s8:m=2,s=0"

static char *fixture(const char *name)
{
    const char *dir = getenv("AX_TEST_FIXTURES");
    cr_assert_not_null(dir, "AX_TEST_FIXTURES not set");
    char *p = malloc(strlen(dir) + strlen(name) + 16);
    sprintf(p, "%s/router%s%s", dir, name[0] ? "/" : "", name);
    return p;
}

/* The problem: the synthetic model, its data, a bank, and the two image sets. */
typedef struct problem {
    ax_nn_model *m;
    ax_dataset train, test;
    ax_mult *bank[4];
    const char *specs[4];
    size_t n_bank;
    size_t *idx;
    ax_route_idx s_store, v_store;
    ax_route_source search, verify;
} problem;

static void problem_init(problem *p, const char *const *specs, size_t n, size_t search_images)
{
    memset(p, 0, sizeof *p);
    ax_error err;
    char *model = fixture("synth.onnx"), *dir = fixture("");
    cr_assert_eq(ax_nn_load_onnx(model, &p->m, &err), 0, "%s", err.msg);
    cr_assert(ax_nn_is_quantized(p->m));
    cr_assert_eq(ax_dataset_load_idx(dir, "train", &p->train, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_dataset_load_idx(dir, "test", &p->test, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(ax_mult_resolve(specs[i], &p->bank[i], &err), 0, "%s", err.msg);
        p->specs[i] = specs[i];
    }
    p->n_bank = n;
    p->idx = malloc(search_images * sizeof *p->idx);
    ax_route_strided(p->train.count, search_images, p->idx);
    ax_nn_preprocess pre;
    ax_nn_preprocess_get(p->m, &pre);
    ax_route_source_idx(&p->train, &pre, p->idx, search_images, "train", &p->s_store, &p->search);
    ax_route_source_idx(&p->test, &pre, NULL, 0, "test", &p->v_store, &p->verify);
    free(model), free(dir);
}

static void problem_free(problem *p)
{
    for (size_t i = 0; i < p->n_bank; i++) ax_mult_free(p->bank[i]);
    ax_dataset_free(&p->train), ax_dataset_free(&p->test);
    ax_nn_free(p->m);
    free(p->idx);
}

static void route(problem *p, ax_route_options *o, ax_route_result *r)
{
    ax_error err;
    o->threads = 1;
    cr_assert_eq(ax_route(p->m, (const ax_mult *const *)p->bank, p->specs, p->n_bank, &p->search, &p->verify, o, r,
                          &err),
                 0, "%s", err.msg);
}

/* conv_a and fc on perforated (bank entry 1), conv_b exact (entry 0). */
static void expect_optimum(const ax_route_result *r)
{
    cr_assert_eq(r->n_layers, 3);
    cr_expect_eq(r->choice[0], 1, "conv_a on %s", r->bank_spec[r->choice[0]]);
    cr_expect_eq(r->choice[1], 0, "conv_b on %s", r->bank_spec[r->choice[1]]);
    cr_expect_eq(r->choice[2], 1, "fc on %s", r->bank_spec[r->choice[2]]);
    cr_expect_str_eq(r->bank_spec[0], "exact-s8");
    cr_expect_str_eq(r->bank_spec[1], PERF);
}

Test(router, every_method_finds_the_known_optimum)
{
    static const char *const bank[] = {PERF};
    for (int m = AX_ROUTE_SURROGATE; m <= AX_ROUTE_NSGA2; m++) {
        problem p;
        problem_init(&p, bank, 1, 101);
        ax_route_options o;
        ax_route_options_init(&o);
        o.method = (ax_route_method)m;
        ax_route_result r;
        route(&p, &o, &r);
        expect_optimum(&r);
        cr_expect_eq(r.repairs, 0, "%s", ax_route_method_name(o.method));
        cr_expect_eq(r.verify_top1, r.verify_exact_top1);
        cr_expect_eq(r.exact_top1, 1.0, "the synthetic network is right on every image");
        cr_expect_gt(r.evals_search, 0);
        cr_expect_lt(r.cost, r.exact_cost, "the perforated arrays save power");
        /* the layout: exact array A0 runs conv_b, each perforated array one layer */
        cr_expect_eq(r.layer_array[1], 0);
        cr_expect_neq(r.layer_array[0], 0);
        cr_expect_neq(r.layer_array[2], 0);
        cr_expect_eq(r.array_bank[r.layer_array[0]], 1);
        ax_route_result_free(&r);
        problem_free(&p);
    }
}

/* Four search images (0, 100, 200, 300) are all class 0, which the collapsed
 * network (every logit tied) gets right: the search accepts conv_b on the
 * perforated array, the verification on the test split refutes it, and the
 * repair returns conv_b (lowest SNR) to the exact array. */
Test(router, max_drop_holds_on_verification_after_repair)
{
    static const char *const bank[] = {PERF};
    problem p;
    problem_init(&p, bank, 1, 4);
    ax_route_options o;
    ax_route_options_init(&o);
    ax_route_result r;
    route(&p, &o, &r);
    cr_expect_eq(r.search_choice[1], 1, "the search was misled: conv_b approximate");
    cr_expect_eq(r.repairs, 1);
    expect_optimum(&r);
    cr_expect_geq(r.verify_top1, r.verify_exact_top1 - o.max_drop_pp / 100);
    cr_expect_geq(r.verify_top5, r.verify_exact_top5 - o.max_drop_pp / 100);
    cr_expect_eq(r.evals_verify, 3, "exact, the search's choice, one repair");
    ax_route_result_free(&r);
    problem_free(&p);
}

/* With a bound of 80 points the collapse of conv_b (75 points) is allowed;
 * with the confidence margin (Z = 1: 75 + sqrt(76) images) it is not. */
Test(router, a_looser_bound_lets_more_layers_approximate)
{
    static const char *const bank[] = {PERF};
    problem p;
    problem_init(&p, bank, 1, 101);
    ax_route_options o;
    ax_route_options_init(&o);
    o.max_drop_pp = 80;
    o.method = AX_ROUTE_GREEDY;
    ax_route_result r;
    route(&p, &o, &r);
    for (size_t l = 0; l < 3; l++) cr_expect_eq(r.choice[l], 1, "layer %zu", l);
    cr_expect_geq(r.verify_top1, r.verify_exact_top1 - 0.80);
    ax_route_result_free(&r);
    problem_free(&p);
    problem_init(&p, bank, 1, 101);
    o.confidence = 1;
    route(&p, &o, &r);
    expect_optimum(&r);
    ax_route_result_free(&r);
    problem_free(&p);
}

Test(router, same_seed_gives_the_same_assignment)
{
    static const char *const bank[] = {PERF, "trunc-s8:k=3", "drum-s8:k=2"};
    ax_route_result r[3];
    for (int i = 0; i < 3; i++) {
        problem p;
        problem_init(&p, bank, 3, 41);
        ax_route_options o;
        ax_route_options_init(&o);
        o.method = AX_ROUTE_NSGA2;
        o.max_evals = 20;
        o.seed = i < 2 ? 7 : 8;
        route(&p, &o, &r[i]);
        problem_free(&p);
    }
    cr_expect_eq(memcmp(r[0].choice, r[1].choice, 3 * sizeof *r[0].choice), 0);
    cr_assert_eq(r[0].n_points, r[1].n_points);
    for (size_t i = 0; i < r[0].n_points; i++)
        cr_expect_eq(memcmp(r[0].points[i].choice, r[1].points[i].choice, 3 * sizeof(size_t)), 0, "point %zu", i);
    /* another seed explores other points (same problem, same bound) */
    bool differ = r[2].n_points != r[0].n_points;
    for (size_t i = 0; !differ && i < r[0].n_points; i++)
        differ = memcmp(r[0].points[i].choice, r[2].points[i].choice, 3 * sizeof(size_t)) != 0;
    cr_expect(differ, "seed 8 evaluated the same sequence as seed 7");
    for (int i = 0; i < 3; i++) ax_route_result_free(&r[i]);
}

Test(router, prefix_caching_gives_the_same_sensitivity)
{
    static const char *const bank[] = {PERF, "trunc-s8:k=3", "drum-s8:k=2"};
    ax_route_result r[2];
    for (int i = 0; i < 2; i++) {
        problem p;
        problem_init(&p, bank, 3, 101);
        ax_route_options o;
        ax_route_options_init(&o);
        o.batch = 32; /* several batches, the last one short */
        o.no_prefix_cache = i == 1;
        o.max_evals = 3;
        route(&p, &o, &r[i]);
        problem_free(&p);
    }
    cr_assert_eq(r[0].n_bank, 4);
    size_t n = r[0].n_layers * r[0].n_bank;
    cr_expect_eq(memcmp(r[0].sens, r[1].sens, n * sizeof *r[0].sens), 0, "bit-identical sensitivity");
    bool finite = false;
    for (size_t i = 0; i < n; i++) finite |= isfinite(r[0].sens[i].snr_db);
    cr_expect(finite, "some multiplier changes some layer's output");
    cr_expect_lt(r[0].sens_macs, r[0].sens_macs_full, "prefix caching saves MACs");
    cr_expect_gt(r[1].sens_macs, r[0].sens_macs);
    ax_route_result_free(&r[0]);
    ax_route_result_free(&r[1]);
}

/* A source that counts how often each image is read. */
typedef struct counting {
    const ax_route_source *inner;
    unsigned reads[512];
} counting;

static int counting_read(void *ctx, size_t first, size_t n, float *images, int32_t *labels, ax_error *err)
{
    counting *c = ctx;
    for (size_t i = first; i < first + n && i < 512; i++) c->reads[i]++;
    return c->inner->read(c->inner->ctx, first, n, images, labels, err);
}

/* The search images are read from their source once, however many
 * evaluations run on them (the exact reference, the sensitivity pass, the
 * search). (Every other route test runs through the cache too.) */
Test(router, search_images_are_read_once)
{
    static const char *const bank[] = {PERF, "trunc-s8:k=3"};
    problem p;
    problem_init(&p, bank, 2, 101);
    counting cnt = {.inner = &p.search};
    ax_route_source counted = {p.search.count, p.search.name, counting_read, &cnt};
    ax_route_options o;
    ax_route_options_init(&o);
    o.batch = 32; /* several batches, the last one short */
    o.max_evals = 6;
    o.threads = 1;
    ax_route_result r;
    ax_error err;
    cr_assert_eq(ax_route(p.m, (const ax_mult *const *)p.bank, p.specs, p.n_bank, &counted, &p.verify, &o, &r, &err),
                 0, "%s", err.msg);
    cr_assert_gt(r.evals_search, 1, "several evaluations on the search images");
    for (size_t i = 0; i < p.search.count; i++) cr_expect_eq(cnt.reads[i], 1, "image %zu read %u times", i, cnt.reads[i]);
    ax_route_result_free(&r);
    problem_free(&p);
}

/* Runs from one snapshot read its buffers and take everything else from the
 * runtime's pool: after the first run the pool holds a fixed set of
 * buffers, however many runs follow (it once grew by the snapshot's copies
 * on every run: gigabytes in a sensitivity pass), and the snapshot is left
 * as it was, so every run gives the same logits. */
Test(router, runs_from_a_snapshot_keep_the_pool_bounded)
{
    enum { B = 2, SIDE = 32, LAYER = 7 }; /* features.3.conv.1.0: features.2's output waits for the Add */
    ax_error err;
    ax_nn_model *m;
    ax_mult *exact;
    cr_assert_eq(ax_nn_build_mobilenet_v2(SIDE, 7, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_mult_resolve("trunc-s8:k=2", &exact, &err), 0, "%s", err.msg);
    size_t L = ax_nn_layer_count(m), nc = ax_nn_output_size(m), isz = SIDE * SIDE * 3;
    float *x = malloc(B * isz * sizeof *x), *y = malloc(B * nc * sizeof *y), *z = malloc(B * nc * sizeof *z);
    for (size_t i = 0; i < B * isz; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    const ax_mult **u = malloc(L * sizeof *u);
    for (size_t l = 0; l < L; l++) u[l] = exact;
    ax_nn_runtime *rt;
    cr_assert_eq(ax_nn_runtime_create(m, u, &rt, &err), 0, "%s", err.msg);
    ax_nn_snapshot *s;
    cr_assert_eq(ax_nn_snapshot_take(rt, B, x, LAYER, 1, &s, &err), 0, "%s", err.msg);
    size_t pooled = 0;
    for (int r = 0; r < 6; r++) {
        cr_assert_eq(ax_nn_run_from(s, rt, LAYER, NULL, r ? z : y, NULL, 1, &err), 0, "%s", err.msg);
        if (r == 1) pooled = rt->pool.n;
        if (r > 1)
            cr_expect_eq(rt->pool.n, pooled, "run %d: the pool holds %zu buffers, %zu after run 1", r, rt->pool.n,
                         pooled);
        if (r) cr_expect_eq(memcmp(y, z, B * nc * sizeof *y), 0, "run %d", r);
    }
    cr_assert_eq(ax_nn_runtime_run(rt, B, x, z, 1, &err), 0, "%s", err.msg);
    cr_expect_eq(memcmp(y, z, B * nc * sizeof *y), 0, "a full run");
    ax_nn_snapshot_free(s);
    ax_nn_runtime_free(rt);
    ax_mult_free(exact);
    ax_nn_free(m);
    free(u), free(x), free(y), free(z);
}

/* The partial runs themselves: from a snapshot at layer l, with another
 * multiplier on layer l, the logits equal a full run with that multiplier
 * on layer l, bit for bit. */
Test(router, suffix_runs_equal_full_runs)
{
    static const char *const bank[] = {"trunc-s8:k=3", "drum-s8:k=2"};
    problem p;
    problem_init(&p, bank, 2, 24);
    ax_error err;
    ax_mult *exact;
    cr_assert_eq(ax_mult_resolve("exact-s8", &exact, &err), 0);
    size_t L = ax_nn_layer_count(p.m), B = 24, isz = 36, nc = ax_nn_output_size(p.m);
    float *x = malloc(B * isz * sizeof *x), *y = malloc(B * nc * sizeof *y), *z = malloc(B * nc * sizeof *z);
    int32_t lab[24];
    cr_assert_eq(p.search.read(p.search.ctx, 0, B, x, lab, &err), 0);
    const ax_mult *all[3] = {exact, exact, exact};
    ax_nn_runtime *ex, *alt[2];
    cr_assert_eq(ax_nn_runtime_create(p.m, all, &ex, &err), 0, "%s", err.msg);
    for (int j = 0; j < 2; j++) {
        const ax_mult *u[3] = {p.bank[j], p.bank[j], p.bank[j]};
        cr_assert_eq(ax_nn_runtime_create(p.m, u, &alt[j], &err), 0, "%s", err.msg);
    }
    ax_nn_snapshot *s;
    cr_assert_eq(ax_nn_snapshot_take(ex, B, x, 0, 1, &s, &err), 0, "%s", err.msg);
    for (size_t l = 0; l < L; l++) {
        cr_assert_eq(ax_nn_snapshot_layer(s), l);
        for (int j = 0; j < 2; j++) {
            cr_assert_eq(ax_nn_run_from(s, ex, l, alt[j], y, NULL, 1, &err), 0, "%s", err.msg);
            const ax_mult *mixed[3] = {exact, exact, exact};
            mixed[l] = p.bank[j];
            ax_nn_runtime *full;
            cr_assert_eq(ax_nn_runtime_create(p.m, mixed, &full, &err), 0, "%s", err.msg);
            cr_assert_eq(ax_nn_runtime_run(full, B, x, z, 1, &err), 0, "%s", err.msg);
            cr_expect_eq(memcmp(y, z, B * nc * sizeof *y), 0, "layer %zu, %s", l, p.specs[j]);
            ax_nn_runtime_free(full);
        }
        cr_assert_eq(ax_nn_snapshot_advance(s, ex, NULL, 1, &err), 0, "%s", err.msg);
    }
    cr_expect_neq(ax_nn_snapshot_advance(s, ex, NULL, 1, &err), 0, "nothing after the last layer");
    cr_expect_neq(ax_nn_run_from(s, ex, 0, NULL, y, NULL, 1, &err), 0, "layer 0 is behind the snapshot");
    ax_nn_snapshot_free(s);
    ax_nn_runtime_free(ex), ax_nn_runtime_free(alt[0]), ax_nn_runtime_free(alt[1]);
    ax_mult_free(exact);
    free(x), free(y), free(z);
    problem_free(&p);
}

/* ---- the command ---- */

static int run(char **out, char **err, const char *const *argv)
{
    return ax_test_cli(out, err, argv);
}

static bool one_line(const char *s)
{
    return s && strchr(s, '\n') == s + strlen(s) - 1;
}

Test(cli_route, bad_banks_are_one_clear_line)
{
    char *model = fixture("synth.onnx"), *dir = fixture(""), *tmp = ax_test_tmpdir();
    char *a = ax_test_path(tmp, "a.json"), *axm = ax_test_path(tmp, "nofig.axm");
    char *out, *err;
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank",
                                                  "perforated-s8:m=2,s=0,wobble-s8:k=2", "-o", a, NULL}), 1);
    cr_expect(strstr(err, "wobble-s8:k=2") != NULL && one_line(err), "%s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank",
                                                  "drum-s8:k=4,drum-u8:k=4", "-o", a, NULL}), 1);
    cr_expect(strstr(err, "drum-u8:k=4") != NULL && strstr(err, "operand types") != NULL && one_line(err), "%s", err);
    free(out), free(err);
    /* a table without hardware figures: the objective cannot price it */
    ax_mult *m = ax_mult_new();
    ax_error e;
    for (unsigned i = 0; i < 65536; i++) m->table[i] = ax_exact_product(AX_S8, AX_S8, i >> 8, i & 255) + 1;
    snprintf(m->name, sizeof m->name, "nofig");
    cr_assert_eq(ax_mult_save(m, axm, &e), 0, "%s", e.msg);
    ax_mult_free(m);
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", axm, "-o", a,
                                                  NULL}), 1);
    cr_expect(strstr(err, "hardware figures") != NULL && one_line(err), "%s", err);
    free(out), free(err);
    cr_expect_neq(access(a, F_OK), 0, "no assignment after a failure");
    /* usage */
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", PERF, NULL}), 2);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", PERF, "-o", a,
                                                  "--method", "annealing", NULL}), 2);
    cr_expect(strstr(err, "annealing") != NULL && one_line(err), "%s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", PERF, "-o", a,
                                                  "--max-arrays", "9", NULL}), 1);
    cr_expect(strstr(err, "--max-arrays 9") != NULL && one_line(err), "%s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"route", "--help", NULL}), 0);
    cr_expect(strstr(out, "--max-drop") != NULL);
    free(out), free(err);
    ax_test_rmtree(tmp);
    free(model), free(dir), free(tmp), free(a), free(axm);
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, k, &v), "missing key %s", k);
    return v;
}

/* The command end to end: the assignment eval and ppa read back, with the
 * figures the route report printed; the Pareto CSV; the JSON report. */
Test(cli_route, outputs_read_back)
{
    char *model = fixture("synth.onnx"), *dir = fixture(""), *tmp = ax_test_tmpdir();
    char *a = ax_test_path(tmp, "a.json"), *rep = ax_test_path(tmp, "r.json"), *csv = ax_test_path(tmp, "a.pareto.csv");
    char *png = ax_test_path(tmp, "a.pareto.png"), *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", PERF, "-o", a,
                                                  "--json", rep, "--search-images", "101", "--threads", "1", NULL}),
                 0, "%s", err);
    cr_expect(strstr(out, "verified") != NULL, "%s", out);
    free(out), free(err);
    ax_assignment *as;
    ax_error e;
    cr_assert_eq(ax_assignment_load(a, &as, &e), 0, "%s", e.msg);
    ax_nn_model *m;
    cr_assert_eq(ax_nn_load_onnx(model, &m, &e), 0);
    cr_expect_str_eq(as->model_sha256, ax_nn_sha256(m));
    cr_expect_eq(as->n_layers, 3);
    ax_assignment_free(as);
    ax_nn_free(m);
    json_object *j = json_object_from_file(rep);
    cr_assert_not_null(j);
    cr_expect_gt(json_object_get_int(get(get(j, "evaluations"), "search")), 0);
    cr_expect_gt(json_object_get_double(get(get(j, "prefix_cache"), "saving_pct")), 0);
    cr_expect_lt(json_object_get_double(get(get(j, "delta"), "power_pct")), 0);
    cr_expect_eq(json_object_get_double(get(get(j, "verification"), "top1")), 1.0);
    get(get(j, "provenance"), "git_revision");
    get(get(j, "provenance"), "model_sha256");
    double power = json_object_get_double(get(get(j, "delta"), "power_pct"));
    json_object_put(j);
    /* eval --assign and ppa --assign read it and agree */
    cr_expect_eq(run(&out, &err, (const char *[]){"eval", "--model", model, "--data", dir, "--assign", a, "--json",
                                                  "-", NULL}), 0, "%s", err);
    j = json_tokener_parse(out);
    cr_assert_not_null(j);
    cr_expect_eq(json_object_get_double(get(j, "top1")), 1.0);
    json_object_put(j);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--model", model, "--assign", a, "--json", "-", NULL}), 0,
                 "%s", err);
    j = json_tokener_parse(out);
    cr_assert_not_null(j);
    cr_expect_float_eq(json_object_get_double(get(get(j, "delta"), "power_pct")), power, 1e-9);
    json_object_put(j);
    free(out), free(err);
    /* the Pareto front: always a CSV; a PNG when gnuplot is there */
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f, "%s", csv);
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_eq(strncmp(line, "power,power_delta_pct,top1,top5,feasible,pareto", 47), 0, "%s", line);
    size_t rows = 0;
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    cr_expect_geq(rows, 4, "exact + 3 sensitivity points at least");
    if (access("/usr/bin/gnuplot", X_OK) == 0) cr_expect_eq(access(png, F_OK), 0, "gnuplot present: %s", png);
    /* without gnuplot: a warning, the CSV, no PNG, success */
    char *b = ax_test_path(tmp, "b.json"), *png_b = ax_test_path(tmp, "b.pareto.png");
    char *csv_b = ax_test_path(tmp, "b.pareto.csv"), *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/nonexistent", 1);
    int rc = run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", PERF, "-o", b,
                                              "--search-images", "41", "--max-evals", "2", NULL});
    setenv("PATH", path, 1);
    cr_expect_eq(rc, 0, "%s", err);
    cr_expect(strstr(err, "warning: gnuplot is not installed") != NULL, "%s", err);
    cr_expect_eq(access(csv_b, F_OK), 0);
    cr_expect_neq(access(png_b, F_OK), 0);
    free(out), free(err), free(b), free(png_b), free(csv_b), free(path);
    ax_test_rmtree(tmp);
    free(model), free(dir), free(tmp), free(a), free(rep), free(csv), free(png);
}

/* Without a training split to search on, the search images are held out of
 * D and the rest of D verifies. */
Test(cli_route, search_on_the_test_split_holds_its_images_out)
{
    char *model = fixture("synth.onnx"), *dir = fixture(""), *tmp = ax_test_tmpdir(), *a = ax_test_path(tmp, "a.json");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"route", "--model", model, "--data", dir, "--bank", PERF, "-o", a,
                                                  "--search-split", "test", "--search-images", "51", "--json", "-",
                                                  NULL}), 0, "%s", err);
    json_object *j = json_tokener_parse(out);
    cr_assert_not_null(j);
    cr_expect_eq(json_object_get_int(get(get(j, "search"), "count")), 51);
    cr_expect_eq(json_object_get_int(get(get(j, "verification"), "count")), 149);
    cr_expect_eq(json_object_get_int(get(get(j, "settings"), "max_arrays")), 4, "the default chip's arrays");
    json_object_put(j);
    free(out), free(err);
    ax_test_rmtree(tmp);
    free(model), free(dir), free(tmp), free(a);
}
