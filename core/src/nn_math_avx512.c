/* nn_math_avx512.c — nn.h's vector math in 16-lane AVX-512 vectors (nn_math.inc.h), one
 * vector per SUM_LANES reduction. Built with -mavx512f -ffp-contract=off (clang's
 * -mavx512f brings FMA, which would otherwise fuse the multiply-adds) and only called for
 * CAPT_ISA_AVX512, which the context picks after cpuid (dispatch.c). */
#if defined(__x86_64__) || defined(__i386__)
#include <math.h>

#include "nn.h"

#define NN_MATH_SET avx512
#include "nn_math.inc.h"
#endif
