/* sensitivity.c - every layer alone on every multiplier of the bank (the
 * other layers exact), on the search images: top-1, top-5, agreement with
 * the exact network's top-1, and the SNR of that layer's outputs.
 *
 * Prefix caching: per batch, one exact run is kept as a snapshot of the
 * tensors live before layer l (ax_nn_snapshot); the layer and the suffix
 * after it run once per multiplier from that snapshot, then the snapshot
 * advances by one exact layer. The prefix before layer l is computed once
 * instead of once per multiplier. With no_prefix_cache every run starts
 * from the input: same numbers, bit for bit (tested), more MACs. */
#include "router_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct acc {
    size_t top1, top5, agree;
    double signal, noise;
    rt_score flips;
} acc;

typedef struct sens_run {
    rt_problem *p;
    size_t b, first, nc, lsz_max;
    float *x, *y, *lay_exact, *lay;
    int32_t *lab;
    acc *a; /* [layer * J + j] */
} sens_run;

static size_t argmax(const float *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* sum e^2 and sum (y - e)^2 over n values, in double. One running sum was
 * bound by the latency of its adds, on one thread (~90 ms per run of one of
 * MobileNetV2's largest layers at batch 64, 5% of a route): now fixed
 * blocks, each summed in 8 interleaved lanes (vectorized) and shared out
 * between threads, then added in block order. The blocks depend on n only,
 * so the sums are the same for every thread count. */
static void signal_noise(const float *e, const float *y, size_t n, int threads, double *signal, double *noise)
{
    enum { MAX_BLOCKS = 256, LANES = 8 };
    size_t block = (n + MAX_BLOCKS - 1) / MAX_BLOCKS;
    if (block < 65536) block = 65536;
    size_t nb = (n + block - 1) / block;
    double part[2][MAX_BLOCKS];
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (nb > 1)
#endif
    for (size_t b = 0; b < nb; b++) {
        double se[LANES] = {0}, sd[LANES] = {0};
        size_t i = b * block, end = n - i < block ? n : i + block;
        for (; i + LANES <= end; i += LANES)
            for (int k = 0; k < LANES; k++) {
                double x = e[i + k], d = (double)y[i + k] - x;
                se[k] += x * x, sd[k] += d * d;
            }
        for (int k = 0; i < end; i++, k++) {
            double x = e[i], d = (double)y[i] - x;
            se[k] += x * x, sd[k] += d * d;
        }
        part[0][b] = ((se[0] + se[1]) + (se[2] + se[3])) + ((se[4] + se[5]) + (se[6] + se[7]));
        part[1][b] = ((sd[0] + sd[1]) + (sd[2] + sd[3])) + ((sd[4] + sd[5]) + (sd[6] + sd[7]));
    }
    *signal = 0, *noise = 0;
    for (size_t b = 0; b < nb; b++) *signal += part[0][b], *noise += part[1][b];
}

/* Scores one suffix run of layer l on bank entry j. */
static void score(sens_run *s, size_t l, size_t j)
{
    rt_problem *p = s->p;
    acc *a = &s->a[l * p->J + j];
    for (size_t i = 0; i < s->b; i++) {
        const float *y = s->y + i * s->nc;
        size_t rank = ax_nn_rank(y, s->nc, (size_t)s->lab[i]);
        a->top1 += rank == 0, a->top5 += rank < 5;
        a->agree += (int32_t)argmax(y, s->nc) == p->exact_pred[s->first + i];
        rt_count_flips(&a->flips, p->exact_ok[s->first + i], (uint8_t)((rank == 0) | (rank < 5) << 1));
    }
    double signal, noise;
    signal_noise(s->lay_exact, s->lay, s->b * ax_nn_layer_output_size(p->m, l), p->o->threads, &signal, &noise);
    a->signal += signal, a->noise += noise;
}

/* Layer l on every multiplier from one snapshot s0: at layer l (prefix
 * caching; the exact layer output came from advancing to it), or at the
 * input (every run recomputes the prefix, and the exact output is one more). */
static int layer_runs(sens_run *s, ax_nn_snapshot *s0, size_t l)
{
    rt_problem *p = s->p;
    ax_nn_runtime *exact = p->uniform[0];
    int th = p->o->threads;
    double suffix = 0;
    for (size_t k = l; k < p->L; k++) suffix += p->macs[k];
    double before = p->total_macs - suffix;
    if (p->o->no_prefix_cache) {
        if (ax_nn_run_from(s0, exact, l, NULL, NULL, s->lay_exact, th, p->err) != 0) return -1;
        p->r->sens_macs += (p->macs[l] + before) * (double)s->b;
    } else {
        before = 0;
    }
    for (size_t j = 1; j < p->J; j++) {
        if (ax_nn_run_from(s0, exact, l, p->uniform[j], s->y, s->lay, th, p->err) != 0) return -1;
        p->r->sens_macs += (suffix + before) * (double)s->b;
        p->r->sens_runs += s->first == 0;
        score(s, l, j);
    }
    return 0;
}

static int batch_runs(sens_run *s)
{
    rt_problem *p = s->p;
    ax_nn_snapshot *snap, *next = NULL;
    if (ax_nn_snapshot_take(p->uniform[0], s->b, s->x, 0, p->o->threads, &snap, p->err) != 0) return -1;
    int rc = 0;
    for (size_t l = 0; rc == 0 && l < p->L; l++) {
        if (!p->o->no_prefix_cache) { /* a copy moves on to layer l + 1, reading layer l's exact output */
            rc = ax_nn_snapshot_copy(snap, &next, p->err);
            if (rc == 0) rc = ax_nn_snapshot_advance(next, p->uniform[0], s->lay_exact, p->o->threads, p->err);
            p->r->sens_macs += p->macs[l] * (double)s->b;
        }
        if (rc == 0) rc = layer_runs(s, snap, l);
        if (next) {
            ax_nn_snapshot_free(snap);
            snap = next, next = NULL;
        }
    }
    ax_nn_snapshot_free(snap);
    ax_nn_snapshot_free(next);
    return rc;
}

static void finish(rt_problem *p, const acc *a)
{
    double n = p->search->count ? (double)p->search->count : 1;
    for (size_t l = 0; l < p->L; l++) {
        ax_route_sens *z = &p->r->sens[l * p->J];
        z[0] = (ax_route_sens){p->exact_top1, p->exact_top5, 1, INFINITY};
        for (size_t j = 1; j < p->J; j++) {
            const acc *x = &a[l * p->J + j];
            z[j] = (ax_route_sens){x->top1 / n, x->top5 / n, x->agree / n,
                                   x->noise > 0 ? 10 * log10(x->signal / x->noise) : INFINITY};
            p->sens_score[l * p->J + j] = x->flips;
            p->sens_score[l * p->J + j].top1 = z[j].top1, p->sens_score[l * p->J + j].top5 = z[j].top5;
        }
    }
    p->r->sens_macs_full = (double)p->L * (double)(p->J - 1) * p->total_macs * n;
}

int rt_sensitivity(rt_problem *p)
{
    size_t B = p->o->batch, isz = 0, lmax = 0, h, w, c;
    ax_nn_input_shape(p->m, &h, &w, &c);
    isz = h * w * c;
    for (size_t l = 0; l < p->L; l++)
        if (ax_nn_layer_output_size(p->m, l) > lmax) lmax = ax_nn_layer_output_size(p->m, l);
    sens_run s = {.p = p, .nc = ax_nn_output_size(p->m)};
    s.x = malloc(B * isz * sizeof *s.x), s.y = malloc(B * s.nc * sizeof *s.y);
    s.lay_exact = malloc(B * lmax * sizeof *s.lay_exact), s.lay = malloc(B * lmax * sizeof *s.lay);
    s.lab = malloc(B * sizeof *s.lab);
    s.a = calloc(p->L * p->J, sizeof *s.a);
    int rc = s.x && s.y && s.lay_exact && s.lay && s.lab && s.a ? 0 : ax_fail(p->err, "sensitivity: out of memory");
    p->r->sens_macs = 0, p->r->sens_runs = 0;
    for (size_t i = 0; rc == 0 && i < p->search->count; i += B) {
        s.first = i, s.b = p->search->count - i < B ? p->search->count - i : B;
        rc = p->search->read(p->search->ctx, i, s.b, s.x, s.lab, p->err);
        if (rc == 0) rc = batch_runs(&s);
    }
    if (rc == 0) finish(p, s.a);
    free(s.x), free(s.y), free(s.lay_exact), free(s.lay), free(s.lab), free(s.a);
    return rc;
}
