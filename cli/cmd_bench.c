/* cmd_bench.c — `capt bench encoder` (ms per image: decode, resize, encode) and `capt bench
 * caption` (ms per caption at beam 1 and 3, then memory over many captions). The kernels'
 * GFLOP/s: bench/bench_kernels.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capt.h"
#include "commands.h"
#include "model_file.h"
#include "util.h"

/* The images a benchmark runs on: those given, else the four sample photos. */
static const char *const sample_photos[] = {"data/photos/astronaut.png", "data/photos/chelsea.png",
                                            "data/photos/coffee.png", "data/photos/rocket.jpg"};

static unsigned char *bench_image(const char *program, char **images, int n_images, int i, char *path,
                                  size_t path_size, size_t *len) {
    if (n_images) snprintf(path, path_size, "%s", images[i]);
    else asset_path(program, sample_photos[i], path, path_size);
    return read_file(path, len);
}

/* The model and one context with `threads` threads; prints why not. */
static int bench_open(const char *program, const char *model_path, const char *default_name, int threads,
                      cli_model *m, capt_context **ctx) {
    if (!cli_model_load(program, model_path, default_name, m)) return 0;
    capt_context_params params = capt_context_default_params();
    params.n_threads = threads;
    capt_error err;
    if (capt_context_create(m->model, &params, ctx, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s\n", err.message);
        cli_model_free(m);
        return 0;
    }
    return 1;
}

/* Untimed work before the timed runs, for min_time seconds: a JIT (V8 compiles hot wasm
 * functions again, optimized, in the background) and the threads reach their steady
 * speed, which the first image's runs would otherwise measure alone. Returns 0 on an
 * error (printed). */
static int warm_up(capt_context *ctx, const unsigned char *bytes, size_t len, const char *path, double min_time,
                   int caption) {
    capt_caption_params p = capt_caption_default_params();
    p.beam = 3;
    for (double start = now_seconds(); now_seconds() - start < min_time;) {
        capt_image *img = NULL;
        capt_features f;
        capt_result *r = NULL;
        capt_error err;
        const char *failure = NULL;
        if (caption) {
            if (capt_caption_image(ctx, bytes, len, &p, &r) != CAPT_OK) failure = capt_context_last_error(ctx);
        } else if (capt_image_decode(bytes, len, &img, &err) != CAPT_OK) {
            failure = err.message;
        } else if (capt_encode(ctx, img, &f) != CAPT_OK) {
            failure = capt_context_last_error(ctx);
        }
        if (failure) fprintf(stderr, "capt: %s: %s\n", path, failure);
        capt_image_free(img);
        capt_result_free(r);
        if (failure) return 0;
    }
    return 1;
}

/* Milliseconds per image for decoding, preprocessing and encoding, on one context. */
static int bench_encoder(const char *program, const char *model_path, int threads, double min_time, char **images,
                         int n_images) {
    cli_model m;
    capt_context *ctx;
    capt_error err;
    if (!bench_open(program, model_path, "mobilenet_v2.capt", threads, &m, &ctx)) return 1;
    printf("encoder %s, %d thread%s\n", capt_kernel_set(), threads, threads == 1 ? "" : "s");
    printf("%-28s %10s %10s %10s %10s\n", "image", "decode ms", "resize ms", "encode ms", "total ms");
    int status = 0, count = n_images ? n_images : 4;
    double sums[3] = {0, 0, 0};
    for (int i = 0; i < count && !status; i++) {
        char path[4096];
        size_t len;
        unsigned char *bytes = bench_image(program, images, n_images, i, path, sizeof path, &len);
        if (!bytes) {
            status = 1;
            break;
        }
        if (i == 0 && !warm_up(ctx, bytes, len, path, min_time, 0)) {
            free(bytes);
            status = 1;
            break;
        }
        double best[3] = {1e30, 1e30, 1e30}, start = now_seconds();
        for (int run = 0; run < 3 || now_seconds() - start < min_time; run++) {
            double t0 = now_seconds();
            capt_image *img;
            capt_features f;
            if (capt_image_decode(bytes, len, &img, &err) != CAPT_OK) {
                fprintf(stderr, "capt: %s: %s\n", path, err.message);
                status = 1;
                break;
            }
            double decode_ms = (now_seconds() - t0) * 1e3;
            if (capt_encode(ctx, img, &f) != CAPT_OK) {
                fprintf(stderr, "capt: %s: %s\n", path, capt_context_last_error(ctx));
                status = 1;
            }
            capt_image_free(img);
            if (status) break;
            double t[3] = {decode_ms, f.preprocess_ms, f.encode_ms};
            for (int k = 0; k < 3; k++) best[k] = t[k] < best[k] ? t[k] : best[k];
        }
        free(bytes);
        if (status) break;
        const char *base = strrchr(path, '/');
        printf("%-28s %10.2f %10.2f %10.2f %10.2f\n", base ? base + 1 : path, best[0], best[1], best[2],
               best[0] + best[1] + best[2]);
        for (int k = 0; k < 3; k++) sums[k] += best[k];
    }
    if (!status)
        printf("%-28s %10.2f %10.2f %10.2f %10.2f\n", "mean (best of runs)", sums[0] / count, sums[1] / count,
               sums[2] / count, (sums[0] + sums[1] + sums[2]) / count);
    capt_context_free(ctx);
    cli_model_free(&m);
    return status;
}

/* Peak and current resident memory in KiB (Linux /proc; 0 elsewhere). */
static void memory_kib(long *peak, long *now) {
    *peak = *now = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) *peak = strtol(line + 6, NULL, 10);
        if (strncmp(line, "VmRSS:", 6) == 0) *now = strtol(line + 6, NULL, 10);
    }
    if (f) fclose(f);
}

/* ms per image for a whole caption (decode, encode, caption) with greedy and beam-3
 * search, then memory: peak RSS after one caption, and RSS over `repeat` more. */
static int bench_caption(const char *program, const char *model_path, int threads, double min_time, char **images,
                         int n_images, int repeat) {
    long peak0, rss0;
    memory_kib(&peak0, &rss0);
    cli_model m;
    capt_context *ctx;
    if (!bench_open(program, model_path, "capt-default.capt", threads, &m, &ctx)) return 1;
    if (!capt_model_has_decoder(m.model)) {
        fprintf(stderr, "capt: the model has no caption decoder\n");
        capt_context_free(ctx);
        cli_model_free(&m);
        return 1;
    }
    printf("caption %s, %d thread%s: ms per image, best of runs (decode + encode + caption)\n",
           capt_kernel_set(), threads, threads == 1 ? "" : "s");
    printf("%-24s %12s %12s   %s\n", "image", "greedy ms", "beam-3 ms", "beam-3 caption");
    int status = 0, count = n_images ? n_images : 4;
    double sums[2] = {0, 0};
    unsigned char *last = NULL;
    size_t last_len = 0;
    for (int i = 0; i < count && !status; i++) {
        char path[4096];
        size_t len;
        unsigned char *bytes = bench_image(program, images, n_images, i, path, sizeof path, &len);
        if (!bytes) {
            status = 1;
            break;
        }
        if (i == 0 && !warm_up(ctx, bytes, len, path, min_time, 1)) {
            free(bytes);
            status = 1;
            break;
        }
        double best[2] = {1e30, 1e30};
        char caption[512] = "";
        for (int b = 0; b < 2 && !status; b++) {
            capt_caption_params p = capt_caption_default_params();
            p.beam = b ? 3 : 1;
            double start = now_seconds();
            for (int run = 0; run < 3 || now_seconds() - start < min_time; run++) {
                double t0 = now_seconds();
                capt_result *r;
                if (capt_caption_image(ctx, bytes, len, &p, &r) != CAPT_OK) {
                    fprintf(stderr, "capt: %s: %s\n", path, capt_context_last_error(ctx));
                    status = 1;
                    break;
                }
                double ms = (now_seconds() - t0) * 1e3;
                best[b] = ms < best[b] ? ms : best[b];
                if (b) snprintf(caption, sizeof caption, "%s", r->caption);
                capt_result_free(r);
            }
        }
        const char *base = strrchr(path, '/');
        if (!status) printf("%-24s %12.2f %12.2f   %s\n", base ? base + 1 : path, best[0], best[1], caption);
        sums[0] += best[0], sums[1] += best[1];
        free(last);
        last = bytes, last_len = len;
    }
    if (!status) {
        printf("%-24s %12.2f %12.2f\n", "mean", sums[0] / count, sums[1] / count);
        long peak, rss, peak2, rss2;
        memory_kib(&peak, &rss);
        capt_caption_params p = capt_caption_default_params();
        /* RSS sampled after the first of them and every tenth after (a soak: flat all along,
         * not just equal at both ends) */
        long first = 0, low = 0, high = 0;
        for (int k = 0; k < repeat && !status; k++) {
            capt_result *r = NULL;
            if (capt_caption_image(ctx, last, last_len, &p, &r) != CAPT_OK) status = 1;
            capt_result_free(r);
            if (k == 0 || (int64_t)(k + 1) * 10 % repeat < 10) {
                long unused, now;
                memory_kib(&unused, &now);
                if (k == 0) first = low = high = now;
                low = now < low ? now : low, high = now > high ? now : high;
            }
        }
        memory_kib(&peak2, &rss2);
        printf("memory: peak RSS %.1f MB (%.1f MB before loading the model); RSS %.1f MB -> %.1f MB over %d more "
               "captions (%+ld KiB)\n",
               peak / 1024.0, peak0 / 1024.0, rss / 1024.0, rss2 / 1024.0, repeat, rss2 - rss);
        printf("memory: RSS sampled after the first of them and every tenth: %.1f..%.1f MB, a spread of %.2f%% of "
               "the first\n",
               low / 1024.0, high / 1024.0, first ? 100.0 * (double)(high - low) / (double)first : 0.0);
    }
    free(last);
    capt_context_free(ctx);
    cli_model_free(&m);
    return status;
}

int cmd_bench(const char *program, int argc, char **argv) {
    int threads = 1;
    double min_time = 0.3;
    const char *model_path = NULL;
    int encoder = argc >= 2 && strcmp(argv[1], "encoder") == 0, caption = argc >= 2 && strcmp(argv[1], "caption") == 0;
    int repeat = 200;
    if (!encoder && !caption) {
        fprintf(stderr, "usage: capt bench encoder [--model FILE] [--threads N] [--min-time SECONDS] [IMAGE...]\n"
                        "       capt bench caption [--model FILE] [--threads N] [--min-time SECONDS] [--repeat N] [IMAGE...]\n");
        return 2;
    }
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!parse_positive_int("--threads", argv[++i], 256, &threads)) return 2;
        } else if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc) {
            char *end;
            min_time = strtod(argv[++i], &end);
            if (*end || !(min_time >= 0 && min_time <= 60)) {
                fprintf(stderr, "capt: --min-time needs seconds in 0..60\n");
                return 2;
            }
        } else if ((encoder || caption) && strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model_path = argv[++i];
        } else if (caption && strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            if (!parse_positive_int("--repeat", argv[++i], 1000000, &repeat)) return 2;
        } else {
            fprintf(stderr, "capt bench: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (encoder) return bench_encoder(program, model_path, threads, min_time, argv + i, argc - i);
    return bench_caption(program, model_path, threads, min_time, argv + i, argc - i, repeat);
}
