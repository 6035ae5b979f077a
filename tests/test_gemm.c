/* test_gemm.c — every SIMD kernel against the ref oracle, for every weight dtype, over
 * sizes that hit every tile edge (1, 2, 3, 4, primes up to 67) and the shapes of ViT-B/32
 * and a 512-wide decoder; plus multi-threaded runs, which must equal single-threaded
 * ones bit for bit (columns or rows are split, never the reduction).
 *
 * Tolerances, per output y = Σ_k x_k w_k + b, with S = Σ_k |x_k w_k|:
 * - float paths (f32, f16, and dequantized panels of q8_0/q4_0): summation order differs
 *   from ref, so |y - ref| <= (K + 2) * FLT_EPSILON * (S + |b|) (the classic
 *   recursive-sum bound, with the bias as one more term);
 * - integer paths (x quantized to q8_0 per block of 32): each x_k moves by at most
 *   d_x/2 = amax_block/254, so |y - ref| <= Σ_k |w_k| * amax_block(k) / 254 * 1.01
 *   + the float bound + the f16 rounding of d_x (2^-11 relative) * S;
 * - SIMD128's q16 path (float activations of q8_0 products, M < 4: x as int16 per block,
 *   an f32 scale): the same with amax_block/65534 and no f16 rounding. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "capt.h"
#include "check.h"
#include "internal.h"
#include "kernels.h"

/* One thread, with kernel scratch reserved as a context reserves it (main). */
static capt_pool *single;

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
    for (size_t i = 0; i < (size_t)M * K; i++) p->x[i] = check_rand_unit() * (i % 7 == 0 ? 4.0f : 1.0f);
    for (int n = 0; n < N; n++) p->bias[n] = check_rand_unit();
    for (int n = 0; n < N; n++) {
        float *row = p->w_float + (size_t)n * K;
        unsigned char *dst = (unsigned char *)p->w + (size_t)n * row_bytes;
        for (int k = 0; k < K; k++) row[k] = check_rand_unit() * 0.1f;
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

/* The levels x is quantized to on this path: 127 (q8_0), 32767 (q16), 0 (kept in f32). */
static int x_levels(capt_isa isa, const capt_gemm_args *args) {
    return capt_gemm_uses_xq(isa, args) ? 127 : capt_gemm_uses_xq16(isa, args) ? 32767 : 0;
}

static float tolerance(const problem *p, int m, int n, int levels) {
    const float *x = p->x + (size_t)m * p->K, *w = p->w_float + (size_t)n * p->K;
    double s = 0, q = 0;
    for (int k = 0; k < p->K; k++) s += fabs((double)x[k] * w[k]);
    double tol = (p->K + 2) * (double)FLT_EPSILON * (s + fabs(p->bias[n])) + 1e-30;
    if (levels) {
        for (int b = 0; b < p->K / CAPT_QK; b++) {
            float amax = 0;
            for (int k = 0; k < CAPT_QK; k++) amax = fmaxf(amax, fabsf(x[b * CAPT_QK + k]));
            for (int k = 0; k < CAPT_QK; k++) q += fabs(w[b * CAPT_QK + k]) * amax / (2.0 * levels);
        }
        tol += q * 1.01 + (levels == 127 ? s / 2048.0 : 0.0);
    }
    return (float)tol;
}

/* A convolution's epilogue: scale, then ReLU6-like bounds that cut both ends of these
 * products' outputs (|y| is about 1). */
static const capt_gemm_epilogue clamp_epilogue = {1.5f, 0.0f, 0.5f};

/* The worst error of y against y_ref, as a fraction of its tolerance (NaN: a failure). */
static double max_error(const problem *p, const float *y, const float *y_ref, int levels,
                        const capt_gemm_epilogue *post) {
    double worst = 0;
    for (int m = 0; m < p->M; m++)
        for (int n = 0; n < p->N; n++) {
            double e = fabs((double)y[(size_t)m * p->N + n] - y_ref[(size_t)m * p->N + n]);
            double r = e / (tolerance(p, m, n, levels) * (post ? fabsf(post->scale) : 1.0f));
            if (!(r <= worst)) worst = r; /* NaN propagates as a failure */
        }
    return worst;
}

/* Runs one problem on `isa` and on ref; returns the worst error / tolerance ratio (the
 * epilogue scales the error by |scale|; its bounds cannot enlarge it). */
static double run_problem(const problem *p, capt_isa isa, capt_pool *pool, int float_activations,
                          const capt_gemm_epilogue *post) {
    float *y = malloc(sizeof(float) * (size_t)p->M * p->N), *y_ref = malloc(sizeof(float) * (size_t)p->M * p->N);
    capt_gemm_args args = {.x = p->x, .w = p->w, .wtype = p->dtype, .bias = p->bias, .y = y, .M = p->M, .N = p->N,
                           .K = p->K, .epilogue = post, .float_activations = float_activations};
    capt_error err;
    CHECK(capt_gemm(pool, isa, &args, &err) == CAPT_OK, "%s", err.message);
    args.y = y_ref;
    CHECK(capt_gemm(single, CAPT_ISA_REF, &args, &err) == CAPT_OK, "%s", err.message);
    double worst = max_error(p, y, y_ref, x_levels(isa, &args), post);
    /* Again from weights packed ahead (capt_gemm_pack_wide), as a convolution's are: the
     * wide path for any depth, against ref; for shallow products, which take the wide path
     * anyway, the same bits as without. */
    size_t wide_floats = capt_gemm_wide_floats(p->N, p->K);
    float *packed = malloc(wide_floats * sizeof(float)), *y_packed = malloc(sizeof(float) * (size_t)p->M * p->N);
    capt_gemm_pack_wide(p->w, p->dtype, p->N, p->K, packed);
    args.w_wide = packed;
    args.y = y_packed;
    CHECK(capt_gemm(pool, isa, &args, &err) == CAPT_OK, "%s", err.message);
    double worst_packed = max_error(p, y_packed, y_ref, x_levels(isa, &args), post);
    if (worst_packed > worst || worst_packed != worst_packed) worst = worst_packed;
    if (p->K <= CAPT_GEMM_WIDE_MAX_K)
        CHECK(memcmp(y, y_packed, sizeof(float) * (size_t)p->M * p->N) == 0,
              "%s %s M=%d N=%d K=%d: weights packed ahead changed the result", capt_isa_name(isa),
              capt_dtype_name(p->dtype), p->M, p->N, p->K);
    free(packed);
    free(y_packed);
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
                /* quantized weights with M < 4: the integer path, and the float one on request;
                 * every other problem with an epilogue */
                const capt_gemm_epilogue *post = (mi + ni) % 2 ? &clamp_epilogue : NULL;
                double r = run_problem(&p, isa, single, 0, post);
                CHECK(r <= 1.0, "%s %s M=%d N=%d K=%d: error %.3g x tolerance", capt_isa_name(isa),
                      capt_dtype_name((capt_dtype)dt), p.M, p.N, K, r);
                double rf = run_problem(&p, isa, single, 1, post);
                CHECK(rf <= 1.0, "%s %s float path M=%d N=%d K=%d: error %.3g x tolerance", capt_isa_name(isa),
                      capt_dtype_name((capt_dtype)dt), p.M, p.N, K, rf);
                if (rf > r) r = rf;
                if (r > worst) worst = r;
                free_problem(&p);
                problems++;
            }
        (void)problems;
        printf("  %-8s %-5s sweep: worst error %.3f of tolerance\n", capt_isa_name(isa),
               capt_dtype_name((capt_dtype)dt), worst);
    }
}

/* A kernel asked for column ranges that cut packed groups anywhere (the dispatcher's
 * splits never do): tiles start mid-group, and columns that leave less than a vector of
 * their group take the dot form; every output within tolerance of ref. */
static void packed_column_ranges(capt_isa isa) {
    static const int cuts[] = {0, 3, 5, 21, 38, 40, 67};
    static const int depths[] = {45, 200};
    for (int di = 0; di < 2; di++)
        for (int dt = CAPT_DTYPE_F32; dt <= CAPT_DTYPE_F16; dt++) {
            problem p;
            if (!make_problem(&p, 13, 67, depths[di], (capt_dtype)dt)) {
                CHECK(0, "out of memory");
                return;
            }
            size_t n = (size_t)p.M * p.N;
            float *y = malloc(n * sizeof(float)), *y_ref = malloc(n * sizeof(float));
            float *packed = malloc(capt_gemm_wide_floats(p.N, p.K) * sizeof(float));
            float *scratch = malloc(capt_gemm_scratch_bytes(p.K));
            capt_gemm_pack_wide(p.w, p.dtype, p.N, p.K, packed);
            capt_gemm_args args = {.x = p.x, .w = p.w, .wtype = p.dtype, .bias = p.bias, .y = y_ref, .M = p.M,
                                   .N = p.N, .K = p.K};
            capt_error err;
            CHECK(capt_gemm(single, CAPT_ISA_REF, &args, &err) == CAPT_OK, "%s", err.message);
            args.y = y;
            args.w_wide = packed;
            capt_gemm_kernel kernel = capt_gemm_kernel_for(isa, p.dtype);
            for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) kernel(&args, cuts[c], cuts[c + 1], scratch);
            double r = max_error(&p, y, y_ref, 0, NULL);
            CHECK(r <= 1.0, "%s %s packed, cut columns, K=%d: error %.3g x tolerance", capt_isa_name(isa),
                  capt_dtype_name(p.dtype), p.K, r);
            free(y);
            free(y_ref);
            free(packed);
            free(scratch);
            free_problem(&p);
        }
}

/* q8_0 weights with a few x rows (a decoder step) are dequantized in registers, with more
 * rows into a panel first: the same products in the same order, so each row's outputs
 * must not depend on which: rows 1..9 at a time, against the same rows of a 40-row product
 * (K > 64 keeps both off the wide path). On SIMD128 fewer than 4 rows take the q16 path
 * instead (q16_path_exact), so its comparisons start at 4. */
static void q8_0_in_registers_exact(capt_isa isa) {
    problem p;
    if (!make_problem(&p, 40, 37, 160, CAPT_DTYPE_Q8_0)) {
        CHECK(0, "out of memory");
        return;
    }
    float *y_all = malloc(sizeof(float) * 40 * 37), *y = malloc(sizeof(float) * 9 * 37);
    capt_gemm_args args = {.x = p.x, .w = p.w, .wtype = p.dtype, .bias = p.bias, .y = y_all, .M = 40, .N = p.N,
                           .K = p.K, .epilogue = &clamp_epilogue, .float_activations = 1};
    capt_error err;
    CHECK(capt_gemm(single, isa, &args, &err) == CAPT_OK, "%s", err.message);
    int differ = 0, compared = 0;
    for (int rows = 1; rows <= 9; rows++) {
        int m0 = (rows * 7) % (40 - rows);
        args.x = p.x + (size_t)m0 * p.K;
        args.y = y;
        args.M = rows;
        if (capt_gemm_uses_xq16(isa, &args)) continue;
        compared++;
        CHECK(capt_gemm(single, isa, &args, &err) == CAPT_OK, "%s", err.message);
        differ += memcmp(y, y_all + (size_t)m0 * p.N, sizeof(float) * (size_t)rows * p.N) != 0;
    }
    CHECK(differ == 0, "%s q8_0: %d of %d small products differ from the same rows of a large one",
          capt_isa_name(isa), differ, compared);
    free(y_all);
    free(y);
    free_problem(&p);
}

/* [M, N, K]: ViT-B/32 (50 tokens, 768 wide, MLP 3072), a decoder step and batch, and
 * 1x1 convolutions (K a multiple of 32 for the quantized types). */
static const int model_shapes[][3] = {{50, 768, 768}, {50, 3072, 768}, {50, 768, 3072}, {1, 512, 512},
                                      {1, 2048, 512}, {3, 512, 2048}, {49, 512, 1280}, {16, 512, 512},
                                      /* MobileNetV2 1x1 convolutions (pixels x channels), split by rows;
                                       * the shallow ones (K <= 64) take the wide path */
                                      {785, 24, 160}, {3136, 32, 96}, {3137, 144, 32}, {787, 40, 64}};

static void model_shapes_and_threads(capt_isa isa, capt_pool *pool) {
    for (size_t s = 0; s < sizeof model_shapes / sizeof model_shapes[0]; s++) {
        for (int dt = CAPT_DTYPE_F32; dt <= CAPT_DTYPE_Q4_0; dt++) {
            problem p;
            if (!make_problem(&p, model_shapes[s][0], model_shapes[s][1], model_shapes[s][2], (capt_dtype)dt)) {
                CHECK(0, "out of memory");
                return;
            }
            double r = run_problem(&p, isa, single, 0, s % 2 ? &clamp_epilogue : NULL);
            CHECK(r <= 1.0, "%s %s %dx%dx%d: error %.3g x tolerance", capt_isa_name(isa),
                  capt_dtype_name((capt_dtype)dt), p.M, p.N, p.K, r);
            /* Threads split columns or rows, never a sum: results must be identical. */
            size_t n = (size_t)p.M * p.N;
            float *y1 = malloc(n * sizeof(float)), *y3 = malloc(n * sizeof(float));
            capt_gemm_args args = {.x = p.x, .w = p.w, .wtype = p.dtype, .bias = p.bias, .y = y1, .M = p.M, .N = p.N,
                                   .K = p.K, .epilogue = s % 2 ? &clamp_epilogue : NULL};
            capt_error err;
            /* with the weights as they are, and packed ahead as a convolution's */
            size_t wide_floats = capt_gemm_wide_floats(p.N, p.K);
            float *packed = malloc(wide_floats * sizeof(float));
            capt_gemm_pack_wide(p.w, p.dtype, p.N, p.K, packed);
            for (int pack = 0; pack <= 1; pack++) {
                args.w_wide = pack ? packed : NULL;
                args.y = y1;
                capt_gemm(single, isa, &args, &err);
                args.y = y3;
                CHECK(capt_gemm(pool, isa, &args, &err) == CAPT_OK, "%s", err.message);
                CHECK(memcmp(y1, y3, n * sizeof(float)) == 0, "%s %s %dx%dx%d%s: threads changed the result",
                      capt_isa_name(isa), capt_dtype_name((capt_dtype)dt), p.M, p.N, p.K, pack ? " packed" : "");
            }
            free(packed);
            free(y1);
            free(y3);
            free_problem(&p);
        }
    }
}

/* Depthwise convolution on `isa` against the reference: prime channel counts (vector
 * tails), 1x1 to 9x9 windows (9x9: more taps than the SIMD path holds, its fallback),
 * strides 1 and 2, paddings that cut windows at every border, ReLU6 on and off, and a
 * pool of threads splitting rows. 19 columns: at either stride, runs of 4 output pixels
 * whose windows lie inside (dw_pixels), and pixels left over beside them. */
static void dwconv_sweep(capt_isa isa, capt_pool *pool) {
    static const int channels[] = {1, 3, 4, 7, 8, 13, 16, 31, 48, 67, 80, 96}; /* 16-lane sets too */
    static const int kernels[][4] = {{1, 1, 0, 0}, {3, 3, 1, 1}, {3, 3, 0, 0}, {5, 5, 2, 2}, {3, 5, 1, 2}, {9, 9, 4, 4}};
    double worst = 0;
    int cases = 0;
    for (size_t ci = 0; ci < sizeof channels / sizeof channels[0]; ci++)
        for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++)
            for (int stride = 1; stride <= 2; stride++) {
                int C = channels[ci], kh = kernels[ki][0], kw = kernels[ki][1], H = 11, W = 19;
                int out_h = (H + 2 * kernels[ki][2] - kh) / stride + 1, out_w = (W + 2 * kernels[ki][3] - kw) / stride + 1;
                size_t nx = (size_t)H * W * C, ny = (size_t)out_h * out_w * C;
                float *x = malloc(nx * sizeof(float)), *w = malloc((size_t)kh * kw * C * sizeof(float));
                float *b = malloc(C * sizeof(float)), *y = malloc(ny * sizeof(float)), *y_ref = malloc(ny * sizeof(float));
                if (!x || !w || !b || !y || !y_ref) {
                    CHECK(0, "out of memory");
                    return;
                }
                for (size_t i = 0; i < nx; i++) x[i] = 4.0f * check_rand_unit();
                for (size_t i = 0; i < (size_t)kh * kw * C; i++) w[i] = check_rand_unit();
                for (int i = 0; i < C; i++) b[i] = check_rand_unit();
                capt_dwconv_args a = {x, H, W, C, w, b, y, out_h, out_w, kh, kw, stride, stride,
                                      kernels[ki][2], kernels[ki][3], (int)(cases % 2)};
                capt_error err;
                CHECK(capt_dwconv(cases % 3 ? NULL : pool, isa, &a, &err) == CAPT_OK, "%s", err.message);
                a.y = y_ref;
                CHECK(capt_dwconv(NULL, CAPT_ISA_REF, &a, &err) == CAPT_OK, "%s", err.message);
                for (size_t i = 0; i < ny; i++) {
                    double e = fabs((double)y[i] - y_ref[i]) / (kh * kw * 4.0 * 4 * FLT_EPSILON + 1e-30);
                    if (!(e <= worst)) worst = e;
                }
                CHECK(worst <= 1.0, "%s dwconv C=%d %dx%d stride %d: error %.3g x tolerance", capt_isa_name(isa), C, kh,
                      kw, stride, worst);
                free(x), free(w), free(b), free(y), free(y_ref);
                cases++;
            }
    printf("  %-8s dwconv sweep: %d cases, worst error %.3f of tolerance\n", capt_isa_name(isa), cases, worst);
}

static void argument_errors(void) {
    float x[64] = {0}, y[64];
    unsigned char w[68] = {0};
    capt_error err;
    capt_gemm_args args = {.x = x, .w = w, .wtype = CAPT_DTYPE_Q8_0, .y = y, .M = 1, .N = 1, .K = 33};
    CHECK(capt_gemm(single, CAPT_ISA_REF, &args, &err) == CAPT_E_ARG && strstr(err.message, "multiple of 32"), "%s",
          err.message);
    args.K = 0;
    CHECK(capt_gemm(single, CAPT_ISA_REF, &args, &err) == CAPT_E_ARG, "empty shape");
    args.K = 32;
    args.wtype = (capt_dtype)7;
    CHECK(capt_gemm(single, CAPT_ISA_REF, &args, &err) == CAPT_E_UNSUPPORTED, "bad dtype");
    args.wtype = CAPT_DTYPE_F32;
    float w32[32] = {0}; /* [N = 1, K = 32] */
    args.w = w32;
    /* capt_gemm allocates nothing: a pool without scratch for this K is an error */
    capt_pool *bare;
    CHECK(capt_pool_create(1, &bare, &err) == CAPT_OK, "%s", err.message);
    CHECK(capt_gemm(bare, CAPT_ISA_REF, &args, &err) == CAPT_E_ARG && strstr(err.message, "scratch"), "%s", err.message);
    CHECK(capt_pool_reserve(bare, capt_gemm_scratch_bytes(16), 0, &err) == CAPT_OK, "%s", err.message);
    CHECK(capt_gemm(bare, CAPT_ISA_REF, &args, &err) == CAPT_E_ARG, "K=32 in scratch for K=16");
    CHECK(capt_pool_reserve(bare, capt_gemm_scratch_bytes(32), 0, &err) == CAPT_OK, "%s", err.message);
    CHECK(capt_gemm(bare, CAPT_ISA_REF, &args, &err) == CAPT_OK, "%s", err.message);
    capt_pool_free(bare);
    for (int isa = 0; isa < CAPT_ISA_COUNT; isa++)
        if (!capt_isa_available((capt_isa)isa))
            CHECK(capt_gemm(single, (capt_isa)isa, &args, &err) == CAPT_E_UNSUPPORTED, "unavailable ISA runs");
}

/* Random integer in [lo, hi]. */
static int rand_int(int lo, int hi) { return lo + (int)((check_rand_unit() + 1.0f) * 0.5f * (float)(hi - lo + 1)) % (hi - lo + 1); }

/* The SIMD integer paths (quantized weights, x quantized to q8_0, M < 4) against the
 * dtype traits' scalar integer dot, bit for bit. Exactness is arranged: scales are
 * powers of two and every partial sum, in any order, is an integer multiple of the
 * smallest scale product below 2^24, so float addition is exact and any difference is
 * an error in the integer lanes (sign handling, nibble order, block stride). Two
 * regimes: full int8 range with one scale for all blocks, and per-block scales with
 * small weights. Weights and x are built so that the quantizers recover exactly the
 * intended blocks (each q8_0 block holds a ±127, each q4_0 block a -8, the scale is a
 * power of two). */
static void integer_path_exact(capt_isa isa) {
    static const int blocks[] = {1, 2, 3, 5, 7, 11, 13, 17};
    int compared = 0, differ = 0;
    for (int dt = CAPT_DTYPE_Q8_0; dt <= CAPT_DTYPE_Q4_0; dt++) {
        const capt_dtype_traits *traits = capt_dtype_traits_of((capt_dtype)dt);
        for (int regime = 0; regime < 2; regime++)
            for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
                for (int M = 1; M < CAPT_GEMM_INT_MAX_M; M++) {
                    const int N = 7, nb = blocks[bi], K = nb * CAPT_QK;
                    float *x = malloc(sizeof(float) * (size_t)M * K), *w_float = malloc(sizeof(float) * (size_t)N * K);
                    float *y = malloc(sizeof(float) * (size_t)M * N), bias[7];
                    capt_block_q8_0 *xq = malloc(sizeof *xq * (size_t)M * nb);
                    size_t row_bytes = capt_dtype_row_bytes((capt_dtype)dt, K);
                    unsigned char *w = malloc(row_bytes * N);
                    /* q8_0 weights span -127..127 in the first regime; q4_0 always -8..7 */
                    int w_max = dt == CAPT_DTYPE_Q8_0 && regime == 0 ? 127 : 7;
                    for (int n = 0; n < N; n++) {
                        for (int b = 0; b < nb; b++) {
                            float d = regime == 0 ? 0.125f : (rand_int(0, 1) ? 0.5f : 0.25f);
                            for (int j = 0; j < CAPT_QK; j++)
                                w_float[(size_t)n * K + b * CAPT_QK + j] = (float)rand_int(-w_max - (w_max == 7), w_max) * d;
                            /* the quantizer's scale must come out as d: q8_0 divides the largest
                             * magnitude by 127, q4_0 the value of largest magnitude by -8 */
                            w_float[(size_t)n * K + b * CAPT_QK + rand_int(0, 31)] =
                                dt == CAPT_DTYPE_Q8_0 ? (rand_int(0, 1) ? 127.0f : -127.0f) * d : -8.0f * d;
                        }
                        traits->from_float_ref(w_float + (size_t)n * K, w + (size_t)n * row_bytes, K);
                        bias[n] = (float)rand_int(-64, 64) * 0.0625f;
                    }
                    for (int m = 0; m < M; m++)
                        for (int b = 0; b < nb; b++) {
                            float d = regime == 0 ? 0.0625f : (rand_int(0, 1) ? 0.125f : 0.0625f);
                            float *xb = x + (size_t)m * K + b * CAPT_QK;
                            for (int j = 0; j < CAPT_QK; j++) xb[j] = (float)rand_int(-127, 127) * d;
                            xb[rand_int(0, 31)] = (rand_int(0, 1) ? 127.0f : -127.0f) * d;
                        }
                    for (int m = 0; m < M; m++) capt_quantize_row_q8_0(x + (size_t)m * K, xq + (size_t)m * nb, K);
                    capt_gemm_args args = {.x = x, .w = w, .wtype = (capt_dtype)dt, .bias = bias, .y = y, .M = M,
                                           .N = N, .K = K};
                    capt_error err;
                    CHECK(capt_gemm_uses_xq(isa, &args), "%s %s M=%d: the integer path", capt_isa_name(isa),
                          traits->name, M);
                    CHECK(capt_gemm(single, isa, &args, &err) == CAPT_OK, "%s", err.message);
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            float want = traits->vec_dot_q8_0(w + (size_t)n * row_bytes, xq + (size_t)m * nb, K) + bias[n];
                            compared++;
                            if (y[(size_t)m * N + n] != want) {
                                if (differ++ < 5)
                                    printf("  %s %s K=%d m=%d n=%d: %.9g, the integer reference %.9g\n",
                                           capt_isa_name(isa), traits->name, K, m, n, y[(size_t)m * N + n], want);
                            }
                        }
                    free(x), free(w_float), free(y), free(xq), free(w);
                }
    }
    CHECK(differ == 0, "%s integer path: %d of %d outputs differ from the scalar integer dot", capt_isa_name(isa),
          differ, compared);
    printf("  %-8s integer path: %d of %d outputs equal to the scalar integer dot, bit for bit\n", capt_isa_name(isa),
           compared - differ, compared);
}

/* SIMD128's q16 path (q8_0 weights, float activations, M < 4) against an exact reference:
 * scales are powers of two (each x block holds a ±32767 · d_x, so the quantizer's
 * amax / 32767 is d_x exactly; each weight block a ±127 · d_w), x values are small
 * integers times d_x except that one, which meets a weight of at most 3, so a block's
 * int32 sum stays below 2^24 and every float sum is an exact multiple of d_w · d_x: any
 * difference is an error in the lanes (widening, block stride, rows, bias). */
static void q16_path_exact(capt_isa isa) {
    static const int blocks[] = {1, 2, 3, 5, 7, 11, 13, 17};
    int compared = 0, differ = 0;
    const capt_dtype_traits *traits = capt_dtype_traits_of(CAPT_DTYPE_Q8_0);
    for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
        for (int M = 1; M < CAPT_GEMM_INT_MAX_M; M++) {
            const int N = 7, nb = blocks[bi], K = nb * CAPT_QK;
            float *x = malloc(sizeof(float) * (size_t)M * K), *w_float = malloc(sizeof(float) * (size_t)N * K);
            float *y = malloc(sizeof(float) * (size_t)M * N), bias[7];
            size_t row_bytes = capt_dtype_row_bytes(CAPT_DTYPE_Q8_0, K);
            unsigned char *w = malloc(row_bytes * N);
            int *big = malloc(sizeof(int) * (size_t)M * nb); /* where each x block holds its ±32767 */
            for (int m = 0; m < M; m++)
                for (int b = 0; b < nb; b++) big[m * nb + b] = rand_int(0, 31);
            for (int n = 0; n < N; n++) {
                for (int b = 0; b < nb; b++) {
                    float d = rand_int(0, 1) ? 0.25f : 0.125f;
                    float *wb = w_float + (size_t)n * K + b * CAPT_QK;
                    for (int j = 0; j < CAPT_QK; j++) wb[j] = (float)rand_int(-127, 127) * d;
                    int at, taken;
                    do { /* the ±127 away from where a row of x holds its ±32767 */
                        at = rand_int(0, 31), taken = 0;
                        for (int m = 0; m < M; m++) {
                            taken |= at == big[m * nb + b];
                            wb[big[m * nb + b]] = (float)rand_int(-3, 3) * d;
                        }
                    } while (taken);
                    wb[at] = (rand_int(0, 1) ? 127.0f : -127.0f) * d;
                }
                traits->from_float_ref(w_float + (size_t)n * K, w + (size_t)n * row_bytes, K);
                traits->to_float(w + (size_t)n * row_bytes, w_float + (size_t)n * K, K); /* the values it holds */
                bias[n] = (float)rand_int(-64, 64) * 0.0625f;
            }
            for (int m = 0; m < M; m++)
                for (int b = 0; b < nb; b++) {
                    float d = rand_int(0, 1) ? 1.0f / 1024 : 1.0f / 2048;
                    float *xb = x + (size_t)m * K + b * CAPT_QK;
                    for (int j = 0; j < CAPT_QK; j++) xb[j] = (float)rand_int(-16, 16) * d;
                    xb[big[m * nb + b]] = (rand_int(0, 1) ? 32767.0f : -32767.0f) * d;
                }
            capt_gemm_args args = {.x = x, .w = w, .wtype = CAPT_DTYPE_Q8_0, .bias = bias, .y = y, .M = M, .N = N,
                                   .K = K, .float_activations = 1};
            capt_error err;
            CHECK(capt_gemm_uses_xq16(isa, &args), "%s M=%d: the q16 path", capt_isa_name(isa), M);
            CHECK(capt_gemm(single, isa, &args, &err) == CAPT_OK, "%s", err.message);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double want = bias[n];
                    for (int k = 0; k < K; k++) want += (double)x[(size_t)m * K + k] * w_float[(size_t)n * K + k];
                    compared++;
                    if (y[(size_t)m * N + n] != (float)want && differ++ < 5)
                        printf("  %s q16 K=%d m=%d n=%d: %.9g, exactly %.9g\n", capt_isa_name(isa), K, m, n,
                               y[(size_t)m * N + n], want);
                }
            free(x), free(w_float), free(y), free(w), free(big);
        }
    CHECK(differ == 0, "%s q16 path: %d of %d outputs differ from the exact sum", capt_isa_name(isa), differ, compared);
    printf("  %-8s q16 path: %d of %d outputs exact\n", capt_isa_name(isa), compared - differ, compared);
}

/* f16 conversions are exact both ways for every half value; capt_f32_round_f16 is the
 * round trip through them. */
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
    /* capt_f32_round_f16 against the round trip, bit for bit: every sign, exponent and top 7
     * mantissa bits, with low 16 bits around the roundings (ties, just below and above
     * them) and spread between */
    static const uint32_t low_bits[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001, 0x2fff,
                                        0x3000, 0x3001, 0x7fff, 0x8000, 0x8001, 0xefff, 0xf000, 0xf001, 0xffff};
    const uint32_t n_low = sizeof low_bits / sizeof *low_bits;
    long round_bad = 0;
    for (uint32_t high = 0; high < 0x10000u; high++)
        for (uint32_t j = 0; j < n_low + 16; j++) {
            uint32_t low = j < n_low ? low_bits[j] : (high * 40503u + j * 9973u) & 0xffffu;
            uint32_t bits = high << 16 | low, got, want;
            float f, g, w;
            memcpy(&f, &bits, sizeof f);
            g = capt_f32_round_f16(f), w = capt_f16_to_f32(capt_f32_to_f16(f));
            memcpy(&got, &g, sizeof got);
            memcpy(&want, &w, sizeof want);
            round_bad += got != want;
        }
    CHECK(round_bad == 0, "capt_f32_round_f16 differs from the round trip at %ld values", round_bad);
}

/* The wide path sums every output over k in order and adds the bias last, as ref does; on
 * SIMD128, whose multiply-add rounds the product, that makes it equal to ref bit for bit
 * (AVX2's fused multiply-add rounds once: the sweep's tolerance holds it). Whole wide
 * tiles only (N a multiple of 8 columns; left-over columns take the dot form). */
static void wide_path_exact(capt_isa isa) {
    static const int Ms[] = {4, 5, 7, 13, 61}, Ns[] = {8, 16, 24, 48}, Ks[] = {1, 3, 16, 27, 32, 64};
    int compared = 0, differ = 0;
    for (int dt = CAPT_DTYPE_F32; dt <= CAPT_DTYPE_Q4_0; dt++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
                    if (Ks[ki] % capt_dtype_traits_of((capt_dtype)dt)->block_values) continue;
                    problem p;
                    if (!make_problem(&p, Ms[mi], Ns[ni], Ks[ki], (capt_dtype)dt)) {
                        CHECK(0, "out of memory");
                        return;
                    }
                    size_t n = (size_t)p.M * p.N;
                    float *y = malloc(n * sizeof(float)), *y_ref = malloc(n * sizeof(float));
                    capt_gemm_args args = {.x = p.x, .w = p.w, .wtype = p.dtype, .bias = p.bias, .y = y, .M = p.M,
                                           .N = p.N, .K = p.K, .epilogue = ki % 2 ? &clamp_epilogue : NULL,
                                           .float_activations = 1};
                    capt_error err;
                    CHECK(capt_gemm(single, isa, &args, &err) == CAPT_OK, "%s", err.message);
                    args.y = y_ref;
                    CHECK(capt_gemm(single, CAPT_ISA_REF, &args, &err) == CAPT_OK, "%s", err.message);
                    for (size_t i = 0; i < n; i++) differ += memcmp(&y[i], &y_ref[i], sizeof(float)) != 0;
                    compared += (int)n;
                    free(y);
                    free(y_ref);
                    free_problem(&p);
                }
    CHECK(differ == 0, "%s wide path: %d of %d outputs differ from ref", capt_isa_name(isa), differ, compared);
    printf("  %-8s wide path: %d of %d outputs equal to ref, bit for bit\n", capt_isa_name(isa), compared - differ,
           compared);
}

int main(void) {
    capt_pool *pool;
    capt_error err;
    CHECK(capt_pool_create(3, &pool, &err) == CAPT_OK, "%s", err.message);
    CHECK(capt_pool_create(1, &single, &err) == CAPT_OK, "%s", err.message);
    capt_pool *pools[2] = {pool, single};
    for (int i = 0; i < 2; i++) /* K up to 3072 */
        CHECK(capt_pool_reserve(pools[i], capt_gemm_scratch_bytes(4096), capt_gemm_shared_bytes(4096), &err) == CAPT_OK, "%s",
              err.message);
    f16_round_trip();
    argument_errors();
    int tested = 0;
    for (int isa = 0; isa < CAPT_ISA_COUNT; isa++) {
        if (!capt_isa_available((capt_isa)isa)) continue;
        sweep((capt_isa)isa);
        model_shapes_and_threads((capt_isa)isa, pool);
        packed_column_ranges((capt_isa)isa);
        q8_0_in_registers_exact((capt_isa)isa);
        dwconv_sweep((capt_isa)isa, pool);
        if (isa != CAPT_ISA_REF) integer_path_exact((capt_isa)isa);
        if (isa == CAPT_ISA_WASM128) wide_path_exact((capt_isa)isa);
        if (isa == CAPT_ISA_WASM128) q16_path_exact((capt_isa)isa);
        tested++;
    }
    printf("  kernel sets tested: %d (best: %s)\n", tested, capt_isa_name(capt_isa_best()));
    capt_pool_free(pool);
    capt_pool_free(single);
    return check_exit("test_gemm");
}
