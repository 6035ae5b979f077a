/* nn.c — see nn.h. */
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The loader's reads keep the first failure's message. */
int nn_meta_int(nn_loader *l, const char *key, int lo, int hi) {
    int v = lo;
    if (l->ok && !capt_meta_read_int(l->file, key, lo, hi, &v, l->err)) l->ok = 0;
    return v;
}

float nn_meta_float(nn_loader *l, const char *key, float fallback) {
    float v = fallback;
    if (l->ok && !capt_meta_read_float(l->file, key, fallback, &v, l->err)) l->ok = 0;
    return v;
}

const float *nn_vec(nn_loader *l, const char *name, int64_t n) {
    if (!l->ok) return NULL;
    const capt_tensor *t = capt_file_tensor_checked(l->file, name, 1, n, 0, 1, l->err);
    if (!t) l->ok = 0;
    return t ? t->data : NULL;
}

const float *nn_mat_f32(nn_loader *l, const char *name, int64_t rows, int64_t cols) {
    if (!l->ok) return NULL;
    const capt_tensor *t = capt_file_tensor_checked(l->file, name, 2, rows, cols, 1, l->err);
    if (!t) l->ok = 0;
    return t ? t->data : NULL;
}

linear nn_linear(nn_loader *l, const char *prefix, int64_t out, int64_t in, int with_bias) {
    linear r = {NULL, NULL};
    char name[256];
    if (!l->ok) return r;
    snprintf(name, sizeof name, "%s.weight", prefix);
    r.w = capt_file_tensor_checked(l->file, name, 2, out, in, 0, l->err);
    if (r.w && in % capt_dtype_traits_of(r.w->dtype)->block_values) {
        capt_fail(l->err, CAPT_E_FORMAT, "model: %s is quantized but its rows are not whole blocks", name);
        r.w = NULL;
    }
    if (!r.w) {
        l->ok = 0;
        return r;
    }
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (with_bias) r.b = nn_vec(l, name, out);
    return r;
}

capt_status nn_linear_apply(const linear *f, capt_pool *pool, capt_isa isa, const float *x, int rows, float *y,
                            capt_error *err) {
    capt_gemm_args g = {.x = x, .w = f->w->data, .wtype = f->w->dtype, .bias = f->b, .y = y, .M = rows,
                        .N = (int)f->w->dims[0], .K = (int)f->w->dims[1], .float_activations = 1};
    return capt_gemm(pool, isa, &g, err);
}

void nn_layer_norm(const float *x, float *y, int rows, int d, const float *w, const float *b, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        float mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += xr[i];
        mean /= (float)d;
        for (int i = 0; i < d; i++) var += (xr[i] - mean) * (xr[i] - mean);
        float inv = 1.0f / sqrtf(var / (float)d + eps);
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - mean) * inv * w[i] + b[i];
    }
}

capt_status nn_alloc_buffers(const nn_buffer *buffers, size_t n, const char *what, capt_error *err) {
    for (size_t i = 0; i < n; i++) {
        size_t bytes = sizeof(float);
        for (int k = 0; k < 4 && buffers[i].dims[k]; k++)
            if (buffers[i].dims[k] < 0 || (uint64_t)buffers[i].dims[k] > SIZE_MAX ||
                !capt_size_mul(bytes, (size_t)buffers[i].dims[k], &bytes))
                return capt_fail(err, CAPT_E_FORMAT, "model: the %s's buffer %zu is too large for this machine", what, i);
        if (!(*buffers[i].p = malloc(bytes))) return capt_fail(err, CAPT_E_NOMEM, "%s: out of memory for its buffers", what);
    }
    return CAPT_OK;
}

void nn_add_into(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void nn_transpose(const float *x, int rows, int cols, float *y, size_t ldy) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) y[(size_t)c * ldy + r] = x[(size_t)r * cols + c];
}

/* ---- vector math: one set of loops per instruction set ------------------------------------------ */

#define NN_MATH_SET generic
#include "nn_math.inc.h"

/* Calls the set that runs on `isa`: the wider vectors' sets exist natively on x86-64 (built
 * beside the AVX2 and AVX-512 kernels); the reference kernels' ISA and wasm take the
 * build's baseline. All sets give the same bits (nn_math.inc.h). */
#ifdef CAPT_NN_MATH_X86
#define NN_MATH_CALL(isa, f, args)            \
    ((isa) == CAPT_ISA_AVX512 ? nn_##f##_avx512 args \
     : (isa) == CAPT_ISA_AVX2 ? nn_##f##_avx2 args   \
                              : nn_##f##_generic args)
#else
#define NN_MATH_CALL(isa, f, args) ((void)(isa), nn_##f##_generic args)
#endif

float nn_max(capt_isa isa, const float *x, int n) { return NN_MATH_CALL(isa, max, (x, n)); }
void nn_softmax(capt_isa isa, float *s, int n) { NN_MATH_CALL(isa, softmax, (s, n)); }
void nn_log_softmax(capt_isa isa, float *x, int n) { NN_MATH_CALL(isa, log_softmax, (x, n)); }
void nn_activate(capt_isa isa, nn_activation act, float *x, size_t n) { NN_MATH_CALL(isa, activate, (act, x, n)); }

void nn_attend(capt_isa isa, const float *q, const float *kt, size_t ldk, const float *v, size_t ldv, int n, int d,
               int heads, float *w, float *out) {
    NN_MATH_CALL(isa, attend, (q, kt, ldk, v, ldv, n, d, heads, w, out));
}
