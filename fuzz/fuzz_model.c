/* fuzz_model.c — libFuzzer harness: a model file from a buffer (capt_model_load: the
 * format, every component's metadata and tensor checks; the input's checksum is made
 * right first), then, when it loads, a whole caption of a small image (encoder,
 * detector, decoder, beam search) or the encoder alone. Seeds: fuzz/corpus/model (tiny
 * complete models written by fuzz/make_seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capt.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 24x20 gradient: odd sizes, every model resizes it. */
static capt_image *test_image(void) {
    static uint8_t rgba[20][24][4];
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 24; x++) {
            uint8_t px[4] = {(uint8_t)(x * 10), (uint8_t)(y * 12), (uint8_t)(x * y), 255};
            memcpy(rgba[y][x], px, 4);
        }
    capt_image *img = NULL;
    capt_error err;
    return capt_image_from_rgba(&rgba[0][0][0], 24, 20, 24 * 4, &img, &err) == CAPT_OK ? img : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static capt_image *image;
    if (!image && !(image = test_image())) abort();
    /* The loader keeps the buffer and reads tensors in place: give it an aligned copy. */
    void *buf = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!buf) return 0;
    memcpy(buf, data, size);
    /* A mutated file fails its CRC-32 at once (tests/test_format.c covers that): write the
     * right one, so the fuzzer explores the metadata and tensors behind it. */
    if (size >= 32) capt_file_seal(buf, size);
    capt_model *model = NULL;
    capt_error err;
    if (capt_model_load(buf, size, &model, &err) == CAPT_OK) {
        capt_context_params cp = capt_context_default_params();
        capt_context *ctx = NULL;
        if (capt_context_create(model, &cp, &ctx, &err) == CAPT_OK) {
            if (capt_model_has_decoder(model)) {
                capt_caption_params p = capt_caption_default_params();
                p.beam = 2;
                p.max_tokens = 5;
                capt_result *result = NULL;
                if (capt_caption(ctx, image, &p, &result) == CAPT_OK) capt_result_free(result);
            } else {
                capt_features f;
                (void)capt_encode(ctx, image, &f);
            }
            capt_context_free(ctx);
        }
        capt_model_free(model);
    }
    free(buf);
    return 0;
}
