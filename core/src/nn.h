/* nn.h — building blocks shared by the transformers (the caption decoder and the CLIP
 * towers): checked loading of their tensors, linear layers, layer norm, softmax and
 * activations. */
#ifndef CAPT_NN_H
#define CAPT_NN_H

#include <stdint.h>
#include <string.h>

#include "capt.h"
#include "kernels.h"

typedef struct linear {
    const capt_tensor *w; /* [out, in], any dtype */
    const float *b;       /* [out], or NULL for a layer without bias */
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

/* y[rows, out] = x[rows, in] · Wᵀ + b with activations kept in f32 (results match a float
 * reference to rounding; see docs/kernels.md). */
capt_status nn_linear_apply(const linear *f, capt_pool *pool, capt_isa isa, const float *x, int rows, float *y,
                            capt_error *err);

/* y[r] = (x[r] - mean) / sqrt(var + eps) * w + b for each of `rows` rows of d; y may be x. */
void nn_layer_norm(const float *x, float *y, int rows, int d, const float *w, const float *b, float eps);
void nn_add_into(float *x, const float *y, size_t n);
/* ---- elementwise math that vectorizes ----------------------------------------------------------
 * libm's expf and erff are a call per value; these are branch-free and inline, so loops over
 * arrays of them compile to vector code (SSE2, AVX2 or AVX-512 natively, SIMD128 in wasm:
 * the vector math below). Accuracy against the exact values (test_nn checks it on dense
 * grids): nn_expf within 1.25 ulp, nn_erff within 2.5 ulp (1.2e-7 absolute), where libm's
 * are within 1 ulp; the decoder's GELU, attention weights and log-softmax then differ from
 * libm's in the last bits (docs/kernels.md, "Elementwise math"). */

/* c[0] + c[1] v + ... + c[n-1] v^(n-1), by Horner's rule from the highest term: n and c are
 * constants at every call, so the loop unrolls into the chain of multiply-adds. */
static inline float nn_polynomial(const float *c, int n, float v) {
    float p = c[n - 1];
    for (int k = n - 2; k >= 0; k--) p = p * v + c[k];
    return p;
}

/* e^x: x = n ln 2 + r with |r| <= ln 2 / 2 (Cody and Waite's two-part ln 2: the high part has
 * 9 significant bits, so n times it is exact), e^r by its Taylor series to r^7 (the next term
 * is below 5e-9 relative), times 2^n built in the exponent bits. n is rounded by adding
 * 1.5 * 2^23, which leaves it in the sum's low mantissa bits (no float-to-int conversion,
 * undefined for NaN). x is clamped to [-87, 88], whose results are normal floats: e^-87 =
 * 1.6e-38 stands in for smaller results, -inf included. */
static inline float nn_expf(float x) {
    const float rounder = 12582912.0f; /* 1.5 * 2^23, bits 0x4B400000 */
    const float ln2_high = 0.693359375f, ln2_low = -2.12194442e-4f;
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float rounded = x * 1.44269504f + rounder; /* rounder + n, n = round(x / ln 2) in -126..127 */
    float n = rounded - rounder;
    float r = (x - n * ln2_high) - n * ln2_low;
    static const float taylor[] = {1.0f, 1.0f, 0.5f, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
    float p = nn_polynomial(taylor, 8, r);
    uint32_t bits;
    memcpy(&bits, &rounded, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* erf(x) = sign(x) erf(z), z = |x|: below 0.8 as z P(z^2), from 0.8 as 1 - e^(-z^2) Q(t) with
 * t = (z - 2.4) / 1.6 in [-1, 1] for z in [0.8, 4] (from 4 on erf rounds to 1; z is clamped
 * there). P and Q are least-squares fits (tools/fit_erf.py prints them and the error). */
static inline float nn_erff(float x) {
    float z = x < 0 ? -x : x, s = z * z;
    static const float P[] = {1.12837923f, -0.376126379f, 0.112837709f, -0.0268641133f, 0.0052142865f,
                              -0.000831443293f, 9.20519669e-05f};
    static const float Q[] = {0.218498722f, -0.127336457f, 0.0703862682f, -0.0371339284f, 0.0187786128f,
                              -0.00916296896f, 0.00437766127f, -0.00197093422f, 0.000748244056f, -0.000349800452f,
                              0.000260492292f, -9.64542487e-05f};
    float p = nn_polynomial(P, 7, s);
    float zc = z < 4.0f ? z : 4.0f, t = (zc - 2.4f) * (1.0f / 1.6f);
    float q = nn_polynomial(Q, 12, t);
    float e = z < 0.8f ? z * p : 1.0f - nn_expf(-zc * zc) * q;
    return x < 0 ? -e : e;
}

/* ---- vector math ----------------------------------------------------------------------------
 * Loops over arrays of the functions above, compiled for each instruction set the kernels
 * have (nn_math.inc.h): `isa` picks the set, as for the products (the context's ISA); every
 * set gives the same bits. */

typedef enum nn_activation { NN_GELU, NN_QUICK_GELU } nn_activation;

/* The largest of n >= 1 values (NaNs skipped, unless x[0] is one), over 16 lanes side by side. */
float nn_max(capt_isa isa, const float *x, int n);

/* The softmax and the log-softmax of n values, in place (max subtracted first): the
 * attention weights, and the decoder's next-token log probabilities. */
void nn_softmax(capt_isa isa, float *s, int n);
void nn_log_softmax(capt_isa isa, float *x, int n);

/* The one attention: a query row per head against n keys. q, out: [d]; the keys come
 * transposed, kt[i * ldk + j] = key j's value i (kt: [d][ldk], ldk >= n), so one
 * dimension of every key is contiguous and the n scores are summed side by side; the
 * values are n rows of stride ldv. Head h is dimensions h*hd..(h+1)*hd (hd = d / heads);
 * the weights w[h][j] = softmax_j(q_h·k_j / sqrt(hd)) (each dot product summed in order of
 * i) are left in w [heads][n]; out_h = Σ_j w[h][j] v_j. The decoder attends with it (self
 * and cross), CLIP's towers once per token. */
void nn_attend(capt_isa isa, const float *q, const float *kt, size_t ldk, const float *v, size_t ldv, int n, int d,
               int heads, float *w, float *out);

/* x = GELU(x) (exact, with erf) or CLIP's quick_gelu, elementwise over n values. */
void nn_activate(capt_isa isa, nn_activation act, float *x, size_t n);

/* One instruction set's compiled loops (nn_math.inc.h): the functions above without `isa`,
 * named nn_<function>_<set>. */
#define NN_MATH_DECLARE(set)                                                                                  \
    float nn_max_##set(const float *x, int n);                                                                \
    void nn_softmax_##set(float *s, int n);                                                                   \
    void nn_log_softmax_##set(float *x, int n);                                                               \
    void nn_attend_##set(const float *q, const float *kt, size_t ldk, const float *v, size_t ldv, int n, int d, \
                         int heads, float *w, float *out);                                                    \
    void nn_activate_##set(nn_activation act, float *x, size_t n);
NN_MATH_DECLARE(generic)
#if defined(__x86_64__) || defined(__i386__)
#define CAPT_NN_MATH_X86 1 /* nn_math_avx2.c and nn_math_avx512.c are built */
NN_MATH_DECLARE(avx2)
NN_MATH_DECLARE(avx512)
#endif

/* y[c * ldy + r] = x[r * cols + c]: x [rows, cols] transposed into y [cols][ldy], ldy >= rows. */
void nn_transpose(const float *x, int rows, int cols, float *y, size_t ldy);

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

#endif
