/* gemm_tiled.inc.h — the blocked y = x·Wᵀ + b shared by the SIMD ISAs; included once by
 * each ISA file after it defines its primitives:
 *
 *   SIMD_ISA                       name suffix (avx2, wasm128)
 *   TILE_ROWS                      x rows per register tile (1..4): TILE_ROWS x 4
 *                                  accumulators must fit the ISA's registers
 *   vecf, VEC_LANES                float vector type and its width
 *   vec_zero(), vec_load(p), vec_madd(a, b, acc) = a*b + acc, vec_hsum(v)
 *   dequant_row_f16 / _q8_0 / _q4_0(src, dst, K)       weight row -> K floats
 *   dot_q8_0_q8_0 / dot_q4_0_q8_0(w, x, n_blocks)       integer block dot products
 *
 * Float path: CAPT_GEMM_PANEL_ROWS (4) weight rows at a time, dequantized into scratch
 * unless already f32, times TILE_ROWS x rows per register tile: TILE_ROWS x 4 vector
 * accumulators, each reduced once at the end. Integer path (args->xq set, small M):
 * x was quantized to q8_0 by capt_gemm and each output is a sum of int8 block dots. */
#include "kernels.h"

#define PANEL CAPT_GEMM_PANEL_ROWS

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* y[mr][nr] = x[mr][K] · w[nr][K]ᵀ + bias[nr]; x and w rows have stride K, y has ldy.
 * mr and nr are constants at every call, so the loops unroll into registers. */
static ALWAYS_INLINE void tile(int mr, int nr, const float *x, const float *w, int K, float *y, int ldy,
                               const float *bias) {
    vecf acc[TILE_ROWS][PANEL];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = vec_zero();
    int k = 0;
    for (; k + VEC_LANES <= K; k += VEC_LANES) {
        vecf xv[TILE_ROWS];
        for (int i = 0; i < mr; i++) xv[i] = vec_load(x + (size_t)i * K + k);
        for (int j = 0; j < nr; j++) {
            vecf wv = vec_load(w + (size_t)j * K + k);
            for (int i = 0; i < mr; i++) acc[i][j] = vec_madd(xv[i], wv, acc[i][j]);
        }
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float sum = vec_hsum(acc[i][j]);
            for (int kk = k; kk < K; kk++) sum += x[(size_t)i * K + kk] * w[(size_t)j * K + kk];
            y[(size_t)i * ldy + j] = sum + (bias ? bias[j] : 0.0f);
        }
    }
}

static void run_tile(int mr, int nr, const float *x, const float *w, int K, float *y,
                     int ldy, const float *bias) {
#define TILE_CASE(MR, NR)                                                                            \
    case (MR)*8 + (NR): tile(MR, NR, x, w, K, y, ldy, bias); return;
    switch (mr * 8 + nr) {
        TILE_CASE(1, 1) TILE_CASE(1, 2) TILE_CASE(1, 3) TILE_CASE(1, 4)
#if TILE_ROWS >= 2
        TILE_CASE(2, 1) TILE_CASE(2, 2) TILE_CASE(2, 3) TILE_CASE(2, 4)
#endif
#if TILE_ROWS >= 3
        TILE_CASE(3, 1) TILE_CASE(3, 2) TILE_CASE(3, 3) TILE_CASE(3, 4)
#endif
#if TILE_ROWS >= 4
        TILE_CASE(4, 1) TILE_CASE(4, 2) TILE_CASE(4, 3) TILE_CASE(4, 4)
#endif
    default: return;
    }
#undef TILE_CASE
}

static void gemm_tiled(const capt_gemm_args *a, int n_begin, int n_end, float *panel) {
    const int K = a->K;
    size_t row_bytes = capt_dtype_row_bytes(a->wtype, K);
    for (int n = n_begin; n < n_end; n += PANEL) {
        int nr = n_end - n < PANEL ? n_end - n : PANEL;
        const unsigned char *w_rows = (const unsigned char *)a->w + (size_t)n * row_bytes;
        const float *w = panel; /* [nr, K] */
        for (int j = 0; j < nr && a->wtype != CAPT_DTYPE_F32; j++) {
            const void *src = w_rows + (size_t)j * row_bytes;
            float *dst = panel + (size_t)j * K;
            if (a->wtype == CAPT_DTYPE_F16) dequant_row_f16(src, dst, K);
            else if (a->wtype == CAPT_DTYPE_Q8_0) dequant_row_q8_0(src, dst, K);
            else dequant_row_q4_0(src, dst, K);
        }
        if (a->wtype == CAPT_DTYPE_F32) w = (const float *)w_rows;
        for (int m = 0; m < a->M; m += TILE_ROWS) {
            int mr = a->M - m < TILE_ROWS ? a->M - m : TILE_ROWS;
            run_tile(mr, nr, a->x + (size_t)m * K, w, K, a->y + (size_t)m * a->N + n, a->N,
                     a->bias ? a->bias + n : NULL);
        }
    }
}

static void gemm_integer(const capt_gemm_args *a, int n_begin, int n_end) {
    const int n_blocks = a->K / CAPT_QK;
    size_t row_bytes = capt_dtype_row_bytes(a->wtype, a->K);
    for (int n = n_begin; n < n_end; n++) {
        const void *w = (const unsigned char *)a->w + (size_t)n * row_bytes;
        float b = a->bias ? a->bias[n] : 0.0f;
        for (int m = 0; m < a->M; m++) {
            const capt_block_q8_0 *x = a->xq + (size_t)m * n_blocks;
            float dot = a->wtype == CAPT_DTYPE_Q8_0 ? dot_q8_0_q8_0(w, x, n_blocks) : dot_q4_0_q8_0(w, x, n_blocks);
            a->y[(size_t)m * a->N + n] = dot + b;
        }
    }
}

#define GEMM_NAME_(wt, isa) capt_gemm_##wt##_f32__##isa
#define GEMM_NAME(wt, isa) GEMM_NAME_(wt, isa)

void GEMM_NAME(f32, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    gemm_tiled(a, n0, n1, scratch);
}
void GEMM_NAME(f16, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    gemm_tiled(a, n0, n1, scratch);
}
void GEMM_NAME(q8_0, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    if (a->xq) gemm_integer(a, n0, n1);
    else gemm_tiled(a, n0, n1, scratch);
}
void GEMM_NAME(q4_0, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    if (a->xq) gemm_integer(a, n0, n1);
    else gemm_tiled(a, n0, n1, scratch);
}
