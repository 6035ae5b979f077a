/* cmd_attention.c — `capt attention IMAGE --out FILE.png`: the image once per generated
 * word, each with that word's cross-attention heatmap (layer 2 and the head average by
 * default) and the word under it; the caption on top. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h> /* system includes (CMakeLists.txt): their warnings are not ours */
#include <stb/stb_easy_font.h>

#include "capt.h"
#include "commands.h"
#include "model_file.h"
#include "util.h"

#define PANEL 224      /* pixels a side of each picture */
#define LABEL 28       /* pixels of text under it */
#define COLUMNS 4
#define TEXT_SCALE 2   /* stb_easy_font's glyphs are ~7 px tall */

typedef struct canvas {
    int w, h;
    unsigned char *rgb;
} canvas;

/* Draws text with stb_easy_font's quads, scaled, in `color`. */
static void draw_text(canvas *c, int x0, int y0, const char *text, const unsigned char color[3]) {
    static float quads[6000 * 4 * 4];
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    unsigned char unused[4] = {0, 0, 0, 255};
    int n = stb_easy_font_print(0, 0, buf, unused, quads, sizeof quads);
    for (int q = 0; q < n; q++) {
        const float *v = quads + q * 16; /* 4 vertices of x, y, z, color */
        int xa = x0 + (int)(v[0] * TEXT_SCALE), ya = y0 + (int)(v[1] * TEXT_SCALE);
        int xb = x0 + (int)(v[8] * TEXT_SCALE), yb = y0 + (int)(v[9] * TEXT_SCALE);
        for (int y = ya; y < yb; y++)
            for (int x = xa; x < xb; x++)
                if (x >= 0 && y >= 0 && x < c->w && y < c->h) memcpy(c->rgb + ((size_t)y * c->w + x) * 3, color, 3);
    }
}

/* A warm colour map: dark red -> orange -> yellow -> white. */
static void heat_color(float t, float out[3]) {
    out[0] = fminf(1.0f, 0.3f + 1.4f * t);
    out[1] = fminf(1.0f, fmaxf(0.0f, 1.6f * t - 0.35f));
    out[2] = fminf(1.0f, fmaxf(0.0f, 2.0f * t - 1.2f));
}

/* The image with a heatmap of `att` [gh * gw], bilinearly upsampled from cell centres. */
static void draw_panel(canvas *c, int x0, int y0, const capt_image *img, const float *att, int gh, int gw) {
    float max = 1e-12f;
    for (int i = 0; att && i < gh * gw; i++) max = fmaxf(max, att[i]);
    for (int y = 0; y < PANEL; y++) {
        for (int x = 0; x < PANEL; x++) {
            const unsigned char *p = img->rgb + ((size_t)y * img->width + x) * 3;
            unsigned char *dst = c->rgb + ((size_t)(y0 + y) * c->w + x0 + x) * 3;
            if (!att) {
                memcpy(dst, p, 3);
                continue;
            }
            float gy = fminf(fmaxf((y + 0.5f) * gh / PANEL - 0.5f, 0.0f), gh - 1.0f);
            float gx = fminf(fmaxf((x + 0.5f) * gw / PANEL - 0.5f, 0.0f), gw - 1.0f);
            int iy = (int)gy, ix = (int)gx, iy1 = iy + 1 < gh ? iy + 1 : iy, ix1 = ix + 1 < gw ? ix + 1 : ix;
            float fy = gy - iy, fx = gx - ix;
            float a = (att[iy * gw + ix] * (1 - fx) + att[iy * gw + ix1] * fx) * (1 - fy) +
                      (att[iy1 * gw + ix] * (1 - fx) + att[iy1 * gw + ix1] * fx) * fy;
            float t = a / max, color[3];
            heat_color(t, color);
            /* attended cells glow, the rest of the picture dims */
            float alpha = 0.7f * t * t, shade = 0.45f + 0.55f * t;
            for (int k = 0; k < 3; k++)
                dst[k] = (unsigned char)lrintf(p[k] * shade * (1 - alpha) + 255.0f * color[k] * alpha);
        }
    }
}

int cmd_attention(const char *program, int argc, char **argv) {
    const char *model_path = NULL, *out_path = NULL, *image_path = NULL;
    int layer = 2, head = 0, beam = 3; /* head 0 = the average */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int ok = 1;
        if (strcmp(a, "--out") == 0 && i + 1 < argc) out_path = argv[++i];
        else if (strcmp(a, "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (strcmp(a, "--layer") == 0 && i + 1 < argc) ok = parse_positive_int(a, argv[++i], 256, &layer);
        else if (strcmp(a, "--head") == 0 && i + 1 < argc) ok = parse_positive_int(a, argv[++i], 256, &head);
        else if (strcmp(a, "--beam") == 0 && i + 1 < argc) ok = parse_positive_int(a, argv[++i], CAPT_MAX_BEAM, &beam);
        else if (a[0] != '-' && !image_path) image_path = a;
        else {
            fprintf(stderr, "capt attention: unknown or incomplete argument \"%s\"\n", a);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!image_path || !out_path) {
        fprintf(stderr, "usage: capt attention IMAGE --out FILE.png [--model F] [--layer L] [--head H] [--beam N]\n"
                        "  layer and head count from 1; without --head, the average of the heads\n");
        return 2;
    }
    cli_model m;
    if (!cli_model_load(program, model_path, "capt-default.capt", &m)) return 1;
    capt_context *ctx = NULL;
    capt_error err;
    capt_image *img = NULL, *small = NULL;
    capt_result *r = NULL;
    size_t len;
    unsigned char *bytes = read_file(image_path, &len);
    int status = 1;
    capt_caption_params p = capt_caption_default_params();
    p.beam = beam;
    if (!bytes) goto done;
    if (capt_context_create(m.model, NULL, &ctx, &err) || capt_image_decode(bytes, len, &img, &err) ||
        capt_image_resize(img, PANEL, PANEL, &small, &err)) {
        fprintf(stderr, "capt: %s: %s\n", image_path, err.message);
        goto done;
    }
    if (capt_caption(ctx, img, &p, &r) != CAPT_OK) {
        fprintf(stderr, "capt: %s: %s\n", image_path, capt_context_last_error(ctx));
        goto done;
    }
    if (layer > r->layers || head > r->heads) {
        fprintf(stderr, "capt: the model has %d layers and %d heads\n", r->layers, r->heads);
        status = 2;
        goto done;
    }
    int panels = r->n_tokens + 1, rows = (panels + COLUMNS - 1) / COLUMNS, top = 64;
    canvas c = {COLUMNS * PANEL, top + rows * (PANEL + LABEL), NULL};
    c.rgb = malloc((size_t)c.w * c.h * 3);
    if (!c.rgb) goto done;
    memset(c.rgb, 255, (size_t)c.w * c.h * 3);
    static const unsigned char ink[3] = {20, 20, 20};
    char settings[64];
    snprintf(settings, sizeof settings, "layer %d, %s", layer, head ? "one head" : "average of the heads");
    draw_text(&c, 8, 8, r->caption, ink);
    draw_text(&c, 8, 34, settings, ink);
    size_t cells = (size_t)r->grid_h * r->grid_w;
    for (int i = 0; i < panels; i++) {
        int x0 = (i % COLUMNS) * PANEL, y0 = top + (i / COLUMNS) * (PANEL + LABEL);
        const float *att = NULL;
        char label[128];
        if (i == 0) snprintf(label, sizeof label, "image");
        else {
            int t = i - 1;
            att = head ? r->attention + (((size_t)(layer - 1) * r->heads + head - 1) * r->n_tokens + t) * cells
                       : r->attention_mean + ((size_t)(layer - 1) * r->n_tokens + t) * cells;
            snprintf(label, sizeof label, "%s (%.0f%%)", r->tokens[t].text, 100 * r->tokens[t].prob);
        }
        draw_panel(&c, x0, y0, small, att, r->grid_h, r->grid_w);
        draw_text(&c, x0 + 6, y0 + PANEL + 6, label, ink);
    }
    if (!stbi_write_png(out_path, c.w, c.h, 3, c.rgb, c.w * 3)) fprintf(stderr, "capt: cannot write %s\n", out_path);
    else {
        printf("%s\t%s\n", image_path, r->caption);
        status = 0;
    }
    free(c.rgb);
done:
    capt_result_free(r);
    capt_image_free(small);
    capt_image_free(img);
    capt_context_free(ctx);
    free(bytes);
    cli_model_free(&m);
    return status;
}
