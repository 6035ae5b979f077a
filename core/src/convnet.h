/* convnet.h — the convolutional image encoder (MobileNetV2 and its kin): a list of ops
 * read from a .capt file (docs/mobilenet_v2.md), run over NHWC float activations. */
#ifndef CAPT_CONVNET_H
#define CAPT_CONVNET_H

#include "capt.h"
#include "kernels.h"

typedef enum convnet_op_kind { OP_CONV2D, OP_DEPTHWISE, OP_ADD, OP_MEAN } convnet_op_kind;

typedef struct convnet_op {
    convnet_op_kind kind;
    int inputs[2];                 /* value ids; value 0 is the image, op i writes value i+1 */
    int n_inputs;
    int kh, kw, stride_h, stride_w, pad_top, pad_left;
    int relu6;
    const capt_tensor *weight;     /* conv2d: [C_out, kh*kw*C_in] in any dtype */
    float *depthwise_weight;       /* depthwise: [kh*kw, C] as f32 (converted at load) */
    const float *bias;             /* [C_out], in the file */
    float output_scale;            /* conv2d: y = output_scale * (x · Wᵀ + bias) (1 if absent) */
} convnet_op;

typedef struct convnet_shape {
    int h, w, c;
} convnet_shape;

typedef struct capt_convnet {
    int n_ops;
    convnet_op *ops;
    convnet_shape *shapes; /* [n_ops + 1]: of every value */
    int grid, pooled, logits; /* value ids of the outputs */
    /* Memory plan: value v lives in slot value_slot[v] (slot_floats[s] floats each);
     * slots are reused once a value's last reader has run. */
    int *value_slot;
    int n_slots;
    size_t *slot_floats;
    size_t im2col_floats;
} capt_convnet;

/* Reads the ops under `prefix` ("encoder") and plans the activation memory. */
capt_status capt_convnet_load(const capt_file *file, const char *prefix, capt_convnet **out, capt_error *err);
void capt_convnet_free(capt_convnet *net);

/* Activation memory of one forward pass at a time (one per context). */
typedef struct convnet_work {
    float **slots;
    float *im2col;
} convnet_work;

capt_status capt_convnet_work_alloc(const capt_convnet *net, convnet_work *work, capt_error *err);
void capt_convnet_work_free(const capt_convnet *net, convnet_work *work);

/* Runs the network on `input` [h, w, c] of value 0; afterwards capt_convnet_value gives
 * any output value. */
capt_status capt_convnet_forward(const capt_convnet *net, convnet_work *work, capt_pool *pool, capt_isa isa,
                                 const float *input, capt_error *err);
const float *capt_convnet_value(const capt_convnet *net, const convnet_work *work, int value);

#endif
