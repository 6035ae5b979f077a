/* dwconv_simd.inc.h — depthwise convolution vectorized across channels (NHWC keeps them
 * contiguous), shared by the SIMD ISAs. Needs the primitives of gemm_tiled.inc.h plus
 * vec_store(p, v), vec_splat(f), vec_max(a, b), vec_min(a, b). Channels beyond the last
 * full vector go through the scalar reference. */
#include "kernels.h"

/* Taps a window may have here; larger kernels (none in real models) take the scalar path. */
#define DW_MAX_TAPS 64

/* One output pixel: its taps inside the image are found once, then every channel vector
 * sums over them (NHWC: each tap's channels are contiguous, as are the weights'). */
static void dw_pixel(const capt_dwconv_args *a, int oy, int ox, float *y) {
    const float *tx[DW_MAX_TAPS], *tw[DW_MAX_TAPS];
    int n = 0;
    for (int ky = 0; ky < a->kh; ky++) {
        int iy = oy * a->stride_h + ky - a->pad_top;
        if (iy < 0 || iy >= a->H) continue;
        for (int kx = 0; kx < a->kw; kx++) {
            int ix = ox * a->stride_w + kx - a->pad_left;
            if (ix < 0 || ix >= a->W) continue;
            tx[n] = a->x + ((size_t)iy * a->W + ix) * a->C;
            tw[n] = a->w + (size_t)(ky * a->kw + kx) * a->C;
            n++;
        }
    }
    const vecf zero = vec_zero(), six = vec_splat(6.0f);
    int c = 0;
    for (; c + 4 * VEC_LANES <= a->C; c += 4 * VEC_LANES) { /* four dependency chains */
        vecf acc0 = vec_load(a->bias + c), acc1 = vec_load(a->bias + c + VEC_LANES);
        vecf acc2 = vec_load(a->bias + c + 2 * VEC_LANES), acc3 = vec_load(a->bias + c + 3 * VEC_LANES);
        for (int t = 0; t < n; t++) {
            acc0 = vec_madd(vec_load(tx[t] + c), vec_load(tw[t] + c), acc0);
            acc1 = vec_madd(vec_load(tx[t] + c + VEC_LANES), vec_load(tw[t] + c + VEC_LANES), acc1);
            acc2 = vec_madd(vec_load(tx[t] + c + 2 * VEC_LANES), vec_load(tw[t] + c + 2 * VEC_LANES), acc2);
            acc3 = vec_madd(vec_load(tx[t] + c + 3 * VEC_LANES), vec_load(tw[t] + c + 3 * VEC_LANES), acc3);
        }
        if (a->relu6) {
            acc0 = vec_min(vec_max(acc0, zero), six);
            acc1 = vec_min(vec_max(acc1, zero), six);
            acc2 = vec_min(vec_max(acc2, zero), six);
            acc3 = vec_min(vec_max(acc3, zero), six);
        }
        vec_store(y + c, acc0);
        vec_store(y + c + VEC_LANES, acc1);
        vec_store(y + c + 2 * VEC_LANES, acc2);
        vec_store(y + c + 3 * VEC_LANES, acc3);
    }
    for (; c + 2 * VEC_LANES <= a->C; c += 2 * VEC_LANES) { /* two vectors: two dependency chains */
        vecf acc0 = vec_load(a->bias + c), acc1 = vec_load(a->bias + c + VEC_LANES);
        for (int t = 0; t < n; t++) {
            acc0 = vec_madd(vec_load(tx[t] + c), vec_load(tw[t] + c), acc0);
            acc1 = vec_madd(vec_load(tx[t] + c + VEC_LANES), vec_load(tw[t] + c + VEC_LANES), acc1);
        }
        if (a->relu6) {
            acc0 = vec_min(vec_max(acc0, zero), six);
            acc1 = vec_min(vec_max(acc1, zero), six);
        }
        vec_store(y + c, acc0);
        vec_store(y + c + VEC_LANES, acc1);
    }
    for (; c + VEC_LANES <= a->C; c += VEC_LANES) {
        vecf acc = vec_load(a->bias + c);
        for (int t = 0; t < n; t++) acc = vec_madd(vec_load(tx[t] + c), vec_load(tw[t] + c), acc);
        if (a->relu6) acc = vec_min(vec_max(acc, zero), six);
        vec_store(y + c, acc);
    }
    for (; c < a->C; c++) y[c] = capt_dwconv_scalar_at(a, oy, ox, c);
}

/* Output pixels side by side at a time in dw_pixels, and channel vectors a pass (their
 * accumulators, DW_PIXELS x DW_VECTORS, must fit the ISA's registers) */
#define DW_PIXELS 4
#ifndef DW_VECTORS
#define DW_VECTORS 2
#endif

/* acc[p][v] += the taps of row iy (kw of them) times their weights, for DW_PIXELS output
 * pixels whose windows start at x (`step` floats apart) and NV channel vectors from w. */
static ALWAYS_INLINE void dw_pixels_row(int nv, const capt_dwconv_args *a, const float *x, size_t step, const float *w,
                                        vecf acc[DW_PIXELS][2]) {
    for (int kx = 0; kx < a->kw; kx++) {
        vecf wv[2];
        for (int v = 0; v < nv; v++) wv[v] = vec_load(w + (size_t)kx * a->C + v * VEC_LANES);
        for (int p = 0; p < DW_PIXELS; p++)
            for (int v = 0; v < nv; v++)
                acc[p][v] = vec_madd(vec_load(x + (size_t)kx * a->C + p * step + v * VEC_LANES), wv[v], acc[p][v]);
    }
}

/* DW_PIXELS output pixels of row oy from ox, whose windows lie inside the image across x:
 * each tap's weights are loaded once for all of them, not once a pixel, and the pixels'
 * sums are independent dependency chains (a layer of 16 channels is one AVX-512 vector).
 * The taps are summed in dw_pixel's order, so the same bits. y: pixel ox's outputs. */
static void dw_pixels(const capt_dwconv_args *a, int oy, int ox, float *y) {
    const size_t step = (size_t)a->stride_w * a->C;
    const vecf zero = vec_zero(), six = vec_splat(6.0f);
    int c = 0;
    while (c + VEC_LANES <= a->C) {
        const int nv = DW_VECTORS == 2 && c + 2 * VEC_LANES <= a->C ? 2 : 1;
        vecf acc[DW_PIXELS][2];
        for (int p = 0; p < DW_PIXELS; p++)
            for (int v = 0; v < nv; v++) acc[p][v] = vec_load(a->bias + c + v * VEC_LANES);
        for (int ky = 0; ky < a->kh; ky++) {
            int iy = oy * a->stride_h + ky - a->pad_top;
            if (iy < 0 || iy >= a->H) continue;
            const float *x = a->x + ((size_t)iy * a->W + (size_t)(ox * a->stride_w - a->pad_left)) * a->C + c;
            const float *w = a->w + (size_t)ky * a->kw * a->C + c;
            if (nv == 2) dw_pixels_row(2, a, x, step, w, acc);
            else dw_pixels_row(1, a, x, step, w, acc);
        }
        for (int p = 0; p < DW_PIXELS; p++)
            for (int v = 0; v < nv; v++) {
                vecf out = a->relu6 ? vec_min(vec_max(acc[p][v], zero), six) : acc[p][v];
                vec_store(y + (size_t)p * a->C + c + v * VEC_LANES, out);
            }
        c += nv * VEC_LANES;
    }
    for (; c < a->C; c++)
        for (int p = 0; p < DW_PIXELS; p++) y[(size_t)p * a->C + c] = capt_dwconv_scalar_at(a, oy, ox + p, c);
}

static void dwconv_simd(const capt_dwconv_args *a, int row_begin, int row_end) {
    int big = a->kh * a->kw > DW_MAX_TAPS;
    /* output columns [inner_begin, inner_end) have their whole window inside across x */
    const int inner_begin = (a->pad_left + a->stride_w - 1) / a->stride_w;
    const int room = a->W - a->kw + a->pad_left; /* the last window's first column, at most */
    const int inner_end = room < 0 ? 0 : (room / a->stride_w + 1 < a->out_w ? room / a->stride_w + 1 : a->out_w);
    for (int oy = row_begin; oy < row_end; oy++)
        for (int ox = 0; ox < a->out_w;) {
            float *y = a->y + ((size_t)oy * a->out_w + ox) * a->C;
            if (big) {
                for (int c = 0; c < a->C; c++) y[c] = capt_dwconv_scalar_at(a, oy, ox, c);
                ox++;
            } else if (ox >= inner_begin && ox + DW_PIXELS <= inner_end) {
                dw_pixels(a, oy, ox, y);
                ox += DW_PIXELS;
            } else {
                dw_pixel(a, oy, ox, y);
                ox++;
            }
        }
}

#define DWCONV_NAME_(isa) capt_dwconv_f32__##isa
#define DWCONV_NAME(isa) DWCONV_NAME_(isa)
void DWCONV_NAME(SIMD_ISA)(const capt_dwconv_args *a, int row_begin, int row_end) { dwconv_simd(a, row_begin, row_end); }
