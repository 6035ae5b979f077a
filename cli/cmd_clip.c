/* cmd_clip.c — `capt embed` (a CLIP embedding of an image, a text or raw pixels, as a
 * JSON array) and `capt similarity` (zero-shot classification of an image among texts). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model_file.h"
#include "strbuf.h"
#include "util.h"

static int needs_clip(const cli_model *m, const char *path) {
    if (capt_model_embed_dim(m->model) > 0 && capt_model_has_text(m->model)) return 1;
    fprintf(stderr, "capt: %s is not a CLIP model (it needs encoder.type \"vit\" and a text tower; "
                    "convert one with tools/convert_clip.py)\n", path);
    return 0;
}

static void print_array(const float *v, int n) {
    strbuf b = {0};
    sb_printf(&b, "[");
    for (int i = 0; i < n; i++) sb_printf(&b, "%s%.9g", i ? ", " : "", (double)v[i]);
    sb_printf(&b, "]");
    char *text = sb_take(&b);
    if (text) puts(text);
    else fprintf(stderr, "capt: out of memory\n");
    free(text);
}

/* The encoder's input size, from the model file. */
static int input_size(const capt_model *m, int *width, int *height) {
    const capt_meta *w = capt_file_find_meta(capt_model_file(m), "preprocess.width");
    const capt_meta *h = capt_file_find_meta(capt_model_file(m), "preprocess.height");
    *width = (int)w->int_value; /* checked by capt_model_load */
    *height = (int)h->int_value;
    return 1;
}

/* Embeds an image file (pixels == 0) or a raw float32 [3, H, W] file (pixels == 1). */
static int embed_image(capt_context *ctx, const capt_model *m, const char *path, int pixels, capt_features *f) {
    if (pixels) {
        size_t len;
        unsigned char *bytes = read_file(path, &len);
        if (!bytes) return 0;
        int w, h;
        input_size(m, &w, &h);
        int ok = len == (size_t)3 * w * h * sizeof(float);
        if (!ok)
            fprintf(stderr, "capt: %s: %zu bytes; --pixels needs float32 [3, %d, %d] (%zu bytes)\n", path, len, h, w,
                    (size_t)3 * w * h * sizeof(float));
        float *values = ok ? malloc(len) : NULL;
        if (ok && !values) fprintf(stderr, "capt: out of memory\n"), ok = 0;
        if (ok) memcpy(values, bytes, len); /* aligned copy; the engine reads little-endian floats */
        free(bytes);
        if (ok && capt_encode_pixels(ctx, values, w, h, f) != CAPT_OK) {
            fprintf(stderr, "capt: %s: %s\n", path, capt_context_last_error(ctx));
            ok = 0;
        }
        free(values);
        return ok;
    }
    char why[256];
    capt_image *img = load_image(path, why, sizeof why);
    if (!img) {
        fprintf(stderr, "capt: %s: %s\n", path, why);
        return 0;
    }
    int ok = capt_encode(ctx, img, f) == CAPT_OK;
    if (!ok) fprintf(stderr, "capt: %s: %s\n", path, capt_context_last_error(ctx));
    capt_image_free(img);
    return ok;
}

static int setup(const char *program, const char *model_path, cli_model *m, capt_context **ctx) {
    if (!cli_model_load(program, model_path, "clip.capt", m)) return 0;
    capt_error err;
    if (!needs_clip(m, model_path ? model_path : "weights/clip.capt")) {
        cli_model_free(m);
        return 0;
    }
    if (capt_context_create(m->model, NULL, ctx, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s\n", err.message);
        cli_model_free(m);
        return 0;
    }
    return 1;
}

int cmd_embed(const char *program, int argc, char **argv) {
    const char *model_path = NULL, *image = NULL, *text = NULL, *pixels = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) image = argv[++i];
        else if (strcmp(argv[i], "--text") == 0 && i + 1 < argc) text = argv[++i];
        else if (strcmp(argv[i], "--pixels") == 0 && i + 1 < argc) pixels = argv[++i];
        else {
            fprintf(stderr, "capt embed: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!!image + !!text + !!pixels != 1) {
        fprintf(stderr, "usage: capt embed [--model FILE] (--image IMAGE | --text TEXT | --pixels FILE.f32)\n");
        return 2;
    }
    cli_model m;
    capt_context *ctx;
    if (!setup(program, model_path, &m, &ctx)) return 1;
    int ok;
    if (text) {
        capt_text_embedding e;
        ok = capt_embed_text(ctx, text, strlen(text), &e) == CAPT_OK;
        if (ok) print_array(e.embedding, e.dim);
        else fprintf(stderr, "capt: %s\n", capt_context_last_error(ctx));
    } else {
        capt_features f;
        ok = embed_image(ctx, m.model, image ? image : pixels, pixels != NULL, &f);
        if (ok) print_array(f.embedding, f.embed_dim);
    }
    capt_context_free(ctx);
    cli_model_free(&m);
    return ok ? 0 : 1;
}

static double norm(const float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

int cmd_similarity(const char *program, int argc, char **argv) {
    const char *model_path = NULL, *image = NULL;
    int json = 0, first_text = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "capt similarity: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        } else if (!image) image = argv[i];
        else {
            first_text = i;
            break;
        }
    }
    if (!image || !first_text) {
        fprintf(stderr, "usage: capt similarity [--model FILE] [--json] IMAGE TEXT...\n");
        return 2;
    }
    int n = argc - first_text;
    cli_model m;
    capt_context *ctx;
    if (!setup(program, model_path, &m, &ctx)) return 1;
    capt_features f;
    int dim = capt_model_embed_dim(m.model), ok = embed_image(ctx, m.model, image, 0, &f);
    float *img = ok ? malloc(sizeof(float) * dim) : NULL;
    double *cosine = ok ? calloc((size_t)n, sizeof *cosine) : NULL, *prob = ok ? calloc((size_t)n, sizeof *prob) : NULL;
    if (ok && (!img || !cosine || !prob)) fprintf(stderr, "capt: out of memory\n"), ok = 0;
    if (ok) memcpy(img, f.embedding, sizeof(float) * dim);
    double img_norm = ok ? norm(img, dim) : 0, scale = capt_model_logit_scale(m.model), max = -INFINITY, sum = 0;
    for (int t = 0; ok && t < n; t++) {
        capt_text_embedding e;
        const char *text = argv[first_text + t];
        if (capt_embed_text(ctx, text, strlen(text), &e) != CAPT_OK) {
            fprintf(stderr, "capt: \"%s\": %s\n", text, capt_context_last_error(ctx));
            ok = 0;
            break;
        }
        double dot = 0;
        for (int i = 0; i < dim; i++) dot += (double)img[i] * e.embedding[i];
        double denom = img_norm * norm(e.embedding, dim);
        cosine[t] = denom > 0 ? dot / denom : 0;
        max = scale * cosine[t] > max ? scale * cosine[t] : max;
    }
    /* softmax over the texts of logit_scale * cosine, as CLIP's logits_per_image */
    for (int t = 0; ok && t < n; t++) sum += prob[t] = exp(scale * cosine[t] - max);
    for (int t = 0; ok && t < n; t++) prob[t] /= sum;
    if (ok && json) {
        strbuf b = {0};
        sb_printf(&b, "{\"image\":");
        sb_json_string(&b, image, strlen(image));
        sb_printf(&b, ",\"logit_scale\":%.9g,\"results\":[", scale);
        for (int t = 0; t < n; t++) {
            sb_printf(&b, "%s{\"text\":", t ? "," : "");
            sb_json_string(&b, argv[first_text + t], strlen(argv[first_text + t]));
            sb_printf(&b, ",\"cosine\":%.9g,\"logit\":%.9g,\"probability\":%.9g}", cosine[t], scale * cosine[t], prob[t]);
        }
        sb_printf(&b, "]}");
        char *out = sb_take(&b);
        if (out) puts(out);
        else fprintf(stderr, "capt: out of memory\n"), ok = 0;
        free(out);
    } else if (ok) {
        printf("%-8s %-8s %s\n", "cosine", "prob", "text");
        for (int t = 0; t < n; t++) printf("%-8.4f %6.2f%%  %s\n", cosine[t], 100.0 * prob[t], argv[first_text + t]);
    }
    free(img);
    free(cosine);
    free(prob);
    capt_context_free(ctx);
    cli_model_free(&m);
    return ok ? 0 : 1;
}
