/* pool.h — a small fixed thread pool: the caller plus n-1 workers run the tasks of one
 * job, claiming task indices from a shared counter, each with scratch memory of its
 * own. Builds without threads run every task on the caller. */
#ifndef CAPT_POOL_H
#define CAPT_POOL_H

#include "capt.h"

typedef struct capt_pool capt_pool;

/* task: index in [0, n_tasks); thread: index in [0, capt_pool_threads) of the runner. */
typedef void (*capt_pool_fn)(void *ctx, int task, int thread);

/* n_threads counts the caller; it is clamped to 1 in builds without threads. */
capt_status capt_pool_create(int n_threads, capt_pool **out, capt_error *err);
void capt_pool_free(capt_pool *pool);
int capt_pool_threads(const capt_pool *pool); /* 1 for NULL */

/* Runs fn for every task and returns when all are done. A NULL pool runs them inline. */
void capt_pool_run(capt_pool *pool, capt_pool_fn fn, void *ctx, int n_tasks);

/* The kernels' scratch memory, reserved by whoever makes the pool (a context, when it
 * is created: the one place the kernels' memory is allocated, so inference allocates
 * nothing): per_thread bytes for each thread and shared bytes for all. It only grows;
 * a failure leaves the old reservation. */
capt_status capt_pool_reserve(capt_pool *pool, size_t per_thread, size_t shared, capt_error *err);
/* Thread `thread`'s block (64-byte aligned) and its size in *bytes; NULL and 0 when
 * nothing is reserved (or pool is NULL). */
void *capt_pool_scratch(const capt_pool *pool, int thread, size_t *bytes);
/* The shared block and its size. */
void *capt_pool_shared(const capt_pool *pool, size_t *bytes);

#endif
