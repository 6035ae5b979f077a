/* dwconv_ref.c — the reference depthwise convolution: one output value at a time. */
#include "kernels.h"

void capt_dwconv_f32__ref(const capt_dwconv_args *a, int row_begin, int row_end) {
    for (int oy = row_begin; oy < row_end; oy++)
        for (int ox = 0; ox < a->out_w; ox++)
            for (int c = 0; c < a->C; c++)
                a->y[((size_t)oy * a->out_w + ox) * a->C + c] = capt_dwconv_scalar_at(a, oy, ox, c);
}
