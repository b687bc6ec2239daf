/* topology.c - reads SCALE-Sim topology CSV files: the network as a list of
 * conv/FC layer shapes, the only thing the chip model needs.
 *
 * Columns are found by header name, not position, so the spreadsheet exports
 * SCALE-Sim ships (extra columns, trailing commas, rows of empty cells,
 * '#' notes after the last column) read as they are. Two layouts:
 *   conv: Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
 *         Channels, Num Filter, Strides (or Stride height + Stride width),
 *         optional Depthwise;
 *   GEMM: Layer, M, N, K  (SCALE-Sim's mnk input: ifmap M x K, filter 1 x K).
 * A depthwise layer is marked by "DP" in its name (SCALE-Sim's convention) or
 * a true Depthwise cell. A malformed row is an error naming file:line. */
#include "ppa_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum col { C_NAME, C_IFH, C_IFW, C_FH, C_FW, C_CH, C_NF, C_STRIDE, C_SH, C_SW, C_DW, C_M, C_N, C_K, C_COUNT };

/* What users call each column (normalized: lower case, letters and digits only). */
static const char *const col_alias[C_COUNT][4] = {
    [C_NAME] = {"layername", "layer", "name", NULL},
    [C_IFH] = {"ifmapheight", "ifmaph", NULL},
    [C_IFW] = {"ifmapwidth", "ifmapw", NULL},
    [C_FH] = {"filterheight", "filterh", NULL},
    [C_FW] = {"filterwidth", "filterw", NULL},
    [C_CH] = {"channels", "channel", "numchannels", NULL},
    [C_NF] = {"numfilter", "numfilters", "filters", NULL},
    [C_STRIDE] = {"strides", "stride", NULL},
    [C_SH] = {"strideheight", "strideh", NULL},
    [C_SW] = {"stridewidth", "stridew", NULL},
    [C_DW] = {"depthwise", "dw", NULL},
    [C_M] = {"m", NULL},
    [C_N] = {"n", NULL},
    [C_K] = {"k", NULL},
};

static const char *const col_title[C_COUNT] = {
    "Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter",
    "Strides", "Stride height", "Stride width", "Depthwise", "M", "N", "K",
};

#define MAX_FIELDS 256
#define FIELD_MAX 256

typedef struct row {
    int n;
    char field[MAX_FIELDS][FIELD_MAX];
} row;

typedef struct parser {
    const char *what;
    int col[C_COUNT]; /* field index, -1 absent */
    bool gemm;
    ax_topology *t;
    size_t cap;
} parser;

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    while (isspace((unsigned char)s[i])) i++;
    if (i) memmove(s, s + i, n - i + 1);
}

/* Splits one line into fields (double quotes protect commas; "" is a quote). */
static void split_row(const char *s, size_t len, row *r)
{
    r->n = 0;
    size_t i = 0;
    for (;;) {
        char *f = r->n < MAX_FIELDS ? r->field[r->n] : NULL;
        size_t k = 0;
        bool quoted = false;
        while (i < len && (quoted || s[i] != ',')) {
            if (s[i] == '"' && quoted && i + 1 < len && s[i + 1] == '"') i++;
            else if (s[i] == '"') { quoted = !quoted; i++; continue; }
            if (f && k + 1 < FIELD_MAX) f[k++] = s[i];
            i++;
        }
        if (f) {
            f[k] = 0;
            trim(f);
            r->n++;
        }
        if (i >= len) break;
        i++; /* the comma */
    }
}

static bool row_blank(const row *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->field[i][0]) return false;
    return true;
}

static void normalize(const char *s, char *out, size_t size)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++)
        if (isalnum((unsigned char)*s)) out[k++] = (char)tolower((unsigned char)*s);
    out[k] = 0;
}

static int find_col(const char *norm)
{
    for (int c = 0; c < C_COUNT; c++)
        for (int a = 0; a < 4 && col_alias[c][a]; a++)
            if (strcmp(norm, col_alias[c][a]) == 0) return c;
    return -1;
}

static int read_header(parser *p, const row *r, int line, ax_error *err)
{
    for (int c = 0; c < C_COUNT; c++) p->col[c] = -1;
    for (int i = 0; i < r->n; i++) {
        char norm[FIELD_MAX];
        normalize(r->field[i], norm, sizeof norm);
        int c = norm[0] ? find_col(norm) : -1;
        if (c >= 0 && p->col[c] < 0) p->col[c] = i;
    }
    p->gemm = p->col[C_M] >= 0 && p->col[C_N] >= 0 && p->col[C_K] >= 0 && p->col[C_IFH] < 0;
    static const int conv_need[] = {C_NAME, C_IFH, C_IFW, C_FH, C_FW, C_CH, C_NF};
    static const int gemm_need[] = {C_NAME, C_M, C_N, C_K};
    const int *need = p->gemm ? gemm_need : conv_need;
    size_t n_need = p->gemm ? 4 : 7;
    for (size_t i = 0; i < n_need; i++)
        if (p->col[need[i]] < 0)
            return ax_fail(err, "%s:%d: header lacks column '%s' (expected 'Layer name, IFMAP Height, IFMAP Width, "
                                "Filter Height, Filter Width, Channels, Num Filter, Strides,' or 'Layer, M, N, K,')",
                           p->what, line, col_title[need[i]]);
    if (!p->gemm && p->col[C_STRIDE] < 0 && p->col[C_SH] < 0)
        return ax_fail(err, "%s:%d: header lacks column 'Strides' (or 'Stride height' and 'Stride width')", p->what,
                       line);
    return 0;
}

/* A positive integer below 2^31 from column c; error names file:line and the column. */
static int get_uint(const parser *p, const row *r, int c, int line, uint32_t *out, ax_error *err)
{
    int i = p->col[c];
    if (i >= r->n || !r->field[i][0])
        return ax_fail(err, "%s:%d: column '%s' is missing", p->what, line, col_title[c]);
    const char *s = r->field[i];
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end || v == 0 || v > 0x7fffffffULL)
        return ax_fail(err, "%s:%d: column '%s': '%s' is not a positive integer below 2^31", p->what, line,
                       col_title[c], s);
    *out = (uint32_t)v;
    return 0;
}

static int get_bool(const parser *p, const row *r, int line, bool *out, ax_error *err)
{
    int i = p->col[C_DW];
    *out = false;
    if (i < 0 || i >= r->n || !r->field[i][0]) return 0;
    char norm[FIELD_MAX];
    normalize(r->field[i], norm, sizeof norm);
    static const char *const yes[] = {"1", "yes", "y", "true", "dw", "depthwise"};
    static const char *const no[] = {"0", "no", "n", "false"};
    for (size_t k = 0; k < sizeof yes / sizeof *yes; k++)
        if (!strcmp(norm, yes[k])) return *out = true, 0;
    for (size_t k = 0; k < sizeof no / sizeof *no; k++)
        if (!strcmp(norm, no[k])) return 0;
    return ax_fail(err, "%s:%d: column 'Depthwise': '%s' is not yes/no/1/0", p->what, line, r->field[i]);
}

static int conv_row(const parser *p, const row *r, int line, ax_layer *l, ax_error *err)
{
    if (get_uint(p, r, C_IFH, line, &l->ifmap_h, err) || get_uint(p, r, C_IFW, line, &l->ifmap_w, err) ||
        get_uint(p, r, C_FH, line, &l->filter_h, err) || get_uint(p, r, C_FW, line, &l->filter_w, err) ||
        get_uint(p, r, C_CH, line, &l->channels, err) || get_uint(p, r, C_NF, line, &l->filters, err))
        return -1;
    int sh = p->col[C_SH] >= 0 ? C_SH : C_STRIDE;
    if (get_uint(p, r, sh, line, &l->stride_h, err)) return -1;
    bool has_sw = p->col[C_SW] >= 0 && p->col[C_SW] < r->n && r->field[p->col[C_SW]][0];
    if (has_sw) {
        if (get_uint(p, r, C_SW, line, &l->stride_w, err)) return -1;
    } else {
        l->stride_w = l->stride_h; /* SCALE-Sim: one stride for both */
    }
    if (get_bool(p, r, line, &l->depthwise, err)) return -1;
    if (strstr(l->name, "DP")) l->depthwise = true;
    if (l->filter_h > l->ifmap_h || l->filter_w > l->ifmap_w)
        return ax_fail(err,
                       "%s:%d: layer '%s': filter %ux%u is larger than its IFMAP %ux%u (give the padded input size)",
                       p->what, line, l->name, l->filter_h, l->filter_w, l->ifmap_h, l->ifmap_w);
    return 0;
}

static int gemm_row(const parser *p, const row *r, int line, ax_layer *l, ax_error *err)
{
    uint32_t m, n, k;
    if (get_uint(p, r, C_M, line, &m, err) || get_uint(p, r, C_N, line, &n, err) ||
        get_uint(p, r, C_K, line, &k, err))
        return -1;
    /* SCALE-Sim's mnk reading: ifmap M x K, filter 1 x K, 1 channel, N filters, stride 1 */
    *l = (ax_layer){.line = line, .ifmap_h = m, .ifmap_w = k, .filter_h = 1, .filter_w = k,
                    .channels = 1, .filters = n, .stride_h = 1, .stride_w = 1};
    return 0;
}

static int add_layer(parser *p, const row *r, int line, ax_error *err)
{
    const char *name = r->field[p->col[C_NAME]];
    if (p->col[C_NAME] >= r->n || !name[0]) return ax_fail(err, "%s:%d: layer name is empty", p->what, line);
    if (strlen(name) >= AX_LAYER_NAME_MAX)
        return ax_fail(err, "%s:%d: layer name longer than %d characters", p->what, line, AX_LAYER_NAME_MAX - 1);
    if (ax_topology_find(p->t, name) >= 0)
        return ax_fail(err, "%s:%d: layer '%s' appears twice (layer names must be unique)", p->what, line, name);
    if (p->t->n_layers >= 100000) return ax_fail(err, "%s:%d: more than 100000 layers", p->what, line);
    if (p->t->n_layers == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        ax_layer *nl = realloc(p->t->layers, cap * sizeof *nl);
        if (!nl) return ax_fail(err, "%s: out of memory", p->what);
        p->t->layers = nl;
        p->cap = cap;
    }
    ax_layer l = {.line = line};
    ax_strlcpy(l.name, name, sizeof l.name);
    int rc = p->gemm ? gemm_row(p, r, line, &l, err) : conv_row(p, r, line, &l, err);
    if (rc) return -1;
    ax_strlcpy(l.name, name, sizeof l.name);
    p->t->layers[p->t->n_layers++] = l;
    return 0;
}

static int parse_lines(parser *p, const char *text, size_t len, ax_error *err)
{
    row *rp = malloc(sizeof *rp); /* 64 KiB: off the stack */
    if (!rp) return ax_fail(err, "%s: out of memory", p->what);
    bool have_header = false;
    int line = 0, rc = 0;
    size_t i = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) i = 3; /* UTF-8 byte-order mark */
    while (i < len && rc == 0) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        split_row(text + i, end - i, rp);
        i = end + 1;
        if (row_blank(rp) || rp->field[0][0] == '#') continue;
        if (!have_header) {
            rc = read_header(p, rp, line, err);
            have_header = true;
        } else {
            rc = add_layer(p, rp, line, err);
        }
    }
    free(rp);
    if (rc == 0 && !have_header) return ax_fail(err, "%s: empty topology (no header row)", p->what);
    if (rc == 0 && p->t->n_layers == 0) return ax_fail(err, "%s: topology has a header but no layers", p->what);
    return rc;
}

int ax_topology_parse(const char *text, size_t len, const char *what, ax_topology **out, ax_error *err)
{
    *out = NULL;
    if (memchr(text, 0, len)) return ax_fail(err, "%s: not a text file (NUL byte)", what);
    parser p = {.what = what};
    p.t = calloc(1, sizeof *p.t);
    if (!p.t) return ax_fail(err, "%s: out of memory", what);
    ax_basename_noext(what, p.t->name, sizeof p.t->name);
    if (parse_lines(&p, text, len, err) != 0) {
        ax_topology_free(p.t);
        return -1;
    }
    p.t->gemm_mode = p.gemm;
    *out = p.t;
    return 0;
}

int ax_topology_load(const char *path, ax_topology **out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    if (ax_read_file(path, PPA_MAX_FILE, &buf, &len, err) != 0) return -1;
    int rc = ax_topology_parse((const char *)buf, len, path, out, err);
    free(buf);
    return rc;
}

void ax_topology_free(ax_topology *t)
{
    if (!t) return;
    free(t->layers);
    free(t);
}

long ax_topology_find(const ax_topology *t, const char *name)
{
    for (size_t i = 0; i < t->n_layers; i++)
        if (strcmp(t->layers[i].name, name) == 0) return (long)i;
    return -1;
}
