/* json_util.c - reading the chip and assignment JSON files with errors a
 * user can act on: syntax errors name file:line, wrong or missing members
 * name the file and the member's path ("chip.json: arrays[2].rows: ..."). */
#include "ppa_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int line_of(const char *text, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset; i++) line += text[i] == '\n';
    return line;
}

int ppa_json_parse(const char *text, size_t len, const char *what, json_object **out, ax_error *err)
{
    *out = NULL;
    if (len > PPA_MAX_FILE || len > (size_t)INT32_MAX) return ax_fail(err, "%s: file too large", what);
    if (memchr(text, 0, len)) return ax_fail(err, "%s: not a JSON text file (NUL byte)", what);
    json_tokener *tok = json_tokener_new();
    if (!tok) return ax_fail(err, "%s: out of memory", what);
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        json_object_put(o);
        if (e == json_tokener_continue) return ax_fail(err, "%s:%d: JSON ends early", what, line_of(text, len));
        return ax_fail(err, "%s:%d: invalid JSON: %s", what, line_of(text, end < len ? end : len),
                       json_tokener_error_desc(e));
    }
    for (size_t i = end; i < len; i++) {
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t') {
            json_object_put(o);
            return ax_fail(err, "%s:%d: unexpected text after the JSON value", what, line_of(text, i));
        }
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return ax_fail(err, "%s: the JSON root must be an object {...}", what);
    }
    *out = o;
    return 0;
}

/* Line of the only occurrence of "key" used as a member name ("key":), or
 * failing that of the only occurrence of "key" anywhere (a value); else 0. */
static int quoted_line(const ppa_src *src, const char *key, bool as_member)
{
    size_t k = strlen(key);
    int line = 0, hits = 0;
    for (size_t i = 0; i + k + 2 <= src->len; i++) {
        if (src->text[i] != '"' || memcmp(src->text + i + 1, key, k) != 0 || src->text[i + k + 1] != '"') continue;
        size_t j = i + k + 2;
        while (as_member && j < src->len && strchr(" \t\r\n", src->text[j])) j++;
        if (as_member && (j >= src->len || src->text[j] != ':')) continue;
        if (++hits > 1) return 0;
        line = line_of(src->text, i);
    }
    return line;
}

static int key_line(const ppa_src *src, const char *key)
{
    int line = quoted_line(src, key, true);
    return line ? line : quoted_line(src, key, false);
}

const char *ppa_where(const ppa_src *src, const char *key, char *buf, size_t size)
{
    int line = key ? key_line(src, key) : 0;
    if (line) snprintf(buf, size, "%s:%d", src->what, line);
    else snprintf(buf, size, "%s", src->what);
    return buf;
}

int ppa_json_number(json_object *o, const char *key, const ppa_src *src, const char *ctx, double min, double max,
                    double *out, bool *present, ax_error *err)
{
    char w[1200];
    const char *what = ppa_where(src, key, w, sizeof w);
    json_object *v;
    if (present) *present = false;
    if (!json_object_object_get_ex(o, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return ax_fail(err, "%s: %s%s: expected a number", what, ctx, key);
    double x = json_object_get_double(v);
    if (!isfinite(x) || x < min || x > max)
        return ax_fail(err, "%s: %s%s: %g is out of range %g..%g", what, ctx, key, x, min, max);
    *out = x;
    if (present) *present = true;
    return 0;
}

int ppa_json_string(json_object *o, const char *key, const ppa_src *src, const char *ctx, char *out, size_t size,
                    bool *present, ax_error *err)
{
    char w[1200];
    const char *what = ppa_where(src, key, w, sizeof w);
    json_object *v;
    if (present) *present = false;
    if (!json_object_object_get_ex(o, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_string)) return ax_fail(err, "%s: %s%s: expected a string", what, ctx, key);
    const char *s = json_object_get_string(v);
    if (strlen(s) >= size) return ax_fail(err, "%s: %s%s: longer than %zu characters", what, ctx, key, size - 1);
    ax_strlcpy(out, s, size);
    if (present) *present = true;
    return 0;
}

int ppa_json_known_keys(json_object *o, const char *const *known, const ppa_src *src, const char *ctx, ax_error *err)
{
    char w[1200];
    json_object_object_foreach(o, key, val) {
        (void)val;
        if (key[0] == '_' || !strcmp(key, "description") || !strcmp(key, "comment")) continue;
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) return ax_fail(err, "%s: %sunknown key '%s'", ppa_where(src, key, w, sizeof w), ctx, key);
    }
    return 0;
}
