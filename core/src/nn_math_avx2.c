/* nn_math_avx2.c — nn.h's vector math in 8-lane AVX2 vectors (nn_math.inc.h). Built with
 * -mavx2 -ffp-contract=off and only called for CAPT_ISA_AVX2, which the context picks after
 * cpuid (dispatch.c). */
#if defined(__x86_64__) || defined(__i386__)
#include <math.h>

#include "nn.h"

#define NN_MATH_SET avx2
#include "nn_math.inc.h"
#endif
