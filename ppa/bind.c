/* bind.c - puts a chip, an assignment and a network together: which
 * multiplier each array is built from and which array runs each layer.
 * Multiplier SPECs are resolved through a callback, so this file needs no
 * file importers (the CLI passes ax_mult_resolve; tests pass families). */
#include "ppa_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *find_spec(const ax_assignment *a, const char *id)
{
    for (size_t i = 0; a && i < a->n_arrays; i++)
        if (!strcmp(a->arrays[i].id, id)) return a->arrays[i].spec;
    return NULL;
}

static void list_ids(const ax_chip *c, char *buf, size_t size)
{
    buf[0] = 0;
    for (size_t i = 0; i < c->n_arrays; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? ", " : "", c->arrays[i].id);
    }
}

static int pick_chip(const ax_chip *chip, const ax_assignment *a, ax_chip *out, ax_error *err)
{
    if (chip) {
        *out = *chip;
    } else if (a) {
        const char *ids[AX_CHIP_MAX_ARRAYS];
        if (a->n_arrays > AX_CHIP_MAX_ARRAYS)
            return ax_fail(err, "%s: %zu arrays, at most %d supported", a->source, a->n_arrays, AX_CHIP_MAX_ARRAYS);
        for (size_t i = 0; i < a->n_arrays; i++) ids[i] = a->arrays[i].id;
        if (ax_chip_default_with_arrays(out, ids, a->n_arrays, err) != 0) return -1;
    } else {
        ax_chip_default(out);
    }
    for (size_t i = 0; a && i < a->n_arrays; i++) {
        if (ax_chip_find_array(out, a->arrays[i].id) < 0) {
            char ids[1024];
            list_ids(out, ids, sizeof ids);
            return ax_fail(err, "%s: array '%s' is not on the chip %s (its arrays: %s)", a->source, a->arrays[i].id,
                           out->name, ids);
        }
    }
    return 0;
}

static int resolve_arrays(const ax_assignment *a, ax_mult_resolver resolve, void *ctx, ax_binding *b, ax_error *err)
{
    for (size_t i = 0; i < b->chip.n_arrays; i++) {
        ax_chip_array *x = &b->chip.arrays[i];
        const char *spec = find_spec(a, x->id);
        if (spec) ax_strlcpy(x->mult, spec, sizeof x->mult);
        if (!x->mult[0]) ax_strlcpy(x->mult, "exact-s8", sizeof x->mult);
        ax_error e;
        if (resolve(x->mult, &b->mult[i], &e, ctx) != 0)
            return ax_fail(err, "array %s: %s", x->id, e.msg);
    }
    return 0;
}

static int map_layers(const ax_assignment *a, const ax_topology *t, ax_binding *b, ax_error *err)
{
    b->n_layers = t->n_layers;
    b->layer_array = calloc(t->n_layers ? t->n_layers : 1, sizeof *b->layer_array);
    if (!b->layer_array) return ax_fail(err, "out of memory");
    if (!a) return 0; /* every layer on the first array */
    for (size_t i = 0; i < a->n_layers; i++)
        if (ax_topology_find(t, a->layers[i].layer) < 0)
            return ax_fail(err, "%s: layer '%s' is not in the network %s", a->source, a->layers[i].layer, t->name);
    for (size_t l = 0; l < t->n_layers; l++) {
        const char *id = NULL;
        for (size_t i = 0; i < a->n_layers && !id; i++)
            if (!strcmp(a->layers[i].layer, t->layers[l].name)) id = a->layers[i].array;
        if (!id) return ax_fail(err, "%s: layer '%s' (%s line %d) has no array", a->source, t->layers[l].name, t->name,
                                t->layers[l].line);
        b->layer_array[l] = (size_t)ax_chip_find_array(&b->chip, id);
    }
    return 0;
}

int ax_bind(const ax_chip *chip, const ax_assignment *assign, const ax_topology *topo, ax_mult_resolver resolve,
            void *ctx, ax_binding *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    if (pick_chip(chip, assign, &out->chip, err) != 0) return -1;
    if (out->chip.n_arrays == 0) return ax_fail(err, "chip %s has no arrays", out->chip.name);
    if (resolve_arrays(assign, resolve, ctx, out, err) != 0 || map_layers(assign, topo, out, err) != 0) {
        ax_binding_free(out);
        return -1;
    }
    return 0;
}

int ax_bind_exact(const ax_binding *b, ax_binding *out, ax_error *err)
{
    memset(out, 0, sizeof *out);
    out->chip = b->chip;
    out->n_layers = b->n_layers;
    out->layer_array = malloc((b->n_layers ? b->n_layers : 1) * sizeof *out->layer_array);
    if (!out->layer_array) return ax_fail(err, "out of memory");
    memcpy(out->layer_array, b->layer_array, b->n_layers * sizeof *out->layer_array);
    for (size_t i = 0; i < b->chip.n_arrays; i++) {
        const char *spec = ax_exact_spec_for(b->mult[i]);
        ax_strlcpy(out->chip.arrays[i].mult, spec, sizeof out->chip.arrays[i].mult);
        if (ax_mult_from_family_spec(spec, &out->mult[i], err) != 0) {
            ax_binding_free(out);
            return -1;
        }
    }
    return 0;
}

void ax_binding_free(ax_binding *b)
{
    for (size_t i = 0; i < AX_CHIP_MAX_ARRAYS; i++) ax_mult_free(b->mult[i]);
    free(b->layer_array);
    memset(b, 0, sizeof *b);
}
