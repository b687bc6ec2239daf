/* spec.c - turns what a user types for a multiplier (a built-in family spec,
 * a file, or a name) into a table, and finds named multipliers. */
#include "ax_config.h"
#include "ax_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *evoapprox_dir(void)
{
    const char *d = getenv("AX_EVOAPPROX_DIR");
    return d && *d ? d : AX_EVOAPPROX_DEFAULT;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Calls fn for every NAME<suffix> in dir, in sorted order. */
static void scan_dir(const char *dir, const char *suffix, ax_named_fn fn, void *ctx)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        const char *f = list[i]->d_name;
        size_t len = strlen(f), k = strlen(suffix);
        if (f[0] != '.' && len > k && ends_with(f, suffix) && len - k < AX_NAME_MAX) {
            char name[AX_NAME_MAX];
            memcpy(name, f, len - k);
            name[len - k] = 0;
            char *path = malloc(strlen(dir) + len + 2);
            if (path) {
                sprintf(path, "%s/%s", dir, f);
                fn(name, path, ctx);
                free(path);
            }
        }
        free(list[i]);
    }
    free(list);
}

void ax_mult_list_named(ax_named_fn fn, void *ctx)
{
    const char *mp = getenv("AX_MULT_PATH");
    if (mp && *mp) {
        char *copy = strdup(mp), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
            if (is_dir(d)) scan_dir(d, ".axm", fn, ctx);
        free(copy);
    }
    if (is_dir(evoapprox_dir())) scan_dir(evoapprox_dir(), ".bin.gz", fn, ctx);
}

typedef struct find_ctx {
    const char *want;
    char *path;
} find_ctx;

static void find_one(const char *name, const char *path, void *p)
{
    find_ctx *f = p;
    if (!f->path && strcmp(name, f->want) == 0) f->path = strdup(path);
}

/* Reads the published figures of `name` from manifest.csv beside the table:
 * columns located by header name, so added columns do not break us. */
static void read_manifest_figures(const char *table_path, const char *name, ax_hw_figures *hw)
{
    char dir[4096];
    ax_strlcpy(dir, table_path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/manifest.csv", dir);
    FILE *f = fopen(manifest, "r");
    if (!f) return;
    char line[4096];
    int col_name = -1, col_pwr = -1, col_area = -1, col_delay = -1;
    if (fgets(line, sizeof line, f)) {
        int c = 0;
        for (char *save = NULL, *t = strtok_r(line, ",\r\n", &save); t; t = strtok_r(NULL, ",\r\n", &save), c++) {
            if (!strcmp(t, "name")) col_name = c;
            else if (!strcmp(t, "power")) col_pwr = c;
            else if (!strcmp(t, "area")) col_area = c;
            else if (!strcmp(t, "delay")) col_delay = c;
        }
    }
    while (col_name >= 0 && fgets(line, sizeof line, f)) {
        char *fields[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {  /* empty fields matter: no strtok here */
            fields[nf++] = p;
            p = strpbrk(p, ",\r\n");
            if (!p || *p != ',') { if (p) *p = 0; break; }
            *p++ = 0;
        }
        if (col_name >= nf || strcmp(fields[col_name], name) != 0) continue;
        if (col_pwr >= 0 && col_pwr < nf && *fields[col_pwr]) hw->power_mw = strtod(fields[col_pwr], NULL);
        if (col_area >= 0 && col_area < nf && *fields[col_area]) hw->area_um2 = strtod(fields[col_area], NULL);
        if (col_delay >= 0 && col_delay < nf && *fields[col_delay]) hw->delay_ns = strtod(fields[col_delay], NULL);
        ax_strlcpy(hw->node, "45nm", sizeof hw->node);
        break;
    }
    fclose(f);
}

int ax_mult_load_evoapprox(const char *path, ax_mult **out, ax_error *err)
{
    char name[AX_NAME_MAX];
    ax_basename_noext(path, name, sizeof name);
    ax_import_options o;
    ax_import_options_init(&o);
    o.format = AX_FMT_RAW_I32;
    bool is_signed = strncmp(name, "mul8s", 5) == 0;
    o.sign = is_signed ? AX_SIGN_SIGNED : AX_SIGN_UNSIGNED;
    o.index_offset = is_signed;
    if (ax_mult_import(path, &o, out, err) != 0) return -1;
    read_manifest_figures(path, name, &(*out)->hw);
    return 0;
}

int ax_mult_resolve(const char *spec, ax_mult **out, ax_error *err)
{
    *out = NULL;
    if (!spec || !*spec) return ax_fail(err, "empty multiplier spec");
    if (is_file(spec)) {
        ax_import_options o;
        ax_import_options_init(&o);
        const char *base = strrchr(spec, '/');
        base = base ? base + 1 : spec;
        /* EvoApproxLib's reference tables carry their layout in their name. */
        if (ends_with(spec, ".bin.gz") && strncmp(base, "mul8", 4) == 0)
            return ax_mult_load_evoapprox(spec, out, err);
        return ax_mult_import(spec, &o, out, err);
    }
    if (strchr(spec, '/') || ends_with(spec, ".axm"))
        return ax_fail(err, "%s: no such file", spec);
    find_ctx f = {spec, NULL};
    if (!strchr(spec, '-') && !strchr(spec, ':')) ax_mult_list_named(find_one, &f);
    if (f.path) {
        int rc = ends_with(f.path, ".bin.gz") ? ax_mult_load_evoapprox(f.path, out, err)
                                              : ax_mult_load(f.path, out, err);
        free(f.path);
        return rc;
    }
    if (!strchr(spec, '-') && !strchr(spec, ':'))
        return ax_fail(err, "%s: not a file, a built-in family spec (like trunc-s8:k=6) or a known "
                            "multiplier name (see 'autoapprox mult list')", spec);
    return ax_mult_from_family_spec(spec, out, err);
}
