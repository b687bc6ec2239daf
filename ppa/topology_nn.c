/* topology_nn.c - the chip model's view of a network from nn/: every
 * conv/FC layer of an ax_nn_model as a SCALE-Sim layer, so `ppa --model`,
 * `systolic --model` and the router price the network the runtime executes.
 *
 * The IFMAP given to the mapping is the part of the padded input the filter
 * actually covers, (out - 1) * stride + filter per dimension, so the mapping's
 * output size ceil((H - F + S) / S) equals the runtime's (ONNX's floor rule)
 * and K = kernel_h * kernel_w * channels (dilation spreads the taps, it adds
 * none). FC layers are GEMMs with M = 1 per image. */
#include "ppa_internal.h"

#include "autoapprox/nn.h"

#include <stdlib.h>
#include <string.h>

static int to_u32(size_t v, uint32_t *out)
{
    if (v == 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int layer_of(const ax_nn_layer_info *li, const char *what, ax_layer *l, ax_error *err)
{
    memset(l, 0, sizeof *l);
    if (strlen(li->name) >= sizeof l->name)
        return ax_fail(err, "%s: layer name '%.40s...' is too long for the chip model", what, li->name);
    ax_strlcpy(l->name, li->name, sizeof l->name);
    bool fc = strcmp(li->op, "Conv") != 0;
    size_t groups = li->groups ? li->groups : 1;
    if (groups > 1 && groups != li->in_c)
        return ax_fail(err, "%s: layer '%s': grouped convolution (%zu groups of %zu channels) is not modelled by "
                            "the chip model (only dense and depthwise)", what, li->name, groups, li->in_c / groups);
    size_t ifh = fc ? 1 : (li->out_h - 1) * li->stride_h + li->kernel_h;
    size_t ifw = fc ? li->k : (li->out_w - 1) * li->stride_w + li->kernel_w;
    int bad = to_u32(ifh, &l->ifmap_h) | to_u32(ifw, &l->ifmap_w) | to_u32(fc ? 1 : li->kernel_h, &l->filter_h) |
              to_u32(fc ? li->k : li->kernel_w, &l->filter_w) | to_u32(fc ? 1 : li->in_c, &l->channels) |
              to_u32(groups > 1 ? li->n / groups : li->n, &l->filters) | to_u32(fc ? 1 : li->stride_h, &l->stride_h) |
              to_u32(fc ? 1 : li->stride_w, &l->stride_w);
    if (bad) return ax_fail(err, "%s: layer '%s': shape out of the chip model's range", what, li->name);
    l->depthwise = groups > 1;
    return 0;
}

int ax_topology_from_nn(const ax_nn_model *m, const char *name, ax_topology **out, ax_error *err)
{
    *out = NULL;
    size_t n = ax_nn_layer_count(m);
    if (n == 0) return ax_fail(err, "%s: the model has no conv/FC layer", name);
    ax_topology *t = calloc(1, sizeof *t);
    if (t) t->layers = calloc(n, sizeof *t->layers);
    if (!t || !t->layers) {
        ax_topology_free(t);
        return ax_fail(err, "%s: out of memory", name);
    }
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    ax_strlcpy(t->name, base, sizeof t->name);
    char *dot = strrchr(t->name, '.');
    if (dot && dot != t->name) *dot = 0;
    for (size_t i = 0; i < n; i++) {
        ax_nn_layer_info li;
        ax_nn_layer_get(m, i, &li);
        if (layer_of(&li, name, &t->layers[i], err) != 0) {
            ax_topology_free(t);
            return -1;
        }
    }
    t->n_layers = n;
    *out = t;
    return 0;
}
