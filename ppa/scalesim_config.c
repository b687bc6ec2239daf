/* scalesim_config.c - reads SCALE-Sim config files (.cfg), so a design
 * described for SCALE-Sim runs here unchanged: the array size and dataflow
 * of [architecture_presets]; SRAM sizes are kept for reports. Other sections
 * ([general], [run_presets], [layout], [sparsity], ...) are ignored. */
#include "ppa_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cfg_parser {
    const char *what;
    ax_scalesim_config *c;
    bool in_arch, saw_arch, saw_h, saw_w;
} cfg_parser;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

static void normalize(const char *s, char *out, size_t size)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++)
        if (isalnum((unsigned char)*s)) out[k++] = (char)tolower((unsigned char)*s);
    out[k] = 0;
}

static int parse_dim(const cfg_parser *p, int line, const char *key, const char *v, uint32_t *out, ax_error *err)
{
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *trim(end) || x == 0 || x > 65536)
        return ax_fail(err, "%s:%d: %s: '%s' is not an array size (1..65536)", p->what, line, key, v);
    *out = (uint32_t)x;
    return 0;
}

static int parse_kb(const cfg_parser *p, int line, const char *key, const char *v, double *out, ax_error *err)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *trim(end) || !isfinite(x) || x < 0)
        return ax_fail(err, "%s:%d: %s: '%s' is not a size in kB", p->what, line, key, v);
    *out = x;
    return 0;
}

static int parse_dataflow(const cfg_parser *p, int line, const char *v, ax_error *err)
{
    static const char *const names[] = {"ws", "os", "is"};
    for (int d = 0; d < 3; d++) {
        if (strcasecmp(v, names[d]) == 0) {
            p->c->dataflow = (ax_dataflow)d;
            p->c->dataflow_line = line;
            return 0;
        }
    }
    return ax_fail(err, "%s:%d: Dataflow: '%s' is not ws, os or is", p->what, line, v);
}

static int arch_key(cfg_parser *p, int line, const char *key, const char *v, ax_error *err)
{
    char k[64];
    normalize(key, k, sizeof k);
    ax_scalesim_config *c = p->c;
    if (!strcmp(k, "arrayheight")) return p->saw_h = true, parse_dim(p, line, key, v, &c->rows, err);
    if (!strcmp(k, "arraywidth")) return p->saw_w = true, parse_dim(p, line, key, v, &c->cols, err);
    if (!strcmp(k, "dataflow")) return parse_dataflow(p, line, v, err);
    if (!strcmp(k, "ifmapsramszkb")) return parse_kb(p, line, key, v, &c->ifmap_sram_kb, err);
    if (!strcmp(k, "filtersramszkb")) return parse_kb(p, line, key, v, &c->filter_sram_kb, err);
    if (!strcmp(k, "ofmapsramszkb")) return parse_kb(p, line, key, v, &c->ofmap_sram_kb, err);
    return 0; /* offsets, bandwidth, banks: not modelled */
}

static int one_line(cfg_parser *p, int line, char *s, ax_error *err)
{
    s = trim(s);
    if (!*s || *s == '#' || *s == ';') return 0;
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close || *trim(close + 1)) return ax_fail(err, "%s:%d: malformed section header '%s'", p->what, line, s);
        *close = 0;
        char norm[64];
        normalize(s + 1, norm, sizeof norm);
        p->in_arch = strcmp(norm, "architecturepresets") == 0;
        p->saw_arch |= p->in_arch;
        return 0;
    }
    char *sep = strpbrk(s, ":=");
    if (!sep) return ax_fail(err, "%s:%d: expected '[section]' or 'key: value', got '%s'", p->what, line, s);
    *sep = 0;
    char *key = trim(s), *val = trim(sep + 1);
    if (!*key) return ax_fail(err, "%s:%d: value without a key", p->what, line);
    if (strcmp(key, "run_name") == 0) ax_strlcpy(p->c->run_name, val, sizeof p->c->run_name);
    return p->in_arch ? arch_key(p, line, key, val, err) : 0;
}

int ax_scalesim_config_parse(const char *text, size_t len, const char *what, ax_scalesim_config *out,
                             ax_error *err)
{
    memset(out, 0, sizeof *out);
    out->dataflow = AX_DATAFLOW_WS;
    out->ifmap_sram_kb = out->filter_sram_kb = out->ofmap_sram_kb = NAN;
    if (memchr(text, 0, len)) return ax_fail(err, "%s: not a text file (NUL byte)", what);
    cfg_parser p = {.what = what, .c = out};
    char buf[4096];
    int line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        if (end - i >= sizeof buf) return ax_fail(err, "%s:%d: line too long", what, line);
        memcpy(buf, text + i, end - i);
        buf[end - i] = 0;
        i = end + 1;
        if (one_line(&p, line, buf, err) != 0) return -1;
    }
    if (!p.saw_arch) return ax_fail(err, "%s: no [architecture_presets] section (not a SCALE-Sim config?)", what);
    if (!p.saw_h) return ax_fail(err, "%s: [architecture_presets] lacks ArrayHeight", what);
    if (!p.saw_w) return ax_fail(err, "%s: [architecture_presets] lacks ArrayWidth", what);
    return 0;
}

int ax_scalesim_config_load(const char *path, ax_scalesim_config *out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    if (ax_read_file(path, 1u << 20, &buf, &len, err) != 0) return -1;
    int rc = ax_scalesim_config_parse((const char *)buf, len, path, out, err);
    free(buf);
    return rc;
}
