/* test_import.c - every importer format round-trips a known table to the same
 * canonical table (under --index, --order, --endian, --value-offset, u8s8),
 * C models compile and tabulate, bad inputs fail with one line naming the
 * file, and the plausibility check names the flag that fixes a misread. */
#include "autoapprox/mult.h"
#include "lut/ax_internal.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- known tables ----------------------------------------------------------- */

/* A deterministic, non-commutative approximate multiplier for any operand
 * types: exact product plus a small error that depends on both raw bytes
 * (never negative for u8 x u8, so unsigned storage holds it). */
static int32_t approx(ax_operand act, ax_operand wgt, unsigned a, unsigned w)
{
    int32_t bias = act == AX_U8 && wgt == AX_U8 ? 0 : 2;
    return ax_exact_product(act, wgt, a, w) + (int32_t)((a * 7 + w * 13) % 5) - bias;
}

static void make_table(ax_operand act, ax_operand wgt, int32_t *t)
{
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) t[i] = approx(act, wgt, i >> 8, i & 255);
}

/* File order of canonical (a, w), written independently of the library. */
static unsigned file_pos(unsigned a, unsigned w, ax_operand act, ax_operand wgt, bool offset, bool wa)
{
    unsigned x = a, y = w;
    if (offset && act == AX_S8) x = (uint8_t)(ax_operand_value(act, a) + 128);
    if (offset && wgt == AX_S8) y = (uint8_t)(ax_operand_value(wgt, w) + 128);
    return wa ? y * 256 + x : x * 256 + y;
}

static void to_file_order(const int32_t *t, ax_operand act, ax_operand wgt, bool offset, bool wa, int64_t *f)
{
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) f[file_pos(a, w, act, wgt, offset, wa)] = t[a * 256 + w];
}

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct fixture {
    char *dir;
    char *paths[64]; /* handed out by fx_path, freed with the fixture */
    int n_paths;
    int32_t table[AX_TABLE_SIZE];
    int64_t file[AX_TABLE_SIZE];
} fixture;

static fixture *fx_new(ax_operand act, ax_operand wgt, bool offset, bool wa)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = ax_test_tmpdir();
    cr_assert_not_null(fx->dir);
    make_table(act, wgt, fx->table);
    to_file_order(fx->table, act, wgt, offset, wa, fx->file);
    return fx;
}

static void fx_free(fixture *fx)
{
    ax_test_rmtree(fx->dir);
    free(fx->dir);
    for (int i = 0; i < fx->n_paths; i++) free(fx->paths[i]);
    free(fx);
}

/* Path in the fixture folder, valid until fx_free. */
static char *fx_path(fixture *fx, const char *name)
{
    cr_assert_lt(fx->n_paths, 64);
    return fx->paths[fx->n_paths++] = ax_test_path(fx->dir, name);
}

static void put(uint8_t *p, uint64_t v, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++) p[big ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static char *write_raw(fixture *fx, const char *name, unsigned size, bool big, int64_t add)
{
    uint8_t *b = malloc((size_t)size * AX_TABLE_SIZE);
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) put(b + size * i, (uint64_t)(fx->file[i] + add), size, big);
    char *p = fx_path(fx, name);
    cr_assert_eq(ax_test_write(p, b, (size_t)size * AX_TABLE_SIZE), 0);
    free(b);
    return p;
}

static char *write_npy(fixture *fx, const char *name, const char *descr, bool flat, bool fortran)
{
    unsigned size = (unsigned)(descr[2] - '0');
    bool big = descr[0] == '>';
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                     fortran ? "True" : "False", flat ? "(65536,)" : "(256, 256)");
    while ((10 + n + 1) % 64) hdr[n++] = ' ';
    hdr[n++] = '\n';
    size_t len = 10 + (size_t)n + (size_t)size * AX_TABLE_SIZE;
    uint8_t *b = malloc(len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)n;
    b[9] = 0;
    memcpy(b + 10, hdr, (size_t)n);
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) {
        size_t src = fortran ? ((i & 255) << 8 | i >> 8) : i; /* column-major storage */
        put(b + 10 + n + size * i, (uint64_t)fx->file[src], size, big);
    }
    char *p = fx_path(fx, name);
    cr_assert_eq(ax_test_write(p, b, len), 0);
    free(b);
    return p;
}

/* A growing text buffer. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->s && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
}

static char *write_text(fixture *fx, const char *name, sbuf *b)
{
    char *p = fx_path(fx, name);
    cr_assert_eq(ax_test_write(p, b->s, b->len), 0);
    free(b->s);
    memset(b, 0, sizeof *b);
    return p;
}

/* PyTorch-emulator style: nested braces, comments, hex and negative literals. */
static char *write_c_header(fixture *fx, const char *name, const char *type, bool flat)
{
    sbuf b = {0};
    sb_printf(&b, "/* generated table */\n#pragma once\n#include <stdint.h>\n// lut[a][w]\n");
    sb_printf(&b, "static const %s lut%s = {\n", type, flat ? "[65536]" : "[256][256]");
    for (int r = 0; r < 256; r++) {
        sb_printf(&b, flat ? "  " : "  { /* row %d */ ", r);
        for (int c = 0; c < 256; c++) {
            int64_t v = fx->file[r * 256 + c];
            if (c % 3 == 0 && v >= 0) sb_printf(&b, "0x%llx, ", (long long)v);
            else sb_printf(&b, "%lld, ", (long long)v);
        }
        sb_printf(&b, flat ? "\n" : "},\n");
    }
    sb_printf(&b, "};\n");
    return write_text(fx, name, &b);
}

/* Rows "a,w,product" with operand values; `skip`/`dup` drop or repeat a row,
 * `junk` replaces one product with text. */
static char *write_csv(fixture *fx, const char *name, ax_operand t0, ax_operand t1, int skip, int dup, int junk)
{
    sbuf b = {0};
    sb_printf(&b, "a,w,product\n");
    for (int i = AX_TABLE_SIZE - 1; i >= 0; i--) { /* any order will do */
        if (i == skip) continue;
        int x = ax_operand_value(t0, (unsigned)i >> 8), y = ax_operand_value(t1, (unsigned)i & 255);
        if (i == junk) sb_printf(&b, "%d,%d,abc\n", x, y);
        else sb_printf(&b, "%d, %d, %lld\r\n", x, y, (long long)fx->file[i]);
        if (i == dup) sb_printf(&b, "%d,%d,%lld\n", x, y, (long long)fx->file[i]);
    }
    return write_text(fx, name, &b);
}

static char *write_matrix(fixture *fx, const char *name, const char *sep, int short_row)
{
    sbuf b = {0};
    sb_printf(&b, "# 256x256 products\n");
    for (int r = 0; r < 256; r++) {
        int cols = r == short_row ? 255 : 256;
        for (int c = 0; c < cols; c++) sb_printf(&b, "%s%lld", c ? sep : "", (long long)fx->file[r * 256 + c]);
        sb_printf(&b, "\n");
    }
    return write_text(fx, name, &b);
}

static char *write_gz_raw(fixture *fx, const char *name)
{
    char *p = fx_path(fx, name);
    gzFile g = gzopen(p, "wb");
    cr_assert_not_null(g);
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) {
        uint8_t b[4];
        put(b, (uint64_t)fx->file[i], 4, false);
        cr_assert_eq(gzwrite(g, b, 4), 4);
    }
    cr_assert_eq(gzclose(g), Z_OK);
    return p;
}

static char *write_source(fixture *fx, const char *name, const char *src)
{
    char *p = fx_path(fx, name);
    cr_assert_eq(ax_test_write(p, src, strlen(src)), 0);
    return p;
}

/* ---- importing and checking ----------------------------------------------------- */

static ax_import_options opts(void)
{
    ax_import_options o;
    ax_import_options_init(&o);
    return o;
}

static ax_mult *import_ok(const char *path, const ax_import_options *o)
{
    ax_mult *m = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_import(path, o, &m, &err), 0, "import %s: %s", path, err.msg);
    cr_assert_not_null(m);
    return m;
}

static void expect_table(const ax_mult *m, const int32_t *t, ax_operand act, ax_operand wgt)
{
    cr_assert_eq(m->act, act, "activation type %s", ax_operand_name(m->act));
    cr_assert_eq(m->wgt, wgt, "weight type %s", ax_operand_name(m->wgt));
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        cr_assert_eq(m->table[i], t[i], "entry a=%u w=%u: %d, expected %d", i >> 8, i & 255, m->table[i], t[i]);
}

static void expect_fail(const char *path, const ax_import_options *o, const char *needle)
{
    ax_mult *m = (ax_mult *)1;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_import(path, o, &m, &err), -1, "import of %s should fail", path);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, path) != NULL, "error names the input: %s", err.msg);
    cr_assert(strstr(err.msg, needle) != NULL, "expected '%s' in: %s", needle, err.msg);
    cr_assert(strchr(err.msg, '\n') == NULL, "one line: %s", err.msg);
}

static int plausibility_warnings(const ax_mult *m, const char *needle)
{
    ax_plausibility p;
    ax_mult_plausibility(m, &p);
    for (int i = 0; i < p.n_warnings; i++)
        cr_assert(strstr(p.warnings[i], needle) != NULL, "expected '%s' in: %s", needle, p.warnings[i]);
    return p.n_warnings;
}

/* ---- raw ---------------------------------------------------------------------------- */

Test(import, raw_i32_signed_auto_and_provenance)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    char *p = write_raw(fx, "lut.bin", 4, false, 0);
    ax_import_options o = opts();
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_S8, AX_S8); /* signedness from the fit */
    cr_assert_str_eq(m->name, "lut");
    uint8_t *bytes;
    size_t len;
    ax_error err;
    cr_assert_eq(ax_read_file(p, 1 << 20, &bytes, &len, &err), 0);
    char sha[65], want[128];
    ax_sha256_hex(bytes, len, sha);
    snprintf(want, sizeof want, "import=raw-i32 file=lut.bin sha256=%s", sha);
    cr_assert_str_eq(m->provenance, want);
    cr_assert_eq(plausibility_warnings(m, ""), 0);
    free(bytes);
    ax_mult_free(m);
    fx_free(fx);
}

Test(import, raw_i32_unsigned_big_endian_named)
{
    fixture *fx = fx_new(AX_U8, AX_U8, false, false);
    char *p = write_raw(fx, "table.raw", 4, true, 0);
    ax_import_options o = opts();
    o.big_endian = true;
    o.name = "my-mult";
    o.hw.power_mw = 0.25;
    strcpy(o.hw.node, "7nm");
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_U8, AX_U8);
    cr_assert_str_eq(m->name, "my-mult");
    cr_assert_float_eq(m->hw.power_mw, 0.25, 1e-12);
    cr_assert(isnan(m->hw.area_um2));
    cr_assert_str_eq(m->hw.node, "7nm");
    ax_mult_free(m);
    fx_free(fx);
}

Test(import, raw_16_bit_name_format_and_ambiguity)
{
    fixture *fx = fx_new(AX_U8, AX_U8, false, false);
    ax_import_options o = opts();
    /* u8 products exceed int16: raw-u16, told by the EvoApproxLib-style name */
    char *p = write_raw(fx, "mul8u_test.bin", 2, false, 0);
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_U8, AX_U8);
    cr_assert(strstr(m->provenance, "import=raw-u16 ") != NULL, "%s", m->provenance);
    ax_mult_free(m);
    char *q = write_raw(fx, "plain.bin", 2, false, 0);
    expect_fail(q, &o, "--format");
    fixture *fs = fx_new(AX_S8, AX_S8, false, false);
    char *s = write_raw(fs, "plain16.dat2", 2, true, 0);
    o.format = AX_FMT_RAW_I16;
    o.big_endian = true;
    m = import_ok(s, &o);
    expect_table(m, fs->table, AX_S8, AX_S8);
    ax_mult_free(m);
    fx_free(fs);
    fx_free(fx);
}

Test(import, raw_u16_value_offset)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    char *p = write_raw(fx, "tfapprox.bin", 2, false, 32768); /* signed products + 32768 as uint16 */
    ax_import_options o = opts();
    o.format = AX_FMT_RAW_U16;
    o.value_offset = 32768;
    o.sign = AX_SIGN_SIGNED;
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    cr_assert(strstr(m->provenance, " value_offset=32768") != NULL, "%s", m->provenance);
    ax_mult_free(m);
    fx_free(fx);
}

Test(import, raw_index_offset_evoapprox_layout)
{
    fixture *fx = fx_new(AX_S8, AX_S8, true, false);
    char *p = write_raw(fx, "evo.bin", 4, false, 0);
    ax_import_options o = opts();
    o.index_offset = true;
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    cr_assert(strstr(m->provenance, " index=offset") != NULL, "%s", m->provenance);
    cr_assert_eq(plausibility_warnings(m, ""), 0);
    ax_mult_free(m);
    /* the same file read by byte: the plausibility check names the fix */
    o.index_offset = false;
    o.sign = AX_SIGN_SIGNED;
    m = import_ok(p, &o);
    cr_assert_eq(plausibility_warnings(m, "--index offset"), 1);
    ax_mult_free(m);
    fx_free(fx);
}

Test(import, raw_gzip)
{
    fixture *fx = fx_new(AX_S8, AX_S8, true, false);
    char *p = write_gz_raw(fx, "mul8s_test.bin.gz");
    ax_import_options o = opts();
    o.index_offset = true;
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    cr_assert_str_eq(m->name, "mul8s_test");
    cr_assert(strstr(m->provenance, "import=raw-i32 file=mul8s_test.bin.gz ") != NULL, "%s", m->provenance);
    ax_mult_free(m);
    /* a corrupt gzip stream: one line naming the file */
    char *bad = fx_path(fx, "broken.bin.gz");
    uint8_t junk[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef};
    cr_assert_eq(ax_test_write(bad, junk, sizeof junk), 0);
    expect_fail(bad, &o, "gzip");
    fx_free(fx);
}

Test(import, mixed_u8s8_order_wa)
{
    fixture *fx = fx_new(AX_U8, AX_S8, false, true);
    char *p = write_raw(fx, "wa.bin", 4, false, 0);
    ax_import_options o = opts();
    o.mixed_u8s8 = true;
    o.order_wa = true;
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_U8, AX_S8);
    cr_assert(strstr(m->provenance, " order=wa") != NULL, "%s", m->provenance);
    cr_assert_eq(plausibility_warnings(m, ""), 0);
    ax_mult_free(m);
    /* read in the default order, the transposed table is flagged */
    o.order_wa = false;
    m = import_ok(p, &o);
    cr_assert_eq(plausibility_warnings(m, "--order wa"), 1);
    ax_mult_free(m);
    fx_free(fx);
}

Test(import, wrong_sizes_and_unknown_format)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    char *p = fx_path(fx, "short.bin");
    uint8_t junk[1000];
    for (int i = 0; i < 1000; i++) junk[i] = (uint8_t)(i * 37 + 1);
    junk[5] = 0;
    cr_assert_eq(ax_test_write(p, junk, sizeof junk), 0);
    ax_import_options o = opts();
    expect_fail(p, &o, "cannot tell the format");
    o.format = AX_FMT_RAW_I32;
    expect_fail(p, &o, "262144");
    o.format = AX_FMT_NPY;
    expect_fail(p, &o, "npy");
    o.format = AX_FMT_AXM;
    expect_fail(p, &o, "axm");
    ax_import_format f;
    cr_assert_eq(ax_import_format_parse("c-header", &f), 0);
    cr_assert_eq(f, AX_FMT_C_HEADER);
    cr_assert_eq(ax_import_format_parse("excel", &f), -1);
    cr_assert_str_eq(ax_import_format_name(AX_FMT_RAW_U16), "raw-u16");
    o.format = AX_FMT_AUTO;
    expect_fail("/nonexistent/table.bin", &o, "cannot open");
    fx_free(fx);
}

/* ---- npy ------------------------------------------------------------------------------ */

Test(import, npy_dtypes_shapes_orders)
{
    static const char *const sdt[] = {"<i2", ">i2", "<i4", ">i4", "<i8"};
    static const char *const udt[] = {"<u2", ">u2", "<i4", ">u4"};
    fixture *fs = fx_new(AX_S8, AX_S8, false, false), *fu = fx_new(AX_U8, AX_U8, false, false);
    ax_import_options o = opts();
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 3; k++) {
            char name[32];
            snprintf(name, sizeof name, "s%d_%d.npy", i, k);
            char *p = write_npy(fs, name, sdt[i], k == 1, k == 2);
            ax_mult *m = import_ok(p, &o);
            expect_table(m, fs->table, AX_S8, AX_S8);
            cr_assert(strstr(m->provenance, "import=npy ") != NULL);
            ax_mult_free(m);
        }
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "u%d.npy", i);
        ax_mult *m = import_ok(write_npy(fu, name, udt[i], false, false), &o);
        expect_table(m, fu->table, AX_U8, AX_U8);
        ax_mult_free(m);
    }
    fx_free(fs);
    fx_free(fu);
}

Test(import, npy_bad_shape_and_out_of_range)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    char *p = write_npy(fx, "ok.npy", "<i4", false, false);
    uint8_t *b;
    size_t len;
    ax_error err;
    cr_assert_eq(ax_read_file(p, 1 << 20, &b, &len, &err), 0);
    char *s = strstr((char *)b + 10, "(256, 256)");
    memcpy(s, "(128, 512)", 10);
    char *q = fx_path(fx, "shape.npy");
    cr_assert_eq(ax_test_write(q, b, len), 0);
    expect_fail(q, &o, "shape");
    memcpy(s, "(256, 256)", 10);
    char *t = fx_path(fx, "trunc.npy");
    cr_assert_eq(ax_test_write(t, b, len - 3), 0);
    expect_fail(t, &o, "bytes");
    free(b);
    fx->file[777] = (int64_t)1 << 40;
    char *big = write_npy(fx, "big.npy", "<i8", false, false);
    expect_fail(big, &o, "does not fit int32");
    fx_free(fx);
}

/* ---- C header ------------------------------------------------------------------------- */

Test(import, c_header_signed_unsigned_flat)
{
    fixture *fs = fx_new(AX_S8, AX_S8, false, false), *fu = fx_new(AX_U8, AX_U8, false, false);
    ax_import_options o = opts();
    ax_mult *m = import_ok(write_c_header(fs, "lut.h", "int16_t", false), &o);
    expect_table(m, fs->table, AX_S8, AX_S8);
    cr_assert(strstr(m->provenance, "import=c-header ") != NULL);
    ax_mult_free(m);
    m = import_ok(write_c_header(fu, "ulut.hpp", "uint16_t", false), &o);
    expect_table(m, fu->table, AX_U8, AX_U8);
    ax_mult_free(m);
    m = import_ok(write_c_header(fs, "flat.h", "int32_t", true), &o);
    expect_table(m, fs->table, AX_S8, AX_S8);
    ax_mult_free(m);
    fx_free(fs);
    fx_free(fu);
}

Test(import, c_header_errors_name_the_line)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    char *p = write_source(fx, "short.h", "const int16_t lut[256][256] = {\n{1, 2, 3},\n};\n");
    expect_fail(p, &o, "line 2: row 0 has 3 values");
    p = write_source(fx, "junk.h", "const int16_t lut[256][256] = {\n{1, 2, x},\n};\n");
    expect_fail(p, &o, "line 2");
    p = write_source(fx, "open.h", "const int16_t lut[256][256] = {\n{1, 2,\n");
    expect_fail(p, &o, "not closed");
    p = write_source(fx, "none.h", "int x;\n");
    expect_fail(p, &o, "neither");
    fx_free(fx);
}

/* ---- CSV and text ---------------------------------------------------------------------- */

Test(import, csv_values_signed_and_unsigned)
{
    fixture *fs = fx_new(AX_S8, AX_S8, false, false), *fu = fx_new(AX_U8, AX_U8, false, false);
    ax_import_options o = opts();
    ax_mult *m = import_ok(write_csv(fs, "s.csv", AX_S8, AX_S8, -1, -1, -1), &o);
    expect_table(m, fs->table, AX_S8, AX_S8);
    ax_mult_free(m);
    m = import_ok(write_csv(fu, "u.csv", AX_U8, AX_U8, -1, -1, -1), &o);
    expect_table(m, fu->table, AX_U8, AX_U8);
    ax_mult_free(m);
    fx_free(fs);
    fx_free(fu);
}

Test(import, csv_missing_duplicate_non_numeric)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    expect_fail(write_csv(fx, "miss.csv", AX_S8, AX_S8, 0x1234, -1, -1), &o, "pair (18,52) missing");
    /* rows run from index 65535 down after the header: index 0x8000 is on
     * line 32769 and its repeat on the next */
    expect_fail(write_csv(fx, "dup.csv", AX_S8, AX_S8, -1, 0x8000, -1), &o,
                "line 32770: duplicate pair (-128,0), already given on line 32769");
    expect_fail(write_csv(fx, "nan.csv", AX_S8, AX_S8, -1, -1, 0xfffe), &o, "line 3: product 'abc'");
    char *p = write_source(fx, "range.csv", "300,1,5\n");
    expect_fail(p, &o, "line 1");
    fx_free(fx);
}

Test(import, text_matrix_separators)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    ax_mult *m = import_ok(write_matrix(fx, "m.txt", " ", -1), &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    ax_mult_free(m);
    m = import_ok(write_matrix(fx, "m2.dat", ", ", -1), &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    ax_mult_free(m);
    o.format = AX_FMT_TEXT;
    m = import_ok(write_matrix(fx, "m3.tbl", "\t", -1), &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    ax_mult_free(m);
    expect_fail(write_matrix(fx, "bad.txt", " ", 9), &o, "line 11: 255 numbers");
    fx_free(fx);
}

/* ---- .axm ----------------------------------------------------------------------------------- */

Test(import, axm_passthrough_with_overrides)
{
    fixture *fx = fx_new(AX_U8, AX_S8, false, false);
    ax_mult *src = ax_mult_new();
    strcpy(src->name, "orig");
    src->act = AX_U8;
    src->wgt = AX_S8;
    memcpy(src->table, fx->table, sizeof src->table);
    src->hw.area_um2 = 100;
    char *p = fx_path(fx, "orig.axm");
    ax_error err;
    cr_assert_eq(ax_mult_save(src, p, &err), 0, "%s", err.msg);
    ax_import_options o = opts();
    o.name = "renamed";
    o.hw.area_um2 = 50;
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_U8, AX_S8);
    cr_assert_str_eq(m->name, "renamed");
    cr_assert_float_eq(m->hw.area_um2, 50, 1e-12);
    ax_mult_free(m);
    ax_mult_free(src);
    fx_free(fx);
}

/* ---- C models ---------------------------------------------------------------------------------- */

static const char model_s8[] =
    "// PDK45_PWR = 0.422 mW\n"
    "// PDK45_AREA = 711.0 um2\n"
    "// PDK45_DELAY = 1.48 ns\n"
    "#include <stdint.h>\n"
    "int16_t mymul(int8_t a, int8_t b)\n"
    "{\n"
    "    return (int16_t)(a * b + (((uint8_t)a * 7 + (uint8_t)b * 13) % 5) - 2);\n"
    "}\n";

Test(import, c_model_signed_int8)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    ax_mult *m = import_ok(write_source(fx, "approx.c", model_s8), &o);
    expect_table(m, fx->table, AX_S8, AX_S8);
    cr_assert_float_eq(m->hw.power_mw, 0.422, 1e-12);
    cr_assert_float_eq(m->hw.area_um2, 711.0, 1e-12);
    cr_assert_float_eq(m->hw.delay_ns, 1.48, 1e-12);
    cr_assert_str_eq(m->hw.node, "45nm");
    cr_assert(strstr(m->provenance, "import=c-model file=approx.c sha256=") != NULL, "%s", m->provenance);
    cr_assert(strstr(m->provenance, " function=mymul") != NULL, "%s", m->provenance);
    ax_mult_free(m);
    fx_free(fx);
}

/* EvoApproxLib's signed models declared with unsigned types: raw bytes in,
 * 16-bit two's complement bits out. */
static const char model_u64[] =
    "#include <stdint.h>\n"
    "#include <stdlib.h>\n"
    "uint64_t mul8s_TEST(const uint64_t A, const uint64_t B)\n"
    "{\n"
    "    int p = (int)(int8_t)(A & 0xff) * (int)(int8_t)(B & 0xff) + (int)(((A & 0xff) * 7 + (B & 0xff) * 13) % 5) - 2;\n"
    "    return (uint64_t)p & 0xffffu;\n"
    "}\n";

Test(import, c_model_signed_declared_unsigned_warns)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    char *p = write_source(fx, "mul8s_TEST.c", model_u64);
    ax_mult *m = NULL;
    ax_error err;
    char warnings[4][AX_ERROR_MAX];
    int n = -1;
    cr_assert_eq(ax_mult_import_ex(p, &o, &m, warnings, 4, &n, &err), 0, "%s", err.msg);
    expect_table(m, fx->table, AX_S8, AX_S8);
    cr_assert_eq(n, 1);
    cr_assert(strstr(warnings[0], "unsigned") && strstr(warnings[0], "two's complement"), "%s", warnings[0]);
    ax_mult_free(m);
    fx_free(fx);
}

static const char model_two[] =
    "#include <stdint.h>\n"
    "static int helper;\n"
    "uint16_t mul8u_exact(uint8_t a, uint8_t b) { return (uint16_t)(a * b); }\n"
    "uint16_t mul8u_approx(uint8_t a, uint8_t b)\n"
    "{\n"
    "    return (uint16_t)(a * b + ((a * 7 + b * 13) % 5));\n"
    "}\n"
    "int main(void) { return mul8u_exact(1, 2) - 2 + helper; }\n";

Test(import, c_model_function_choice)
{
    fixture *fx = fx_new(AX_U8, AX_U8, false, false);
    ax_import_options o = opts();
    char *p = write_source(fx, "two.c", model_two);
    expect_fail(p, &o, "--function");
    o.function = "mul8u_approx";
    ax_mult *m = import_ok(p, &o);
    expect_table(m, fx->table, AX_U8, AX_U8);
    ax_mult_free(m);
    o.function = "mul8u_missing";
    expect_fail(p, &o, "no function 'mul8u_missing'");
    fx_free(fx);
}

Test(import, c_model_wide_int32_and_compile_error)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    /* no name or 8-bit type says the signedness: the better fit decides */
    char *p = write_source(fx, "wide.c",
                           "#include <stdint.h>\nint32_t f(int32_t a, int32_t b) { return (int8_t)a * (int8_t)b; }\n");
    ax_mult *m = import_ok(p, &o);
    cr_assert_eq(m->act, AX_S8);
    cr_assert(ax_mult_is_exact(m));
    ax_mult_free(m);
    /* a plain a*b is exact either way: ties read unsigned */
    p = write_source(fx, "plain.c", "long f(long a, long b) { return a * b; }\n");
    m = import_ok(p, &o);
    cr_assert_eq(m->act, AX_U8);
    cr_assert(ax_mult_is_exact(m));
    ax_mult_free(m);
    p = write_source(fx, "broken.c", "int f(int a, int b)\n{\n    return a * b  /* no semicolon */\n}\n");
    expect_fail(p, &o, "does not compile");
    ax_mult *x = NULL;
    ax_error err;
    cr_assert_eq(ax_mult_import(p, &o, &x, &err), -1);
    cr_assert(strstr(err.msg, "error") != NULL, "first compiler error line: %s", err.msg);
    p = write_source(fx, "nofn.c", "int x = 3;\n");
    o.format = AX_FMT_C_MODEL;
    expect_fail(p, &o, "no function");
    fx_free(fx);
}

/* ---- plausibility ------------------------------------------------------------------------------- */

Test(import, plausibility_one_quadrant_sign_bug)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    /* the emulator bug: negative x negative products come out negative */
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        if ((i >> 8) >= 128 && (i & 255) >= 128) fx->file[i] = -fx->file[i];
    ax_import_options o = opts();
    o.sign = AX_SIGN_SIGNED;
    ax_mult *m = import_ok(write_c_header(fx, "buggy.h", "int16_t", false), &o);
    ax_plausibility p;
    ax_mult_plausibility(m, &p);
    cr_assert_eq(p.n_warnings, 1);
    cr_assert(strstr(p.warnings[0], "a<0,w<0") && strstr(p.warnings[0], "sign"), "%s", p.warnings[0]);
    cr_assert(p.quadrant_mae[3] > 1000 && p.quadrant_mae[0] < 3, "%g %g", p.quadrant_mae[3], p.quadrant_mae[0]);
    ax_mult_free(m);
    fx_free(fx);
}

Test(import, plausibility_other_signedness)
{
    fixture *fx = fx_new(AX_S8, AX_S8, false, false);
    ax_import_options o = opts();
    o.sign = AX_SIGN_UNSIGNED;
    ax_mult *m = import_ok(write_raw(fx, "s.bin", 4, false, 0), &o);
    cr_assert_eq(plausibility_warnings(m, "--signed"), 1);
    ax_plausibility p;
    ax_mult_plausibility(m, &p);
    cr_assert(isnan(p.quadrant_mae[1]), "u8 has one quadrant");
    ax_mult_free(m);
    fx_free(fx);
}

/* ---- EvoApproxLib reference table ------------------------------------------------------------------ */

Test(import, evoapprox_mul8s_1KV8)
{
    const char *dir = getenv("AX_EVOAPPROX_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/mul8s_1KV8.bin.gz", dir ? dir : "../shared/evoapprox");
    FILE *probe = fopen(path, "rb");
    if (!probe)
        cr_skip_test("EvoApproxLib reference table %s not found (set AX_EVOAPPROX_DIR): skipped", path);
    fclose(probe);
    ax_import_options o = opts();
    o.index_offset = true;
    o.sign = AX_SIGN_SIGNED;
    ax_mult *m = import_ok(path, &o);
    /* README: out[(a+128)*256 + (b+128)] = f(a, b), 65536 little-endian int32 */
    gzFile g = gzopen(path, "rb");
    static int32_t ref[AX_TABLE_SIZE];
    cr_assert_eq(gzread(g, ref, sizeof ref), (int)sizeof ref);
    gzclose(g);
    static const int pairs[][2] = {{0, 0}, {-1, -1}, {-128, -128}, {127, -128}, {5, -7}, {-100, 33}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        int a = pairs[i][0], b = pairs[i][1];
        cr_assert_eq(m->table[(uint8_t)a * 256 + (uint8_t)b], ref[(a + 128) * 256 + (b + 128)], "f(%d,%d)", a, b);
        cr_assert(abs(m->table[(uint8_t)a * 256 + (uint8_t)b] - a * b) <= 5, "WCE 5 at f(%d,%d)", a, b);
    }
    ax_plausibility p;
    ax_mult_plausibility(m, &p);
    cr_assert_float_eq(p.overall_mae, 1.25, 1e-9); /* manifest: my_mae 1.25 */
    cr_assert_eq(p.n_warnings, 0);
    cr_assert_str_eq(m->name, "mul8s_1KV8");
    ax_mult_free(m);
}
