/* cli_util.c - helpers shared by the autoapprox subcommands. */
#include "cli.h"

#include "ax_config.h"
#include "ax_git_revision.h"
#include "autoapprox/nn.h"
#include "autoapprox/ppa.h"
#include "lut/ax_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("autoapprox: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("autoapprox: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        cli_fail(AX_EXIT_USAGE, "%s: '%s' is not a number", opt, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_i64(const char *opt, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno) {
        cli_fail(AX_EXIT_USAGE, "%s: '%s' is not an integer", opt, s);
        return false;
    }
    *out = v;
    return true;
}

static const cli_opt *find_opt(const cli_opt *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name)) return &opts[i];
    return NULL;
}

int cli_parse_options(const char *cmd, int argc, char **argv, const cli_opt *opts, size_t n_opts,
                      const char **pos, size_t max_pos, size_t *n_pos)
{
    size_t np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (a[0] != '-' || !a[1]) {
            if (np >= max_pos) return cli_fail(AX_EXIT_USAGE, "%s: unexpected argument '%s'", cmd, a);
            pos[np++] = a;
            continue;
        }
        const cli_opt *o = find_opt(opts, n_opts, a);
        if (!o) return cli_fail(AX_EXIT_USAGE, "%s: unknown option '%s' (autoapprox %s --help)", cmd, a, cmd);
        if (o->flag) {
            *o->flag = true;
            continue;
        }
        if (i + 1 >= argc) return cli_fail(AX_EXIT_USAGE, "%s: %s needs a value", cmd, a);
        const char *v = argv[++i];
        if (o->str) {
            *o->str = v;
            continue;
        }
        if (!cli_parse_i64(a, v, o->num)) return AX_EXIT_USAGE;
        if (*o->num < o->min || *o->num > o->max)
            return cli_fail(AX_EXIT_USAGE, "%s: %lld is out of range %lld..%lld", a, (long long)*o->num,
                            (long long)o->min, (long long)o->max);
    }
    if (n_pos) *n_pos = np;
    return 0;
}

json_object *cli_provenance(const char *command)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "tool", json_object_new_string("autoapprox"));
    json_object_object_add(p, "version", json_object_new_string(AX_VERSION));
    json_object_object_add(p, "git_revision", json_object_new_string(AX_GIT_REVISION));
    json_object_object_add(p, "command", json_object_new_string(command));
    json_object_object_add(p, "multipliers", json_object_new_array());
    return p;
}

void cli_provenance_add_mult(json_object *prov, const ax_mult *m)
{
    json_object *arr;
    if (!json_object_object_get_ex(prov, "multipliers", &arr)) return;
    char sha[65];
    ax_mult_table_sha256(m, sha);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(m->name));
    json_object_object_add(o, "table_sha256", json_object_new_string(sha));
    json_object_object_add(o, "source", json_object_new_string(m->provenance));
    json_object_array_add(arr, o);
}

int cli_write_json(const char *path, json_object *obj)
{
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (strcmp(path, "-") == 0) {
        puts(text);
        return fflush(stdout) == 0 ? 0 : -1;
    }
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    if (!buf) return -1;
    memcpy(buf, text, len);
    buf[len] = '\n';
    ax_error err;
    int rc = ax_write_file_atomic(path, buf, len + 1, &err);
    free(buf);
    if (rc != 0) cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    return rc;
}

int cli_topology_of_model(const char *path, ax_topology **out)
{
    ax_nn_model *m;
    ax_error err;
    *out = NULL;
    if (ax_nn_load_onnx(path, &m, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg), -1;
    int rc = ax_topology_from_nn(m, path, out, &err);
    ax_nn_free(m);
    if (rc != 0) cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    return rc;
}
