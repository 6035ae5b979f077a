/* base.h — the engine's ground floor, below the kernels and the model code: errors,
 * overflow-checked size arithmetic, IEEE half floats, and the dtype traits table (what
 * each weight type is: block size, bytes, conversions, the scalar dot reference).
 * Depends on nothing but the public header; everything else builds on it. */
#ifndef CAPT_BASE_H
#define CAPT_BASE_H

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capt.h"

#if defined(__GNUC__)
#define CAPT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CAPT_PRINTF(fmt, args)
#endif

/* ---- errors ---------------------------------------------------------------------------------- */

/* Fills `err` (may be NULL) and returns `status`, so failures read
 * `return capt_fail(err, CAPT_E_FORMAT, "...", ...);`. */
capt_status capt_fail(capt_error *err, capt_status status, const char *fmt, ...) CAPT_PRINTF(3, 4);

/* ---- sizes ----------------------------------------------------------------------------------- */

/* Overflow-checked size arithmetic: 0 on overflow (or a negative operand), 1 otherwise.
 * Every size that comes from a file or an image goes through these before it reaches
 * malloc or an index: on wasm32 size_t is 32 bits and wraps early. */
static inline int capt_size_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int capt_size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}
/* a * b * c, for counts held in ints (dimensions read from a file). */
static inline int capt_size_mul3(int64_t a, int64_t b, int64_t c, size_t *out) {
    size_t ab;
    if (a < 0 || b < 0 || c < 0 || (uint64_t)a > SIZE_MAX || (uint64_t)b > SIZE_MAX || (uint64_t)c > SIZE_MAX)
        return 0;
    return capt_size_mul((size_t)a, (size_t)b, &ab) && capt_size_mul(ab, (size_t)c, out);
}

/* malloc(a * b * c) with the product checked: NULL when it overflows (or is 0). */
void *capt_malloc3(size_t a, size_t b, size_t c);

/* ---- half floats ----------------------------------------------------------------------------- */

/* IEEE half <-> single precision, exact for every value (round-to-nearest-even). */
static inline float capt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        exp = 113;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t capt_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (abs < 0x38800000u) {                                   /* below 2^-14: subnormal half */
        if (abs < 0x33000000u) return (uint16_t)sign;          /* below half of 2^-24 */
        uint32_t e = abs >> 23;
        uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((abs >> 13) - (112u << 10));
    uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++;
    return (uint16_t)(sign | half);
}

/* The f16 nearest f, as a float: capt_f16_to_f32(capt_f32_to_f16(f)), bit for bit, with
 * selects instead of branches so that a loop over it vectorizes (the decoder rounds its
 * 49 x 1280 grid values so, as training saw them). Normal halves drop 13 mantissa bits,
 * rounded to nearest even in the integer bits; below 2^-14 halves are the multiples of
 * 2^-24, and adding and subtracting 0.75 (whose ulp is 2^-24) rounds to them. */
static inline float capt_f32_round_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = x & 0x80000000u, abs = x & 0x7fffffffu;
    float magnitude, tiny;
    memcpy(&magnitude, &abs, sizeof magnitude);
    tiny = (magnitude + 0.75f) - 0.75f;
    uint32_t tiny_bits, normal = (abs + 0xfffu + ((abs >> 13) & 1u)) & ~0x1fffu;
    memcpy(&tiny_bits, &tiny, sizeof tiny_bits);
    uint32_t r = abs < 0x38800000u ? tiny_bits : normal;
    r = abs >= 0x477ff000u ? 0x7f800000u : r;   /* rounds to >= 65520: inf */
    r = abs > 0x7f800000u ? 0x7fc00000u : r;    /* NaN: quiet, as the half keeps it */
    r |= sign;
    float y;
    memcpy(&y, &r, sizeof y);
    return y;
}

/* ---- dtypes ---------------------------------------------------------------------------------- */

/* ggml-compatible quantization blocks of CAPT_QK = 32 values. */
typedef struct capt_block_q8_0 {
    uint16_t d;        /* f16 scale: value = qs[i] * d */
    int8_t qs[CAPT_QK]; /* -127..127: what the quantizer writes (the SIMD sign trick needs it) */
} capt_block_q8_0;
static_assert(sizeof(capt_block_q8_0) == 2 + CAPT_QK, "q8_0 block must be 34 bytes, unpadded");

typedef struct capt_block_q4_0 {
    uint16_t d;             /* f16 scale: value = (nibble - 8) * d */
    uint8_t qs[CAPT_QK / 2]; /* value j in the low nibble of qs[j], value j+16 in the high one */
} capt_block_q4_0;
static_assert(sizeof(capt_block_q4_0) == 2 + CAPT_QK / 2, "q4_0 block must be 18 bytes, unpadded");

/* Activations only (never stored in a file): 32 values as int16 times an f32 scale, for
 * the integer products of q8_0 weights with activations kept nearly exact (a rounding of
 * 2^-16 of the block's largest value, against q8_0's 2^-8; capt_gemm_uses_xq16). */
typedef struct capt_block_q16 {
    float d;             /* value = qs[i] * d, d = the block's largest magnitude / 32767 */
    int16_t qs[CAPT_QK]; /* -32767..32767 */
} capt_block_q16;
static_assert(sizeof(capt_block_q16) == 4 + 2 * CAPT_QK, "q16 block must be 68 bytes, unpadded");

/* What a dtype is; one row of the table every part of the engine reads (ggml's
 * type_traits). n counts values and is a multiple of block_values. */
typedef struct capt_dtype_traits {
    const char *name;   /* "f32", "f16", "q8_0", "q4_0" */
    int block_values;   /* values per block: 1, or CAPT_QK for the quantized types */
    size_t block_bytes; /* bytes per block */
    int quantized;      /* blocks of small integers with an f16 scale */
    /* src [n] in this dtype -> dst [n] f32 */
    void (*to_float)(const void *src, float *dst, int64_t n);
    /* src [n] f32 -> dst [n] in this dtype, rounding as ggml and tools/captfile.py do */
    void (*from_float_ref)(const float *src, void *dst, int64_t n);
    /* Σ w[i]·x[i] over n values, w in this dtype, x in q8_0: per block an exact int32
     * sum times both scales, blocks added in order. The scalar reference of the SIMD
     * integer paths (quantized types only; NULL for f32 and f16). */
    float (*vec_dot_q8_0)(const void *w, const capt_block_q8_0 *x, int64_t n);
} capt_dtype_traits;

/* The traits of a dtype; NULL for a value outside capt_dtype (a hostile file). */
const capt_dtype_traits *capt_dtype_traits_of(capt_dtype dtype);

/* The conversions the kernels call by name. */
void capt_dequantize_row(capt_dtype dtype, const void *src, float *dst, int64_t n);
void capt_quantize_row_q8_0(const float *src, capt_block_q8_0 *dst, int64_t n); /* n % 32 == 0 */
void capt_quantize_row_q16(const float *src, capt_block_q16 *dst, int64_t n);  /* n % 32 == 0 */
void capt_quantize_row_q4_0(const float *src, capt_block_q4_0 *dst, int64_t n); /* n % 32 == 0 */

#endif
