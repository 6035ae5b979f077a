/* pool.h — a small fixed thread pool: the caller plus n-1 workers run the tasks of one
 * job, claiming task indices from a shared counter. Builds without threads run every
 * task on the caller. */
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

#endif
