/* simd_wasm128.c — WebAssembly SIMD128 primitives for gemm_tiled.inc.h and
 * dwconv_simd.inc.h (built when the compiler targets simd128; browsers without SIMD
 * load the plain build instead). */
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include "base.h"
#include "kernels.h"

typedef v128_t vecf;
/* SIMD128 has no f16 conversion: a block's scale goes through the portable one */
#define f16_to_f32(h) capt_f16_to_f32(h)
#define VEC_LANES 4
#define vec_zero() wasm_f32x4_splat(0.0f)
#define vec_load(p) wasm_v128_load(p)
/* SIMD128 has no fused multiply-add (relaxed-simd is not in every browser). */
#define vec_store(p, v) wasm_v128_store(p, v)
#define vec_splat(f) wasm_f32x4_splat(f)
#define vec_max(a, b) wasm_f32x4_pmax(a, b)
#define vec_min(a, b) wasm_f32x4_pmin(a, b)
#define vec_mul(a, b) wasm_f32x4_mul(a, b)
#define vec_add(a, b) wasm_f32x4_add(a, b)
#define vec_madd(a, b, acc) wasm_f32x4_add(wasm_f32x4_mul(a, b), acc)

static inline float vec_hsum(v128_t v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

/* 4 int8 weights of a q8_0 block times its scale d, exact (d has 11 significant bits) */
static inline v128_t vec_load_q8_scaled(const int8_t *qs, v128_t d) {
    v128_t q = wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_low_i8x16(wasm_v128_load32_zero(qs)));
    return wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(q));
}

/* 4 halves (zero-extended to 32 bits) -> 4 floats, exact: normals rebias the exponent,
 * subnormals are mantissa * 2^-24, inf/nan keep an all-ones exponent. */
static inline v128_t f16x4_to_f32x4(v128_t h) {
    v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
    v128_t exp = wasm_v128_and(h, wasm_i32x4_splat(0x7c00));
    v128_t mant = wasm_v128_and(h, wasm_i32x4_splat(0x03ff));
    v128_t normal = wasm_i32x4_add(wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13),
                                   wasm_i32x4_splat(112 << 23));
    v128_t special = wasm_v128_or(wasm_i32x4_shl(mant, 13), wasm_i32x4_splat(0x7f800000));
    v128_t subnormal = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(mant), wasm_f32x4_splat(1.0f / 16777216.0f));
    v128_t is_zero_exp = wasm_i32x4_eq(exp, wasm_i32x4_splat(0));
    v128_t is_max_exp = wasm_i32x4_eq(exp, wasm_i32x4_splat(0x7c00));
    v128_t bits = wasm_v128_bitselect(subnormal, normal, is_zero_exp);
    bits = wasm_v128_bitselect(special, bits, is_max_exp);
    return wasm_v128_or(bits, sign);
}

static void dequant_row_f16(const void *src, float *dst, int K) {
    const uint16_t *h = src;
    int k = 0;
    for (; k + 4 <= K; k += 4) wasm_v128_store(dst + k, f16x4_to_f32x4(wasm_u32x4_load16x4(h + k)));
    for (; k < K; k++) dst[k] = f16_to_f32(h[k]);
}

/* 16 int8 values -> 4 x 4 floats scaled by d. */
static inline void store_i8x16_scaled(v128_t q, v128_t d, float *dst) {
    v128_t lo = wasm_i16x8_extend_low_i8x16(q), hi = wasm_i16x8_extend_high_i8x16(q);
    wasm_v128_store(dst + 0, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo))));
    wasm_v128_store(dst + 4, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo))));
    wasm_v128_store(dst + 8, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi))));
    wasm_v128_store(dst + 12, wasm_f32x4_mul(d, wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi))));
}

static void dequant_row_q8_0(const void *src, float *dst, int K) {
    const capt_block_q8_0 *b = src;
    for (int i = 0; i < K / CAPT_QK; i++) {
        v128_t d = wasm_f32x4_splat(f16_to_f32(b[i].d));
        store_i8x16_scaled(wasm_v128_load(b[i].qs), d, dst + i * CAPT_QK);
        store_i8x16_scaled(wasm_v128_load(b[i].qs + 16), d, dst + i * CAPT_QK + 16);
    }
}

/* q4_0 nibbles -> values 0..15 (lo) and 16..31 (hi) as int8 in [-8, 7]. */
static inline void unpack_q4_0(const uint8_t *qs, v128_t *lo, v128_t *hi) {
    v128_t packed = wasm_v128_load(qs), eight = wasm_i8x16_splat(8);
    *lo = wasm_i8x16_sub(wasm_v128_and(packed, wasm_i8x16_splat(0x0f)), eight);
    *hi = wasm_i8x16_sub(wasm_u8x16_shr(packed, 4), eight);
}

static void dequant_row_q4_0(const void *src, float *dst, int K) {
    const capt_block_q4_0 *b = src;
    for (int i = 0; i < K / CAPT_QK; i++) {
        v128_t d = wasm_f32x4_splat(f16_to_f32(b[i].d)), lo, hi;
        unpack_q4_0(b[i].qs, &lo, &hi);
        store_i8x16_scaled(lo, d, dst + i * CAPT_QK);
        store_i8x16_scaled(hi, d, dst + i * CAPT_QK + 16);
    }
}

/* Sum of 16 int8 products as 4 int32 lanes. */
static inline v128_t dot_i8x16(v128_t w, v128_t x) {
    v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_i16x8_extend_low_i8x16(x));
    v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_i16x8_extend_high_i8x16(x));
    return wasm_i32x4_add(lo, hi);
}

static inline v128_t block_sum(v128_t w_lo, v128_t w_hi, const capt_block_q8_0 *x, float d) {
    v128_t s = wasm_i32x4_add(dot_i8x16(w_lo, wasm_v128_load(x->qs)), dot_i8x16(w_hi, wasm_v128_load(x->qs + 16)));
    return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(d));
}

static float dot_q8_0_q8_0(const void *wv, const capt_block_q8_0 *x, int n_blocks) {
    const capt_block_q8_0 *w = wv;
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < n_blocks; i++) {
        float d = f16_to_f32(w[i].d) * f16_to_f32(x[i].d);
        acc = wasm_f32x4_add(acc, block_sum(wasm_v128_load(w[i].qs), wasm_v128_load(w[i].qs + 16), &x[i], d));
    }
    return vec_hsum(acc);
}

static float dot_q4_0_q8_0(const void *wv, const capt_block_q8_0 *x, int n_blocks) {
    const capt_block_q4_0 *w = wv;
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < n_blocks; i++) {
        float d = f16_to_f32(w[i].d) * f16_to_f32(x[i].d);
        v128_t lo, hi;
        unpack_q4_0(w[i].qs, &lo, &hi);
        acc = wasm_f32x4_add(acc, block_sum(lo, hi, &x[i], d));
    }
    return vec_hsum(acc);
}

/* y[m][n] = post(Σ_b d_w·d_x · Σ_j w_j·x_j + bias[n]) for q8_0 weights and x in q16 (M < 4
 * rows, a decoder step): each weight block is widened to int16 once and dotted with every
 * row's int16 values (exact int32 sums of 32 products, at most 127·32767·32 < 2^31), then
 * scaled in f32. Against dequantizing to f32 it converts no int8 to float and reads the
 * q8_0 bytes, a quarter of f32's (docs/kernels.md, "Decoder steps in wasm"). */
static void gemm_q8_0_q16(const capt_gemm_args *a, int n_begin, int n_end) {
    const int n_blocks = a->K / CAPT_QK;
    for (int n = n_begin; n < n_end; n++) {
        const capt_block_q8_0 *w = (const capt_block_q8_0 *)a->w + (size_t)n * n_blocks; /* [K / 32] */
        v128_t acc[CAPT_GEMM_INT_MAX_M - 1];                                              /* [M] x 4 lanes */
        for (int m = 0; m < a->M; m++) acc[m] = vec_zero();
        for (int b = 0; b < n_blocks; b++) {
            const float dw = f16_to_f32(w[b].d);
            const v128_t w0 = wasm_v128_load(w[b].qs), w1 = wasm_v128_load(w[b].qs + 16);
            const v128_t w16[4] = {wasm_i16x8_extend_low_i8x16(w0), wasm_i16x8_extend_high_i8x16(w0),
                                   wasm_i16x8_extend_low_i8x16(w1), wasm_i16x8_extend_high_i8x16(w1)};
            for (int m = 0; m < a->M; m++) {
                const capt_block_q16 *x = a->xq16 + (size_t)m * n_blocks + b;
                v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(w16[0], wasm_v128_load(x->qs)),
                                                         wasm_i32x4_dot_i16x8(w16[1], wasm_v128_load(x->qs + 8))),
                                          wasm_i32x4_add(wasm_i32x4_dot_i16x8(w16[2], wasm_v128_load(x->qs + 16)),
                                                         wasm_i32x4_dot_i16x8(w16[3], wasm_v128_load(x->qs + 24))));
                acc[m] = wasm_f32x4_add(acc[m], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(dw * x->d)));
            }
        }
        const float bias = a->bias ? a->bias[n] : 0.0f;
        for (int m = 0; m < a->M; m++) a->y[(size_t)m * a->N + n] = capt_gemm_finish(a->epilogue, vec_hsum(acc[m]) + bias);
    }
}
#define HAVE_GEMM_Q8_0_Q16

#define SIMD_ISA wasm128
/* engines map SIMD128 onto 16 xmm registers with temporaries of their own: 3 x 4 accumulators spill (2 rows: 9% faster on the MobileNetV2 encoder under node) */
#define TILE_ROWS 2
/* wide path: 3 x 2 accumulators + 2 weight vectors + 1 broadcast x (4 rows spilled under node: 30% slower) */
#define WIDE_ROWS 3
/* q8_0 weights dequantized in registers for one x row only: converting int8 to f32 takes
 * four instructions per vector here, and under node a beam of 3 rows (two row tiles) ran
 * 1.4-2x slower than dequantizing each row once into the panel; one row ran 1.2x faster */
#define Q8_IN_REGISTERS_MAX_M 1
/* depthwise: one channel vector a pass of 4 pixels (4 accumulators); two (8) ran 1.4-2.5x
 * slower under node than one at every layer shape of capt-bench-kernels */
#define DW_VECTORS 1
#include "../gemm_tiled.inc.h"
#include "../dwconv_simd.inc.h"

#endif
