/* output.c - what the router writes: the assignment file (ARCHITECTURE.md's
 * format, read by `eval --assign` and `ppa --assign`), the Pareto front of
 * every evaluation as CSV, and its plot drawn by gnuplot when gnuplot is
 * installed (a subprocess; its absence is reported, never an error). Every
 * file is written whole or not at all. */
#include "router_internal.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_text(const char *path, const char *text, ax_error *err)
{
    return ax_write_file_atomic(path, text, strlen(text), err);
}

int ax_route_write_assignment(const ax_route_result *r, const ax_nn_model *m, const ax_route_options *o,
                              const char *path, ax_error *err)
{
    json_object *root = json_object_new_object(), *arrays = json_object_new_object(),
                *layers = json_object_new_object(), *info = json_object_new_object();
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "model_sha256", json_object_new_string(ax_nn_sha256(m)));
    for (size_t i = 0; i < r->n_arrays; i++)
        json_object_object_add(arrays, r->array_id[i], json_object_new_string(r->bank_spec[r->array_bank[i]]));
    for (size_t l = 0; l < r->n_layers; l++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, l, &li);
        json_object_object_add(layers, li.name, json_object_new_string(r->array_id[r->layer_array[l]]));
    }
    json_object_object_add(root, "arrays", arrays);
    json_object_object_add(root, "layers", layers);
    json_object_object_add(info, "method", json_object_new_string(ax_route_method_name(o->method)));
    json_object_object_add(info, "objective", json_object_new_string(ax_route_objective_name(o->objective)));
    json_object_object_add(info, "max_drop_pp", json_object_new_double(o->max_drop_pp));
    json_object_object_add(info, "seed", json_object_new_int64((int64_t)o->seed));
    json_object_object_add(info, "verify_top1", json_object_new_double(r->verify_top1));
    json_object_object_add(info, "verify_top5", json_object_new_double(r->verify_top5));
    json_object_object_add(info, "verify_exact_top1", json_object_new_double(r->verify_exact_top1));
    json_object_object_add(info, "verify_exact_top5", json_object_new_double(r->verify_exact_top5));
    json_object_object_add(info, "evaluations", json_object_new_int64((int64_t)(r->evals_search + r->evals_verify)));
    json_object_object_add(root, "router", info);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(text);
    char *buf = malloc(len + 2);
    int rc = buf ? 0 : ax_fail(err, "%s: out of memory", path);
    if (buf) {
        memcpy(buf, text, len);
        buf[len] = '\n', buf[len + 1] = 0;
        rc = write_text(path, buf, err);
    }
    free(buf);
    json_object_put(root);
    return rc;
}

/* ---- Pareto front ---- */

static bool on_front(const ax_route_result *r, size_t i)
{
    const ax_route_point *a = &r->points[i];
    for (size_t k = 0; k < r->n_points; k++) {
        const ax_route_point *b = &r->points[k];
        if (k != i && b->cost <= a->cost && b->top1 >= a->top1 && (b->cost < a->cost || b->top1 > a->top1))
            return false;
    }
    return true;
}

static int by_cost(const void *x, const void *y, void *ctx)
{
    const ax_route_result *r = ctx;
    const ax_route_point *a = &r->points[*(const size_t *)x], *b = &r->points[*(const size_t *)y];
    if (a->cost != b->cost) return a->cost < b->cost ? -1 : 1;
    return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) AX_PRINTF(2, 3);
static void put(sbuf *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->oom; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) b->oom = true;
        else if (b->s && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        } else {
            size_t cap = (b->cap + (size_t)n + 1) * 2;
            char *s = realloc(b->s, cap);
            if (!s) b->oom = true;
            else b->s = s, b->cap = cap;
        }
    }
}

int ax_route_write_pareto_csv(const ax_route_result *r, const ax_nn_model *m, const ax_route_options *o,
                              const char *path, ax_error *err)
{
    size_t *ord = malloc((r->n_points ? r->n_points : 1) * sizeof *ord);
    if (!ord) return ax_fail(err, "%s: out of memory", path);
    for (size_t i = 0; i < r->n_points; i++) ord[i] = i;
    qsort_r(ord, r->n_points, sizeof *ord, by_cost, (void *)r);
    sbuf b = {0};
    put(&b, "%s,%s_delta_pct,top1,top5,feasible,pareto,search_best,evaluated_by,assignment\n",
        ax_route_objective_name(o->objective), ax_route_objective_name(o->objective));
    for (size_t k = 0; k < r->n_points; k++) {
        const ax_route_point *p = &r->points[ord[k]];
        bool chosen = r->search_choice && !memcmp(p->choice, r->search_choice, r->n_layers * sizeof *p->choice);
        put(&b, "%.9g,%.4f,%.6f,%.6f,%d,%d,%d,%s,", p->cost, ax_ppa_delta_pct(p->cost, r->exact_cost), p->top1,
            p->top5, p->feasible, on_front(r, ord[k]), chosen, p->by);
        bool any = false;
        for (size_t l = 0; l < r->n_layers; l++) {
            if (!p->choice[l]) continue;
            ax_nn_layer_info li;
            ax_nn_layer_get(m, l, &li);
            put(&b, "%s%s=%s", any ? ";" : "", li.name, r->bank_spec[p->choice[l]]);
            any = true;
        }
        put(&b, "%s\n", any ? "" : "all-exact");
    }
    free(ord);
    int rc = b.oom ? ax_fail(err, "%s: out of memory", path) : write_text(path, b.s, err);
    free(b.s);
    return rc;
}

/* gnuplot on PATH? */
static bool have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char dir[4096];
    for (const char *s = path; s && *s;) {
        size_t n = strcspn(s, ":");
        if (n && n + 9 < sizeof dir) {
            snprintf(dir, sizeof dir, "%.*s/gnuplot", (int)n, s);
            if (access(dir, X_OK) == 0) return true;
        }
        s += n + (s[n] == ':');
    }
    return false;
}

/* Runs gnuplot with the script on its standard input; 0 when it succeeded. */
static int run_gnuplot(const char *script)
{
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return close(fd[0]), close(fd[1]), -1;
    if (pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]), close(fd[1]);
        execlp("gnuplot", "gnuplot", (char *)NULL);
        _exit(127);
    }
    close(fd[0]);
    size_t len = strlen(script), off = 0;
    while (off < len) {
        ssize_t w = write(fd[1], script + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd[1]);
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return off == len && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int ax_route_plot_pareto(const char *csv, const char *png, const ax_route_options *o, bool *png_done, char *why,
                         size_t why_size)
{
    *png_done = false;
    why[0] = 0;
    if (!have_gnuplot()) {
        snprintf(why, why_size, "gnuplot is not installed (Debian package gnuplot-nox): no %s", png);
        return 0;
    }
    char *tmp = malloc(strlen(png) + 16);
    if (!tmp) return snprintf(why, why_size, "out of memory"), -1;
    sprintf(tmp, "%s.tmp%ld", png, (long)getpid());
    const char *obj = ax_route_objective_name(o->objective);
    const char *unit = o->objective == AX_OBJ_AREA ? "mm^2" : o->objective == AX_OBJ_ENERGY ? "mJ" : "W";
    sbuf b = {0};
    put(&b,
        "set terminal png size 900,600\nset output '%s'\nset datafile separator ','\n"
        "set key outside below\nset grid\nset xlabel 'chip %s (%s)'\nset ylabel 'top-1 (search images)'\n"
        "set title 'autoapprox route: every evaluation, its Pareto front and the chosen chip'\n"
        "plot '%s' every ::1 using 1:3 with points pt 7 ps 0.6 lc rgb '#9e9e9e' title 'evaluated', \\\n"
        "  '' every ::1 using ($6==1?$1:1/0):3 with linespoints pt 7 lc rgb '#1565c0' title 'Pareto front', \\\n"
        "  '' every ::1 using ($7==1?$1:1/0):3 with points pt 9 ps 2 lc rgb '#c62828' title 'search result (before verification)'\n",
        tmp, obj, unit, csv);
    int rc = b.oom ? -1 : run_gnuplot(b.s);
    free(b.s);
    if (rc == 0 && rename(tmp, png) == 0) {
        *png_done = true;
    } else {
        unlink(tmp);
        snprintf(why, why_size, "gnuplot failed to draw %s", png);
        rc = -1;
    }
    free(tmp);
    return rc;
}
