/* test_source.c - image sources (data/): Pillow-exact resize and crop,
 * Pillow-exact JPEG decoding (gray, CMYK, YCCK), torchvision's output on real
 * photographs, ImageFolder/flat listings with their labels, the clear
 * errors, bad items, IDX through the same interface, and `data export`.
 * Golden data: tests/fixtures/preprocess/, made by
 * tools/scripts/make_preprocess_golden.py with Pillow 9.4 / torchvision 0.14. */
#include "autoapprox/data.h"
#include "data/data_internal.h"
#include "lut/ax_internal.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>
#include <zlib.h>

static char *fixture(const char *name)
{
    const char *d = getenv("AX_TEST_FIXTURES");
    cr_assert(d, "AX_TEST_FIXTURES unset");
    char *p = malloc(strlen(d) + strlen(name) + 16);
    sprintf(p, "%s/preprocess/%s", d, name);
    return p;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    uint8_t *b;
    ax_error err;
    cr_assert_eq(ax_read_file(path, (size_t)1 << 30, &b, len, &err), 0, "%s", err.msg);
    return b;
}

static uint8_t *read_gz(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while ((r = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    gzclose(f);
    *len = n;
    return b;
}

/* The generator of make_preprocess_golden.py: ramps plus hashed noise. */
static uint8_t *pattern(int w, int h, int c)
{
    uint8_t *p = malloc((size_t)w * (size_t)h * (size_t)c);
    for (uint32_t y = 0; y < (uint32_t)h; y++)
        for (uint32_t x = 0; x < (uint32_t)w; x++)
            for (uint32_t ch = 0; ch < (uint32_t)c; ch++) {
                uint32_t smooth = x * 200 / (uint32_t)w + y * 55 / (uint32_t)h;
                uint32_t noise = ((x * 73856093u) ^ (y * 19349663u) ^ ((ch + 1) * 83492791u)) >> 26;
                p[((size_t)y * (size_t)w + x) * (size_t)c + ch] = (uint8_t)((smooth + noise + ch * 40) & 255);
            }
    return p;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *count)
{
    int m = 0;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) (*count)++;
        if (d > m) m = d;
    }
    return m;
}

static ax_preprocess_spec spec(uint32_t resize, uint32_t crop)
{
    ax_preprocess_spec p;
    ax_preprocess_none(&p);
    p.resize = resize, p.crop = crop;
    return p;
}

Test(source, resize_and_crop_equal_pillow)
{
    char *idx = fixture("resize.txt"), *bin = fixture("resize.bin.gz");
    size_t glen;
    uint8_t *gold = read_gz(bin, &glen);
    FILE *f = fopen(idx, "r");
    cr_assert(f);
    char name[64], off[32], hash[65];
    int w, h, r, c, ow, oh, cases = 0;
    while (fscanf(f, "%63s %d %d %d %d %d %d %31s %64s", name, &w, &h, &r, &c, &ow, &oh, off, hash) == 9) {
        uint8_t *in = pattern(w, h, 3), *out = malloc((size_t)ow * (size_t)oh * 3);
        size_t n = (size_t)ow * (size_t)oh * 3, cnt;
        if (r < 0) { /* Image.resize((ow, oh)) alone, and windows of it */
            cr_assert_eq(ax_resize_bilinear_pillow(in, w, h, 3, out, ow, oh), 0);
            int x0 = ow > 2 ? 1 : 0, y0 = oh > 3 ? 2 : 0, cw = ow - 2 * x0, ch = oh - y0 - (oh > 3);
            uint8_t *win = malloc((size_t)cw * (size_t)ch * 3);
            cr_assert_eq(ax_resize_bilinear_pillow_window(in, w, h, 3, ow, oh, x0, y0, cw, ch, win), 0);
            for (int y = 0; y < ch; y++)
                cr_assert(!memcmp(win + (size_t)y * (size_t)cw * 3, out + ((size_t)(y0 + y) * (size_t)ow + (size_t)x0) * 3,
                                  (size_t)cw * 3), "%s: window row %d differs from the full resize", name, y);
            free(win);
        } else {
            ax_preprocess_spec p = spec((uint32_t)r, (uint32_t)c);
            int gw, gh;
            ax_preprocess_out_size(&p, w, h, &gw, &gh);
            cr_assert(gw == ow && gh == oh, "%s: %dx%d, torchvision %dx%d", name, gw, gh, ow, oh);
            cr_assert_eq(ax_preprocess_u8(&p, in, w, h, 3, out), 0);
        }
        if (strcmp(off, "-") != 0) {
            size_t o = strtoul(off, NULL, 10);
            cr_assert_leq(o + n, glen);
            int m = max_diff(out, gold + o, n, &cnt);
            cr_assert_eq(m, 0, "%s: %zu bytes differ from Pillow's, by up to %d", name, cnt, m);
        }
        char got[65];
        ax_sha256_hex(out, n, got);
        cr_assert_str_eq(got, hash, "%s: output differs from Pillow's", name);
        free(in), free(out);
        cases++;
    }
    fclose(f);
    cr_assert_geq(cases, 26, "only %d cases read from %s", cases, idx);
    free(gold), free(idx), free(bin);
}

Test(source, jpeg_decode_equals_pillow_convert_rgb)
{
    char *idx = fixture("jpeg.txt"), *bin = fixture("jpeg.bin.gz");
    size_t glen;
    uint8_t *gold = read_gz(bin, &glen);
    FILE *f = fopen(idx, "r");
    cr_assert(f);
    char name[64], hash[65];
    int w, h, cases = 0;
    size_t off;
    while (fscanf(f, "%63s %d %d %zu %64s", name, &w, &h, &off, hash) == 5) {
        char *path = fixture(name);
        size_t len, cnt;
        uint8_t *jpg = read_all(path, &len), *rgb;
        int gw, gh;
        ax_error err;
        cr_assert_eq(ax_jpeg_decode_rgb(jpg, len, path, &rgb, &gw, &gh, &err), 0, "%s", err.msg);
        cr_assert(gw == w && gh == h, "%s: %dx%d, Pillow %dx%d", name, gw, gh, w, h);
        size_t n = (size_t)w * (size_t)h * 3;
        cr_assert_leq(off + n, glen);
        int m = max_diff(rgb, gold + off, n, &cnt);
        cr_assert_eq(m, 0, "%s: %zu bytes differ from Pillow's convert('RGB'), by up to %d", name, cnt, m);
        free(jpg), free(rgb), free(path);
        cases++;
    }
    fclose(f);
    cr_assert_eq(cases, 8);
    free(gold), free(idx), free(bin);
}

Test(source, cmyk_conversion_is_pillows_formula)
{
    /* Pillow's cmyk2rgb: nk - round(c * nk / 255) with nk = 255 - k. Spot
     * values computed with Pillow 9.4: Image.fromarray(.., 'CMYK').convert('RGB'). */
    const uint8_t in[][4] = {{0, 0, 0, 0}, {255, 255, 255, 255}, {128, 64, 200, 30}, {10, 250, 3, 254}};
    const uint8_t want[][3] = {{255, 255, 255}, {0, 0, 0}, {112, 169, 49}, {1, 0, 1}};
    for (size_t i = 0; i < 4; i++) {
        uint8_t rgb[3];
        ax_cmyk_to_rgb_pillow(in[i], rgb, 1);
        cr_assert(!memcmp(rgb, want[i], 3), "CMYK %u %u %u %u -> %u %u %u", in[i][0], in[i][1], in[i][2], in[i][3],
                  rgb[0], rgb[1], rgb[2]);
    }
}

/* ---- folders ---- */

static void put(const char *dir, const char *rel, const void *data, size_t len)
{
    char *p = ax_test_path(dir, rel);
    mkdir(dir, 0755);
    for (char *s = p + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    cr_assert_eq(ax_test_write(p, data, len), 0, "cannot write %s", p);
    free(p);
}

static void put_jpeg(const char *dir, const char *rel)
{
    char *src = fixture("rgb444.jpg");
    size_t len;
    uint8_t *b = read_all(src, &len);
    put(dir, rel, b, len);
    free(b), free(src);
}

static void put_text(const char *dir, const char *rel, const char *text)
{
    put(dir, rel, text, strlen(text));
}

static ax_source *open_ok(const char *dir, const char *labels, const char *synsets, int pp_imagenet)
{
    ax_source_options o;
    ax_source_options_init(&o);
    if (pp_imagenet) ax_preprocess_imagenet(&o.pp);
    o.labels = labels, o.synsets = synsets;
    ax_source *s;
    ax_error err;
    cr_assert_eq(ax_source_open(dir, &o, &s, &err), 0, "%s", err.msg);
    return s;
}

static void open_fails(const char *dir, const char *labels, const char *synsets, const char *needle)
{
    ax_source_options o;
    ax_source_options_init(&o);
    o.labels = labels, o.synsets = synsets;
    ax_source *s = NULL;
    ax_error err;
    cr_assert_eq(ax_source_open(dir, &o, &s, &err), -1, "accepted; expected '%s'", needle);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, needle), "expected '%s' in: %s", needle, err.msg);
}

static const char *rel(const ax_source *s, size_t i, const char *dir)
{
    return ax_source_item_name(s, i) + strlen(dir) + 1;
}

Test(source, imagefolder_order_and_classes_are_torchvisions)
{
    char *d = ax_test_tmpdir();
    /* Classes sorted bytewise ("B" < "a" < "a b" < "a-c"); within a class
     * os.walk's folders sorted by path ("a/sub" < "a/sub-x"), then file
     * names; any case of the extension; other files ignored. The expected
     * order is torchvision 0.14's ImageFolder(...).samples on this tree. */
    const char *files[] = {"a/9.jpg", "a/10.JPEG", "a/sub/1.jpg", "a/sub-x/0.jpg", "a/readme.txt", "a b/z.Jpg",
                           "B/x.jpg", "a-c/y.jpeg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) put_jpeg(d, files[i]);
    ax_source *s = open_ok(d, NULL, NULL, 1);
    cr_assert_str_eq(ax_source_kind(s), "imagefolder");
    const char *want[] = {"B/x.jpg", "a/10.JPEG", "a/9.jpg", "a/sub/1.jpg", "a/sub-x/0.jpg", "a b/z.Jpg", "a-c/y.jpeg"};
    const size_t labels[] = {0, 1, 1, 1, 1, 2, 3};
    cr_assert_eq(ax_source_count(s), 7);
    cr_assert_eq(ax_source_num_classes(s), 4);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_str_eq(rel(s, i, d), want[i], "item %zu", i);
        cr_assert_eq(ax_source_label(s, i), labels[i], "item %zu", i);
    }
    size_t h, w, c;
    ax_source_shape(s, &h, &w, &c);
    cr_assert(h == 224 && w == 224 && c == 3);
    ax_source_close(s);
    /* A class folder without images is an error, as in torchvision. */
    char *e = ax_test_path(d, "empty");
    mkdir(e, 0755);
    free(e);
    open_fails(d, NULL, NULL, "class folder 'empty' holds no image");
    ax_test_rmtree(d);
    free(d);
}

Test(source, flat_folder_with_csv_labels_and_synsets)
{
    char *d = ax_test_tmpdir(), *img = ax_test_path(d, "img");
    put_jpeg(img, "v3.JPEG"), put_jpeg(img, "v1.JPEG"), put_jpeg(img, "v2.JPEG");
    put_text(d, "syn.txt", "n01440764 tench, Tinca tinca\nn01443537 goldfish\n\nn01484850 great white shark\n");
    /* Kaggle's LOC_val_solution.csv: header, names without extension, the
     * label is the first token of the second field. */
    put_text(d, "sol.csv", "ImageId,PredictionString\nv2,n01484850 1 2 3 4 n01484850 5 6 7 8\n"
                           "v3,n01440764 1 1 1 1\r\nv1,n01443537 0 0 9 9\n");
    char *syn = ax_test_path(d, "syn.txt"), *sol = ax_test_path(d, "sol.csv");
    ax_source *s = open_ok(img, sol, syn, 1);
    cr_assert_str_eq(ax_source_kind(s), "flat");
    cr_assert_eq(ax_source_count(s), 3);
    cr_assert_eq(ax_source_num_classes(s), 3);
    const char *want[] = {"v1.JPEG", "v2.JPEG", "v3.JPEG"};
    const size_t labels[] = {1, 2, 0};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(rel(s, i, img), want[i]);
        cr_assert_eq(ax_source_label(s, i), labels[i], "item %zu", i);
    }
    ax_source_close(s);
    /* Caffe's val.txt: "name index", blank-separated. */
    put_text(d, "val.txt", "v1.JPEG 7\nv3.JPEG 0\nv2.JPEG 65\n");
    char *val = ax_test_path(d, "val.txt");
    s = open_ok(img, val, NULL, 0);
    cr_assert(ax_source_label(s, 0) == 7 && ax_source_label(s, 1) == 65 && ax_source_label(s, 2) == 0);
    cr_assert_eq(ax_source_num_classes(s), 66);
    ax_source_close(s);
    ax_test_rmtree(d);
    free(d), free(img), free(syn), free(sol), free(val);
}

Test(source, ilsvrc_ground_truth_lines_with_synsets)
{
    char *d = ax_test_tmpdir(), *img = ax_test_path(d, "val");
    put_jpeg(img, "ILSVRC2012_val_00000002.JPEG"), put_jpeg(img, "ILSVRC2012_val_00000001.JPEG");
    put_text(d, "syn.txt", "n01440764 tench\nn01443537 goldfish\n");
    put_text(d, "gt.txt", "n01443537\nn01440764\n");
    char *syn = ax_test_path(d, "syn.txt"), *gt = ax_test_path(d, "gt.txt");
    ax_source *s = open_ok(img, gt, syn, 1);
    cr_assert_str_eq(rel(s, 0, img), "ILSVRC2012_val_00000001.JPEG");
    cr_assert(ax_source_label(s, 0) == 1 && ax_source_label(s, 1) == 0);
    ax_source_close(s);
    ax_test_rmtree(d);
    free(d), free(img), free(syn), free(gt);
}

Test(source, folder_and_label_errors_are_clear)
{
    char *d = ax_test_tmpdir(), *img = ax_test_path(d, "img"), *empty = ax_test_path(d, "empty");
    mkdir(empty, 0755);
    open_fails(empty, NULL, NULL, "no images");
    put_jpeg(img, "a.jpg"), put_jpeg(img, "b.jpg");
    open_fails(img, NULL, NULL, "needs a labels file");
    char *p = ax_test_path(d, "l.txt"), *syn = ax_test_path(d, "syn.txt");
    put_text(d, "syn.txt", "n01440764 tench\nn01443537 goldfish\n");
    struct {
        const char *labels, *needle;
        bool syn;
    } cases[] = {
        {"a.jpg,0\n", "no label for", false},                             /* missing file */
        {"a.jpg,0\nb.jpg,1\nc.jpg,1\n", "no image 'c.jpg'", false},      /* extra file */
        {"a.jpg,0\nb.jpg,1\na.jpg,1\n", "a second label", false},        /* duplicate */
        {"0\n1\n1\n", "3 labels for 2 images", false},                   /* wrong count */
        {"0\n", "1 labels for 2 images", false},
        {"a.jpg,n09999999\nb.jpg,0\n", "unknown synset 'n09999999'", true},
        {"n01440764\nn02000000\n", "line 2: unknown synset 'n02000000'", true},
        {"a.jpg,n01440764\nb.jpg,0\n", "needs the synset mapping", false},
        {"a.jpg,5\nb.jpg,0\n", "class index 5 but the synsets file has 2", true},
        {"a.jpg,0\nb.jpg,-1\n", "neither a class index nor a synset", false},
        {"\n\n", "no labels", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put_text(d, "l.txt", cases[i].labels);
        open_fails(img, p, cases[i].syn ? syn : NULL, cases[i].needle);
    }
    put_text(d, "l.txt", "0\n1\n");
    put_text(d, "syn.txt", "n01440764 tench\nn01440764 again\n");
    open_fails(img, p, syn, "appears twice");
    char *nofile = ax_test_path(d, "absent.txt");
    open_fails(img, nofile, NULL, "absent.txt");
    ax_test_rmtree(d);
    free(d), free(img), free(empty), free(p), free(syn), free(nofile);
}

Test(source, unreadable_images_are_bad_items_naming_the_file)
{
    char *d = ax_test_tmpdir();
    put_jpeg(d, "c/0good.jpg");
    put_text(d, "c/1garbage.jpg", "this is not a JPEG at all");
    put(d, "c/2png.jpg", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    char *src = fixture("rgb420.jpg");
    size_t len;
    uint8_t *b = read_all(src, &len);
    put(d, "c/3truncated.jpg", b, len / 2);
    /* A marker inside the scan: libjpeg warns, Pillow decodes it anyway. */
    b[len / 3] ^= 0xff, b[len / 3 + 1] = 0xff, b[len / 3 + 2] = 0xd9;
    put(d, "c/4warned.jpg", b, len);
    /* Ends inside the APP0 segment: the header "succeeds" without a frame. */
    put(d, "c/5headeronly.jpg", "\xff\xd8\xff\xe0\x00\x10JFIF", 11);
    free(b), free(src);
    ax_source *s = open_ok(d, NULL, NULL, 1);
    cr_assert_eq(ax_source_count(s), 6);
    float *x = malloc(224 * 224 * 3 * sizeof *x);
    ax_error err;
    cr_assert_eq(ax_source_load(s, 0, x, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_source_load(s, 4, x, &err), 0, "%s", err.msg);
    const char *names[] = {NULL, "1garbage.jpg", "2png.jpg", "3truncated.jpg", NULL, "5headeronly.jpg"};
    for (size_t i = 1; i < 6; i++) {
        if (!names[i]) continue;
        memset(&err, 0, sizeof err);
        cr_assert_eq(ax_source_load(s, i, x, &err), AX_SOURCE_BAD_ITEM, "%s accepted", names[i]);
        cr_assert(strstr(err.msg, names[i]), "error does not name the file: %s", err.msg);
    }
    cr_assert_eq(ax_source_load(s, 6, x, &err), -1);
    free(x);
    ax_source_close(s);
    ax_test_rmtree(d);
    free(d);
}

/* An IDX pair of 3 images 4 x 5 (bytes i * 7 % 256) and labels 2, 0, 1. */
static void put_idx(const char *dir)
{
    uint8_t im[16 + 60], lb[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1};
    const uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    memcpy(im, hdr, 16);
    for (int i = 0; i < 60; i++) im[16 + i] = (uint8_t)(i * 7 % 256);
    put(dir, "t10k-images-idx3-ubyte", im, sizeof im);
    put(dir, "t10k-labels-idx1-ubyte", lb, sizeof lb);
}

Test(source, idx_through_the_source_equals_the_dataset)
{
    char *d = ax_test_tmpdir();
    put_idx(d);
    ax_source *s = open_ok(d, NULL, NULL, 1); /* imagenet: only mean/std apply */
    ax_dataset ds;
    ax_error err;
    cr_assert_eq(ax_dataset_load_idx(d, "test", &ds, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ax_source_kind(s), "idx");
    size_t h, w, c;
    ax_source_shape(s, &h, &w, &c);
    cr_assert(h == 4 && w == 5 && c == 1 && ax_source_count(s) == 3 && ax_source_num_classes(s) == 3);
    ax_preprocess_spec pp;
    ax_preprocess_imagenet(&pp);
    for (size_t i = 0; i < 3; i++) {
        uint8_t u[20];
        float f[20];
        cr_assert_eq(ax_source_load_u8(s, i, u, &err), 0);
        cr_assert(!memcmp(u, ds.images + 20 * i, 20));
        cr_assert_eq(ax_source_load(s, i, f, &err), 0);
        for (int k = 0; k < 20; k++) {
            float want = ((float)u[k] / 255.0f - pp.mean[0]) / pp.std[0];
            cr_assert(f[k] == want, "item %zu pixel %d: %.9g != %.9g", i, k, f[k], want);
        }
        cr_assert_eq(ax_source_label(s, i), ds.labels[i]);
        char name[16];
        snprintf(name, sizeof name, "idx:%zu", i);
        cr_assert_str_eq(ax_source_item_name(s, i), name);
    }
    ax_dataset_free(&ds);
    ax_source_close(s);
    ax_test_rmtree(d);
    free(d);
}

Test(source, key_follows_the_listing_and_the_preprocessing)
{
    char *d = ax_test_tmpdir();
    put_jpeg(d, "c/a.jpg"), put_jpeg(d, "c/b.jpg");
    ax_source *s1 = open_ok(d, NULL, NULL, 1), *s2 = open_ok(d, NULL, NULL, 1), *s3 = open_ok(d, NULL, NULL, 0);
    cr_assert_eq(strlen(ax_source_key(s1)), 64);
    cr_assert_str_eq(ax_source_key(s1), ax_source_key(s2));
    cr_assert_str_neq(ax_source_key(s1), ax_source_key(s3));
    char *p = ax_test_path(d, "c/b.jpg");
    struct utimbuf t = {1000000000, 1000000000};
    utime(p, &t);
    ax_source *s4 = open_ok(d, NULL, NULL, 1);
    cr_assert_str_neq(ax_source_key(s1), ax_source_key(s4));
    ax_source_close(s1), ax_source_close(s2), ax_source_close(s3), ax_source_close(s4);
    ax_test_rmtree(d);
    free(d), free(p);
}

/* ---- real photographs (Debian's python3-sklearn, via tools/setup.sh) ---- */

static char *photo_dir(void)
{
    const char *e = getenv("AX_PHOTO_DIR"), *home = getenv("HOME");
    char *p = malloc(4096);
    if (e && *e) snprintf(p, 4096, "%s", e);
    else snprintf(p, 4096, "%s/.cache/autoapprox/photos", home ? home : "");
    return p;
}

typedef struct photo {
    char name[64], jpeg_sha[65], u8_sha[65], f32_sha[65];
    size_t off;
} photo;

/* The photographs of photos.txt present with the committed content, linked
 * into dir/cls/ as an ImageFolder; how many. */
static size_t link_photos(const char *dir, photo *ph, size_t max)
{
    char *idx = fixture("photos.txt"), *src = photo_dir();
    FILE *f = fopen(idx, "r");
    cr_assert(f);
    size_t n = 0;
    int w, h;
    char cls[4200];
    snprintf(cls, sizeof cls, "%s/cls", dir);
    mkdir(cls, 0755);
    while (n < max && fscanf(f, "%63s %64s %d %d %zu %64s %64s", ph[n].name, ph[n].jpeg_sha, &w, &h, &ph[n].off,
                             ph[n].u8_sha, ph[n].f32_sha) == 7) {
        char path[4200], got[65], to[4300];
        snprintf(path, sizeof path, "%s/%s", src, ph[n].name);
        uint8_t *b;
        size_t len;
        ax_error err;
        if (ax_read_file(path, (size_t)1 << 26, &b, &len, &err) != 0) continue;
        ax_sha256_hex(b, len, got);
        free(b);
        if (strcmp(got, ph[n].jpeg_sha) != 0) continue;
        snprintf(to, sizeof to, "%s/%s", cls, ph[n].name);
        cr_assert_eq(symlink(path, to), 0);
        n++;
    }
    fclose(f);
    free(idx), free(src);
    return n;
}

Test(source, photographs_equal_torchvision_bit_for_bit)
{
    char *d = ax_test_tmpdir(), *pd = photo_dir();
    photo ph[8];
    size_t n = link_photos(d, ph, 8);
    if (n == 0) cr_skip_test("no photographs in %s (tools/setup.sh fetches them from python3-sklearn)", pd);
    char *bin = fixture("photos.bin.gz");
    size_t glen;
    uint8_t *gold = read_gz(bin, &glen);
    ax_source *s = open_ok(d, NULL, NULL, 1);
    cr_assert_eq(ax_source_count(s), n);
    uint8_t *u = malloc(224 * 224 * 3);
    float *x = malloc(224 * 224 * 3 * sizeof *x), *chw = malloc(224 * 224 * 3 * sizeof *chw);
    for (size_t i = 0; i < n; i++) {
        ax_error err;
        size_t cnt;
        cr_assert_eq(ax_source_load_u8(s, i, u, &err), 0, "%s", err.msg);
        cr_assert_leq(ph[i].off + 224 * 224 * 3, glen);
        int m = max_diff(u, gold + ph[i].off, 224 * 224 * 3, &cnt);
        cr_assert_eq(m, 0, "%s: %zu bytes differ from torchvision's resize+crop, by up to %d", ph[i].name, cnt, m);
        cr_assert_eq(ax_source_load(s, i, x, &err), 0, "%s", err.msg);
        for (size_t p = 0; p < 224 * 224; p++)
            for (size_t c = 0; c < 3; c++) chw[c * 224 * 224 + p] = x[p * 3 + c];
        char got[65];
        ax_sha256_hex(chw, 224 * 224 * 3 * sizeof *chw, got);
        cr_assert_str_eq(got, ph[i].f32_sha, "%s: float32 tensor differs from torchvision's", ph[i].name);
    }
    free(u), free(x), free(chw), free(gold), free(bin), free(pd);
    ax_source_close(s);
    ax_test_rmtree(d);
    free(d);
}

typedef struct load_job {
    const ax_source *s;
    int rc;
    uint8_t *out; /* count x 224*224*3 */
} load_job;

static void *load_all(void *arg)
{
    load_job *j = arg;
    for (size_t i = 0; i < ax_source_count(j->s); i++) {
        ax_error err;
        j->rc |= ax_source_load_u8(j->s, i, j->out + i * 224 * 224 * 3, &err);
    }
    return NULL;
}

Test(source, loads_from_two_threads_agree)
{
    char *d = ax_test_tmpdir();
    const char *names[] = {"rgb420.jpg", "gray.jpg", "cmyk.jpg", "ycck.jpg", "progressive.jpg"};
    for (size_t i = 0; i < 5; i++) {
        char *src = fixture(names[i]), rel[64];
        size_t len;
        uint8_t *b = read_all(src, &len);
        snprintf(rel, sizeof rel, "c/%s", names[i]);
        put(d, rel, b, len);
        free(b), free(src);
    }
    ax_source *s = open_ok(d, NULL, NULL, 1);
    load_job a = {s, 0, malloc(5 * 224 * 224 * 3)}, b = {s, 0, malloc(5 * 224 * 224 * 3)};
    pthread_t t;
    pthread_create(&t, NULL, load_all, &a);
    load_all(&b);
    pthread_join(t, NULL);
    cr_assert(a.rc == 0 && b.rc == 0);
    cr_assert(!memcmp(a.out, b.out, 5 * 224 * 224 * 3));
    free(a.out), free(b.out);
    ax_source_close(s);
    ax_test_rmtree(d);
    free(d);
}

/* ---- autoapprox data export ---- */

static int cli(char **out, char **err, const char *const *argv)
{
    int rc = ax_test_cli(out, err, argv);
    cr_assert_neq(rc, -1, "AX_CLI unset");
    return rc;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The float32 tensor of a .npy written by export; checks the header shape. */
static float *load_npy(const char *path, size_t n, size_t c, size_t h, size_t w)
{
    size_t len;
    uint8_t *b = read_all(path, &len);
    char want[128];
    snprintf(want, sizeof want, "'shape': (%zu, %zu, %zu, %zu)", n, c, h, w);
    cr_assert(len >= 256 && !memcmp(b, "\x93NUMPY\x01\x00", 8));
    cr_assert(strstr((char *)b + 10, want), "header: %.200s", (char *)b + 10);
    cr_assert_eq(len, 256 + n * c * h * w * 4);
    float *x = malloc(n * c * h * w * 4);
    memcpy(x, b + 256, n * c * h * w * 4);
    free(b);
    return x;
}

Test(source, export_writes_nchw_in_dataset_order_and_skips_bad_images)
{
    char *d = ax_test_tmpdir(), *data = ax_test_path(d, "data"), *o = ax_test_path(d, "out.npy"),
         *l = ax_test_path(d, "labels.npy");
    const char *names[] = {"a/gray.jpg", "b/cmyk.jpg", "b/odd33x17.jpg"};
    for (size_t i = 0; i < 3; i++) {
        char *src = fixture(strchr(names[i], '/') + 1);
        size_t len;
        uint8_t *b = read_all(src, &len);
        put(data, names[i], b, len);
        free(b), free(src);
    }
    put_text(data, "b/broken.jpg", "not a jpeg");
    char *out, *err;
    const char *argv[] = {"data", "export", "--data", data, "-o", o, "--labels-out", l, NULL};
    int rc = cli(&out, &err, argv);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "exported 3 of 4 images"), "%s", out);
    cr_assert(strstr(out, "skipped 1 unreadable images") && strstr(out, "b/broken.jpg"), "%s", out);
    cr_assert(strstr(err, "broken.jpg: not a JPEG"), "%s", err);
    float *x = load_npy(o, 3, 3, 224, 224);
    ax_source *s = open_ok(data, NULL, NULL, 1);
    float *y = malloc(224 * 224 * 3 * sizeof *y);
    const size_t good[] = {0, 2, 3}; /* a/gray, b/broken (skipped), b/cmyk, b/odd */
    ax_error e;
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(ax_source_load(s, good[k], y, &e), 0, "%s", e.msg);
        for (size_t p = 0; p < 224 * 224; p++)
            for (size_t c = 0; c < 3; c++)
                cr_assert(x[k * 3 * 224 * 224 + c * 224 * 224 + p] == y[p * 3 + c], "image %zu", k);
    }
    size_t len;
    uint8_t *lb = read_all(l, &len);
    cr_assert_eq(len, 256 + 3 * 8);
    int64_t labels[3];
    memcpy(labels, lb + 256, sizeof labels);
    cr_assert(labels[0] == 0 && labels[1] == 1 && labels[2] == 1);
    free(lb), free(out), free(err), free(x), free(y);
    ax_source_close(s);
    /* --limit and --preprocess none on an IDX folder: pixels / 255. */
    char *idx = ax_test_path(d, "idx");
    put_idx(idx);
    const char *argv2[] = {"data", "export", "--data", idx, "--limit", "2", "-o", o, NULL};
    cr_assert_eq(cli(&out, &err, argv2), 0, "%s", err);
    x = load_npy(o, 2, 1, 4, 5);
    for (int i = 0; i < 40; i++) cr_assert(x[i] == (float)(i * 7 % 256) / 255.0f);
    free(out), free(err), free(x), free(idx);
    ax_test_rmtree(d);
    free(d), free(data), free(o), free(l);
}

Test(source, export_errors_leave_no_output)
{
    char *d = ax_test_tmpdir(), *img = ax_test_path(d, "img"), *o = ax_test_path(d, "out.npy"),
         *lab = ax_test_path(d, "l.csv"), *syn = ax_test_path(d, "s.txt"), *empty = ax_test_path(d, "empty");
    mkdir(empty, 0755);
    put_jpeg(img, "x.jpg"), put_jpeg(img, "y.jpg");
    put_text(d, "s.txt", "n01440764 tench\n");
    struct {
        const char *labels, *needle;
    } cases[] = {{NULL, "no images"}, {"x.jpg,0\n", "no label for"}, {"x.jpg,n01440764\ny.jpg,n07777777\n", "unknown synset"}};
    for (size_t i = 0; i < 3; i++) {
        if (cases[i].labels) put_text(d, "l.csv", cases[i].labels);
        const char *argv[] = {"data", "export", "--data", i ? img : empty, "-o", o, "--labels", lab, "--synsets", syn, NULL};
        if (!i) argv[6] = NULL;
        char *out, *err;
        cr_assert_eq(cli(&out, &err, argv), 1, "case %zu: %s", i, err);
        cr_assert(strstr(err, cases[i].needle), "expected '%s' in: %s", cases[i].needle, err);
        cr_assert(!strchr(err, '\n') || strchr(err, '\n') == err + strlen(err) - 1, "more than one line: %s", err);
        cr_assert(!exists(o), "an output file was left");
        free(out), free(err);
    }
    const char *argv[] = {"data", "export", "--data", img, "--preprocess", "bicubic", "-o", o, NULL};
    char *out, *err;
    cr_assert_eq(cli(&out, &err, argv), 2, "%s", err);
    cr_assert(strstr(err, "expected imagenet or none"), "%s", err);
    free(out), free(err);
    ax_test_rmtree(d);
    free(d), free(img), free(o), free(lab), free(syn), free(empty);
}

Test(source, export_matches_torchvision_live)
{
    char *d = ax_test_tmpdir(), *pd = photo_dir(), *o = ax_test_path(d, "out.npy");
    photo ph[8];
    size_t n = link_photos(d, ph, 8);
    if (n == 0) cr_skip_test("no photographs in %s (tools/setup.sh fetches them from python3-sklearn)", pd);
    if (system("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1") != 0)
        cr_skip_test("/usr/bin/python3 has no torchvision (python3-torchvision): the committed golden data stands in");
    char *out, *err;
    const char *argv[] = {"data", "export", "--data", d, "-o", o, NULL};
    cr_assert_eq(cli(&out, &err, argv), 0, "%s", err);
    char *script = fixture("../../../tools/scripts/compare_export.py");
    char cmd[16384];
    int k = snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, o);
    for (size_t i = 0; i < n; i++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s/cls/%s'", d, ph[i].name);
    k += snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>&1");
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    cr_assert(p && fgets(line, sizeof line, p));
    int rc = pclose(p);
    cr_log_info("torchvision vs export: %s", line);
    cr_assert_eq(WEXITSTATUS(rc), 0, "beyond one 8-bit step: %s", line);
    cr_assert(strstr(line, " 0 of "), "not bit-exact: %s", line);
    free(out), free(err), free(script), free(pd), free(o);
    ax_test_rmtree(d);
    free(d);
}
