/* test_nn.c - the network runtime: every op against PyTorch's float output,
 * quantized execution close to float, zero-point corrections exact (the
 * same model under s8, u8 and u8s8 exact multipliers gives the same bits),
 * QDQ export and re-import, clear errors for bad models, and the shipped
 * Fashion-MNIST model through `autoapprox eval` and `quantize`; the
 * quantized layers' epilogue (nn/requant.c), every ISA variant against the
 * scalar rules; layers on folded tables (axnn_fold) against the unfolded
 * runs, bit for bit. */
#include "autoapprox/data.h"
#include "autoapprox/nn.h"
#include "nn/exec_internal.h"
#include "nn/nn_internal.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FASHION "/usr/share/datasets/fashion-mnist"

static char *fixture(const char *name)
{
    const char *dir = getenv("AX_TEST_FIXTURES");
    cr_assert(dir != NULL, "AX_TEST_FIXTURES not set");
    char *p = malloc(strlen(dir) + strlen(name) + 8);
    sprintf(p, "%s/nn/%s", dir, name);
    return p;
}

static char *model_path(void)
{
    const char *dir = getenv("AX_TEST_FIXTURES");
    char *p = malloc(strlen(dir) + 64);
    sprintf(p, "%s/../../models/fashion_cnn.onnx", dir);
    return p;
}

static ax_nn_model *load(const char *name)
{
    char *p = fixture(name);
    ax_nn_model *m;
    ax_error err;
    cr_assert_eq(ax_nn_load_onnx(p, &m, &err), 0, "%s", err.msg);
    free(p);
    return m;
}

static json_object *load_json(const char *name)
{
    char *p = fixture(name);
    json_object *j = json_object_from_file(p);
    cr_assert(j != NULL, "cannot read %s", p);
    free(p);
    return j;
}

/* ops_mix.json: NCHW input -> NHWC floats; expected output. */
static float *ops_input(json_object *j, size_t *n)
{
    json_object *in = json_object_object_get(j, "input"), *shape = json_object_object_get(j, "input_nchw");
    size_t N = (size_t)json_object_get_int(json_object_array_get_idx(shape, 0));
    size_t C = (size_t)json_object_get_int(json_object_array_get_idx(shape, 1));
    size_t H = (size_t)json_object_get_int(json_object_array_get_idx(shape, 2));
    size_t W = (size_t)json_object_get_int(json_object_array_get_idx(shape, 3));
    float *x = malloc(N * C * H * W * sizeof *x);
    for (size_t b = 0; b < N; b++)
        for (size_t c = 0; c < C; c++)
            for (size_t y = 0; y < H * W; y++)
                x[(b * H * W + y) * C + c] =
                    (float)json_object_get_double(json_object_array_get_idx(in, ((b * C + c) * H * W + y)));
    *n = N;
    return x;
}

static float expected(json_object *j, size_t b, size_t k)
{
    json_object *out = json_object_object_get(j, "output");
    return (float)json_object_get_double(json_object_array_get_idx(json_object_array_get_idx(out, b), k));
}

Test(nn, every_op_matches_pytorch_float)
{
    ax_nn_model *m = load("ops_mix.onnx");
    json_object *j = load_json("ops_mix.json");
    size_t n, k = ax_nn_output_size(m);
    float *x = ops_input(j, &n), *y = malloc(n * k * sizeof *y);
    ax_error err;
    cr_assert_eq(ax_nn_run_float(m, n, x, y, &err), 0, "%s", err.msg);
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < k; i++)
            cr_assert_float_eq(y[b * k + i], expected(j, b, i), 1e-5, "image %zu class %zu", b, i);
    free(x), free(y), json_object_put(j), ax_nn_free(m);
}

static ax_nn_runtime *runtime(const ax_nn_model *m, const char *spec, ax_mult **mult)
{
    ax_error err;
    cr_assert_eq(ax_mult_resolve(spec, mult, &err), 0, "%s", err.msg);
    size_t L = ax_nn_layer_count(m);
    const ax_mult **ms = malloc(L * sizeof *ms);
    for (size_t i = 0; i < L; i++) ms[i] = *mult;
    ax_nn_runtime *rt;
    cr_assert_eq(ax_nn_runtime_create(m, ms, &rt, &err), 0, "%s", err.msg);
    free(ms);
    return rt;
}

static float *run_q(const ax_nn_model *m, const char *spec, const float *x, size_t n)
{
    ax_mult *mult;
    ax_nn_runtime *rt = runtime(m, spec, &mult);
    float *y = malloc(n * ax_nn_output_size(m) * sizeof *y);
    ax_error err;
    cr_assert_eq(ax_nn_runtime_run(rt, n, x, y, 1, &err), 0, "%s", err.msg);
    ax_nn_runtime_free(rt), ax_mult_free(mult);
    return y;
}

static ax_nn_model *quantized_ops_mix(ax_operand act, float **x, size_t *n, json_object **j)
{
    ax_nn_model *m = load("ops_mix.onnx");
    *j = load_json("ops_mix.json");
    *x = ops_input(*j, n);
    ax_nn_quant_options o;
    ax_nn_quant_options_init(&o);
    o.act = act;
    ax_error err;
    cr_assert_eq(ax_nn_quantize(m, &o, *n, *x, &err), 0, "%s", err.msg);
    cr_assert(ax_nn_is_quantized(m));
    return m;
}

Test(nn, quantized_ops_close_to_float)
{
    for (int act = 0; act < 2; act++) {
        float *x;
        size_t n;
        json_object *j;
        ax_nn_model *m = quantized_ops_mix(act ? AX_U8 : AX_S8, &x, &n, &j);
        float *y = run_q(m, "exact-s8", x, n);
        for (size_t b = 0; b < n; b++)
            for (size_t i = 0; i < 6; i++)
                cr_assert_float_eq(y[b * 6 + i], expected(j, b, i), 0.03, "act %d image %zu class %zu", act, b, i);
        free(x), free(y), json_object_put(j), ax_nn_free(m);
    }
}

/* A u8 tensor meeting an s8 multiplier (and the reverse) is XOR 0x80 plus a
 * zero-point shift, corrected exactly outside the table: the bits agree. */
Test(nn, zero_point_corrections_are_exact)
{
    for (int act = 0; act < 2; act++) {
        float *x;
        size_t n;
        json_object *j;
        ax_nn_model *m = quantized_ops_mix(act ? AX_U8 : AX_S8, &x, &n, &j);
        float *a = run_q(m, "exact-s8", x, n), *b = run_q(m, "exact-u8", x, n), *c = run_q(m, "exact-u8s8", x, n);
        cr_assert_eq(memcmp(a, b, n * 6 * sizeof *a), 0, "act %d: exact-u8 differs from exact-s8", act);
        cr_assert_eq(memcmp(a, c, n * 6 * sizeof *a), 0, "act %d: exact-u8s8 differs from exact-s8", act);
        free(a), free(b), free(c), free(x), json_object_put(j), ax_nn_free(m);
    }
}

Test(nn, approximate_multiplier_warns_on_zero_points)
{
    float *x;
    size_t n;
    json_object *j;
    ax_nn_model *m = quantized_ops_mix(AX_U8, &x, &n, &j);
    ax_mult *mult;
    ax_nn_runtime *rt = runtime(m, "trunc-s8:k=4", &mult);
    cr_assert_gt(ax_nn_runtime_warning_count(rt), 0);
    cr_assert(strstr(ax_nn_runtime_warning(rt, 0), "zero point") != NULL, "%s", ax_nn_runtime_warning(rt, 0));
    ax_nn_runtime_free(rt), ax_mult_free(mult);
    free(x), json_object_put(j), ax_nn_free(m);
}

Test(nn, qdq_export_reimports_bit_identical)
{
    float *x;
    size_t n;
    json_object *j;
    ax_nn_model *m = quantized_ops_mix(AX_S8, &x, &n, &j);
    char *dir = ax_test_tmpdir(), *path = ax_test_path(dir, "q.onnx");
    ax_error err;
    cr_assert_eq(ax_nn_save_onnx(m, path, &err), 0, "%s", err.msg);
    ax_nn_model *r;
    cr_assert_eq(ax_nn_load_onnx(path, &r, &err), 0, "%s", err.msg);
    cr_assert(ax_nn_is_quantized(r));
    cr_assert_eq(ax_nn_layer_count(r), ax_nn_layer_count(m));
    cr_assert_str_eq(ax_nn_meta(r, "autoapprox.calibration.method"), "minmax");
    float *a = run_q(m, "trunc-s8:k=4", x, n), *b = run_q(r, "trunc-s8:k=4", x, n);
    cr_assert_eq(memcmp(a, b, n * 6 * sizeof *a), 0, "the QDQ model computes something else");
    free(a), free(b), free(x), free(path), json_object_put(j), ax_nn_free(m), ax_nn_free(r);
    ax_test_rmtree(dir), free(dir);
}

/* A QDQ model built by hand (u8 activations with zero point 128, per-channel
 * int8 weights, int32 bias): scales and zero points are taken as given and
 * the result is the integer reference's. */
Test(nn, qdq_model_matches_integer_reference)
{
    ax_nn_model *m = load("qdq_hand.onnx");
    json_object *j = load_json("qdq_hand.json");
    cr_assert(ax_nn_is_quantized(m));
    size_t n;
    float *x = ops_input(j, &n);
    float *a = run_q(m, "exact-s8", x, n), *b = run_q(m, "exact-u8", x, n);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 4; k++) cr_assert_float_eq(a[i * 4 + k], expected(j, i, k), 1e-3, "image %zu out %zu", i, k);
    cr_assert_eq(memcmp(a, b, n * 4 * sizeof *a), 0);
    free(a), free(b), free(x), json_object_put(j), ax_nn_free(m);
}

static void expect_bad(const char *name, const char *a, const char *b)
{
    char *p = fixture(name);
    ax_nn_model *m;
    ax_error err;
    cr_assert_eq(ax_nn_load_onnx(p, &m, &err), -1, "%s loaded", name);
    cr_assert(strstr(err.msg, name) != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, a) != NULL, "expected '%s' in: %s", a, err.msg);
    cr_assert(!b || strstr(err.msg, b) != NULL, "expected '%s' in: %s", b, err.msg);
    free(p);
}

Test(nn, bad_models_give_clear_errors)
{
    expect_bad("unsupported_op.onnx", "weird_sin", "Sin");
    expect_bad("bad_opset.onnx", "opset 3", NULL);
    expect_bad("missing_initializer.onnx", "conv0", "'w' missing");
    expect_bad("shape_mismatch.onnx", "conv0", "3 input channels");
    expect_bad("bad_attribute.onnx", "conv_same", "auto_pad=SAME_UPPER");
    expect_bad("bad_zero_point.onnx", "'x_zp' holds 1000", "out of range for int8");
    char *p = fixture("ops_mix.onnx");
    uint8_t *buf = malloc(1 << 16);
    FILE *f = fopen(p, "rb");
    size_t len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    ax_nn_model *m;
    ax_error err;
    for (size_t cut = 1; cut < len; cut += len / 7)
        cr_assert_eq(ax_nn_decode_onnx(buf, cut, "cut.onnx", &m, &err), -1, "a model cut at %zu loaded", cut);
    cr_assert(strstr(err.msg, "cut.onnx") != NULL, "%s", err.msg);
    free(buf), free(p);
}

Test(nn, rank_breaks_ties_toward_lower_class)
{
    float s[] = {1.0f, 3.0f, 3.0f, 0.5f, 3.0f, -1.0f};
    cr_assert_eq(ax_nn_rank(s, 6, 1), 0);
    cr_assert_eq(ax_nn_rank(s, 6, 2), 1);
    cr_assert_eq(ax_nn_rank(s, 6, 4), 2);
    cr_assert_eq(ax_nn_rank(s, 6, 5), 5);
    cr_assert_eq(ax_nn_rank(s, 6, 6), 6);
}

/* ---- the shipped model on Fashion-MNIST ---- */
static void need_fashion(void)
{
    struct stat st;
    if (stat(FASHION, &st) != 0)
        cr_skip_test("%s absent: install the Debian package dataset-fashion-mnist (tools/setup.sh)", FASHION);
}

static double fixture_number(const char *key)
{
    json_object *j = load_json("fashion_cnn.json"), *v;
    cr_assert(json_object_object_get_ex(j, key, &v), "%s missing", key);
    double d = json_object_get_double(v);
    json_object_put(j);
    return d;
}

static json_object *eval_json(const char *const *extra, char **errout)
{
    char *dir = ax_test_tmpdir(), *out = ax_test_path(dir, "e.json"), *model = model_path();
    const char *argv[32] = {"eval", "--model", model, "--data", FASHION, "--threads", "1", "--json", out};
    size_t n = 9;
    for (; *extra; extra++) argv[n++] = *extra;
    if (ax_test_reduced()) argv[n++] = "--calib-images", argv[n++] = "200";
    argv[n] = NULL;
    char *so;
    int rc = ax_test_cli(&so, errout, argv);
    cr_assert_eq(rc, 0, "eval failed: %s", *errout);
    json_object *j = json_object_from_file(out);
    cr_assert(j != NULL);
    free(so), free(out), free(model);
    ax_test_rmtree(dir), free(dir);
    return j;
}

static double jnum(json_object *j, const char *key)
{
    json_object *v;
    cr_assert(json_object_object_get_ex(j, key, &v), "%s missing", key);
    return json_object_get_double(v);
}

Test(nn, fashion_float_logits_match_pytorch)
{
    need_fashion();
    char *p = model_path();
    ax_nn_model *m;
    ax_dataset d;
    ax_error err;
    cr_assert_eq(ax_nn_load_onnx(p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_dataset_load_idx(FASHION, "test", &d, &err), 0, "%s", err.msg);
    ax_nn_preprocess pp;
    ax_nn_preprocess_get(m, &pp);
    cr_assert(pp.from_metadata, "the shipped model records its preprocessing");
    float x[4 * 784], y[4 * 10];
    ax_nn_preprocess_apply(&pp, d.images, 4 * 784, x);
    cr_assert_eq(ax_nn_run_float(m, 4, x, y, &err), 0, "%s", err.msg);
    json_object *j = load_json("fashion_cnn.json"), *lg = json_object_object_get(j, "first_logits");
    for (size_t b = 0; b < 4; b++)
        for (size_t k = 0; k < 10; k++) {
            double want = json_object_get_double(json_object_array_get_idx(json_object_array_get_idx(lg, b), k));
            cr_assert_float_eq(y[b * 10 + k], want, 1e-3, "image %zu class %zu", b, k);
        }
    json_object_put(j), free(p), ax_dataset_free(&d), ax_nn_free(m);
}

Test(nn, fashion_exact_int8_within_a_point_of_float, .timeout = 300)
{
    need_fashion();
    const char *lim[] = {"--limit", "2000", NULL}, *none[] = {NULL};
    char *err;
    json_object *j = eval_json(ax_test_reduced() ? lim : none, &err);
    cr_assert(strstr(err, "quantizing it on the fly") != NULL, "%s", err);
    double top1 = jnum(j, "top1"), ref = fixture_number("float_top1");
    cr_assert_lt(fabs(top1 - ref), 0.01, "exact int8 top-1 %.4f vs PyTorch float %.4f", top1, ref);
    cr_assert_gt(jnum(j, "top5"), top1);
    cr_assert_gt(jnum(j, "images_per_second"), 0);
    json_object *prov = json_object_object_get(j, "provenance"), *mults = json_object_object_get(prov, "multipliers");
    cr_assert_eq(json_object_array_length(mults), 1);
    cr_assert_eq(strlen(json_object_get_string(json_object_object_get(json_object_array_get_idx(mults, 0), "table_sha256"))), 64);
    cr_assert_eq(strlen(json_object_get_string(json_object_object_get(prov, "model_sha256"))), 64);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(json_object_object_get(prov, "calibration"), "method")), "minmax");
    cr_assert(json_object_object_get(prov, "isa") != NULL);
    json_object *layers = json_object_object_get(j, "layers");
    cr_assert_eq(json_object_array_length(layers), 6);
    cr_assert(json_object_object_get(json_object_array_get_idx(layers, 0), "kernel") != NULL);
    json_object_put(j), free(err);
}

Test(nn, fashion_approximate_multiplier_is_deterministic, .timeout = 300)
{
    need_fashion();
    const char *ex[] = {"--limit", "1000", NULL}, *ap[] = {"--limit", "1000", "--mult", "trunc-s8:k=6", NULL};
    char *e1, *e2, *e3;
    json_object *a = eval_json(ex, &e1), *b = eval_json(ap, &e2), *c = eval_json(ap, &e3);
    cr_assert_neq(jnum(a, "top1"), jnum(b, "top1"), "trunc-s8:k=6 changed nothing");
    cr_assert_eq(jnum(b, "top1"), jnum(c, "top1"));
    cr_assert_eq(jnum(b, "top5"), jnum(c, "top5"));
    json_object_put(a), json_object_put(b), json_object_put(c), free(e1), free(e2), free(e3);
}

static char *write_assign(const char *dir, const char *layers_json)
{
    char *p = ax_test_path(dir, "a.json"), buf[2048];
    snprintf(buf, sizeof buf, "{\"version\": 1, \"model_sha256\": \"\", \"arrays\": {\"A0\": \"exact-s8\", "
             "\"A1\": \"drum-s8:k=4\"}, \"layers\": %s}", layers_json);
    cr_assert_eq(ax_test_write(p, buf, strlen(buf)), 0);
    return p;
}

Test(nn, fashion_assignment_file, .timeout = 300)
{
    need_fashion();
    char *dir = ax_test_tmpdir(), *model = model_path(), *so, *se;
    char *bad = write_assign(dir, "{\"conv_one\": \"A0\"}");
    const char *argv[] = {"eval", "--model", model, "--data", FASHION, "--assign", bad, "--limit", "10", NULL};
    cr_assert_eq(ax_test_cli(&so, &se, argv), 1);
    cr_assert(strstr(se, "conv_one") != NULL && strstr(se, "a.json") != NULL, "%s", se);
    free(so), free(se), free(bad);
    char *good = write_assign(dir, "{\"/conv1/conv1.0/Conv\": \"A1\", \"/conv2/conv2.0/Conv\": \"A1\", "
                              "\"/dw/dw.0/Conv\": \"A1\", \"/pw/pw.0/Conv\": \"A1\", \"/fc1/Gemm\": \"A0\", \"/fc2/Gemm\": \"A0\"}");
    const char *ex[] = {"--assign", good, "--limit", "500", NULL};
    json_object *j = eval_json(ex, &se);
    json_object *l0 = json_object_array_get_idx(json_object_object_get(j, "layers"), 0);
    json_object *l5 = json_object_array_get_idx(json_object_object_get(j, "layers"), 5);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(l0, "multiplier")), "drum-s8:k=4");
    cr_assert_str_eq(json_object_get_string(json_object_object_get(l5, "array")), "A0");
    cr_assert_eq(json_object_array_length(json_object_object_get(json_object_object_get(j, "provenance"), "multipliers")), 2);
    json_object_put(j), free(se), free(good), free(model);
    ax_test_rmtree(dir), free(dir);
}

Test(nn, cli_unsupported_model_and_usage)
{
    char *model = fixture("unsupported_op.onnx"), *so, *se;
    const char *a1[] = {"eval", "--model", model, "--data", "/nonexistent", NULL};
    cr_assert_eq(ax_test_cli(&so, &se, a1), 1);
    cr_assert(strstr(se, "weird_sin") != NULL && strstr(se, "Sin") != NULL, "%s", se);
    free(so), free(se);
    const char *a2[] = {"eval", "--model", model, NULL};
    cr_assert_eq(ax_test_cli(&so, &se, a2), 2);
    free(so), free(se);
    const char *a3[] = {"quantize", "--model", model, "--calib", "/x", "-o", "/tmp/never.onnx", "--method", "median", NULL};
    cr_assert_eq(ax_test_cli(&so, &se, a3), 2);
    cr_assert(strstr(se, "median") != NULL, "%s", se);
    free(so), free(se), free(model);
}

Test(nn, fashion_quantize_then_eval, .timeout = 300)
{
    need_fashion();
    char *dir = ax_test_tmpdir(), *q = ax_test_path(dir, "q.onnx"), *model = model_path(), *so, *se;
    const char *argv[] = {"quantize", "--model", model, "--calib", FASHION, "--calib-images",
                          ax_test_reduced() ? "200" : "1000", "-o", q, NULL};
    cr_assert_eq(ax_test_cli(&so, &se, argv), 0, "%s", se);
    free(so), free(se);
    char *jp = ax_test_path(dir, "q.json");
    const char *ev[] = {"eval", "--model", q, "--data", FASHION, "--limit", "500", "--threads", "1", "--json", jp, NULL};
    cr_assert_eq(ax_test_cli(&so, &se, ev), 0, "%s", se);
    cr_assert(strstr(se, "on the fly") == NULL, "a QDQ model was quantized again: %s", se);
    const char *fl[] = {"--limit", "500", NULL};
    char *se2;
    json_object *a = json_object_from_file(jp), *b = eval_json(fl, &se2);
    cr_assert(a != NULL);
    if (!ax_test_reduced()) cr_assert_eq(jnum(a, "top1"), jnum(b, "top1"), "QDQ file and on-the-fly quantization differ");
    json_object_put(a), json_object_put(b);
    free(so), free(se), free(se2), free(jp), free(q), free(model);
    ax_test_rmtree(dir), free(dir);
}

Test(nn, fashion_percentile_u8_calibration, .timeout = 300)
{
    need_fashion();
    char *dir = ax_test_tmpdir(), *q = ax_test_path(dir, "q.onnx"), *jp = ax_test_path(dir, "q.json");
    char *model = model_path(), *so, *se;
    const char *argv[] = {"quantize", "--model", model, "--calib", FASHION, "--calib-images", "300", "--method",
                          "percentile:99.99", "--act", "u8", "-o", q, NULL};
    cr_assert_eq(ax_test_cli(&so, &se, argv), 0, "%s", se);
    free(so), free(se);
    char *npy = ax_test_path(dir, "l.npy");
    const char *ev[] = {"eval", "--model", q, "--data", FASHION, "--limit", "1000", "--threads", "1", "--mult",
                        "exact-u8s8", "--json", jp, "--save-logits", npy, NULL};
    cr_assert_eq(ax_test_cli(&so, &se, ev), 0, "%s", se);
    struct stat st;
    cr_assert_eq(stat(npy, &st), 0);
    cr_assert_eq(st.st_size, 128 + 1000 * 10 * 4, "logits .npy: %lld bytes", (long long)st.st_size);
    free(npy);
    json_object *j = json_object_from_file(jp), *cal;
    cr_assert(j != NULL);
    cal = json_object_object_get(json_object_object_get(j, "provenance"), "calibration");
    cr_assert_str_eq(json_object_get_string(json_object_object_get(cal, "method")), "percentile:99.99");
    cr_assert_str_eq(json_object_get_string(json_object_object_get(cal, "act")), "u8");
    cr_assert_gt(jnum(j, "top1"), fixture_number("float_top1") - 0.02);
    json_object_put(j), free(so), free(se), free(q), free(jp), free(model);
    ax_test_rmtree(dir), free(dir);
}

/* ---- torchvision exports (cached by tools/scripts/export_torchvision.py) ---- */
static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof *v);
    size_t got = fread(v, sizeof *v, n, f);
    fclose(f);
    if (got != n) free(v), v = NULL;
    return v;
}

/* Float logits match PyTorch's; exact int8 keeps the top class. */
static bool check_torchvision(const char *dir, const char *name)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) return false;
    ax_nn_model *m;
    ax_error err;
    cr_assert_eq(ax_nn_load_onnx(path, &m, &err), 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/%s.in", dir, name);
    float *x = read_floats(path, 2 * 224 * 224 * 3), *y = malloc(2000 * sizeof *y);
    snprintf(path, sizeof path, "%s/%s.out", dir, name);
    float *r = read_floats(path, 2000);
    cr_assert(x && r, "%s: cached input or output missing", name);
    cr_assert_eq(ax_nn_run_float(m, 2, x, y, &err), 0, "%s", err.msg);
    float scale = 0.0f;
    for (size_t i = 0; i < 2000; i++) scale = fmaxf(scale, fabsf(r[i]));
    for (size_t i = 0; i < 2000; i++) cr_assert_float_eq(y[i], r[i], 1e-5 * scale + 1e-12f, "%s logit %zu", name, i);
    ax_nn_quant_options o;
    ax_nn_quant_options_init(&o);
    cr_assert_eq(ax_nn_quantize(m, &o, 2, x, &err), 0, "%s", err.msg);
    float *q = run_q(m, "exact-s8", x, 2);
    for (size_t b = 0; b < 2; b++) {
        size_t top = 0;
        for (size_t i = 1; i < 1000; i++) top = r[b * 1000 + i] > r[b * 1000 + top] ? i : top;
        cr_assert_lt(ax_nn_rank(q + b * 1000, 1000, top), 5, "%s image %zu: PyTorch's top class left int8's top 5", name, b);
    }
    free(x), free(y), free(r), free(q), ax_nn_free(m);
    return true;
}

Test(nn, torchvision_models_import_and_run, .timeout = 600)
{
    const char *env = getenv("AX_MODEL_CACHE"), *home = getenv("HOME");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s%s", env ? env : home ? home : ".", env ? "" : "/.cache/autoapprox");
    static const char *const full[] = {"resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", NULL};
    static const char *const reduced[] = {"resnet18", NULL};
    int found = 0;
    for (const char *const *n = ax_test_reduced() ? reduced : full; *n; n++) found += check_torchvision(dir, *n);
    if (!found) cr_skip_test("no torchvision export cached in %s (tools/scripts/export_torchvision.py makes them)", dir);
}

/* ---- the epilogue: zero-point sums, requantization, tensor conversions ---- */

static uint64_t epi_rng = 0x9e3779b97f4a7c15u;
static uint32_t epi_next(void)
{
    uint64_t z = (epi_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)(z ^ (z >> 31));
}
static int32_t epi_range(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(epi_next() % (uint32_t)(hi - lo + 1));
}

/* Every variant this CPU runs (the scalar one at least). */
static size_t epilogues(const axnn_epilogue **out)
{
    static const ax_isa isas[] = {AX_ISA_SCALAR, AX_ISA_AVX2, AX_ISA_AVX512};
    size_t n = 0;
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++)
        if ((out[n] = axnn_epilogue_for(isas[i]))) n++;
    cr_assert_geq(n, 1);
    return n;
}

/* Scales up to the 0.25 bound (products past 2^22 and saturation), ties
 * (s = 1/8 on small accumulators), zero, and accumulators over the whole
 * int32 range (the corrections wrap modulo 2^32 like the kernels' sums). */
Test(nn, requantization_matches_the_scalar_rule)
{
    const axnn_epilogue *e[4];
    size_t ne = epilogues(e);
    static const size_t ocs[] = {1, 3, 15, 16, 17, 48, 64, 100, 257};
    enum { PIXELS = 7 };
    for (size_t v = 0; v < ne; v++)
        for (size_t oi = 0; oi < sizeof ocs / sizeof *ocs; oi++)
            for (int round = 0; round < 6; round++) {
                size_t oc = ocs[oi];
                int32_t *corr = malloc(oc * 4), *zw = malloc(oc * 4), *acc = malloc(PIXELS * oc * 4);
                int32_t *sum = malloc(PIXELS * oc * 4);
                float *s = malloc(oc * 4);
                uint8_t *y = malloc(PIXELS * oc);
                bool small = round % 2;
                for (size_t c = 0; c < oc; c++) {
                    static const float edge[] = {0.2499999f, -0.2499999f, 0.125f, -0.125f, 1e-6f, 0.0f};
                    s[c] = c % 3 == 0 ? edge[(c / 3) % 6] : ((float)epi_range(-249999, 249999)) * 1e-6f;
                    corr[c] = small ? epi_range(-8, 8) : (int32_t)epi_next();
                    zw[c] = small ? epi_range(-2, 2) : epi_range(-255, 255);
                }
                for (size_t i = 0; i < PIXELS * oc; i++) {
                    acc[i] = small ? epi_range(-40, 40) : (int32_t)epi_next();
                    sum[i] = small ? epi_range(-9, 9) : epi_range(-300000, 300000);
                }
                /* u8 and s8 ranges (maybe narrowed by a clip), and one across both
                 * (the low byte of any value in -128..255): each narrows its own way */
                int kind = round % 3;
                int32_t lo = kind == 0 ? epi_range(0, 40) : epi_range(-128, -90);
                int32_t hi = kind == 1 ? epi_range(90, 127) : epi_range(200, 255);
                axnn_requant r = {.corr = corr, .zw = zw, .s = s, .zp = epi_range(-128, 255), .lo = lo, .hi = hi,
                                  .oc = oc};
                for (int mode = 0; mode < 3; mode++) {
                    memset(y, 0xa5, PIXELS * oc);
                    e[v]->requantize(&r, acc, oc, mode ? sum : NULL, mode == 2, PIXELS, y, oc);
                    for (size_t p = 0; p < PIXELS; p++)
                        for (size_t c = 0; c < oc; c++) {
                            uint32_t a = (uint32_t)acc[p * oc + c] + (uint32_t)corr[c];
                            if (mode) a -= (uint32_t)zw[c] * (uint32_t)sum[mode == 2 ? p * oc + c : p];
                            uint8_t want = axnn_saturate(axnn_round_half_even((float)(int32_t)a * s[c]), r.zp, lo, hi);
                            cr_assert_eq(y[p * oc + c], want,
                                         "%s, oc %zu, mode %d, pixel %zu channel %zu: acc %d s %.9g gives %u, want %u",
                                         ax_isa_name(e[v]->isa), oc, mode, p, c, (int32_t)a, s[c], y[p * oc + c], want);
                        }
                }
                /* a block of columns [n0, n0 + cols) in strided rows (ax_gemm_blocks' form, as
                 * axnn_requantize_block passes it): the block's bytes, nothing around it */
                size_t n0 = oc / 3, cols = oc - n0 - (oc > 2 ? 1 : 0);
                axnn_requant b = r;
                b.corr += n0, b.zw += n0, b.s += n0, b.oc = cols;
                memset(y, 0xa5, PIXELS * oc);
                e[v]->requantize(&b, acc + n0, oc, sum, false, PIXELS, y + n0, oc);
                for (size_t p = 0; p < PIXELS; p++)
                    for (size_t c = 0; c < oc; c++) {
                        uint32_t a = (uint32_t)acc[p * oc + c] + (uint32_t)corr[c] - (uint32_t)zw[c] * (uint32_t)sum[p];
                        float f = (float)(int32_t)a * s[c];
                        uint8_t want = c < n0 || c >= n0 + cols ? 0xa5
                                                                : axnn_saturate(axnn_round_half_even(f), r.zp, lo, hi);
                        cr_assert_eq(y[p * oc + c], want,
                                     "%s, oc %zu, block %zu+%zu, pixel %zu channel %zu: %u, want %u",
                                     ax_isa_name(e[v]->isa), oc, n0, cols, p, c, y[p * oc + c], want);
                    }
                free(corr), free(zw), free(acc), free(sum), free(s), free(y);
            }
}

/* Per output pixel and group, the operand values over the window; taps in
 * the padding count za. Depthwise (one channel per group), grouped, dense;
 * strides, dilations, uneven pads, s8 and u8. */
/* The input pixel that tap (ky, kx) of output pixel (oy, ox) reads; false:
 * the padding. */
static bool tap_pixel(const ax_conv2d_shape *s, size_t oy, size_t ox, size_t ky, size_t kx, size_t *iy, size_t *ix)
{
    long y = (long)(oy * s->stride_h + ky * s->dilation_h) - (long)s->pad_top;
    long x = (long)(ox * s->stride_w + kx * s->dilation_w) - (long)s->pad_left;
    *iy = (size_t)y, *ix = (size_t)x;
    return y >= 0 && x >= 0 && y < (long)s->in_h && x < (long)s->in_w;
}

Test(nn, zero_point_sums_match_a_plain_loop)
{
    const axnn_epilogue *e[4];
    size_t ne = epilogues(e);
    for (int round = 0; round < 200; round++) {
        static const size_t gs[] = {1, 3, 16, 33};
        size_t G = gs[epi_next() % 4], cg = (size_t)epi_range(1, 3);
        ax_conv2d_shape s = {.batch = 1, .in_h = (size_t)epi_range(1, 9), .in_w = (size_t)epi_range(1, 9),
                             .in_c = G * cg, .out_c = G * cg, .kernel_h = (size_t)epi_range(1, 3),
                             .kernel_w = (size_t)epi_range(1, 3), .stride_h = (size_t)epi_range(1, 2),
                             .stride_w = (size_t)epi_range(1, 2), .dilation_h = (size_t)epi_range(1, 2),
                             .dilation_w = (size_t)epi_range(1, 2), .pad_top = (size_t)epi_range(0, 2),
                             .pad_left = (size_t)epi_range(0, 2), .pad_bottom = (size_t)epi_range(0, 2),
                             .pad_right = (size_t)epi_range(0, 2), .groups = G};
        long eh = (long)(s.in_h + s.pad_top + s.pad_bottom) - (long)(s.dilation_h * (s.kernel_h - 1) + 1);
        long ew = (long)(s.in_w + s.pad_left + s.pad_right) - (long)(s.dilation_w * (s.kernel_w - 1) + 1);
        if (eh < 0 || ew < 0) continue;
        size_t oh = (size_t)eh / s.stride_h + 1, ow = (size_t)ew / s.stride_w + 1;
        ax_operand t = epi_next() % 2 ? AX_S8 : AX_U8;
        int32_t za = t == AX_S8 ? epi_range(-128, 127) : epi_range(0, 255);
        uint8_t *x = malloc(s.in_h * s.in_w * s.in_c);
        for (size_t i = 0; i < s.in_h * s.in_w * s.in_c; i++) x[i] = (uint8_t)epi_next();
        int32_t *got = malloc(oh * ow * G * 4);
        for (size_t v = 0; v < ne; v++) {
            e[v]->conv_suma(&s, oh, ow, t, za, x, got);
            for (size_t oy = 0; oy < oh; oy++)
                for (size_t ox = 0; ox < ow; ox++)
                    for (size_t g = 0; g < G; g++) {
                        int32_t want = 0;
                        for (size_t ky = 0; ky < s.kernel_h; ky++)
                            for (size_t kx = 0; kx < s.kernel_w; kx++)
                                for (size_t i = 0; i < cg; i++) {
                                    size_t iy, ix;
                                    bool in = tap_pixel(&s, oy, ox, ky, kx, &iy, &ix);
                                    want += in ? ax_operand_value(t, x[(iy * s.in_w + ix) * s.in_c + g * cg + i]) : za;
                                }
                        cr_assert_eq(got[(oy * ow + ox) * G + g], want, "%s, round %d, pixel (%zu, %zu) group %zu",
                                     ax_isa_name(e[v]->isa), round, oy, ox, g);
                    }
        }
        free(x), free(got);
    }
}

/* Ties at half steps, values past the byte range, +-inf and NaN, both byte
 * types: each variant gives axnn_quantize_one's and axnn_dequantize_one's
 * bits. */
Test(nn, tensor_conversions_match_the_scalar_rules)
{
    const axnn_epilogue *e[4];
    size_t ne = epilogues(e);
    enum { N = 1000 };
    float x[N], f[N];
    uint8_t q[N], b[N];
    for (int round = 0; round < 8; round++) {
        axnn_qp qp = {.set = true, .type = round % 2 ? AX_S8 : AX_U8, .scale = (float)epi_range(1, 100000) * 1e-5f,
                      .zp = round % 2 ? epi_range(-128, 127) : epi_range(0, 255)};
        for (size_t i = 0; i < N; i++) {
            switch (i % 5) {
            case 0: x[i] = ((float)epi_range(-600, 600) + 0.5f) * qp.scale; break; /* ties, mostly */
            case 1: x[i] = (float)epi_range(-1000000, 1000000) * 1e-3f; break;
            case 2: x[i] = (float)(int32_t)epi_next() * 1e3f; break;
            case 3: x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY; break;
            default: x[i] = (float)epi_range(-300, 300) * qp.scale; break;
            }
            b[i] = (uint8_t)epi_next();
        }
        for (size_t v = 0; v < ne; v++) {
            e[v]->quantize(&qp, x, N, q);
            e[v]->dequantize(&qp, b, N, f);
            for (size_t i = 0; i < N; i++) {
                cr_assert_eq(q[i], axnn_quantize_one(&qp, x[i]), "%s: quantize %.9g", ax_isa_name(e[v]->isa), x[i]);
                float want = axnn_dequantize_one(&qp, b[i]);
                cr_assert_eq(memcmp(&f[i], &want, sizeof want), 0, "%s: dequantize %u", ax_isa_name(e[v]->isa), b[i]);
            }
        }
    }
}

/* A 256-byte table (ReLU, Clip) over lengths around the vector width, each
 * variant against the plain loop. */
Test(nn, byte_table_lookups_match_a_plain_loop)
{
    const axnn_epilogue *e[4];
    size_t ne = epilogues(e);
    enum { N = 1000 };
    uint8_t t[256], a[N], y[N + 64];
    for (size_t i = 0; i < 256; i++) t[i] = (uint8_t)epi_next();
    for (size_t i = 0; i < N; i++) a[i] = (uint8_t)epi_next();
    a[0] = 0, a[1] = 127, a[2] = 128, a[3] = 255;
    static const size_t lens[] = {0, 1, 63, 64, 65, 127, 128, 129, 999, 1000};
    for (size_t v = 0; v < ne; v++)
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            memset(y, 0x77, sizeof y);
            e[v]->lookup256(t, a, lens[l], y);
            for (size_t i = 0; i < lens[l]; i++)
                cr_assert_eq(y[i], t[a[i]], "%s, length %zu, byte %zu", ax_isa_name(e[v]->isa), lens[l], i);
            for (size_t i = lens[l]; i < sizeof y; i++)
                cr_assert_eq(y[i], 0x77, "%s, length %zu: wrote byte %zu", ax_isa_name(e[v]->isa), lens[l], i);
        }
}

/* Whether the first and the last page of [p, p + n) are mapped (Linux:
 * mincore fails with ENOMEM on unmapped pages): 2 both, 1 one of them, 0
 * none; 2 elsewhere, where the check is skipped. */
static int mapped(const void *p, size_t n)
{
#if defined(__linux__)
    unsigned char v[2];
    uintptr_t page = 4096, a = (uintptr_t)p / page * page, last = ((uintptr_t)p + n - 1) / page * page;
    return (mincore((void *)a, page, v) == 0) + (mincore((void *)last, page, v) == 0);
#else
    (void)p, (void)n;
    return 2;
#endif
}

#if defined(__linux__)
#define UNMAPPED(p, n) (mapped(p, n) == 0)
#else
#define UNMAPPED(p, n) true
#endif

/* The activation pool and large buffers: a freed buffer comes back for the
 * next value that fits (the smallest that does), buffers are 64-byte
 * aligned and fully writable, large ones start on a 2 MiB boundary (whole
 * huge pages) and are unmapped, all of them, when given back or freed. */
Test(nn, pool_reuses_and_releases_large_and_small_buffers)
{
    static const size_t sizes[] = {1, 100, (size_t)4 << 20, (5 << 20) + 3, (9 << 20) + 77};
    enum { S = sizeof sizes / sizeof *sizes };
    axnn_pool pool = {0};
    uint8_t *b[S];
    for (size_t i = 0; i < S; i++) {
        b[i] = axnn_pool_alloc(&pool, sizes[i]);
        cr_assert(b[i] && (uintptr_t)b[i] % 64 == 0, "size %zu", sizes[i]);
        memset(b[i], (int)i + 1, sizes[i]);
#if defined(__linux__)
        if (sizes[i] >= (size_t)4 << 20)
            cr_assert((uintptr_t)(b[i] - 64) % ((size_t)2 << 20) == 0, "size %zu not on a huge page", sizes[i]);
#endif
    }
    for (size_t i = 0; i < S; i++) cr_assert(b[i][sizes[i] - 1] == i + 1 && b[i][0] == i + 1, "size %zu", sizes[i]);
    for (size_t i = 0; i < S; i++) axnn_pool_give(&pool, b[i]);
    cr_assert_eq(axnn_pool_alloc(&pool, (5 << 20) - 1000), b[3], "the smallest free buffer that fits");
    cr_assert_eq(axnn_pool_alloc(&pool, 50), b[1]);
    uint8_t *fresh = axnn_pool_alloc(&pool, (size_t)10 << 20);
    cr_assert(fresh && fresh != b[4] && mapped(fresh, (size_t)10 << 20) == 2);
    axnn_pool_give(&pool, b[3]), axnn_pool_give(&pool, b[1]), axnn_pool_give(&pool, fresh);
    axnn_pool_free(&pool);
    cr_assert(UNMAPPED(b[4], sizes[4]) && UNMAPPED(fresh, (size_t)10 << 20), "freed pool left a mapping");

    /* no pool: allocated and released at once */
    uint8_t *one = axnn_pool_alloc(NULL, (size_t)6 << 20);
    cr_assert(one && mapped(one, (size_t)6 << 20) == 2);
    memset(one, 1, (size_t)6 << 20);
    axnn_pool_give(NULL, one);
    cr_assert(UNMAPPED(one, (size_t)6 << 20));

    /* scratch slots grow in place of their old buffer */
    axnn_scratch sc = {0};
    cr_assert_eq(axnn_scratch_reserve(&sc, 2), 0);
    uint8_t *s0 = axnn_scratch_get(&sc, 0, (size_t)5 << 20), *s1 = axnn_scratch_get(&sc, 1, 1000);
    cr_assert(s0 && s1 && (uintptr_t)s0 % 64 == 0 && (uintptr_t)s1 % 64 == 0);
    memset(s0, 2, (size_t)5 << 20), memset(s1, 3, 1000);
    cr_assert_eq(axnn_scratch_get(&sc, 0, 100), s0, "a slot that fits is kept");
    uint8_t *s0b = axnn_scratch_get(&sc, 0, (size_t)8 << 20);
    cr_assert(s0b && mapped(s0b, (size_t)8 << 20) == 2);
    memset(s0b, 4, (size_t)8 << 20);
    if (s0b >= s0 + ((size_t)5 << 20) || s0b + ((size_t)8 << 20) <= s0) /* (its range may be reused) */
        cr_assert(UNMAPPED(s0, (size_t)5 << 20), "the outgrown slot was not released");
    axnn_scratch_free(&sc);
    cr_assert(UNMAPPED(s0b, (size_t)8 << 20));
}

/* Add and Mul of two quantized tensors: each variant, on every pair of
 * bytes (as two tensors of 65,536 elements, then lengths around the vector
 * width), gives the bytes of dequantize-op-quantize in scalar float:
 * signed and unsigned operands and outputs, zero points, scales that make
 * exact halves (ties to even), outputs that saturate both ways, infinities
 * and NaN (inf - inf, 0 * inf). */
Test(nn, add_and_mul_on_bytes_match_the_float_rule)
{
    const axnn_epilogue *e[4];
    size_t ne = epilogues(e);
    enum { N = 65536 };
    uint8_t *a = malloc(N), *b = malloc(N), *y = malloc(N + 128);
    cr_assert(a && b && y);
    for (size_t i = 0; i < N; i++) a[i] = (uint8_t)(i >> 8), b[i] = (uint8_t)i;
    static const struct {
        ax_operand ta, tb, ty;
        float sa, sb, sy;
        int32_t za, zb, zy;
    } cases[] = {
        {AX_S8, AX_S8, AX_S8, 0.0213f, 0.0371f, 0.0402f, 3, -5, 0},
        {AX_U8, AX_U8, AX_U8, 0.05f, 0.011f, 0.06f, 128, 7, 0},
        {AX_U8, AX_S8, AX_U8, 0.5f, 0.5f, 1.0f, 0, 0, 0},   /* halves: ties */
        {AX_S8, AX_U8, AX_S8, 0.25f, 0.75f, 0.5f, -3, 200, 17}, /* saturates */
        {AX_S8, AX_S8, AX_U8, 1e-3f, 3e-3f, 1e-5f, 0, 0, 255},
        {AX_U8, AX_U8, AX_S8, 1e30f, 1e30f, 1e-30f, 1, 2, -128}, /* inf */
        {AX_S8, AX_S8, AX_S8, 3e38f, 3e38f, 1.0f, 0, 0, -5},     /* inf - inf, 0 * inf: NaN */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int mul = 0; mul < 2; mul++) {
            axnn_qp qa = {true, cases[c].ta, cases[c].sa, cases[c].za};
            axnn_qp qb = {true, cases[c].tb, cases[c].sb, cases[c].zb};
            axnn_qp qy = {true, cases[c].ty, cases[c].sy, cases[c].zy};
            axnn_binop op = {mul, qa.type, qb.type, qa.scale, qb.scale, qy.scale, qa.zp, qb.zp, qy.zp,
                             axnn_qmin(qy.type), axnn_qmax(qy.type)};
            static const size_t lens[] = {N, 0, 1, 15, 16, 17, 63, 64, 65, 1000};
            for (size_t v = 0; v < ne; v++)
                for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
                    size_t off = l ? 40000 + 7 * l : 0; /* shorter runs from the middle */
                    memset(y, 0x77, N + 64);
                    e[v]->binary(&op, a + off, b + off, lens[l], y);
                    for (size_t i = 0; i < lens[l]; i++) {
                        float fa = axnn_dequantize_one(&qa, a[off + i]), fb = axnn_dequantize_one(&qb, b[off + i]);
                        uint8_t want = axnn_quantize_one(&qy, mul ? fa * fb : fa + fb);
                        cr_assert_eq(y[i], want, "%s, case %zu, %s, bytes %u and %u: %u, want %u",
                                     ax_isa_name(e[v]->isa), c, mul ? "mul" : "add", a[off + i], b[off + i], y[i],
                                     want);
                    }
                    for (size_t i = lens[l]; i < lens[l] + 64; i++)
                        cr_assert_eq(y[i], 0x77, "%s, length %zu: wrote byte %zu", ax_isa_name(e[v]->isa), lens[l], i);
                    /* narrower bounds (a ReLU or Clip fused into the op, axnn_qop_fuse) clamp the
                     * bytes of the full range: the same bits as the two ops */
                    axnn_binop narrow = op;
                    narrow.lo = op.zy - 1 > op.lo ? op.zy - 1 : op.lo;
                    narrow.hi = narrow.lo + 6 + (int32_t)c < op.hi ? narrow.lo + 6 + (int32_t)c : op.hi;
                    uint8_t *z = y + N; /* y's last 128 bytes: chunks of 48 fit */
                    for (size_t i0 = 0; i0 < lens[l]; i0 += 48) {
                        size_t m = lens[l] - i0 < 48 ? lens[l] - i0 : 48;
                        e[v]->binary(&narrow, a + off + i0, b + off + i0, m, z);
                        for (size_t i = 0; i < m; i++) {
                            int32_t full = qy.type == AX_S8 ? (int8_t)y[i0 + i] : y[i0 + i];
                            int32_t want = full < narrow.lo ? narrow.lo : full > narrow.hi ? narrow.hi : full;
                            cr_assert_eq(z[i], (uint8_t)want, "%s, case %zu, %s, bounds [%d, %d]: byte %zu",
                                         ax_isa_name(e[v]->isa), c, mul ? "mul" : "add", narrow.lo, narrow.hi, i0 + i);
                        }
                    }
                }
        }
    free(a), free(b), free(y);
}

/* The depthwise epilogue (sums and requantization fused per pixel) gives the
 * bytes of the two steps it fuses, on random depthwise and grouped shapes
 * with one output channel per group: strides and dilations 1 and 2, windows
 * inside the image and across its edges. */
Test(nn, fused_depthwise_epilogue_matches_its_two_steps)
{
    const axnn_epilogue *e[4];
    size_t ne = epilogues(e);
    for (int round = 0; round < 60; round++) {
        /* G past 64 too: the AVX-512 epilogue sums 64 channels at a time, then 16 */
        size_t G = (size_t)(round % 2 ? epi_range(1, 70) : epi_range(60, 200)), cg = round % 3 ? 1 : (size_t)epi_range(2, 3);
        ax_conv2d_shape s = {.batch = 1, .in_h = (size_t)epi_range(3, 12), .in_w = (size_t)epi_range(3, 12),
                             .in_c = G * cg, .out_c = G, .kernel_h = 3, .kernel_w = 3,
                             .stride_h = (size_t)epi_range(1, 2), .stride_w = (size_t)epi_range(1, 2),
                             .dilation_h = (size_t)epi_range(1, 2), .dilation_w = (size_t)epi_range(1, 2),
                             .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .groups = G};
        size_t oh = (s.in_h + 2 - 2 * s.dilation_h - 1) / s.stride_h + 1;
        size_t ow = (s.in_w + 2 - 2 * s.dilation_w - 1) / s.stride_w + 1, P = oh * ow;
        ax_operand t = epi_next() % 2 ? AX_S8 : AX_U8;
        int32_t za = t == AX_S8 ? epi_range(-128, 127) : epi_range(0, 255);
        uint8_t *x = malloc(s.in_h * s.in_w * s.in_c), *y1 = malloc(P * G), *y2 = malloc(P * G);
        int32_t *acc = malloc(P * G * 4), *sum = malloc(P * G * 4), *row = malloc(G * 4);
        int32_t *corr = malloc(G * 4), *zw = malloc(G * 4);
        float *sc = malloc(G * 4);
        for (size_t i = 0; i < s.in_h * s.in_w * s.in_c; i++) x[i] = (uint8_t)epi_next();
        for (size_t i = 0; i < P * G; i++) acc[i] = epi_range(-200000, 200000);
        for (size_t c = 0; c < G; c++)
            corr[c] = epi_range(-5000, 5000), zw[c] = epi_range(-128, 128), sc[c] = (float)epi_range(1, 2000) * 1e-5f;
        /* the type's range, or narrowed as by a fused clip */
        bool clip = round % 4 == 1;
        axnn_requant r = {.corr = corr, .zw = zw, .s = sc, .zp = epi_range(-10, 10),
                          .lo = t == AX_S8 ? (clip ? -20 : -128) : (clip ? 10 : 0),
                          .hi = t == AX_S8 ? (clip ? 60 : 127) : (clip ? 100 : 255), .oc = G};
        for (size_t v = 0; v < ne; v++) {
            e[v]->conv_suma(&s, oh, ow, t, za, x, sum);
            e[v]->requantize(&r, acc, r.oc, sum, true, P, y1, r.oc);
            e[v]->requantize_dw(&r, &s, 0, oh, ow, t, za, x, acc, row, y2);
            cr_assert_eq(memcmp(y1, y2, P * G), 0, "%s, round %d: %zu groups of %zu, %zux%zu", ax_isa_name(e[v]->isa),
                         round, G, cg, s.in_h, s.in_w);
            /* in bands of 1-3 rows, as ax_conv2d_bands hands them over */
            memset(y2, 0, P * G);
            for (size_t oy0 = 0, n; oy0 < oh; oy0 += n) {
                n = 1 + epi_next() % 3;
                if (n > oh - oy0) n = oh - oy0;
                e[v]->requantize_dw(&r, &s, oy0, oy0 + n, ow, t, za, x, acc + oy0 * ow * G, row, y2 + oy0 * ow * G);
            }
            cr_assert_eq(memcmp(y1, y2, P * G), 0, "%s, round %d, in bands: %zu groups of %zu, %zux%zu",
                         ax_isa_name(e[v]->isa), round, G, cg, s.in_h, s.in_w);
        }
        free(x), free(y1), free(y2), free(acc), free(sum), free(row), free(corr), free(zw), free(sc);
    }
}

/* Layers whose multiplier's operand types differ from their tensors' run on
 * a folded table (axnn_fold: the input's XOR and the weights' zero-point
 * term inside the table) where that pays: the same bits as the XOR copy and
 * the activation sums it replaces, on every path and ISA this CPU has. */
static float *run_fold(const ax_nn_model *m, const ax_mult *mult, ax_isa isa, ax_path path, bool fold,
                       const float *x, size_t n, size_t *folded)
{
    size_t L = ax_nn_layer_count(m);
    const ax_mult **ms = malloc(L * sizeof *ms);
    for (size_t i = 0; i < L; i++) ms[i] = mult;
    if (!fold) setenv("AX_NN_FOLD", "0", 1);
    ax_nn_runtime *rt;
    ax_error err;
    int rc = ax_nn_runtime_create_on(m, ms, isa, path, &rt, &err);
    unsetenv("AX_NN_FOLD");
    free(ms);
    if (rc != 0) return NULL; /* this path cannot serve the table */
    *folded = 0;
    for (size_t i = 0; i < L; i++) *folded += axnn_layer_folded(axnn_runtime_layer(rt, i));
    float *y = malloc(n * ax_nn_output_size(m) * sizeof *y);
    cr_assert_eq(ax_nn_runtime_run(rt, n, x, y, 2, &err), 0, "%s", err.msg);
    ax_nn_runtime_free(rt);
    return y;
}

/* whether m's LOWRANK plan on AVX-512 runs the VNNI byte kernel */
static bool byte_kernel(const ax_mult *m)
{
    ax_gemm_plan *p = NULL;
    ax_error err;
    bool yes = ax_cpu_supports(AX_ISA_AVX512) && ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LOWRANK, &p, &err) == 0 &&
               strcmp(ax_gemm_plan_kernel_name(p), "lowrank_gemm_8x32c4__avx512vnni") == 0;
    ax_gemm_plan_free(p);
    return yes;
}

Test(nn, folded_tables_give_the_same_bits, .timeout = 300)
{
    /* mitchell: two-plane LUT; drum and trunc: low-rank forms (or LUT if
     * forced; drum folds into one term and a row term); when
     * ../shared/evoapprox is there, mul8u_0AB: one plane over
     * a linear base, which the folded table keeps, and mul8u_12KA: a*w plus
     * a rank-1 error, whose folded form keeps its byte terms against the
     * exact product of a shifted operand (kernels/lowrank.c) */
    static const char *const specs[] = {"mitchell-u8:w=3", "mitchell-s8:w=3", "drum-u8:k=4", "trunc-s8:k=4", "exact-u8",
                                        "mul8u_0AB",       "mul8u_12KA"};
    static const ax_isa isas[] = {AX_ISA_SCALAR, AX_ISA_AVX2, AX_ISA_AVX512, AX_ISA_NEON};
    static const ax_path paths[] = {AX_PATH_AUTO, AX_PATH_LUT};
    ax_nn_model *models[3];
    float *inputs[3];
    size_t sizes[3];
    json_object *j[2];
    models[0] = quantized_ops_mix(AX_S8, &inputs[0], &sizes[0], &j[0]);
    models[1] = quantized_ops_mix(AX_U8, &inputs[1], &sizes[1], &j[1]);
    ax_error err;
    cr_assert_eq(ax_nn_build_mobilenet_v2(64, 3, &models[2], &err), 0, "%s", err.msg);
    sizes[2] = 2;
    inputs[2] = malloc(2 * 64 * 64 * 3 * sizeof(float));
    for (size_t i = 0; i < 2 * 64 * 64 * 3; i++) inputs[2][i] = (float)((i * 2654435761u) >> 20 & 255) / 64.0f - 2.0f;
    size_t folded_lut_s8 = 0, folded_u8_model = 0;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        ax_mult *mult;
        if (strncmp(specs[s], "mul8u_", 6) == 0 && ax_mult_resolve(specs[s], &mult, &err) != 0) {
            cr_log_warn("%s: not found (../shared/evoapprox absent?): not checked", specs[s]);
            continue;
        }
        if (strncmp(specs[s], "mul8u_", 6) != 0) cr_assert_eq(ax_mult_resolve(specs[s], &mult, &err), 0, "%s", err.msg);
        size_t folded_here = 0, folded_auto = 0; /* AUTO on AVX-512, s8 inputs: the byte kernel */
        for (size_t mi = 0; mi < 3; mi++)
            for (size_t ii = 0; ii < sizeof isas / sizeof *isas; ii++)
                for (size_t pi = 0; pi < 2; pi++) {
                    if (!ax_cpu_supports(isas[ii])) continue;
                    size_t f0 = 0, f1 = 0, outs = sizes[mi] * ax_nn_output_size(models[mi]);
                    float *a = run_fold(models[mi], mult, isas[ii], paths[pi], false, inputs[mi], sizes[mi], &f0);
                    float *b = run_fold(models[mi], mult, isas[ii], paths[pi], true, inputs[mi], sizes[mi], &f1);
                    cr_assert((a == NULL) == (b == NULL));
                    if (!a) continue;
                    cr_assert_eq(f0, 0, "AX_NN_FOLD=0 still folded %zu layers", f0);
                    cr_assert_eq(memcmp(a, b, outs * sizeof *a), 0, "%s, model %zu, %s, path %s: folding (%zu layers) "
                                 "changed the outputs", specs[s], mi, ax_isa_name(isas[ii]),
                                 ax_path_name(paths[pi]), f1);
                    folded_here += f1;
                    if (paths[pi] == AX_PATH_AUTO && isas[ii] == AX_ISA_AVX512 && mi != 1) folded_auto += f1;
                    if (s == 0 && mi != 1) folded_lut_s8 += f1;
                    if (s == 1 && mi == 1) folded_u8_model += f1;
                    free(a), free(b);
                }
        if (strncmp(specs[s], "mul8u_", 6) == 0) cr_assert_gt(folded_here, 0, "%s never folded", specs[s]);
        /* on the AVX-512 VNNI byte kernel: 12KA's folded form keeps its byte
         * terms; drum's gains a row term, free in dense layers */
        if ((strcmp(specs[s], "mul8u_12KA") == 0 || strncmp(specs[s], "drum-u8", 7) == 0) && byte_kernel(mult))
            cr_assert_gt(folded_auto, 0, "%s never folded on the byte kernel", specs[s]);
        ax_mult_free(mult);
    }
    /* the two-plane LUT table folds under s8 weights (zw = 128) and an s8 one under u8 inputs (the XOR) */
    cr_assert_gt(folded_lut_s8, 0);
    cr_assert_gt(folded_u8_model, 0);
    for (size_t mi = 0; mi < 3; mi++) free(inputs[mi]), ax_nn_free(models[mi]);
    json_object_put(j[0]), json_object_put(j[1]);
}

/* ax_nn_runtime_kernel names the kernel each layer runs: MobileNetV2's
 * depthwise layers a depthwise one (dwconv2d.c), the others not, on a LUT
 * table (byte planes) and a low-rank one (the integer form on AVX-512 VNNI
 * and AVX2) */
Test(nn, runtime_names_each_layers_kernel)
{
    ax_nn_model *m;
    ax_error err;
    cr_assert_eq(ax_nn_build_mobilenet_v2(64, 3, &m, &err), 0, "%s", err.msg);
    size_t L = ax_nn_layer_count(m);
    static const char *const specs[] = {"mitchell-u8:w=3", "trunc-s8:k=4"};
    static const ax_path paths[] = {AX_PATH_LUT, AX_PATH_AUTO};
    for (size_t s = 0; s < 2; s++) {
        ax_mult *mult;
        cr_assert_eq(ax_mult_resolve(specs[s], &mult, &err), 0, "%s", err.msg);
        const ax_mult **ms = malloc(L * sizeof *ms);
        for (size_t i = 0; i < L; i++) ms[i] = mult;
        ax_nn_runtime *rt;
        cr_assert_eq(ax_nn_runtime_create_on(m, ms, AX_ISA_AUTO, paths[s], &rt, &err), 0, "%s", err.msg);
        size_t dw = 0;
        for (size_t i = 0; i < L; i++) {
            ax_nn_layer_info li;
            ax_nn_layer_get(m, i, &li);
            const char *k = ax_nn_runtime_kernel(rt, i);
            bool depthwise = li.groups > 1 && li.groups == li.n;
            cr_assert(k && (strstr(k, "_dwconv_") != NULL) == depthwise, "%s: layer %s (%zu groups) runs %s", specs[s],
                      li.name, li.groups, k ? k : "(none)");
            dw += depthwise;
        }
        cr_assert_gt(dw, 0);
        ax_nn_runtime_free(rt), free(ms), ax_mult_free(mult);
    }
    ax_nn_free(m);
}

/* n bytes that end where an inaccessible page begins, so a read past them
 * faults (im2col's 16-byte moves must stay inside the batch's images) */
static uint8_t *bytes_before_guard(size_t n, char **map, size_t *len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), data = (n + page - 1) / page * page;
    *len = data + page;
    *map = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(*map, MAP_FAILED);
    cr_assert_eq(mprotect(*map + data, page, PROT_NONE), 0);
    return (uint8_t *)*map + data - n;
}

/* A dense conv's GEMM rows (nn/im2col.c) against a plain loop: channel
 * counts on each side of the inline copies' sizes (8, 16, 32 bytes), pads,
 * strides, dilations, the XOR, row sums, and row ranges that start and end
 * inside images of a batch. The input ends at a guard page. */
Test(nn, im2col_rows_match_a_plain_loop)
{
    static const size_t cs[] = {1, 2, 3, 5, 8, 11, 16, 17, 32, 33, 40};
    for (int round = 0; round < 300; round++) {
        size_t C = cs[epi_next() % (sizeof cs / sizeof *cs)];
        ax_conv2d_shape s = {.batch = (size_t)epi_range(1, 3), .in_h = (size_t)epi_range(1, 7),
                             .in_w = (size_t)epi_range(1, 7), .in_c = C, .out_c = 1,
                             .kernel_h = (size_t)epi_range(1, 3), .kernel_w = (size_t)epi_range(1, 4),
                             .stride_h = (size_t)epi_range(1, 2), .stride_w = (size_t)epi_range(1, 2),
                             .dilation_h = (size_t)epi_range(1, 2), .dilation_w = (size_t)epi_range(1, 2),
                             .pad_top = (size_t)epi_range(0, 2), .pad_left = (size_t)epi_range(0, 2),
                             .pad_bottom = (size_t)epi_range(0, 2), .pad_right = (size_t)epi_range(0, 2),
                             .groups = 1, .pad_byte = (uint8_t)epi_next()};
        long eh = (long)(s.in_h + s.pad_top + s.pad_bottom) - (long)(s.dilation_h * (s.kernel_h - 1) + 1);
        long ew = (long)(s.in_w + s.pad_left + s.pad_right) - (long)(s.dilation_w * (s.kernel_w - 1) + 1);
        if (eh < 0 || ew < 0) continue;
        size_t oh = (size_t)eh / s.stride_h + 1, ow = (size_t)ew / s.stride_w + 1, M = s.batch * oh * ow;
        size_t K = s.kernel_h * s.kernel_w * C, r0 = (size_t)epi_range(0, (int32_t)M - 1);
        size_t rows = (size_t)epi_range(1, (int32_t)(M - r0));
        uint8_t xor_in = epi_next() % 2 ? 0x80 : 0;
        bool s8 = epi_next() % 2;
        char *map;
        size_t map_len;
        uint8_t *x = bytes_before_guard(s.batch * s.in_h * s.in_w * C, &map, &map_len), *got = malloc(rows * K + 1);
        int32_t *sums = malloc(rows * sizeof *sums);
        for (size_t i = 0; i < s.batch * s.in_h * s.in_w * C; i++) x[i] = (uint8_t)epi_next();
        got[rows * K] = 0xa5; /* nothing written past the rows */
        axnn_im2col_rows(&s, oh, ow, x, r0, rows, xor_in, got, sums, s8);
        cr_assert_eq(got[rows * K], 0xa5, "round %d: written past the last row", round);
        for (size_t r = 0; r < rows; r++) {
            size_t pix = r0 + r, b = pix / (oh * ow), oy = pix / ow % oh, ox = pix % ow;
            int32_t sum = 0;
            for (size_t k = 0; k < K; k++) { /* column k: tap (ky, kx), channel c */
                size_t ky = k / (s.kernel_w * C), kx = k / C % s.kernel_w, c = k % C, iy, ix;
                uint8_t want = tap_pixel(&s, oy, ox, ky, kx, &iy, &ix)
                                   ? x[((b * s.in_h + iy) * s.in_w + ix) * C + c] ^ xor_in
                                   : s.pad_byte;
                cr_assert_eq(got[r * K + k], want, "round %d (C %zu, rows %zu from %zu): row %zu column %zu", round,
                             C, rows, r0, r, k);
                sum += s8 ? (int8_t)want : want;
            }
            cr_assert_eq(sums[r], sum, "round %d: row %zu's sum", round, r);
        }
        munmap(map, map_len), free(got), free(sums);
    }
}

/* ResNet's residual Adds and the ReLUs after them run as one pass over the
 * bytes (axnn_qop_fuse): each pair whose ReLU clamps fuses, and the
 * outputs are those of the two ops run apart. Then with a later Add also
 * reading a fused Add's bytes: that pair must stay apart. */
Test(nn, fused_add_relu_gives_the_unfused_bits)
{
    ax_nn_model *m;
    ax_mult *mult;
    ax_error err;
    cr_assert_eq(ax_nn_build_resnet50(32, 5, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_mult_resolve("mitchell-s8:w=3", &mult, &err), 0, "%s", err.msg);
    size_t L = ax_nn_layer_count(m), n = 3, xs = n * 32 * 32 * 3, outs = n * ax_nn_output_size(m);
    const ax_mult **ms = malloc(L * sizeof *ms);
    float *x = malloc(xs * sizeof *x), *y[2];
    for (size_t i = 0; i < L; i++) ms[i] = mult;
    for (size_t i = 0; i < xs; i++) x[i] = (float)((i * 2654435761u) >> 20 & 255) / 64.0f - 2.0f;
    size_t clamping_add = m->n_nodes;
    for (int rewired = 0; rewired < 2; rewired++) {
        if (rewired) { /* the next Add reads a fused Add's bytes instead of its ReLU's */
            int relu_out = m->nodes[clamping_add + 1].out;
            size_t j = clamping_add + 2;
            while (j < m->n_nodes && !(m->nodes[j].op == NN_ADD && m->nodes[j].in[1] == relu_out)) j++;
            cr_assert_lt(j, m->n_nodes, "no Add reads the block's output");
            m->nodes[j].in[1] = m->nodes[clamping_add].out;
        }
        for (int fused = 0; fused < 2; fused++) {
            ax_nn_runtime *rt;
            if (!fused) setenv("AX_NN_FUSE", "0", 1);
            int rc = ax_nn_runtime_create(m, ms, &rt, &err);
            unsetenv("AX_NN_FUSE");
            cr_assert_eq(rc, 0, "%s", err.msg);
            size_t pairs = 0, same_q = 0; /* fused; and Add + ReLU pairs whose ReLU keeps the quantization */
            for (size_t i = 0; i + 1 < m->n_nodes; i++) {
                const axnn_qp *qa = &m->values[m->nodes[i].out].q, *qr = &m->values[m->nodes[i + 1].out].q;
                bool pair = m->nodes[i].op == NN_ADD && m->nodes[i + 1].op == NN_RELU;
                bool clamps = pair && qa->type == qr->type && qa->scale == qr->scale && qa->zp == qr->zp;
                if (clamps && clamping_add == m->n_nodes) clamping_add = i;
                same_q += clamps && !(rewired && i == clamping_add);
                if (rt->qop[i] && rt->qop[i]->next_fused) {
                    pairs++;
                    cr_assert(pair && rt->qop[i + 1]->by_previous);
                }
            }
            /* a ReLU that keeps the quantization clamps: its pair fuses (14 of 16 here) */
            cr_assert_gt(same_q, 0);
            cr_assert_eq(pairs, fused ? same_q : 0, "%zu Add + ReLU pairs fused, %zu whose ReLU keeps the "
                         "quantization (rewired: %d)", pairs, same_q, rewired);
            y[fused] = malloc(outs * sizeof *y[fused]);
            cr_assert_eq(ax_nn_runtime_run(rt, n, x, y[fused], 2, &err), 0, "%s", err.msg);
            ax_nn_runtime_free(rt);
        }
        cr_assert_eq(memcmp(y[0], y[1], outs * sizeof *y[0]), 0, "the fused pairs changed the outputs (rewired: %d)",
                     rewired);
        free(y[0]), free(y[1]);
    }
    free(x), free(ms), ax_mult_free(mult), ax_nn_free(m);
}
