/* test_nn.c — nn_attend against the plain loops of its definition (nn.h), bit for bit:
 * it sums several keys' dot products side by side and the weighted values a block of
 * columns at a time, but each sum keeps its terms and their order. Swept over key counts
 * around its blocks of keys (1..19, 59: the decoder's memory, 77: CLIP's text), head
 * widths around its blocks of columns (1, 7, 16, 17, 32, 33, 64), one and several heads,
 * and rows wider than the model (ld > d: the interface allows it, today's callers pass d). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "nn.h"

/* The definition: softmax_j(q_h·k_j / sqrt(hd)) and out_h = Σ_j w[h][j] v_j, one key and
 * one column at a time. */
static void attend_reference(const float *q, const float *k, const float *v, int n, size_t ld, int d, int heads,
                             float *w, float *out) {
    int hd = d / heads;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++) {
        float *wh = w + (size_t)h * n;
        for (int j = 0; j < n; j++) {
            float dot = 0;
            for (int i = 0; i < hd; i++) dot += q[h * hd + i] * k[(size_t)j * ld + (size_t)h * hd + i];
            wh[j] = dot * scale;
        }
        nn_softmax(wh, n);
        for (int i = 0; i < hd; i++) {
            float sum = 0;
            for (int j = 0; j < n; j++) sum += wh[j] * v[(size_t)j * ld + (size_t)h * hd + i];
            out[h * hd + i] = sum;
        }
    }
}


int main(void) {
    static const int key_counts[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 19, 59, 77};
    static const int head_widths[] = {1, 7, 16, 17, 32, 33, 64};
    static const int head_counts[] = {1, 3, 8};
    enum { MAX_N = 77, MAX_D = 8 * 64, PAD = 5 };
    static float q[MAX_D], k[MAX_N * (MAX_D + PAD)], v[MAX_N * (MAX_D + PAD)];
    static float w[8 * MAX_N], w_ref[8 * MAX_N], out[MAX_D], out_ref[MAX_D];
    for (size_t a = 0; a < sizeof key_counts / sizeof *key_counts; a++)
        for (size_t b = 0; b < sizeof head_widths / sizeof *head_widths; b++)
            for (size_t c = 0; c < sizeof head_counts / sizeof *head_counts; c++)
                for (int pad = 0; pad <= PAD; pad += PAD) {
                    int n = key_counts[a], hd = head_widths[b], heads = head_counts[c], d = hd * heads;
                    size_t ld = (size_t)d + (size_t)pad;
                    for (int i = 0; i < d; i++) q[i] = 2.0f * check_rand_unit();
                    for (size_t i = 0; i < (size_t)n * ld; i++) k[i] = 2.0f * check_rand_unit(), v[i] = 2.0f * check_rand_unit();
                    nn_attend(q, k, v, n, ld, d, heads, w, out);
                    attend_reference(q, k, v, n, ld, d, heads, w_ref, out_ref);
                    CHECK(memcmp(w, w_ref, sizeof(float) * (size_t)heads * n) == 0,
                          "weights differ: n %d, head width %d, heads %d, ld %zu", n, hd, heads, ld);
                    CHECK(memcmp(out, out_ref, sizeof(float) * (size_t)d) == 0,
                          "outputs differ: n %d, head width %d, heads %d, ld %zu", n, hd, heads, ld);
                }
    return check_exit("test_nn");
}
