/* cmd_encode.c — `capt classify` (top-5 ImageNet labels) and `capt features` (the visual
 * tokens of many images, for training). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CAPT_NO_THREADS
#include <stdatomic.h>
#endif

#include "capt.h"
#include "commands.h"
#include "model_file.h"
#include "util.h"

#define DEFAULT_ENCODER "mobilenet_v2.capt"

/* ---- classify --------------------------------------------------------------------------- */

int cmd_classify(const char *program, int argc, char **argv) {
    const char *model_path = NULL;
    int top = 5, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            if (!parse_positive_int("--top", argv[++i], 1000, &top)) return 2;
        } else {
            fprintf(stderr, "capt classify: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: capt classify [--model FILE] [--top N] IMAGE...\n");
        return 2;
    }
    cli_model m;
    if (!cli_model_load(program, model_path, DEFAULT_ENCODER, &m)) return 1;
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
        capt_features f;
        if (!img) {
            fprintf(stderr, "capt: %s: %s\n", argv[i], why);
            failures++;
            continue;
        }
        if (capt_encode(ctx, img, &f) != CAPT_OK) {
            fprintf(stderr, "capt: %s: %s\n", argv[i], capt_context_last_error(ctx));
            failures++;
            capt_image_free(img);
            continue;
        }
        capt_image_free(img);
        /* softmax, then the top classes by selection */
        double max = f.logits[0], sum = 0;
        for (int c = 1; c < f.n_classes; c++) max = f.logits[c] > max ? f.logits[c] : max;
        for (int c = 0; c < f.n_classes; c++) sum += exp(f.logits[c] - max);
        printf("%s\n", argv[i]);
        int shown[1000], n_shown = 0;
        for (int k = 0; k < top && k < f.n_classes; k++) {
            int best = -1;
            for (int c = 0; c < f.n_classes; c++) {
                int taken = 0;
                for (int s = 0; s < n_shown; s++) taken |= shown[s] == c;
                if (!taken && (best < 0 || f.logits[c] > f.logits[best])) best = c;
            }
            shown[n_shown++] = best;
            capt_str label = capt_model_label(m.model, (size_t)best);
            printf("  %.4f  %.*s\n", exp(f.logits[best] - max) / sum, (int)label.len, label.ptr);
        }
    }
    capt_context_free(ctx);
    cli_model_free(&m);
    return failures ? 1 : 0;
}

/* ---- features ----------------------------------------------------------------------------- */

typedef struct feature_job {
    const capt_model *model;
    char **paths;
    int n;
    int n_tokens, channels; /* visual tokens per image (capt_features.tokens) */
    FILE *npy;           /* single-file output: rows at their list index */
    const char *out_dir; /* or one .npy per image */
    unsigned char *ok;   /* [n] 1 when the image's row was written */
    int flip;            /* mirror images left-right first (training augmentation) */
    int n_threads;
    double start;
#ifndef CAPT_NO_THREADS
    atomic_int next, done;
#else
    int next, done;
#endif
    cli_mutex lock; /* the output file, stderr */
} feature_job;

#define NPY_HEADER_BYTES 128

/* A numpy .npy v1.0 header for float16 [rows, tokens, channels], padded to 128 bytes. */
static void npy_header(unsigned char out[NPY_HEADER_BYTES], int rows, int tokens, int channels) {
    char dict[NPY_HEADER_BYTES];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f2', 'fortran_order': False, 'shape': (%d, %d, %d), }", rows,
                     tokens, channels);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (NPY_HEADER_BYTES - 10) & 0xff;
    out[9] = (NPY_HEADER_BYTES - 10) >> 8;
    memset(out + 10, ' ', NPY_HEADER_BYTES - 10);
    memcpy(out + 10, dict, (size_t)n);
    out[NPY_HEADER_BYTES - 1] = '\n';
}


static void progress(feature_job *job, int done, int final) {
    static const int width = 30;
    double elapsed = now_seconds() - job->start, rate = elapsed > 0 ? done / elapsed : 0;
    int filled = job->n ? (int)((long)done * width / job->n) : width;
    int tty = isatty(2);
    if (!final && !tty && done % (job->n / 10 + 1) != 0) return;
    fprintf(stderr, "%sfeatures [%.*s%*s] %d/%d  %.1f images/s  ETA %.0f s%s", tty ? "\r" : "", filled,
            "##############################", width - filled, "", done, job->n, rate,
            rate > 0 ? (job->n - done) / rate : 0.0, tty && !final ? "" : "\n");
}

static int write_row(feature_job *job, int index, const capt_features *f, uint16_t *half) {
    size_t count = (size_t)job->n_tokens * job->channels;
    capt_dtype_from_float(CAPT_DTYPE_F16, f->tokens, half, (int64_t)count);
    if (job->npy) {
        cli_mutex_lock(&job->lock);
        int ok = fseek(job->npy, (long)(NPY_HEADER_BYTES + (size_t)index * count * 2), SEEK_SET) == 0 &&
                 fwrite(half, 2, count, job->npy) == count;
        cli_mutex_unlock(&job->lock);
        return ok;
    }
    const char *base = strrchr(job->paths[index], '/');
    base = base ? base + 1 : job->paths[index];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", job->out_dir, base);
    FILE *out = fopen(path, "wb");
    unsigned char header[NPY_HEADER_BYTES];
    npy_header(header, 1, job->n_tokens, job->channels);
    int ok = out && fwrite(header, 1, sizeof header, out) == sizeof header && fwrite(half, 2, count, out) == count;
    if (out && fclose(out) != 0) ok = 0;
    return ok;
}

static void mirror(capt_image *img) {
    for (int y = 0; y < img->height; y++) {
        uint8_t *row = img->rgb + (size_t)y * img->width * 3;
        for (int a = 0, b = img->width - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = row[3 * a + c];
                row[3 * a + c] = row[3 * b + c];
                row[3 * b + c] = t;
            }
    }
}

static void *feature_worker(void *arg) {
    feature_job *job = arg;
    capt_context *ctx = NULL;
    capt_error err;
    uint16_t *half = malloc(sizeof(uint16_t) * (size_t)job->n_tokens * job->channels);
    if (!half || capt_context_create(job->model, NULL, &ctx, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s\n", half ? err.message : "out of memory");
        free(half);
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
        if (img && job->flip) mirror(img);
        capt_features f;
        int ok = img && capt_encode(ctx, img, &f) == CAPT_OK;
        if (img && !ok) snprintf(why, sizeof why, "%s", capt_context_last_error(ctx));
        capt_image_free(img);
        if (ok && (f.n_tokens != job->n_tokens || f.channels != job->channels)) {
            snprintf(why, sizeof why, "unexpected grid size");
            ok = 0;
        }
        if (ok && !write_row(job, i, &f, half)) {
            snprintf(why, sizeof why, "cannot write the output");
            ok = 0;
        }
        job->ok[i] = (unsigned char)ok;
#ifndef CAPT_NO_THREADS
        int done = atomic_fetch_add(&job->done, 1) + 1;
#else
        int done = ++job->done;
#endif
        cli_mutex_lock(&job->lock);
        if (!ok) fprintf(stderr, "%scapt: %s: skipped: %s\n", isatty(2) ? "\r" : "", job->paths[i], why);
        progress(job, done, done == job->n);
        cli_mutex_unlock(&job->lock);
    }
    capt_context_free(ctx);
    free(half);
    return NULL;
}

/* Moves the rows of successful images together (failed ones leave holes) and writes the
 * final header; the names file lists the rows in order. */
static int finish_npy(feature_job *job, const char *names_path) {
    size_t row_bytes = (size_t)job->n_tokens * job->channels * 2;
    unsigned char *row = malloc(row_bytes);
    FILE *names = fopen(names_path, "w");
    int rows = 0, ok = row && names;
    for (int i = 0; ok && i < job->n; i++) {
        if (!job->ok[i]) continue;
        if (rows != i)
            ok = fseek(job->npy, (long)(NPY_HEADER_BYTES + (size_t)i * row_bytes), SEEK_SET) == 0 &&
                 fread(row, 1, row_bytes, job->npy) == row_bytes &&
                 fseek(job->npy, (long)(NPY_HEADER_BYTES + (size_t)rows * row_bytes), SEEK_SET) == 0 &&
                 fwrite(row, 1, row_bytes, job->npy) == row_bytes;
        fprintf(names, "%s\n", job->paths[i]);
        rows++;
    }
    unsigned char header[NPY_HEADER_BYTES];
    npy_header(header, rows, job->n_tokens, job->channels);
    ok = ok && fseek(job->npy, 0, SEEK_SET) == 0 && fwrite(header, 1, sizeof header, job->npy) == sizeof header &&
         fflush(job->npy) == 0 && ftruncate(fileno(job->npy), (off_t)(NPY_HEADER_BYTES + (size_t)rows * row_bytes)) == 0;
    if (names && fclose(names) != 0) ok = 0;
    free(row);
    return ok;
}

int cmd_features(const char *program, int argc, char **argv) {
    const char *model_path = NULL, *list = NULL, *root = NULL, *out = NULL;
    int threads = 1, flip = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (strcmp(argv[i], "--flip") == 0) flip = 1;
        else if (strcmp(argv[i], "--list") == 0 && i + 1 < argc) list = argv[++i];
        else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) root = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!parse_positive_int("--threads", argv[++i], 256, &threads)) return 2;
        } else {
            fprintf(stderr, "capt features: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!list || !out) {
        fprintf(stderr, "usage: capt features [--model FILE] --list LIST [--root DIR] --out FILE.npy|DIR "
                        "[--threads N] [--flip]\n");
        return 2;
    }
    size_t out_len = strlen(out);
    int single = out_len > 4 && strcmp(out + out_len - 4, ".npy") == 0;
    struct stat st;
    if (!single && (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "capt: --out %s is neither a .npy file name nor an existing directory\n", out);
        return 2;
    }
    int n = 0;
    char **paths = cli_read_list(list, root, &n);
    if (!paths) return 1;
    cli_model m;
    if (!cli_model_load(program, model_path, DEFAULT_ENCODER, &m)) {
        for (int i = 0; i < n; i++) free(paths[i]);
        free(paths);
        return 1;
    }
    feature_job job = {0};
    job.model = m.model;
    job.paths = paths;
    job.n = n;
    job.out_dir = single ? NULL : out;
    job.flip = flip;
    job.ok = calloc((size_t)(n ? n : 1), 1);
    job.start = now_seconds();
    /* The grid size comes from one run on a blank image. */
    {
        capt_context *ctx;
        capt_error err;
        capt_features f;
        uint8_t px[4] = {0, 0, 0, 255};
        capt_image *blank = NULL;
        if (capt_context_create(m.model, NULL, &ctx, &err) == CAPT_OK &&
            capt_image_from_rgba(px, 1, 1, 4, &blank, &err) == CAPT_OK && capt_encode(ctx, blank, &f) == CAPT_OK) {
            job.n_tokens = f.n_tokens;
            job.channels = f.channels;
        }
        capt_image_free(blank);
        capt_context_free(ctx);
    }
    int status = 0;
    if (single) {
        job.npy = fopen(out, "w+b");
        if (!job.npy) {
            fprintf(stderr, "capt: cannot create %s\n", out);
            status = 1;
        }
    }
    if (!status && job.n_tokens) {
        cli_mutex_init(&job.lock);
        run_workers(feature_worker, &job, threads);
        cli_mutex_destroy(&job.lock);
        if (n == 0) progress(&job, 0, 1);
    }
    int written = 0;
    for (int i = 0; i < n; i++) written += job.ok[i];
    if (job.npy) {
        char names[4096];
        snprintf(names, sizeof names, "%.*s.txt", (int)(out_len - 4), out);
        if (!finish_npy(&job, names)) {
            fprintf(stderr, "capt: cannot finish %s\n", out);
            status = 1;
        }
        fclose(job.npy);
        fprintf(stderr, "capt: %d of %d images -> %s (names in %s)\n", written, n, out, names);
    }
    if (written < n) status = 1;
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(job.ok);
    cli_model_free(&m);
    return status;
}

/* ---- decode --------------------------------------------------------------------------- */

/* `capt decode IMAGE OUT.ppm [--size WxH]`: the RGB pixels the engine sees (decoded,
 * upright, alpha over white; optionally resized), as binary PPM. */
int cmd_decode(const char *program, int argc, char **argv) {
    const char *in_path = NULL, *out_path = NULL, *model_path = NULL;
    int width = 0, height = 0;
    capt_resample filter = CAPT_RESAMPLE_BILINEAR;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &width, &height) != 2 || width < 1 || height < 1) {
                fprintf(stderr, "capt decode: --size needs WIDTHxHEIGHT\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "bilinear") && strcmp(f, "bicubic")) {
                fprintf(stderr, "capt decode: --filter is bilinear or bicubic\n");
                return 2;
            }
            filter = strcmp(f, "bicubic") == 0 ? CAPT_RESAMPLE_BICUBIC : CAPT_RESAMPLE_BILINEAR;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "capt decode: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        } else if (!in_path) in_path = argv[i];
        else if (!out_path) out_path = argv[i];
        else in_path = NULL, i = argc;
    }
    if (!in_path || !out_path || (model_path && width)) {
        fprintf(stderr, "usage: capt decode IMAGE OUT.ppm [--size WxH [--filter bilinear|bicubic] | --model F]\n");
        return 2;
    }
    char why[256];
    capt_image *img = load_image(in_path, why, sizeof why);
    if (!img) {
        fprintf(stderr, "capt: %s: %s\n", in_path, why);
        return 1;
    }
    cli_model m = {0};
    if (model_path && !cli_model_load(program, model_path, DEFAULT_ENCODER, &m)) {
        capt_image_free(img);
        return 1;
    }
    if (width || model_path) {
        capt_image *resized;
        capt_error err;
        capt_status st = model_path ? capt_model_fit_image(m.model, img, &resized, &err)
                                    : capt_image_resample(img, width, height, filter, &resized, &err);
        cli_model_free(&m);
        capt_image_free(img);
        if (st != CAPT_OK) {
            fprintf(stderr, "capt: %s\n", err.message);
            return 1;
        }
        img = resized;
    }
    FILE *out = fopen(out_path, "wb");
    size_t n = (size_t)img->width * img->height * 3;
    int ok = out && fprintf(out, "P6\n%d %d\n255\n", img->width, img->height) > 0 && fwrite(img->rgb, 1, n, out) == n;
    if (out && fclose(out) != 0) ok = 0;
    if (!ok) fprintf(stderr, "capt: cannot write %s\n", out_path);
    capt_image_free(img);
    return ok ? 0 : 1;
}
