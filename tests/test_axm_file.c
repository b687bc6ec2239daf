/* test_axm_file.c - .axm round trips and every corruption a reader must refuse. */
#include "autoapprox/mult.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A table with every byte of every entry exercised: negative, wide, odd. */
static ax_mult *sample_mult(void)
{
    ax_mult *m = ax_mult_new();
    strcpy(m->name, "sample");
    m->act = AX_U8;
    m->wgt = AX_S8;
    strcpy(m->provenance, "family=test seed=7");
    m->hw.power_mw = 0.391;
    m->hw.area_um2 = 709.6;
    strcpy(m->hw.node, "45nm");
    uint32_t x = 7;
    for (int i = 0; i < AX_TABLE_SIZE; i++) {
        x = x * 1664525u + 1013904223u;
        m->table[i] = (int32_t)x;
    }
    return m;
}

static void refresh_crc(uint8_t *buf, size_t len)
{
    uint32_t c = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) buf[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

static void expect_reject(const uint8_t *buf, size_t len, const char *needle)
{
    ax_mult *m = (ax_mult *)1;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_decode_axm(buf, len, "bad.axm", &m, &err), -1);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "bad.axm") != NULL, "error names the input: %s", err.msg);
    cr_assert(strstr(err.msg, needle) != NULL, "expected '%s' in: %s", needle, err.msg);
}

Test(axm_file, round_trip_in_memory)
{
    ax_mult *m = sample_mult();
    ax_error err;
    size_t len;
    uint8_t *buf = ax_mult_encode_axm(m, &len, &err);
    cr_assert_not_null(buf, "%s", err.msg);
    ax_mult *back;
    cr_assert_eq(ax_mult_decode_axm(buf, len, "mem", &back, &err), 0, "%s", err.msg);
    cr_assert_str_eq(back->name, "sample");
    cr_assert_eq(back->act, AX_U8);
    cr_assert_eq(back->wgt, AX_S8);
    cr_assert_str_eq(back->provenance, m->provenance);
    cr_assert_float_eq(back->hw.power_mw, 0.391, 1e-12);
    cr_assert_float_eq(back->hw.area_um2, 709.6, 1e-12);
    cr_assert(isnan(back->hw.delay_ns));
    cr_assert_str_eq(back->hw.node, "45nm");
    cr_assert_eq(memcmp(back->table, m->table, sizeof m->table), 0);
    free(buf);
    ax_mult_free(back);
    ax_mult_free(m);
}

Test(axm_file, save_and_load_file)
{
    char *dir = ax_test_tmpdir();
    char *path = ax_test_path(dir, "s.axm");
    ax_mult *m = sample_mult(), *back;
    ax_error err;
    cr_assert_eq(ax_mult_save(m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_mult_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(back->table, m->table, sizeof m->table), 0);
    char a[65], b[65];
    ax_mult_table_sha256(m, a);
    ax_mult_table_sha256(back, b);
    cr_assert_str_eq(a, b);
    ax_mult_free(back);
    ax_mult_free(m);
    free(path);
    ax_test_rmtree(dir);
    free(dir);
}

Test(axm_file, rejects_every_corruption)
{
    ax_mult *m = sample_mult();
    ax_error err;
    size_t len;
    uint8_t *good = ax_mult_encode_axm(m, &len, &err);
    uint8_t *buf = malloc(len + 8);

    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 4099)) {
        memcpy(buf, good, len);
        expect_reject(buf, cut, cut < 8 ? "truncated" : "truncated");
    }
    memcpy(buf, good, len);
    buf[len] = 0;
    expect_reject(buf, len + 1, "oversized");

    memcpy(buf, good, len);
    buf[1] = 'X';
    expect_reject(buf, len, "wrong magic");

    memcpy(buf, good, len);
    buf[8] = 2;
    expect_reject(buf, len, "unknown .axm version 2");

    memcpy(buf, good, len);
    buf[13] = 0xff; /* metadata length beyond the limit */
    expect_reject(buf, len, "exceeds the limit");

    memcpy(buf, good, len);
    buf[len / 2] ^= 1;
    expect_reject(buf, len, "checksum");

    free(buf);
    free(good);
    ax_mult_free(m);
}

/* Valid CRC, inconsistent content: the metadata checks must still hold. */
Test(axm_file, rejects_bad_metadata)
{
    static const char *const cases[][2] = {
        {"activation=s8\nweight=s8\n", "lacks the name"},
        {"name=x\nweight=s8\n", "lacks the activation"},
        {"name=x\nactivation=s8\n", "lacks the weight"},
        {"name=x\nactivation=s9\nweight=s8\n", "neither s8 nor u8"},
        {"name=x\nname=y\nactivation=s8\nweight=s8\n", "repeated"},
        {"name=x\nactivation=s8\nweight=s8\npower_mw=abc\n", "not a non-negative number"},
        {"name=a/b\nactivation=s8\nweight=s8\n", "name"},
        {"name=x\nactivation=s8\nweight=s8\nnoequals\n", "malformed"},
        {"name=x\nactivation=s8\nweight=s8", "line break"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t ml = strlen(cases[c][0]), len = 16 + ml + 4 * AX_TABLE_SIZE + 4;
        uint8_t *buf = calloc(1, len);
        memcpy(buf, "\x89" "AXM\r\n\x1a\n", 8);
        buf[8] = 1;
        buf[12] = (uint8_t)ml;
        memcpy(buf + 16, cases[c][0], ml);
        refresh_crc(buf, len);
        expect_reject(buf, len, cases[c][1]);
        free(buf);
    }
}

Test(axm_file, unknown_metadata_keys_are_ignored)
{
    const char *meta = "name=x\nactivation=s8\nweight=u8\nfuture_key=1\n";
    size_t ml = strlen(meta), len = 16 + ml + 4 * AX_TABLE_SIZE + 4;
    uint8_t *buf = calloc(1, len);
    memcpy(buf, "\x89" "AXM\r\n\x1a\n", 8);
    buf[8] = 1;
    buf[12] = (uint8_t)ml;
    memcpy(buf + 16, meta, ml);
    refresh_crc(buf, len);
    ax_mult *m;
    ax_error err;
    cr_assert_eq(ax_mult_decode_axm(buf, len, "x.axm", &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->wgt, AX_U8);
    ax_mult_free(m);
    free(buf);
}

Test(axm_file, load_errors_name_the_file)
{
    char *dir = ax_test_tmpdir();
    char *path = ax_test_path(dir, "missing.axm");
    ax_mult *m;
    ax_error err;
    cr_assert_eq(ax_mult_load(path, &m, &err), -1);
    cr_assert(strstr(err.msg, path) != NULL, "%s", err.msg);
    cr_assert_eq(ax_mult_load(dir, &m, &err), -1); /* a folder */
    cr_assert(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
    free(path);
    ax_test_rmtree(dir);
    free(dir);
}

Test(axm_file, failed_save_leaves_no_file)
{
    char *dir = ax_test_tmpdir();
    char *path = ax_test_path(dir, "nope/x.axm");
    ax_mult *m = sample_mult();
    ax_error err;
    cr_assert_eq(ax_mult_save(m, path, &err), -1);
    m->name[0] = 0; /* invalid: nothing may be written */
    char *p2 = ax_test_path(dir, "y.axm");
    cr_assert_eq(ax_mult_save(m, p2, &err), -1);
    FILE *f = fopen(p2, "rb");
    cr_assert_null(f);
    ax_mult_free(m);
    free(path);
    free(p2);
    ax_test_rmtree(dir);
    free(dir);
}
