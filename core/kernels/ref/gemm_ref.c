/* gemm_ref.c — the reference y = x·Wᵀ + b: dequantize one weight row, dot it with every
 * x row in plain C. Slow and obviously right; the oracle of tests/test_gemm.c. Also the
 * row conversions (quantize/dequantize) every other file uses. */
#include <math.h>
#include <string.h>

#include "../../src/internal.h"
#include "../kernels.h"

void capt_dequantize_row(capt_dtype dtype, const void *src, float *dst, int64_t n) {
    switch (dtype) {
    case CAPT_DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case CAPT_DTYPE_F16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = capt_f16_to_f32(h[i]);
        return;
    }
    case CAPT_DTYPE_Q8_0: {
        const capt_block_q8_0 *b = src;
        for (int64_t i = 0; i < n / CAPT_QK; i++) {
            float d = capt_f16_to_f32(b[i].d);
            for (int j = 0; j < CAPT_QK; j++) dst[i * CAPT_QK + j] = (float)b[i].qs[j] * d;
        }
        return;
    }
    case CAPT_DTYPE_Q4_0: {
        const capt_block_q4_0 *b = src;
        for (int64_t i = 0; i < n / CAPT_QK; i++) {
            float d = capt_f16_to_f32(b[i].d);
            for (int j = 0; j < CAPT_QK / 2; j++) {
                dst[i * CAPT_QK + j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
                dst[i * CAPT_QK + j + CAPT_QK / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
            }
        }
        return;
    }
    }
}

/* Same rounding rules as ggml and tools/captfile.py: q8_0 scales by max|x|/127,
 * q4_0 by the signed value of largest magnitude / -8. */
void capt_quantize_row_q8_0(const float *src, capt_block_q8_0 *dst, int64_t n) {
    for (int64_t i = 0; i < n / CAPT_QK; i++) {
        const float *x = src + i * CAPT_QK;
        float amax = 0.0f;
        for (int j = 0; j < CAPT_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float inv = d != 0.0f ? 1.0f / d : 0.0f;
        dst[i].d = capt_f32_to_f16(d);
        for (int j = 0; j < CAPT_QK; j++) dst[i].qs[j] = (int8_t)lrintf(x[j] * inv);
    }
}

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

static void gemm_ref(const capt_gemm_args *a, int n_begin, int n_end, float *row) {
    size_t row_bytes = capt_dtype_row_bytes(a->wtype, a->K);
    for (int n = n_begin; n < n_end; n++) {
        capt_dequantize_row(a->wtype, (const unsigned char *)a->w + (size_t)n * row_bytes, row, a->K);
        float b = a->bias ? a->bias[n] : 0.0f;
        for (int m = 0; m < a->M; m++) {
            const float *x = a->x + (size_t)m * a->K;
            float sum = 0.0f;
            for (int k = 0; k < a->K; k++) sum += x[k] * row[k];
            a->y[(size_t)m * a->N + n] = sum + b;
        }
    }
}

void capt_gemm_f32_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
void capt_gemm_f16_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
void capt_gemm_q8_0_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
void capt_gemm_q4_0_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
