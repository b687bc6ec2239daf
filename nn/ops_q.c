/* ops_q.c - the ops between layers on bytes, for the quantized runtime.
 * A QDQ graph means: dequantize the inputs, compute in float, quantize the
 * output. For an element-wise op on quantized inputs with a quantized output
 * that is a function of the input bytes alone, so it is tabulated once per
 * runtime through the float code itself (bit-identical by construction):
 * 256 entries for ReLU/Clip, 65,536 for Add/Mul of two tensors. A run then
 * is one lookup per element, threaded (a 256-entry table in vector
 * registers where the ISA allows: requant.c). MaxPool on bytes is threaded over
 * images. */
#include "nn_internal.h"

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define RUN ((size_t)16384) /* bytes per call of the vector lookup */

static bool quantized(const ax_nn_model *m, int v)
{
    return m->values[v].q.set;
}

uint8_t *axnn_qop_table(const ax_nn_model *m, const axnn_node *n)
{
    bool unary = n->op == NN_RELU || n->op == NN_CLIP, binary = n->op == NN_ADD || n->op == NN_MUL;
    if ((!unary && !binary) || n->n_in != (binary ? 2 : 1) || !quantized(m, n->out) || n->out == m->output)
        return NULL;
    for (int j = 0; j < n->n_in; j++)
        if (!quantized(m, n->in[j]) || axnn_value_size(&m->values[n->in[j]]) != axnn_value_size(&m->values[n->out]))
            return NULL;
    const axnn_qp *qy = &m->values[n->out].q, *qa = &m->values[n->in[0]].q;
    uint8_t *t = malloc(unary ? 256 : 65536);
    if (!t) return NULL;
    if (unary) {
        for (unsigned a = 0; a < 256; a++) {
            float y = axnn_dequantize_one(qa, (uint8_t)a);
            axnn_float_act(n, &y, 1);
            t[a] = axnn_quantize_one(qy, y);
        }
        return t;
    }
    const axnn_qp *qb = &m->values[n->in[1]].q;
    for (unsigned a = 0; a < 256; a++) {
        float x = axnn_dequantize_one(qa, (uint8_t)a);
        for (unsigned b = 0; b < 256; b++) {
            float y = axnn_dequantize_one(qb, (uint8_t)b);
            t[a * 256 + b] = axnn_quantize_one(qy, n->op == NN_ADD ? x + y : x * y);
        }
    }
    return t;
}

void axnn_qop_run(ax_isa isa, const axnn_node *n, const uint8_t *table, const uint8_t *a, const uint8_t *b, uint8_t *y,
                  size_t count, int threads)
{
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    (void)threads;
    if (n->n_in == 1) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && count > 65536)
#endif
        for (size_t i = 0; i < count; i += RUN)
            axnn_lookup256(isa, table, a + i, count - i < RUN ? count - i : RUN, y + i);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && count > 65536)
#endif
    for (size_t i = 0; i < count; i++) y[i] = table[(size_t)a[i] * 256 + b[i]];
}
