/* dwconv_simd.inc.h — depthwise convolution vectorized across channels (NHWC keeps them
 * contiguous), shared by the SIMD ISAs. Needs the primitives of gemm_tiled.inc.h plus
 * vec_store(p, v), vec_splat(f), vec_max(a, b), vec_min(a, b). Channels beyond the last
 * full vector run through the same loop one at a time. */
#include "kernels.h"

/* out[c0..c0+VEC_LANES) for one output pixel. */
static inline void dw_pixel_vec(const capt_dwconv_args *a, int oy, int ox, int c, float *y) {
    vecf acc = vec_load(a->bias + c);
    for (int ky = 0; ky < a->kh; ky++) {
        int iy = oy * a->stride_h + ky - a->pad_top;
        if (iy < 0 || iy >= a->H) continue;
        for (int kx = 0; kx < a->kw; kx++) {
            int ix = ox * a->stride_w + kx - a->pad_left;
            if (ix < 0 || ix >= a->W) continue;
            acc = vec_madd(vec_load(a->x + ((size_t)iy * a->W + ix) * a->C + c),
                           vec_load(a->w + (size_t)(ky * a->kw + kx) * a->C + c), acc);
        }
    }
    if (a->relu6) acc = vec_min(vec_max(acc, vec_zero()), vec_splat(6.0f));
    vec_store(y + c, acc);
}

static void dwconv_simd(const capt_dwconv_args *a, int row_begin, int row_end) {
    int c_vec = a->C / VEC_LANES * VEC_LANES;
    for (int oy = row_begin; oy < row_end; oy++) {
        for (int ox = 0; ox < a->out_w; ox++) {
            float *y = a->y + ((size_t)oy * a->out_w + ox) * a->C;
            for (int c = 0; c < c_vec; c += VEC_LANES) dw_pixel_vec(a, oy, ox, c, y);
            for (int c = c_vec; c < a->C; c++) y[c] = capt_dwconv_scalar_at(a, oy, ox, c);
        }
    }
}

#define DWCONV_NAME_(isa) capt_dwconv_f32__##isa
#define DWCONV_NAME(isa) DWCONV_NAME_(isa)
void DWCONV_NAME(SIMD_ISA)(const capt_dwconv_args *a, int row_begin, int row_end) { dwconv_simd(a, row_begin, row_end); }
