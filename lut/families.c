/* families.c - the built-in approximate-multiplier families: what each one is
 * (name, parameters with ranges and defaults), the spec parser for
 * "family-s8:k=v,...", "family-u8:..." and "family-u8s8:..." (u8 activation x
 * s8 weight), and the generators that fill the canonical table.
 *
 * Two generators cover the seven families:
 *  - trunc, bam and perforated drop cells of one (modified) Baugh-Wooley
 *    partial-product array, so they share pp_array / pp_keep below;
 *  - optrunc, drum and mitchell approximate magnitudes with an unsigned
 *    design and re-apply the sign, so they share build_sign_magnitude().
 * docs/families.md states the definitions and sources. */
#include "ax_internal.h"

#include <stdlib.h>
#include <string.h>

#define FAM_MAX_PARAMS 3

/* ---- the partial-product array --------------------------------------------
 *
 * Cell (i, j) is a_i AND w_j at column i+j, in row j (rows are the weight's
 * bits). For a signed operand bit 7 weighs -2^7, so a cell whose weight is
 * negative is stored inverted: -x*2^c = (~x - 1)*2^c. The -2^c belongs to the
 * cell's row and is folded, over all kept rows, into one constant added mod
 * 2^16. With every cell kept this is the modified Baugh-Wooley array: s8 x s8
 * gets ones at columns 8 and 15, u8 x s8 at columns 7 and 15.
 *
 * An omitted row takes its correction with it (the designer folds the
 * constant of the rows that remain), so omitting row j removes exactly the
 * term w_j * a * 2^j; keeping the full constant instead would leave an error
 * of -corr[j] (2^(j+7) in s8 x s8) even where w_j = 0. Column dropping then also drops whatever
 * bits of the folded constant fall in the dropped columns, as the circuit
 * would. */
typedef struct pp_cell {
    uint8_t i, j, col, inv;
} pp_cell;

typedef struct pp_array {
    pp_cell cell[64];
    int n;
    int32_t corr[8]; /* per-row correction, <= 0, sum of -2^col of inverted cells */
    bool is_signed;  /* result read as int16 rather than uint16 */
} pp_array;

/* Which cells a design keeps: rows in row_mask, columns >= col_min. */
typedef struct pp_keep {
    unsigned row_mask;
    int col_min;
} pp_keep;

static int bit_sign(ax_operand t, int bit) { return (t == AX_S8 && bit == 7) ? -1 : 1; }

static void pp_build(pp_array *pp, ax_operand act, ax_operand wgt, pp_keep keep)
{
    memset(pp, 0, sizeof *pp);
    pp->is_signed = act == AX_S8 || wgt == AX_S8;
    for (int j = 0; j < 8; j++) {
        for (int i = 0; i < 8; i++) {
            int col = i + j;
            bool inv = bit_sign(act, i) * bit_sign(wgt, j) < 0;
            if (inv) pp->corr[j] -= (int32_t)1 << col;
            if (!(keep.row_mask >> j & 1u) || col < keep.col_min) continue;
            pp->cell[pp->n++] = (pp_cell){(uint8_t)i, (uint8_t)j, (uint8_t)col, (uint8_t)inv};
        }
    }
}

/* The folded constant of the kept rows, less its bits in dropped columns. */
static uint32_t pp_constant(const pp_array *pp, pp_keep keep)
{
    int32_t c = 0;
    for (int j = 0; j < 8; j++)
        if (keep.row_mask >> j & 1u) c += pp->corr[j];
    uint32_t bits = (uint32_t)c & 0xffffu; /* two's complement mod 2^16 */
    uint32_t low = keep.col_min >= 16 ? 0xffffu : ((1u << keep.col_min) - 1u);
    return bits & ~low;
}

/* A cell's bit depends on one weight bit, so for each activation byte every
 * row has just two possible kept sums (w_j = 0 or 1): summing those per pair
 * is 8 adds instead of a walk over 64 cells. */
static void build_pp(ax_mult *m, pp_keep keep)
{
    pp_array pp;
    pp_build(&pp, m->act, m->wgt, keep);
    uint32_t konst = pp_constant(&pp, keep);
    for (unsigned a = 0; a < 256; a++) {
        uint32_t row[8][2] = {{0}};
        for (int c = 0; c < pp.n; c++) {
            const pp_cell *e = &pp.cell[c];
            for (unsigned wj = 0; wj < 2; wj++)
                row[e->j][wj] += (((a >> e->i) & wj & 1u) ^ e->inv) << e->col;
        }
        for (unsigned w = 0; w < 256; w++) {
            uint32_t sum = konst;
            for (int j = 0; j < 8; j++) sum += row[j][(w >> j) & 1u];
            sum &= 0xffffu; /* the adder tree is 16 bits wide */
            m->table[a * 256 + w] = pp.is_signed ? (int32_t)(int16_t)(uint16_t)sum : (int32_t)sum;
        }
    }
}

static void build_exact(ax_mult *m, const int *p)
{
    (void)p;
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        m->table[i] = ax_exact_product(m->act, m->wgt, i >> 8, i & 255);
}

static void build_trunc(ax_mult *m, const int *p) { build_pp(m, (pp_keep){0xffu, p[0]}); }

static void build_bam(ax_mult *m, const int *p)
{
    /* p[0] = hbl: rows below it omitted; p[1] = vbl: columns below it omitted */
    build_pp(m, (pp_keep){(0xffu << p[0]) & 0xffu, p[1]});
}

static void build_perforated(ax_mult *m, const int *p)
{
    /* p[0] = m rows omitted, starting at row p[1] = s */
    unsigned gone = ((1u << p[0]) - 1u) << p[1];
    build_pp(m, (pp_keep){0xffu & ~gone, 0});
}

/* ---- sign-magnitude designs ---------------------------------------------
 *
 * The unsigned design sees magnitudes (up to 255 for u8, 128 for s8) and the
 * product takes the sign of the operands: the usual signed form of these
 * designs (DRUM's paper does the same). */
typedef uint32_t (*mag_mult_fn)(unsigned x_act, unsigned y_wgt, const int *p);

static void build_sign_magnitude(ax_mult *m, mag_mult_fn f, const int *p)
{
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned w = 0; w < 256; w++) {
            int va = ax_operand_value(m->act, a), vw = ax_operand_value(m->wgt, w);
            int32_t mag = (int32_t)f((unsigned)abs(va), (unsigned)abs(vw), p);
            m->table[a * 256 + w] = (va < 0) != (vw < 0) ? -mag : mag;
        }
    }
}

static unsigned bit_length(unsigned x)
{
    unsigned n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

/* optrunc: the low k bits zeroed, or set to their midpoint 2^(k-1) so the
 * operand error is centred on zero (the zero operand becomes 2^(k-1) too:
 * the circuit has no zero detection). */
static unsigned optrunc_operand(unsigned x, int k, bool round)
{
    unsigned low = (1u << k) - 1u;
    x &= ~low;
    if (round && k > 0) x |= 1u << (k - 1);
    return x;
}

static uint32_t optrunc_mag(unsigned x, unsigned y, const int *p)
{
    return optrunc_operand(x, p[0], p[2]) * optrunc_operand(y, p[1], p[2]);
}

/* DRUM: k bits from the leading one, lowest kept bit forced to 1 (the
 * expected value of what was cut off), shifted back. */
static unsigned drum_operand(unsigned x, int k)
{
    unsigned t = bit_length(x);
    if (t <= (unsigned)k) return x;
    unsigned s = t - (unsigned)k;
    return ((x >> s) | 1u) << s;
}

static uint32_t drum_mag(unsigned x, unsigned y, const int *p)
{
    return drum_operand(x, p[0]) * drum_operand(y, p[0]);
}

/* Mitchell: x = 2^k (1 + f), f held with 7 fraction bits (enough for any
 * 8-bit magnitude: k <= 7) and truncated to the `w` kept bits. Since f has at
 * most k fraction bits the result is always an integer; the final shift
 * would floor if it were not. */
static uint32_t mitchell_mag(unsigned x, unsigned y, const int *p)
{
    if (x == 0 || y == 0) return 0;
    unsigned k1 = bit_length(x) - 1, k2 = bit_length(y) - 1;
    uint32_t keep = ~((1u << (7 - p[0])) - 1u);
    uint32_t f1 = ((x - (1u << k1)) << (7 - k1)) & keep;
    uint32_t f2 = ((y - (1u << k2)) << (7 - k2)) & keep;
    uint32_t s = f1 + f2;
    uint64_t num = s < 128 ? (uint64_t)(128 + s) << (k1 + k2) : (uint64_t)s << (k1 + k2 + 1);
    return (uint32_t)(num >> 7);
}

static void build_optrunc(ax_mult *m, const int *p) { build_sign_magnitude(m, optrunc_mag, p); }
static void build_drum(ax_mult *m, const int *p) { build_sign_magnitude(m, drum_mag, p); }
static void build_mitchell(ax_mult *m, const int *p) { build_sign_magnitude(m, mitchell_mag, p); }

/* ---- the family table ------------------------------------------------------ */

/* Cross-parameter constraint; returns NULL when fine, else the problem. */
typedef const char *(*check_fn)(const int *p);

static const char *check_perforated(const int *p)
{
    return p[0] + p[1] > 8 ? "rows s..s+m-1 must exist: s+m must be <= 8" : NULL;
}

/* Ranges keep every design meaningful. Columns stop at 8: that is the classic
 * fixed-width 8x8 design, and past it the mean error passes ~1.5% of full
 * scale (the array itself would not wrap mod 2^16 until 16 columns go).
 * Rows stop at 7 omitted: omitting all 8 is the constant-zero multiplier. */
static const ax_family_param trunc_params[] = {
    {"k", 0, 8, 6, "partial-product columns below k dropped; larger = more approximate"},
};
static const ax_family_param bam_params[] = {
    {"hbl", 0, 7, 2, "horizontal break level: rows (weight bits) below it omitted; larger = more approximate"},
    {"vbl", 0, 8, 6, "vertical break level: cells in columns below it omitted; larger = more approximate"},
};
static const ax_family_param perforated_params[] = {
    {"m", 0, 7, 2, "number of consecutive partial-product rows omitted; larger = more approximate"},
    {"s", 0, 7, 0, "first omitted row (weight bit); larger = more approximate (heavier rows)"},
};
static const ax_family_param optrunc_params[] = {
    {"ka", 0, 7, 2, "low activation-magnitude bits dropped; larger = more approximate"},
    {"kw", 0, 7, 2, "low weight-magnitude bits dropped; larger = more approximate"},
    {"round", 0, 1, 0, "0 = dropped bits zeroed, biased (more approximate once 2+ bits go); 1 = set to their midpoint 2^(k-1), unbiased"},
};
static const ax_family_param drum_params[] = {
    {"k", 2, 8, 4, "bits kept from each magnitude's leading one; smaller = more approximate"},
};
static const ax_family_param mitchell_params[] = {
    {"w", 0, 7, 7, "fraction bits kept of each logarithm mantissa; smaller = more approximate"},
};

typedef struct fam_def {
    ax_family_info info; /* first, so &def->info is what ax_family_at hands out */
    void (*build)(ax_mult *m, const int *p);
    check_fn check;
} fam_def;

#define PARAMS(a) a, sizeof a / sizeof a[0]

static const fam_def families[] = {
    {{"exact", "exact product a*w, the reference", NULL, 0}, build_exact, NULL},
    {{"trunc", "truncated multiplier: partial-product columns below k dropped", PARAMS(trunc_params)},
     build_trunc, NULL},
    {{"bam", "broken-array multiplier (Mahdiani et al., IEEE TCAS-I 2010)", PARAMS(bam_params)},
     build_bam, NULL},
    {{"perforated", "partial-product perforation (Zervakis et al., IEEE TVLSI 2016)",
      PARAMS(perforated_params)},
     build_perforated, check_perforated},
    {{"optrunc", "operand truncation: low operand-magnitude bits dropped before an exact multiply",
      PARAMS(optrunc_params)},
     build_optrunc, NULL},
    {{"drum", "DRUM dynamic-range unbiased multiplier (Hashemi et al., ICCAD 2015)",
      PARAMS(drum_params)},
     build_drum, NULL},
    {{"mitchell", "Mitchell logarithmic multiplier (Mitchell, IRE Trans. Electronic Computers 1962)",
      PARAMS(mitchell_params)},
     build_mitchell, NULL},
};

#define N_FAMILIES (sizeof families / sizeof families[0])

size_t ax_family_count(void) { return N_FAMILIES; }

const ax_family_info *ax_family_at(size_t i) { return i < N_FAMILIES ? &families[i].info : NULL; }

static const fam_def *find_def(const char *name, size_t len)
{
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (strlen(families[i].info.name) == len && memcmp(families[i].info.name, name, len) == 0)
            return &families[i];
    return NULL;
}

const ax_family_info *ax_family_find(const char *name)
{
    const fam_def *d = name ? find_def(name, strlen(name)) : NULL;
    return d ? &d->info : NULL;
}

/* ---- spec parsing -------------------------------------------------------------- */

/* "exact, trunc, ..." into buf, for the unknown-family message. */
static void list_families(char *buf, size_t size)
{
    buf[0] = 0;
    for (size_t i = 0; i < N_FAMILIES; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? ", " : "", families[i].info.name);
    }
}

static void list_params(const ax_family_info *f, char *buf, size_t size)
{
    buf[0] = 0;
    for (size_t i = 0; i < f->n_params; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? ", " : "", f->params[i].key);
    }
}

/* A decimal integer with optional '-', nothing else; magnitudes past 9
 * digits are reported as out of range by the caller via *huge. */
static bool parse_int(const char *s, size_t len, int *out, bool *huge)
{
    size_t i = 0;
    bool neg = len > 0 && s[0] == '-';
    if (neg) i++;
    if (i == len) return false;
    long v = 0;
    *huge = false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v < 100000000) v = v * 10 + (s[i] - '0');
        else *huge = true;
    }
    *out = (int)(neg ? -v : v);
    return true;
}

/* Parses "k=v,k=v" (len bytes at s) into p[], defaults first. */
static int parse_params(const char *spec, const fam_def *d, const char *s, size_t len, int *p,
                        ax_error *err)
{
    const ax_family_info *f = &d->info;
    bool seen[FAM_MAX_PARAMS] = {false};
    for (size_t i = 0; i < f->n_params; i++) p[i] = f->params[i].def;
    char valid[128];
    list_params(f, valid, sizeof valid);

    const char *end = s + len;
    while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *item_end = comma ? comma : end;
        size_t item_len = (size_t)(item_end - s);
        const char *eq = memchr(s, '=', item_len);
        if (item_len == 0 || !eq)
            return ax_fail(err, "%s: expected key=value, got '%.*s'", spec, (int)item_len, s);
        size_t key_len = (size_t)(eq - s);
        size_t k = 0;
        while (k < f->n_params &&
               !(strlen(f->params[k].key) == key_len && memcmp(f->params[k].key, s, key_len) == 0))
            k++;
        if (k == f->n_params) {
            if (f->n_params == 0)
                return ax_fail(err, "%s: unknown parameter '%.*s' (%s takes no parameters)", spec,
                               (int)key_len, s, f->name);
            return ax_fail(err, "%s: unknown parameter '%.*s' for %s (valid: %s)", spec,
                           (int)key_len, s, f->name, valid);
        }
        const ax_family_param *fp = &f->params[k];
        if (seen[k]) return ax_fail(err, "%s: parameter %s given more than once", spec, fp->key);
        seen[k] = true;
        const char *val = eq + 1;
        size_t val_len = (size_t)(item_end - val);
        int v;
        bool huge;
        if (!parse_int(val, val_len, &v, &huge))
            return ax_fail(err, "%s: parameter %s: '%.*s' is not an integer (range %d..%d)", spec,
                           fp->key, (int)val_len, val, fp->min, fp->max);
        if (huge || v < fp->min || v > fp->max)
            return ax_fail(err, "%s: parameter %s=%.*s out of range %d..%d", spec, fp->key,
                           (int)val_len, val, fp->min, fp->max);
        p[k] = v;
        if (!comma) break;
        s = comma + 1;
    }
    return 0;
}

/* "trunc-s8" -> family and operand types. */
static int parse_head(const char *spec, const char *s, size_t len, const fam_def **d,
                      ax_operand *act, ax_operand *wgt, ax_error *err)
{
    const char *dash = NULL;
    for (const char *c = s; c < s + len; c++)
        if (*c == '-') dash = c;
    size_t name_len = dash ? (size_t)(dash - s) : len;
    *d = find_def(s, name_len);
    if (!*d) {
        char known[256];
        list_families(known, sizeof known);
        return ax_fail(err, "%s: unknown multiplier family '%.*s' (known: %s)", spec,
                       (int)name_len, s, known);
    }
    const char *suf = dash ? dash + 1 : s + len;
    size_t suf_len = (size_t)(s + len - suf);
    if (suf_len == 2 && memcmp(suf, "s8", 2) == 0) {
        *act = *wgt = AX_S8;
    } else if (suf_len == 2 && memcmp(suf, "u8", 2) == 0) {
        *act = *wgt = AX_U8;
    } else if (suf_len == 4 && memcmp(suf, "u8s8", 4) == 0) {
        *act = AX_U8;
        *wgt = AX_S8;
    } else if (!dash) {
        return ax_fail(err, "%s: missing operand suffix (-s8, -u8 or -u8s8)", spec);
    } else {
        return ax_fail(err, "%s: unknown operand suffix '-%.*s' (known: -s8, -u8, -u8s8)", spec,
                       (int)suf_len, suf);
    }
    return 0;
}

static const char *types_name(ax_operand act, ax_operand wgt)
{
    if (act == wgt) return ax_operand_name(act);
    return act == AX_U8 ? "u8s8" : "s8u8";
}

/* Canonical name ("trunc-s8:k=6") and provenance ("family=trunc-s8 k=6"). */
static void describe(ax_mult *m, const ax_family_info *f, const int *p)
{
    char name[AX_NAME_MAX], prov[AX_PROVENANCE_MAX];
    int n = snprintf(name, sizeof name, "%s-%s", f->name, types_name(m->act, m->wgt));
    int q = snprintf(prov, sizeof prov, "family=%s", name);
    for (size_t i = 0; i < f->n_params; i++) {
        n += snprintf(name + n, sizeof name - (size_t)n, "%c%s=%d", i ? ',' : ':',
                      f->params[i].key, p[i]);
        q += snprintf(prov + q, sizeof prov - (size_t)q, " %s=%d", f->params[i].key, p[i]);
    }
    ax_strlcpy(m->name, name, sizeof m->name);
    ax_strlcpy(m->provenance, prov, sizeof m->provenance);
}

int ax_mult_from_family_spec(const char *spec, ax_mult **out, ax_error *err)
{
    *out = NULL;
    if (!spec || !*spec) return ax_fail(err, "\"\": empty multiplier spec");
    const char *colon = strchr(spec, ':');
    size_t head_len = colon ? (size_t)(colon - spec) : strlen(spec);

    const fam_def *d;
    ax_operand act = AX_S8, wgt = AX_S8;
    if (parse_head(spec, spec, head_len, &d, &act, &wgt, err) != 0) return -1;
    int p[FAM_MAX_PARAMS] = {0};
    if (colon) {
        if (parse_params(spec, d, colon + 1, strlen(colon + 1), p, err) != 0) return -1;
    } else {
        for (size_t i = 0; i < d->info.n_params; i++) p[i] = d->info.params[i].def;
    }
    const char *why = d->check ? d->check(p) : NULL;
    if (why) return ax_fail(err, "%s: %s", spec, why);

    ax_mult *m = ax_mult_new();
    if (!m) return ax_fail(err, "%s: out of memory", spec);
    m->act = act;
    m->wgt = wgt;
    d->build(m, p);
    describe(m, &d->info, p);
    *out = m;
    return 0;
}
