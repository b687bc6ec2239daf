/* cmd_eval.c - `autoapprox eval`: accuracy of a quantized network on an IDX
 * dataset with one multiplier per conv/FC layer (--mult for all, --assign
 * for a router's assignment), top-1/top-5, speed, kernels, JSON provenance. */
#include "cli.h"

#include "autoapprox/data.h"
#include "autoapprox/gemm.h"
#include "autoapprox/nn.h"
#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char eval_usage[] =
    "usage: autoapprox eval --model M.onnx --data DIR [options]\n"
    "\n"
    "Runs a quantized network over an IDX dataset ({t10k,train}-{images-idx3,labels-idx1}-ubyte[.gz])\n"
    "with the given multiplier in every conv/FC layer, and reports top-1 and top-5 accuracy.\n"
    "A float model is quantized on the fly (min-max over the first 1000 training images).\n"
    "\n"
    "  --mult SPEC          multiplier of every layer (default exact-s8)\n"
    "  --assign A.json      per-layer multipliers: {\"version\": 1, \"arrays\": {...}, \"layers\": {...}}\n"
    "  --split test|train   which split to evaluate (default test)\n"
    "  --limit N            the first N images only\n"
    "  --batch B            images per run (default 256)\n"
    "  --threads T          kernel threads (default: OpenMP's)\n"
    "  --calib-images N     on-the-fly quantization: calibration images (default 1000)\n"
    "  --json OUT           results and provenance as JSON ('-' = stdout)\n"
    "  --save-logits OUT.npy  float32 logits [images x classes] in dataset order\n";

typedef struct eval_opts {
    const char *model, *data, *mult, *assign, *split, *json, *logits;
    int64_t limit, batch, threads, calib;
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
                           : !strcmp(a, "--save-logits") ? &o->logits : NULL;
        int64_t *num = !strcmp(a, "--limit") ? &o->limit : !strcmp(a, "--batch") ? &o->batch
                       : !strcmp(a, "--threads") ? &o->threads : !strcmp(a, "--calib-images") ? &o->calib : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(eval_usage, stdout);
            return -1;
        }
        if (!str && !num) return cli_fail(AX_EXIT_USAGE, "eval: unknown option '%s' (autoapprox eval --help)", a);
        if (need_arg(i, argc, a)) return AX_EXIT_USAGE;
        if (str) *str = argv[++i];
        else if (parse_num(a, argv[++i], num == &o->threads ? 0 : 1, num)) return AX_EXIT_USAGE;
    }
    if (!o->model || !o->data) return cli_fail(AX_EXIT_USAGE, "eval: --model and --data are required");
    if (o->mult && o->assign) return cli_fail(AX_EXIT_USAGE, "eval: --mult and --assign exclude each other");
    if (strcmp(o->split, "test") && strcmp(o->split, "train"))
        return cli_fail(AX_EXIT_USAGE, "eval: --split '%s': expected test or train", o->split);
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

/* ---- quantization on the fly ---- */
static int quantize_on_the_fly(ax_nn_model *m, const eval_opts *o, const eval_mults *em)
{
    ax_nn_quant_options q;
    ax_nn_quant_options_init(&q);
    q.act = em->layer[0]->act, q.wgt = em->layer[0]->wgt;
    for (size_t i = 0; i < em->n; i++) {
        if (em->owned[i]->act != q.act) q.act = AX_S8;
        if (em->owned[i]->wgt != q.wgt) q.wgt = AX_S8;
    }
    ax_dataset cal;
    ax_error err;
    if (ax_dataset_load_idx(o->data, "train", &cal, &err) != 0)
        return cli_fail(AX_EXIT_FAIL, "%s is a float model and calibration needs the training split: %s "
                        "(or quantize it first: autoapprox quantize)", o->model, err.msg);
    size_t n = (size_t)o->calib < cal.count ? (size_t)o->calib : cal.count;
    fprintf(stderr, "autoapprox: %s is a float model: quantizing it on the fly (minmax over the first %zu training "
            "images, %s activations, per-channel %s weights)\n", o->model, n, ax_operand_name(q.act),
            ax_operand_name(q.wgt));
    int rc = ax_nn_quantize_pixels(m, &q, n, cal.images, &err);
    if (rc == 0) rc = ax_nn_set_meta(m, "autoapprox.calibration.data", cal.source, &err);
    ax_dataset_free(&cal);
    return rc == 0 ? 0 : cli_fail(AX_EXIT_FAIL, "%s", err.msg);
}

/* ---- the run ---- */
typedef struct eval_result {
    size_t images, top1, top5;
    double seconds;
    float *logits; /* images x classes when --save-logits */
} eval_result;

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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(size_t done, size_t total)
{
    int w = 40, f = (int)(w * done / (total ? total : 1));
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu", f, "========================================", w - f, "", done, total);
    if (done == total) fputc('\n', stderr);
}

static int run_eval(ax_nn_runtime *rt, const ax_nn_model *m, const ax_dataset *d, const eval_opts *o,
                    eval_result *r)
{
    size_t total = o->limit && (size_t)o->limit < d->count ? (size_t)o->limit : d->count;
    size_t isz = ax_dataset_image_size(d), nc = ax_nn_output_size(m), B = (size_t)o->batch;
    ax_nn_preprocess p;
    ax_nn_preprocess_get(m, &p);
    float *x = malloc(B * isz * sizeof *x), *y = malloc(B * nc * sizeof *y);
    bool tty = isatty(2);
    int rc = 0;
    *r = (eval_result){.images = total};
    if (o->logits) r->logits = malloc(total * nc * sizeof *r->logits);
    bool mem = x && y && (!o->logits || r->logits);
    double t0 = now();
    for (size_t i = 0; i < total && rc == 0 && mem; i += B) {
        size_t b = total - i < B ? total - i : B;
        ax_nn_preprocess_apply(&p, d->images + i * isz, b * isz, x);
        ax_error err;
        if (ax_nn_runtime_run(rt, b, x, y, (int)o->threads, &err) != 0) rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
        if (r->logits && rc == 0) memcpy(r->logits + i * nc, y, b * nc * sizeof *y);
        for (size_t j = 0; j < b && rc == 0; j++) {
            size_t rank = ax_nn_rank(y + j * nc, nc, d->labels[i + j]);
            r->top1 += rank == 0, r->top5 += rank < 5;
        }
        if (tty) progress(i + b, total);
    }
    r->seconds = now() - t0;
    if (!mem) rc = cli_fail(AX_EXIT_FAIL, "eval: out of memory for batch %zu", B);
    free(x), free(y);
    return rc;
}

static void print_text(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em, const eval_result *r)
{
    printf("images      %zu\n", r->images);
    printf("top-1       %.4f  (%zu)\n", (double)r->top1 / (double)r->images, r->top1);
    printf("top-5       %.4f  (%zu)\n", (double)r->top5 / (double)r->images, r->top5);
    printf("speed       %.1f images/s  (%.2f s)\n", (double)r->images / r->seconds, r->seconds);
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

static json_object *result_json(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em,
                                const eval_opts *o, const eval_result *r, bool on_the_fly)
{
    json_object *j = json_object_new_object(), *layers = json_object_new_array();
    json_object_object_add(j, "model", json_object_new_string(o->model));
    json_object_object_add(j, "data", json_object_new_string(o->data));
    json_object_object_add(j, "split", json_object_new_string(o->split));
    json_object_object_add(j, "images", json_object_new_int64((int64_t)r->images));
    json_object_object_add(j, "top1", json_object_new_double((double)r->top1 / (double)r->images));
    json_object_object_add(j, "top5", json_object_new_double((double)r->top5 / (double)r->images));
    json_object_object_add(j, "seconds", json_object_new_double(r->seconds));
    json_object_object_add(j, "images_per_second", json_object_new_double((double)r->images / r->seconds));
    json_object_object_add(j, "quantized_on_the_fly", json_object_new_boolean(on_the_fly));
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
    json_object_object_add(j, "layers", layers);
    json_object *prov = cli_provenance("eval");
    for (size_t i = 0; i < em->n; i++) cli_provenance_add_mult(prov, em->owned[i]);
    json_object_object_add(prov, "model_sha256", json_object_new_string(ax_nn_sha256(m)));
    json_object_object_add(prov, "calibration", calib_json(m));
    json_object_object_add(prov, "isa", json_object_new_string(ax_nn_runtime_isa(rt)));
    json_object *kernels = json_object_new_array();
    for (size_t i = 0; i < ax_nn_layer_count(m); i++) {
        const char *k = ax_nn_runtime_kernel(rt, i);
        bool seen = false;
        for (size_t j = 0; j < i; j++) seen |= !strcmp(k, ax_nn_runtime_kernel(rt, j));
        if (!seen) json_object_array_add(kernels, json_object_new_string(k));
    }
    json_object_object_add(prov, "kernels", kernels);
    json_object_object_add(j, "provenance", prov);
    return j;
}

static int report(const ax_nn_model *m, const ax_nn_runtime *rt, const eval_mults *em, const eval_opts *o,
                  const eval_result *r, bool on_the_fly)
{
    if (!o->json || strcmp(o->json, "-")) print_text(m, rt, em, r);
    if (!o->json) return 0;
    json_object *j = result_json(m, rt, em, o, r, on_the_fly);
    int rc = cli_write_json(o->json, j) == 0 ? 0 : AX_EXIT_FAIL;
    json_object_put(j);
    return rc;
}

static int evaluate(const eval_opts *o, ax_nn_model *m, const ax_dataset *d, eval_mults *em)
{
    size_t h, w, c;
    ax_nn_input_shape(m, &h, &w, &c);
    if (h != d->height || w != d->width || c != d->channels)
        return cli_fail(AX_EXIT_FAIL, "%s: images are %zux%zux%zu, the model %s expects %zux%zux%zu", d->source,
                        d->height, d->width, d->channels, o->model, h, w, c);
    int rc = o->assign ? mults_assign(o->assign, m, em) : mults_one(o->mult ? o->mult : "exact-s8", ax_nn_layer_count(m), em);
    bool fly = !ax_nn_is_quantized(m);
    if (rc == 0 && fly) rc = quantize_on_the_fly(m, o, em);
    if (rc != 0) return rc;
    ax_nn_runtime *rt;
    ax_error err;
    if (ax_nn_runtime_create(m, em->layer, &rt, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s: %s", o->model, err.msg);
    for (size_t i = 0; i < ax_nn_runtime_warning_count(rt); i++) cli_warn("%s", ax_nn_runtime_warning(rt, i));
    eval_result r;
    rc = run_eval(rt, m, d, o, &r);
    if (rc == 0 && o->logits) rc = save_npy(o->logits, r.logits, r.images, ax_nn_output_size(m));
    if (rc == 0) rc = report(m, rt, em, o, &r, fly);
    free(r.logits);
    ax_nn_runtime_free(rt);
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
    ax_dataset d;
    if (ax_dataset_load_idx(o.data, o.split, &d, &err) != 0) {
        ax_nn_free(m);
        return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    eval_mults em = {0};
    rc = evaluate(&o, m, &d, &em);
    mults_free(&em, ax_nn_layer_count(m));
    ax_dataset_free(&d);
    ax_nn_free(m);
    return rc;
}
