/* cmd_route.c - `autoapprox route`: assigns every conv/FC layer of a network
 * to an array of the chip, each array one multiplier of the bank, for the
 * lowest chip power (energy, area) with no loss of top-1 and top-5 beyond
 * --max-drop; searches on a subset of the training split, verifies on the
 * whole of D, and writes the assignment, the Pareto front and the chip
 * report (router.h, docs/router.md). */
#include "cli.h"

#include "autoapprox/data.h"
#include "autoapprox/eval.h"
#include "autoapprox/nn.h"
#include "autoapprox/ppa.h"
#include "autoapprox/router.h"
#include "lut/ax_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char route_usage[] =
    "usage: autoapprox route --model M --data D --bank SPEC,SPEC,... -o A.json [options]\n"
    "\n"
    "Finds the per-layer assignment of the network to the chip's arrays, each array one\n"
    "multiplier of the bank (the exact multiplier is always array A0), that minimizes the\n"
    "chip's power with no loss of top-1 and top-5 against the same int8 network with every\n"
    "multiplier exact. Searches on images kept apart from D, verifies on the whole of D and\n"
    "returns layers to the exact array while the bound breaks (docs/router.md).\n"
    "\n"
    "  --model M                 ONNX model (QDQ, or float: quantized on the fly as eval does)\n"
    "  --data D                  IDX folder (its test split is verified on) or a folder of JPEGs (docs/data.md)\n"
    "  --bank SPEC,...           candidate multipliers, one operand type (e.g. drum-s8:k=4,trunc-s8:k=4)\n"
    "  -o A.json                 the assignment (eval --assign, ppa --assign read it)\n"
    "  --method M                surrogate (default), greedy or nsga2\n"
    "  --objective O             power (default), energy or area of the chip\n"
    "  --max-drop PP             allowed loss of top-1 and of top-5, percentage points (default 0)\n"
    "  --max-arrays K            distinct multipliers on the chip, exact included (default: its arrays)\n"
    "  --confidence Z            on the search images, images lost - gained + Z * sqrt(lost + gained)\n"
    "                            must stay within the bound (default 0: the plain bound)\n"
    "  --search-split S          train (default when D has one) or test (then the search images\n"
    "                            are left out of the verification)\n"
    "  --search-images N         search images, spread evenly over the split (default 2000)\n"
    "  --max-evals N             real evaluations the search may spend (default: the method's)\n"
    "  --seed S                  seed of the search's random choices (default 1)\n"
    "  --chip C.json             chip description (default: TPUv3-like, 4 arrays A0..A3)\n"
    "  --ppa-batch B             images per inference in the chip model (default 1)\n"
    "  --pareto OUT.csv          Pareto front CSV (default: A.pareto.csv beside -o), and OUT.png\n"
    "                            drawn by gnuplot when it is installed\n"
    "  --json REPORT             the whole report with provenance ('-' = stdout)\n"
    "  --batch B, --threads T    images per run (default 256), kernel threads\n"
    "  --calib-images N          on-the-fly quantization: calibration images (default 1000)\n"
    "  --no-prefix-cache         sensitivity without cached exact prefixes (same numbers, slower)\n";

typedef struct route_opts {
    const char *model, *data, *bank, *out, *method, *objective, *max_drop, *split, *chip, *pareto, *json, *conf;
    int64_t max_arrays, images, evals, seed, ppa_batch, batch, threads, calib;
    bool no_cache;
} route_opts;

typedef struct route_bank {
    size_t n;
    char **spec;
    ax_mult **m;
} route_bank;

static int parse_opts(int argc, char **argv, route_opts *o, ax_route_options *ro)
{
    *o = (route_opts){.images = 2000, .seed = 1, .ppa_batch = 1, .batch = 256, .calib = AX_NN_DEFAULT_CALIB_IMAGES};
    const cli_opt opts[] = {
        {"--model", &o->model, NULL, 0, 0, NULL},         {"--data", &o->data, NULL, 0, 0, NULL},
        {"--bank", &o->bank, NULL, 0, 0, NULL},           {"-o", &o->out, NULL, 0, 0, NULL},
        {"--output", &o->out, NULL, 0, 0, NULL},          {"--method", &o->method, NULL, 0, 0, NULL},
        {"--objective", &o->objective, NULL, 0, 0, NULL}, {"--max-drop", &o->max_drop, NULL, 0, 0, NULL},
        {"--search-split", &o->split, NULL, 0, 0, NULL},  {"--chip", &o->chip, NULL, 0, 0, NULL},
        {"--pareto", &o->pareto, NULL, 0, 0, NULL},       {"--json", &o->json, NULL, 0, 0, NULL},
        {"--confidence", &o->conf, NULL, 0, 0, NULL},
        {"--max-arrays", NULL, &o->max_arrays, 1, AX_CHIP_MAX_ARRAYS, NULL},
        {"--search-images", NULL, &o->images, 1, 100000000, NULL},
        {"--max-evals", NULL, &o->evals, 1, 1000000, NULL},
        {"--seed", NULL, &o->seed, 0, INT64_MAX, NULL},
        {"--ppa-batch", NULL, &o->ppa_batch, 1, 1000000, NULL},
        {"--batch", NULL, &o->batch, 1, 65536, NULL},
        {"--threads", NULL, &o->threads, 0, 1024, NULL},
        {"--calib-images", NULL, &o->calib, 1, 100000000, NULL},
        {"--no-prefix-cache", NULL, NULL, 0, 0, &o->no_cache},
    };
    int rc = cli_parse_options("route", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc) return rc == 1 ? -1 : rc;
    if (!o->model || !o->data || !o->bank || !o->out)
        return cli_fail(AX_EXIT_USAGE, "route: --model, --data, --bank and -o are required (autoapprox route --help)");
    ax_route_options_init(ro);
    if (o->method && ax_route_method_parse(o->method, &ro->method) != 0)
        return cli_fail(AX_EXIT_USAGE, "route: --method '%s': expected surrogate, greedy or nsga2", o->method);
    if (o->objective && ax_route_objective_parse(o->objective, &ro->objective) != 0)
        return cli_fail(AX_EXIT_USAGE, "route: --objective '%s': expected power, energy or area", o->objective);
    if (o->max_drop && !cli_parse_double("--max-drop", o->max_drop, &ro->max_drop_pp)) return AX_EXIT_USAGE;
    if (ro->max_drop_pp < 0 || ro->max_drop_pp > 100)
        return cli_fail(AX_EXIT_USAGE, "route: --max-drop %g: expected 0..100 percentage points", ro->max_drop_pp);
    if (o->conf && !cli_parse_double("--confidence", o->conf, &ro->confidence)) return AX_EXIT_USAGE;
    if (ro->confidence < 0 || ro->confidence > 10)
        return cli_fail(AX_EXIT_USAGE, "route: --confidence %g: expected 0..10", ro->confidence);
    if (o->split && strcmp(o->split, "train") && strcmp(o->split, "test"))
        return cli_fail(AX_EXIT_USAGE, "route: --search-split '%s': expected train or test", o->split);
    ro->max_arrays = (size_t)o->max_arrays, ro->seed = (uint64_t)o->seed, ro->max_evals = (size_t)o->evals;
    ro->ppa_batch = (uint32_t)o->ppa_batch, ro->batch = (size_t)o->batch, ro->threads = (int)o->threads;
    ro->no_prefix_cache = o->no_cache;
    return 0;
}

/* ---- the bank ---- */

static void bank_free(route_bank *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->spec[i]), ax_mult_free(b->m[i]);
    free(b->spec), free(b->m);
}

/* "k=v" continues the previous SPEC: family parameters are comma-separated too
 * (bam-s8:hbl=2,vbl=6). */
static bool is_param(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] >= 'a' && s[i] <= 'z') i++;
    return i > 0 && i < n && s[i] == '=' && !memchr(s, '/', n) && !memchr(s, '.', n);
}

static int bank_split(const char *list, route_bank *b)
{
    size_t cap = strlen(list) + 1;
    b->spec = calloc(cap, sizeof *b->spec), b->m = calloc(cap, sizeof *b->m);
    if (!b->spec || !b->m) return cli_fail(AX_EXIT_FAIL, "route: out of memory");
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ",");
        if (n == 0) return cli_fail(AX_EXIT_USAGE, "route: --bank '%s': empty SPEC", list);
        if (b->n && is_param(s, n) && strchr(b->spec[b->n - 1], ':')) {
            char *prev = b->spec[b->n - 1], *j = realloc(prev, strlen(prev) + n + 2);
            if (!j) return cli_fail(AX_EXIT_FAIL, "route: out of memory");
            sprintf(j + strlen(j), ",%.*s", (int)n, s);
            b->spec[b->n - 1] = j;
        } else if (!(b->spec[b->n++] = strndup(s, n))) {
            return cli_fail(AX_EXIT_FAIL, "route: out of memory");
        }
        s += n + (s[n] == ',');
    }
    if (b->n == 0) return cli_fail(AX_EXIT_USAGE, "route: --bank is empty");
    return 0;
}

static int bank_load(const char *list, route_bank *b)
{
    int rc = bank_split(list, b);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        ax_error err;
        if (ax_mult_resolve(b->spec[i], &b->m[i], &err) != 0)
            return cli_fail(AX_EXIT_FAIL, "--bank: multiplier '%s': %s", b->spec[i], err.msg);
    }
    if (rc == 0) {
        ax_error err;
        if (ax_route_check_bank((const ax_mult *const *)b->m, (const char *const *)b->spec, b->n, &err) != 0)
            return cli_fail(AX_EXIT_FAIL, "--bank: %s", err.msg);
    }
    return rc;
}

/* ---- model and images ---- */

static int quantize_on_the_fly(ax_nn_model *m, const route_opts *o, const route_bank *b, const ax_dataset *train)
{
    ax_nn_quant_options q;
    ax_nn_quant_options_init(&q);
    q.act = b->m[0]->act, q.wgt = b->m[0]->wgt;
    if (!train)
        return cli_fail(AX_EXIT_FAIL, "%s is a float model and calibration needs the training split of %s "
                        "(or quantize it first: autoapprox quantize)", o->model, o->data);
    size_t n = (size_t)o->calib < train->count ? (size_t)o->calib : train->count;
    fprintf(stderr, "autoapprox: %s is a float model: quantizing it on the fly (minmax over the first %zu training "
            "images, %s activations, per-channel %s weights)\n", o->model, n, ax_operand_name(q.act),
            ax_operand_name(q.wgt));
    ax_error err;
    int rc = ax_nn_quantize_pixels(m, &q, n, train->images, &err);
    if (rc == 0) rc = ax_nn_set_meta(m, "autoapprox.calibration.data", train->source, &err);
    return rc == 0 ? 0 : cli_fail(AX_EXIT_FAIL, "%s", err.msg);
}

typedef struct route_data {
    ax_source *test, *train;  /* train: IDX data sets with a training split */
    ax_dataset calib;         /* IDX training pixels, for a float model only */
    bool have_calib;
    size_t *search_idx, *verify_idx;
    ax_route_src s_store, v_store;
    ax_route_source search, verify;
    const char *split;
} route_data;

static void data_free(route_data *d)
{
    ax_source_close(d->test);
    ax_source_close(d->train);
    if (d->have_calib) ax_dataset_free(&d->calib);
    free(d->search_idx), free(d->verify_idx);
}

/* D through the model's preprocessing, as `autoapprox eval` reads it: the
 * model's recorded preprocessing, else none for IDX and imagenet for
 * photographs. */
static int data_load(const route_opts *o, const ax_nn_model *m, route_data *d)
{
    ax_error err;
    ax_source_options so;
    ax_source_options_init(&so);
    bool recorded = ax_eval_preprocess_from_model(m, &so.pp);
    if (ax_source_open(o->data, &so, &d->test, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    bool idx = !strcmp(ax_source_kind(d->test), "idx");
    if (!recorded && !idx) {
        ax_source_close(d->test);
        ax_preprocess_imagenet(&so.pp);
        cli_warn("%s records no preprocessing: using imagenet for the photographs of %s", o->model, o->data);
        if (ax_source_open(o->data, &so, &d->test, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    so.split = "train";
    if (idx && ax_source_open(o->data, &so, &d->train, &err) != 0) d->train = NULL;
    if (o->split && !strcmp(o->split, "train") && !d->train)
        return cli_fail(AX_EXIT_FAIL, "%s: no training split to search on (%s)", o->data,
                        idx ? err.msg : "a folder of photographs is one split: use --search-split test");
    if (!ax_nn_is_quantized(m)) {
        if (!idx || ax_dataset_load_idx(o->data, "train", &d->calib, &err) != 0)
            return cli_fail(AX_EXIT_FAIL, "%s is a float model and calibration needs the training split of an IDX "
                            "data set; quantize it first: autoapprox quantize --model %s --calib DIR -o Q.onnx",
                            o->model, o->model);
        d->have_calib = true;
    }
    size_t h, w, c, sh, sw, sc;
    ax_nn_input_shape(m, &h, &w, &c);
    ax_source_shape(d->test, &sh, &sw, &sc);
    if (h != sh || w != sw || c != sc)
        return cli_fail(AX_EXIT_FAIL, "%s: images are %zux%zux%zu, the model %s expects %zux%zux%zu", o->data, sh, sw,
                        sc, o->model, h, w, c);
    d->split = o->split ? o->split : d->train ? "train" : "test";
    return 0;
}

static int data_sources(const route_opts *o, route_data *d)
{
    bool train = !strcmp(d->split, "train");
    const ax_source *src = train ? d->train : d->test;
    size_t count = ax_source_count(src), tests = ax_source_count(d->test);
    size_t n = (size_t)o->images < count ? (size_t)o->images : count;
    if (!train && n >= count)
        return cli_fail(AX_EXIT_USAGE, "route: --search-images %zu leaves none of the %zu images of %s to verify on",
                        n, count, o->data);
    d->search_idx = malloc((n ? n : 1) * sizeof *d->search_idx);
    d->verify_idx = malloc((tests ? tests : 1) * sizeof *d->verify_idx);
    if (!d->search_idx || !d->verify_idx) return cli_fail(AX_EXIT_FAIL, "route: out of memory");
    ax_route_strided(count, n, d->search_idx);
    ax_route_source_from(src, d->search_idx, n, train ? "training split" : "held-out search images", &d->s_store,
                         &d->search);
    if (train) {
        ax_route_source_from(d->test, NULL, 0, "test split", &d->v_store, &d->verify);
        return 0;
    }
    size_t v = 0, k = 0; /* searching on D: verify on the rest of D */
    for (size_t i = 0; i < tests; i++) {
        if (k < n && d->search_idx[k] == i) k++;
        else d->verify_idx[v++] = i;
    }
    ax_route_source_from(d->test, d->verify_idx, v, "D without the search images", &d->v_store, &d->verify);
    return 0;
}

/* ---- the report ---- */

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "route: %s\n", line);
}

static void print_report(const ax_route_result *r, const ax_nn_model *m, const ax_route_options *ro,
                         const route_data *d)
{
    const char *obj = ax_route_objective_name(ro->objective);
    printf("bank        ");
    for (size_t j = 0; j < r->n_bank; j++) printf("%s%s", j ? ", " : "", r->bank_spec[j]);
    printf("\nsensitivity each layer alone on each multiplier, %zu search images: top-1 / agreement with exact / SNR dB\n",
           d->search.count);
    for (size_t l = 0; l < r->n_layers; l++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, l, &li);
        printf("  %-28.28s", li.name);
        for (size_t j = 1; j < r->n_bank; j++) {
            const ax_route_sens *s = &r->sens[l * r->n_bank + j];
            printf("  %.4f/%.4f/%5.1f", s->top1, s->agree, isinf(s->snr_db) ? 999.0 : s->snr_db);
        }
        printf("\n");
    }
    printf("            prefix caching ran %.4g of %.4g GMAC (%.1f%% saved)\n", r->sens_macs / 1e9,
           r->sens_macs_full / 1e9, 100 * (1 - r->sens_macs / r->sens_macs_full));
    printf("assignment  (%s, objective %s, max drop %g pp)\n", ax_route_method_name(ro->method), obj, ro->max_drop_pp);
    for (size_t i = 0; i < r->n_arrays; i++) {
        printf("  %-4s %-24s", r->array_id[i], r->bank_spec[r->array_bank[i]]);
        size_t used = 0;
        for (size_t l = 0; l < r->n_layers; l++) {
            if (r->layer_array[l] != i) continue;
            ax_nn_layer_info li;
            ax_nn_layer_get(m, l, &li);
            printf("%s%s", used++ ? " " : "", li.name);
        }
        printf("%s\n", used ? "" : "(idle)");
    }
    printf("search      %s: top-1 %.4f (exact %.4f), top-5 %.4f (exact %.4f)\n", d->search.name, r->search_top1,
           r->exact_top1, r->search_top5, r->exact_top5);
    printf("verified    %s: top-1 %.4f (exact %.4f), top-5 %.4f (exact %.4f)%s\n", d->verify.name, r->verify_top1,
           r->verify_exact_top1, r->verify_top5, r->verify_exact_top5, r->repairs ? "" : ", no repair needed");
    if (r->repairs) printf("            after %zu repair(s): layers returned to the exact array\n", r->repairs);
    const ax_ppa_figures *c = &r->chip.chip, *x = &r->exact_chip.chip;
    printf("chip        %10s %10s %10s\n", "power W", "area mm2", "energy mJ");
    printf("  routed    %10.4f %10.3f %10.5f\n", c->power_w, c->area_mm2, c->energy_mj);
    printf("  all exact %10.4f %10.3f %10.5f\n", x->power_w, x->area_mm2, x->energy_mj);
    printf("  delta     %9.3f%% %9.3f%% %9.3f%%\n", ax_ppa_delta_pct(c->power_w, x->power_w),
           ax_ppa_delta_pct(c->area_mm2, x->area_mm2), ax_ppa_delta_pct(c->energy_mj, x->energy_mj));
    double aa = 0, ax = 0;
    for (size_t i = 0; i < r->chip.n_arrays; i++) aa += r->chip.arrays[i].fig.area_mm2, ax += r->exact_chip.arrays[i].fig.area_mm2;
    printf("  arrays    %9.3f%% of their area (the arrays are %.1f%% of the chip)\n", ax_ppa_delta_pct(aa, ax),
           100 * ax / x->area_mm2);
    printf("evaluations %zu on the search images (%zu sensitivity runs besides), %zu on the verification images, "
           "%zu in all\n", r->evals_search, r->sens_runs, r->evals_verify, r->evals_search + r->evals_verify);
}

static json_object *figures_json(const ax_ppa_figures *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "area_mm2", json_object_new_double(f->area_mm2));
    json_object_object_add(o, "power_w", json_object_new_double(f->power_w));
    json_object_object_add(o, "energy_mj", json_object_new_double(f->energy_mj));
    json_object_object_add(o, "latency_ms", json_object_new_double(f->latency_ms));
    json_object_object_add(o, "throughput_ips", json_object_new_double(f->throughput_ips));
    return o;
}

static json_object *num(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL; /* JSON has no infinity: null */
}

static json_object *sens_json(const ax_route_result *r, const ax_nn_model *m)
{
    json_object *a = json_object_new_array();
    for (size_t l = 0; l < r->n_layers; l++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, l, &li);
        for (size_t j = 1; j < r->n_bank; j++) {
            const ax_route_sens *s = &r->sens[l * r->n_bank + j];
            json_object *o = json_object_new_object();
            json_object_object_add(o, "layer", json_object_new_string(li.name));
            json_object_object_add(o, "multiplier", json_object_new_string(r->bank_spec[j]));
            json_object_object_add(o, "top1", num(s->top1));
            json_object_object_add(o, "top5", num(s->top5));
            json_object_object_add(o, "agreement", num(s->agree));
            json_object_object_add(o, "snr_db", num(s->snr_db));
            json_object_array_add(a, o);
        }
    }
    return a;
}

static json_object *accuracy_json(const char *set, size_t images, double t1, double t5, double e1, double e5)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "images", json_object_new_string(set));
    json_object_object_add(o, "count", json_object_new_int64((int64_t)images));
    json_object_object_add(o, "top1", json_object_new_double(t1));
    json_object_object_add(o, "top5", json_object_new_double(t5));
    json_object_object_add(o, "exact_top1", json_object_new_double(e1));
    json_object_object_add(o, "exact_top5", json_object_new_double(e5));
    return o;
}

static json_object *report_json(const ax_route_result *r, const ax_nn_model *m, const route_opts *o,
                                const ax_route_options *ro, const route_data *d, const route_bank *b,
                                const char *pareto)
{
    json_object *j = json_object_new_object(), *set = json_object_new_object(), *pc = json_object_new_object(),
                *ev = json_object_new_object(), *asg = json_object_new_object(), *dl = json_object_new_object();
    json_object_object_add(j, "model", json_object_new_string(o->model));
    json_object_object_add(j, "data", json_object_new_string(o->data));
    json_object_object_add(set, "method", json_object_new_string(ax_route_method_name(ro->method)));
    json_object_object_add(set, "objective", json_object_new_string(ax_route_objective_name(ro->objective)));
    json_object_object_add(set, "max_drop_pp", json_object_new_double(ro->max_drop_pp));
    json_object_object_add(set, "max_arrays", json_object_new_int64((int64_t)(ro->max_arrays ? ro->max_arrays : r->n_arrays)));
    json_object_object_add(set, "confidence", json_object_new_double(ro->confidence));
    json_object_object_add(set, "seed", json_object_new_int64((int64_t)ro->seed));
    json_object_object_add(set, "search_split", json_object_new_string(d->split));
    json_object_object_add(set, "ppa_batch", json_object_new_int64(ro->ppa_batch));
    json_object_object_add(j, "settings", set);
    json_object *bank = json_object_new_array();
    for (size_t i = 0; i < r->n_bank; i++) json_object_array_add(bank, json_object_new_string(r->bank_spec[i]));
    json_object_object_add(j, "bank", bank);
    json_object_object_add(j, "sensitivity", sens_json(r, m));
    json_object_object_add(pc, "macs", json_object_new_double(r->sens_macs));
    json_object_object_add(pc, "macs_without_caching", json_object_new_double(r->sens_macs_full));
    json_object_object_add(pc, "saving_pct", json_object_new_double(100 * (1 - r->sens_macs / r->sens_macs_full)));
    json_object_object_add(pc, "runs", json_object_new_int64((int64_t)r->sens_runs));
    json_object_object_add(j, "prefix_cache", pc);
    json_object_object_add(ev, "search", json_object_new_int64((int64_t)r->evals_search));
    json_object_object_add(ev, "verification", json_object_new_int64((int64_t)r->evals_verify));
    json_object_object_add(ev, "total", json_object_new_int64((int64_t)(r->evals_search + r->evals_verify)));
    json_object_object_add(ev, "repairs", json_object_new_int64((int64_t)r->repairs));
    json_object_object_add(j, "evaluations", ev);
    json_object_object_add(j, "search", accuracy_json(d->search.name, d->search.count, r->search_top1,
                                                     r->search_top5, r->exact_top1, r->exact_top5));
    json_object_object_add(j, "verification", accuracy_json(d->verify.name, r->verify_images, r->verify_top1,
                                                           r->verify_top5, r->verify_exact_top1, r->verify_exact_top5));
    /* arrays and layers as the assignment file has them (written just before) */
    json_object *written = json_object_from_file(o->out), *v;
    json_object_object_add(asg, "file", json_object_new_string(o->out));
    if (written && json_object_object_get_ex(written, "arrays", &v))
        json_object_object_add(asg, "arrays", json_object_get(v));
    if (written && json_object_object_get_ex(written, "layers", &v))
        json_object_object_add(asg, "layers", json_object_get(v));
    json_object_put(written);
    json_object_object_add(j, "assignment", asg);
    json_object_object_add(j, "chip", figures_json(&r->chip.chip));
    json_object_object_add(j, "exact_chip", figures_json(&r->exact_chip.chip));
    json_object_object_add(dl, "area_pct", json_object_new_double(ax_ppa_delta_pct(r->chip.chip.area_mm2, r->exact_chip.chip.area_mm2)));
    json_object_object_add(dl, "power_pct", json_object_new_double(ax_ppa_delta_pct(r->chip.chip.power_w, r->exact_chip.chip.power_w)));
    json_object_object_add(dl, "energy_pct", json_object_new_double(ax_ppa_delta_pct(r->chip.chip.energy_mj, r->exact_chip.chip.energy_mj)));
    json_object_object_add(j, "delta", dl);
    json_object_object_add(j, "pareto_csv", json_object_new_string(pareto));
    json_object *prov = cli_provenance("route");
    for (size_t i = 0; i < b->n; i++) cli_provenance_add_mult(prov, b->m[i]);
    json_object_object_add(prov, "model_sha256", json_object_new_string(ax_nn_sha256(m)));
    json_object *cal = json_object_new_object();
    static const char *const keys[] = {"autoapprox.calibration.method", "autoapprox.calibration.images",
                                       "autoapprox.calibration.data", "autoapprox.quant.act",
                                       "autoapprox.quant.weights"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *v = ax_nn_meta(m, keys[i]);
        if (v) json_object_object_add(cal, strrchr(keys[i], '.') + 1, json_object_new_string(v));
    }
    json_object_object_add(prov, "calibration", cal);
    json_object_object_add(j, "provenance", prov);
    return j;
}

/* A.json -> A.pareto.csv (or --pareto); the PNG beside the CSV. */
static char *pareto_path(const route_opts *o, const char *ext)
{
    const char *base = o->pareto ? o->pareto : o->out;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    if (dot && (!slash || dot > slash)) n = (size_t)(dot - base);
    char *p = malloc(n + 16);
    if (p) sprintf(p, "%.*s%s", (int)n, base, o->pareto ? ext : !strcmp(ext, ".csv") ? ".pareto.csv" : ".pareto.png");
    return p;
}

static int outputs(const ax_route_result *r, const ax_nn_model *m, const route_opts *o, const ax_route_options *ro,
                   const route_data *d, const route_bank *b)
{
    ax_error err;
    char *csv = pareto_path(o, ".csv"), *png = pareto_path(o, ".png");
    int rc = csv && png ? 0 : cli_fail(AX_EXIT_FAIL, "route: out of memory");
    if (rc == 0 && ax_route_write_assignment(r, m, ro, o->out, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (rc == 0 && ax_route_write_pareto_csv(r, m, ro, csv, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (rc == 0) {
        bool done;
        char why[1200];
        if (ax_route_plot_pareto(csv, png, ro, &done, why, sizeof why) != 0 || !done) cli_warn("%s", why);
        if (!o->json || strcmp(o->json, "-")) {
            print_report(r, m, ro, d);
            printf("written     %s, %s%s%s\n", o->out, csv, done ? ", " : "", done ? png : "");
        }
    }
    if (rc == 0 && o->json) {
        json_object *j = report_json(r, m, o, ro, d, b, csv);
        if (cli_write_json(o->json, j) != 0) rc = AX_EXIT_FAIL;
        json_object_put(j);
    }
    free(csv), free(png);
    return rc;
}

static int route(const route_opts *o, ax_route_options *ro, ax_nn_model *m, route_bank *b)
{
    route_data d = {0};
    ax_chip chip;
    ax_error err;
    int rc = data_load(o, m, &d);
    if (rc == 0 && !ax_nn_is_quantized(m)) rc = quantize_on_the_fly(m, o, b, &d.calib);
    if (rc == 0) rc = data_sources(o, &d);
    if (rc == 0 && o->chip) {
        if (ax_chip_load(o->chip, &chip, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
        ro->chip = &chip;
    }
    ax_route_result r;
    ro->log = log_line;
    if (rc == 0 && ax_route(m, (const ax_mult *const *)b->m, (const char *const *)b->spec, b->n, &d.search,
                            &d.verify, ro, &r, &err) != 0)
        rc = cli_fail(AX_EXIT_FAIL, "route: %s", err.msg);
    if (rc == 0) {
        rc = outputs(&r, m, o, ro, &d, b);
        ax_route_result_free(&r);
    }
    data_free(&d);
    return rc;
}

int cmd_route(int argc, char **argv)
{
    route_opts o;
    ax_route_options ro;
    int rc = parse_opts(argc, argv, &o, &ro);
    if (rc < 0) {
        fputs(route_usage, stdout);
        return AX_EXIT_OK;
    }
    if (rc != 0) return rc;
    route_bank b = {0};
    if ((rc = bank_load(o.bank, &b)) != 0) {
        bank_free(&b);
        return rc;
    }
    ax_nn_model *m;
    ax_error err;
    if (ax_nn_load_onnx(o.model, &m, &err) != 0) {
        bank_free(&b);
        return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    rc = route(&o, &ro, m, &b);
    ax_nn_free(m);
    bank_free(&b);
    return rc;
}
