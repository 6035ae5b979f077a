/* kernels.h — compute kernels: quantized block layouts, y = x·Wᵀ + b for every weight
 * dtype, and per-ISA implementations behind one dispatcher.
 *
 * Naming: capt_<op>_<weight type>_<activation type>__<isa>. ref/ is plain C and the
 * oracle every other implementation is tested against (tests/test_gemm.c); the integer
 * paths are also checked exactly against the dtype traits' scalar dot (base.h).
 * Kernels depend only on base.h and the public header. */
#ifndef CAPT_KERNELS_H
#define CAPT_KERNELS_H

#include "base.h"
#include "pool.h"

typedef enum capt_isa {
    CAPT_ISA_REF = 0,  /* portable C, the oracle */
    CAPT_ISA_AVX2 = 1, /* x86-64 AVX2 + FMA + F16C, chosen at run time by cpuid */
    CAPT_ISA_WASM128 = 2, /* WebAssembly SIMD128, chosen at compile time (-msimd128) */
    CAPT_ISA_AVX512 = 3   /* x86-64 AVX-512F (+ AVX2, FMA, F16C), chosen at run time by cpuid */
} capt_isa;
#define CAPT_ISA_COUNT 4

const char *capt_isa_name(capt_isa isa);
int capt_isa_available(capt_isa isa); /* 1 when this build and this CPU can run it */
capt_isa capt_isa_best(void);         /* the fastest available */

/* What a product's store applies after the bias, in this order (a convolution's output
 * scale, then its ReLU or ReLU6): y = min(max(scale · y, lo), hi). Fused into the store,
 * it saves a pass over the output. */
typedef struct capt_gemm_epilogue {
    float scale, lo, hi; /* lo, hi: ±INFINITY for no bound */
} capt_gemm_epilogue;

/* One output's epilogue in plain C: the reference, and the SIMD kernels' scalar stores. */
static inline float capt_gemm_finish(const capt_gemm_epilogue *e, float v) {
    if (!e) return v;
    v *= e->scale;
    v = v < e->lo ? e->lo : v;
    return v > e->hi ? e->hi : v;
}

/* One matrix product y = epilogue(x·Wᵀ + b). */
typedef struct capt_gemm_args {
    const float *x;    /* [M, K] activations, row-major */
    const void *w;     /* [N, K] weights in wtype, row-major (quantized: K/32 blocks a row) */
    capt_dtype wtype;
    const float *bias; /* [N] or NULL */
    float *y;          /* [M, N] output, row-major */
    int M, N, K;
    const capt_gemm_epilogue *epilogue; /* NULL: y = x·Wᵀ + b as it is */
    /* [M, K/32] x quantized to q8_0, set by capt_gemm for the integer paths (small M,
     * q8_0/q4_0 weights, SIMD ISAs); NULL otherwise. */
    const capt_block_q8_0 *xq;
    /* 1: keep x in f32 (no integer path): results then match a float reference to
     * rounding, at some speed cost for small M; but see xq16. */
    int float_activations;
    /* [M, K/32] x quantized to q16, set by capt_gemm where a kernel set takes the integer
     * path even for float activations (capt_gemm_uses_xq16); NULL otherwise. */
    const capt_block_q16 *xq16;
    /* NULL, or w packed by capt_gemm_pack_wide: the SIMD kernels then take the wide path
     * at any depth (with WIDE_ROWS rows or more), reading its panels in place. */
    const float *w_wide;
} capt_gemm_args;

/* Computes output columns [n_begin, n_end) for all M rows. `scratch` holds
 * capt_gemm_scratch_floats(K) floats private to the calling thread. */
typedef void (*capt_gemm_kernel)(const capt_gemm_args *args, int n_begin, int n_end, float *scratch);

/* The SIMD kernels dequantize CAPT_GEMM_PANEL_ROWS weight rows at a time into scratch
 * and reuse them for every x row; below CAPT_GEMM_INT_MAX_M rows of x they take the
 * integer path for quantized weights instead (x quantized to q8_0, int8 dot products). */
#define CAPT_GEMM_PANEL_ROWS 4
#define CAPT_GEMM_INT_MAX_M 4
/* Products no deeper than this (with enough rows) take the wide path instead: columns a
 * few vectors at a time, packed transposed into scratch, CAPT_GEMM_WIDE_COLS_MAX at most
 * (or at any depth from weights packed ahead, capt_gemm_args.w_wide). */
#define CAPT_GEMM_WIDE_MAX_K 64
#define CAPT_GEMM_WIDE_COLS_MAX 32
/* The wide path's weights packed once, ahead of the products (a convolution's, at load):
 * for each group of CAPT_GEMM_WIDE_COLS_MAX columns, [K, 32] floats (row k: weight k of
 * those columns), zeros past N. The same layout serves every ISA: a tile of 8, 16 or 32
 * columns reads its part of each 32-float row. capt_gemm_wide_floats: the packed size
 * (0 when K is too deep for the wide path, or the size overflows size_t). */
size_t capt_gemm_wide_floats(int N, int K);
void capt_gemm_pack_wide(const void *w, capt_dtype wtype, int N, int K, float *packed);
/* Products with at least this many rows per thread are split by rows across threads,
 * others by columns (MobileNetV2's last 7x7 layers: 49 rows and 160-1280 columns). */
#define CAPT_GEMM_ROW_SPLIT_M 32
/* Per thread, for products of depth up to K: the dot form's panel [4, K], or the wide
 * path's transposed panel and one dequantized row, [32 + 1, K <= 64]. */
static inline size_t capt_gemm_scratch_floats(int K) {
    size_t panel = (size_t)CAPT_GEMM_PANEL_ROWS * (size_t)K;
    size_t wide = (size_t)(CAPT_GEMM_WIDE_COLS_MAX + 1) * (size_t)(K < CAPT_GEMM_WIDE_MAX_K ? K : CAPT_GEMM_WIDE_MAX_K);
    return panel > wide ? panel : wide;
}
/* What capt_gemm needs reserved in its pool (capt_pool_reserve) for products of depth
 * up to K: per thread, and shared (x quantized for the integer paths, M < 4 rows);
 * SIZE_MAX when that does not fit in size_t (a K read from a hostile file on wasm32). */
static inline size_t capt_gemm_scratch_bytes(int K) {
    size_t bytes;
    return K >= 0 && K <= INT32_MAX / CAPT_GEMM_PANEL_ROWS &&
                   capt_size_mul(sizeof(float), capt_gemm_scratch_floats(K), &bytes) ? bytes : SIZE_MAX;
}
static inline size_t capt_gemm_shared_bytes(int K) {
    size_t bytes; /* q8_0 or q16 blocks: the larger */
    return K >= 0 && capt_size_mul((CAPT_GEMM_INT_MAX_M - 1) * sizeof(capt_block_q16), (size_t)(K / CAPT_QK + 1), &bytes)
               ? bytes : SIZE_MAX;
}

/* Looks up the kernel for a dtype on an ISA; NULL when that ISA is not built in. */
capt_gemm_kernel capt_gemm_kernel_for(capt_isa isa, capt_dtype wtype);
/* 1 when that kernel reads args->xq (so capt_gemm must quantize x first). */
int capt_gemm_uses_xq(capt_isa isa, const capt_gemm_args *args);
/* 1 when that kernel reads args->xq16: q8_0 weights, float activations, M < 4, on
 * SIMD128, whose int8-to-float conversion takes four instructions a vector and costs more
 * than the products (docs/kernels.md, "Decoder steps in wasm": int16 dot products). */
int capt_gemm_uses_xq16(capt_isa isa, const capt_gemm_args *args);

/* Runs y = x·Wᵀ + b on `pool` with the kernels of `isa`, in the pool's scratch (reserved
 * for this K: capt_gemm_scratch_bytes, capt_gemm_shared_bytes); allocates nothing.
 * Checks shapes (K a multiple of 32 for quantized weights) and the scratch, and returns
 * CAPT_E_ARG or CAPT_E_UNSUPPORTED (ISA not available) with a message in `err`. */
capt_status capt_gemm(capt_pool *pool, capt_isa isa, const capt_gemm_args *args, capt_error *err);

/* Depthwise 2D convolution over NHWC (batch 1) with per-channel weights:
 * y[oy][ox][c] = act(bias[c] + Σ_{ky,kx} x[oy*sh + ky - pad_t][ox*sw + kx - pad_l][c] *
 *                                          w[ky*kw + kx][c]), taps outside x count as 0. */
typedef struct capt_dwconv_args {
    const float *x;    /* [H, W, C] */
    int H, W, C;
    const float *w;    /* [kh * kw, C] */
    const float *bias; /* [C] */
    float *y;          /* [out_h, out_w, C] */
    int out_h, out_w;
    int kh, kw, stride_h, stride_w, pad_top, pad_left;
    int relu6;         /* clamp outputs to [0, 6] */
} capt_dwconv_args;

/* One output value, in plain C: the reference, and the SIMD kernels' channel tail. */
static inline float capt_dwconv_scalar_at(const capt_dwconv_args *a, int oy, int ox, int c) {
    float sum = a->bias[c];
    for (int ky = 0; ky < a->kh; ky++) {
        int iy = oy * a->stride_h + ky - a->pad_top;
        if (iy < 0 || iy >= a->H) continue;
        for (int kx = 0; kx < a->kw; kx++) {
            int ix = ox * a->stride_w + kx - a->pad_left;
            if (ix >= 0 && ix < a->W)
                sum += a->x[((size_t)iy * a->W + ix) * a->C + c] * a->w[(size_t)(ky * a->kw + kx) * a->C + c];
        }
    }
    return a->relu6 ? (sum < 0.0f ? 0.0f : (sum > 6.0f ? 6.0f : sum)) : sum;
}

/* Computes output rows [row_begin, row_end). */
typedef void (*capt_dwconv_kernel)(const capt_dwconv_args *args, int row_begin, int row_end);
capt_dwconv_kernel capt_dwconv_kernel_for(capt_isa isa);

/* Runs a depthwise convolution on `pool` (rows split across threads). */
capt_status capt_dwconv(capt_pool *pool, capt_isa isa, const capt_dwconv_args *args, capt_error *err);

/* Per-ISA kernels (defined only where the ISA is compiled in). */
#define CAPT_DECLARE_GEMM_KERNELS(isa)                                                        \
    void capt_gemm_f32_f32__##isa(const capt_gemm_args *, int, int, float *);                \
    void capt_gemm_f16_f32__##isa(const capt_gemm_args *, int, int, float *);                \
    void capt_gemm_q8_0_f32__##isa(const capt_gemm_args *, int, int, float *);               \
    void capt_gemm_q4_0_f32__##isa(const capt_gemm_args *, int, int, float *);               \
    void capt_dwconv_f32__##isa(const capt_dwconv_args *, int, int);
CAPT_DECLARE_GEMM_KERNELS(ref)
CAPT_DECLARE_GEMM_KERNELS(avx2)
CAPT_DECLARE_GEMM_KERNELS(avx512)
CAPT_DECLARE_GEMM_KERNELS(wasm128)

#endif
