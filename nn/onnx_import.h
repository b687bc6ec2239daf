/* onnx_import.h - what the ONNX reader's two halves share: the import
 * context (constants, names in scope, the model being built) and the
 * attribute helpers. onnx_import.c walks the model; onnx_ops.c turns one
 * node into IR. Not installed. */
#ifndef AX_ONNX_IMPORT_H
#define AX_ONNX_IMPORT_H

#include "lut/ax_internal.h"
#include "nn_internal.h"
#include "onnx.pb-c.h"

/* An initializer, Constant output, or dequantized constant. */
typedef struct axnn_const {
    char *name;
    int64_t dims[8];
    int ndims;
    size_t numel;
    int elem;         /* ONNX data type */
    float *f;         /* every element as float (dequantized when quantized) */
    int64_t *i;       /* integer elements (integer types only) */
    bool quant;       /* came out of DequantizeLinear */
    int qelem;        /* the quantized type */
    size_t n_scale;   /* 1 (per tensor) or the size of dims[axis] */
    int axis;
    float *scale;
    int64_t *zp;
} axnn_const;

typedef struct axnn_name {
    char *name;
    int value;   /* >= 0: an activation value */
    int cst;     /* >= 0: a constant */
} axnn_name;

typedef struct axnn_import {
    ax_nn_model *m;
    const char *what;
    const Onnx__GraphProto *g;
    axnn_const *consts;
    size_t n_consts, cap_consts;
    axnn_name *names;
    size_t n_names, cap_names;
    ax_error *err;
} axnn_import;

/* Errors that name the node: "<what>: node 'n' (Op): ..." */
int axnn_node_fail(axnn_import *c, const Onnx__NodeProto *nd, const char *fmt, ...) AX_PRINTF(3, 4);
const axnn_name *axnn_lookup(const axnn_import *c, const char *name);
int axnn_bind(axnn_import *c, const char *name, int value, int cst);
int axnn_add_const(axnn_import *c, const char *name, axnn_const *k); /* takes ownership of k's arrays */
int axnn_tensor_to_const(axnn_import *c, const Onnx__TensorProto *t, const char *name, axnn_const *out);
void axnn_const_free(axnn_const *k);
/* How many node inputs and graph outputs read this name. */
int axnn_name_uses(const axnn_import *c, const char *name);

/* Attributes. */
const Onnx__AttributeProto *axnn_attr(const Onnx__NodeProto *nd, const char *name);
int64_t axnn_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def);
float axnn_attr_float(const Onnx__NodeProto *nd, const char *name, float def);
/* Copies up to max ints; returns how many the attribute has (0 if absent). */
size_t axnn_attr_ints(const Onnx__NodeProto *nd, const char *name, int64_t *out, size_t max);
/* Fails naming the first attribute not in `allowed` (NULL-terminated). */
int axnn_check_attrs(axnn_import *c, const Onnx__NodeProto *nd, const char *const *allowed);

/* onnx_ops.c: node helpers and the dispatch */
int axnn_import_node(axnn_import *c, const Onnx__NodeProto *nd);
int axnn_in_value(axnn_import *c, const Onnx__NodeProto *nd, size_t i, int *v);
/* NULL (no error) for an absent optional input; *bad set after an error. */
axnn_const *axnn_in_const(axnn_import *c, const Onnx__NodeProto *nd, size_t i, bool required, bool *bad);
const char *axnn_out_name(const Onnx__NodeProto *nd);
axnn_node *axnn_new_node(axnn_import *c, const Onnx__NodeProto *nd, axnn_op op);
/* Creates the node's output value and binds its first output name. */
int axnn_set_out(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n, int rank, size_t ch, size_t h, size_t w);

/* onnx_layers.c */
int axnn_op_conv(axnn_import *c, const Onnx__NodeProto *nd);
int axnn_op_gemm(axnn_import *c, const Onnx__NodeProto *nd);
int axnn_op_matmul(axnn_import *c, const Onnx__NodeProto *nd);
/* strides, dilations, pads of a Conv or pool node; fills the output size. */
int axnn_conv_geometry(axnn_import *c, const Onnx__NodeProto *nd, axnn_node *n, const axnn_value *x, size_t *oh,
                       size_t *ow);

/* onnx_qdq.c */
int axnn_op_quantize(axnn_import *c, const Onnx__NodeProto *nd);
int axnn_op_dequantize(axnn_import *c, const Onnx__NodeProto *nd);

#endif
