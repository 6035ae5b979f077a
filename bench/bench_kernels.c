/* bench_kernels.c — `capt-bench-kernels`: GFLOP/s of y = x·Wᵀ + b for every weight dtype
 * on every kernel set this machine runs, at the shapes of ViT-B/32 and a 512-wide
 * decoder, of depthwise convolutions at the encoder's and the detector's shapes, and each
 * vector set's peak multiply-add rate on one thread (the roof). A
 * separate program because it calls the kernels directly (the capt CLI uses
 * only the public API); built natively and, for node, as wasm (scripts/bench.sh).
 * Usage: capt-bench-kernels [--threads N] [--min-time SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "kernels.h"
#include "util.h" /* the CLI's clock and argument parsing */

typedef struct shape {
    int M, N, K;
    int float_activations; /* 1: as the caption decoder runs them (x kept in f32) */
} shape;

/* [tokens x out x in]: ViT-B/32 attention and MLP, one decoder step, a big square, and
 * MobileNetV2's shallow 1x1 convolutions (pixels x channels; the wide path's, K <= 64);
 * then the shipped caption decoder's step (d 256, MLP 1024, 7219 words) for greedy search
 * and beam 3, with x in f32 as the decoder keeps it (shapes marked "f": no integer path). */
static const shape gemm_shapes[] = {{50, 768, 768, 0}, {50, 3072, 768, 0}, {1, 512, 512, 0}, {512, 512, 512, 0},
                                    {12544, 96, 16, 0}, {3136, 144, 24, 0}, {784, 192, 32, 0}, {196, 384, 64, 0},
                                    {1, 1024, 256, 1}, {1, 7219, 256, 1}, {3, 1024, 256, 1}, {3, 7219, 256, 1}};

static float rand_unit(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*state >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* Weights [N, K] in dtype, made from uniform random floats. */
static void *make_weights(capt_dtype dtype, int N, int K, uint64_t *rng) {
    size_t row_bytes = capt_dtype_row_bytes(dtype, K);
    unsigned char *w = malloc(row_bytes * (size_t)N);
    float *row = malloc(sizeof(float) * (size_t)K);
    if (!w || !row) {
        free(w);
        free(row);
        return NULL;
    }
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) row[k] = rand_unit(rng) * 0.05f;
        unsigned char *dst = w + (size_t)n * row_bytes;
        capt_dtype_traits_of(dtype)->from_float_ref(row, dst, K);
    }
    free(row);
    return w;
}

/* capt_gemm and capt_dwconv under one signature, for time_and_print */
typedef capt_status (*kernel_call)(capt_pool *pool, capt_isa isa, const void *args, capt_error *err);
static capt_status call_gemm(capt_pool *pool, capt_isa isa, const void *args, capt_error *err) {
    return capt_gemm(pool, isa, args, err);
}
static capt_status call_dwconv(capt_pool *pool, capt_isa isa, const void *args, capt_error *err) {
    return capt_dwconv(pool, isa, args, err);
}

/* Calls the kernel for at least min_time seconds and twice, then prints its row: name,
 * dtype, kernel set, GFLOP/s (from `flop` per call) and ms per call. 1 when a call fails
 * (its message on stderr). */
static int time_and_print(kernel_call call, const void *args, capt_pool *pool, capt_isa isa, double min_time,
                          const char *name, const char *dtype, double flop) {
    capt_error err;
    int runs = 0;
    double start = now_seconds(), elapsed = 0;
    while (elapsed < min_time || runs < 2) {
        if (call(pool, isa, args, &err) != CAPT_OK) {
            fprintf(stderr, "capt-bench-kernels: %s\n", err.message);
            return 1;
        }
        runs++;
        elapsed = now_seconds() - start;
    }
    double per_run = elapsed / runs;
    printf("%-16s %-5s %-8s %10.2f %10.3f\n", name, dtype, capt_isa_name(isa), flop / per_run * 1e-9, per_run * 1e3);
    fflush(stdout);
    return 0;
}

static int bench_gemm(int threads, double min_time) {
    capt_pool *pool = NULL;
    capt_error err;
    int max_k = 1;
    for (size_t s = 0; s < sizeof gemm_shapes / sizeof gemm_shapes[0]; s++)
        max_k = gemm_shapes[s].K > max_k ? gemm_shapes[s].K : max_k;
    if (capt_pool_create(threads, &pool, &err) != CAPT_OK ||
        capt_pool_reserve(pool, capt_gemm_scratch_bytes(max_k), capt_gemm_shared_bytes(max_k), &err) != CAPT_OK) {
        capt_pool_free(pool);
        fprintf(stderr, "capt-bench-kernels: %s\n", err.message);
        return 1;
    }
    printf("gemm y = x.W^T + b, %d thread%s (M x N x K = tokens x outputs x inputs)\n", capt_pool_threads(pool),
           capt_pool_threads(pool) == 1 ? "" : "s");
    printf("%-16s %-5s %-8s %10s %10s\n", "shape", "dtype", "kernel", "GFLOP/s", "ms");
    uint64_t rng = 42;
    int status = 0;
    for (size_t s = 0; s < sizeof gemm_shapes / sizeof gemm_shapes[0] && !status; s++) {
        shape sh = gemm_shapes[s];
        float *x = malloc(sizeof(float) * (size_t)sh.M * sh.K);
        float *y = malloc(sizeof(float) * (size_t)sh.M * sh.N);
        float *bias = malloc(sizeof(float) * (size_t)sh.N);
        if (!x || !y || !bias) status = 1;
        for (size_t i = 0; !status && i < (size_t)sh.M * sh.K; i++) x[i] = rand_unit(&rng);
        for (int i = 0; !status && i < sh.N; i++) bias[i] = rand_unit(&rng);
        for (int dt = CAPT_DTYPE_F32; dt <= CAPT_DTYPE_Q4_0 && !status; dt++) {
            if (sh.K % capt_dtype_traits_of((capt_dtype)dt)->block_values) continue; /* q8_0, q4_0: K/32 blocks */
            /* the decoder's weights: q8_0 as shipped, and f32 beside them */
            if (sh.float_activations && dt != CAPT_DTYPE_Q8_0 && dt != CAPT_DTYPE_F32) continue;
            void *w = make_weights((capt_dtype)dt, sh.N, sh.K, &rng);
            if (!w) {
                status = 1;
                break;
            }
            char name[32];
            snprintf(name, sizeof name, "%dx%dx%d%s", sh.M, sh.N, sh.K, sh.float_activations ? "f" : "");
            for (int isa = 0; isa < CAPT_ISA_COUNT && !status; isa++) {
                if (!capt_isa_available((capt_isa)isa)) continue;
                capt_gemm_args args = {.x = x, .w = w, .wtype = (capt_dtype)dt, .bias = bias, .y = y,
                                       .M = sh.M, .N = sh.N, .K = sh.K, .float_activations = sh.float_activations};
                status = time_and_print(call_gemm, &args, pool, (capt_isa)isa, min_time, name,
                                        capt_dtype_name((capt_dtype)dt), 2.0 * sh.M * sh.N * sh.K);
            }
            free(w);
        }
        free(x);
        free(y);
        free(bias);
    }
    capt_pool_free(pool);
    return status;
}

/* The roof: a single thread's peak f32 multiply-add rate on each vector set, from chains
 * of independent multiply-adds on registers (12 chains: enough to cover the latency, few
 * enough for the compiler to keep them all in registers), so the
 * kernels' GFLOP/s above can be read as a fraction of it (docs/kernels.md). */
#define PEAK_ITERATIONS 2000000L
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("avx2,fma"), noinline)) static float peak_chains_avx2(long n, float seed) {
    __m256 acc[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (int j = 0; j < 12; j++) acc[j] = _mm256_set1_ps(seed + (float)j);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 12; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, c);
    float out[8], sum = 0;
    for (int j = 1; j < 12; j++) acc[0] = _mm256_add_ps(acc[0], acc[j]);
    _mm256_storeu_ps(out, acc[0]);
    for (int j = 0; j < 8; j++) sum += out[j];
    return sum;
}
__attribute__((target("avx512f"), noinline)) static float peak_chains_avx512(long n, float seed) {
    __m512 acc[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (int j = 0; j < 12; j++) acc[j] = _mm512_set1_ps(seed + (float)j);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 12; j++) acc[j] = _mm512_fmadd_ps(acc[j], m, c);
    for (int j = 1; j < 12; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
    return _mm512_reduce_add_ps(acc[0]);
}
#endif
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
__attribute__((noinline)) static float peak_chains_wasm128(long n, float seed) { /* no fused multiply-add in SIMD128: a multiply and an add */
    v128_t acc[8], m = wasm_f32x4_splat(0.999999f), c = wasm_f32x4_splat(1e-6f);
    for (int j = 0; j < 8; j++) acc[j] = wasm_f32x4_splat(seed + (float)j);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 8; j++) acc[j] = wasm_f32x4_add(wasm_f32x4_mul(acc[j], m), c);
    for (int j = 1; j < 8; j++) acc[0] = wasm_f32x4_add(acc[0], acc[j]);
    return wasm_f32x4_extract_lane(acc[0], 0) + wasm_f32x4_extract_lane(acc[0], 3);
}
#endif
#if defined(__EMSCRIPTEN__) && !defined(__wasm_simd128__)
/* The plain build has no vector instructions at all: its roof is scalar chains. */
__attribute__((noinline)) static float peak_chains_scalar(long n, float seed) {
    float acc[8];
    for (int j = 0; j < 8; j++) acc[j] = seed + (float)j;
    for (long i = 0; i < n; i++)
        for (int j = 0; j < 8; j++) acc[j] = acc[j] * 0.999999f + 1e-6f;
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}
#endif

/* Depthwise convolutions [out_h x out_w x channels, kernel, stride]: MobileNetV2's first
 * and a 7x7 one, then the detector's (CenterNet MobileNetV3 at 320: 16 channels at
 * 160x160, 5x5 windows, 720 channels at 10x10). */
typedef struct dw_shape {
    int out_h, out_w, C, k, stride;
} dw_shape;
static const dw_shape dw_shapes[] = {{112, 112, 32, 3, 1}, {7, 7, 960, 3, 1},   {160, 160, 16, 3, 1}, {80, 80, 72, 3, 1},
                                     {40, 40, 96, 5, 1},   {80, 80, 128, 3, 1}, {10, 10, 720, 5, 1}};

static int bench_dwconv(int threads, double min_time) {
    capt_pool *pool = NULL;
    capt_error err;
    if (capt_pool_create(threads, &pool, &err) != CAPT_OK) {
        fprintf(stderr, "capt-bench-kernels: %s\n", err.message);
        return 1;
    }
    printf("depthwise convolution, %d thread%s (out_h x out_w x channels, kernel k x k, stride s; padding "
           "k / 2)\n", capt_pool_threads(pool), capt_pool_threads(pool) == 1 ? "" : "s");
    printf("%-16s %-5s %-8s %10s %10s\n", "shape", "dtype", "kernel", "GFLOP/s", "ms");
    uint64_t rng = 7;
    int status = 0;
    for (size_t s = 0; s < sizeof dw_shapes / sizeof dw_shapes[0] && !status; s++) {
        dw_shape sh = dw_shapes[s];
        const int H = sh.out_h * sh.stride, W = sh.out_w * sh.stride, taps = sh.k * sh.k;
        float *x = malloc(sizeof(float) * (size_t)H * W * sh.C), *w = malloc(sizeof(float) * (size_t)taps * sh.C);
        float *bias = malloc(sizeof(float) * (size_t)sh.C), *y = malloc(sizeof(float) * (size_t)sh.out_h * sh.out_w * sh.C);
        if (!x || !w || !bias || !y) status = 1;
        for (size_t i = 0; !status && i < (size_t)H * W * sh.C; i++) x[i] = rand_unit(&rng);
        for (size_t i = 0; !status && i < (size_t)taps * sh.C; i++) w[i] = rand_unit(&rng) * 0.2f;
        for (int i = 0; !status && i < sh.C; i++) bias[i] = rand_unit(&rng);
        capt_dwconv_args args = {.x = x, .H = H, .W = W, .C = sh.C, .w = w, .bias = bias, .y = y, .out_h = sh.out_h,
                                 .out_w = sh.out_w, .kh = sh.k, .kw = sh.k, .stride_h = sh.stride,
                                 .stride_w = sh.stride, .pad_top = sh.k / 2, .pad_left = sh.k / 2, .relu6 = 1};
        char name[32];
        snprintf(name, sizeof name, "%dx%dx%d k%d s%d", sh.out_h, sh.out_w, sh.C, sh.k, sh.stride);
        for (int isa = 0; isa < CAPT_ISA_COUNT && !status; isa++)
            if (capt_isa_available((capt_isa)isa))
                status = time_and_print(call_dwconv, &args, pool, (capt_isa)isa, min_time, name, "f32",
                                        2.0 * sh.out_h * sh.out_w * sh.C * taps);
        free(x);
        free(w);
        free(bias);
        free(y);
    }
    capt_pool_free(pool);
    return status;
}

#if defined(__x86_64__) || defined(__i386__) || defined(__EMSCRIPTEN__)
/* Best of 20 calls: V8 runs a wasm function's first calls in its baseline compiler and
 * swaps in optimized code only at a later call. */
static void print_peak(const char *set, float (*chains)(long, float), int chains_count, int lanes) {
    double seconds = 1e30;
    for (int call = 0; call < 20; call++) {
        double t0 = now_seconds();
        volatile float sink = chains(PEAK_ITERATIONS, (float)call); /* a new seed: no call can be reused */
        double t = now_seconds() - t0;
        (void)sink;
        seconds = t < seconds ? t : seconds;
    }
    printf("%-16s %-5s %-8s %10.2f %10.3f\n", "peak", "f32", set,
           2.0 * PEAK_ITERATIONS * chains_count * lanes / seconds * 1e-9, seconds * 1e3);
}

#endif

static void bench_peaks(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (capt_isa_available(CAPT_ISA_AVX2)) print_peak("avx2", peak_chains_avx2, 12, 8);
    if (capt_isa_available(CAPT_ISA_AVX512)) print_peak("avx512", peak_chains_avx512, 12, 16);
#endif
#if defined(__wasm_simd128__)
    print_peak("wasm128", peak_chains_wasm128, 8, 4);
#elif defined(__EMSCRIPTEN__)
    print_peak("ref", peak_chains_scalar, 8, 1);
#endif
}

int main(int argc, char **argv) {
    int threads = 1;
    double min_time = 0.3;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!parse_positive_int("--threads", argv[++i], 256, &threads)) return 2;
        } else if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) {
            double v = strtod(argv[++i], &end);
            if (*end || !(v >= 0 && v <= 3600)) {
                fprintf(stderr, "capt-bench-kernels: --min-time must be 0..3600 seconds, not \"%s\"\n", argv[i]);
                return 2;
            }
            min_time = v;
        } else {
            fprintf(stderr, "usage: capt-bench-kernels [--threads N] [--min-time SECONDS]\n");
            return 2;
        }
    }
    int status = bench_gemm(threads, min_time);
    if (!status) status = bench_dwconv(threads, min_time);
    if (!status) bench_peaks();
    return status;
}
