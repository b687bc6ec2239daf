/* test_evoapprox.c - our importer and metrics against the 103 real
 * EvoApproxLib multipliers in ../shared/evoapprox (its manifest.csv holds the
 * published figures and exhaustively recomputed ones). Skips, saying so, when
 * that folder is absent: the project must run without it. */
#include "autoapprox/mult.h"

#include <criterion/criterion.h>
#include <math.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_COLS 64

typedef struct row {
    char *field[MAX_COLS];
    int n;
} row;

static const char *evo_dir(void)
{
    const char *d = getenv("AX_EVOAPPROX_DIR");
    return d ? d : "../shared/evoapprox";
}

static void split_csv(char *line, row *r)
{
    r->n = 0;
    bool quoted = false;
    char *start = line;
    for (char *p = line;; p++) {
        if (*p == '"') quoted = !quoted;
        if ((*p == ',' && !quoted) || *p == '\n' || *p == '\r' || *p == 0) {
            bool end = *p != ',';
            *p = 0;
            if (r->n < MAX_COLS) r->field[r->n++] = start;
            if (end) break;
            start = p + 1;
        }
    }
}

static int col(const row *header, const char *name)
{
    for (int i = 0; i < header->n; i++)
        if (!strcmp(header->field[i], name)) return i;
    cr_assert_fail("manifest.csv has no column '%s'", name);
    return -1;
}

static double num(const row *r, int c) { return strtod(r->field[c], NULL); }

/* SHA-1 of the table laid out as the reference file stores it. */
static void reference_sha1(const ax_mult *m, bool is_signed, char hex[41])
{
    static uint8_t le[4 * AX_TABLE_SIZE];
    for (unsigned i = 0; i < 256; i++) {
        for (unsigned j = 0; j < 256; j++) {
            unsigned a = is_signed ? (i + 128) & 255 : i, w = is_signed ? (j + 128) & 255 : j;
            uint32_t v = (uint32_t)m->table[a * 256 + w];
            for (int b = 0; b < 4; b++) le[4 * (i * 256 + j) + b] = (uint8_t)(v >> (8 * b));
        }
    }
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, sizeof le, le);
    sha1_digest(&ctx, sizeof d, d);
    for (int i = 0; i < SHA1_DIGEST_SIZE; i++) sprintf(hex + 2 * i, "%02x", d[i]);
}

/* Published MAE/WCE carry 2 significant digits. */
static bool matches_published(double ours, double pub)
{
    return fabs(ours - pub) <= 0.051 * fabs(pub) + 0.051;
}

Test(evoapprox, every_reference_multiplier_matches_the_manifest, .timeout = 300)
{
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/manifest.csv", evo_dir());
    struct stat st;
    if (stat(manifest, &st) != 0)
        cr_skip_test("EvoApproxLib reference data not found at %s (set AX_EVOAPPROX_DIR): validation skipped",
                     evo_dir());
    FILE *f = fopen(manifest, "r");
    cr_assert_not_null(f);
    static char hline[8192], line[8192];
    cr_assert_not_null(fgets(hline, sizeof hline, f));
    row h;
    split_csv(hline, &h);
    int c_name = col(&h, "name"), c_signed = col(&h, "signed"), c_power = col(&h, "power"),
        c_area = col(&h, "area"), c_delay = col(&h, "delay"), c_mae = col(&h, "mae"), c_wce = col(&h, "wce"),
        c_my_mae = col(&h, "my_mae"), c_my_wce = col(&h, "my_wce"), c_my_ep = col(&h, "my_ep"),
        c_my_bias = col(&h, "my_bias"), c_my_mre = col(&h, "my_mre"), c_my_mse = col(&h, "my_mse"),
        c_sha1 = col(&h, "lut_sha1");
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        row r;
        split_csv(line, &r);
        if (r.n <= c_sha1) continue;
        const char *name = r.field[c_name];
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.bin.gz", evo_dir(), name);
        ax_mult *m;
        ax_error err;
        cr_assert_eq(ax_mult_load_evoapprox(path, &m, &err), 0, "%s", err.msg);
        bool is_signed = num(&r, c_signed) != 0;
        cr_expect_eq(m->act, is_signed ? AX_S8 : AX_U8, "%s: activation type", name);
        cr_expect_eq(m->wgt, is_signed ? AX_S8 : AX_U8, "%s: weight type", name);
        char sha[41];
        reference_sha1(m, is_signed, sha);
        cr_expect(strncmp(sha, r.field[c_sha1], strlen(r.field[c_sha1])) == 0, "%s: table sha1 %s, manifest %s",
                  name, sha, r.field[c_sha1]);
        ax_metrics x;
        ax_mult_metrics(m, &x);
        cr_expect(fabs(x.mae - num(&r, c_my_mae)) <= 1e-6, "%s: mae %.7f vs %s", name, x.mae, r.field[c_my_mae]);
        cr_expect(x.wce == num(&r, c_my_wce), "%s: wce %.0f vs %s", name, x.wce, r.field[c_my_wce]);
        cr_expect(fabs(x.ep - num(&r, c_my_ep)) <= 1e-6, "%s: ep %.7f vs %s", name, x.ep, r.field[c_my_ep]);
        cr_expect(fabs(x.bias - num(&r, c_my_bias)) <= 1e-6, "%s: bias %.7f vs %s", name, x.bias, r.field[c_my_bias]);
        cr_expect(fabs(x.mre - num(&r, c_my_mre)) <= 1e-6, "%s: mre %.7f vs %s", name, x.mre, r.field[c_my_mre]);
        cr_expect(fabs(x.mse - num(&r, c_my_mse)) <= 5e-5 * fmax(1, x.mse), "%s: mse %.5f vs %s", name, x.mse,
                  r.field[c_my_mse]);
        cr_expect(matches_published(x.mae, num(&r, c_mae)), "%s: mae %.4f vs published %s", name, x.mae, r.field[c_mae]);
        cr_expect(matches_published(x.wce, num(&r, c_wce)), "%s: wce %.0f vs published %s", name, x.wce, r.field[c_wce]);
        cr_expect(fabs(m->hw.power_mw - num(&r, c_power)) < 1e-9, "%s: power", name);
        cr_expect(fabs(m->hw.area_um2 - num(&r, c_area)) < 1e-9, "%s: area", name);
        cr_expect(fabs(m->hw.delay_ns - num(&r, c_delay)) < 1e-9, "%s: delay", name);
        cr_expect_str_eq(m->hw.node, "45nm");
        ax_mult_free(m);
        checked++;
    }
    fclose(f);
    cr_assert_geq(checked, 100, "only %d multipliers checked", checked);
    cr_log_info("checked %d EvoApproxLib multipliers against %s", checked, manifest);
}
