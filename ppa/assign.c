/* assign.c - reads the assignment file the router writes and `eval` and
 * `ppa` read (format fixed in ARCHITECTURE.md):
 *   {"version": 1, "model_sha256": "...",
 *    "arrays": {"A0": "exact-s8", "A1": "mul8s_1L2J.axm"},
 *    "layers": {"<layer>": "A0", ...}}
 * Only the file's own consistency is checked here (every layer names a listed
 * array); matching layers against a network is ax_bind's job. */
#include "ppa_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int read_arrays(json_object *o, const ppa_src *src, ax_assignment *a, ax_error *err)
{
    json_object *arr;
    char w[1200];
    if (!json_object_object_get_ex(o, "arrays", &arr) || !json_object_is_type(arr, json_type_object))
        return ax_fail(err, "%s: \"arrays\" missing or not an object {\"A0\": \"SPEC\", ...}",
                       ppa_where(src, "arrays", w, sizeof w));
    size_t n = (size_t)json_object_object_length(arr);
    if (n == 0) return ax_fail(err, "%s: \"arrays\" is empty", ppa_where(src, "arrays", w, sizeof w));
    a->arrays = calloc(n, sizeof *a->arrays);
    if (!a->arrays) return ax_fail(err, "%s: out of memory", src->what);
    json_object_object_foreach(arr, id, spec) {
        if (!id[0] || strlen(id) >= AX_ARRAY_ID_MAX)
            return ax_fail(err, "%s: arrays: id '%s' must be 1..%d characters", ppa_where(src, id, w, sizeof w), id,
                           AX_ARRAY_ID_MAX - 1);
        if (!json_object_is_type(spec, json_type_string) || !json_object_get_string(spec)[0])
            return ax_fail(err, "%s: arrays.%s: expected a multiplier SPEC string", ppa_where(src, id, w, sizeof w),
                           id);
        if (strlen(json_object_get_string(spec)) >= AX_SPEC_MAX)
            return ax_fail(err, "%s: arrays.%s: SPEC too long", ppa_where(src, id, w, sizeof w), id);
        ax_assign_array *x = &a->arrays[a->n_arrays++];
        ax_strlcpy(x->id, id, sizeof x->id);
        ax_strlcpy(x->spec, json_object_get_string(spec), sizeof x->spec);
    }
    return 0;
}

static bool has_array(const ax_assignment *a, const char *id)
{
    for (size_t i = 0; i < a->n_arrays; i++)
        if (!strcmp(a->arrays[i].id, id)) return true;
    return false;
}

static int read_layers(json_object *o, const ppa_src *src, ax_assignment *a, ax_error *err)
{
    json_object *lay;
    char w[1200];
    if (!json_object_object_get_ex(o, "layers", &lay) || !json_object_is_type(lay, json_type_object))
        return ax_fail(err, "%s: \"layers\" missing or not an object {\"<layer>\": \"A0\", ...}",
                       ppa_where(src, "layers", w, sizeof w));
    size_t n = (size_t)json_object_object_length(lay);
    if (n == 0) return ax_fail(err, "%s: \"layers\" is empty", ppa_where(src, "layers", w, sizeof w));
    a->layers = calloc(n, sizeof *a->layers);
    if (!a->layers) return ax_fail(err, "%s: out of memory", src->what);
    json_object_object_foreach(lay, name, arr) {
        if (!name[0] || strlen(name) >= AX_LAYER_NAME_MAX)
            return ax_fail(err, "%s: layers: name '%s' must be 1..%d characters", ppa_where(src, name, w, sizeof w),
                           name, AX_LAYER_NAME_MAX - 1);
        if (!json_object_is_type(arr, json_type_string))
            return ax_fail(err, "%s: layers.%s: expected an array id string", ppa_where(src, name, w, sizeof w), name);
        const char *id = json_object_get_string(arr);
        if (!has_array(a, id))
            return ax_fail(err, "%s: layers.%s: array '%s' is not listed in \"arrays\"",
                           ppa_where(src, name, w, sizeof w), name, id);
        ax_assign_layer *x = &a->layers[a->n_layers++];
        ax_strlcpy(x->layer, name, sizeof x->layer);
        ax_strlcpy(x->array, id, sizeof x->array);
    }
    return 0;
}

static int read_header(json_object *o, const ppa_src *src, ax_assignment *a, ax_error *err)
{
    /* Other top-level members (provenance, search settings, scores) are the
     * router's business: ignored, so its output can grow without breaking us. */
    char w[1200];
    double v = 0;
    bool present;
    if (ppa_json_number(o, "version", src, "", 0, 1e9, &v, &present, err)) return -1;
    if (!present) return ax_fail(err, "%s: \"version\" missing (expected 1)", src->what);
    if (v != 1)
        return ax_fail(err, "%s: version %g not supported (expected 1)", ppa_where(src, "version", w, sizeof w), v);
    a->version = 1;
    if (ppa_json_string(o, "model_sha256", src, "", a->model_sha256, sizeof a->model_sha256, &present, err))
        return -1;
    for (const char *s = a->model_sha256; present && *s; s++)
        if (!isxdigit((unsigned char)*s))
            return ax_fail(err, "%s: model_sha256: not a hex digest", ppa_where(src, "model_sha256", w, sizeof w));
    return 0;
}

int ax_assignment_parse(const char *text, size_t len, const char *what, ax_assignment **out, ax_error *err)
{
    *out = NULL;
    json_object *o;
    if (ppa_json_parse(text, len, what, &o, err) != 0) return -1;
    ppa_src src = {what, text, len};
    ax_assignment *a = calloc(1, sizeof *a);
    int rc = a ? 0 : ax_fail(err, "%s: out of memory", what);
    if (a) ax_strlcpy(a->source, what, sizeof a->source);
    if (rc == 0) rc = read_header(o, &src, a, err);
    if (rc == 0) rc = read_arrays(o, &src, a, err);
    if (rc == 0) rc = read_layers(o, &src, a, err);
    json_object_put(o);
    if (rc != 0) {
        ax_assignment_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int ax_assignment_load(const char *path, ax_assignment **out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    if (ax_read_file(path, PPA_MAX_FILE, &buf, &len, err) != 0) return -1;
    int rc = ax_assignment_parse((const char *)buf, len, path, out, err);
    free(buf);
    return rc;
}

void ax_assignment_free(ax_assignment *a)
{
    if (!a) return;
    free(a->arrays);
    free(a->layers);
    free(a);
}
