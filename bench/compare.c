/* compare.c - `bench-approx compare A.json B.json`: two Google Benchmark
 * JSON files side by side, per benchmark the speed (items_per_second, i.e.
 * MAC/s) in each and the ratio B/A, then the geometric mean of the ratios
 * over the benchmarks both files hold. With --benchmark_repetitions, the
 * median aggregate is the speed; otherwise iterations of a name average. */
#include "bench.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct speed {
    const char *name;
    double sum;
    int n;
    double median; /* Google Benchmark's median aggregate, 0 if none */
} speed;

static double value(const speed *s) { return s->median > 0 ? s->median : s->sum / s->n; }

typedef struct speeds {
    json_object *root;
    speed *v;
    size_t n;
} speeds;

static speed *find(speeds *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
    return NULL;
}

static int load(const char *path, speeds *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "bench-approx compare: %s: %s\n", path, strerror(errno)), 1;
    fclose(f);
    json_object *bs;
    s->root = json_object_from_file(path);
    if (!s->root || !json_object_object_get_ex(s->root, "benchmarks", &bs) || !json_object_is_type(bs, json_type_array))
        return fprintf(stderr, "bench-approx compare: %s: not a Google Benchmark JSON file (no benchmarks[])\n", path), 1;
    size_t n = json_object_array_length(bs);
    s->v = calloc(n + 1, sizeof *s->v);
    if (!s->v) return fprintf(stderr, "bench-approx compare: out of memory\n"), 1;
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(bs, i), *name, *type, *ips, *rn;
        if (!json_object_object_get_ex(b, "items_per_second", &ips)) continue;
        if (!json_object_object_get_ex(b, "run_name", &rn) && !json_object_object_get_ex(b, "name", &rn)) continue;
        name = rn;
        bool aggregate = json_object_object_get_ex(b, "run_type", &type) &&
                         strcmp(json_object_get_string(type), "aggregate") == 0;
        json_object *agg;
        bool median = aggregate && json_object_object_get_ex(b, "aggregate_name", &agg) &&
                      strcmp(json_object_get_string(agg), "median") == 0;
        if (aggregate && !median) continue;
        speed *sp = find(s, json_object_get_string(name));
        if (!sp) {
            sp = &s->v[s->n++];
            sp->name = json_object_get_string(name);
        }
        if (median) {
            sp->median = json_object_get_double(ips);
            continue;
        }
        sp->sum += json_object_get_double(ips);
        sp->n++;
    }
    return 0;
}

static void release(speeds *s)
{
    free(s->v);
    if (s->root) json_object_put(s->root);
}

int bench_compare(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "bench-approx compare: usage: bench-approx compare A.json B.json\n");
        return 2;
    }
    speeds a, b;
    int rc = load(argv[0], &a);
    if (rc == 0) rc = load(argv[1], &b);
    else b.v = NULL, b.root = NULL;
    if (rc) {
        release(&a), release(&b);
        return rc;
    }
    int w = 9;
    for (size_t i = 0; i < a.n; i++)
        if ((int)strlen(a.v[i].name) > w) w = (int)strlen(a.v[i].name);
    printf("A = %s\nB = %s\n%-*s %10s %10s %8s\n", argv[0], argv[1], w, "benchmark", "A GMAC/s", "B GMAC/s", "B/A");
    double lsum = 0;
    int common = 0;
    for (size_t i = 0; i < a.n; i++) {
        speed *x = &a.v[i], *y = find(&b, x->name);
        double va = value(x) / 1e9;
        if (!y) {
            printf("%-*s %10.3f %10s %8s\n", w, x->name, va, "-", "-");
            continue;
        }
        double vb = value(y) / 1e9;
        printf("%-*s %10.3f %10.3f %8.3f\n", w, x->name, va, vb, vb / va);
        if (va > 0 && vb > 0) lsum += log(vb / va), common++;
    }
    for (size_t i = 0; i < b.n; i++)
        if (!find(&a, b.v[i].name)) printf("%-*s %10s %10.3f %8s\n", w, b.v[i].name, "-", value(&b.v[i]) / 1e9, "-");
    if (common) printf("geometric mean of B/A over %d common benchmarks: %.3f\n", common, exp(lsum / common));
    else printf("no benchmark is in both files\n");
    release(&a), release(&b);
    return common ? 0 : 1;
}
