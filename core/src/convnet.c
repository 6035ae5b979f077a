/* convnet.c — the convolutional encoder: loading the op list of docs/mobilenet_v2.md,
 * checking every shape against its weights, planning activation memory, and the
 * forward pass (1x1 convolutions are matrix products, others go through im2col). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convnet.h"
#include "internal.h"

/* Convolutions whose weights are packed at load for the products' wide path
 * (capt_gemm_pack_wide, f32): those no deeper than PACK_MAX_DEPTH with at least
 * PACK_MIN_PIXELS output pixels. There the dot form spends as much on reducing its
 * accumulators as on products; deeper layers (MobileNetV2's 7x7 ones, most of its weights)
 * gain little and would double their memory. Measured natively, 1 thread, the default
 * model's greedy caption: 48.2 ms with the wide path to depth 64 only (its reach without
 * packing), 41.0 ms with this limit (+6.6 MB resident), 39.8 ms with every convolution
 * packed (+11.3 MB). */
#define PACK_MAX_DEPTH 384
#define PACK_MIN_PIXELS 16

#define MAX_OPS 4096
#define MAX_SIDE 8192
#define MAX_CHANNELS 65536
#define MAX_KERNEL 15
#define MAX_VALUE_FLOATS ((size_t)1 << 28)

/* ---- reading metadata ------------------------------------------------------------------ */

typedef struct reader {
    const capt_file *file;
    const char *prefix;
    capt_error *err;
} reader;

/* "<prefix>.<suffix>" (op < 0) or "<prefix>.op.<op>.<suffix>". */
static const char *key_of(const reader *r, const char *suffix, int op, char key[256]) {
    if (op >= 0) snprintf(key, 256, "%s.op.%d.%s", r->prefix, op, suffix);
    else snprintf(key, 256, "%s.%s", r->prefix, suffix);
    return key;
}

static const capt_meta *find(reader *r, const char *suffix, capt_meta_type type, int op) {
    char key[256];
    const capt_meta *m = capt_file_find_meta(r->file, key_of(r, suffix, op, key));
    if (!m || m->type != type || (type == CAPT_META_ARRAY && m->elem_type != CAPT_META_INT)) return NULL;
    return m;
}

/* An int in [lo, hi]. */
static int read_int(reader *r, const char *suffix, int op, int lo, int hi, int *out) {
    char key[256];
    return capt_meta_read_int(r->file, key_of(r, suffix, op, key), lo, hi, out, r->err);
}

/* An int array of exactly n elements, each in [lo, hi]. */
static int read_ints(reader *r, const char *suffix, int op, size_t n, int lo, int hi, int *out) {
    char key[256];
    return capt_meta_read_ints(r->file, key_of(r, suffix, op, key), n, lo, hi, out, r->err);
}

static int read_string_is(reader *r, const char *suffix, int op, const char *value) {
    const capt_meta *m = find(r, suffix, CAPT_META_STRING, op);
    return m && capt_str_is(m->string_value, value);
}

static const capt_tensor *op_tensor(reader *r, int op, const char *suffix, int n_dims, int64_t d0, int64_t d1) {
    char key[256];
    return capt_file_tensor_checked(r->file, key_of(r, suffix, op, key), n_dims, d0, d1, 0, r->err);
}

/* ---- loading ---------------------------------------------------------------------------- */

/* Floats of a value [h, w, c]; SIZE_MAX when that overflows size_t (32 bits on wasm32). */
static size_t value_floats(convnet_shape s) {
    size_t n;
    return capt_size_mul3(s.h, s.w, s.c, &n) ? n : SIZE_MAX;
}

/* Output size of a convolution window sweep; the kernels bounds-check every tap, so this
 * only has to keep the shapes consistent. */
static int conv_out_ok(int in, int out, int k, int stride, int pad) {
    return pad >= 0 && pad < k && out >= 1 && (int64_t)(out - 1) * stride - pad <= in - 1 &&
           (int64_t)(out - 1) * stride - pad + k - 1 >= 0 && (int64_t)(out - 1) * stride - pad + k - 1 - (in - 1) < k;
}

/* The activation named by `<op>.activation` ("none" when absent). */
static int read_activation(reader *r, int i, convnet_act *act) {
    static const char *const names[] = {"none", "relu", "relu6", "hard_swish", "hard_sigmoid", "sigmoid"};
    *act = ACT_NONE;
    if (!find(r, "activation", CAPT_META_STRING, i)) return 1;
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++)
        if (read_string_is(r, "activation", i, names[k])) {
            *act = (convnet_act)k;
            return 1;
        }
    capt_fail(r->err, CAPT_E_FORMAT, "model: op %d has an unknown activation", i);
    return 0;
}

static int same_shape(convnet_shape a, convnet_shape b) { return a.h == b.h && a.w == b.w && a.c == b.c; }

static capt_status load_op(reader *r, capt_convnet *net, int i) {
    static const char *const types[] = {"conv2d", "depthwise", "add", "mean", "mul", "upsample", "concat"};
    convnet_op *op = &net->ops[i];
    int shape[3], inputs[2];
    convnet_shape *out = &net->shapes[i + 1];
    if (!read_ints(r, "shape", i, 3, 1, MAX_CHANNELS, shape)) return r->err ? r->err->status : CAPT_E_FORMAT;
    *out = (convnet_shape){shape[0], shape[1], shape[2]};
    if (out->h > MAX_SIDE || out->w > MAX_SIDE || value_floats(*out) > MAX_VALUE_FLOATS)
        return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d output %dx%dx%d is too large", i, out->h, out->w, out->c);
    int kind = -1;
    for (int k = 0; k < (int)(sizeof types / sizeof types[0]) && kind < 0; k++)
        if (read_string_is(r, "type", i, types[k])) kind = k;
    if (kind < 0) return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d has an unknown or missing type", i);
    op->kind = (convnet_op_kind)kind;
    op->n_inputs = op->kind == OP_ADD || op->kind == OP_MUL || op->kind == OP_CONCAT ? 2 : 1;
    if (!read_ints(r, "inputs", i, (size_t)op->n_inputs, 0, i, inputs)) return CAPT_E_FORMAT;
    memcpy(op->inputs, inputs, sizeof inputs);
    convnet_shape in = net->shapes[op->inputs[0]], b = net->shapes[op->inputs[op->n_inputs - 1]];
    if (!read_activation(r, i, &op->act)) return CAPT_E_FORMAT;

    switch (op->kind) {
    case OP_ADD:
        if (!same_shape(in, *out) || !same_shape(b, *out))
            return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d adds values of different shapes", i);
        return CAPT_OK;
    case OP_MUL:
        if (!same_shape(in, *out) || b.h != 1 || b.w != 1 || b.c != out->c)
            return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d (mul) must scale %dx%dx%d by 1x1x%d", i, out->h, out->w,
                             out->c, out->c);
        return CAPT_OK;
    case OP_CONCAT:
        if (in.h != out->h || in.w != out->w || b.h != out->h || b.w != out->w || in.c + b.c != out->c)
            return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d (concat) does not give %dx%dx%d", i, out->h, out->w,
                             out->c);
        return CAPT_OK;
    case OP_UPSAMPLE:
        if (in.c != out->c || out->h < in.h || out->w < in.w)
            return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d (upsample) must enlarge %dx%dx%d", i, in.h, in.w, in.c);
        return CAPT_OK;
    case OP_MEAN:
        if (out->h != 1 || out->w != 1 || out->c != in.c)
            return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d (mean) must give 1x1x%d", i, in.c);
        return CAPT_OK;
    case OP_CONV2D:
    case OP_DEPTHWISE:
        break;
    }
    int kernel[2], stride[2], pad[2];
    if (!read_ints(r, "kernel", i, 2, 1, MAX_KERNEL, kernel) || !read_ints(r, "stride", i, 2, 1, MAX_KERNEL, stride) ||
        !read_ints(r, "pad", i, 2, 0, MAX_KERNEL, pad))
        return CAPT_E_FORMAT;
    op->kh = kernel[0], op->kw = kernel[1], op->stride_h = stride[0], op->stride_w = stride[1];
    op->pad_top = pad[0], op->pad_left = pad[1];
    if (!conv_out_ok(in.h, out->h, op->kh, op->stride_h, op->pad_top) ||
        !conv_out_ok(in.w, out->w, op->kw, op->stride_w, op->pad_left))
        return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d: a %dx%d input cannot give %dx%d", i, in.h, in.w, out->h,
                         out->w);
    const capt_tensor *bias = op_tensor(r, i, "bias", 1, out->c, 0);
    if (!bias) return r->err ? r->err->status : CAPT_E_FORMAT;
    if (bias->dtype != CAPT_DTYPE_F32) return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d bias must be f32", i);
    op->bias = bias->data;
    op->output_scale = 1.0f;
    const capt_meta *scale = find(r, "output_scale", CAPT_META_FLOAT, i);
    if (scale) {
        if (!(scale->float_value > 1e-30 && scale->float_value < 1e30))
            return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d output_scale must be positive", i);
        op->output_scale = (float)scale->float_value;
    }
    if (op->kind == OP_CONV2D) {
        op->weight = op_tensor(r, i, "weight", 2, out->c, (int64_t)op->kh * op->kw * in.c);
        if (!op->weight) return r->err ? r->err->status : CAPT_E_FORMAT;
        const int depth = (int)op->weight->dims[1];
        if (depth <= PACK_MAX_DEPTH && out->h * out->w >= PACK_MIN_PIXELS) {
            size_t wide = capt_gemm_wide_floats(out->c, depth);
            op->wide_weight = wide ? capt_malloc3(sizeof(float), wide, 1) : NULL;
            if (!op->wide_weight) return capt_fail(r->err, CAPT_E_NOMEM, "model: out of memory");
            capt_gemm_pack_wide(op->weight->data, op->weight->dtype, out->c, depth, op->wide_weight);
        }
        return CAPT_OK;
    }
    if (in.c != out->c) return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d (depthwise) changes channels", i);
    const capt_tensor *w = op_tensor(r, i, "weight", 2, (int64_t)op->kh * op->kw, out->c);
    if (!w) return r->err ? r->err->status : CAPT_E_FORMAT;
    if (capt_dtype_traits_of(w->dtype)->quantized)
        return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d depthwise weights must be f32 or f16", i);
    const capt_meta *weight_scale = find(r, "weight_scale", CAPT_META_FLOAT, i);
    if (weight_scale && !(weight_scale->float_value > 1e-30 && weight_scale->float_value < 1e30))
        return capt_fail(r->err, CAPT_E_FORMAT, "model: op %d weight_scale must be positive", i);
    op->depthwise_weight = capt_malloc3(sizeof(float), (size_t)w->n_elements, 1);
    if (!op->depthwise_weight) return capt_fail(r->err, CAPT_E_NOMEM, "model: out of memory");
    capt_dequantize_row(w->dtype, w->data, op->depthwise_weight, w->n_elements);
    /* Integer weights times their scale, in double and then rounded to f32: the real values
     * a TFLite converter computes (docs/mobilenet_v2.md). */
    if (weight_scale)
        for (int64_t k = 0; k < w->n_elements; k++)
            op->depthwise_weight[k] = (float)((double)op->depthwise_weight[k] * weight_scale->float_value);
    return CAPT_OK;
}

/* Greedy slot assignment: a value takes the first free slot (growing it if needed);
 * slots free up after the value's last reader. The outputs are never freed. */
static capt_status plan_memory(capt_convnet *net, capt_error *err) {
    int n_values = net->n_ops + 1;
    int *last_use = malloc(sizeof(int) * (size_t)n_values);
    int *slot_free_after = malloc(sizeof(int) * (size_t)n_values);
    net->value_slot = malloc(sizeof(int) * (size_t)n_values);
    net->slot_floats = calloc((size_t)n_values, sizeof(size_t));
    if (!last_use || !slot_free_after || !net->value_slot || !net->slot_floats) {
        free(last_use);
        free(slot_free_after);
        return capt_fail(err, CAPT_E_NOMEM, "model: out of memory");
    }
    for (int v = 0; v < n_values; v++) last_use[v] = v; /* a value nobody reads dies at once */
    for (int i = 0; i < net->n_ops; i++)
        for (int k = 0; k < net->ops[i].n_inputs; k++) last_use[net->ops[i].inputs[k]] = i + 1;
    for (int k = 0; k < net->n_outputs; k++) last_use[net->outputs[k]] = n_values;
    net->n_slots = 0;
    for (int v = 0; v < n_values; v++) {
        /* Value v is written by op v-1 while its inputs (last used by op v-1, i.e. at time v)
         * are still read, so a slot is free for v only if its value died before time v. */
        int slot = -1;
        for (int s = 0; s < net->n_slots && slot < 0; s++)
            if (slot_free_after[s] < v) slot = s;
        if (slot < 0) slot = net->n_slots++;
        net->value_slot[v] = slot;
        slot_free_after[slot] = last_use[v];
        size_t need = value_floats(net->shapes[v]);
        if (need > net->slot_floats[slot]) net->slot_floats[slot] = need;
    }
    free(last_use);
    free(slot_free_after);
    return CAPT_OK;
}

capt_status capt_convnet_load(const capt_file *file, const char *prefix, const char *const *output_names,
                              int n_outputs, capt_convnet **out, capt_error *err) {
    *out = NULL;
    if (n_outputs < 1 || n_outputs > CONVNET_MAX_OUTPUTS)
        return capt_fail(err, CAPT_E_ARG, "capt_convnet_load: 1..%d outputs", CONVNET_MAX_OUTPUTS);
    reader r = {file, prefix, err};
    capt_convnet *net = calloc(1, sizeof *net);
    if (!net) return capt_fail(err, CAPT_E_NOMEM, "model: out of memory");
    int input[3];
    capt_status st = CAPT_E_FORMAT;
    if (!read_int(&r, "n_ops", -1, 1, MAX_OPS, &net->n_ops)) goto fail;
    if (!read_ints(&r, "input", -1, 3, 1, MAX_SIDE, input)) goto fail; /* [height, width, channels] */
    if (input[2] != 3) {
        capt_fail(err, CAPT_E_FORMAT, "model: %s.input must be an RGB image size", prefix);
        goto fail;
    }
    net->hard_scale = 1.0f / 6.0f;
    {
        char key[256];
        if (!capt_meta_read_float(file, key_of(&r, "hard_scale", -1, key), 1.0f / 6.0f, &net->hard_scale, err)) goto fail;
        if (!(net->hard_scale > 0 && net->hard_scale < 1)) {
            capt_fail(err, CAPT_E_FORMAT, "model: %s.hard_scale must be in (0, 1)", prefix);
            goto fail;
        }
    }
    net->ops = calloc((size_t)net->n_ops, sizeof *net->ops);
    net->shapes = calloc((size_t)net->n_ops + 1, sizeof *net->shapes);
    if (!net->ops || !net->shapes) {
        st = capt_fail(err, CAPT_E_NOMEM, "model: out of memory");
        goto fail;
    }
    net->shapes[0] = (convnet_shape){input[0], input[1], input[2]};
    for (int i = 0; i < net->n_ops; i++)
        if ((st = load_op(&r, net, i)) != CAPT_OK) goto fail;
    st = CAPT_E_FORMAT;
    net->n_outputs = n_outputs;
    for (int k = 0; k < n_outputs; k++)
        if (!read_int(&r, output_names[k], -1, 0, net->n_ops, &net->outputs[k])) goto fail;
    for (int i = 0; i < net->n_ops; i++) {
        const convnet_op *op = &net->ops[i];
        convnet_shape o = net->shapes[i + 1];
        if (op->kind == OP_CONV2D && !(op->kh == 1 && op->kw == 1 && op->stride_h == 1 && op->stride_w == 1)) {
            size_t rows, patches; /* [out h * out w, kh * kw * C_in] */
            if (!capt_size_mul3(op->kh, op->kw, net->shapes[op->inputs[0]].c, &patches) ||
                !capt_size_mul3(o.h, o.w, 1, &rows) || !capt_size_mul(rows, patches, &rows) || rows > MAX_VALUE_FLOATS) {
                capt_fail(err, CAPT_E_FORMAT, "model: op %d needs too much im2col memory", i);
                goto fail;
            }
            if (rows > net->im2col_floats) net->im2col_floats = rows;
        }
    }
    if ((st = plan_memory(net, err)) != CAPT_OK) goto fail;
    *out = net;
    return CAPT_OK;
fail:
    capt_convnet_free(net);
    return st;
}

void capt_convnet_free(capt_convnet *net) {
    if (!net) return;
    for (int i = 0; net->ops && i < net->n_ops; i++) {
        free(net->ops[i].depthwise_weight);
        free(net->ops[i].wide_weight);
    }
    free(net->ops);
    free(net->shapes);
    free(net->value_slot);
    free(net->slot_floats);
    free(net);
}

/* ---- running ---------------------------------------------------------------------------- */

capt_status capt_convnet_work_alloc(const capt_convnet *net, convnet_work *work, capt_error *err) {
    work->slots = calloc((size_t)net->n_slots, sizeof *work->slots);
    work->im2col = net->im2col_floats ? malloc(net->im2col_floats * sizeof(float)) : NULL;
    int ok = work->slots && (work->im2col || !net->im2col_floats);
    for (int s = 0; ok && s < net->n_slots; s++) ok = (work->slots[s] = malloc(net->slot_floats[s] * sizeof(float))) != NULL;
    if (!ok) {
        capt_convnet_work_free(net, work);
        return capt_fail(err, CAPT_E_NOMEM, "model: out of memory for a network's activations");
    }
    return CAPT_OK;
}

void capt_convnet_work_free(const capt_convnet *net, convnet_work *work) {
    for (int s = 0; work->slots && s < net->n_slots; s++) free(work->slots[s]);
    free(work->slots);
    free(work->im2col);
    work->slots = NULL;
    work->im2col = NULL;
}

const float *capt_convnet_value(const capt_convnet *net, const convnet_work *work, int value) {
    return work->slots[net->value_slot[value]];
}

static float *value_ptr(const capt_convnet *net, const convnet_work *work, int value) {
    return work->slots[net->value_slot[value]];
}

static float relu6f(float v) { return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v); }

/* x = act(scale * x) over n values (scale 1: the activation alone). */
static void scale_activate(float *x, size_t n, float scale, convnet_act act, float hard_scale) {
    if (scale != 1.0f)
        for (size_t i = 0; i < n; i++) x[i] *= scale;
    switch (act) {
    case ACT_NONE: break;
    case ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case ACT_RELU6:
        for (size_t i = 0; i < n; i++) x[i] = relu6f(x[i]);
        break;
    case ACT_HARD_SWISH: /* in the graph's order: (h·x)·relu6(x + 3) */
        for (size_t i = 0; i < n; i++) x[i] = (hard_scale * x[i]) * relu6f(x[i] + 3.0f);
        break;
    case ACT_HARD_SIGMOID:
        for (size_t i = 0; i < n; i++) x[i] = relu6f(x[i] + 3.0f) * hard_scale;
        break;
    case ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    }
}

/* One axis of TensorFlow's legacy bilinear resize: output i reads input position
 * i * in / out, between cells lo and hi = min(lo + 1, in - 1). */
static void upsample_axis(int out_i, int in, int out, int *lo, int *hi, float *frac) {
    float src = (float)out_i * ((float)in / (float)out);
    int l = (int)src;
    if (l > in - 1) l = in - 1;
    *lo = l;
    *hi = l + 1 < in ? l + 1 : in - 1;
    *frac = src - (float)l;
}

/* [in.h, in.w, C] -> [out.h, out.w, C], as tf.image.resize_bilinear(align_corners=False,
 * half_pixel_centers=False): top and bottom rows interpolated in x, then in y. */
static void upsample_bilinear(const float *x, convnet_shape in, float *y, convnet_shape out) {
    const int C = in.c;
    for (int oy = 0; oy < out.h; oy++) {
        int y0, y1, x0, x1;
        float fy, fx;
        upsample_axis(oy, in.h, out.h, &y0, &y1, &fy);
        for (int ox = 0; ox < out.w; ox++) {
            upsample_axis(ox, in.w, out.w, &x0, &x1, &fx);
            const float *a = x + ((size_t)y0 * in.w + x0) * C, *b = x + ((size_t)y0 * in.w + x1) * C;
            const float *c = x + ((size_t)y1 * in.w + x0) * C, *d = x + ((size_t)y1 * in.w + x1) * C;
            float *dst = y + ((size_t)oy * out.w + ox) * C;
            for (int k = 0; k < C; k++) {
                float top = a[k] + (b[k] - a[k]) * fx, bottom = c[k] + (d[k] - c[k]) * fx;
                dst[k] = top + (bottom - top) * fy;
            }
        }
    }
}

/* Output rows [oy_begin, oy_end) of im2col: [in.h, in.w, in.c] -> [out.h * out.w, kh * kw * in.c]
 * patches, zeros outside. One kernel row of a patch inside the image is kw * in.c
 * consecutive inputs, copied at once (27 values a pixel for a 3x3 stem on RGB). */
static void im2col_rows(const float *x, convnet_shape in, const convnet_op *op, convnet_shape out, float *cols,
                        int oy_begin, int oy_end) {
    const int span = op->kw * in.c;
    const size_t row_len = (size_t)op->kh * span;
    for (int oy = oy_begin; oy < oy_end; oy++)
        for (int ox = 0; ox < out.w; ox++) {
            float *dst = cols + ((size_t)oy * out.w + ox) * row_len;
            const int ix0 = ox * op->stride_w - op->pad_left;
            for (int ky = 0; ky < op->kh; ky++, dst += span) {
                const int iy = oy * op->stride_h + ky - op->pad_top;
                if (iy < 0 || iy >= in.h) {
                    for (int k = 0; k < span; k++) dst[k] = 0.0f;
                    continue;
                }
                const float *row = x + (size_t)iy * in.w * in.c; /* input row iy */
                if (ix0 >= 0 && ix0 + op->kw <= in.w) {
                    const float *src = row + (size_t)ix0 * in.c;
                    for (int k = 0; k < span; k++) dst[k] = src[k];
                    continue;
                }
                for (int kx = 0; kx < op->kw; kx++) {
                    const int ix = ix0 + kx;
                    if (ix < 0 || ix >= in.w) {
                        for (int c = 0; c < in.c; c++) dst[kx * in.c + c] = 0.0f;
                    } else {
                        for (int c = 0; c < in.c; c++) dst[kx * in.c + c] = row[(size_t)ix * in.c + c];
                    }
                }
            }
        }
}

typedef struct im2col_job {
    const float *x;
    convnet_shape in, out;
    const convnet_op *op;
    float *cols;
    int rows_per_task;
} im2col_job;

static void im2col_task(void *ctx, int task, int thread) {
    (void)thread;
    const im2col_job *job = ctx;
    int oy0 = task * job->rows_per_task, oy1 = oy0 + job->rows_per_task;
    im2col_rows(job->x, job->in, job->op, job->out, job->cols, oy0, oy1 < job->out.h ? oy1 : job->out.h);
}

/* im2col over the pool, in bands of output rows, two a thread: thread i's bands cover
 * about the pixels of its share of the product's rows (capt_gemm's row split), so most
 * of its patches stay in its own cache. */
static void im2col(capt_pool *pool, const float *x, convnet_shape in, const convnet_op *op, convnet_shape out,
                   float *cols) {
    int tasks = 2 * capt_pool_threads(pool);
    if (tasks > out.h) tasks = out.h;
    im2col_job job = {x, in, out, op, cols, (out.h + tasks - 1) / tasks};
    capt_pool_run(pool, im2col_task, &job, (out.h + job.rows_per_task - 1) / job.rows_per_task);
}

/* scale_activate over the pool: the values split into contiguous chunks, one or two a
 * thread (elementwise, so the result does not depend on the split). */
typedef struct activate_job {
    float *x;
    size_t n, chunk;
    float scale, hard_scale;
    convnet_act act;
} activate_job;

static void activate_task(void *ctx, int task, int thread) {
    (void)thread;
    const activate_job *job = ctx;
    size_t begin = (size_t)task * job->chunk, end = begin + job->chunk < job->n ? begin + job->chunk : job->n;
    scale_activate(job->x + begin, end - begin, job->scale, job->act, job->hard_scale);
}

static void scale_activate_parallel(capt_pool *pool, float *x, size_t n, float scale, convnet_act act, float hard_scale) {
    if (n < 65536) { /* small: waking the threads costs more than the pass */
        scale_activate(x, n, scale, act, hard_scale);
        return;
    }
    int tasks = 2 * capt_pool_threads(pool);
    /* chunks of whole 64-byte lines, so threads never write the same line */
    size_t chunk = ((n + (size_t)tasks - 1) / (size_t)tasks + 15) / 16 * 16;
    activate_job job = {x, n, chunk, scale, hard_scale, act};
    capt_pool_run(pool, activate_task, &job, (int)((n + chunk - 1) / chunk));
}

capt_status capt_convnet_forward(const capt_convnet *net, convnet_work *work, capt_pool *pool, capt_isa isa,
                                 const float *input, capt_error *err) {
    memcpy(value_ptr(net, work, 0), input, value_floats(net->shapes[0]) * sizeof(float));
    for (int i = 0; i < net->n_ops; i++) {
        const convnet_op *op = &net->ops[i];
        convnet_shape in = net->shapes[op->inputs[0]], out = net->shapes[i + 1];
        const float *x = value_ptr(net, work, op->inputs[0]);
        const float *b = value_ptr(net, work, op->inputs[op->n_inputs - 1]);
        float *y = value_ptr(net, work, i + 1);
        size_t n_out = value_floats(out);
        float scale = 1.0f;
        convnet_act act = op->act;
        capt_status st = CAPT_OK;
        switch (op->kind) {
        case OP_CONV2D: {
            /* y[pixels, C_out] = patches[pixels, kh*kw*C_in] · W[C_out, kh*kw*C_in]ᵀ + b */
            int pointwise = op->kh == 1 && op->kw == 1 && op->stride_h == 1 && op->stride_w == 1;
            if (!pointwise) im2col(pool, x, in, op, out, work->im2col);
            capt_gemm_args g = {.x = pointwise ? x : work->im2col, .w = op->weight->data, .wtype = op->weight->dtype,
                                .bias = op->bias, .y = y, .M = out.h * out.w, .N = out.c, .K = (int)op->weight->dims[1],
                                .w_wide = op->wide_weight};
            /* The output scale and a ReLU or ReLU6 are applied as the product stores its
             * tiles (no second pass over the output); other activations follow in a pass. */
            capt_gemm_epilogue post = {op->output_scale, act == ACT_NONE ? -INFINITY : 0.0f,
                                       act == ACT_RELU6 ? 6.0f : INFINITY};
            int fusable = act == ACT_NONE || act == ACT_RELU || act == ACT_RELU6;
            if (fusable && (op->output_scale != 1.0f || act != ACT_NONE)) g.epilogue = &post;
            st = capt_gemm(pool, isa, &g, err);
            if (fusable) act = ACT_NONE;
            else scale = op->output_scale;
            break;
        }
        case OP_DEPTHWISE: {
            /* relu6 is fused into the kernel; other activations follow in a pass */
            capt_dwconv_args d = {x, in.h, in.w, in.c, op->depthwise_weight, op->bias, y, out.h, out.w,
                                  op->kh, op->kw, op->stride_h, op->stride_w, op->pad_top, op->pad_left,
                                  act == ACT_RELU6};
            st = capt_dwconv(pool, isa, &d, err);
            if (act == ACT_RELU6) act = ACT_NONE;
            break;
        }
        case OP_ADD:
            for (size_t k = 0; k < n_out; k++) y[k] = x[k] + b[k];
            break;
        case OP_MUL:
            for (size_t p = 0, pixels = (size_t)out.h * out.w; p < pixels; p++)
                for (int c = 0; c < out.c; c++) y[p * out.c + c] = b[c] * x[p * out.c + c];
            break;
        case OP_CONCAT: {
            const int ca = in.c, cb = out.c - in.c;
            for (size_t p = 0, pixels = (size_t)out.h * out.w; p < pixels; p++) {
                memcpy(y + p * out.c, x + p * ca, sizeof(float) * (size_t)ca);
                memcpy(y + p * out.c + ca, b + p * cb, sizeof(float) * (size_t)cb);
            }
            break;
        }
        case OP_UPSAMPLE:
            upsample_bilinear(x, in, y, out);
            break;
        case OP_MEAN: {
            size_t pixels = (size_t)in.h * in.w;
            for (int c = 0; c < in.c; c++) y[c] = 0.0f;
            for (size_t p = 0; p < pixels; p++)
                for (int c = 0; c < in.c; c++) y[c] += x[p * in.c + c];
            for (int c = 0; c < in.c; c++) y[c] /= (float)pixels;
            break;
        }
        }
        if (st) return st;
        if (scale != 1.0f || act != ACT_NONE) scale_activate_parallel(pool, y, n_out, scale, act, net->hard_scale);
    }
    return CAPT_OK;
}
