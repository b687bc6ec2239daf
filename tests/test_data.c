/* test_data.c - IDX datasets: the strict parser, gzip, folder splits, and
 * clear errors for every malformed file. */
#include "autoapprox/data.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define FASHION "/usr/share/datasets/fashion-mnist"

/* An IDX of u8 with the given dims, data bytes i % 251. */
static uint8_t *make_idx(const uint32_t *dims, int nd, size_t *len)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    *len = 4 + 4 * (size_t)nd + n;
    uint8_t *b = calloc(1, *len);
    b[2] = 0x08, b[3] = (uint8_t)nd;
    for (int i = 0; i < nd; i++)
        for (int k = 0; k < 4; k++) b[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    for (size_t i = 0; i < n; i++) b[4 + 4 * (size_t)nd + i] = (uint8_t)(i % 251);
    return b;
}

static void expect_error(const uint8_t *b, size_t len, const char *needle)
{
    ax_idx idx;
    ax_error err;
    cr_assert_eq(ax_idx_parse(b, len, "x.idx", &idx, &err), -1, "accepted: %s", needle);
    cr_assert(strstr(err.msg, "x.idx") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, needle) != NULL, "expected '%s' in: %s", needle, err.msg);
}

Test(data, idx_parse_valid)
{
    size_t len;
    uint8_t *b = make_idx((uint32_t[]){3, 4, 5}, 3, &len);
    ax_idx idx;
    ax_error err;
    cr_assert_eq(ax_idx_parse(b, len, "x.idx", &idx, &err), 0, "%s", err.msg);
    cr_assert_eq(idx.ndims, 3);
    cr_assert_eq(idx.count, 3);
    cr_assert_eq(idx.item_size, 20);
    cr_assert_eq(idx.data[21], 21);
    ax_idx_free(&idx);
    free(b);
}

Test(data, idx_parse_rejects_malformed)
{
    size_t len;
    uint8_t *b = make_idx((uint32_t[]){2, 2}, 2, &len);
    expect_error(b, 3, "no header");
    expect_error(b, 10, "truncated IDX header");
    expect_error(b, len - 1, "promises 4 data bytes, file has 3");
    uint8_t *longer = calloc(1, len + 1);
    memcpy(longer, b, len);
    expect_error(longer, len + 1, "file has 5");
    b[0] = 1;
    expect_error(b, len, "bad magic");
    b[0] = 0, b[2] = 0x0D;
    expect_error(b, len, "0x0d unsupported");
    b[2] = 0x08, b[3] = 0;
    expect_error(b, len, "0 dimensions");
    b[3] = 5;
    expect_error(b, len, "5 dimensions");
    uint8_t huge[20] = {0, 0, 8, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_error(huge, sizeof huge, "too large");
    free(b), free(longer);
}

static void write_gz(const char *path, const uint8_t *b, size_t len)
{
    gzFile f = gzopen(path, "wb");
    cr_assert(f != NULL);
    cr_assert_eq(gzwrite(f, b, (unsigned)len), (int)len);
    gzclose(f);
}

Test(data, idx_load_plain_and_gzip)
{
    char *dir = ax_test_tmpdir();
    size_t len;
    uint8_t *b = make_idx((uint32_t[]){7, 3, 3}, 3, &len);
    char *plain = ax_test_path(dir, "a.idx"), *gz = ax_test_path(dir, "a.idx.gz");
    cr_assert_eq(ax_test_write(plain, b, len), 0);
    write_gz(gz, b, len);
    ax_idx x, y;
    ax_error err;
    cr_assert_eq(ax_idx_load(plain, &x, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_idx_load(gz, &y, &err), 0, "%s", err.msg);
    cr_assert_eq(x.count, y.count);
    cr_assert_eq(memcmp(x.data, y.data, 63), 0);
    ax_idx_free(&x), ax_idx_free(&y);
    /* a gzip stream cut short */
    uint8_t *raw;
    FILE *f = fopen(gz, "rb");
    raw = malloc(4096);
    size_t n = fread(raw, 1, 4096, f);
    fclose(f);
    cr_assert_eq(ax_test_write(gz, raw, n / 2), 0);
    cr_assert_eq(ax_idx_load(gz, &x, &err), -1);
    cr_assert(strstr(err.msg, "gzip") != NULL, "%s", err.msg);
    free(raw), free(b), free(plain), free(gz);
    ax_test_rmtree(dir), free(dir);
}

Test(data, dataset_folder)
{
    char *dir = ax_test_tmpdir();
    size_t il, ll;
    uint8_t *im = make_idx((uint32_t[]){5, 4, 3}, 3, &il), *lb = make_idx((uint32_t[]){5}, 1, &ll);
    char *ip = ax_test_path(dir, "t10k-images-idx3-ubyte"), *lp = ax_test_path(dir, "t10k-labels-idx1-ubyte.gz");
    ax_dataset d;
    ax_error err;
    cr_assert_eq(ax_test_write(ip, im, il), 0);
    cr_assert_eq(ax_dataset_load_idx(dir, "test", &d, &err), -1);
    cr_assert(strstr(err.msg, "t10k-labels-idx1-ubyte") != NULL, "%s", err.msg);
    write_gz(lp, lb, ll);
    cr_assert_eq(ax_dataset_load_idx(dir, "test", &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.count, 5);
    cr_assert_eq(d.height, 4);
    cr_assert_eq(d.width, 3);
    cr_assert_eq(d.channels, 1);
    cr_assert_eq(d.num_classes, 5);
    ax_dataset_free(&d);
    cr_assert_eq(ax_dataset_load_idx(dir, "train", &d, &err), -1);
    cr_assert(strstr(err.msg, "train-images-idx3-ubyte") != NULL, "%s", err.msg);
    cr_assert_eq(ax_dataset_load_idx(dir, "val", &d, &err), -1);
    cr_assert(strstr(err.msg, "'val'") != NULL, "%s", err.msg);
    free(lb);
    lb = make_idx((uint32_t[]){4}, 1, &ll);
    write_gz(lp, lb, ll);
    cr_assert_eq(ax_dataset_load_idx(dir, "test", &d, &err), -1);
    cr_assert(strstr(err.msg, "4 labels for 5 images") != NULL, "%s", err.msg);
    free(im), free(lb), free(ip), free(lp);
    ax_test_rmtree(dir), free(dir);
}

Test(data, fashion_mnist_package)
{
    struct stat st;
    if (stat(FASHION, &st) != 0) cr_skip_test("%s absent (Debian package dataset-fashion-mnist)", FASHION);
    ax_dataset d;
    ax_error err;
    cr_assert_eq(ax_dataset_load_idx(FASHION, "test", &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.count, 10000);
    cr_assert_eq(d.height, 28);
    cr_assert_eq(d.width, 28);
    cr_assert_eq(d.num_classes, 10);
    ax_dataset_free(&d);
}
