/* nn_math.inc.h — the loops of nn.h's vector math (max, softmax, log-softmax, attention,
 * activations), compiled once per instruction set: nn.c includes it for the build's baseline
 * (SSE2 natively, SIMD128 in wasm), nn_math_avx2.c and nn_math_avx512.c with wider vectors.
 * The includer defines NN_MATH_SET (generic, avx2 or avx512), the suffix of the functions
 * this file defines for nn.h's dispatchers: nn_max_avx2, nn_softmax_avx2 and so on.
 *
 * Every result is the same bits in every set: each loop is plain C whose operations and
 * their order the compilers keep (no reassociation; every file is built with
 * -ffp-contract=off, so no multiply and add are fused), and only the width of the vectors
 * the compiler makes of it changes. test_nn compares the sets bit for bit. */

#define NN_MATH_JOIN(f, set) nn_##f##_##set
#define NN_MATH_NAME(f, set) NN_MATH_JOIN(f, set)
#define NN_MATH_FN(f) NN_MATH_NAME(f, NN_MATH_SET)

/* Reductions over SUM_LANES partial results side by side, the lanes a vector loop keeps
 * (without fast-math, compilers vectorize no float reduction written as one chain). */
#define SUM_LANES 16

float NN_MATH_FN(max)(const float *x, int n) {
    float lane[SUM_LANES];
    for (int j = 0; j < SUM_LANES; j++) lane[j] = x[0];
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    float max = lane[0];
    for (int j = 1; j < SUM_LANES; j++) max = lane[j] > max ? lane[j] : max;
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    return max;
}

static float sum_of(const float *x, int n) {
    float lane[SUM_LANES] = {0}, sum = 0;
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += x[i + j];
    for (int j = 0; j < SUM_LANES; j++) sum += lane[j];
    for (; i < n; i++) sum += x[i];
    return sum;
}

/* Σ e^(x[i] - shift), as sum_of the exponentials without storing them. */
static float sum_exp(const float *x, int n, float shift) {
    float lane[SUM_LANES] = {0};
    int i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += nn_expf(x[i + j] - shift);
    float sum = 0;
    for (int j = 0; j < SUM_LANES; j++) sum += lane[j];
    for (; i < n; i++) sum += nn_expf(x[i] - shift);
    return sum;
}

void NN_MATH_FN(softmax)(float *s, int n) {
    float max = NN_MATH_FN(max)(s, n);
    for (int i = 0; i < n; i++) s[i] = nn_expf(s[i] - max);
    float sum = sum_of(s, n);
    for (int i = 0; i < n; i++) s[i] /= sum;
}

void NN_MATH_FN(log_softmax)(float *x, int n) {
    float max = NN_MATH_FN(max)(x, n);
    float lse = max + logf(sum_exp(x, n, max));
    for (int i = 0; i < n; i++) x[i] -= lse;
}

/* Query dimensions taken a pass over the keys: each key's score gets that many terms
 * added in turn (the order of its dot product) for one load and store of it. */
#define ATTEND_DIMS 4
#define ATTEND_COLUMNS 32

void NN_MATH_FN(attend)(const float *q, const float *kt, size_t ldk, const float *v, size_t ldv, int n, int d,
                        int heads, float *w, float *out) {
    int hd = d / heads;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++) {
        float *wh = w + (size_t)h * n;
        const float *qh = q + (size_t)h * hd, *kh = kt + (size_t)h * hd * ldk; /* kh: [hd][ldk] */
        /* wh[j] = q_h · k_j summed over i in order, the keys side by side (vectorized
         * across j: the transposed keys make each dimension's n values contiguous) */
        for (int j = 0; j < n; j++) wh[j] = 0.0f;
        int i = 0;
        for (; i + ATTEND_DIMS <= hd; i += ATTEND_DIMS) {
            const float *k0 = kh + (size_t)i * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
            float q0 = qh[i], q1 = qh[i + 1], q2 = qh[i + 2], q3 = qh[i + 3];
            for (int j = 0; j < n; j++) wh[j] = (((wh[j] + q0 * k0[j]) + q1 * k1[j]) + q2 * k2[j]) + q3 * k3[j];
        }
        for (; i < hd; i++)
            for (int j = 0; j < n; j++) wh[j] += qh[i] * kh[(size_t)i * ldk + j];
        for (int j = 0; j < n; j++) wh[j] *= scale;
        NN_MATH_FN(softmax)(wh, n);
        /* out_h[i] = Σ_j wh[j] v[j][i] summed over j in order, ATTEND_COLUMNS columns at a time
         * in local sums (the compiler cannot keep out's columns in registers across j: out
         * might alias the weights). A whole block has a constant width, so the compiler keeps
         * its sums in registers (two AVX-512 vectors, two independent chains); a narrower
         * block's sums go through memory at every key. */
        float *o = out + (size_t)h * hd;
        const float *vh = v + (size_t)h * hd;
        for (int i0 = 0; i0 < hd; i0 += ATTEND_COLUMNS) {
            int cols = hd - i0 < ATTEND_COLUMNS ? hd - i0 : ATTEND_COLUMNS;
            float sum[ATTEND_COLUMNS] = {0};
            if (cols == ATTEND_COLUMNS)
                for (int j = 0; j < n; j++)
                    for (int c = 0; c < ATTEND_COLUMNS; c++) sum[c] += wh[j] * vh[(size_t)j * ldv + i0 + c];
            else
                for (int j = 0; j < n; j++)
                    for (int c = 0; c < cols; c++) sum[c] += wh[j] * vh[(size_t)j * ldv + i0 + c];
            memcpy(o + i0, sum, sizeof(float) * (size_t)cols);
        }
    }
}

void NN_MATH_FN(activate)(nn_activation act, float *x, size_t n) {
    if (act == NN_GELU) /* exact (erf) GELU, as torch.nn.GELU() */
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + nn_erff(x[i] * 0.70710678118654752f));
    else /* CLIP's quick_gelu: x · sigmoid(1.702 x) */
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + nn_expf(-1.702f * x[i]));
}
