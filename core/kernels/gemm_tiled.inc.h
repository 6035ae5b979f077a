/* gemm_tiled.inc.h — the blocked y = x·Wᵀ + b shared by the SIMD ISAs; included once by
 * each ISA file after it defines its primitives:
 *
 *   SIMD_ISA                       name suffix (avx2, wasm128)
 *   TILE_ROWS                      x rows per register tile (1..4): TILE_ROWS x 4
 *                                  accumulators must fit the ISA's registers
 *   WIDE_ROWS                      x rows per tile of the wide path: WIDE_ROWS x 2
 *                                  accumulators, 2 weight vectors and a broadcast must fit
 *   vecf, VEC_LANES                float vector type and its width
 *   vec_zero(), vec_load(p), vec_store(p, v), vec_splat(f), vec_add(a, b), vec_mul(a, b),
 *   vec_max(a, b) = a < b ? b : a, vec_min(a, b) = b < a ? b : a,
 *   vec_madd(a, b, acc) = a*b + acc, vec_hsum(v)
 *   vec_load_q8_scaled(qs, d)      VEC_LANES int8 weights times d: a q8_0 block's values
 *   f16_to_f32(h)                  a block's f16 scale as a float (exact)
 *   dequant_row_f16 / _q8_0 / _q4_0(src, dst, K)       weight row -> K floats
 *   dot_q8_0_q8_0 / dot_q4_0_q8_0(w, x, n_blocks)       integer block dot products
 *   gemm_q8_0_q16(args, n0, n1)    optional (HAVE_GEMM_Q8_0_Q16): products from args->xq16
 *
 * Float path: CAPT_GEMM_PANEL_ROWS (4) weight rows at a time, dequantized into scratch
 * unless already f32, times TILE_ROWS x rows per register tile: TILE_ROWS x 4 vector
 * accumulators, each reduced once at the end (q8_0 weights with few x rows: dequantized
 * in registers instead). Wide path (shallow products, K <= CAPT_GEMM_WIDE_MAX_K, or
 * weights packed ahead, with many rows): 2 vectors of weight columns packed transposed and
 * each x value broadcast against them, no reduction. Integer path (args->xq set, small
 * M): x was quantized to q8_0 by capt_gemm and each output is a sum of int8 block dots. */
#include "kernels.h"

#define PANEL CAPT_GEMM_PANEL_ROWS
/* q8_0 products with at most this many x rows dequantize their weights in registers
 * (each row tile converts them again; above this, converting once into a panel wins) */
#ifndef Q8_IN_REGISTERS_MAX_M
#define Q8_IN_REGISTERS_MAX_M (2 * TILE_ROWS)
#endif
#define WIDE (2 * VEC_LANES) /* output columns of a wide-path tile */
_Static_assert(WIDE <= CAPT_GEMM_WIDE_COLS_MAX, "the wide panel must fit capt_gemm_scratch_floats");

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* acc[mr][nr] += x[mr][k, k + VEC_LANES) times w[nr][k, k + VEC_LANES), lane by lane. */
static ALWAYS_INLINE void tile_round(int mr, int nr, const float *x, const float *w, int K, int k,
                                     vecf acc[TILE_ROWS][PANEL]) {
    vecf xv[TILE_ROWS];
    for (int i = 0; i < mr; i++) xv[i] = vec_load(x + (size_t)i * K + k);
    for (int j = 0; j < nr; j++) {
        vecf wv = vec_load(w + (size_t)j * K + k);
        for (int i = 0; i < mr; i++) acc[i][j] = vec_madd(xv[i], wv, acc[i][j]);
    }
}

/* y[mr][nr] = post(x[mr][K] · w[nr][K]ᵀ + bias[nr]); x and w rows have stride K, y has ldy.
 * mr and nr are constants at every call, so the loops unroll into registers. */
static ALWAYS_INLINE void tile(int mr, int nr, const float *x, const float *w, int K, float *y, int ldy,
                               const float *bias, const capt_gemm_epilogue *post) {
    vecf acc[TILE_ROWS][PANEL];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = vec_zero();
    int k = 0;
    /* Two rounds a loop, added in turn (the order of one a loop, so the same bits): V8
     * checks for interrupts at every loop back-edge, and this made SIMD128's products of
     * 50 rows 1.2-1.8x faster under node (natively the same speed). */
    for (; k + 2 * VEC_LANES <= K; k += 2 * VEC_LANES) {
        tile_round(mr, nr, x, w, K, k, acc);
        tile_round(mr, nr, x, w, K, k + VEC_LANES, acc);
    }
    if (k + VEC_LANES <= K) {
        tile_round(mr, nr, x, w, K, k, acc);
        k += VEC_LANES;
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < nr; j++) {
            float sum = vec_hsum(acc[i][j]);
            for (int kk = k; kk < K; kk++) sum += x[(size_t)i * K + kk] * w[(size_t)j * K + kk];
            y[(size_t)i * ldy + j] = capt_gemm_finish(post, sum + (bias ? bias[j] : 0.0f));
        }
    }
}

/* Every register tile shape, CASE(mr, nr) for mr <= TILE_ROWS and nr <= PANEL: the cases
 * of the switches that turn a run-time shape into constants the loops unroll over. */
_Static_assert(PANEL == 4, "TILE_SHAPES_OF_ROW lists 4 columns");
#define TILE_SHAPES_OF_ROW(CASE, MR) CASE(MR, 1) CASE(MR, 2) CASE(MR, 3) CASE(MR, 4)
#if TILE_ROWS >= 4
#define TILE_SHAPES(CASE)                                                                            \
    TILE_SHAPES_OF_ROW(CASE, 1) TILE_SHAPES_OF_ROW(CASE, 2) TILE_SHAPES_OF_ROW(CASE, 3) TILE_SHAPES_OF_ROW(CASE, 4)
#elif TILE_ROWS >= 3
#define TILE_SHAPES(CASE) TILE_SHAPES_OF_ROW(CASE, 1) TILE_SHAPES_OF_ROW(CASE, 2) TILE_SHAPES_OF_ROW(CASE, 3)
#elif TILE_ROWS >= 2
#define TILE_SHAPES(CASE) TILE_SHAPES_OF_ROW(CASE, 1) TILE_SHAPES_OF_ROW(CASE, 2)
#else
#define TILE_SHAPES(CASE) TILE_SHAPES_OF_ROW(CASE, 1)
#endif

static void run_tile(int mr, int nr, const float *x, const float *w, int K, float *y,
                     int ldy, const float *bias, const capt_gemm_epilogue *post) {
#define TILE_CASE(MR, NR)                                                                            \
    case (MR)*8 + (NR): tile(MR, NR, x, w, K, y, ldy, bias, post); return;
    switch (mr * 8 + nr) {
        TILE_SHAPES(TILE_CASE)
    default: return;
    }
#undef TILE_CASE
}

/* tile() for q8_0 weights rows w[nr] ([K / 32] blocks each, `stride` blocks apart), each
 * block's values dequantized in registers as they are used: the same products summed in
 * the same order as tile() over dequantized rows, so the same bits, without writing the
 * rows out and reading them back (for a few x rows, as in a decoder step, that round trip
 * costs as much as the products). */
static ALWAYS_INLINE void tile_q8_0(int mr, int nr, const float *x, const capt_block_q8_0 *w, size_t stride, int K,
                                    float *y, int ldy, const float *bias, const capt_gemm_epilogue *post) {
    vecf acc[TILE_ROWS][PANEL];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = vec_zero();
    for (int b = 0; b < K / CAPT_QK; b++) {
        float d[PANEL];
        for (int j = 0; j < nr; j++) d[j] = f16_to_f32(w[(size_t)j * stride + b].d);
        for (int c = 0; c < CAPT_QK; c += VEC_LANES) {
            const int k = b * CAPT_QK + c;
            vecf xv[TILE_ROWS];
            for (int i = 0; i < mr; i++) xv[i] = vec_load(x + (size_t)i * K + k);
            for (int j = 0; j < nr; j++) {
                vecf wv = vec_load_q8_scaled(w[(size_t)j * stride + b].qs + c, vec_splat(d[j]));
                for (int i = 0; i < mr; i++) acc[i][j] = vec_madd(xv[i], wv, acc[i][j]);
            }
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            y[(size_t)i * ldy + j] = capt_gemm_finish(post, vec_hsum(acc[i][j]) + (bias ? bias[j] : 0.0f));
}

static void run_tile_q8_0(int mr, int nr, const float *x, const capt_block_q8_0 *w, size_t stride, int K, float *y,
                          int ldy, const float *bias, const capt_gemm_epilogue *post) {
#define TILE_CASE(MR, NR)                                                                            \
    case (MR)*8 + (NR): tile_q8_0(MR, NR, x, w, stride, K, y, ldy, bias, post); return;
    switch (mr * 8 + nr) {
        TILE_SHAPES(TILE_CASE)
    default: return;
    }
#undef TILE_CASE
}

/* Weight row n as K floats: in place for f32 weights, else dequantized into dst. */
static const float *weight_row(const capt_gemm_args *a, int n, float *dst) {
    const void *src = (const unsigned char *)a->w + (size_t)n * capt_dtype_row_bytes(a->wtype, a->K);
    switch (a->wtype) {
    case CAPT_DTYPE_F32: return src;
    case CAPT_DTYPE_F16: dequant_row_f16(src, dst, a->K); break;
    case CAPT_DTYPE_Q8_0: dequant_row_q8_0(src, dst, a->K); break;
    case CAPT_DTYPE_Q4_0: dequant_row_q4_0(src, dst, a->K); break;
    }
    return dst;
}

/* The dot form: PANEL weight rows at a time against every row tile of x. q8_0 weights
 * with few x rows are dequantized in registers by each tile; others into the panel once. */
static void gemm_tiled(const capt_gemm_args *a, int n_begin, int n_end, float *panel) {
    const int K = a->K;
    const int in_registers = a->wtype == CAPT_DTYPE_Q8_0 && a->M <= Q8_IN_REGISTERS_MAX_M;
    const size_t blocks = (size_t)K / CAPT_QK; /* q8_0 blocks a weight row */
    for (int n = n_begin; n < n_end; n += PANEL) {
        int nr = n_end - n < PANEL ? n_end - n : PANEL;
        /* [nr, K]: f32 rows are consecutive in place, others are dequantized side by side */
        const float *w = NULL;
        if (!in_registers) {
            w = weight_row(a, n, panel);
            for (int j = 1; j < nr && a->wtype != CAPT_DTYPE_F32; j++) weight_row(a, n + j, panel + (size_t)j * K);
        }
        for (int m = 0; m < a->M; m += TILE_ROWS) {
            int mr = a->M - m < TILE_ROWS ? a->M - m : TILE_ROWS;
            const float *x = a->x + (size_t)m * K, *bias = a->bias ? a->bias + n : NULL;
            float *y = a->y + (size_t)m * a->N + n;
            if (in_registers)
                run_tile_q8_0(mr, nr, x, (const capt_block_q8_0 *)a->w + (size_t)n * blocks, blocks, K, y, a->N, bias,
                              a->epilogue);
            else run_tile(mr, nr, x, w, K, y, a->N, bias, a->epilogue);
        }
    }
}

/* The wide path's tile: y[mr][nv vectors] = post(x[mr][K] · panel[K][nv vectors] + bias),
 * panel rows ldp floats apart.
 * Each output is one accumulator lane summed over k in order, then the bias added and the
 * epilogue applied: the reference's order (bit for bit where vec_madd rounds the product,
 * as SIMD128's does). mr and nv are constants at every call. */
static ALWAYS_INLINE void wide_tile(int mr, int nv, const float *x, const float *panel, int ldp, int K, float *y,
                                    int ldy, const float *bias, const capt_gemm_epilogue *post) {
    vecf acc[WIDE_ROWS][2];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) acc[i][j] = vec_zero();
    for (int k = 0; k < K; k++) {
        vecf w[2];
        for (int j = 0; j < nv; j++) w[j] = vec_load(panel + (size_t)k * ldp + j * VEC_LANES);
        for (int i = 0; i < mr; i++) {
            vecf xv = vec_splat(x[(size_t)i * K + k]);
            for (int j = 0; j < nv; j++) acc[i][j] = vec_madd(xv, w[j], acc[i][j]);
        }
    }
    for (int j = 0; j < nv; j++) {
        vecf b = bias ? vec_load(bias + j * VEC_LANES) : vec_zero();
        for (int i = 0; i < mr; i++) acc[i][j] = vec_add(acc[i][j], b);
    }
    if (post) {
        vecf scale = vec_splat(post->scale), lo = vec_splat(post->lo), hi = vec_splat(post->hi);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nv; j++) acc[i][j] = vec_min(vec_max(vec_mul(acc[i][j], scale), lo), hi);
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) vec_store(y + (size_t)i * ldy + j * VEC_LANES, acc[i][j]);
}

static void run_wide_tile(int mr, int nv, const float *x, const float *panel, int ldp, int K, float *y, int ldy,
                          const float *bias, const capt_gemm_epilogue *post) {
#define WIDE_CASE(MR, NV)                                                                            \
    case (MR)*4 + (NV): wide_tile(MR, NV, x, panel, ldp, K, y, ldy, bias, post); return;
    switch (mr * 4 + nv) {
        WIDE_CASE(1, 1) WIDE_CASE(1, 2) WIDE_CASE(2, 1) WIDE_CASE(2, 2)
#if WIDE_ROWS >= 3
        WIDE_CASE(3, 1) WIDE_CASE(3, 2)
#endif
#if WIDE_ROWS >= 4
        WIDE_CASE(4, 1) WIDE_CASE(4, 2)
#endif
#if WIDE_ROWS >= 6
        WIDE_CASE(5, 1) WIDE_CASE(5, 2) WIDE_CASE(6, 1) WIDE_CASE(6, 2)
#endif
    default: return;
    }
#undef WIDE_CASE
}

/* Shallow products (a MobileNet's 1x1 convolutions from 16-32 channels, its first
 * convolution's 27 taps), and any product whose weights were packed ahead (a->w_wide):
 * there the dot form's reductions of its accumulators cost as much as its products.
 * Columns go 2 vectors at a time (then 1), from a panel [K, cols]: read in place from
 * a->w_wide, or else packed here transposed (each weight row dequantized into row [K]
 * first, K <= CAPT_GEMM_WIDE_MAX_K). Columns that leave less than a vector (of their
 * packed group, or in all) take the dot form. */
static void gemm_wide(const capt_gemm_args *a, int n_begin, int n_end, float *scratch) {
    const int K = a->K;
    int n = n_begin;
    while (n < n_end) {
        const int offset = n % CAPT_GEMM_WIDE_COLS_MAX;
        int room = a->w_wide ? CAPT_GEMM_WIDE_COLS_MAX - offset : WIDE; /* columns one panel holds */
        if (room > n_end - n) room = n_end - n;
        if (room < VEC_LANES) {
            gemm_tiled(a, n, n + room, scratch);
            n += room;
            continue;
        }
        const int nv = room >= WIDE ? 2 : 1;
        const int cols = nv * VEC_LANES;
        const float *panel = scratch;
        int ldp = cols;
        if (a->w_wide) {
            panel = a->w_wide + (size_t)(n / CAPT_GEMM_WIDE_COLS_MAX) * CAPT_GEMM_WIDE_COLS_MAX * K + offset;
            ldp = CAPT_GEMM_WIDE_COLS_MAX;
        } else {
            float *row = scratch + (size_t)WIDE * K;
            for (int j = 0; j < cols; j++) {
                const float *w = weight_row(a, n + j, row);
                for (int k = 0; k < K; k++) scratch[(size_t)k * cols + j] = w[k];
            }
        }
        const float *bias = a->bias ? a->bias + n : NULL;
        const float *x = a->x;
        float *y = a->y + n;
        int m = 0;
        for (; m + WIDE_ROWS <= a->M; m += WIDE_ROWS) {
            if (nv == 2)
                wide_tile(WIDE_ROWS, 2, x + (size_t)m * K, panel, ldp, K, y + (size_t)m * a->N, a->N, bias, a->epilogue);
            else
                wide_tile(WIDE_ROWS, 1, x + (size_t)m * K, panel, ldp, K, y + (size_t)m * a->N, a->N, bias, a->epilogue);
        }
        if (m < a->M)
            run_wide_tile(a->M - m, nv, x + (size_t)m * K, panel, ldp, K, y + (size_t)m * a->N, a->N, bias, a->epilogue);
        n += cols;
    }
}

static void gemm_float(const capt_gemm_args *a, int n_begin, int n_end, float *scratch) {
    if ((a->K <= CAPT_GEMM_WIDE_MAX_K || a->w_wide) && a->M >= WIDE_ROWS) gemm_wide(a, n_begin, n_end, scratch);
    else gemm_tiled(a, n_begin, n_end, scratch);
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
            a->y[(size_t)m * a->N + n] = capt_gemm_finish(a->epilogue, dot + b);
        }
    }
}

#define GEMM_NAME_(wt, isa) capt_gemm_##wt##_f32__##isa
#define GEMM_NAME(wt, isa) GEMM_NAME_(wt, isa)

void GEMM_NAME(f32, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    gemm_float(a, n0, n1, scratch);
}
void GEMM_NAME(f16, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    gemm_float(a, n0, n1, scratch);
}
void GEMM_NAME(q8_0, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
#ifdef HAVE_GEMM_Q8_0_Q16
    if (a->xq16) {
        gemm_q8_0_q16(a, n0, n1);
        return;
    }
#endif
    if (a->xq) gemm_integer(a, n0, n1);
    else gemm_float(a, n0, n1, scratch);
}
void GEMM_NAME(q4_0, SIMD_ISA)(const capt_gemm_args *a, int n0, int n1, float *scratch) {
    if (a->xq) gemm_integer(a, n0, n1);
    else gemm_float(a, n0, n1, scratch);
}
