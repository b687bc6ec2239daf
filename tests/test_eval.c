/* test_eval.c - the evaluation pipeline (eval/): preprocessing recorded in a
 * model and read back, the float stage equal to the source's, unreadable
 * items skipped and reported (a feed that declares some items bad), the
 * preprocessed cache (hits skip decoding, stale or damaged caches are not
 * used), and checkpoints: a run interrupted (a failing source, or SIGKILL
 * of a real `autoapprox eval`) and started again ends with the results of
 * an uninterrupted run. Data: the shipped model on Fashion-MNIST. */
#include "autoapprox/eval.h"
#include "eval/eval_internal.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FASHION "/usr/share/datasets/fashion-mnist"

static void need_fashion(void)
{
    struct stat st;
    if (stat(FASHION, &st) != 0)
        cr_skip_test("%s absent: install the Debian package dataset-fashion-mnist (tools/setup.sh)", FASHION);
}

static char *model_path(void)
{
    const char *dir = getenv("AX_TEST_FIXTURES");
    cr_assert(dir != NULL, "AX_TEST_FIXTURES not set");
    char *p = malloc(strlen(dir) + 64);
    sprintf(p, "%s/../../models/fashion_cnn.onnx", dir);
    return p;
}

static ax_nn_model *load_model(const char *path)
{
    ax_nn_model *m;
    ax_error err;
    cr_assert_eq(ax_nn_load_onnx(path, &m, &err), 0, "%s", err.msg);
    return m;
}

/* ---- preprocessing ---- */
Test(eval, preprocess_parse_record_and_read_back)
{
    ax_preprocess_spec p, q;
    cr_assert_eq(ax_preprocess_parse("imagenet", &p), 0);
    cr_assert_eq(p.resize, 256); cr_assert_eq(p.crop, 224);
    cr_assert_float_eq(p.mean[2], 0.406f, 1e-7); cr_assert_float_eq(p.std[0], 0.229f, 1e-7);
    cr_assert_eq(ax_preprocess_parse("none", &q), 0);
    cr_assert_eq(q.resize, 0); cr_assert_eq(q.divisor, 255.0f);
    cr_assert_eq(ax_preprocess_parse("ImageNet", &q), -1);
    cr_assert_eq(ax_preprocess_parse("", &q), -1);

    const char *dir = getenv("AX_TEST_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/nn/ops_mix.onnx", dir);
    ax_nn_model *m = load_model(path);
    cr_assert_not(ax_eval_preprocess_from_model(m, &q), "ops_mix.onnx records no preprocessing");
    ax_error err;
    cr_assert_eq(ax_eval_preprocess_record(m, &p, &err), 0, "%s", err.msg);
    cr_assert(ax_eval_preprocess_from_model(m, &q));
    cr_assert_eq(memcmp(&p, &q, sizeof p), 0, "recorded and read back differ");
    ax_nn_free(m);

    char *shipped = model_path(); /* older keys: scale, one mean, one std */
    m = load_model(shipped);
    cr_assert(ax_eval_preprocess_from_model(m, &q));
    cr_assert_eq(q.divisor, 255.0f); cr_assert_eq(q.resize, 0); cr_assert_eq(q.crop, 0);
    cr_assert_eq(q.mean[0], 0.286f); cr_assert_eq(q.mean[2], 0.286f); cr_assert_eq(q.std[1], 0.353f);
    ax_nn_free(m), free(shipped);
}

Test(eval, preprocess_flag_is_checked)
{
    char *so, *se;
    const char *a[] = {"eval", "--model", "m.onnx", "--data", "d", "--preprocess", "vgg", NULL};
    cr_assert_eq(ax_test_cli(&so, &se, a), 2);
    cr_assert(strstr(se, "--preprocess 'vgg'") != NULL, "%s", se);
    free(so), free(se);
    const char *b[] = {"quantize", "--model", "m.onnx", "--calib", "d", "-o", "q.onnx", "--preprocess", "x", NULL};
    cr_assert_eq(ax_test_cli(&so, &se, b), 2);
    cr_assert(strstr(se, "--preprocess 'x'") != NULL, "%s", se);
    free(so), free(se);
}

static ax_source *open_fashion(const ax_preprocess_spec *pp, const char *split)
{
    ax_source_options so;
    ax_source_options_init(&so);
    so.pp = *pp, so.split = split;
    ax_source *s;
    ax_error err;
    cr_assert_eq(ax_source_open(FASHION, &so, &s, &err), 0, "%s", err.msg);
    return s;
}

Test(eval, float_stage_is_the_sources)
{
    need_fashion();
    char *mp = model_path();
    ax_nn_model *m = load_model(mp);
    ax_preprocess_spec pp;
    ax_eval_preprocess_from_model(m, &pp);
    ax_source *s = open_fashion(&pp, "test");
    uint8_t px[784];
    float a[784], b[784];
    ax_error err;
    for (size_t i = 0; i < 200; i++) {
        cr_assert_eq(ax_source_load_u8(s, i, px, &err), 0, "%s", err.msg);
        cr_assert_eq(ax_source_load(s, i, a, &err), 0, "%s", err.msg);
        ax_eval_float_stage(&pp, px, 784, 1, b);
        cr_assert_eq(memcmp(a, b, sizeof a), 0, "item %zu: eval's float stage differs from the source's", i);
    }
    ax_source_close(s), ax_nn_free(m), free(mp);
}

/* ---- the loop on a feed with unreadable items ---- */
typedef struct bad_feed {
    const ax_source *src;
    const size_t *bad;
    size_t n_bad;
    size_t fail_at;    /* a whole-source failure from this item on (SIZE_MAX: none) */
    int loads;         /* calls, to see that a cache hit does not decode */
} bad_feed;

static int bf_load(void *ctx, size_t i, uint8_t *out, ax_error *err)
{
    bad_feed *b = ctx;
    __atomic_add_fetch(&b->loads, 1, __ATOMIC_RELAXED);
    if (i >= b->fail_at) {
        snprintf(err->msg, sizeof err->msg, "disk gone at item %zu", i);
        return -1;
    }
    for (size_t k = 0; k < b->n_bad; k++)
        if (b->bad[k] == i) {
            snprintf(err->msg, sizeof err->msg, "item%zu.jpg: not a JPEG file", i);
            return AX_SOURCE_BAD_ITEM;
        }
    return ax_source_load_u8(b->src, i, out, err);
}

static size_t bf_label(void *ctx, size_t i) { return ax_source_label(((bad_feed *)ctx)->src, i); }
static const char *bf_name(void *ctx, size_t i) { return ax_source_item_name(((bad_feed *)ctx)->src, i); }

typedef struct rig {
    ax_nn_model *m;
    ax_mult *mult;
    const ax_mult **layers;
    ax_nn_runtime *rt;
    ax_source *src;
    ax_preprocess_spec pp;
    char id[65];
} rig;

static void rig_up(rig *g)
{
    char *mp = model_path();
    g->m = load_model(mp);
    free(mp);
    ax_eval_preprocess_from_model(g->m, &g->pp);
    g->src = open_fashion(&g->pp, "test");
    ax_error err;
    size_t got, skipped, n = 100;
    float *x = malloc(n * 784 * sizeof *x);
    cr_assert_eq(ax_eval_load_items(g->src, &g->pp, n, x, &got, &skipped, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(got, n);
    ax_nn_quant_options q;
    ax_nn_quant_options_init(&q);
    cr_assert_eq(ax_nn_quantize(g->m, &q, n, x, &err), 0, "%s", err.msg);
    free(x);
    cr_assert_eq(ax_mult_resolve("trunc-s8:k=4", &g->mult, &err), 0, "%s", err.msg);
    size_t L = ax_nn_layer_count(g->m);
    g->layers = malloc(L * sizeof *g->layers);
    for (size_t i = 0; i < L; i++) g->layers[i] = g->mult;
    cr_assert_eq(ax_nn_runtime_create(g->m, g->layers, &g->rt, &err), 0, "%s", err.msg);
    ax_eval_identity(g->m, g->layers, g->id);
}

static void rig_down(rig *g)
{
    ax_nn_runtime_free(g->rt), ax_source_close(g->src), ax_mult_free(g->mult), ax_nn_free(g->m);
    free(g->layers);
}

static axev_feed feed_of(bad_feed *b)
{
    size_t h, w, c;
    ax_source_shape(b->src, &h, &w, &c);
    return (axev_feed){bf_load, bf_label, bf_name, b, ax_source_count(b->src), h, w, c, ax_source_key(b->src)};
}

static void options(ax_eval_options *o, const rig *g, size_t batch, int loaders)
{
    ax_eval_options_init(o);
    o->pp = g->pp, o->batch = batch, o->threads = 1, o->loaders = loaders, o->keep_logits = true;
    o->identity = g->id;
}

/* Same per-item results: ranks, logits bit for bit (NaN rows alike), skips. */
static void assert_same(const ax_eval_result *a, const ax_eval_result *b)
{
    cr_assert_eq(a->count, b->count);
    cr_assert_eq(a->images, b->images); cr_assert_eq(a->top1, b->top1); cr_assert_eq(a->top5, b->top5);
    cr_assert_eq(memcmp(a->rank, b->rank, a->count * sizeof *a->rank), 0, "ranks differ");
    cr_assert_eq(memcmp(a->logits, b->logits, a->count * a->classes * sizeof(float)), 0, "logits differ");
    cr_assert_eq(a->n_skipped, b->n_skipped);
    for (size_t i = 0; i < a->n_skipped; i++) {
        cr_assert_eq(a->skipped[i].item, b->skipped[i].item);
        cr_assert_str_eq(a->skipped[i].why, b->skipped[i].why);
        cr_assert_str_eq(a->skipped[i].name, b->skipped[i].name);
    }
}

Test(eval, unreadable_items_are_skipped_and_counted, .timeout = 300)
{
    need_fashion();
    rig g;
    rig_up(&g);
    size_t bad[] = {3, 64, 65, 190}, N = 200;
    bad_feed clean = {g.src, NULL, 0, SIZE_MAX, 0}, dirty = {g.src, bad, 4, SIZE_MAX, 0};
    axev_feed fc = feed_of(&clean), fd = feed_of(&dirty);
    ax_eval_options o;
    ax_eval_result a, b;
    ax_error err;
    options(&o, &g, 32, 3);
    cr_assert_eq(axev_run(g.rt, &fc, 0, N, &o, &a, &err), 0, "%s", err.msg);
    options(&o, &g, 17, 2);
    cr_assert_eq(axev_run(g.rt, &fd, 0, N, &o, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n_skipped, 0); cr_assert_eq(a.images, N);
    cr_assert_eq(b.n_skipped, 4); cr_assert_eq(b.images, N - 4);
    size_t top1 = 0;
    for (size_t i = 0, k = 0; i < N; i++) {
        if (k < 4 && bad[k] == i) {
            cr_assert_eq(b.rank[i], AX_EVAL_SKIPPED);
            cr_assert(isnan(b.logits[i * 10]));
            cr_assert_eq(b.skipped[k].item, i);
            cr_assert(strstr(b.skipped[k].why, "not a JPEG") != NULL, "%s", b.skipped[k].why);
            cr_assert_str_eq(b.skipped[k].name, ax_source_item_name(g.src, i));
            k++;
            continue;
        }
        cr_assert_eq(a.rank[i], b.rank[i], "item %zu: a skipped neighbour changed its result", i);
        cr_assert_eq(memcmp(a.logits + i * 10, b.logits + i * 10, 40), 0, "item %zu", i);
        top1 += a.rank[i] == 0;
    }
    cr_assert_eq(b.top1, top1);
    ax_eval_result_free(&a), ax_eval_result_free(&b), rig_down(&g);
}

Test(eval, interrupted_run_resumes_to_identical_results, .timeout = 300)
{
    need_fashion();
    rig g;
    rig_up(&g);
    char *dir = ax_test_tmpdir(), *ck = ax_test_path(dir, "run.ckpt");
    size_t bad[] = {5, 40}, N = ax_test_reduced() ? 150 : 400;
    bad_feed whole = {g.src, bad, 2, SIZE_MAX, 0}, broken = {g.src, bad, 2, 100, 0};
    axev_feed fw = feed_of(&whole), fb = feed_of(&broken);
    ax_eval_options o;
    ax_eval_result ref, r;
    ax_error err;
    options(&o, &g, 16, 2);
    cr_assert_eq(axev_run(g.rt, &fw, 0, N, &o, &ref, &err), 0, "%s", err.msg);
    o.checkpoint = ck;
    cr_assert_eq(axev_run(g.rt, &fb, 0, N, &o, &r, &err), -1, "the source failed at item 100");
    cr_assert(strstr(err.msg, "disk gone") != NULL, "%s", err.msg);
    cr_assert_eq(access(ck, F_OK), 0, "a failed run keeps its checkpoint");
    options(&o, &g, 48, 1); /* another batch size: results do not depend on it */
    o.checkpoint = ck;
    cr_assert_eq(axev_run(g.rt, &fw, 0, N, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(r.resumed, 64, "resumed %zu", r.resumed);
    cr_assert_leq(r.resumed, 100);
    cr_assert_eq(r.computed, N - r.resumed, "restored items were computed again");
    assert_same(&ref, &r);
    cr_assert_neq(access(ck, F_OK), 0, "a completed run removes its checkpoint");
    ax_eval_result_free(&r);

    /* a checkpoint of another run (here: another range) is not used */
    o.checkpoint = ck;
    cr_assert_eq(axev_run(g.rt, &fb, 0, N, &o, &r, &err), -1);
    cr_assert_eq(axev_run(g.rt, &fw, 0, N - 1, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.resumed, 0, "a checkpoint for items 0..%zu was used for 0..%zu", N, N - 1);
    ax_eval_result_free(&r);
    /* a torn last record is cut off */
    cr_assert_eq(axev_run(g.rt, &fb, 0, N, &o, &r, &err), -1);
    struct stat st;
    cr_assert_eq(stat(ck, &st), 0);
    cr_assert_eq(truncate(ck, st.st_size - 7), 0);
    cr_assert_eq(axev_run(g.rt, &fw, 0, N, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_gt(r.resumed, 0);
    assert_same(&ref, &r);
    ax_eval_result_free(&r), ax_eval_result_free(&ref);
    free(ck), ax_test_rmtree(dir), free(dir), rig_down(&g);
}

static void keep_warning(void *ctx, const char *line)
{
    char *buf = ctx;
    size_t len = strlen(buf);
    snprintf(buf + len, 1024 - len, "%s\n", line);
}

Test(eval, cache_hits_skip_decoding_and_damage_is_rebuilt, .timeout = 300)
{
    need_fashion();
    rig g;
    rig_up(&g);
    char *dir = ax_test_tmpdir();
    size_t bad[] = {7}, N = 300;
    bad_feed f = {g.src, bad, 1, SIZE_MAX, 0};
    axev_feed fe = feed_of(&f);
    ax_eval_options o;
    ax_eval_result ref, r;
    ax_error err;
    options(&o, &g, 32, 2);
    cr_assert_eq(axev_run(g.rt, &fe, 0, N, &o, &ref, &err), 0, "%s", err.msg);
    o.cache_dir = dir;
    cr_assert_eq(axev_run(g.rt, &fe, 0, N, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.cache_hits, 0); cr_assert_eq(r.decoded, N);
    assert_same(&ref, &r);
    ax_eval_result_free(&r);
    f.loads = 0;
    cr_assert_eq(axev_run(g.rt, &fe, 0, N, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.cache_hits, N - 1, "hits %zu", r.cache_hits);
    cr_assert_eq(f.loads, 1, "only the unreadable item is read again (for its message), not %d", f.loads);
    assert_same(&ref, &r);
    ax_eval_result_free(&r);
    /* a shorter run uses the same chunk; a longer one rebuilds it */
    cr_assert_eq(axev_run(g.rt, &fe, 0, 100, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.cache_hits, 99);
    ax_eval_result_free(&r);
    /* damage: one flipped byte in the chunk file */
    char chunk[4200];
    snprintf(chunk, sizeof chunk, "%s/%s/chunk-000000.axc", dir, ax_source_key(g.src));
    int fd = open(chunk, O_RDWR);
    cr_assert(fd >= 0, "%s missing", chunk);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, 5000), 1);
    byte ^= 0x40;
    cr_assert_eq(pwrite(fd, &byte, 1, 5000), 1);
    close(fd);
    char warned[1024] = "";
    o.warn = keep_warning, o.ctx = warned;
    cr_assert_eq(axev_run(g.rt, &fe, 0, N, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.cache_hits, 0, "a damaged chunk was used");
    cr_assert(strstr(warned, "checksum mismatch") != NULL, "warnings: %s", warned);
    assert_same(&ref, &r);
    ax_eval_result_free(&r);
    cr_assert_eq(axev_run(g.rt, &fe, 0, N, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.cache_hits, N - 1, "the damaged chunk was rebuilt");
    ax_eval_result_free(&r), ax_eval_result_free(&ref);
    ax_test_rmtree(dir), free(dir), rig_down(&g);
}

/* ---- through the command line ---- */
static int cli(char **so, char **se, const char *const *argv)
{
    return ax_test_cli(so, se, argv);
}

/* A QDQ model quantized by `autoapprox quantize` in dir. */
static char *quantized(const char *dir, const char *const *extra)
{
    char *q = ax_test_path(dir, "q.onnx"), *model = model_path(), *so, *se;
    const char *argv[16] = {"quantize", "--model", model, "--calib", FASHION, "--calib-images", "200", "-o", q};
    size_t n = 9;
    for (; extra && *extra; extra++) argv[n++] = *extra;
    argv[n] = NULL;
    cr_assert_eq(cli(&so, &se, argv), 0, "%s", se);
    free(so), free(se), free(model);
    return q;
}

/* The lines of eval's text output that describe results, not timing. */
static char *figures(const char *out)
{
    char *r = calloc(1, strlen(out) + 1);
    for (const char *l = out; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) + 1 : strlen(l);
        if (!strncmp(l, "images ", 7) || !strncmp(l, "top-", 4) || !strncmp(l, "skipped ", 8)) strncat(r, l, n);
        l += n;
    }
    return r;
}

/* Results JSON without the fields that time the run. */
static const char *results_json(const char *path)
{
    json_object *j = json_object_from_file(path);
    cr_assert(j != NULL, "%s unreadable", path);
    static const char *const timing[] = {"seconds", "images_per_second", "decode_images_per_second",
                                         "compute_images_per_second", "pipeline"};
    for (size_t i = 0; i < sizeof timing / sizeof *timing; i++) json_object_object_del(j, timing[i]);
    static char buf[1 << 16];
    snprintf(buf, sizeof buf, "%s", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    return buf;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*len + 1);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

Test(eval, quantize_records_preprocessing_and_eval_uses_it, .timeout = 300)
{
    need_fashion();
    char *dir = ax_test_tmpdir(), *jp = ax_test_path(dir, "e.json"), *so, *se;
    const char *ex[] = {"--preprocess", "imagenet", NULL};
    char *q = quantized(dir, ex);
    ax_nn_model *m = load_model(q);
    ax_preprocess_spec p, want;
    ax_preprocess_imagenet(&want);
    cr_assert(ax_eval_preprocess_from_model(m, &p), "quantize recorded no preprocessing");
    cr_assert_eq(memcmp(&p, &want, sizeof p), 0, "recorded preprocessing is not --preprocess imagenet");
    ax_nn_free(m);
    const char *ev[] = {"eval", "--model", q, "--data", FASHION, "--limit", "50", "--json", jp, NULL};
    cr_assert_eq(cli(&so, &se, ev), 0, "%s", se);
    json_object *j = json_object_from_file(jp), *pp;
    pp = json_object_object_get(json_object_object_get(j, "provenance"), "preprocess");
    cr_assert_str_eq(json_object_get_string(json_object_object_get(pp, "from")), "model");
    cr_assert_eq(json_object_get_int(json_object_object_get(pp, "crop")), 224);
    json_object_put(j), free(so), free(se);
    const char *ov[] = {"eval", "--model", q, "--data", FASHION, "--limit", "50", "--preprocess", "none", NULL};
    cr_assert_eq(cli(&so, &se, ov), 0, "%s", se);
    cr_assert(strstr(se, "overrides") != NULL, "%s", se);
    free(so), free(se), free(q), free(jp);
    ax_test_rmtree(dir), free(dir);
}

/* A private copy of the test split, so its listing can change. */
static char *copy_fashion(const char *dir)
{
    char *d = ax_test_path(dir, "fm");
    cr_assert_eq(mkdir(d, 0777), 0);
    const char *names[] = {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 2; i++) {
        char src[512], *dst = ax_test_path(d, names[i]);
        snprintf(src, sizeof src, "%s/%s", FASHION, names[i]);
        size_t len;
        char *b = slurp(src, &len);
        cr_assert_eq(ax_test_write(dst, b, len), 0);
        free(b), free(dst);
    }
    return d;
}

static char *run_eval(const char *const *argv, int want)
{
    char *so, *se;
    int rc = cli(&so, &se, argv);
    cr_assert_eq(rc, want, "eval exit %d: %s", rc, se);
    free(se);
    return so;
}

Test(eval, cli_cache_hits_and_stale_caches, .timeout = 300)
{
    need_fashion();
    char *dir = ax_test_tmpdir(), *q = quantized(dir, NULL), *data = copy_fashion(dir);
    char *cache = ax_test_path(dir, "cache"), *l1 = ax_test_path(dir, "l1.npy"), *l2 = ax_test_path(dir, "l2.npy");
    const char *lim = ax_test_reduced() ? "300" : "700";
    char miss[64], hit[64];
    snprintf(miss, sizeof miss, "cache       0 hits, %s decoded", lim);
    snprintf(hit, sizeof hit, "cache       %s hits, 0 decoded", lim);
    const char *a1[] = {"eval", "--model", q, "--data", data, "--limit", lim, "--cache", cache, "--save-logits", l1, NULL};
    const char *a2[] = {"eval", "--model", q, "--data", data, "--limit", lim, "--cache", cache, "--save-logits", l2, NULL};
    char *o1 = run_eval(a1, 0), *o2 = run_eval(a2, 0);
    cr_assert(strstr(o1, miss) != NULL, "%s", o1);
    cr_assert(strstr(o2, hit) != NULL, "%s", o2);
    char *f1 = figures(o1), *f2 = figures(o2);
    cr_assert_str_eq(f1, f2);
    size_t n1, n2;
    char *b1 = slurp(l1, &n1), *b2 = slurp(l2, &n2);
    cr_assert(n1 == n2 && !memcmp(b1, b2, n1), "logits from the cache differ");
    free(o1), free(o2), free(f2), free(b1), free(b2);
    /* other preprocessing: another key, never this cache */
    const char *a3[] = {"eval", "--model", q, "--data", data, "--limit", lim, "--cache", cache, "--preprocess", "none", NULL};
    char *o3 = run_eval(a3, 0);
    cr_assert(strstr(o3, "cache       0 hits") != NULL, "%s", o3);
    free(o3);
    /* the listing changed (the images file was rewritten): not this cache either */
    char *img = ax_test_path(data, "t10k-images-idx3-ubyte.gz");
    struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    cr_assert_eq(utimensat(AT_FDCWD, img, ts, 0), 0);
    char *o4 = run_eval(a1, 0);
    cr_assert(strstr(o4, miss) != NULL, "%s", o4);
    char *f4 = figures(o4);
    cr_assert_str_eq(f1, f4);
    free(o4), free(f4), free(f1), free(img);
    free(q), free(data), free(cache), free(l1), free(l2);
    ax_test_rmtree(dir), free(dir);
}

/* Starts the CLI; returns its pid (output to /dev/null). */
static pid_t spawn(const char *const *argv)
{
    size_t n = 0;
    while (argv[n]) n++;
    char **args = calloc(n + 2, sizeof *args);
    args[0] = getenv("AX_CLI");
    for (size_t i = 0; i < n; i++) args[i + 1] = (char *)argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1), dup2(dn, 2);
        execv(args[0], args);
        _exit(127);
    }
    free(args);
    return pid;
}

Test(eval, cli_killed_run_resumes_with_identical_results, .timeout = 600)
{
    need_fashion();
    char *dir = ax_test_tmpdir(), *q = quantized(dir, NULL), *ck = ax_test_path(dir, "run.ckpt");
    char *j1 = ax_test_path(dir, "a.json"), *j2 = ax_test_path(dir, "b.json");
    char *l1 = ax_test_path(dir, "a.npy"), *l2 = ax_test_path(dir, "b.npy");
    const char *limit = ax_test_reduced() ? "1500" : "10000";
    const char *ref[] = {"eval", "--model", q, "--data", FASHION, "--limit", limit, "--mult", "trunc-s8:k=6",
                         "--threads", "1", "--batch", "64", "--json", j1, "--save-logits", l1, NULL};
    const char *run[] = {"eval", "--model", q, "--data", FASHION, "--limit", limit, "--mult", "trunc-s8:k=6",
                         "--threads", "1", "--batch", "64", "--json", j2, "--save-logits", l2, "--checkpoint", ck, NULL};
    char *o1 = run_eval(ref, 0);
    /* kill -9 once the checkpoint holds a few batches */
    pid_t pid = spawn(run);
    cr_assert_gt(pid, 0);
    struct stat st;
    int status, waited = 0;
    const off_t enough = 76 + 3 * (24 + 64 * 4 + 64 * 40 + 4);
    while (waitpid(pid, &status, WNOHANG) == 0 && (stat(ck, &st) != 0 || st.st_size < enough) && waited < 120000)
        usleep(1000), waited++;
    int k = kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert(k == 0 && WIFSIGNALED(status), "the run ended before it could be killed (machine too fast?)");
    cr_assert_eq(stat(ck, &st), 0, "no checkpoint after the kill");
    cr_assert_neq(access(j2, F_OK), 0, "a killed run wrote its results");
    char *so, *se;
    cr_assert_eq(cli(&so, &se, run), 0, "%s", se);
    cr_assert(strstr(se, "resuming after") != NULL, "the second run did not resume: %s", se);
    char *f1 = figures(o1), *f2 = figures(so);
    cr_assert_str_eq(f1, f2);
    char *r1 = strdup(results_json(j1));
    cr_assert_str_eq(r1, results_json(j2));
    size_t n1, n2;
    char *b1 = slurp(l1, &n1), *b2 = slurp(l2, &n2);
    cr_assert(n1 == n2 && !memcmp(b1, b2, n1), "logits of the resumed run differ");
    cr_assert_neq(access(ck, F_OK), 0, "the checkpoint outlived a completed run");
    free(b1), free(b2), free(r1), free(f1), free(f2), free(so), free(se), free(o1);
    free(q), free(ck), free(j1), free(j2), free(l1), free(l2);
    ax_test_rmtree(dir), free(dir);
}

/* Decode overlaps compute: while the compute thread still holds batch 0
 * (its progress callback has not returned), the loaders fill batch 1. A
 * pipeline that loaded batches in turn would stall here, and fail. */
typedef struct overlap {
    bad_feed f;
    size_t B;
    int batch1_loaded;
    bool seen;
} overlap;

static int ov_load(void *ctx, size_t i, uint8_t *out, ax_error *err)
{
    overlap *v = ctx;
    int rc = ax_source_load_u8(v->f.src, i, out, err);
    if (i >= v->B && i < 2 * v->B) __atomic_add_fetch(&v->batch1_loaded, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static void ov_progress(void *ctx, size_t done, size_t total)
{
    overlap *v = ctx;
    (void)total;
    if (done != v->B) return;
    for (int t = 0; t < 20000 && __atomic_load_n(&v->batch1_loaded, __ATOMIC_SEQ_CST) < (int)v->B; t++) usleep(1000);
    v->seen = __atomic_load_n(&v->batch1_loaded, __ATOMIC_SEQ_CST) == (int)v->B;
}

Test(eval, next_batch_loads_while_this_one_computes, .timeout = 120)
{
    need_fashion();
    rig g;
    rig_up(&g);
    overlap v = {{g.src, NULL, 0, SIZE_MAX, 0}, 32, 0, false};
    axev_feed fe = feed_of(&v.f);
    fe.load_u8 = ov_load, fe.ctx = &v;
    fe.label = bf_label, fe.name = bf_name;
    ax_eval_options o;
    ax_eval_result r;
    ax_error err;
    options(&o, &g, v.B, 1);
    o.progress = ov_progress, o.ctx = &v;
    cr_assert_eq(axev_run(g.rt, &fe, 0, 3 * v.B, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(v.seen, "batch 1 was not loaded while batch 0 was still being computed");
    cr_assert_eq(r.images, 3 * v.B);
    ax_eval_result_free(&r), rig_down(&g);
}
