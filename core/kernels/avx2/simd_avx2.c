/* simd_avx2.c — x86-64 AVX2 + FMA + F16C primitives for gemm_tiled.inc.h and
 * dwconv_simd.inc.h. Built with -mavx2 -mfma -mf16c and only called after cpuid says the
 * CPU has them (dispatch.c). */
#if defined(__x86_64__) || defined(__i386__)
#include "blocks_avx2.inc.h"

typedef __m256 vecf;
#define VEC_LANES 8
#define vec_zero() _mm256_setzero_ps()
#define vec_load(p) _mm256_loadu_ps(p)
#define vec_store(p, v) _mm256_storeu_ps(p, v)
#define vec_splat(f) _mm256_set1_ps(f)
#define vec_max(a, b) _mm256_max_ps(a, b)
#define vec_min(a, b) _mm256_min_ps(a, b)
#define vec_mul(a, b) _mm256_mul_ps(a, b)
#define vec_add(a, b) _mm256_add_ps(a, b)
#define vec_madd(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define vec_hsum(v) hsum256(v)
/* 8 int8 weights of a q8_0 block times its scale d, exact (d has 11 significant bits) */
#define vec_load_q8_scaled(qs, d) _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs)))))

#define SIMD_ISA avx2
/* 3 x 4 accumulators + 3 x rows + 1 weight row = the 16 ymm registers */
#define TILE_ROWS 3
/* wide path: 6 x 2 accumulators + 2 weight vectors + 1 broadcast x */
#define WIDE_ROWS 6
#include "../gemm_tiled.inc.h"
#include "../dwconv_simd.inc.h"

#endif
