/* cmd_eval.c - `autoapprox eval`: accuracy of a quantized network on an image
 * source (data.h) with one multiplier per conv/FC layer (--mult for all,
 * --assign for a router's assignment): top-1/top-5, skipped items, speed of
 * decode and compute, kernels, JSON provenance. The loop is ax_eval_run
 * (eval/); this file is options, multipliers and reporting. */
#include "cli.h"

#include "autoapprox/data.h"
#include "autoapprox/eval.h"
#include "autoapprox/gemm.h"
#include "autoapprox/nn.h"
#include "lut/ax_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static const char eval_usage[] =
    "usage: autoapprox eval --model M.onnx --data DIR [options]\n"
    "\n"
    "Runs a quantized network over a dataset (an IDX folder {t10k,train}-{images-idx3,labels-idx1}-ubyte[.gz],\n"
    "or a folder of JPEGs) with the given multiplier in every conv/FC layer, and reports top-1 and\n"
    "top-5 accuracy. A float model is quantized on the fly (min-max over the first 1000 training images).\n"
    "Unreadable images are reported, skipped and counted.\n"
    "\n"
    "  --mult SPEC          multiplier of every layer (default exact-s8)\n"
    "  --assign A.json      per-layer multipliers: {\"version\": 1, \"arrays\": {...}, \"layers\": {...}}\n"
    "  --split test|train   which split to evaluate (default test)\n"
    "  --limit N            the first N images only\n"
    "  --batch B            images per run (default 256)\n"
    "  --threads T          kernel threads (default: OpenMP's)\n"
    "  --loaders L          threads reading and preprocessing the next batch (default: one per CPU)\n"
    "  --preprocess imagenet|none  input preprocessing when the model records none (quantize records it)\n"
    "  --cache DIR          keep preprocessed images in DIR: later runs on the same data skip decoding\n"
    "  --checkpoint FILE    resumable run: killed and started again with the same arguments, it continues\n"
    "                       where it stopped (default with --cache: DIR/<run>.ckpt); removed on success\n"
    "  --calib-images N     on-the-fly quantization: calibration images (default 1000)\n"
    "  --json OUT           results and provenance as JSON ('-' = stdout)\n"
    "  --save-logits OUT.npy  float32 logits [images x classes] in dataset order\n";

typedef struct eval_opts {
    const char *model, *data, *mult, *assign, *split, *json, *logits, *preprocess, *cache, *checkpoint;
    int64_t limit, batch, threads, calib, loaders;
} eval_opts;

typedef struct eval_mults {
    size_t n;                 /* distinct multipliers */
    ax_mult **owned;
    const ax_mult **layer;    /* one per layer */
    char **array_of_layer;    /* --assign: the array name per layer */
} eval_mults;

static int need_arg(int i, int argc, const char *opt)
{
    if (i + 1 >= argc) return cli_fail(AX_EXIT_USAGE, "eval: %s needs a value", opt);
    return 0;
}

static int parse_num(const char *opt, const char *s, int64_t min, int64_t *out)
{
    if (!cli_parse_i64(opt, s, out)) return AX_EXIT_USAGE;
    if (*out < min) return cli_fail(AX_EXIT_USAGE, "eval: %s must be >= %lld", opt, (long long)min);
    return 0;
}

static int parse_args(int argc, char **argv, eval_opts *o)
{
    *o = (eval_opts){.split = "test", .limit = 0, .batch = 256, .threads = 0, .calib = AX_NN_DEFAULT_CALIB_IMAGES};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **str = !strcmp(a, "--model") ? &o->model : !strcmp(a, "--data") ? &o->data
                           : !strcmp(a, "--mult") ? &o->mult : !strcmp(a, "--assign") ? &o->assign
                           : !strcmp(a, "--split") ? &o->split : !strcmp(a, "--json") ? &o->json
                           : !strcmp(a, "--save-logits") ? &o->logits : !strcmp(a, "--preprocess") ? &o->preprocess
                           : !strcmp(a, "--cache") ? &o->cache : !strcmp(a, "--checkpoint") ? &o->checkpoint : NULL;
        int64_t *num = !strcmp(a, "--limit") ? &o->limit : !strcmp(a, "--batch") ? &o->batch
                       : !strcmp(a, "--threads") ? &o->threads : !strcmp(a, "--calib-images") ? &o->calib
                       : !strcmp(a, "--loaders") ? &o->loaders : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(eval_usage, stdout);
            return -1;
        }
        if (!str && !num) return cli_fail(AX_EXIT_USAGE, "eval: unknown option '%s' (autoapprox eval --help)", a);
        if (need_arg(i, argc, a)) return AX_EXIT_USAGE;
        if (str) *str = argv[++i];
        else if (parse_num(a, argv[++i], num == &o->threads || num == &o->loaders ? 0 : 1, num)) return AX_EXIT_USAGE;
    }
    if (!o->model || !o->data) return cli_fail(AX_EXIT_USAGE, "eval: --model and --data are required");
    if (o->mult && o->assign) return cli_fail(AX_EXIT_USAGE, "eval: --mult and --assign exclude each other");
    if (strcmp(o->split, "test") && strcmp(o->split, "train"))
        return cli_fail(AX_EXIT_USAGE, "eval: --split '%s': expected test or train", o->split);
    ax_preprocess_spec pp;
    if (o->preprocess && ax_preprocess_parse(o->preprocess, &pp) != 0)
        return cli_fail(AX_EXIT_USAGE, "eval: --preprocess '%s': expected imagenet or none", o->preprocess);
    return 0;
}

/* ---- multipliers ---- */
static void mults_free(eval_mults *em, size_t layers)
{
    for (size_t i = 0; i < em->n; i++) ax_mult_free(em->owned[i]);
    for (size_t i = 0; em->array_of_layer && i < layers; i++) free(em->array_of_layer[i]);
    free(em->owned), free(em->layer), free(em->array_of_layer);
}

static int mults_one(const char *spec, size_t layers, eval_mults *em)
{
    ax_error err;
    em->owned = calloc(1, sizeof *em->owned);
    em->layer = calloc(layers, sizeof *em->layer);
    if (!em->owned || !em->layer) return cli_fail(AX_EXIT_FAIL, "eval: out of memory");
    if (ax_mult_resolve(spec, &em->owned[0], &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    em->n = 1;
    for (size_t i = 0; i < layers; i++) em->layer[i] = em->owned[0];
    return 0;
}

static int assign_arrays(const char *path, json_object *arrays, eval_mults *em, const char ***names)
{
    size_t n = (size_t)json_object_object_length(arrays), i = 0;
    em->owned = calloc(n ? n : 1, sizeof *em->owned);
    *names = calloc(n ? n : 1, sizeof **names);
    if (!em->owned || !*names) return cli_fail(AX_EXIT_FAIL, "eval: out of memory");
    json_object_object_foreach(arrays, key, val) {
        if (!json_object_is_type(val, json_type_string))
            return cli_fail(AX_EXIT_FAIL, "%s: arrays.%s must be a multiplier SPEC string", path, key);
        ax_error err;
        if (ax_mult_resolve(json_object_get_string(val), &em->owned[i], &err) != 0)
            return cli_fail(AX_EXIT_FAIL, "%s: array '%s': %s", path, key, err.msg);
        (*names)[i++] = key;
        em->n = i;
    }
    return 0;
}

static int assign_layers(const char *path, json_object *layers, const ax_nn_model *m, eval_mults *em,
                         const char **names)
{
    size_t L = ax_nn_layer_count(m);
    em->layer = calloc(L, sizeof *em->layer);
    em->array_of_layer = calloc(L, sizeof *em->array_of_layer);
    if (!em->layer || !em->array_of_layer) return cli_fail(AX_EXIT_FAIL, "eval: out of memory");
    json_object_object_foreach(layers, key, val) {
        int li = ax_nn_layer_find(m, key);
        if (li < 0) {
            ax_nn_layer_info info;
            ax_nn_layer_get(m, 0, &info);
            return cli_fail(AX_EXIT_FAIL, "%s: layer '%s' is not a conv/FC layer of the model (its layers are named "
                            "like '%s'; see eval --json)", path, key, info.name);
        }
        const char *arr = json_object_get_string(val);
        size_t a = 0;
        while (a < em->n && (!arr || strcmp(names[a], arr))) a++;
        if (a == em->n) return cli_fail(AX_EXIT_FAIL, "%s: layer '%s' names array '%s', not in \"arrays\"", path, key,
                                        arr ? arr : "?");
        em->layer[li] = em->owned[a];
        em->array_of_layer[li] = strdup(arr);
    }
    for (size_t i = 0; i < L; i++) {
        ax_nn_layer_info info;
        ax_nn_layer_get(m, i, &info);
        if (!em->layer[i]) return cli_fail(AX_EXIT_FAIL, "%s: layer '%s' has no array (every conv/FC layer must appear)",
                                           path, info.name);
    }
    return 0;
}

static int mults_assign(const char *path, const ax_nn_model *m, eval_mults *em)
{
    json_object *root = json_object_from_file(path), *ver, *arrays, *layers, *sha;
    if (!root) return cli_fail(AX_EXIT_FAIL, "%s: cannot read or not JSON", path);
    int rc = AX_EXIT_FAIL;
    const char **names = NULL;
    if (!json_object_object_get_ex(root, "version", &ver) || json_object_get_int(ver) != 1)
        cli_fail(rc, "%s: \"version\": 1 expected", path);
    else if (!json_object_object_get_ex(root, "arrays", &arrays) || !json_object_is_type(arrays, json_type_object))
        cli_fail(rc, "%s: \"arrays\" object missing", path);
    else if (!json_object_object_get_ex(root, "layers", &layers) || !json_object_is_type(layers, json_type_object))
        cli_fail(rc, "%s: \"layers\" object missing", path);
    else if (assign_arrays(path, arrays, em, &names) == 0 && assign_layers(path, layers, m, em, names) == 0)
        rc = 0;
    if (rc == 0 && json_object_object_get_ex(root, "model_sha256", &sha) &&
        strcmp(json_object_get_string(sha), ax_nn_sha256(m)))
        cli_warn("%s: model_sha256 differs from the model's (assignment made for another model?)", path);
    free(names);
    json_object_put(root);
    return rc;
}

/* ---- data and preprocessing ---- */
typedef struct eval_data {
    ax_source *src;
    ax_preprocess_spec pp;
    const char *pp_from;  /* "model", "--preprocess", "default" */
} eval_data;

static bool same_pp(const ax_preprocess_spec *a, const ax_preprocess_spec *b)
{
    return !memcmp(a, b, sizeof *a);
}

/* The model's recorded preprocessing, else --preprocess, else none (IDX)
 * or imagenet (photographs), said on stderr. */
static int open_data(const eval_opts *o, const ax_nn_model *m, const char *split, eval_data *d)
{
    ax_preprocess_spec flag;
    bool meta = ax_eval_preprocess_from_model(m, &d->pp);
    d->pp_from = meta ? "model" : "default";
    if (o->preprocess) {
        ax_preprocess_parse(o->preprocess, &flag);
        if (meta && !same_pp(&flag, &d->pp))
            cli_warn("--preprocess %s overrides the preprocessing %s records", o->preprocess, o->model);
        d->pp = flag, d->pp_from = "--preprocess";
    }
    ax_source_options so;
    ax_source_options_init(&so);
    so.split = split, so.pp = d->pp;
    ax_error err;
    if (ax_source_open(o->data, &so, &d->src, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (!strcmp(d->pp_from, "default") && strcmp(ax_source_kind(d->src), "idx")) {
        cli_warn("%s records no preprocessing: using --preprocess imagenet (say --preprocess none otherwise)", o->model);
        ax_source_close(d->src);
        d->src = NULL;
        ax_preprocess_imagenet(&so.pp);
        d->pp = so.pp;
        if (ax_source_open(o->data, &so, &d->src, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    return 0;
}

/* ---- quantization on the fly ---- */
static int quantize_on_the_fly(ax_nn_model *m, const eval_opts *o, const eval_mults *em, const eval_data *d)
{
    ax_nn_quant_options q;
    ax_nn_quant_options_init(&q);
    q.act = em->layer[0]->act, q.wgt = em->layer[0]->wgt;
    for (size_t i = 0; i < em->n; i++) {
        if (em->owned[i]->act != q.act) q.act = AX_S8;
        if (em->owned[i]->wgt != q.wgt) q.wgt = AX_S8;
    }
    eval_data cal = {0};
    ax_source_options so;
    ax_source_options_init(&so);
    so.split = "train", so.pp = d->pp;
    ax_error err, note;
    if (ax_source_open(o->data, &so, &cal.src, &err) != 0)
        return cli_fail(AX_EXIT_FAIL, "%s is a float model and calibration needs the training split: %s "
                        "(or quantize it first: autoapprox quantize --calib)", o->model, err.msg);
    size_t h, w, c, n = (size_t)o->calib, got = 0, skipped = 0;
    ax_source_shape(cal.src, &h, &w, &c);
    if (n > ax_source_count(cal.src)) n = ax_source_count(cal.src);
    float *x = malloc(n * h * w * c * sizeof *x);
    int rc = x ? ax_eval_load_items(cal.src, &d->pp, n, x, &got, &skipped, &note, &err) : -1;
    if (!x) ax_strlcpy(err.msg, "calibration: out of memory", sizeof err.msg);
    if (rc == 0 && skipped) cli_warn("calibration: %zu unreadable images passed over (first: %s)", skipped, note.msg);
    if (rc == 0)
        fprintf(stderr, "autoapprox: %s is a float model: quantizing it on the fly (minmax over the first %zu training "
                "images, %s activations, per-channel %s weights)\n", o->model, got, ax_operand_name(q.act),
                ax_operand_name(q.wgt));
    if (rc == 0) rc = ax_nn_quantize(m, &q, got, x, &err);
    if (rc == 0) rc = ax_nn_set_meta(m, "autoapprox.calibration.data", o->data, &err);
    if (rc == 0) rc = ax_eval_preprocess_record(m, &d->pp, &err);
    free(x);
    ax_source_close(cal.src);
    return rc == 0 ? 0 : cli_fail(AX_EXIT_FAIL, "%s", err.msg);
}

/* ---- the run ---- */
/* NumPy .npy v1.0, little-endian float32 [rows x cols]. */
static int save_npy(const char *path, const float *v, size_t rows, size_t cols)
{
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    size_t hl = 10 + (size_t)n + 1, pad = (64 - hl % 64) % 64, len = hl + pad + rows * cols * 4;
    uint8_t *b = malloc(len);
    if (!b) return cli_fail(AX_EXIT_FAIL, "%s: out of memory", path);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)((hl + pad - 10) & 0xff), b[9] = (uint8_t)((hl + pad - 10) >> 8);
    memcpy(b + 10, hdr, (size_t)n);
    memset(b + 10 + n, ' ', pad);
    b[hl + pad - 1] = '\n';
    memcpy(b + hl + pad, v, rows * cols * 4);
    ax_error err;
    int rc = ax_write_file_atomic(path, b, len, &err);
    free(b);
    return rc == 0 ? 0 : cli_fail(AX_EXIT_FAIL, "%s", err.msg);
}

static void on_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "autoapprox: %s\n", line);
}

static void on_progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    int w = 40, f = (int)(w * done / (total ? total : 1));
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu", f, "========================================", w - f, "", done, total);
    if (done == total) fputc('\n', stderr);
}

static double rate(size_t n, double s)
{
    return s > 0 ? (double)n / s : 0.0;
}

static double decode_rate(const ax_eval_result *r)
{
    return r->load_seconds > 0 ? (double)r->loaded * (double)r->loaders / r->load_seconds : 0.0;
}

static void print_text(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em, const eval_opts *o,
                       const ax_eval_result *r)
{
    double n = r->images ? (double)r->images : 1.0;
    printf("images      %zu  (skipped %zu)\n", r->images, r->n_skipped);
    printf("top-1       %.4f  (%zu)\n", (double)r->top1 / n, r->top1);
    printf("top-5       %.4f  (%zu)\n", (double)r->top5 / n, r->top5);
    for (size_t i = 0; i < r->n_skipped; i++)
        printf("skipped     %s\n", r->skipped[i].why); /* why names the file */
    printf("speed       %.1f images/s  (%.2f s)\n", rate(r->images, r->seconds), r->seconds);
    printf("pipeline    decode %.1f images/s (%zu loaders), compute %.1f images/s, compute waited %.2f s\n",
           decode_rate(r), r->loaders, rate(r->computed, r->compute_seconds),
           r->wait_seconds);
    if (o->cache) printf("cache       %zu hits, %zu decoded  (%s)\n", r->cache_hits, r->decoded, o->cache);
    printf("layers      %-28s %12s  %-16s %s\n", "name", "MACs/image", "multiplier", "kernel");
    for (size_t i = 0; i < ax_nn_layer_count(m); i++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, i, &li);
        printf("            %-28s %12zu  %-16s %s\n", li.name, li.macs, em->layer[i]->name, ax_nn_runtime_kernel(rt, i));
    }
}

static json_object *calib_json(const ax_nn_model *m)
{
    static const char *const keys[] = {"autoapprox.calibration.method", "autoapprox.calibration.images",
                                       "autoapprox.calibration.data", "autoapprox.quant.act",
                                       "autoapprox.quant.weights"};
    json_object *c = json_object_new_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = ax_nn_meta(m, keys[i]);
        if (v) json_object_object_add(c, strrchr(keys[i], '.') + 1, json_object_new_string(v));
    }
    return c;
}

static json_object *floats3(const float v[3])
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < 3; i++) json_object_array_add(a, json_object_new_double((double)v[i]));
    return a;
}

static json_object *preprocess_json(const eval_data *d)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "from", json_object_new_string(d->pp_from));
    json_object_object_add(p, "resize", json_object_new_int((int)d->pp.resize));
    json_object_object_add(p, "crop", json_object_new_int((int)d->pp.crop));
    json_object_object_add(p, "divisor", json_object_new_double((double)d->pp.divisor));
    json_object_object_add(p, "mean", floats3(d->pp.mean));
    json_object_object_add(p, "std", floats3(d->pp.std));
    return p;
}

static json_object *skipped_json(const ax_eval_result *r)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < r->n_skipped; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "index", json_object_new_int64((int64_t)r->skipped[i].item));
        json_object_object_add(s, "name", json_object_new_string(r->skipped[i].name));
        json_object_object_add(s, "error", json_object_new_string(r->skipped[i].why));
        json_object_array_add(a, s);
    }
    return a;
}

/* Everything here depends on the machine and on how the run went. */
static json_object *pipeline_json(const ax_eval_result *r)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "loaders", json_object_new_int64((int64_t)r->loaders));
    json_object_object_add(p, "load_seconds", json_object_new_double(r->load_seconds));
    json_object_object_add(p, "compute_seconds", json_object_new_double(r->compute_seconds));
    json_object_object_add(p, "wait_seconds", json_object_new_double(r->wait_seconds));
    json_object_object_add(p, "decoded", json_object_new_int64((int64_t)r->decoded));
    json_object_object_add(p, "cache_hits", json_object_new_int64((int64_t)r->cache_hits));
    json_object_object_add(p, "resumed", json_object_new_int64((int64_t)r->resumed));
    return p;
}

static json_object *layers_json(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em)
{
    json_object *layers = json_object_new_array();
    for (size_t i = 0; i < ax_nn_layer_count(m); i++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, i, &li);
        json_object *l = json_object_new_object();
        json_object_object_add(l, "name", json_object_new_string(li.name));
        json_object_object_add(l, "op", json_object_new_string(li.op));
        json_object_object_add(l, "macs", json_object_new_int64((int64_t)li.macs));
        json_object_object_add(l, "multiplier", json_object_new_string(em->layer[i]->name));
        if (em->array_of_layer) json_object_object_add(l, "array", json_object_new_string(em->array_of_layer[i]));
        json_object_object_add(l, "kernel", json_object_new_string(ax_nn_runtime_kernel(rt, i)));
        json_object_array_add(layers, l);
    }
    return layers;
}

static json_object *provenance_json(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em,
                                    const eval_data *d)
{
    json_object *prov = cli_provenance("eval");
    for (size_t i = 0; i < em->n; i++) cli_provenance_add_mult(prov, em->owned[i]);
    json_object_object_add(prov, "model_sha256", json_object_new_string(ax_nn_sha256(m)));
    json_object_object_add(prov, "calibration", calib_json(m));
    json_object_object_add(prov, "preprocess", preprocess_json(d));
    json_object_object_add(prov, "data_kind", json_object_new_string(ax_source_kind(d->src)));
    json_object_object_add(prov, "data_key", json_object_new_string(ax_source_key(d->src)));
    json_object_object_add(prov, "isa", json_object_new_string(ax_nn_runtime_isa(rt)));
    json_object *kernels = json_object_new_array();
    for (size_t i = 0; i < ax_nn_layer_count(m); i++) {
        const char *k = ax_nn_runtime_kernel(rt, i);
        bool seen = false;
        for (size_t j = 0; j < i; j++) seen |= !strcmp(k, ax_nn_runtime_kernel(rt, j));
        if (!seen) json_object_array_add(kernels, json_object_new_string(k));
    }
    json_object_object_add(prov, "kernels", kernels);
    return prov;
}

static json_object *result_json(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em,
                                const eval_opts *o, const eval_data *d, const ax_eval_result *r, bool on_the_fly)
{
    json_object *j = json_object_new_object();
    double n = r->images ? (double)r->images : 1.0;
    json_object_object_add(j, "model", json_object_new_string(o->model));
    json_object_object_add(j, "data", json_object_new_string(o->data));
    json_object_object_add(j, "split", json_object_new_string(o->split));
    json_object_object_add(j, "images", json_object_new_int64((int64_t)r->images));
    json_object_object_add(j, "top1", json_object_new_double((double)r->top1 / n));
    json_object_object_add(j, "top5", json_object_new_double((double)r->top5 / n));
    json_object_object_add(j, "skipped", json_object_new_int64((int64_t)r->n_skipped));
    json_object_object_add(j, "skipped_items", skipped_json(r));
    json_object_object_add(j, "seconds", json_object_new_double(r->seconds));
    json_object_object_add(j, "images_per_second", json_object_new_double(rate(r->images, r->seconds)));
    json_object_object_add(j, "decode_images_per_second", json_object_new_double(decode_rate(r)));
    json_object_object_add(j, "compute_images_per_second", json_object_new_double(rate(r->computed, r->compute_seconds)));
    json_object_object_add(j, "pipeline", pipeline_json(r));
    json_object_object_add(j, "quantized_on_the_fly", json_object_new_boolean(on_the_fly));
    json_object_object_add(j, "layers", layers_json(m, rt, em));
    json_object_object_add(j, "provenance", provenance_json(m, rt, em, d));
    return j;
}

static int report(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em, const eval_opts *o,
                  const eval_data *d, const ax_eval_result *r, bool on_the_fly)
{
    if (!o->json || strcmp(o->json, "-")) print_text(m, rt, em, o, r);
    if (!o->json) return 0;
    json_object *j = result_json(m, rt, em, o, d, r, on_the_fly);
    int rc = cli_write_json(o->json, j) == 0 ? 0 : AX_EXIT_FAIL;
    json_object_put(j);
    return rc;
}

static int run(const eval_opts *o, const ax_nn_model *m, ax_nn_runtime *rt, const eval_mults *em,
               const eval_data *d, ax_eval_result *r)
{
    ax_eval_options eo;
    ax_eval_options_init(&eo);
    char id[65], ckpt[4200];
    ax_eval_identity(m, em->layer, id);
    eo.pp = d->pp, eo.batch = (size_t)o->batch, eo.threads = (int)o->threads, eo.loaders = (int)o->loaders;
    eo.keep_logits = o->logits != NULL, eo.cache_dir = o->cache, eo.identity = id;
    eo.warn = on_line, eo.progress = isatty(2) ? on_progress : NULL;
    eo.checkpoint = o->checkpoint;
    if (!o->checkpoint && o->cache) {
        char run_key[65], buf[512];
        int n = snprintf(buf, sizeof buf, "%s|%s|%lld|%d", id, ax_source_key(d->src), (long long)o->limit,
                         o->logits != NULL);
        ax_sha256_hex(buf, (size_t)n, run_key);
        snprintf(ckpt, sizeof ckpt, "%s/%.16s.ckpt", o->cache, run_key);
        struct stat st;
        if ((mkdir(o->cache, 0777) != 0 && errno != EEXIST) || stat(o->cache, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_fail(AX_EXIT_FAIL, "--cache %s: not a folder, and cannot be made one", o->cache);
        eo.checkpoint = ckpt;
    }
    size_t count = ax_source_count(d->src);
    if (o->limit && (size_t)o->limit < count) count = (size_t)o->limit;
    ax_error err;
    if (ax_eval_run(rt, d->src, 0, count, &eo, r, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    for (size_t i = 0; i < r->n_skipped; i++)
        cli_warn("skipped %s", r->skipped[i].why);
    return 0;
}

static int evaluate(const eval_opts *o, ax_nn_model *m, eval_mults *em)
{
    eval_data d = {0};
    int rc = o->assign ? mults_assign(o->assign, m, em) : mults_one(o->mult ? o->mult : "exact-s8", ax_nn_layer_count(m), em);
    bool fly = !ax_nn_is_quantized(m);
    if (rc == 0) rc = open_data(o, m, o->split, &d);
    if (rc == 0 && fly) rc = quantize_on_the_fly(m, o, em, &d);
    ax_nn_runtime *rt = NULL;
    ax_error err;
    if (rc == 0 && ax_nn_runtime_create(m, em->layer, &rt, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s: %s", o->model, err.msg);
    for (size_t i = 0; rc == 0 && i < ax_nn_runtime_warning_count(rt); i++) cli_warn("%s", ax_nn_runtime_warning(rt, i));
    ax_eval_result r = {0};
    if (rc == 0) rc = run(o, m, rt, em, &d, &r);
    if (rc == 0 && o->logits) rc = save_npy(o->logits, r.logits, r.count, r.classes);
    if (rc == 0) rc = report(m, rt, em, o, &d, &r, fly);
    ax_eval_result_free(&r);
    ax_nn_runtime_free(rt);
    ax_source_close(d.src);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? AX_EXIT_OK : rc;
    ax_error err;
    ax_nn_model *m;
    if (ax_nn_load_onnx(o.model, &m, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    eval_mults em = {0};
    rc = evaluate(&o, m, &em);
    mults_free(&em, ax_nn_layer_count(m));
    ax_nn_free(m);
    return rc;
}
