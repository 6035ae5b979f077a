/* util.c — file reading, clocks and argument parsing for the command-line tool. */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifndef CAPT_NO_THREADS
#include <pthread.h>
#endif

unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "capt: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    /* A regular file is read into one allocation of its size (a 600 MB model must not need
     * twice that while a doubling buffer grows); pipes grow the buffer as they go. */
    size_t cap = 1 << 16, n = 0;
    struct stat st;
    if (f != stdin && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uintmax_t)st.st_size < SIZE_MAX / 2)
        cap = (size_t)st.st_size + 1; /* +1: see the end at once */
    unsigned char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            unsigned char *bigger = cap < SIZE_MAX / 4 ? realloc(buf, cap * 2 + 1) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int failed = !buf || ferror(f);
    if (f != stdin) fclose(f);
    if (failed) {
        fprintf(stderr, "capt: %s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void asset_path(const char *argv0, const char *relative, char *out, size_t out_size) {
    const char *env = getenv("CAPT_ASSETS");
    if (env && *env) {
        snprintf(out, out_size, "%s/%s", env, relative);
        return;
    }
    /* build/capt -> <project>/../shared */
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    if (slash) {
        snprintf(out, out_size, "%.*s/../../shared/%s", (int)(slash - argv0), argv0, relative);
        if (access(out, R_OK) == 0) return;
    }
    snprintf(out, out_size, "../shared/%s", relative);
}

int parse_positive_int(const char *flag, const char *text, int max, int *out) {
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || end == text || *end || v < 1 || v > max) {
        fprintf(stderr, "capt: %s needs a whole number in 1..%d, not \"%s\"\n", flag, max, text ? text : "");
        return 0;
    }
    *out = (int)v;
    return 1;
}

int project_path(const char *program, const char *relative, char *out, size_t out_size) {
    /* build/capt -> <project>/<relative>; else relative to the working directory. */
    const char *slash = program ? strrchr(program, '/') : NULL;
    if (slash) {
        snprintf(out, out_size, "%.*s/../%s", (int)(slash - program), program, relative);
        if (access(out, R_OK) == 0) return 1;
    }
    snprintf(out, out_size, "%s", relative);
    return access(out, R_OK) == 0;
}

void run_workers(void *(*fn)(void *), void *arg, int threads) {
#ifndef CAPT_NO_THREADS
    pthread_t *tids = calloc((size_t)(threads > 0 ? threads : 1), sizeof *tids);
    int started = 0;
    for (int t = 1; tids && t < threads; t++)
        if (pthread_create(&tids[t], NULL, fn, arg) == 0) started++;
    fn(arg);
    for (int t = 1; t <= started; t++) pthread_join(tids[t], NULL);
    free(tids);
#else
    (void)threads;
    fn(arg);
#endif
}

/* Decodes an image file; on failure writes the reason into `why`. */
capt_image *load_image(const char *path, char *why, size_t why_size) {
    size_t len;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        snprintf(why, why_size, "cannot open");
        return NULL;
    }
    fclose(probe);
    unsigned char *bytes = read_file(path, &len);
    if (!bytes) {
        snprintf(why, why_size, "cannot read");
        return NULL;
    }
    capt_image *img = NULL;
    capt_error err;
    if (capt_image_decode(bytes, len, &img, &err) != CAPT_OK) snprintf(why, why_size, "%s", err.message);
    free(bytes);
    return img;
}

char **cli_read_list(const char *list, const char *root, int *n) {
    size_t len;
    char *text = (char *)read_file(list, &len);
    if (!text) return NULL;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    char **paths = calloc(cap, sizeof *paths);
    *n = 0;
    for (char *line = text; paths && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (l) {
            size_t need = (root ? strlen(root) + 1 : 0) + l + 1;
            paths[*n] = malloc(need);
            if (!paths[*n]) break;
            snprintf(paths[*n], need, "%s%s%s", root ? root : "", root ? "/" : "", line);
            (*n)++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return paths;
}
