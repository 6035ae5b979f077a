/* test_no_alloc.c — a caption allocates nothing but its result: the context holds every
 * buffer of preprocessing, the encoder, the detector, the kernels and the search (issue
 * 24). malloc, calloc and realloc are wrapped at link time (-Wl,--wrap) and counted
 * around capt_caption on images that need downscaling, upscaling or nothing, at beam 1,
 * 3 and CAPT_MAX_BEAM, with streaming; the count must equal the result's own
 * allocations, and stay so on repeated captions.
 * Usage: test_no_alloc MODEL.capt */
#include <stdlib.h>
#include <string.h>

#include "capt.h"
#include "check.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static int counting, allocations;

void *__wrap_malloc(size_t n) {
    allocations += counting;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
    allocations += counting;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
    allocations += counting;
    return __real_realloc(p, n);
}

/* capt_result and its caption, tokens, attention, attention mean, first logits,
 * detections and detection attention (build_result in caption.c) */
#define RESULT_ALLOCATIONS 8

static void on_token(void *user, const char *partial, const char *token, int n_tokens) {
    (void)partial, (void)token, (void)n_tokens;
    ++*(int *)user;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_no_alloc MODEL.capt\n");
        return 2;
    }
    size_t len;
    unsigned char *bytes = check_read_file(argv[1], &len);
    capt_model *model;
    capt_context *ctx;
    capt_error err;
    if (!bytes || capt_model_load(bytes, len, &model, &err) || capt_context_create(model, NULL, &ctx, &err)) {
        fprintf(stderr, "test_no_alloc: %s\n", bytes ? err.message : "cannot read the model");
        return 1;
    }
    /* a large image (downscaled), a small one (upscaled), one of the input's size */
    static const int sizes[][2] = {{1500, 1000}, {40, 30}, {224, 224}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        unsigned char *rgba = malloc((size_t)w * h * 4);
        for (size_t i = 0; i < (size_t)w * h * 4; i++) rgba[i] = (unsigned char)(i * 7 + i / 4099);
        capt_image *img;
        CHECK(capt_image_from_rgba(rgba, w, h, w * 4, &img, &err) == CAPT_OK, "%s", err.message);
        free(rgba);
        static const int beams[] = {1, 3, CAPT_MAX_BEAM};
        for (size_t b = 0; b < sizeof beams / sizeof beams[0]; b++)
            for (int repeat = 0; repeat < 2; repeat++) {
                int streamed = 0;
                capt_caption_params p = capt_caption_default_params();
                p.beam = beams[b];
                p.on_token = on_token;
                p.user = &streamed;
                capt_result *r = NULL;
                allocations = 0, counting = 1;
                capt_status st = capt_caption(ctx, img, &p, &r);
                counting = 0;
                CHECK(st == CAPT_OK, "%s", capt_context_last_error(ctx));
                CHECK(allocations == RESULT_ALLOCATIONS, "%dx%d, beam %d, caption %d: %d allocations, the result's %d", w,
                      h, p.beam, repeat + 1, allocations, RESULT_ALLOCATIONS);
                CHECK(streamed > 0, "tokens streamed");
                capt_result_free(r);
            }
        capt_image_free(img);
    }
    printf("  captions of 3 image sizes at beam 1, 3 and %d: %d allocations each, the result's own\n", CAPT_MAX_BEAM,
           RESULT_ALLOCATIONS);
    capt_context_free(ctx);
    capt_model_free(model);
    free(bytes);
    return check_exit("test_no_alloc");
}
