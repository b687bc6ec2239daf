/* labels.c - labels of a flat folder of photographs: the synset mapping
 * ("nXXXXXXXX description" per line, class = line, as ILSVRC's
 * LOC_synset_mapping.txt) and the labels file, either one label per line in
 * sorted-file order (ILSVRC ground truth) or "name,label" / "name label"
 * lines (CSV with an optional header, Caffe's val.txt, Kaggle's
 * LOC_val_solution.csv). Untrusted text: every line is bounded and checked,
 * and each error names the file and the line. */
#include "data_internal.h"

#include "lut/ax_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 1024
#define MAX_TOKEN 16

/* Next line of text[*pos..len), trimmed of surrounding blanks; false at end. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **s, size_t *n)
{
    if (*pos >= len) return false;
    const char *b = text + *pos, *e = memchr(b, '\n', len - *pos);
    size_t l = e ? (size_t)(e - b) : len - *pos;
    *pos += l + (e ? 1 : 0);
    while (l && isspace((unsigned char)b[l - 1])) l--;
    while (l && isspace((unsigned char)*b)) b++, l--;
    *s = b, *n = l;
    return true;
}

/* Copies the first blank-delimited token of s[0..n) (also ending at a comma
 * when comma is set); false when empty or longer than cap - 1. */
static bool first_token(const char *s, size_t n, bool comma, char *out, size_t cap, size_t *used)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i])) i++;
    size_t b = i;
    while (i < n && !isspace((unsigned char)s[i]) && !(comma && s[i] == ',')) i++;
    if (used) *used = i;
    if (i == b || i - b >= cap) return false;
    memcpy(out, s + b, i - b);
    out[i - b] = 0;
    return true;
}

static int cmp_syn(const void *a, const void *b, void *ctx)
{
    const ax_synsets *s = ctx;
    return strcmp(s->wnid[*(const size_t *)a], s->wnid[*(const size_t *)b]);
}

void ax_synsets_free(ax_synsets *s)
{
    free(s->wnid), free(s->order);
    memset(s, 0, sizeof *s);
}

int ax_synsets_parse(const char *text, size_t len, const char *what, ax_synsets *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0, line = 0, n, cap = 0;
    const char *s;
    while (next_line(text, len, &pos, &s, &n)) {
        line++;
        if (!n || *s == '#') continue;
        if (out->count == cap) {
            cap = cap ? 2 * cap : 1024;
            void *w = realloc(out->wnid, cap * sizeof *out->wnid);
            if (!w) {
                ax_synsets_free(out);
                return ax_fail(err, "%s: out of memory", what);
            }
            out->wnid = w;
        }
        if (!first_token(s, n, true, out->wnid[out->count], sizeof *out->wnid, NULL)) {
            ax_synsets_free(out);
            return ax_fail(err, "%s line %zu: expected a synset id (e.g. n01440764) then its description", what, line);
        }
        out->count++;
    }
    if (!out->count) return ax_fail(err, "%s: no synsets in this file", what);
    if (!(out->order = malloc(out->count * sizeof *out->order))) {
        ax_synsets_free(out);
        return ax_fail(err, "%s: out of memory", what);
    }
    for (size_t i = 0; i < out->count; i++) out->order[i] = i;
    qsort_r(out->order, out->count, sizeof *out->order, cmp_syn, out);
    for (size_t i = 1; i < out->count; i++)
        if (!strcmp(out->wnid[out->order[i]], out->wnid[out->order[i - 1]])) {
            char dup[16];
            ax_strlcpy(dup, out->wnid[out->order[i]], sizeof dup);
            ax_synsets_free(out);
            return ax_fail(err, "%s: synset %s appears twice", what, dup);
        }
    return 0;
}

static long find_synset(const ax_synsets *syn, const char *tok)
{
    size_t lo = 0, hi = syn->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(syn->wnid[syn->order[mid]], tok);
        if (!c) return (long)syn->order[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static bool all_digits(const char *t)
{
    if (!*t) return false;
    for (; *t; t++)
        if (!isdigit((unsigned char)*t)) return false;
    return true;
}

static bool looks_like_synset(const char *t)
{
    return t[0] == 'n' && strlen(t) == 9 && all_digits(t + 1);
}

long ax_label_value(const char *tok, const ax_synsets *syn, const char *what, size_t line, ax_error *err)
{
    if (all_digits(tok)) {
        unsigned long v = strlen(tok) > 9 ? 1000000000UL : strtoul(tok, NULL, 10);
        if (v >= 1000000000UL) return ax_fail(err, "%s line %zu: class index %s is too large", what, line, tok);
        if (syn && v >= syn->count)
            return ax_fail(err, "%s line %zu: class index %lu but the synsets file has %zu classes", what, line, v,
                           syn->count);
        return (long)v;
    }
    if (syn) {
        long v = find_synset(syn, tok);
        if (v < 0) return ax_fail(err, "%s line %zu: unknown synset '%s' (not in the synsets file)", what, line, tok);
        return v;
    }
    if (looks_like_synset(tok))
        return ax_fail(err, "%s line %zu: synset label '%s' needs the synset mapping (--synsets)", what, line, tok);
    return ax_fail(err, "%s line %zu: label '%s' is neither a class index nor a synset", what, line, tok);
}

typedef struct name_ix {
    const char *key;
    size_t len, idx;
} name_ix;

static int cmp_name(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Index of the item whose base name (or base name without extension) is
 * name; -1 none, -2 ambiguous. */
static long lookup(const name_ix *full, const name_ix *stem, size_t n, const char *name)
{
    name_ix q = {name, strlen(name), 0};
    const name_ix *f = bsearch(&q, full, n, sizeof *full, cmp_name);
    if (f) return (long)f->idx;
    f = bsearch(&q, stem, n, sizeof *stem, cmp_name);
    if (!f) return -1;
    if ((f > stem && !cmp_name(f - 1, f)) || (f + 1 < stem + n && !cmp_name(f + 1, f))) return -2;
    return (long)f->idx;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int by_name(const char *text, size_t len, const char *what, const ax_synsets *syn, ax_listing *l,
                   bool *seen, ax_error *err)
{
    size_t n = l->count;
    name_ix *full = malloc(n * sizeof *full), *stem = malloc(n * sizeof *stem);
    if (!full || !stem) {
        free(full), free(stem);
        return ax_fail(err, "%s: out of memory", what);
    }
    for (size_t i = 0; i < n; i++) {
        const char *b = base_name(l->paths[i]), *dot = strrchr(b, '.');
        full[i] = (name_ix){b, strlen(b), i};
        stem[i] = (name_ix){b, dot ? (size_t)(dot - b) : strlen(b), i};
    }
    qsort(full, n, sizeof *full, cmp_name);
    qsort(stem, n, sizeof *stem, cmp_name);
    size_t pos = 0, line = 0, data_lines = 0, sl;
    const char *s;
    int rc = 0;
    while (rc == 0 && next_line(text, len, &pos, &s, &sl)) {
        line++;
        if (!sl || *s == '#') continue;
        const char *comma = memchr(s, ',', sl);
        char name[MAX_NAME], tok[MAX_TOKEN];
        size_t used;
        bool ok_name = comma ? first_token(s, (size_t)(comma - s), false, name, sizeof name, &used)
                             : first_token(s, sl, false, name, sizeof name, &used);
        const char *rest = comma ? comma + 1 : s + used;
        size_t rn = (size_t)(s + sl - rest);
        bool ok_tok = first_token(rest, rn, true, tok, sizeof tok, NULL);
        data_lines++;
        if (data_lines == 1 && (!ok_tok || (!all_digits(tok) && !looks_like_synset(tok) &&
                                            !(syn && find_synset(syn, tok) >= 0))))
            continue; /* a header: "file,label", "ImageId,PredictionString" */
        if (!ok_name || !ok_tok) {
            rc = ax_fail(err, "%s line %zu: expected 'name,label' or 'name label'", what, line);
            break;
        }
        long v = ax_label_value(tok, syn, what, line, err);
        if (v < 0) {
            rc = -1;
            break;
        }
        long i = lookup(full, stem, n, name);
        if (i == -2) rc = ax_fail(err, "%s line %zu: '%s' matches several images by name without extension", what, line, name);
        else if (i < 0) rc = ax_fail(err, "%s line %zu: no image '%s' in the folder", what, line, name);
        else if (seen[i]) rc = ax_fail(err, "%s line %zu: a second label for %s", what, line, l->paths[i]);
        else seen[i] = true, l->labels[i] = (size_t)v;
    }
    free(full), free(stem);
    return rc;
}

/* The first data line decides the layout: one field = one label per line. */
static int one_field_layout(const char *text, size_t len)
{
    size_t pos = 0, n, used;
    const char *s;
    char tok[MAX_NAME];
    while (next_line(text, len, &pos, &s, &n)) {
        if (!n || *s == '#') continue;
        if (memchr(s, ',', n)) return 0;
        first_token(s, n, false, tok, sizeof tok, &used);
        return used >= n;
    }
    return -1;
}

int ax_labels_apply(const char *text, size_t len, const char *what, const ax_synsets *syn, ax_listing *l,
                    ax_error *err)
{
    int layout = one_field_layout(text, len);
    if (layout < 0) return ax_fail(err, "%s: no labels in this file", what);
    bool *seen = calloc(l->count ? l->count : 1, sizeof *seen);
    if (!seen) return ax_fail(err, "%s: out of memory", what);
    int rc = 0;
    if (layout == 1) {
        size_t pos = 0, line = 0, k = 0, n;
        const char *s;
        while (rc == 0 && next_line(text, len, &pos, &s, &n)) {
            line++;
            if (!n || *s == '#') continue;
            char tok[MAX_TOKEN];
            size_t used;
            if (!first_token(s, n, false, tok, sizeof tok, &used) || used < n) {
                rc = ax_fail(err, "%s line %zu: expected one label (class index or synset) per line", what, line);
                break;
            }
            long v = ax_label_value(tok, syn, what, line, err);
            if (v < 0) rc = -1;
            else if (k >= l->count) k++; /* counted for the message below */
            else seen[k] = true, l->labels[k++] = (size_t)v;
        }
        if (rc == 0 && k != l->count)
            rc = ax_fail(err, "%s: %zu labels for %zu images in the folder (one label per line, sorted file order)",
                         what, k, l->count);
    } else {
        rc = by_name(text, len, what, syn, l, seen, err);
        for (size_t i = 0; rc == 0 && i < l->count; i++)
            if (!seen[i]) {
                size_t missing = 0;
                for (size_t j = i; j < l->count; j++) missing += !seen[j];
                rc = ax_fail(err, "%s: no label for %s (%zu images without a label)", what, l->paths[i], missing);
            }
    }
    free(seen);
    if (rc) return -1;
    l->num_classes = 0;
    if (syn) l->num_classes = syn->count;
    else
        for (size_t i = 0; i < l->count; i++)
            if (l->labels[i] + 1 > l->num_classes) l->num_classes = l->labels[i] + 1;
    return 0;
}
