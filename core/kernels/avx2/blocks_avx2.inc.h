/* blocks_avx2.inc.h — AVX2 + FMA + F16C code for the weight blocks: f16/q8_0/q4_0 rows
 * dequantized to floats and the integer block dots of the integer path. Shared by the
 * AVX2 and AVX-512 sets (a q8_0 block's 32 values are one 256-bit vector); included by
 * their files, built with those instruction sets. */
#include <immintrin.h>

#include "base.h"
#include "kernels.h"

/* A weight block's f16 scale as f32, exact: one F16C instruction where the portable
 * capt_f16_to_f32 branches on the exponent (a sixth of a decoder step's q8_0 products). */
#define f16_to_f32(h) _cvtsh_ss(h)

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void dequant_row_f16(const void *src, float *dst, int K) {
    const uint16_t *h = src;
    int k = 0;
    for (; k + 8 <= K; k += 8) _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + k))));
    for (; k < K; k++) dst[k] = f16_to_f32(h[k]);
}

/* 32 int8 values -> 4 x 8 floats scaled by d. */
static inline void store_i8x32_scaled(__m256i q, __m256 d, float *dst) {
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(dst + 0, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
    _mm256_storeu_ps(dst + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
}

/* q4_0 nibbles -> 32 int8 in [-8, 7], in value order (low nibbles, then high nibbles). */
static inline __m256i unpack_q4_0(const uint8_t *qs) {
    __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0x0f);
    __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), mask), _mm_and_si128(packed, mask));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
}

static void dequant_row_q8_0(const void *src, float *dst, int K) {
    const capt_block_q8_0 *b = src;
    for (int i = 0; i < K / CAPT_QK; i++)
        store_i8x32_scaled(_mm256_loadu_si256((const __m256i *)b[i].qs), _mm256_set1_ps(f16_to_f32(b[i].d)),
                           dst + i * CAPT_QK);
}

static void dequant_row_q4_0(const void *src, float *dst, int K) {
    const capt_block_q4_0 *b = src;
    for (int i = 0; i < K / CAPT_QK; i++)
        store_i8x32_scaled(unpack_q4_0(b[i].qs), _mm256_set1_ps(f16_to_f32(b[i].d)), dst + i * CAPT_QK);
}

/* Sum over 32 int8 pairs as 8 int32 lanes: maddubs needs an unsigned operand, so move
 * x's sign onto w (|x| * (w * sign x)); products stay within int16 (127 * 128 * 2). */
static inline __m256 dot_i8x32(__m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

static float dot_q8_0_q8_0(const void *wv, const capt_block_q8_0 *x, int n_blocks) {
    const capt_block_q8_0 *w = wv;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n_blocks; i++) {
        __m256 d = _mm256_set1_ps(f16_to_f32(w[i].d) * f16_to_f32(x[i].d));
        __m256i wq = _mm256_loadu_si256((const __m256i *)w[i].qs);
        acc = _mm256_fmadd_ps(d, dot_i8x32(wq, _mm256_loadu_si256((const __m256i *)x[i].qs)), acc);
    }
    return hsum256(acc);
}

static float dot_q4_0_q8_0(const void *wv, const capt_block_q8_0 *x, int n_blocks) {
    const capt_block_q4_0 *w = wv;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n_blocks; i++) {
        __m256 d = _mm256_set1_ps(f16_to_f32(w[i].d) * f16_to_f32(x[i].d));
        acc = _mm256_fmadd_ps(d, dot_i8x32(unpack_q4_0(w[i].qs), _mm256_loadu_si256((const __m256i *)x[i].qs)), acc);
    }
    return hsum256(acc);
}
