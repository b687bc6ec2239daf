/* chip.c - the chip description: the default TPUv3-like template and the
 * chip JSON file (docs/ppa.md lists every key). Every key is optional; what
 * a file leaves out keeps the default, so a file can say just
 * {"freq_mhz": 700}. Unknown keys are errors: a typo must not silently fall
 * back to a default. */
#include "ppa_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ax_chip_default(ax_chip *c)
{
    static const char *const ids[] = {"A0", "A1", "A2", "A3"};
    ax_chip_default_with_arrays(c, ids, 4, NULL);
}

/* The template without arrays: Cloud TPU v3's public figures where they
 * exist (2 cores, 940 MHz, 16 nm, 32 GiB HBM at 900 GB/s), else the
 * documented assumptions. */
static void chip_template(ax_chip *c)
{
    memset(c, 0, sizeof *c);
    ax_strlcpy(c->name, "tpuv3-like", sizeof c->name);
    c->node_nm = 16;
    c->vdd = 0.8;
    c->freq_mhz = 940;
    c->cores = 2;
    c->ub_mib = 16;
    c->acc_mib = 4;
    c->vector_lanes = 1024;
    c->hbm_gib = 32;
    c->hbm_gbps = 900;
    c->hbm_pj_per_bit = 3.9;
    c->leakage_w_per_mm2 = 0.02;
    c->other_area_mm2 = 0;
}

static void set_array(ax_chip_array *a, const char *id, uint32_t core, uint32_t rows, uint32_t cols)
{
    memset(a, 0, sizeof *a);
    ax_strlcpy(a->id, id, sizeof a->id);
    a->core = core;
    a->rows = rows;
    a->cols = cols;
}

int ax_chip_default_with_arrays(ax_chip *c, const char *const *ids, size_t n, ax_error *err)
{
    chip_template(c);
    if (n == 0) return ax_fail(err, "a chip needs at least one array");
    if (n > AX_CHIP_MAX_ARRAYS) return ax_fail(err, "%zu arrays: at most %d supported", n, AX_CHIP_MAX_ARRAYS);
    if (n < c->cores) c->cores = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i][0] || strlen(ids[i]) >= AX_ARRAY_ID_MAX)
            return ax_fail(err, "array id '%s': must be 1..%d characters", ids[i], AX_ARRAY_ID_MAX - 1);
        set_array(&c->arrays[i], ids[i], (uint32_t)(i * c->cores / n), 128, 128);
    }
    c->n_arrays = n;
    return 0;
}

long ax_chip_find_array(const ax_chip *c, const char *id)
{
    for (size_t i = 0; i < c->n_arrays; i++)
        if (strcmp(c->arrays[i].id, id) == 0) return (long)i;
    return -1;
}

double ax_chip_peak_macs_per_s(const ax_chip *c)
{
    double pes = 0;
    for (size_t i = 0; i < c->n_arrays; i++) pes += (double)c->arrays[i].rows * c->arrays[i].cols;
    return pes * c->freq_mhz * 1e6;
}

/* ---- the JSON file ------------------------------------------------------------ */

static int u32_member(json_object *o, const char *key, const ppa_src *src, const char *ctx, double min, double max,
                      uint32_t *out, ax_error *err)
{
    double v = *out;
    bool present;
    if (ppa_json_number(o, key, src, ctx, min, max, &v, &present, err) != 0) return -1;
    if (present && v != floor(v)) {
        char w[1200];
        return ax_fail(err, "%s: %s%s: %g is not an integer", ppa_where(src, key, w, sizeof w), ctx, key, v);
    }
    *out = (uint32_t)v;
    return 0;
}

static int scalars(json_object *o, const ppa_src *src, ax_chip *c, ax_error *err)
{
    static const char *const known[] = {"name", "node_nm", "vdd", "freq_mhz", "cores", "unified_buffer_mib",
                                        "accumulator_mib", "vector_lanes", "hbm_gib", "hbm_gbps", "hbm_pj_per_bit",
                                        "leakage_w_per_mm2", "other_area_mm2", "array", "arrays_per_core",
                                        "arrays", NULL};
    if (ppa_json_known_keys(o, known, src, "", err)) return -1;
    if (ppa_json_string(o, "name", src, "", c->name, sizeof c->name, NULL, err) ||
        ppa_json_number(o, "node_nm", src, "", 3, 1000, &c->node_nm, NULL, err) ||
        ppa_json_number(o, "vdd", src, "", 0.3, 5, &c->vdd, NULL, err) ||
        ppa_json_number(o, "freq_mhz", src, "", 1, 100000, &c->freq_mhz, NULL, err) ||
        u32_member(o, "cores", src, "", 1, 1024, &c->cores, err) ||
        ppa_json_number(o, "unified_buffer_mib", src, "", 0, 1e6, &c->ub_mib, NULL, err) ||
        ppa_json_number(o, "accumulator_mib", src, "", 0, 1e6, &c->acc_mib, NULL, err) ||
        u32_member(o, "vector_lanes", src, "", 0, 1e7, &c->vector_lanes, err) ||
        ppa_json_number(o, "hbm_gib", src, "", 0, 1e6, &c->hbm_gib, NULL, err) ||
        ppa_json_number(o, "hbm_gbps", src, "", 1e-3, 1e9, &c->hbm_gbps, NULL, err) ||
        ppa_json_number(o, "hbm_pj_per_bit", src, "", 0, 1e4, &c->hbm_pj_per_bit, NULL, err) ||
        ppa_json_number(o, "leakage_w_per_mm2", src, "", 0, 100, &c->leakage_w_per_mm2, NULL, err) ||
        ppa_json_number(o, "other_area_mm2", src, "", 0, 1e6, &c->other_area_mm2, NULL, err))
        return -1;
    return 0;
}

/* arrays[i] of n; core defaults to an even spread, rows/cols to the "array" geometry */
static int one_array(json_object *a, size_t i, size_t n, const ppa_src *src, uint32_t rows, uint32_t cols,
                     ax_chip *c, ax_error *err)
{
    char ctx[48], w[1200];
    snprintf(ctx, sizeof ctx, "arrays[%zu].", i);
    if (!json_object_is_type(a, json_type_object))
        return ax_fail(err, "%s: arrays[%zu]: expected an object {\"id\": ..., \"rows\": ..., \"cols\": ...}",
                       src->what, i);
    static const char *const known[] = {"id", "core", "rows", "cols", "mult", NULL};
    ax_chip_array *x = &c->arrays[i];
    bool has_id;
    set_array(x, "", (uint32_t)(i * c->cores / n), rows, cols);
    if (ppa_json_known_keys(a, known, src, ctx, err) ||
        ppa_json_string(a, "id", src, ctx, x->id, sizeof x->id, &has_id, err) ||
        u32_member(a, "core", src, ctx, 0, 1023, &x->core, err) ||
        u32_member(a, "rows", src, ctx, 1, 65536, &x->rows, err) ||
        u32_member(a, "cols", src, ctx, 1, 65536, &x->cols, err) ||
        ppa_json_string(a, "mult", src, ctx, x->mult, sizeof x->mult, NULL, err))
        return -1;
    if (!has_id || !x->id[0]) return ax_fail(err, "%s: %sid: missing or empty", src->what, ctx);
    if (x->core >= c->cores)
        return ax_fail(err, "%s: %score: %u but the chip has %u core(s)", ppa_where(src, x->id, w, sizeof w), ctx,
                       x->core, c->cores);
    for (size_t j = 0; j < i; j++)
        if (!strcmp(c->arrays[j].id, x->id))
            return ax_fail(err, "%s: %sid: '%s' is used twice", src->what, ctx, x->id);
    return 0;
}

/* "array": {"rows", "cols"}: the geometry arrays take unless they say otherwise. */
static int geometry(json_object *o, const ppa_src *src, uint32_t *rows, uint32_t *cols, ax_error *err)
{
    json_object *g;
    if (!json_object_object_get_ex(o, "array", &g)) return 0;
    if (!json_object_is_type(g, json_type_object))
        return ax_fail(err, "%s: array: expected {\"rows\": R, \"cols\": C}", src->what);
    static const char *const known[] = {"rows", "cols", NULL};
    if (ppa_json_known_keys(g, known, src, "array.", err) ||
        u32_member(g, "rows", src, "array.", 1, 65536, rows, err) ||
        u32_member(g, "cols", src, "array.", 1, 65536, cols, err))
        return -1;
    return 0;
}

static int arrays(json_object *o, const ppa_src *src, ax_chip *c, ax_error *err)
{
    uint32_t rows = 128, cols = 128, per_core = 2;
    if (geometry(o, src, &rows, &cols, err) ||
        u32_member(o, "arrays_per_core", src, "", 1, AX_CHIP_MAX_ARRAYS, &per_core, err))
        return -1;
    json_object *list;
    if (!json_object_object_get_ex(o, "arrays", &list)) {
        size_t n = (size_t)per_core * c->cores;
        if (n > AX_CHIP_MAX_ARRAYS)
            return ax_fail(err, "%s: %zu arrays: at most %d supported", src->what, n, AX_CHIP_MAX_ARRAYS);
        for (size_t i = 0; i < n; i++) {
            char id[16];
            snprintf(id, sizeof id, "A%zu", i);
            set_array(&c->arrays[i], id, (uint32_t)(i / per_core), rows, cols);
        }
        c->n_arrays = n;
        return 0;
    }
    if (!json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0)
        return ax_fail(err, "%s: arrays: expected a non-empty list of {\"id\", \"rows\", \"cols\", ...}", src->what);
    size_t n = json_object_array_length(list);
    if (n > AX_CHIP_MAX_ARRAYS)
        return ax_fail(err, "%s: arrays: %zu arrays, at most %d supported", src->what, n, AX_CHIP_MAX_ARRAYS);
    for (size_t i = 0; i < n; i++)
        if (one_array(json_object_array_get_idx(list, i), i, n, src, rows, cols, c, err) != 0) return -1;
    c->n_arrays = n;
    return 0;
}

int ax_chip_parse(const char *text, size_t len, const char *what, ax_chip *out, ax_error *err)
{
    json_object *o;
    if (ppa_json_parse(text, len, what, &o, err) != 0) return -1;
    ppa_src src = {what, text, len};
    chip_template(out);
    int rc = scalars(o, &src, out, err) == 0 && arrays(o, &src, out, err) == 0 ? 0 : -1;
    json_object_put(o);
    return rc;
}

int ax_chip_load(const char *path, ax_chip *out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    if (ax_read_file(path, PPA_MAX_FILE, &buf, &len, err) != 0) return -1;
    int rc = ax_chip_parse((const char *)buf, len, path, out, err);
    free(buf);
    return rc;
}
