/* pool.c — the thread pool of pool.h. */
#include <stdlib.h>

#include "base.h"
#include "pool.h"

/* The kernels' scratch: one block of per_thread bytes per thread, then shared bytes. */
typedef struct pool_scratch {
    unsigned char *base;
    size_t per_thread, shared;
} pool_scratch;

/* 64: a cache line, and enough for any vector load the kernels do. */
#define SCRATCH_ALIGN 64

#ifdef CAPT_NO_THREADS

struct capt_pool {
    pool_scratch scratch;
};

capt_status capt_pool_create(int n_threads, capt_pool **out, capt_error *err) {
    if (!out || n_threads < 1) return capt_fail(err, CAPT_E_ARG, "thread count must be >= 1");
    *out = calloc(1, sizeof **out);
    return *out ? CAPT_OK : capt_fail(err, CAPT_E_NOMEM, "out of memory");
}
void capt_pool_free(capt_pool *pool) {
    if (pool) free(pool->scratch.base);
    free(pool);
}
int capt_pool_threads(const capt_pool *pool) {
    (void)pool;
    return 1;
}
void capt_pool_run(capt_pool *pool, capt_pool_fn fn, void *ctx, int n_tasks) {
    (void)pool;
    for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
}

#else

#include <pthread.h>
#include <stdatomic.h>

#define MAX_THREADS 256
/* How long a thread polls for the next step before it sleeps: ops follow each other
 * within microseconds (a MobileNetV2 pass is about 100 jobs in 8 ms), and waking a
 * sleeping thread (a futex call, a context switch) costs tens of microseconds. About
 * 0.1-0.3 ms of polling; then the condition variables, as before. */
#define POOL_SPINS 4096

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

typedef struct worker {
    capt_pool *pool;
    int index;
} worker;

/* The next unclaimed task of one thread's share of a job, alone on its cache line: the
 * threads claim from their own shares without touching each other's lines. */
typedef struct task_share {
    _Alignas(64) atomic_int next;
    int end;
} task_share;

struct capt_pool {
    pool_scratch scratch;
    int n_threads;
    pthread_t *threads;
    worker *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* a new job (or shutdown) for the workers */
    pthread_cond_t done;    /* the last task of a job finished */
    unsigned long job_id;   /* bumped per job, under lock */
    atomic_ulong job_seen;  /* job_id, for workers to poll without the lock */
    int shutting_down;
    /* the current job */
    capt_pool_fn fn;
    void *ctx;
    int n_tasks;
    task_share *shares; /* [n_threads] */
    int job_open;     /* workers may still join the current job, under lock */
    atomic_int busy_workers; /* workers inside run_tasks, changed under lock: a job ends at 0 */
};

/* Thread i owns tasks [i·n/T, (i+1)·n/T): contiguous tasks (a layer's rows, say) go to the
 * same thread from one job to the next, so each reads what it wrote itself, from its own
 * cache. A thread that finishes its share takes tasks from the others' (a late or
 * descheduled worker then holds up nothing). */
static void run_tasks(capt_pool *p, int thread) {
    for (int k = 0; k < p->n_threads; k++) {
        task_share *share = &p->shares[(thread + k) % p->n_threads];
        for (;;) {
            int t = atomic_fetch_add_explicit(&share->next, 1, memory_order_relaxed);
            if (t >= share->end) break;
            p->fn(p->ctx, t, thread);
        }
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    capt_pool *p = w->pool;
    unsigned long seen = 0;
    for (;;) {
        for (int spin = 0; spin < POOL_SPINS && atomic_load_explicit(&p->job_seen, memory_order_relaxed) == seen; spin++)
            cpu_relax();
        pthread_mutex_lock(&p->lock);
        while (!p->shutting_down && p->job_id == seen) pthread_cond_wait(&p->wake, &p->lock);
        if (p->shutting_down) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        seen = p->job_id;
        if (!p->job_open) { /* woke too late: the caller already finished this job */
            pthread_mutex_unlock(&p->lock);
            continue;
        }
        atomic_fetch_add(&p->busy_workers, 1);
        pthread_mutex_unlock(&p->lock);
        run_tasks(p, w->index);
        /* The caller waits for every worker to leave run_tasks, so none can claim a task
         * index of the next job with this job's counter. */
        pthread_mutex_lock(&p->lock);
        if (atomic_fetch_sub(&p->busy_workers, 1) == 1) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

capt_status capt_pool_create(int n_threads, capt_pool **out, capt_error *err) {
    if (!out || n_threads < 1 || n_threads > MAX_THREADS)
        return capt_fail(err, CAPT_E_ARG, "thread count %d is not in 1..%d", n_threads, MAX_THREADS);
    *out = NULL;
    capt_pool *p = calloc(1, sizeof *p);
    if (!p) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    p->shares = aligned_alloc(64, (size_t)n_threads * sizeof *p->shares);
    if (!p->threads || !p->workers || !p->shares) {
        free(p->threads);
        free(p->workers);
        free(p->shares);
        free(p);
        return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n_threads = 1;
    for (int i = 1; i < n_threads; i++) {
        p->workers[i] = (worker){p, i};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            capt_pool_free(p);
            return capt_fail(err, CAPT_E_NOMEM, "could not start thread %d of %d", i + 1, n_threads);
        }
        p->n_threads++;
    }
    *out = p;
    return CAPT_OK;
}

void capt_pool_free(capt_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->shutting_down = 1;
    atomic_fetch_add(&p->job_seen, 1); /* ends any polling */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p->workers);
    free(p->shares);
    free(p->scratch.base);
    free(p);
}

int capt_pool_threads(const capt_pool *p) { return p ? p->n_threads : 1; }

void capt_pool_run(capt_pool *p, capt_pool_fn fn, void *ctx, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    for (int i = 0; i < p->n_threads; i++) { /* every worker has left the last job's tasks */
        atomic_store_explicit(&p->shares[i].next, (int)((long long)i * n_tasks / p->n_threads), memory_order_relaxed);
        p->shares[i].end = (int)((long long)(i + 1) * n_tasks / p->n_threads);
    }
    p->job_id++;
    atomic_store_explicit(&p->job_seen, p->job_id, memory_order_relaxed);
    p->job_open = 1;
    pthread_cond_broadcast(&p->wake); /* no system call when every worker is polling */
    pthread_mutex_unlock(&p->lock);

    run_tasks(p, 0);

    pthread_mutex_lock(&p->lock);
    p->job_open = 0;
    pthread_mutex_unlock(&p->lock);
    /* Poll for the workers still running, then sleep; either way the lock taken last
     * orders their results before the caller reads them. */
    for (int spin = 0; spin < POOL_SPINS && atomic_load_explicit(&p->busy_workers, memory_order_relaxed) > 0; spin++)
        cpu_relax();
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->busy_workers) > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

#endif

capt_status capt_pool_reserve(capt_pool *p, size_t per_thread, size_t shared, capt_error *err) {
    if (!p) return capt_fail(err, CAPT_E_ARG, "capt_pool_reserve: NULL pool");
    if (per_thread <= p->scratch.per_thread && shared <= p->scratch.shared) return CAPT_OK;
    if (per_thread < p->scratch.per_thread) per_thread = p->scratch.per_thread;
    if (shared < p->scratch.shared) shared = p->scratch.shared;
    size_t block = (per_thread + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN, total;
    if (block < per_thread || !capt_size_mul(block, (size_t)capt_pool_threads(p), &total) ||
        !capt_size_add(total, shared, &total) || !capt_size_add(total, SCRATCH_ALIGN, &total))
        return capt_fail(err, CAPT_E_NOMEM, "kernel scratch of %zu bytes per thread overflows", per_thread);
    unsigned char *base = malloc(total);
    if (!base) return capt_fail(err, CAPT_E_NOMEM, "out of memory for %zu bytes of kernel scratch", total);
    free(p->scratch.base);
    p->scratch = (pool_scratch){base, block, shared};
    return CAPT_OK;
}

/* The block starts at the first SCRATCH_ALIGN boundary of base. */
static unsigned char *scratch_start(const capt_pool *p) {
    uintptr_t at = (uintptr_t)p->scratch.base;
    return p->scratch.base + (SCRATCH_ALIGN - at % SCRATCH_ALIGN) % SCRATCH_ALIGN;
}

void *capt_pool_scratch(const capt_pool *p, int thread, size_t *bytes) {
    *bytes = p && p->scratch.base ? p->scratch.per_thread : 0;
    return *bytes ? scratch_start(p) + (size_t)thread * p->scratch.per_thread : NULL;
}

void *capt_pool_shared(const capt_pool *p, size_t *bytes) {
    *bytes = p && p->scratch.base ? p->scratch.shared : 0;
    return p && p->scratch.base ? scratch_start(p) + (size_t)capt_pool_threads(p) * p->scratch.per_thread : NULL;
}
