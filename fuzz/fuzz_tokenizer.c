/* fuzz_tokenizer.c — libFuzzer harness: CLIP's BPE tokenizer on any bytes (invalid UTF-8
 * included): encode, decode what it encoded, and decode the input read as token ids.
 * The merges file comes from $CAPT_ASSETS (or ../shared) once. Seeds: fuzz/corpus/tokenizer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static capt_tokenizer *load_tokenizer(void) {
    const char *assets = getenv("CAPT_ASSETS");
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab/bpe_simple_vocab_16e6.txt.gz", assets ? assets : "../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_tokenizer: cannot open %s (set CAPT_ASSETS)\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)n);
    if (!bytes || fread(bytes, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    capt_tokenizer *tok = NULL;
    capt_error err;
    if (capt_tokenizer_create(bytes, (size_t)n, &tok, &err) != CAPT_OK) abort();
    free(bytes);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static capt_tokenizer *tok;
    if (!tok) tok = load_tokenizer();
    size_t n_ids = 0;
    int32_t ids[512];
    if (capt_tokenizer_encode(tok, (const char *)data, size, ids, 512, &n_ids) != CAPT_OK) return 0;
    char text[4096];
    size_t written = 0;
    (void)capt_tokenizer_decode(tok, ids, n_ids < 512 ? n_ids : 512, text, sizeof text, &written);
    /* the bytes as ids: out-of-range and special ids must be refused or handled */
    int32_t raw[64];
    size_t n_raw = size / 4 < 64 ? size / 4 : 64;
    memcpy(raw, data, n_raw * 4);
    (void)capt_tokenizer_decode(tok, raw, n_raw, text, sizeof text, &written);
    return 0;
}
