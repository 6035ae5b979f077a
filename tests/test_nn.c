/* test_nn.c — the elementwise math of nn.h against double precision: nn_expf and nn_erff
 * over dense grids (their stated error in ulps), the softmax, log-softmax and GELU built on
 * them over lengths around their lanes and the decoder's vocabulary.
 *
 * Every check runs for each instruction set this build and CPU have (nn_math.inc.h's
 * sets), and the max, softmax, log-softmax, GELU and quick_gelu of every set must equal
 * the baseline's (CAPT_ISA_REF) bit for bit.
 *
 * nn_attend against the plain loops of its definition (nn.h), bit for bit:
 * it sums every key's dot product side by side (the keys transposed, 4 dimensions a pass)
 * and the weighted values a block of columns at a time, but each sum keeps its terms and
 * their order. Swept over key counts around the vector lanes (1..19, 59: the decoder's
 * memory, 77: CLIP's text), head widths around its blocks of dimensions and columns (1, 7,
 * 16, 17, 32, 33, 64), one and several heads, and padded rows of keys and values (ldk > n,
 * as the decoder's cache; ldv > d). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "nn.h"

/* The definition: softmax_j(q_h·k_j / sqrt(hd)) and out_h = Σ_j w[h][j] v_j, one key and
 * one column at a time. */
static void attend_reference(capt_isa isa, const float *q, const float *k, const float *v, int n, size_t ld, int d, int heads,
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
        nn_softmax(isa, wh, n);
        for (int i = 0; i < hd; i++) {
            float sum = 0;
            for (int j = 0; j < n; j++) sum += wh[j] * v[(size_t)j * ld + (size_t)h * hd + i];
            out[h * hd + i] = sum;
        }
    }
}

/* |got - exact| in units of the last place of the float nearest exact. */
static double ulps(float got, double exact) {
    float near = (float)exact, mag = fabsf(near);
    double ulp = mag > 0 ? (double)nextafterf(mag, INFINITY) - mag : (double)nextafterf(0.0f, 1.0f);
    return fabs((double)got - exact) / ulp;
}

static void check_elementwise(void) {
    double worst_exp = 0, worst_erf = 0, worst_erf_abs = 0;
    for (int i = 0; i <= 4000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 4000000.0f; /* the range nn_expf does not clamp */
        double u = ulps(nn_expf(x), exp((double)x));
        worst_exp = u > worst_exp ? u : worst_exp;
    }
    CHECK(worst_exp <= 1.25, "nn_expf is %.3f ulp off", worst_exp);
    CHECK(nn_expf(0.0f) == 1.0f, "e^0 = %.9g", nn_expf(0.0f));
    CHECK(nn_expf(-INFINITY) >= 0.0f && nn_expf(-INFINITY) < 2e-38f && nn_expf(-1000.0f) == nn_expf(-INFINITY),
          "e^-inf = %g", nn_expf(-INFINITY));
    for (int i = -3000000; i <= 3000000; i++) {
        float x = 6.0f * (float)i / 3000000.0f, got = nn_erff(x);
        double exact = erf((double)x), u = ulps(got, exact), d = fabs((double)got - exact);
        worst_erf = u > worst_erf ? u : worst_erf;
        worst_erf_abs = d > worst_erf_abs ? d : worst_erf_abs;
        if (got != -nn_erff(-x)) CHECK(0, "nn_erff is not odd at %.9g", x);
    }
    CHECK(worst_erf <= 2.5 && worst_erf_abs <= 1.25e-7, "nn_erff is %.3f ulp (%.3g) off", worst_erf, worst_erf_abs);
    CHECK(nn_erff(0.0f) == 0.0f && nn_erff(10.0f) == 1.0f && nn_erff(-INFINITY) == -1.0f, "erf at 0, 10, -inf");
}

enum { SOFTMAX, LOG_SOFTMAX, GELU, QUICK_GELU, FUNCTIONS, MAX_LEN = 7219 };

/* y[f] = function f of x, in one set */
static void vector_math(capt_isa isa, const float *x, int n, float (*y)[MAX_LEN]) {
    for (int f = 0; f < FUNCTIONS; f++) memcpy(y[f], x, sizeof(float) * n);
    nn_softmax(isa, y[SOFTMAX], n);
    nn_log_softmax(isa, y[LOG_SOFTMAX], n);
    nn_activate(isa, NN_GELU, y[GELU], (size_t)n);
    nn_activate(isa, NN_QUICK_GELU, y[QUICK_GELU], (size_t)n);
}

/* Lengths around the lanes and the decoder's vocabulary, and their inputs: drawn once, so
 * every set is checked on the same values. */
static const int lengths[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 61, 1024, 7219};
enum { LENGTHS = sizeof lengths / sizeof *lengths };
static float inputs[LENGTHS][MAX_LEN];

/* The vector math of one set against the definitions in double, and bit for bit against
 * the baseline set. */
static void check_vector_math(capt_isa isa) {
    static float got[FUNCTIONS][MAX_LEN], base[FUNCTIONS][MAX_LEN];
    for (int a = 0; a < LENGTHS; a++) {
        int n = lengths[a];
        const float *x = inputs[a];
        vector_math(isa, x, n, got);
        vector_math(CAPT_ISA_REF, x, n, base);
        for (int f = 0; f < FUNCTIONS; f++)
            CHECK(memcmp(got[f], base[f], sizeof(float) * n) == 0, "%s: n %d: function %d differs from the baseline's",
                  capt_isa_name(isa), n, f);
        CHECK(nn_max(isa, x, n) == nn_max(CAPT_ISA_REF, x, n), "%s: n %d: max differs", capt_isa_name(isa), n);
        double max = x[0], sum = 0, worst[FUNCTIONS] = {0};
        for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
        for (int i = 0; i < n; i++) sum += exp(x[i] - max);
        for (int i = 0; i < n; i++) {
            double p = exp(x[i] - max) / sum, lp = x[i] - max - log(sum);
            double g = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))), qg = x[i] / (1.0 + exp(-1.702 * x[i]));
            worst[SOFTMAX] = fmax(worst[SOFTMAX], fabs(got[SOFTMAX][i] - p) / p);
            worst[LOG_SOFTMAX] = fmax(worst[LOG_SOFTMAX], fabs(got[LOG_SOFTMAX][i] - lp) / fmax(1.0, fabs(lp)));
            worst[GELU] = fmax(worst[GELU], fabs(got[GELU][i] - g) / fmax(1.0, fabs(g)));
            worst[QUICK_GELU] = fmax(worst[QUICK_GELU], fabs(got[QUICK_GELU][i] - qg) / fmax(1.0, fabs(qg)));
        }
        /* softmax: x - max rounded to float alone moves e^(x - max) by up to 5e-7 here */
        CHECK(worst[SOFTMAX] <= 2e-6 && worst[LOG_SOFTMAX] <= 3e-7 && worst[GELU] <= 3e-7 && worst[QUICK_GELU] <= 3e-7,
              "%s: n %d: softmax %.3g, log-softmax %.3g, GELU %.3g, quick_gelu %.3g off (relative)", capt_isa_name(isa),
              n, worst[SOFTMAX], worst[LOG_SOFTMAX], worst[GELU], worst[QUICK_GELU]);
    }
}

/* nn_attend of one set against its definition, bit for bit. */
static void check_attend(capt_isa isa) {
    static const int key_counts[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 19, 59, 77};
    static const int head_widths[] = {1, 7, 16, 17, 32, 33, 64};
    static const int head_counts[] = {1, 3, 8};
    enum { MAX_N = 77, MAX_D = 8 * 64, PAD = 5 };
    static float q[MAX_D], k[MAX_N * (MAX_D + PAD)], v[MAX_N * (MAX_D + PAD)], kt[MAX_D * (MAX_N + PAD)];
    static float w[8 * MAX_N], w_ref[8 * MAX_N], out[MAX_D], out_ref[MAX_D];
    for (size_t a = 0; a < sizeof key_counts / sizeof *key_counts; a++)
        for (size_t b = 0; b < sizeof head_widths / sizeof *head_widths; b++)
            for (size_t c = 0; c < sizeof head_counts / sizeof *head_counts; c++)
                for (int pad = 0; pad <= PAD; pad += PAD) {
                    int n = key_counts[a], hd = head_widths[b], heads = head_counts[c], d = hd * heads;
                    size_t ld = (size_t)d + (size_t)pad;
                    for (int i = 0; i < d; i++) q[i] = 2.0f * check_rand_unit();
                    for (size_t i = 0; i < (size_t)n * ld; i++) k[i] = 2.0f * check_rand_unit(), v[i] = 2.0f * check_rand_unit();
                    size_t ldk = (size_t)n + (size_t)pad; /* the keys transposed, as nn_attend reads them */
                    for (int j = 0; j < n; j++)
                        for (int i = 0; i < d; i++) kt[(size_t)i * ldk + j] = k[(size_t)j * ld + i];
                    nn_attend(isa, q, kt, ldk, v, ld, n, d, heads, w, out);
                    attend_reference(isa, q, k, v, n, ld, d, heads, w_ref, out_ref);
                    CHECK(memcmp(w, w_ref, sizeof(float) * (size_t)heads * n) == 0,
                          "%s: weights differ: n %d, head width %d, heads %d, ld %zu", capt_isa_name(isa), n, hd, heads,
                          ld);
                    CHECK(memcmp(out, out_ref, sizeof(float) * (size_t)d) == 0,
                          "%s: outputs differ: n %d, head width %d, heads %d, ld %zu", capt_isa_name(isa), n, hd, heads,
                          ld);
                }
}

int main(void) {
    check_elementwise();
    for (int a = 0; a < LENGTHS; a++)
        for (int i = 0; i < lengths[a]; i++) inputs[a][i] = 12.0f * check_rand_unit();
    for (int isa = 0; isa < CAPT_ISA_COUNT; isa++) {
        if (!capt_isa_available((capt_isa)isa)) continue;
        check_vector_math((capt_isa)isa);
        check_attend((capt_isa)isa);
    }
    return check_exit("test_nn");
}
