/* nn.h — building blocks shared by the transformers (the caption decoder and the CLIP
 * towers): checked loading of their tensors, linear layers, layer norm, softmax and
 * activations. */
#ifndef CAPT_NN_H
#define CAPT_NN_H

#include "capt.h"
#include "kernels.h"

typedef struct linear {
    const capt_tensor *w; /* [out, in], any dtype */
    const float *b;       /* [out], or NULL for a layer without bias */
    float *w_f32;         /* [out, in]: w dequantized once by nn_linear_unpack (products then
                           * read it instead), or NULL */
} linear;

/* Reads hyperparameters and tensors, keeping the first failure: after one, every call
 * returns a harmless value and `ok` stays 0, so a loader checks once at the end. */
typedef struct nn_loader {
    const capt_file *file;
    capt_error *err;
    int ok;
} nn_loader;

int nn_meta_int(nn_loader *l, const char *key, int lo, int hi);
/* A float metadata value, or `fallback` when the key is absent. */
float nn_meta_float(nn_loader *l, const char *key, float fallback);
const float *nn_vec(nn_loader *l, const char *name, int64_t n);                 /* f32 [n] */
const float *nn_mat_f32(nn_loader *l, const char *name, int64_t rows, int64_t cols); /* f32 [rows, cols] */
/* "<prefix>.weight" [out, in] in any dtype (quantized: in % 32 == 0) and, when
 * with_bias, "<prefix>.bias" [out] in f32. */
linear nn_linear(nn_loader *l, const char *prefix, int64_t out, int64_t in, int with_bias);

/* Keeps a layer's f16 or quantized weights converted to f32 as well (nothing for f32 ones):
 * the same values, so the same products, for kernel sets where converting weights costs
 * more than the products of a few rows (capt_isa_prefers_f32_weights). nn_linear_free
 * releases them. */
capt_status nn_linear_unpack(linear *f, capt_error *err);
void nn_linear_free(linear *f);

/* y[rows, out] = x[rows, in] · Wᵀ + b with activations kept in f32 (results match a float
 * reference to rounding; see docs/kernels.md). */
capt_status nn_linear_apply(const linear *f, capt_pool *pool, capt_isa isa, const float *x, int rows, float *y,
                            capt_error *err);

/* y[r] = (x[r] - mean) / sqrt(var + eps) * w + b for each of `rows` rows of d; y may be x. */
void nn_layer_norm(const float *x, float *y, int rows, int d, const float *w, const float *b, float eps);
void nn_add_into(float *x, const float *y, size_t n);
/* The softmax and the log-softmax of n values, in place (max subtracted first): the
 * attention weights, and the decoder's next-token log probabilities. */
void nn_softmax(float *s, int n);
void nn_log_softmax(float *x, int n);

/* The one attention: a query row per head against n key rows. q, out: [d]; k, v: n rows
 * of stride ld floats, head h in columns h*hd..(h+1)*hd (hd = d / heads); the weights
 * w[h][j] = softmax_j(q_h·k_j / sqrt(hd)) are left in w [heads][n]; out_h = Σ_j w[h][j] v_j.
 * The decoder attends with it (self and cross), CLIP's towers once per token. */
void nn_attend(const float *q, const float *k, const float *v, int n, size_t ld, int d, int heads, float *w, float *out);

/* A float buffer to allocate: *p gets the product of `dims` floats (unused dims: 0 ends
 * the list), multiplied with overflow checks: the dims come from a model file. */
typedef struct nn_buffer {
    float **p;
    int64_t dims[4];
} nn_buffer;

/* Allocates every buffer. On failure (a size that overflows: CAPT_E_FORMAT; out of
 * memory) the message names `what`; the caller frees what was allocated (its pointers
 * start NULL). */
capt_status nn_alloc_buffers(const nn_buffer *buffers, size_t n, const char *what, capt_error *err);

typedef enum nn_activation { NN_GELU, NN_QUICK_GELU } nn_activation;
void nn_activate(nn_activation act, float *x, size_t n);

#endif
