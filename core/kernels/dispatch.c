/* dispatch.c — ISA detection and the threaded dispatchers of the kernels. */

#include <string.h>

#include "base.h"
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <stdatomic.h>
#define CAPT_HAVE_AVX2_KERNELS 1 /* and the AVX-512 ones, built beside them */
#endif
#if defined(__wasm_simd128__)
#define CAPT_HAVE_WASM128_KERNELS 1
#endif

const char *capt_isa_name(capt_isa isa) {
    switch (isa) {
    case CAPT_ISA_REF: return "ref";
    case CAPT_ISA_AVX2: return "avx2";
    case CAPT_ISA_WASM128: return "wasm128";
    case CAPT_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

#ifdef CAPT_HAVE_AVX2_KERNELS
/* Which x86 sets this CPU and OS run: bit 0 AVX2 + FMA + F16C (with the OS saving the
 * YMM registers), bit 1 also AVX-512F (with the OS saving the opmask and ZMM registers). */
static int cpu_x86_sets(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 6) != 6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    if (!((ebx >> 5) & 1)) return 0;
    int avx512f = (ebx >> 16) & 1, zmm_saved = (xcr0_lo & 0xe0) == 0xe0;
    return 1 | (avx512f && zmm_saved ? 2 : 0);
}

/* capt_gemm checks its ISA on every call and cpuid is slow (in a virtual machine it traps
 * to the hypervisor: 4% of an encoder pass here), so the answer, a fixed fact of the
 * machine, is computed once: 0 = not yet known, else 4 | cpu_x86_sets(). */
static atomic_int x86_known;

static int cpu_x86_has(int set) {
    int known = atomic_load_explicit(&x86_known, memory_order_relaxed);
    if (!known) {
        known = 4 | cpu_x86_sets();
        atomic_store_explicit(&x86_known, known, memory_order_relaxed);
    }
    return (known & set) != 0;
}
#endif

int capt_isa_available(capt_isa isa) {
    switch (isa) {
    case CAPT_ISA_REF: return 1;
    case CAPT_ISA_AVX2:
#ifdef CAPT_HAVE_AVX2_KERNELS
        return cpu_x86_has(1);
#else
        return 0;
#endif
    case CAPT_ISA_AVX512:
#ifdef CAPT_HAVE_AVX2_KERNELS
        return cpu_x86_has(2);
#else
        return 0;
#endif
    case CAPT_ISA_WASM128:
#ifdef CAPT_HAVE_WASM128_KERNELS
        return 1;
#else
        return 0;
#endif
    }
    return 0;
}

capt_isa capt_isa_best(void) {
    if (capt_isa_available(CAPT_ISA_AVX512)) return CAPT_ISA_AVX512;
    if (capt_isa_available(CAPT_ISA_AVX2)) return CAPT_ISA_AVX2;
    if (capt_isa_available(CAPT_ISA_WASM128)) return CAPT_ISA_WASM128;
    return CAPT_ISA_REF;
}

const char *capt_kernel_set(void) { return capt_isa_name(capt_isa_best()); }

#define KERNEL_ROW(isa)                                                                           \
    { capt_gemm_f32_f32__##isa, capt_gemm_f16_f32__##isa, capt_gemm_q8_0_f32__##isa, capt_gemm_q4_0_f32__##isa }

capt_gemm_kernel capt_gemm_kernel_for(capt_isa isa, capt_dtype wtype) {
    static const capt_gemm_kernel ref[4] = KERNEL_ROW(ref);
#ifdef CAPT_HAVE_AVX2_KERNELS
    static const capt_gemm_kernel avx2[4] = KERNEL_ROW(avx2);
    static const capt_gemm_kernel avx512[4] = KERNEL_ROW(avx512);
#endif
#ifdef CAPT_HAVE_WASM128_KERNELS
    static const capt_gemm_kernel wasm128[4] = KERNEL_ROW(wasm128);
#endif
    if (!capt_dtype_traits_of(wtype)) return NULL;
    switch (isa) {
    case CAPT_ISA_REF: return ref[wtype];
#ifdef CAPT_HAVE_AVX2_KERNELS
    case CAPT_ISA_AVX2: return avx2[wtype];
    case CAPT_ISA_AVX512: return avx512[wtype];
#endif
#ifdef CAPT_HAVE_WASM128_KERNELS
    case CAPT_ISA_WASM128: return wasm128[wtype];
#endif
    default: return NULL;
    }
}

int capt_gemm_uses_xq(capt_isa isa, const capt_gemm_args *a) {
    const capt_dtype_traits *traits = capt_dtype_traits_of(a->wtype);
    return isa != CAPT_ISA_REF && !a->float_activations && traits && traits->quantized &&
           a->M < CAPT_GEMM_INT_MAX_M;
}

int capt_gemm_uses_xq16(capt_isa isa, const capt_gemm_args *a) {
    return isa == CAPT_ISA_WASM128 && a->float_activations && a->wtype == CAPT_DTYPE_Q8_0 &&
           a->M < CAPT_GEMM_INT_MAX_M;
}

size_t capt_gemm_wide_floats(int N, int K) {
    size_t groups = N > 0 ? ((size_t)N + CAPT_GEMM_WIDE_COLS_MAX - 1) / CAPT_GEMM_WIDE_COLS_MAX : 0, floats;
    return K > 0 && capt_size_mul3((int64_t)groups, CAPT_GEMM_WIDE_COLS_MAX, K, &floats) ? floats : 0;
}

void capt_gemm_pack_wide(const void *w, capt_dtype wtype, int N, int K, float *packed) {
    float chunk[CAPT_QK]; /* weights k0..k0+31 of a row: a quantized block, or 32 f16/f32 values */
    size_t row_bytes = capt_dtype_row_bytes(wtype, K);
    memset(packed, 0, capt_gemm_wide_floats(N, K) * sizeof(float));
    for (int n = 0; n < N; n++) {
        const unsigned char *row = (const unsigned char *)w + (size_t)n * row_bytes;
        float *group = packed + (size_t)(n / CAPT_GEMM_WIDE_COLS_MAX) * CAPT_GEMM_WIDE_COLS_MAX * K;
        for (int k0 = 0; k0 < K; k0 += CAPT_QK) {
            int count = K - k0 < CAPT_QK ? K - k0 : CAPT_QK;
            capt_dequantize_row(wtype, row + capt_dtype_row_bytes(wtype, k0), chunk, count);
            for (int k = 0; k < count; k++)
                group[(size_t)(k0 + k) * CAPT_GEMM_WIDE_COLS_MAX + n % CAPT_GEMM_WIDE_COLS_MAX] = chunk[k];
        }
    }
}

/* Row tasks hold multiples of 12 rows: whole register tiles of every ISA and path (3 or
 * 2 rows, wide 6, 4 or 3). */
#define GEMM_ROW_UNIT 12

typedef struct gemm_job {
    const capt_gemm_args *args;
    capt_gemm_kernel kernel;
    const capt_pool *pool; /* each thread's scratch: capt_gemm_scratch_floats(K) floats */
    int tasks;             /* each task: its share of the units, */
    int unit;              /* in columns of every row (a multiple of 16), */
    int by_rows;           /* or, when set, in GEMM_ROW_UNIT rows of every column */
} gemm_job;

static void gemm_task(void *ctx, int task, int thread) {
    const gemm_job *job = ctx;
    const capt_gemm_args *a = job->args;
    size_t bytes;
    float *scratch = capt_pool_scratch(job->pool, thread, &bytes);
    int extent = job->by_rows ? a->M : a->N, units = (extent + job->unit - 1) / job->unit;
    int begin = (int)((long long)task * units / job->tasks) * job->unit;
    int end = (int)((long long)(task + 1) * units / job->tasks) * job->unit;
    if (end > extent) end = extent;
    if (!job->by_rows) {
        job->kernel(a, begin, end, scratch);
        return;
    }
    capt_gemm_args rows = *a; /* rows begin..end of x and y */
    rows.x = a->x + (size_t)begin * a->K;
    rows.y = a->y + (size_t)begin * a->N;
    rows.M = end - begin;
    job->kernel(&rows, 0, a->N, scratch);
}

capt_status capt_gemm(capt_pool *pool, capt_isa isa, const capt_gemm_args *in, capt_error *err) {
    if (!in || !in->x || !in->w || !in->y || in->M < 1 || in->N < 1 || in->K < 1)
        return capt_fail(err, CAPT_E_ARG, "gemm: NULL pointer or empty shape");
    const capt_dtype_traits *traits = capt_dtype_traits_of(in->wtype);
    if (!traits) return capt_fail(err, CAPT_E_UNSUPPORTED, "gemm: unknown weight dtype %d", (int)in->wtype);
    if (in->K % traits->block_values)
        return capt_fail(err, CAPT_E_ARG, "gemm: K=%d must be a multiple of %d for %s weights", in->K,
                         traits->block_values, traits->name);
    capt_gemm_kernel kernel = capt_gemm_kernel_for(isa, in->wtype);
    if (!kernel || !capt_isa_available(isa))
        return capt_fail(err, CAPT_E_UNSUPPORTED, "gemm: no %s kernel for %s weights on this machine",
                         capt_isa_name(isa), traits->name);
    capt_gemm_args args = *in;
    args.xq = NULL;
    args.xq16 = NULL;
    int threads = capt_pool_threads(pool);
    gemm_job job = {&args, kernel, pool, 0, 0, 0};
    /* Scratch comes from the pool, reserved when its context was made: no allocation here. */
    size_t have, have_shared, need = capt_gemm_scratch_bytes(in->K);
    capt_pool_scratch(pool, 0, &have);
    void *shared = capt_pool_shared(pool, &have_shared); /* x quantized, for the integer paths */
    int use_xq = capt_gemm_uses_xq(isa, in), use_xq16 = capt_gemm_uses_xq16(isa, in);
    if (have < need || ((use_xq || use_xq16) && have_shared < capt_gemm_shared_bytes(in->K)))
        return capt_fail(err, CAPT_E_ARG, "gemm: K=%d needs %zu bytes of scratch per thread, the pool has %zu "
                         "(capt_pool_reserve)", in->K, need, have);
    if (use_xq) {
        for (int m = 0; m < in->M; m++)
            capt_quantize_row_q8_0(in->x + (size_t)m * in->K, (capt_block_q8_0 *)shared + (size_t)m * (in->K / CAPT_QK),
                                   in->K);
        args.xq = shared;
    }
    if (use_xq16) {
        for (int m = 0; m < in->M; m++)
            capt_quantize_row_q16(in->x + (size_t)m * in->K, (capt_block_q16 *)shared + (size_t)m * (in->K / CAPT_QK),
                                  in->K);
        args.xq16 = shared;
    }
    /* Tasks take an even share of whole units, two tasks a thread (the pool hands thread i
     * the i-th share: the same rows in every layer, the pixels it wrote last).
     * Many rows (an encoder's pixels): split them, so threads write apart (columns of a
     * narrow output share cache lines) and each reads its rows of x once; every thread
     * then prepares all the weight panels, cheap beside its rows' products. Fewer rows:
     * split the columns, in whole cache lines of y, and each thread packs only its panels. */
    int wide = in->K <= CAPT_GEMM_WIDE_MAX_K || in->w_wide;
    job.by_rows = !args.xq && in->M >= CAPT_GEMM_ROW_SPLIT_M * threads;
    job.unit = job.by_rows ? GEMM_ROW_UNIT : wide ? CAPT_GEMM_WIDE_COLS_MAX : 16;
    int units = ((job.by_rows ? in->M : in->N) + job.unit - 1) / job.unit;
    job.tasks = threads == 1 ? 1 : units < 2 * threads ? units : 2 * threads;
    capt_pool_run(pool, gemm_task, &job, job.tasks);
    return CAPT_OK;
}

capt_dwconv_kernel capt_dwconv_kernel_for(capt_isa isa) {
    switch (isa) {
    case CAPT_ISA_REF: return capt_dwconv_f32__ref;
#ifdef CAPT_HAVE_AVX2_KERNELS
    case CAPT_ISA_AVX2: return capt_dwconv_f32__avx2;
    case CAPT_ISA_AVX512: return capt_dwconv_f32__avx512;
#endif
#ifdef CAPT_HAVE_WASM128_KERNELS
    case CAPT_ISA_WASM128: return capt_dwconv_f32__wasm128;
#endif
    default: return NULL;
    }
}

typedef struct dwconv_job {
    const capt_dwconv_args *args;
    capt_dwconv_kernel kernel;
    int rows_per_task;
} dwconv_job;

static void dwconv_task(void *ctx, int task, int thread) {
    (void)thread;
    const dwconv_job *job = ctx;
    int r0 = task * job->rows_per_task, r1 = r0 + job->rows_per_task;
    job->kernel(job->args, r0, r1 < job->args->out_h ? r1 : job->args->out_h);
}

capt_status capt_dwconv(capt_pool *pool, capt_isa isa, const capt_dwconv_args *a, capt_error *err) {
    if (!a || !a->x || !a->w || !a->bias || !a->y || a->H < 1 || a->W < 1 || a->C < 1 || a->out_h < 1 ||
        a->out_w < 1 || a->kh < 1 || a->kw < 1 || a->stride_h < 1 || a->stride_w < 1)
        return capt_fail(err, CAPT_E_ARG, "dwconv: NULL pointer or empty shape");
    capt_dwconv_kernel kernel = capt_dwconv_kernel_for(isa);
    /* An AVX-512 vector holds 16 channels; counts that leave a tail (CenterNet's 72, 120,
     * 184, 200) would send it through the scalar path at every pixel: AVX2's 8 cover them. */
    if (isa == CAPT_ISA_AVX512 && a->C % 16) kernel = capt_dwconv_kernel_for(CAPT_ISA_AVX2);
    if (!kernel || !capt_isa_available(isa))
        return capt_fail(err, CAPT_E_UNSUPPORTED, "dwconv: no %s kernel on this machine", capt_isa_name(isa));
    int threads = capt_pool_threads(pool);
    int tasks = threads == 1 ? 1 : threads * 4;
    if (tasks > a->out_h) tasks = a->out_h;
    dwconv_job job = {a, kernel, (a->out_h + tasks - 1) / tasks};
    capt_pool_run(pool, dwconv_task, &job, (a->out_h + job.rows_per_task - 1) / job.rows_per_task);
    return CAPT_OK;
}
