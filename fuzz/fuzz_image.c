/* fuzz_image.c — libFuzzer harness: image decoding from bytes (capt_image_decode: stb_image,
 * the size limits, EXIF orientation), then a resize of what decoded, as the captioner
 * would. Seeds: fuzz/corpus/image (scripts/fuzz.sh fills it from ../shared photos). */
#include <stddef.h>
#include <stdint.h>

#include "capt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    capt_image *img = NULL;
    capt_error err;
    if (capt_image_decode(data, size, &img, &err) == CAPT_OK) capt_image_free(img);
    return 0;
}
