/* gemm_ref.c — the reference y = x·Wᵀ + b: dequantize one weight row, dot it with every
 * x row in plain C. Slow and obviously right; the oracle of tests/test_gemm.c. */
#include "kernels.h"

static void gemm_ref(const capt_gemm_args *a, int n_begin, int n_end, float *row) {
    size_t row_bytes = capt_dtype_row_bytes(a->wtype, a->K);
    for (int n = n_begin; n < n_end; n++) {
        capt_dequantize_row(a->wtype, (const unsigned char *)a->w + (size_t)n * row_bytes, row, a->K);
        float b = a->bias ? a->bias[n] : 0.0f;
        for (int m = 0; m < a->M; m++) {
            const float *x = a->x + (size_t)m * a->K;
            float sum = 0.0f;
            for (int k = 0; k < a->K; k++) sum += x[k] * row[k];
            a->y[(size_t)m * a->N + n] = capt_gemm_finish(a->epilogue, sum + b);
        }
    }
}

void capt_gemm_f32_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
void capt_gemm_f16_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
void capt_gemm_q8_0_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
void capt_gemm_q4_0_f32__ref(const capt_gemm_args *a, int n0, int n1, float *s) { gemm_ref(a, n0, n1, s); }
