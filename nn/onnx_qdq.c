/* onnx_qdq.c - QuantizeLinear/DequantizeLinear: a Q+DQ pair on an
 * activation becomes that tensor's quantization parameters; a DQ on a
 * constant becomes a dequantized constant that remembers its integers,
 * scales and zero points (layer weights and biases take them as given). */
#include "onnx_import.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int qparams(axnn_import *c, const Onnx__NodeProto *nd, const axnn_const **s, const axnn_const **z)
{
    bool bad;
    *s = axnn_in_const(c, nd, 1, true, &bad);
    if (bad || !*s) return -1;
    *z = axnn_in_const(c, nd, 2, false, &bad);
    if (bad) return -1;
    if (!(*s)->numel) return axnn_node_fail(c, nd, "empty scale");
    if (*z && (*z)->numel != (*s)->numel) return axnn_node_fail(c, nd, "scale and zero point differ in size");
    if (*z && !(*z)->i) return axnn_node_fail(c, nd, "the zero point must be an integer tensor");
    for (size_t i = 0; i < (*s)->numel; i++)
        if (!((*s)->f[i] > 0) || !isfinite((*s)->f[i])) return axnn_node_fail(c, nd, "scale must be positive and finite");
    return 0;
}

int axnn_op_quantize(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"axis", "saturate", NULL};
    int xv = -1;
    const axnn_const *s, *z;
    if (axnn_check_attrs(c, nd, ok) != 0 || axnn_in_value(c, nd, 0, &xv) != 0 || qparams(c, nd, &s, &z) != 0) return -1;
    if (s->numel != 1) return axnn_node_fail(c, nd, "per-channel activation quantization is unsupported");
    int t = z ? z->elem : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    if (t != ONNX__TENSOR_PROTO__DATA_TYPE__INT8 && t != ONNX__TENSOR_PROTO__DATA_TYPE__UINT8)
        return axnn_node_fail(c, nd, "only int8 and uint8 quantization is supported");
    axnn_qp q = {true, t == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ? AX_S8 : AX_U8, s->f[0], z ? (int32_t)z->i[0] : 0};
    axnn_value *v = &c->m->values[xv];
    if (v->q.set && (v->q.type != q.type || v->q.scale != q.scale || v->q.zp != q.zp))
        return axnn_node_fail(c, nd, "tensor '%s' is quantized twice with different parameters", v->name);
    v->q = q;
    return axnn_bind(c, axnn_out_name(nd), xv, -1);
}

static int dequantize_const(axnn_import *c, const Onnx__NodeProto *nd, const axnn_const *x, const axnn_const *s, const axnn_const *z)
{
    int64_t axis = axnn_attr_int(nd, "axis", 1);
    if (axis < 0) axis += x->ndims;
    if (s->numel != 1 && (axis < 0 || axis >= x->ndims || (size_t)x->dims[axis] != s->numel))
        return axnn_node_fail(c, nd, "per-axis scale of %zu values does not match axis %lld", s->numel, (long long)axis);
    if (!x->i) return axnn_node_fail(c, nd, "input must be an integer tensor");
    axnn_const k = {0};
    memcpy(k.dims, x->dims, sizeof k.dims);
    k.ndims = x->ndims, k.numel = x->numel, k.elem = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    k.quant = true, k.qelem = x->elem, k.n_scale = s->numel, k.axis = (int)axis;
    k.f = malloc((x->numel ? x->numel : 1) * sizeof *k.f);
    k.i = malloc((x->numel ? x->numel : 1) * sizeof *k.i);
    k.scale = malloc(s->numel * sizeof *k.scale);
    k.zp = calloc(s->numel, sizeof *k.zp);
    if (!k.f || !k.i || !k.scale || !k.zp) {
        axnn_const_free(&k);
        return ax_fail(c->err, "%s: out of memory", c->what);
    }
    for (size_t i = 0; i < s->numel; i++) k.scale[i] = s->f[i], k.zp[i] = z ? z->i[i] : 0;
    size_t inner = 1;
    for (int d = (int)axis + 1; d < x->ndims && s->numel != 1; d++) inner *= (size_t)x->dims[d];
    for (size_t i = 0; i < x->numel; i++) {
        size_t ch = s->numel == 1 ? 0 : (i / inner) % s->numel;
        k.i[i] = x->i[i];
        k.f[i] = (float)(x->i[i] - k.zp[ch]) * k.scale[ch];
    }
    return axnn_add_const(c, axnn_out_name(nd), &k);
}

int axnn_op_dequantize(axnn_import *c, const Onnx__NodeProto *nd)
{
    static const char *const ok[] = {"axis", NULL};
    const axnn_const *s, *z;
    if (axnn_check_attrs(c, nd, ok) != 0 || qparams(c, nd, &s, &z) != 0) return -1;
    const axnn_name *n = nd->n_input ? axnn_lookup(c, nd->input[0]) : NULL;
    if (!n) return axnn_node_fail(c, nd, "input missing or unknown");
    if (n->cst >= 0) return dequantize_const(c, nd, &c->consts[n->cst], s, z);
    const axnn_value *v = &c->m->values[n->value];
    if (!v->q.set || s->numel != 1 || v->q.scale != s->f[0] || v->q.zp != (z ? (int32_t)z->i[0] : 0))
        return axnn_node_fail(c, nd, "dequantizes '%s' with parameters no QuantizeLinear gave it", nd->input[0]);
    return axnn_bind(c, axnn_out_name(nd), n->value, -1);
}

