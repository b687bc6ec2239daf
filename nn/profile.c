/* profile.c - per-node wall-clock times of a quantized run, for finding
 * overhead outside the kernels (perf is not always at hand): with
 * AX_NN_PROFILE=1 in the environment, every ax_nn_runtime_run prints one
 * line per node (ms, share of the run, time inside the kernels, op, output
 * shape) and the totals to stderr. Read once per runtime. */
#include "nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double axnn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool axnn_profile_wanted(void)
{
    const char *e = getenv("AX_NN_PROFILE");
    return e && *e && *e != '0';
}

void axnn_profile_print(const ax_nn_model *m, size_t batch, const double *t, const double *kernel, double total)
{
    double k = 0;
    for (size_t i = 0; i < m->n_nodes; i++) k += kernel[i];
    fprintf(stderr, "AX_NN_PROFILE: batch %zu, %.3f ms, %.3f ms (%.1f%%) inside the kernels\n", batch, total * 1e3,
            k * 1e3, total > 0 ? 100 * k / total : 0);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const axnn_node *n = &m->nodes[i];
        const axnn_value *y = &m->values[n->out];
        fprintf(stderr, "  %9.3f ms %5.1f%% (kernel %9.3f ms)  %-8s %-28s %zux%zux%zu\n", t[i] * 1e3,
                total > 0 ? 100 * t[i] / total : 0, kernel[i] * 1e3, n->onnx_op, n->layer ? n->layer : n->name, y->h,
                y->w, y->c);
    }
}
