/* quant.c - quantization rules that are not inline in nn_internal.h: the
 * int32 bias of a layer. */
#include "nn_internal.h"

#include <math.h>

int32_t axnn_bias_q(const axnn_node *n, float x_scale, size_t o)
{
    if (n->wq.bias_q) return n->wq.bias_q[o];
    if (!n->bias) return 0;
    float r = axnn_round_half_even(n->bias[o] / (x_scale * n->wq.scale[o]));
    return r >= 2147483647.0f ? INT32_MAX : r <= -2147483648.0f ? INT32_MIN : (int32_t)r;
}
