/* ops_q.c - the ops between layers on bytes, for the quantized runtime.
 * A QDQ graph means: dequantize the inputs, compute in float, quantize the
 * output. For ReLU/Clip on a quantized input that is a function of one
 * byte, tabulated once per runtime through the float code itself (256
 * entries, looked up from vector registers where the ISA allows). Add and
 * Mul of two quantized tensors run the float code's steps in vector lanes
 * (requant.c's axnn_binary: the same roundings in the same order, so the
 * same bits); a 65,536-byte table of them cost a scattered load per element,
 * ~5x the time. All threaded over chunks of the tensor. MaxPool on bytes
 * is threaded over images. */
#include "nn_internal.h"

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define RUN ((size_t)16384) /* elements per call of the vector loops */

static bool quantized(const ax_nn_model *m, int v)
{
    return m->values[v].q.set;
}

axnn_qop *axnn_qop_make(const ax_nn_model *m, const axnn_node *n)
{
    bool unary = n->op == NN_RELU || n->op == NN_CLIP, binary = n->op == NN_ADD || n->op == NN_MUL;
    if ((!unary && !binary) || n->n_in != (binary ? 2 : 1) || !quantized(m, n->out) || n->out == m->output)
        return NULL;
    for (int j = 0; j < n->n_in; j++)
        if (!quantized(m, n->in[j]) || axnn_value_size(&m->values[n->in[j]]) != axnn_value_size(&m->values[n->out]))
            return NULL;
    const axnn_qp *qy = &m->values[n->out].q, *qa = &m->values[n->in[0]].q;
    axnn_qop *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    if (unary) {
        for (unsigned a = 0; a < 256; a++) {
            float y = axnn_dequantize_one(qa, (uint8_t)a);
            axnn_float_act(n, &y, 1);
            op->table[a] = axnn_quantize_one(qy, y);
        }
        return op;
    }
    const axnn_qp *qb = &m->values[n->in[1]].q;
    op->binary = true;
    op->bin = (axnn_binop){.mul = n->op == NN_MUL, .ta = qa->type, .tb = qb->type, .sa = qa->scale, .sb = qb->scale,
                           .sy = qy->scale, .za = qa->zp, .zb = qb->zp, .zy = qy->zp, .lo = axnn_qmin(qy->type),
                           .hi = axnn_qmax(qy->type)};
    return op;
}

/* Whether the table clamps each byte's value (type t) to [*lo, *hi] */
static bool clamp_form(const uint8_t *table, ax_operand t, int32_t *lo, int32_t *hi)
{
    bool s8 = t == AX_S8;
    int32_t l = s8 ? (int8_t)table[0x80] : table[0], h = s8 ? (int8_t)table[0x7f] : table[0xff];
    if (l > h) return false;
    for (unsigned x = 0; x < 256; x++) {
        int32_t v = s8 ? (int8_t)x : (int32_t)x;
        if (table[x] != (uint8_t)(v < l ? l : v > h ? h : v)) return false;
    }
    *lo = l, *hi = h;
    return true;
}

/* ResNet's residual Add feeds only a ReLU, which read and wrote the whole
 * tensor once more. When the ReLU's (or Clip's) table clamps the bytes'
 * values to [l, h], the Add clamps to them instead, at no cost: it clamps
 * to its type's range [lo, hi] before rounding, and for integer bounds
 * rint(clamp(v, max(lo, l), min(hi, h))) = clamp(rint(clamp(v, lo, hi)), l,
 * h) (rint is monotone; NaN goes low either way): the same bits. */
void axnn_qop_fuse(const ax_nn_model *m, axnn_qop **qop)
{
    for (size_t i = 0; i + 1 < m->n_nodes; i++) {
        axnn_qop *op = qop[i], *next = qop[i + 1];
        const axnn_node *n = &m->nodes[i];
        int32_t l, h;
        if (!op || !op->binary || op->by_previous || !next || next->binary || m->nodes[i + 1].in[0] != n->out ||
            n->out == m->output || !clamp_form(next->table, m->values[n->out].q.type, &l, &h))
            continue;
        int readers = 0;
        for (size_t j = 0; j < m->n_nodes; j++)
            for (int k = 0; k < m->nodes[j].n_in; k++) readers += m->nodes[j].in[k] == n->out;
        if (readers != 1) continue;
        op->bin.lo = op->bin.lo > l ? op->bin.lo : l;
        op->bin.hi = op->bin.hi < h ? op->bin.hi : h;
        op->next_fused = next->by_previous = true;
    }
}

void axnn_qop_run(ax_isa isa, const axnn_qop *op, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t count,
                  int threads)
{
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && count > 65536)
#endif
    for (size_t i = 0; i < count; i += RUN) {
        size_t n = count - i < RUN ? count - i : RUN;
        if (op->binary) axnn_binary(isa, &op->bin, a + i, b + i, n, y + i);
        else axnn_lookup256(isa, op->table, a + i, n, y + i);
    }
}
