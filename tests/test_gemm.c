/* test_gemm.c — every SIMD kernel against the ref oracle, for every weight dtype, over
 * sizes that hit every tile edge (1, 2, 3, 4, primes up to 67) and the shapes of ViT-B/32
 * and a 512-wide decoder; plus multi-threaded runs, which must equal single-threaded
 * ones bit for bit (columns are split, never the reduction).
 *
 * Tolerances, per output y = Σ_k x_k w_k + b, with S = Σ_k |x_k w_k|:
 * - float paths (f32, f16, and dequantized panels of q8_0/q4_0): summation order differs
 *   from ref, so |y - ref| <= (K + 2) * FLT_EPSILON * (S + |b|) (the classic
 *   recursive-sum bound, with the bias as one more term);
 * - integer paths (x quantized to q8_0 per block of 32): each x_k moves by at most
 *   d_x/2 = amax_block/254, so |y - ref| <= Σ_k |w_k| * amax_block(k) / 254 * 1.01
 *   + the float bound + the f16 rounding of d_x (2^-11 relative) * S. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "capt.h"
#include "check.h"
#include "internal.h"
#include "kernels.h"

static uint64_t rng = 1;
static float rand_unit(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

typedef struct problem {
    int M, N, K;
    capt_dtype dtype;
    float *x, *bias, *w_float; /* w_float: the dequantized weights [N, K] */
    void *w;
} problem;

static int make_problem(problem *p, int M, int N, int K, capt_dtype dtype) {
    *p = (problem){M, N, K, dtype, NULL, NULL, NULL, NULL};
    size_t row_bytes = capt_dtype_row_bytes(dtype, K);
    p->x = malloc(sizeof(float) * (size_t)M * K);
    p->bias = malloc(sizeof(float) * (size_t)N);
    p->w_float = malloc(sizeof(float) * (size_t)N * K);
    p->w = malloc(row_bytes * (size_t)N);
    if (!p->x || !p->bias || !p->w_float || !p->w) return 0;
    for (size_t i = 0; i < (size_t)M * K; i++) p->x[i] = rand_unit() * (i % 7 == 0 ? 4.0f : 1.0f);
    for (int n = 0; n < N; n++) p->bias[n] = rand_unit();
    for (int n = 0; n < N; n++) {
        float *row = p->w_float + (size_t)n * K;
        unsigned char *dst = (unsigned char *)p->w + (size_t)n * row_bytes;
        for (int k = 0; k < K; k++) row[k] = rand_unit() * 0.1f;
        if (dtype == CAPT_DTYPE_F32) memcpy(dst, row, row_bytes);
        else if (dtype == CAPT_DTYPE_F16)
            for (int k = 0; k < K; k++) ((uint16_t *)dst)[k] = capt_f32_to_f16(row[k]);
        else if (dtype == CAPT_DTYPE_Q8_0) capt_quantize_row_q8_0(row, (capt_block_q8_0 *)dst, K);
        else capt_quantize_row_q4_0(row, (capt_block_q4_0 *)dst, K);
        capt_dequantize_row(dtype, dst, row, K);
    }
    return 1;
}

static void free_problem(problem *p) {
    free(p->x);
    free(p->bias);
    free(p->w_float);
    free(p->w);
}

static float tolerance(const problem *p, int m, int n, int integer_path) {
    const float *x = p->x + (size_t)m * p->K, *w = p->w_float + (size_t)n * p->K;
    double s = 0, q = 0;
    for (int k = 0; k < p->K; k++) s += fabs((double)x[k] * w[k]);
    double tol = (p->K + 2) * (double)FLT_EPSILON * (s + fabs(p->bias[n])) + 1e-30;
    if (integer_path) {
        for (int b = 0; b < p->K / CAPT_QK; b++) {
            float amax = 0;
            for (int k = 0; k < CAPT_QK; k++) amax = fmaxf(amax, fabsf(x[b * CAPT_QK + k]));
            for (int k = 0; k < CAPT_QK; k++) q += fabs(w[b * CAPT_QK + k]) * amax / 254.0;
        }
        tol += q * 1.01 + s / 2048.0;
    }
    return (float)tol;
}

/* Runs one problem on `isa` and on ref; returns the worst error / tolerance ratio. */
static double run_problem(const problem *p, capt_isa isa, capt_pool *pool, int float_activations) {
    float *y = malloc(sizeof(float) * (size_t)p->M * p->N), *y_ref = malloc(sizeof(float) * (size_t)p->M * p->N);
    capt_gemm_args args = {p->x, p->w, p->dtype, p->bias, y, p->M, p->N, p->K, NULL, float_activations};
    capt_error err;
    CHECK(capt_gemm(pool, isa, &args, &err) == CAPT_OK, "%s", err.message);
    args.y = y_ref;
    CHECK(capt_gemm(NULL, CAPT_ISA_REF, &args, &err) == CAPT_OK, "%s", err.message);
    int integer_path = capt_gemm_uses_xq(isa, &args);
    double worst = 0;
    for (int m = 0; m < p->M; m++)
        for (int n = 0; n < p->N; n++) {
            double e = fabs((double)y[(size_t)m * p->N + n] - y_ref[(size_t)m * p->N + n]);
            double r = e / tolerance(p, m, n, integer_path);
            if (!(r <= worst)) worst = r; /* NaN propagates as a failure */
        }
    free(y);
    free(y_ref);
    return worst;
}

static const int small_sizes[] = {1, 2, 3, 4, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67};
#define N_SMALL (int)(sizeof small_sizes / sizeof small_sizes[0])

static void sweep(capt_isa isa) {
    int problems = 0;
    for (int dt = CAPT_DTYPE_F32; dt <= CAPT_DTYPE_Q4_0; dt++) {
        int quantized = dt == CAPT_DTYPE_Q8_0 || dt == CAPT_DTYPE_Q4_0;
        double worst = 0;
        for (int mi = 0; mi < N_SMALL; mi++)
            for (int ni = 0; ni < N_SMALL; ni += (mi % 3) + 1) {
                /* float K: every size incl. primes; quantized K: multiples of 32, some odd. */
                int K = quantized ? CAPT_QK * (1 + (mi + ni) % 7) : small_sizes[(mi * 7 + ni * 3) % N_SMALL];
                problem p;
                if (!make_problem(&p, small_sizes[mi], small_sizes[ni], K, (capt_dtype)dt)) {
                    CHECK(0, "out of memory");
                    return;
                }
                /* quantized weights with M < 4: the integer path, and the float one on request */
                double r = run_problem(&p, isa, NULL, 0);
                CHECK(r <= 1.0, "%s %s M=%d N=%d K=%d: error %.3g x tolerance", capt_isa_name(isa),
                      capt_dtype_name((capt_dtype)dt), p.M, p.N, K, r);
                double rf = run_problem(&p, isa, NULL, 1);
                CHECK(rf <= 1.0, "%s %s float path M=%d N=%d K=%d: error %.3g x tolerance", capt_isa_name(isa),
                      capt_dtype_name((capt_dtype)dt), p.M, p.N, K, rf);
                if (rf > r) r = rf;
                if (r > worst) worst = r;
                free_problem(&p);
                problems++;
            }
        printf("  %-8s %-5s sweep: worst error %.3f of tolerance\n", capt_isa_name(isa),
               capt_dtype_name((capt_dtype)dt), worst);
    }
    (void)problems;
}

/* [M, N, K]: ViT-B/32 (50 tokens, 768 wide, MLP 3072), a decoder step and batch. */
static const int model_shapes[][3] = {{50, 768, 768}, {50, 3072, 768}, {50, 768, 3072}, {1, 512, 512},
                                      {1, 2048, 512}, {3, 512, 2048}, {49, 512, 1280}, {16, 512, 512}};

static void model_shapes_and_threads(capt_isa isa, capt_pool *pool) {
    for (size_t s = 0; s < sizeof model_shapes / sizeof model_shapes[0]; s++) {
        for (int dt = CAPT_DTYPE_F32; dt <= CAPT_DTYPE_Q4_0; dt++) {
            problem p;
            if (!make_problem(&p, model_shapes[s][0], model_shapes[s][1], model_shapes[s][2], (capt_dtype)dt)) {
                CHECK(0, "out of memory");
                return;
            }
            double r = run_problem(&p, isa, NULL, 0);
            CHECK(r <= 1.0, "%s %s %dx%dx%d: error %.3g x tolerance", capt_isa_name(isa),
                  capt_dtype_name((capt_dtype)dt), p.M, p.N, p.K, r);
            /* Threads split columns only: results must be identical. */
            size_t n = (size_t)p.M * p.N;
            float *y1 = malloc(n * sizeof(float)), *y3 = malloc(n * sizeof(float));
            capt_gemm_args args = {p.x, p.w, p.dtype, p.bias, y1, p.M, p.N, p.K, NULL, 0};
            capt_error err;
            capt_gemm(NULL, isa, &args, &err);
            args.y = y3;
            CHECK(capt_gemm(pool, isa, &args, &err) == CAPT_OK, "%s", err.message);
            CHECK(memcmp(y1, y3, n * sizeof(float)) == 0, "%s %s %dx%dx%d: threads changed the result",
                  capt_isa_name(isa), capt_dtype_name((capt_dtype)dt), p.M, p.N, p.K);
            free(y1);
            free(y3);
            free_problem(&p);
        }
    }
}

static void argument_errors(void) {
    float x[64] = {0}, y[64];
    unsigned char w[68] = {0};
    capt_error err;
    capt_gemm_args args = {x, w, CAPT_DTYPE_Q8_0, NULL, y, 1, 1, 33, NULL, 0};
    CHECK(capt_gemm(NULL, CAPT_ISA_REF, &args, &err) == CAPT_E_ARG && strstr(err.message, "multiple of 32"), "%s",
          err.message);
    args.K = 0;
    CHECK(capt_gemm(NULL, CAPT_ISA_REF, &args, &err) == CAPT_E_ARG, "empty shape");
    args.K = 32;
    args.wtype = (capt_dtype)7;
    CHECK(capt_gemm(NULL, CAPT_ISA_REF, &args, &err) == CAPT_E_UNSUPPORTED, "bad dtype");
    args.wtype = CAPT_DTYPE_F32;
    for (int isa = 0; isa < CAPT_ISA_COUNT; isa++)
        if (!capt_isa_available((capt_isa)isa))
            CHECK(capt_gemm(NULL, (capt_isa)isa, &args, &err) == CAPT_E_UNSUPPORTED, "unavailable ISA runs");
}

/* f16 conversions are exact both ways for every half value. */
static void f16_round_trip(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = capt_f16_to_f32((uint16_t)h);
        if (f != f) continue; /* NaN payloads */
        if (capt_f32_to_f16(f) != h) bad++;
    }
    CHECK(bad == 0, "%d half values do not round-trip", bad);
    CHECK(capt_f32_to_f16(65520.0f) == 0x7c00 && capt_f32_to_f16(65519.0f) == 0x7bff, "overflow rounding");
    CHECK(capt_f32_to_f16(2.98023224e-08f) == 0 && capt_f32_to_f16(2.98023253e-08f) == 1, "subnormal rounding");
}

int main(void) {
    capt_pool *pool;
    capt_error err;
    CHECK(capt_pool_create(3, &pool, &err) == CAPT_OK, "%s", err.message);
    f16_round_trip();
    argument_errors();
    int tested = 0;
    for (int isa = 0; isa < CAPT_ISA_COUNT; isa++) {
        if (!capt_isa_available((capt_isa)isa)) continue;
        sweep((capt_isa)isa);
        model_shapes_and_threads((capt_isa)isa, pool);
        tested++;
    }
    printf("  kernel sets tested: %d (best: %s)\n", tested, capt_isa_name(capt_isa_best()));
    capt_pool_free(pool);
    return check_exit("test_gemm");
}
