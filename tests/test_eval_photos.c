/* test_eval_photos.c - `quantize` and `eval` end to end on a folder of JPEG
 * photographs (ImageFolder layout) holding unreadable files: a garbage
 * file, a truncated JPEG and one whose header ends before its frame. They
 * are reported, skipped and counted, never fatal; the cache and a second
 * run give the same figures; `route` reads the same folders and stops,
 * naming the file, at an unreadable one. The photographs are made here with
 * TurboJPEG at the input size of the model (--preprocess none). */
#include "autoapprox/eval.h"
#include "autoapprox/nn.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#define SIDE 12     /* tests/fixtures/nn/ops_mix.onnx: 3 x 12 x 12 in, 6 classes out */
#define ROUTE_SIDE 32 /* the built MobileNetV2 the route test saves */

static char *fixture_model(void)
{
    const char *dir = getenv("AX_TEST_FIXTURES");
    cr_assert(dir != NULL, "AX_TEST_FIXTURES not set");
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/nn/ops_mix.onnx", dir);
    return p;
}

/* A side x side RGB JPEG of seeded noise over a gradient. */
static void put_photo(const char *path, int side, unsigned seed, size_t keep_bytes)
{
    uint8_t px[ROUTE_SIDE * ROUTE_SIDE * 3];
    cr_assert(side <= ROUTE_SIDE);
    for (size_t i = 0; i < (size_t)(side * side * 3); i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (uint8_t)(i * 5 + (seed >> 24) % 64);
    }
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    cr_assert(tj && tjCompress2(tj, px, side, 0, side, TJPF_RGB, &jpg, &len, TJSAMP_444, 90, 0) == 0);
    cr_assert_eq(ax_test_write(path, jpg, keep_bytes && keep_bytes < len ? keep_bytes : len), 0);
    tjFree(jpg);
    tjDestroy(tj);
}

static char *make_folder(const char *dir, int side)
{
    char *root = ax_test_path(dir, "photos");
    char p[4096];
    cr_assert_eq(mkdir(root, 0755), 0);
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/class%d", root, c);
        cr_assert_eq(mkdir(p, 0755), 0);
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s/class%d/img%d.jpg", root, c, i);
            put_photo(p, side, (unsigned)(c * 10 + i + 1), 0);
        }
    }
    snprintf(p, sizeof p, "%s/class0/img1x_garbage.jpg", root);
    cr_assert_eq(ax_test_write(p, "not a JPEG at all", 17), 0);
    snprintf(p, sizeof p, "%s/class1/img2x_truncated.jpg", root);
    put_photo(p, side, 99, 300);
    snprintf(p, sizeof p, "%s/class1/img3x_headeronly.jpg", root);
    cr_assert_eq(ax_test_write(p, "\xff\xd8\xff\xe0\x00\x10JFIF", 11), 0);
    return root;
}

static json_object *eval_json(const char *model, const char *data, const char *cache, const char *json_path)
{
    const char *argv[] = {"eval", "--model", model, "--data", data, "--preprocess", "none", "--batch", "3",
                          "--json", json_path, cache ? "--cache" : NULL, cache, NULL};
    char *err = NULL;
    int rc = ax_test_cli(NULL, &err, argv);
    cr_assert_eq(rc, 0, "eval failed (%d): %s", rc, err);
    cr_assert(strstr(err, "img1x_garbage.jpg") && strstr(err, "img2x_truncated.jpg") &&
                  strstr(err, "img3x_headeronly.jpg"),
              "the unreadable files are not all named on stderr: %s", err);
    free(err);
    json_object *j = json_object_from_file(json_path);
    cr_assert(j, "no JSON at %s", json_path);
    return j;
}

static int64_t geti(json_object *j, const char *key)
{
    json_object *v;
    cr_assert(json_object_object_get_ex(j, key, &v), "JSON lacks %s", key);
    return json_object_get_int64(v);
}

Test(eval_photos, unreadable_jpegs_are_skipped_counted_and_named, .timeout = 300)
{
    char *dir = ax_test_tmpdir(), *data = make_folder(dir, SIDE), *model = fixture_model();
    char *q = ax_test_path(dir, "q.onnx"), *js = ax_test_path(dir, "e.json"), *cache = ax_test_path(dir, "cache");
    char *err = NULL;
    const char *qa[] = {"quantize", "--model", model, "--calib", data, "--preprocess", "none", "-o", q, NULL};
    int rc = ax_test_cli(NULL, &err, qa);
    cr_assert_eq(rc, 0, "quantize on photographs with unreadable files failed: %s", err);
    free(err);

    json_object *a = eval_json(q, data, NULL, js);
    cr_expect_eq(geti(a, "images"), 8, "8 readable photographs");
    cr_expect_eq(geti(a, "skipped"), 3);
    json_object *items;
    cr_assert(json_object_object_get_ex(a, "skipped_items", &items));
    cr_assert_eq(json_object_array_length(items), 3);
    const char *names[] = {"img1x_garbage.jpg", "img2x_truncated.jpg", "img3x_headeronly.jpg"};
    for (size_t i = 0; i < 3; i++) {
        json_object *it = json_object_array_get_idx(items, i), *name;
        cr_assert(json_object_object_get_ex(it, "name", &name));
        cr_expect(strstr(json_object_get_string(name), names[i]), "skipped item %zu is %s", i,
                  json_object_get_string(name));
    }
    /* with a cache, twice: the same figures as without */
    for (int pass = 0; pass < 2; pass++) {
        json_object *b = eval_json(q, data, cache, js);
        cr_expect_eq(geti(b, "images"), 8);
        cr_expect_eq(geti(b, "skipped"), 3);
        json_object *t1a, *t1b;
        cr_assert(json_object_object_get_ex(a, "top1", &t1a) && json_object_object_get_ex(b, "top1", &t1b));
        cr_expect_eq(json_object_get_double(t1a), json_object_get_double(t1b), "pass %d", pass);
        json_object_put(b);
    }
    json_object_put(a);
    ax_test_rmtree(dir);
    free(dir), free(data), free(model), free(q), free(js), free(cache);
}

/* route reads the same folders; an unreadable image stops it, named. The
 * network: the built-in MobileNetV2 at 32 x 32, saved as a QDQ model that
 * records "no preprocessing" (the photographs have its input size). */
static char *mobilenet_at(const char *dir)
{
    ax_nn_model *m;
    ax_error err;
    cr_assert_eq(ax_nn_build_mobilenet_v2(ROUTE_SIDE, 7, &m, &err), 0, "%s", err.msg);
    ax_preprocess_spec pp;
    ax_preprocess_none(&pp);
    cr_assert_eq(ax_eval_preprocess_record(m, &pp, &err), 0, "%s", err.msg);
    char *q = ax_test_path(dir, "mnv2.onnx");
    cr_assert_eq(ax_nn_save_onnx(m, q, &err), 0, "%s", err.msg);
    ax_nn_free(m);
    return q;
}

Test(eval_photos, route_on_a_photo_folder, .timeout = 300)
{
    if (ax_test_reduced()) cr_skip_test("route on photographs: 53 layers are too slow under sanitizers; the release "
                                        "run covers it, the router suite covers the router under sanitizers");
    char *dir = ax_test_tmpdir(), *data = make_folder(dir, ROUTE_SIDE), *q = mobilenet_at(dir);
    char *a = ax_test_path(dir, "a.json"), *err = NULL;
    const char *ra[] = {"route", "--model", q, "--data", data, "--bank", "drum-s8:k=4",
                        "--search-images", "4", "--method", "greedy", "-o", a, NULL};
    int rc = ax_test_cli(NULL, &err, ra);
    cr_expect_eq(rc, 1, "route over unreadable images: exit %d", rc);
    cr_expect(strstr(err, "img1x_garbage.jpg") || strstr(err, "img2x_truncated.jpg") ||
                  strstr(err, "img3x_headeronly.jpg"),
              "the unreadable image is not named: %s", err);
    cr_expect(access(a, F_OK) != 0, "an assignment was written");
    free(err);
    const char *bad[] = {"class0/img1x_garbage.jpg", "class1/img2x_truncated.jpg", "class1/img3x_headeronly.jpg"};
    for (size_t i = 0; i < 3; i++) {
        char *p = ax_test_path(data, bad[i]);
        cr_assert_eq(unlink(p), 0);
        free(p);
    }
    rc = ax_test_cli(NULL, &err, ra);
    cr_assert_eq(rc, 0, "route on 8 photographs: %s", err);
    free(err);
    json_object *j = json_object_from_file(a), *layers;
    cr_assert(j && json_object_object_get_ex(j, "layers", &layers), "no assignment at %s", a);
    cr_expect_eq(json_object_object_length(layers), 53, "every MobileNetV2 layer assigned");
    json_object_put(j);
    ax_test_rmtree(dir);
    free(dir), free(data), free(q), free(a);
}
