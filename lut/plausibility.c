/* plausibility.c - is an imported table what its author meant? Compares it
 * with the exact product per operand-sign quadrant, and under every other
 * reading the importer could have made (operand order, signed-operand
 * indexing, signedness). Importing with a wrong flag gives a table that is
 * far from exact everywhere but exact under one alternative reading; a
 * generator's sign-handling bug gives one quadrant far worse than the rest.
 * Both are silent accuracy killers downstream, so we name the fix. */
#include "import_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const quadrant_name[4] = {"a>=0,w>=0", "a>=0,w<0", "a<0,w>=0", "a<0,w<0"};

double ax_reading_mae(const int64_t file[AX_TABLE_SIZE], ax_operand act, ax_operand wgt, bool index_offset,
                      bool order_wa)
{
    double sum = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) {
            /* doubles: a hostile file's int64 values must not overflow a subtraction */
            double v = (double)file[ax_file_index(a, w, act, wgt, index_offset, order_wa)];
            sum += fabs(v - (double)ax_exact_product(act, wgt, a, w));
        }
    return sum / AX_TABLE_SIZE;
}

/* ---- readings ------------------------------------------------------------------ */

typedef struct reading {
    ax_operand act, wgt;
    bool index_offset, order_wa;
} reading;

/* Whole space-separated word `word` in s. */
static bool has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word))
        if ((p == s || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return true;
    return false;
}

/* How the importer read the file, from the provenance it wrote. */
static reading current_reading(const ax_mult *m)
{
    reading r = {m->act, m->wgt, false, false};
    const char *fields = strstr(m->provenance, " sha256=");
    if (strncmp(m->provenance, "import=", 7) == 0 && fields) {
        r.index_offset = has_word(fields, "index=offset");
        r.order_wa = has_word(fields, "order=wa");
    }
    return r;
}

static int changes(const reading *a, const reading *b)
{
    return (a->act != b->act || a->wgt != b->wgt) + (a->index_offset != b->index_offset) +
           (a->order_wa != b->order_wa);
}

/* The import flags that turn reading `cur` into `alt`. */
static void flags_text(const reading *cur, const reading *alt, char *out, size_t size)
{
    out[0] = 0;
    if (cur->act != alt->act || cur->wgt != alt->wgt)
        snprintf(out + strlen(out), size - strlen(out), "%s", alt->act != alt->wgt ? "--u8s8"
                                                            : alt->act == AX_S8 ? "--signed" : "--unsigned");
    if (cur->index_offset != alt->index_offset)
        snprintf(out + strlen(out), size - strlen(out), "%s--index %s", out[0] ? " " : "",
                 alt->index_offset ? "offset" : "byte");
    if (cur->order_wa != alt->order_wa)
        snprintf(out + strlen(out), size - strlen(out), "%s--order %s", out[0] ? " " : "",
                 alt->order_wa ? "wa" : "aw");
}

static void add_warning(ax_plausibility *out, const char *fmt, ...) AX_PRINTF(2, 3);
static void add_warning(ax_plausibility *out, const char *fmt, ...)
{
    if (out->n_warnings >= 4) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->warnings[out->n_warnings++], AX_ERROR_MAX, fmt, ap);
    va_end(ap);
}

/* Mean |exact product| under a reading's operand types: MAEs of different
 * readings are compared relative to it (an all-zero table is as wrong as s8
 * as it is as u8, though its u8 MAE is four times larger). */
static double mean_magnitude(ax_operand act, ax_operand wgt)
{
    double s = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) s += fabs((double)ax_exact_product(act, wgt, a, w));
    return s / AX_TABLE_SIZE;
}

/* Tries every reading the importer supports (s8 x s8, u8 x u8, u8 x s8; byte
 * or offset indexing; aw or wa order) on the file the table came from.
 * Returns true when one fits far better than the current reading. */
static bool check_readings(const ax_mult *m, ax_plausibility *out)
{
    static const ax_operand types[3][2] = {{AX_S8, AX_S8}, {AX_U8, AX_U8}, {AX_U8, AX_S8}};
    reading cur = current_reading(m), best = cur;
    int64_t *file = malloc(sizeof(int64_t) * AX_TABLE_SIZE);
    if (!file) return false;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++)
            file[ax_file_index(a, w, cur.act, cur.wgt, cur.index_offset, cur.order_wa)] = m->table[a * 256 + w];
    double best_rel = INFINITY, best_mae = 0;
    for (int t = 0; t < 3; t++)
        for (int idx = 0; idx < 2; idx++)
            for (int ord = 0; ord < 2; ord++) {
                reading r = {types[t][0], types[t][1], idx != 0, ord != 0};
                if (r.index_offset && r.act == AX_U8 && r.wgt == AX_U8) continue; /* same as byte */
                if (changes(&r, &cur) == 0) continue;
                double mae = ax_reading_mae(file, r.act, r.wgt, r.index_offset, r.order_wa);
                double rel = mae / mean_magnitude(r.act, r.wgt);
                if (rel < best_rel - 1e-12 || (rel <= best_rel + 1e-12 && changes(&r, &cur) < changes(&best, &cur)))
                    best_rel = rel, best_mae = mae, best = r;
            }
    free(file);
    /* "far better": a misread table is off by about the product's own size,
     * the right reading by the multiplier's error (at most ~half of it for the
     * roughest EvoApproxLib circuits) */
    double cur_rel = out->overall_mae / mean_magnitude(cur.act, cur.wgt);
    if (!(best_rel * 2 + 0.01 < cur_rel)) return false;
    char flags[96];
    flags_text(&cur, &best, flags, sizeof flags);
    add_warning(out, "the table fits the exact product far better when read with %s (MAE %.4g instead of %.4g): "
                "re-import with %s", flags, best_mae, out->overall_mae, flags);
    return true;
}

/* ---- quadrants ------------------------------------------------------------------ */

static int quadrant_of(const ax_mult *m, unsigned a, unsigned w)
{
    return 2 * (ax_operand_value(m->act, a) < 0) + (ax_operand_value(m->wgt, w) < 0);
}

/* Candidate sign mistakes in a quadrant, and what each one looks like. */
static double mistake_value(int k, int va, int vw)
{
    switch (k) {
    case 0: return -(double)(va * vw);
    case 1: return fabs((double)(va * vw));
    case 2: return (double)((va & 255) * (vw & 255));
    case 3: return (double)(uint16_t)(va * vw);
    default: return 0;
    }
}

static const char *const mistake_text[5] = {
    "-(a*w): the product's sign is flipped there",
    "|a*w|: the sign is dropped there (magnitudes multiplied)",
    "the product of the raw bytes: negative operands read as unsigned there",
    "a*w mod 65536: negative products stored as unsigned 16-bit there (try raw-i16 or --value-offset)",
    "zero: the products are missing there",
};

/* Which mistake explains quadrant q best; -1 when none is close. */
static int diagnose(const ax_mult *m, int q, double q_mae)
{
    double sum[5] = {0};
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) {
            if (quadrant_of(m, a, w) != q) continue;
            int va = ax_operand_value(m->act, a), vw = ax_operand_value(m->wgt, w);
            for (int k = 0; k < 5; k++) sum[k] += fabs((double)m->table[a * 256 + w] - mistake_value(k, va, vw));
        }
    int best = 0;
    for (int k = 1; k < 5; k++)
        if (sum[k] < sum[best]) best = k;
    /* the quadrant holds 4096 or 16384 pairs; compare means */
    double n = (m->act == AX_S8 ? 128.0 : 256.0) * (m->wgt == AX_S8 ? 128.0 : 256.0);
    return sum[best] / n < 0.25 * q_mae ? best : -1;
}

static void check_quadrants(const ax_mult *m, const double scale[4], ax_plausibility *out)
{
    double qmin = INFINITY;
    for (int q = 0; q < 4; q++)
        if (!isnan(out->quadrant_mae[q]) && out->quadrant_mae[q] < qmin) qmin = out->quadrant_mae[q];
    for (int q = 0; q < 4; q++) {
        double e = out->quadrant_mae[q];
        /* EvoApproxLib's signed multipliers stay within 2x between quadrants;
         * a sign bug costs about the product's own magnitude */
        if (isnan(e) || !(e > 2 * qmin + 0.25 * scale[q])) continue;
        int k = diagnose(m, q, e);
        add_warning(out, "quadrant %s: MAE %.4g against %.4g in the best quadrant; %s%s: a sign-handling mistake "
                    "in the tool that produced the table", quadrant_name[q], e, qmin,
                    k >= 0 ? "its entries look like " : "far beyond the rest", k >= 0 ? mistake_text[k] : "");
    }
}

void ax_mult_plausibility(const ax_mult *m, ax_plausibility *out)
{
    double sum[4] = {0}, mag[4] = {0}, n[4] = {0}, total = 0;
    memset(out, 0, sizeof *out);
    for (unsigned a = 0; a < 256; a++)
        for (unsigned w = 0; w < 256; w++) {
            int q = quadrant_of(m, a, w);
            double exact = ax_exact_product(m->act, m->wgt, a, w);
            double e = fabs((double)m->table[a * 256 + w] - exact);
            sum[q] += e;
            mag[q] += fabs(exact);
            n[q]++;
            total += e;
        }
    double scale[4];
    for (int q = 0; q < 4; q++) {
        out->quadrant_mae[q] = n[q] > 0 ? sum[q] / n[q] : NAN; /* NaN: no such quadrant (u8 operand) */
        scale[q] = n[q] > 0 ? mag[q] / n[q] : 0;
    }
    out->overall_mae = total / AX_TABLE_SIZE;
    if (check_readings(m, out)) return;
    if (m->act == AX_S8 || m->wgt == AX_S8) check_quadrants(m, scale, out);
}
