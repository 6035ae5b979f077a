/* test_decoder_golden.c — the C decoder against PyTorch (tests/golden/decoder_golden.capt,
 * written by train/export.py for 8 Flickr8k test images):
 * - the encoder's grid of each image equals the one training stored (f16) to one f16 step
 *   (values are in [0, 6]: a step is at most 2^-8; other compilers may round a value the
 *   other way);
 * - from that grid, the logits of the first 3 greedy steps are within 1e-3 (max abs) of
 *   PyTorch on the shipped file's exact dequantized weights; against the fp32 weights the
 *   largest difference is reported;
 * - the decoder loaded with its step weights kept in f32 (or quantized, where the kernel
 *   set keeps them in f32) gives the same logits bit for bit, 3 beams at once;
 * - the greedy and beam-3 captions (without concept guidance) equal PyTorch's on the
 *   shipped weights, all 8 (and any that differ from the fp32 model's are listed);
 * - for a decoder with detection tokens, PyTorch read the detection slots stored beside
 *   each grid, and the engine's own detections of the image equal them.
 * Usage: test_decoder_golden MODEL.capt GOLDEN.capt   (CAPT_ASSETS: the shared folder) */
#include <math.h>
#include <string.h>

#include "capt.h"
#include "check.h"
#include "context.h"
#include "internal.h"

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

/* One error channel: a failure in the middle of a caption reaches the context's message
 * (a decoder step's used to be lost when it ran out of memory; steps now allocate
 * nothing, and any failure goes the same way): a decoder weight whose dtype is made
 * invalid (its first use is in a step, after the encoder), and a context whose kernel
 * scratch was never reserved. A caption that then succeeds clears the message. */
static void error_channel(capt_context *ctx) {
    capt_pool *reserved = ctx->pool, *bare;
    capt_error err;
    CHECK(capt_pool_create(1, &bare, &err) == CAPT_OK, "%s", err.message);
    static const unsigned char grey[4 * 4 * 4] = {0};
    capt_image *img;
    CHECK(capt_image_from_rgba(grey, 4, 4, 16, &img, &err) == CAPT_OK, "%s", err.message);
    capt_result *r = NULL;
    linear *self_q = &ctx->model->decoder->layer[0].self_q;
    capt_tensor *self_q_w = (capt_tensor *)self_q->w;
    capt_dtype dtype = self_q_w->dtype;
    self_q_w->dtype = (capt_dtype)9;
    capt_status st = capt_caption(ctx, img, NULL, &r);
    self_q_w->dtype = dtype;
    CHECK(st == CAPT_E_UNSUPPORTED && r == NULL, "a decoder step that cannot run fails the caption (status %d)", st);
    CHECK(strstr(capt_context_last_error(ctx), "dtype 9") != NULL, "a decoder step's message reaches the context: \"%s\"",
          capt_context_last_error(ctx));
    printf("  a failed decoder step says: %s\n", capt_context_last_error(ctx));
    ctx->pool = bare;
    st = capt_caption(ctx, img, NULL, &r);
    ctx->pool = reserved;
    CHECK(st == CAPT_E_ARG && r == NULL, "a caption whose products cannot run fails (status %d)", st);
    CHECK(strstr(capt_context_last_error(ctx), "scratch") != NULL, "the failure's message reaches the context: \"%s\"",
          capt_context_last_error(ctx));
    printf("  a failure mid-caption says: %s\n", capt_context_last_error(ctx));
    CHECK(capt_caption(ctx, img, NULL, &r) == CAPT_OK && capt_context_last_error(ctx)[0] == 0,
          "the next caption succeeds and clears the message");
    capt_result_free(r);
    capt_image_free(img);
    capt_pool_free(bare);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_decoder_golden MODEL.capt GOLDEN.capt\n");
        return 2;
    }
    size_t model_len, golden_len;
    unsigned char *model_bytes = check_read_file(argv[1], &model_len);
    unsigned char *golden_bytes = check_read_file(argv[2], &golden_len);
    capt_model *model;
    capt_file *golden;
    capt_context *ctx;
    capt_error err;
    if (capt_model_load(model_bytes, model_len, &model, &err) || capt_file_open(golden_bytes, golden_len, &golden, &err) ||
        capt_context_create(model, NULL, &ctx, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    const capt_decoder *dec = model->decoder;
    const capt_meta *images = capt_file_find_meta(golden, "golden.images");
    const capt_meta *steps_meta = capt_file_find_meta(golden, "golden.steps");
    CHECK(dec && images && steps_meta, "model with a decoder and a golden file");
    if (!dec || !images || !steps_meta) return check_exit("test_decoder_golden");
    const int V = dec->vocab, steps = (int)steps_meta->int_value, N = dec->grid_h * dec->grid_w;
    if (steps < 1 || steps > 64) return fprintf(stderr, "golden.steps must be 1..64\n"), 1;
    const char *assets = getenv("CAPT_ASSETS");
    float worst_exported = 0, worst_fp32 = 0, worst_grid = 0, worst_det = 0;
    capt_detection dets[256];
    int same_greedy = 0, same_beam = 0, fp32_same_greedy = 0, fp32_same_beam = 0, beams_differ = 0;
    float *grid = malloc(sizeof(float) * (size_t)N * dec->d_visual);
    float *logits = malloc(sizeof(float) * (size_t)steps * V);
    for (size_t i = 0; i < images->count; i++) {
        capt_str name = capt_meta_string_at(images, i);
        char path[4096], key[64];
        snprintf(path, sizeof path, "%s/data/flickr8k/images/%.*s", assets ? assets : "../shared", (int)name.len,
                 name.ptr);
        size_t len;
        unsigned char *bytes = check_read_file(path, &len);
        capt_image *img;
        capt_features f;
        CHECK(capt_image_decode(bytes, len, &img, &err) == CAPT_OK && capt_encode(ctx, img, &f) == CAPT_OK,
              "encode %s", path);
        snprintf(key, sizeof key, "grid.%zu", i);
        const capt_tensor *g = capt_file_find_tensor(golden, key);
        capt_dequantize_row(g->dtype, g->data, grid, g->n_elements);
        for (size_t k = 0; k < (size_t)g->n_elements; k++)
            worst_grid = fmaxf(worst_grid, fabsf(capt_f16_to_f32(capt_f32_to_f16(f.grid[k])) - grid[k]));

        /* The detection slots PyTorch read (class -1: empty), for a decoder with detection tokens. */
        int n_dets = 0;
        snprintf(key, sizeof key, "dets.%zu", i);
        const capt_tensor *dt = capt_file_find_tensor(golden, key);
        CHECK(!dec->det_max || (dt && dt->dtype == CAPT_DTYPE_F32 && dt->n_elements == 6 * (int64_t)dec->det_max),
              "golden detection slots of %s", path);
        for (int k = 0; dec->det_max && dt && k < dec->det_max; k++) {
            const float *row = (const float *)dt->data + 6 * k;
            if (row[5] < 0) break;
            dets[n_dets++] = (capt_detection){row[0], row[1], row[2], row[3], row[4], (int)row[5], {"", 0}};
        }
        /* Logits of the first steps from the stored grid, along the greedy path. */
        CHECK(capt_decoder_begin(dec, &ctx->dec, ctx->pool, ctx->isa, grid, dets, n_dets, &err) == CAPT_OK, "%s",
              err.message);
        int32_t token = CAPT_DECODER_START, greedy_path[64];
        for (int t = 0; t < steps; t++) {
            greedy_path[t] = token;
            CHECK(capt_decoder_step(dec, &ctx->dec, ctx->pool, ctx->isa, &token, 1, t, &err) == CAPT_OK, "%s",
                  err.message);
            memcpy(logits + (size_t)t * V, ctx->dec.logits, sizeof(float) * V);
            int best = 0;
            for (int v = 1; v < V; v++) best = ctx->dec.logits[v] > ctx->dec.logits[best] ? v : best;
            token = best;
        }
        /* 3 beams of the same path at once: each row is the one-beam step's logits, bit for
         * bit (each row's products are summed alone, in the same order, in every path). */
        CHECK(capt_decoder_begin(dec, &ctx->dec, ctx->pool, ctx->isa, grid, dets, n_dets, &err) == CAPT_OK, "%s",
              err.message);
        for (int t = 0; t < steps; t++) {
            int32_t beams[3] = {greedy_path[t], greedy_path[t], greedy_path[t]};
            CHECK(capt_decoder_step(dec, &ctx->dec, ctx->pool, ctx->isa, beams, 3, t, &err) == CAPT_OK, "%s",
                  err.message);
            for (int b = 0; b < 3; b++)
                beams_differ += memcmp(ctx->dec.logits + (size_t)b * V, logits + (size_t)t * V, sizeof(float) * V) != 0;
        }
        for (int which = 0; which < 2; which++) {
            snprintf(key, sizeof key, "%s.logits.%zu", which ? "fp32" : "exported", i);
            const capt_tensor *ref = capt_file_find_tensor(golden, key);
            float d = max_abs_diff(logits, ref->data, (size_t)steps * V);
            if (which) worst_fp32 = fmaxf(worst_fp32, d);
            else worst_exported = fmaxf(worst_exported, d);
        }
        /* Whole captions, from the image. */
        for (int beam = 1; beam <= 3; beam += 2) {
            capt_caption_params p = capt_caption_default_params();
            p.beam = beam;
            p.raw = 1;
            p.no_concepts = 1; /* the decoder and its search alone (guidance: tests/test_concepts.py) */
            capt_result *r;
            CHECK(capt_caption(ctx, img, &p, &r) == CAPT_OK, "caption");
            /* the engine's own detections are the ones stored */
            CHECK(r->n_detections == n_dets, "%s: %d detections, PyTorch read %d", path, r->n_detections, n_dets);
            for (int k = 0; k < n_dets && k < r->n_detections; k++) {
                const capt_detection *a = &r->detections[k], *b = &dets[k];
                CHECK(a->class_index == b->class_index, "%s: detection %d class", path, k);
                float d = fmaxf(fmaxf(fabsf(a->x0 - b->x0), fabsf(a->y0 - b->y0)),
                                fmaxf(fmaxf(fabsf(a->x1 - b->x1), fabsf(a->y1 - b->y1)), fabsf(a->score - b->score)));
                worst_det = fmaxf(worst_det, d);
            }
            for (int which = 0; which < 2; which++) {
                snprintf(key, sizeof key, "%s.%s", which ? "fp32" : "exported", beam == 1 ? "greedy" : "beam3");
                capt_str want = capt_meta_string_at(capt_file_find_meta(golden, key), i);
                int same = capt_str_is(want, r->caption);
                if (!which) {
                    CHECK(same, "%s beam %d: C \"%s\" vs PyTorch \"%.*s\"", path, beam, r->caption, (int)want.len, want.ptr);
                    *(beam == 1 ? &same_greedy : &same_beam) += same;
                } else {
                    if (!same)
                        printf("  fp32 model differs (%s, beam %d): \"%.*s\" vs C \"%s\"\n", name.ptr, beam, (int)want.len,
                               want.ptr, r->caption);
                    *(beam == 1 ? &fp32_same_greedy : &fp32_same_beam) += same;
                }
            }
            capt_result_free(r);
        }
        capt_image_free(img);
        free(bytes);
    }
    printf("  encoder grid vs stored: max abs %.3g (f16)\n", worst_grid);
    printf("  logits of %d steps: max abs %.3g vs the shipped weights, %.3g vs fp32\n", steps, worst_exported,
           worst_fp32);
    printf("  captions equal to PyTorch on the shipped weights: greedy %d/%zu, beam-3 %d/%zu; "
           "on fp32: greedy %d/%zu, beam-3 %d/%zu\n",
           same_greedy, images->count, same_beam, images->count, fp32_same_greedy, images->count, fp32_same_beam,
           images->count);
    CHECK(worst_grid <= 1.0f / 256, "the grid matches the stored features to one f16 step (%.3g)", worst_grid);
    CHECK(worst_det <= 1e-6f, "the detections match the stored ones (%.3g)", worst_det);
    CHECK(beams_differ == 0, "3 beams at once give the one-beam step's logits, bit for bit (%d rows differ)",
          beams_differ);
    CHECK(worst_exported <= 1e-3f, "logits within 1e-3 of PyTorch on the shipped weights (%.3g)", worst_exported);
    error_channel(ctx);
    free(grid);
    free(logits);
    capt_context_free(ctx);
    capt_model_free(model);
    capt_file_free(golden);
    free(model_bytes);
    free(golden_bytes);
    return check_exit("test_decoder_golden");
}
