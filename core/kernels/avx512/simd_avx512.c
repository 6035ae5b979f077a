/* simd_avx512.c — x86-64 AVX-512 (F) primitives for gemm_tiled.inc.h and
 * dwconv_simd.inc.h: 16 float lanes and 32 vector registers, so larger register tiles
 * than AVX2's. The weight blocks' dequantization and integer dots are AVX2's (a q8_0
 * block is 256 bits). Built with -mavx512f -mavx2 -mfma -mf16c and only called after
 * cpuid says the CPU and OS support all of them (dispatch.c). */
#if defined(__x86_64__) || defined(__i386__)
#include "../avx2/blocks_avx2.inc.h"

typedef __m512 vecf;
#define VEC_LANES 16
#define vec_zero() _mm512_setzero_ps()
#define vec_load(p) _mm512_loadu_ps(p)
#define vec_store(p, v) _mm512_storeu_ps(p, v)
#define vec_splat(f) _mm512_set1_ps(f)
#define vec_max(a, b) _mm512_max_ps(a, b)
#define vec_min(a, b) _mm512_min_ps(a, b)
#define vec_mul(a, b) _mm512_mul_ps(a, b)
#define vec_add(a, b) _mm512_add_ps(a, b)
#define vec_madd(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define vec_hsum(v) _mm512_reduce_add_ps(v)
/* 16 int8 weights of a q8_0 block times its scale d, exact (d has 11 significant bits) */
#define vec_load_q8_scaled(qs, d) _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(qs)))))

#define SIMD_ISA avx512
/* 4 x 4 accumulators + 4 x rows + 1 weight row: 21 of the 32 zmm registers */
#define TILE_ROWS 4
/* wide path: 6 x 2 accumulators + 2 weight vectors + 1 broadcast x */
#define WIDE_ROWS 6
#include "../gemm_tiled.inc.h"
#include "../dwconv_simd.inc.h"

#endif
