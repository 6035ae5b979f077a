/* convnet.h — the convolutional image encoder (MobileNetV2 and its kin): a list of ops
 * read from a .capt file (docs/mobilenet_v2.md), run over NHWC float activations. */
#ifndef CAPT_CONVNET_H
#define CAPT_CONVNET_H

#include "capt.h"
#include "kernels.h"

typedef enum convnet_op_kind {
    OP_CONV2D,
    OP_DEPTHWISE,
    OP_ADD,      /* elementwise sum of two values of one shape */
    OP_MEAN,     /* global average pool to 1x1 */
    OP_MUL,      /* x [H, W, C] times a per-channel scale s [1, 1, C] (squeeze-and-excite) */
    OP_UPSAMPLE, /* bilinear resize, TensorFlow's legacy rule: output i reads input i * in / out */
    OP_CONCAT    /* two values side by side along channels */
} convnet_op_kind;

/* Applied after the op (and its output_scale). The "hard" ones use the network's
 * hard_scale h (1/6, or the value a converted graph rounded it to):
 * hard_swish(x) = (h·x)·relu6(x + 3), hard_sigmoid(x) = h·relu6(x + 3). */
typedef enum convnet_act { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_HARD_SWISH, ACT_HARD_SIGMOID, ACT_SIGMOID } convnet_act;

typedef struct convnet_op {
    convnet_op_kind kind;
    int inputs[2];                 /* value ids; value 0 is the image, op i writes value i+1 */
    int n_inputs;
    int kh, kw, stride_h, stride_w, pad_top, pad_left;
    convnet_act act;
    const capt_tensor *weight;     /* conv2d: [C_out, kh*kw*C_in] in any dtype */
    float *wide_weight;            /* conv2d, shallow enough (convnet.c's PACK_MAX_DEPTH): weight
                                    * packed at load for the wide path (capt_gemm_pack_wide); else NULL */
    float *depthwise_weight;       /* depthwise: [kh*kw, C] as f32 (converted at load) */
    const float *bias;             /* [C_out], in the file */
    float output_scale;            /* conv2d: y = output_scale * (x · Wᵀ + bias) (1 if absent) */
} convnet_op;

typedef struct convnet_shape {
    int h, w, c;
} convnet_shape;

#define CONVNET_MAX_OUTPUTS 4

typedef struct capt_convnet {
    int n_ops;
    convnet_op *ops;
    convnet_shape *shapes; /* [n_ops + 1]: of every value */
    int n_outputs;
    int outputs[CONVNET_MAX_OUTPUTS]; /* value ids of the named outputs, in the order asked for */
    float hard_scale;                 /* h of the hard activations */
    /* Memory plan: value v lives in slot value_slot[v] (slot_floats[s] floats each);
     * slots are reused once a value's last reader has run. */
    int *value_slot;
    int n_slots;
    size_t *slot_floats;
    size_t im2col_floats;
} capt_convnet;

/* Reads the ops under `prefix` ("encoder", "detector") and the value ids of the outputs
 * named `<prefix>.<output_names[i]>`, then plans the activation memory (outputs stay
 * alive to the end). */
capt_status capt_convnet_load(const capt_file *file, const char *prefix, const char *const *output_names,
                              int n_outputs, capt_convnet **out, capt_error *err);
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
