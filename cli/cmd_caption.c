/* cmd_caption.c — `capt caption`: captions for images, a directory, or paths on stdin,
 * as text or JSON lines, on several threads with a progress bar. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capt.h"
#include "commands.h"
#include "model_file.h"
#include "strbuf.h"
#include "util.h"

#define DEFAULT_MODEL "capt-default.capt"

typedef struct paths {
    char **v;
    int n, cap;
} paths;

static int add_path(paths *p, const char *s, size_t len) {
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        char **v = realloc(p->v, sizeof *v * (size_t)cap);
        if (!v) return 0;
        p->v = v, p->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, s, len);
    copy[len] = 0;
    p->v[p->n++] = copy;
    return 1;
}

static void free_paths(paths *p) {
    for (int k = 0; k < p->n; k++) free(p->v[k]);
    free(p->v);
    *p = (paths){0};
}

static int has_image_extension(const char *name) {
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".JPG", ".JPEG", ".PNG", ".BMP", ".GIF"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof ext / sizeof ext[0]; i++)
        if (strcmp(dot, ext[i]) == 0) return 1;
    return 0;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* IMAGE, DIR (its image files, sorted) or "-" (one path per line on stdin). */
static int collect(const char *arg, paths *out) {
    if (strcmp(arg, "-") == 0) {
        size_t len;
        char *text = (char *)read_file("-", &len);
        if (!text) return 0;
        for (char *line = text; *line;) {
            char *nl = strchr(line, '\n');
            size_t l = nl ? (size_t)(nl - line) : strlen(line);
            while (l && (line[l - 1] == '\r' || line[l - 1] == ' ')) l--;
            if (l && !add_path(out, line, l)) return free(text), 0;
            if (!nl) break;
            line = nl + 1;
        }
        free(text);
        return 1;
    }
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(arg);
        if (!d) return add_path(out, arg, strlen(arg)); /* reported as unreadable later */
        int first = out->n;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (e->d_name[0] == '.' || !has_image_extension(e->d_name)) continue;
            char path[4096];
            int n = snprintf(path, sizeof path, "%s/%s", arg, e->d_name);
            if (!add_path(out, path, (size_t)n)) return closedir(d), 0;
        }
        closedir(d);
        qsort(out->v + first, (size_t)(out->n - first), sizeof *out->v, compare_strings);
        return 1;
    }
    return add_path(out, arg, strlen(arg));
}

typedef struct job {
    const capt_model *model;
    capt_caption_params params;
    paths in;
    int json, first_logits;
    char **lines;  /* [n] finished output, printed in input order */
    int next, done, printed, failed;
    cli_mutex lock;
    double start;
} job;


static void format_result(strbuf *b, const char *path, const capt_result *r, int json, int first_logits) {
    if (!json) {
        sb_printf(b, "%s\t%s\n", path, r->caption);
        return;
    }
    size_t cells = (size_t)r->grid_h * r->grid_w;
    sb_printf(b, "{\"image\":");
    sb_json_string(b, path, strlen(path));
    sb_printf(b, ",\"caption\":");
    sb_json_string(b, r->caption, strlen(r->caption));
    sb_printf(b, ",\"tokens\":[");
    for (int t = 0; t < r->n_tokens; t++) {
        sb_printf(b, t ? ",{\"id\":%d,\"text\":" : "{\"id\":%d,\"text\":", (int)r->tokens[t].id);
        sb_json_string(b, r->tokens[t].text, strlen(r->tokens[t].text));
        sb_printf(b, ",\"p\":%.5f}", r->tokens[t].prob);
    }
    sb_printf(b, "],\"attention\":{\"layers\":%d,\"heads\":%d,\"grid\":[%d,%d],\"maps\":[", r->layers, r->heads,
              r->grid_h, r->grid_w);
    for (int l = 0; l < r->layers; l++) {
        sb_printf(b, l ? ",[" : "[");
        for (int h = 0; h < r->heads; h++) {
            sb_printf(b, h ? ",[" : "[");
            for (int t = 0; t < r->n_tokens; t++) {
                const float *m = r->attention + (((size_t)l * r->heads + h) * r->n_tokens + t) * cells;
                sb_printf(b, t ? ",[" : "[");
                for (size_t c = 0; c < cells; c++) sb_printf(b, c ? ",%.4f" : "%.4f", m[c]);
                sb_printf(b, "]");
            }
            sb_printf(b, "]");
        }
        sb_printf(b, "]");
    }
    sb_printf(b, "],\"mean\":[");
    for (int l = 0; l < r->layers; l++) {
        sb_printf(b, l ? ",[" : "[");
        for (int t = 0; t < r->n_tokens; t++) {
            const float *m = r->attention_mean + ((size_t)l * r->n_tokens + t) * cells;
            sb_printf(b, t ? ",[" : "[");
            for (size_t c = 0; c < cells; c++) sb_printf(b, c ? ",%.4f" : "%.4f", m[c]);
            sb_printf(b, "]");
        }
        sb_printf(b, "]");
    }
    sb_printf(b, "]},\"concepts\":[");
    for (int i = 0; i < r->n_concepts; i++) {
        sb_printf(b, "%s{\"label\":", i ? "," : "");
        sb_json_string(b, r->concepts[i].label.ptr, r->concepts[i].label.len);
        sb_printf(b, ",\"p\":%.4f}", (double)r->concepts[i].prob);
    }
    /* the detected objects the decoder read, and each token's attention to them (head average) */
    sb_printf(b, "],\"detections\":[");
    for (int i = 0; i < r->n_detections; i++) {
        const capt_detection *d = &r->detections[i];
        sb_printf(b, "%s{\"label\":", i ? "," : "");
        sb_json_string(b, d->label.ptr, d->label.len);
        sb_printf(b, ",\"class\":%d,\"score\":%.4f,\"box\":[%.4f,%.4f,%.4f,%.4f]}", d->class_index, (double)d->score,
                  (double)d->x0, (double)d->y0, (double)d->x1, (double)d->y1);
    }
    sb_printf(b, "],\"detection_attention\":[");
    for (int l = 0; l < r->layers; l++) {
        sb_printf(b, l ? ",[" : "[");
        for (int t = 0; t < r->n_tokens; t++) {
            const float *m = r->detection_attention + ((size_t)l * r->n_tokens + t) * r->n_detections;
            sb_printf(b, t ? ",[" : "[");
            for (int k = 0; k < r->n_detections; k++) sb_printf(b, k ? ",%.4f" : "%.4f", m[k]);
            sb_printf(b, "]");
        }
        sb_printf(b, "]");
    }
    sb_printf(b, "],\"timings_ms\":{\"decode\":%.2f,\"encode\":%.2f,\"detect\":%.2f,\"caption\":%.2f}", r->decode_ms,
              r->encode_ms, r->detect_ms, r->caption_ms);
    if (first_logits) {
        sb_printf(b, ",\"first_logits\":[");
        for (int v = 0; v < r->vocab; v++) sb_printf(b, v ? ",%.6g" : "%.6g", r->first_logits[v]);
        sb_printf(b, "]");
    }
    sb_printf(b, "}\n");
}

static void format_error(strbuf *b, const char *path, const char *why, int json) {
    if (!json) {
        sb_printf(b, "%s\terror: %s\n", path, why);
        return;
    }
    sb_printf(b, "{\"image\":");
    sb_json_string(b, path, strlen(path));
    sb_printf(b, ",\"error\":");
    sb_json_string(b, why, strlen(why));
    sb_printf(b, "}\n");
}

static void show_progress(job *j) {
    if (j->in.n < 2 || !isatty(2)) return;
    double rate = j->done / (now_seconds() - j->start + 1e-9);
    fprintf(stderr, "\rcaption [%-30.*s] %d/%d  %.1f images/s ", j->done * 30 / j->in.n,
            "##############################", j->done, j->in.n, rate);
    if (j->done == j->in.n) fputc('\n', stderr);
}

static void *worker(void *arg) {
    job *j = arg;
    capt_context *ctx = NULL;
    capt_error err;
    int ok_ctx = capt_context_create(j->model, NULL, &ctx, &err) == CAPT_OK;
    for (;;) {
        cli_mutex_lock(&j->lock);
        int i = j->next++;
        cli_mutex_unlock(&j->lock);
        if (i >= j->in.n) break;
        strbuf b = {0};
        int failed = 1;
        size_t len;
        FILE *probe = fopen(j->in.v[i], "rb");
        unsigned char *bytes = NULL;
        if (probe) {
            fclose(probe);
            bytes = read_file(j->in.v[i], &len);
        }
        capt_result *r = NULL;
        if (!ok_ctx) format_error(&b, j->in.v[i], err.message, j->json);
        else if (!bytes) format_error(&b, j->in.v[i], "cannot open or read the file", j->json);
        else if (capt_caption_image(ctx, bytes, len, &j->params, &r) != CAPT_OK)
            format_error(&b, j->in.v[i], capt_context_last_error(ctx), j->json);
        else {
            format_result(&b, j->in.v[i], r, j->json, j->first_logits);
            failed = 0;
        }
        capt_result_free(r);
        free(bytes);
        char *line = sb_take(&b);
        cli_mutex_lock(&j->lock);
        j->lines[i] = line ? line : calloc(1, 1);
        j->failed += failed;
        j->done++;
        while (j->printed < j->in.n && j->lines[j->printed]) {
            fputs(j->lines[j->printed], stdout);
            fflush(stdout);
            free(j->lines[j->printed]);
            j->lines[j->printed++] = (char *)""; /* printed */
        }
        show_progress(j);
        cli_mutex_unlock(&j->lock);
    }
    capt_context_free(ctx);
    return NULL;
}

int cmd_caption(const char *program, int argc, char **argv) {
    const char *model_path = NULL;
    job j;
    memset(&j, 0, sizeof j);
    j.params = capt_caption_default_params();
    int threads = 1;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (strcmp(a, "--json") == 0) j.json = 1;
        else if (strcmp(a, "--first-logits") == 0) j.json = j.first_logits = 1;
        else if (strcmp(a, "--raw") == 0) j.params.raw = 1;
        else if (strcmp(a, "--no-concepts") == 0) j.params.no_concepts = 1;
        else if (!v) ok = 0;
        else if (strcmp(a, "--model") == 0) model_path = argv[++i];
        else if (strcmp(a, "--beam") == 0) ok = parse_positive_int(a, argv[++i], CAPT_MAX_BEAM, &j.params.beam);
        else if (strcmp(a, "--max-tokens") == 0) ok = parse_positive_int(a, argv[++i], 1000, &j.params.max_tokens);
        else if (strcmp(a, "--threads") == 0) ok = parse_positive_int(a, argv[++i], 256, &threads);
        else if (strcmp(a, "--no-repeat-ngram") == 0) ok = parse_positive_int(a, argv[++i], 16, &j.params.no_repeat_ngram);
        else if (strcmp(a, "--alpha") == 0) j.params.length_alpha = strtof(argv[++i], NULL);
        else if (strcmp(a, "--temperature") == 0) j.params.temperature = strtof(argv[++i], NULL);
        else if (strcmp(a, "--top-p") == 0) j.params.top_p = strtof(argv[++i], NULL);
        else if (strcmp(a, "--seed") == 0) j.params.seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "capt caption: unknown option \"%s\"\n", a);
            return 2;
        }
        if (!ok) {
            if (!v) fprintf(stderr, "capt caption: %s needs a value\n", a);
            return 2;
        }
    }
    if (j.params.temperature > 0 && j.params.beam == capt_caption_default_params().beam) j.params.beam = 1;
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) {
        fprintf(stderr, "usage: capt caption [--model FILE] [--beam N] [--max-tokens N] [--threads N] [--json] [--raw]\n"
                        "                    [--alpha A] [--no-repeat-ngram N] [--temperature T --top-p P --seed S]\n"
                        "                    [--no-concepts]\n"
                        "                    IMAGE|DIR|- ...\n");
        return 2;
    }
    for (; i < argc; i++)
        if (!collect(argv[i], &j.in)) {
            fprintf(stderr, "capt: out of memory reading the image list\n");
            free_paths(&j.in);
            return 1;
        }
    cli_model m;
    if (!cli_model_load(program, model_path, DEFAULT_MODEL, &m)) {
        free_paths(&j.in);
        return 1;
    }
    int status = 0;
    if (!capt_model_has_decoder(m.model)) {
        fprintf(stderr, "capt: this model has no caption decoder (an encoder-only file); use capt classify\n");
        status = 1;
    }
    j.model = m.model;
    j.lines = calloc((size_t)(j.in.n ? j.in.n : 1), sizeof *j.lines);
    j.start = now_seconds();
    if (!status && j.lines) {
        cli_mutex_init(&j.lock);
        run_workers(worker, &j, threads < j.in.n ? threads : j.in.n);
        cli_mutex_destroy(&j.lock);
        if (j.failed) {
            fprintf(stderr, "capt: %d of %d images failed\n", j.failed, j.in.n);
            status = 1;
        }
    }
    free_paths(&j.in);
    free(j.lines);
    cli_model_free(&m);
    return status;
}
