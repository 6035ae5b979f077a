/* util.h — small helpers of the command-line tool. */
#ifndef CAPT_CLI_UTIL_H
#define CAPT_CLI_UTIL_H

#include <stddef.h>

#include "capt.h"

/* Reads a whole file ("-" is stdin). Returns NULL and prints "capt: PATH: reason" on
 * failure. *len gets the size; the buffer has one extra NUL byte after the data. */
unsigned char *read_file(const char *path, size_t *len);

/* Decodes an image file; on failure writes the reason into `why` and returns NULL. */
capt_image *load_image(const char *path, char *why, size_t why_size);

/* Seconds on a monotonic clock. */
double now_seconds(void);

/* Where ../shared lives: $CAPT_ASSETS, else next to the project (found from argv[0]),
 * else ../shared. Writes "<assets>/<relative>" into out. */
void asset_path(const char *argv0, const char *relative, char *out, size_t out_size);

/* A file of the project (e.g. "weights/x.capt") found from the program's location, else
 * relative to the working directory; returns 0 when it is not readable there either. */
int project_path(const char *program, const char *relative, char *out, size_t out_size);

/* Reads a list file: one path per line (blank lines skipped), each prefixed by root
 * ("root/path") when root is given. Returns the paths (caller frees each and the array)
 * and their count in *n, or NULL after printing why. */
char **cli_read_list(const char *list, const char *root, int *n);

/* Parses a positive int argument; prints an error and returns 0 when it is not one. */
int parse_positive_int(const char *flag, const char *text, int max, int *out);

/* Runs fn(arg) on `threads` threads (the caller is one of them) and waits for all;
 * builds without threads run it once on the caller. */
void run_workers(void *(*fn)(void *), void *arg, int threads);

/* A mutex that does nothing in builds without threads (the wasm CLI). */
#ifndef CAPT_NO_THREADS
#include <pthread.h>
typedef pthread_mutex_t cli_mutex;
#define cli_mutex_init(m) pthread_mutex_init(m, NULL)
#define cli_mutex_lock(m) pthread_mutex_lock(m)
#define cli_mutex_unlock(m) pthread_mutex_unlock(m)
#define cli_mutex_destroy(m) pthread_mutex_destroy(m)
#else
typedef int cli_mutex;
#define cli_mutex_init(m) ((void)(m))
#define cli_mutex_lock(m) ((void)(m))
#define cli_mutex_unlock(m) ((void)(m))
#define cli_mutex_destroy(m) ((void)(m))
#endif

#endif
