/* dtype.c — the dtype traits table: every fact about f32, f16, q8_0 and q4_0 (block
 * size, bytes, conversions, the scalar integer dot) lives here and nowhere else. */
#include <math.h>

#include "base.h"

static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = capt_f16_to_f32(h[i]);
}
static void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = capt_f32_to_f16(src[i]);
}

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const capt_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        float d = capt_f16_to_f32(b[i].d);
        for (int j = 0; j < CAPT_QK; j++) dst[i * CAPT_QK + j] = (float)b[i].qs[j] * d;
    }
}

/* The scale of a block x[32] quantized symmetrically to integers in [-levels, levels]:
 * d = max|x| / levels; *inv = 1 / d, or 0 for an all-zero block. */
static float block_scale(const float *x, float levels, float *inv) {
    float amax = 0.0f;
    for (int j = 0; j < CAPT_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / levels;
    *inv = d != 0.0f ? 1.0f / d : 0.0f;
    return d;
}

/* q8_0 scales by max|x|/127, as ggml and tools/captfile.py. */
void capt_quantize_row_q8_0(const float *src, capt_block_q8_0 *dst, int64_t n) {
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        const float *x = src + i * CAPT_QK;
        float inv, d = block_scale(x, 127.0f, &inv);
        dst[i].d = capt_f32_to_f16(d);
        for (int j = 0; j < CAPT_QK; j++) dst[i].qs[j] = (int8_t)lrintf(x[j] * inv);
    }
}
static void q8_0_from_float(const float *src, void *dst, int64_t n) { capt_quantize_row_q8_0(src, dst, n); }
void capt_quantize_row_q16(const float *src, capt_block_q16 *dst, int64_t n) {
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        const float *x = src + i * CAPT_QK;
        float inv;
        dst[i].d = block_scale(x, 32767.0f, &inv);
        for (int j = 0; j < CAPT_QK; j++) dst[i].qs[j] = (int16_t)lrintf(x[j] * inv);
    }
}

static void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const capt_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        float d = capt_f16_to_f32(b[i].d);
        for (int j = 0; j < CAPT_QK / 2; j++) {
            dst[i * CAPT_QK + j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
            dst[i * CAPT_QK + j + CAPT_QK / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* q4_0 scales by the signed value of largest magnitude / -8, as ggml. */
void capt_quantize_row_q4_0(const float *src, capt_block_q4_0 *dst, int64_t n) {
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        const float *x = src + i * CAPT_QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < CAPT_QK; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        float d = max / -8.0f;
        float inv = d != 0.0f ? 1.0f / d : 0.0f;
        dst[i].d = capt_f32_to_f16(d);
        for (int j = 0; j < CAPT_QK / 2; j++) {
            int lo = (int)(x[j] * inv + 8.5f), hi = (int)(x[j + CAPT_QK / 2] * inv + 8.5f);
            lo = lo > 15 ? 15 : lo;
            hi = hi > 15 ? 15 : hi;
            dst[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}
static void q4_0_from_float(const float *src, void *dst, int64_t n) { capt_quantize_row_q4_0(src, dst, n); }

/* The integer dot products: exact int32 sums per block (32 products of at most
 * 127 * 128 each), scaled by both f16 scales, blocks added in order. */
static float q8_0_vec_dot_q8_0(const void *wv, const capt_block_q8_0 *x, int64_t n) {
    const capt_block_q8_0 *w = wv;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        int32_t isum = 0;
        for (int j = 0; j < CAPT_QK; j++) isum += (int32_t)w[i].qs[j] * x[i].qs[j];
        sum += capt_f16_to_f32(w[i].d) * capt_f16_to_f32(x[i].d) * (float)isum;
    }
    return sum;
}

static float q4_0_vec_dot_q8_0(const void *wv, const capt_block_q8_0 *x, int64_t n) {
    const capt_block_q4_0 *w = wv;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        int32_t isum = 0;
        for (int j = 0; j < CAPT_QK / 2; j++) {
            isum += ((w[i].qs[j] & 0x0f) - 8) * x[i].qs[j];
            isum += ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + CAPT_QK / 2];
        }
        sum += capt_f16_to_f32(w[i].d) * capt_f16_to_f32(x[i].d) * (float)isum;
    }
    return sum;
}

static const capt_dtype_traits traits[] = {
    [CAPT_DTYPE_F32] = {"f32", 1, sizeof(float), 0, f32_to_float, f32_from_float, NULL},
    [CAPT_DTYPE_F16] = {"f16", 1, sizeof(uint16_t), 0, f16_to_float, f16_from_float, NULL},
    [CAPT_DTYPE_Q8_0] = {"q8_0", CAPT_QK, sizeof(capt_block_q8_0), 1, q8_0_to_float, q8_0_from_float,
                         q8_0_vec_dot_q8_0},
    [CAPT_DTYPE_Q4_0] = {"q4_0", CAPT_QK, sizeof(capt_block_q4_0), 1, q4_0_to_float, q4_0_from_float,
                         q4_0_vec_dot_q8_0},
};

const capt_dtype_traits *capt_dtype_traits_of(capt_dtype dtype) {
    return (unsigned)dtype < sizeof traits / sizeof traits[0] ? &traits[dtype] : NULL;
}

void capt_dequantize_row(capt_dtype dtype, const void *src, float *dst, int64_t n) {
    capt_dtype_traits_of(dtype)->to_float(src, dst, n);
}

const char *capt_dtype_name(capt_dtype dtype) {
    const capt_dtype_traits *t = capt_dtype_traits_of(dtype);
    return t ? t->name : NULL;
}

size_t capt_dtype_row_bytes(capt_dtype dtype, int64_t n) {
    const capt_dtype_traits *t = capt_dtype_traits_of(dtype);
    size_t bytes;
    if (!t || n < 0 || n % t->block_values || (uint64_t)(n / t->block_values) > SIZE_MAX) return 0;
    return capt_size_mul((size_t)(n / t->block_values), t->block_bytes, &bytes) ? bytes : 0;
}

capt_status capt_dtype_from_float(capt_dtype dtype, const float *src, void *dst, int64_t n) {
    const capt_dtype_traits *t = capt_dtype_traits_of(dtype);
    if (!t || !src || !dst || n < 0 || n % t->block_values) return CAPT_E_ARG;
    t->from_float_ref(src, dst, n);
    return CAPT_OK;
}
