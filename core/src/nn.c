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

/* ---- softmax ------------------------------------------------------------------------------------ */

/* Reductions over SUM_LANES partial results side by side, the lanes a vector loop keeps
 * (without fast-math, compilers vectorize no float reduction written as one chain). */
#define SUM_LANES 16

float nn_max(const float *x, int n) {
    float lane[SUM_LANES];
    for (int j = 0; j < SUM_LANES; j++) lane[j] = x[0];
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    float max = lane[0];
    for (int j = 1; j < SUM_LANES; j++) max = lane[j] > max ? lane[j] : max;
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    return max;
}

static float sum_of(const float *x, int n) {
    float lane[SUM_LANES] = {0}, sum = 0;
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += x[i + j];
    for (int j = 0; j < SUM_LANES; j++) sum += lane[j];
    for (; i < n; i++) sum += x[i];
    return sum;
}

/* Σ e^(x[i] - shift), as sum_of the exponentials without storing them. */
static float sum_exp(const float *x, int n, float shift) {
    float lane[SUM_LANES] = {0};
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += nn_expf(x[i + j] - shift);
    float sum = 0;
    for (int j = 0; j < SUM_LANES; j++) sum += lane[j];
    for (; i < n; i++) sum += nn_expf(x[i] - shift);
    return sum;
}

void nn_softmax(float *s, int n) {
    float max = nn_max(s, n);
    for (int i = 0; i < n; i++) s[i] = nn_expf(s[i] - max);
    float sum = sum_of(s, n);
    for (int i = 0; i < n; i++) s[i] /= sum;
}

/* Query dimensions taken a pass over the keys: each key's score gets that many terms
 * added in turn (the order of its dot product) for one load and store of it. */
#define ATTEND_DIMS 4
#define ATTEND_COLUMNS 16

void nn_attend(const float *q, const float *kt, size_t ldk, const float *v, size_t ldv, int n, int d, int heads,
               float *w, float *out) {
    int hd = d / heads;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++) {
        float *wh = w + (size_t)h * n;
        const float *qh = q + (size_t)h * hd, *kh = kt + (size_t)h * hd * ldk; /* kh: [hd][ldk] */
        /* wh[j] = q_h · k_j summed over i in order, the keys side by side (vectorized
         * across j: the transposed keys make each dimension's n values contiguous) */
        for (int j = 0; j < n; j++) wh[j] = 0.0f;
        int i = 0;
        for (; i + ATTEND_DIMS <= hd; i += ATTEND_DIMS) {
            const float *k0 = kh + (size_t)i * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
            float q0 = qh[i], q1 = qh[i + 1], q2 = qh[i + 2], q3 = qh[i + 3];
            for (int j = 0; j < n; j++) wh[j] = (((wh[j] + q0 * k0[j]) + q1 * k1[j]) + q2 * k2[j]) + q3 * k3[j];
        }
        for (; i < hd; i++)
            for (int j = 0; j < n; j++) wh[j] += qh[i] * kh[(size_t)i * ldk + j];
        for (int j = 0; j < n; j++) wh[j] *= scale;
        nn_softmax(wh, n);
        /* out_h[i] = Σ_j wh[j] v[j][i] summed over j in order, ATTEND_COLUMNS columns at a time
         * in local sums (the compiler cannot keep out's columns in registers across j: out
         * might alias the weights) */
        float *o = out + (size_t)h * hd;
        const float *vh = v + (size_t)h * hd;
        for (int i0 = 0; i0 < hd; i0 += ATTEND_COLUMNS) {
            int cols = hd - i0 < ATTEND_COLUMNS ? hd - i0 : ATTEND_COLUMNS;
            float sum[ATTEND_COLUMNS] = {0};
            for (int j = 0; j < n; j++)
                for (int c = 0; c < cols; c++) sum[c] += wh[j] * vh[(size_t)j * ldv + i0 + c];
            memcpy(o + i0, sum, sizeof(float) * (size_t)cols);
        }
    }
}

void nn_transpose(const float *x, int rows, int cols, float *y, size_t ldy) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) y[(size_t)c * ldy + r] = x[(size_t)r * cols + c];
}

void nn_log_softmax(float *x, int n) {
    float max = nn_max(x, n);
    float lse = max + logf(sum_exp(x, n, max));
    for (int i = 0; i < n; i++) x[i] -= lse;
}

void nn_activate(nn_activation act, float *x, size_t n) {
    if (act == NN_GELU) /* exact (erf) GELU, as torch.nn.GELU() */
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + nn_erff(x[i] * 0.70710678118654752f));
    else /* CLIP's quick_gelu: x · sigmoid(1.702 x) */
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + nn_expf(-1.702f * x[i]));
}
