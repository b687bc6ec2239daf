/* summary.c - the end-of-run summary: each benchmark's speed (the median
 * over --benchmark_repetitions) as a ratio to the naive peer (same
 * multiplier and shape) and to the oneDNN peer (same shape), then per
 * op/path/isa/multiplier the geometric mean over shapes. */
#include "summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char name[AX_BENCH_NAME_MAX];
    char f[5][AX_BENCH_NAME_MAX]; /* op, path, isa, mult, shape */
    double sum;                   /* of items_per_second over repetitions */
    int n;
    double median;                /* Google Benchmark's median aggregate, 0 if none */
} entry;

struct bench_summary {
    entry *e;
    size_t n, cap;
};

bench_summary *bench_summary_new(void) { return calloc(1, sizeof(bench_summary)); }

void bench_summary_free(bench_summary *s)
{
    if (!s) return;
    free(s->e);
    free(s);
}

static bool split(const char *name, entry *e)
{
    const char *p = name;
    for (int i = 0; i < 5; i++) {
        const char *q = strchr(p, '/');
        if ((i < 4) != (q != NULL)) return false;
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len >= AX_BENCH_NAME_MAX) return false;
        memcpy(e->f[i], p, len);
        e->f[i][len] = 0;
        p = q ? q + 1 : p;
    }
    return true;
}

/* name's entry, added (not run yet: n 0) when new; NULL for a name that
 * is not op/path/isa/mult/shape or when out of memory */
static entry *find_or_add(bench_summary *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].name, name) == 0) return &s->e[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        entry *e = realloc(s->e, cap * sizeof *e);
        if (!e) return NULL;
        s->e = e, s->cap = cap;
    }
    entry *e = &s->e[s->n];
    memset(e, 0, sizeof *e);
    if (strlen(name) >= sizeof e->name || !split(name, e)) return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    s->n++;
    return e;
}

void bench_summary_add(bench_summary *s, const ax_gb_result *r)
{
    if (s && !r->error && strcmp(r->aggregate, "median") == 0 && r->items_per_second > 0) {
        size_t len = strlen(r->name);
        for (size_t i = 0; i < s->n; i++) /* name is the run's name + "_median" */
            if (len > 7 && strncmp(s->e[i].name, r->name, len - 7) == 0 && !s->e[i].name[len - 7])
                s->e[i].median = r->items_per_second;
        return;
    }
    if (!s || r->error || r->aggregate[0] || r->items_per_second <= 0) return;
    entry *e = find_or_add(s, r->name);
    if (e) e->sum += r->items_per_second, e->n++;
}

void bench_summary_expect(bench_summary *s, const char *name)
{
    if (s) find_or_add(s, name);
}

/* the median of repetitions when there are several, else the run's speed */
static double speed(const entry *e) { return e->median > 0 ? e->median : e->n ? e->sum / e->n : 0; }

/* The peer's speed on e's shape: naive with e's multiplier, onednn with any.
 * Suite network runs one naive per network (the scalar LUT's speed does not
 * depend on the table): any multiplier's naive there. */
static double peer(const bench_summary *s, const entry *e, const char *path)
{
    bool naive = strcmp(path, "naive") == 0;
    for (int any = 0; any < 2; any++) {
        if (any && (!naive || strcmp(e->f[0], "network") != 0)) break;
        for (size_t i = 0; i < s->n; i++) {
            const entry *p = &s->e[i];
            if (p->n && strcmp(p->f[1], path) == 0 && strcmp(p->f[0], e->f[0]) == 0 && strcmp(p->f[4], e->f[4]) == 0 &&
                (!naive || any || strcmp(p->f[3], e->f[3]) == 0))
                return speed(p);
        }
    }
    return 0;
}

static void ratio(FILE *f, double num, double den)
{
    if (den > 0) fprintf(f, " %9.3f", num / den);
    else fprintf(f, " %9s", "-");
}

void bench_summary_print(const bench_summary *s, FILE *f)
{
    if (!s || s->n == 0) return;
    int w = 10;
    for (size_t i = 0; i < s->n; i++)
        if ((int)strlen(s->e[i].name) > w) w = (int)strlen(s->e[i].name);
    fprintf(f, "\nsummary: speed as a ratio to the peers measured in this run (naive: same multiplier and shape;\n"
               "onednn: exact int8 GEMM on the same shape)\n");
    fprintf(f, "%-*s %9s %9s %9s\n", w, "benchmark", "GMAC/s", "x naive", "x onednn");
    for (size_t i = 0; i < s->n; i++) {
        const entry *e = &s->e[i];
        if (!e->n) continue; /* expected, never ran (an error) */
        fprintf(f, "%-*s %9.3f", w, e->name, speed(e) / 1e9);
        ratio(f, speed(e), peer(s, e, "naive"));
        ratio(f, speed(e), peer(s, e, "onednn"));
        fputc('\n', f);
    }
    fprintf(f, "\ngeometric mean over shapes\n%-*s %6s %9s %9s %9s\n", w, "op/path/isa/mult", "shapes", "GMAC/s",
            "x naive", "x onednn");
    bool *done = calloc(s->n, sizeof *done);
    if (!done) return;
    for (size_t i = 0; i < s->n; i++) {
        if (done[i] || !s->e[i].n) continue;
        const entry *a = &s->e[i];
        double lg = 0, ln = 0, lo = 0;
        int n = 0, nn = 0, no = 0;
        for (size_t j = i; j < s->n; j++) {
            const entry *b = &s->e[j];
            if (!b->n || strcmp(a->f[0], b->f[0]) || strcmp(a->f[1], b->f[1]) || strcmp(a->f[2], b->f[2]) ||
                strcmp(a->f[3], b->f[3]))
                continue;
            done[j] = true;
            double v = speed(b), pn = peer(s, b, "naive"), po = peer(s, b, "onednn");
            lg += log(v / 1e9), n++;
            if (pn > 0) ln += log(v / pn), nn++;
            if (po > 0) lo += log(v / po), no++;
        }
        char key[4 * AX_BENCH_NAME_MAX + 4];
        snprintf(key, sizeof key, "%s/%s/%s/%s", a->f[0], a->f[1], a->f[2], a->f[3]);
        fprintf(f, "%-*s %6d %9.3f", w, key, n, exp(lg / n));
        ratio(f, nn ? exp(ln / nn) : 0, nn ? 1 : 0);
        ratio(f, no ? exp(lo / no) : 0, no ? 1 : 0);
        fputc('\n', f);
    }
    free(done);
}
