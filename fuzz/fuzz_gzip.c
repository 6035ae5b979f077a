/* fuzz_gzip.c — libFuzzer harness: the gzip reader (capt_gunzip, an internal function:
 * the tokenizer's merges file may be gzip) on any bytes. Seeds: fuzz/corpus/gzip. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *out = NULL;
    size_t out_len = 0;
    capt_error err;
    if (capt_gunzip(data, size, &out, &out_len, &err) == CAPT_OK) free(out);
    return 0;
}
