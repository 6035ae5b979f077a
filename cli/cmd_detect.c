/* cmd_detect.c — `capt detect`: the objects the model's detector finds (docs/detector.md),
 * for people (one image at a time) and for training (a list of images, in parallel, as
 * JSON lines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CAPT_NO_THREADS
#include <stdatomic.h>
#endif

#include "capt.h"
#include "commands.h"
#include "model_file.h"
#include "strbuf.h"
#include "util.h"

#define DEFAULT_MODEL "capt-default.capt"

static const char usage[] =
    "usage: capt detect [--model FILE] [--min-score S] [--json] IMAGE...\n"
    "       capt detect [--model FILE] [--min-score S] --list LIST [--root DIR] --out FILE.jsonl [--threads N]\n";

/* One image's detections as a JSON object: {"image": ..., "detect_ms": ..., "detections":
 * [{"label", "class", "score", "box": [x0, y0, x1, y1]}]} (box in 0..1 image units). */
static char *detections_json(const char *image, const capt_detections *d) {
    strbuf b = {0};
    sb_printf(&b, "{\"image\": ");
    sb_json_string(&b, image, strlen(image));
    sb_printf(&b, ", \"detect_ms\": %.2f, \"detections\": [", d->detect_ms);
    for (int k = 0; k < d->n; k++) {
        const capt_detection *t = &d->items[k];
        sb_printf(&b, "%s{\"label\": ", k ? ", " : "");
        sb_json_string(&b, t->label.ptr, t->label.len);
        sb_printf(&b, ", \"class\": %d, \"score\": %.9g, \"box\": [%.9g, %.9g, %.9g, %.9g]}", t->class_index, t->score,
                  t->x0, t->y0, t->x1, t->y1);
    }
    sb_printf(&b, "]}");
    return sb_take(&b);
}

typedef struct detect_job {
    const capt_model *model;
    char **paths;
    char **lines; /* [n]: each image's JSON, NULL where it failed */
    int n;
    float min_score;
    double start;
#ifndef CAPT_NO_THREADS
    atomic_int next, done;
#else
    int next, done;
#endif
    cli_mutex lock; /* stderr */
} detect_job;

static void *detect_worker(void *arg) {
    detect_job *job = arg;
    capt_context *ctx;
    capt_error err;
    if (capt_context_create(job->model, NULL, &ctx, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s\n", err.message);
        return NULL;
    }
    for (;;) {
#ifndef CAPT_NO_THREADS
        int i = atomic_fetch_add(&job->next, 1);
#else
        int i = job->next++;
#endif
        if (i >= job->n) break;
        char why[256] = "";
        capt_image *img = load_image(job->paths[i], why, sizeof why);
        capt_detections d;
        if (img && capt_detect(ctx, img, job->min_score, &d) == CAPT_OK) {
            const char *base = strrchr(job->paths[i], '/');
            job->lines[i] = detections_json(base ? base + 1 : job->paths[i], &d);
            if (!job->lines[i]) snprintf(why, sizeof why, "out of memory");
        } else if (img) {
            snprintf(why, sizeof why, "%s", capt_context_last_error(ctx));
        }
        capt_image_free(img);
#ifndef CAPT_NO_THREADS
        int done = atomic_fetch_add(&job->done, 1) + 1;
#else
        int done = ++job->done;
#endif
        cli_mutex_lock(&job->lock);
        if (!job->lines[i]) fprintf(stderr, "capt: %s: skipped: %s\n", job->paths[i], why);
        if (done == job->n || done % 1000 == 0)
            fprintf(stderr, "detect: %d/%d  %.1f images/s\n", done, job->n, done / (now_seconds() - job->start));
        cli_mutex_unlock(&job->lock);
    }
    capt_context_free(ctx);
    return NULL;
}

/* The list mode: every image of LIST, one JSON line each, in the list's order. */
static int detect_list(const capt_model *model, const char *list, const char *root, const char *out_path,
                       float min_score, int threads) {
    int n = 0;
    char **paths = cli_read_list(list, root, &n);
    if (!paths) return 1;
    detect_job job = {0};
    job.model = model, job.paths = paths, job.n = n, job.min_score = min_score, job.start = now_seconds();
    job.lines = calloc((size_t)(n ? n : 1), sizeof *job.lines);
    int status = job.lines ? 0 : 1;
    if (!status) {
        cli_mutex_init(&job.lock);
        run_workers(detect_worker, &job, threads);
        cli_mutex_destroy(&job.lock);
    }
    FILE *out = status ? NULL : fopen(out_path, "w");
    int written = 0;
    for (int i = 0; out && i < n; i++)
        if (job.lines[i]) written += fprintf(out, "%s\n", job.lines[i]) > 0;
    if (!out || fclose(out) != 0) {
        fprintf(stderr, "capt: cannot write %s\n", out_path);
        status = 1;
    } else {
        fprintf(stderr, "capt: %d of %d images -> %s\n", written, n, out_path);
    }
    if (written < n) status = 1;
    for (int i = 0; i < n; i++) {
        free(paths[i]);
        if (job.lines) free(job.lines[i]);
    }
    free(paths);
    free(job.lines);
    return status;
}

int cmd_detect(const char *program, int argc, char **argv) {
    const char *model_path = NULL, *list = NULL, *root = NULL, *out = NULL;
    int json = 0, threads = 1, i = 1;
    float min_score = 0.3f;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--list") == 0 && i + 1 < argc) list = argv[++i];
        else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) root = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!parse_positive_int("--threads", argv[++i], 256, &threads)) return 2;
        } else if (strcmp(argv[i], "--min-score") == 0 && i + 1 < argc) {
            char *end;
            min_score = strtof(argv[++i], &end);
            if (*end || !(min_score >= 0.0f && min_score <= 1.0f)) {
                fprintf(stderr, "capt detect: --min-score needs a number in 0..1\n");
                return 2;
            }
        } else {
            fprintf(stderr, "capt detect: unknown or incomplete option \"%s\"\n%s", argv[i], usage);
            return 2;
        }
    }
    if (list ? !out || i < argc : i >= argc || out || root) {
        fputs(usage, stderr);
        return 2;
    }
    cli_model m;
    if (!cli_model_load(program, model_path, DEFAULT_MODEL, &m)) return 1;
    if (!capt_model_has_detector(m.model)) {
        fprintf(stderr, "capt: %s has no object detector\n", model_path ? model_path : DEFAULT_MODEL);
        cli_model_free(&m);
        return 1;
    }
    if (list) {
        int status = detect_list(m.model, list, root, out, min_score, threads);
        cli_model_free(&m);
        return status;
    }
    capt_context *ctx;
    capt_error err;
    if (capt_context_create(m.model, NULL, &ctx, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s\n", err.message);
        cli_model_free(&m);
        return 1;
    }
    int failures = 0;
    for (; i < argc; i++) {
        char why[256];
        capt_image *img = load_image(argv[i], why, sizeof why);
        capt_detections d;
        if (!img || capt_detect(ctx, img, min_score, &d) != CAPT_OK) {
            fprintf(stderr, "capt: %s: %s\n", argv[i], img ? capt_context_last_error(ctx) : why);
            capt_image_free(img);
            failures++;
            continue;
        }
        if (json) {
            char *line = detections_json(argv[i], &d);
            if (line) printf("%s\n", line);
            else failures++;
            free(line);
        } else {
            printf("%s\n", argv[i]);
            for (int k = 0; k < d.n; k++) {
                const capt_detection *t = &d.items[k];
                /* the box in the image's own pixels */
                printf("  %.3f  %-16.*s %5.0f %5.0f %5.0f %5.0f\n", t->score, (int)t->label.len, t->label.ptr,
                       t->x0 * img->width, t->y0 * img->height, t->x1 * img->width, t->y1 * img->height);
            }
        }
        capt_image_free(img);
    }
    capt_context_free(ctx);
    cli_model_free(&m);
    return failures ? 1 : 0;
}
