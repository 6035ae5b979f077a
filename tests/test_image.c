/* test_image.c — image input that must be refused (empty, garbage, huge dimensions,
 * truncated files) gets CAPT_E_IMAGE and a message, never a crash or a huge allocation;
 * RGBA input with a stride; resizing basics. Decoding and resizing against Pillow are in
 * test_image_pil.py. */
#include <string.h>

#include "capt.h"
#include "check.h"

static capt_status decode(const unsigned char *bytes, size_t len, capt_error *err) {
    unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
    memcpy(copy, bytes, len);
    capt_image *img = NULL;
    capt_status st = capt_image_decode(copy, len, &img, err);
    if (st == CAPT_OK) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < (size_t)img->width * img->height * 3; i += 97) sum += img->rgb[i];
        (void)sum;
        capt_image_free(img);
    } else {
        CHECK(img == NULL && err->message[0], "failure leaves no image and has a message");
    }
    free(copy);
    return st;
}

static void refused_inputs(const char *assets) {
    capt_error err;
    CHECK(decode((const unsigned char *)"", 0, &err) == CAPT_E_IMAGE, "empty");
    unsigned char junk[600];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 131 + 7);
    CHECK(decode(junk, sizeof junk, &err) == CAPT_E_IMAGE && strstr(err.message, "not a JPEG"), "garbage: %s",
          err.message);
    /* A PNG header that claims 100000 x 100000 pixels: refused from the header alone. */
    static const unsigned char huge_png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D',
                                             'R', 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    capt_status st = decode(huge_png, sizeof huge_png, &err);
    CHECK(st == CAPT_E_IMAGE && strstr(err.message, "a side of 100000 pixels is above the limit of 32768"),
          "huge PNG: %s", err.message);
    /* 30000 x 30000 is within each side's limit but above 64 Mpixel. */
    unsigned char big[sizeof huge_png];
    memcpy(big, huge_png, sizeof big);
    big[16] = 0, big[17] = 0, big[18] = 0x75, big[19] = 0x30, big[20] = 0, big[21] = 0, big[22] = 0x75, big[23] = 0x30;
    CHECK(decode(big, sizeof big, &err) == CAPT_E_IMAGE && strstr(err.message, "858.3 Mpixel is above the limit of 64") &&
              !strstr(err.message, "side"),
          "64 Mpixel: %s", err.message);

    /* Real files cut short: refused at every cut well before the end. */
    static const char *const files[] = {"data/photos/rocket.jpg", "data/photos/chelsea.png"};
    for (size_t f = 0; f < 2; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", assets, files[f]);
        size_t len;
        unsigned char *bytes = check_read_file(path, &len);
        CHECK(decode(bytes, len, &err) == CAPT_OK, "%s: %s", files[f], err.message);
        int accepted = 0;
        for (size_t cut = 0; cut < len * 9 / 10; cut += len / 61 + 1) accepted += decode(bytes, cut, &err) == CAPT_OK;
        CHECK(accepted == 0, "%s: %d truncated copies decoded", files[f], accepted);
        /* Flipped bytes in the body: any result but a crash. */
        for (int k = 0; k < 40; k++) {
            unsigned char *bad = malloc(len);
            memcpy(bad, bytes, len);
            for (int j = 0; j < 8; j++) bad[(len / 3 + (size_t)k * 977 + (size_t)j * 4099) % len] ^= 0x5a;
            decode(bad, len, &err);
            free(bad);
        }
        free(bytes);
    }
}

/* A JPEG whose Huffman table (DHT) declares 16 x 255 symbols: stb_image 2.27 wrote past
 * its 256-entry tables (found by fuzz/fuzz_image.c under UBSan); the patched build
 * (cmake/patch_stb.cmake) refuses it. The ASan+UBSan suite runs this. */
static void oversized_huffman_table(void) {
    unsigned char jpeg[4 + 2 + 2 + 1 + 16 + 64];
    size_t n = 0;
    const unsigned char start[] = {0xFF, 0xD8, 0xFF, 0xC4};
    memcpy(jpeg, start, sizeof start), n += sizeof start;
    unsigned length = 2 + 1 + 16 + 64; /* the segment as declared; the values run past the data */
    jpeg[n++] = (unsigned char)(length >> 8), jpeg[n++] = (unsigned char)length;
    jpeg[n++] = 0x00; /* a DC table, number 0 */
    for (int i = 0; i < 16; i++) jpeg[n++] = 255;
    memset(jpeg + n, 0x11, sizeof jpeg - n);
    capt_error err;
    CHECK(decode(jpeg, sizeof jpeg, &err) == CAPT_E_IMAGE, "a DHT of 4080 symbols is refused: %s", err.message);
}

/* Heap memory that held `fill` bytes, freed, so that the next allocation may reuse it. */
static void dirty_heap(unsigned char fill) {
    volatile unsigned char *junk = malloc(1 << 16);
    for (size_t i = 0; i < 1 << 16; i++) junk[i] = fill;
    free((void *)junk);
}

/* A baseline JPEG whose scan uses AC Huffman table 1, which no DHT segment defines:
 * stb_image 2.27 decoded it from uninitialised memory (found by fuzz/fuzz_image.c: a
 * symbol index of 798 in a 256-entry table), so the pixels depended on what the heap
 * held before. The patched build starts from a zeroed state: the same pixels whatever
 * the heap held, and no out-of-bounds index under UBSan. */
static void undefined_huffman_table(void) {
    unsigned char jpeg[2 + 69 + 13 + 22 + 10 + 16 + 2];
    size_t n = 0;
    const unsigned char start[] = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00}; /* SOI, DQT table 0 */
    memcpy(jpeg, start, sizeof start), n += sizeof start;
    memset(jpeg + n, 1, 64), n += 64; /* quantizer: all ones */
    const unsigned char frame[] = {0xFF, 0xC0, 0x00, 0x0B, 8, 0, 16, 0, 16, 1, 1, 0x11, 0}; /* 16x16, grey */
    memcpy(jpeg + n, frame, sizeof frame), n += sizeof frame;
    /* DHT: DC table 0 with one code of length 1 for symbol 0 (a DC difference of 0) */
    const unsigned char dht[] = {0xFF, 0xC4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00};
    memcpy(jpeg + n, dht, sizeof dht), n += sizeof dht;
    const unsigned char scan[] = {0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x01, 0, 63, 0}; /* DC table 0, AC table 1 */
    memcpy(jpeg + n, scan, sizeof scan), n += sizeof scan;
    for (int i = 0; i < 16; i++) jpeg[n++] = (unsigned char)(i * 37); /* entropy-coded data */
    jpeg[n++] = 0xFF, jpeg[n++] = 0xD9;
    uint8_t pixels[2][16 * 16 * 3];
    const unsigned char fills[2] = {0xFF, 0x00};
    for (int run = 0; run < 2; run++) {
        dirty_heap(fills[run]);
        capt_image *img = NULL;
        capt_error err;
        capt_status st = capt_image_decode(jpeg, n, &img, &err);
        CHECK(st == CAPT_OK, "a scan with an undefined Huffman table decodes from a zeroed state: %s", err.message);
        if (st != CAPT_OK) return;
        CHECK(img->width == 16 && img->height == 16, "16x16");
        memcpy(pixels[run], img->rgb, sizeof pixels[run]);
        capt_image_free(img);
    }
    CHECK(memcmp(pixels[0], pixels[1], sizeof pixels[0]) == 0, "the same pixels whatever the heap held before");
}

static void rgba_input(void) {
    /* 2x2 pixels with a stride of 12 bytes (4 of padding): opaque red, transparent,
     * half-transparent black, opaque white. */
    uint8_t px[24] = {255, 0, 0, 255, 9, 9, 9, 0, 99, 99, 99, 99, 0, 0, 0, 128, 255, 255, 255, 255, 7, 7, 7, 7};
    capt_image *img;
    capt_error err;
    CHECK(capt_image_from_rgba(px, 2, 2, 12, &img, &err) == CAPT_OK, "%s", err.message);
    if (img) {
        static const uint8_t want[12] = {255, 0, 0, 255, 255, 255, 127, 127, 127, 255, 255, 255};
        CHECK(memcmp(img->rgb, want, 12) == 0, "RGBA over white");
        capt_image_free(img);
    }
    CHECK(capt_image_from_rgba(px, 4, 2, 12, &img, &err) == CAPT_E_ARG, "stride smaller than the row");
    CHECK(capt_image_from_rgba(px, 2, 0, 12, &img, &err) == CAPT_E_IMAGE, "zero height");
    CHECK(capt_image_from_rgba(px, 40000, 1, 160000, &img, &err) == CAPT_E_IMAGE &&
              strstr(err.message, "a side of 40000 pixels"),
          "over the side limit: %s", err.message);
}

static void resizing(void) {
    uint8_t px[7 * 5 * 4];
    for (int i = 0; i < 7 * 5; i++) px[4 * i] = 10, px[4 * i + 1] = 200, px[4 * i + 2] = 77, px[4 * i + 3] = 255;
    capt_image *img, *small, *same;
    capt_error err;
    capt_image_from_rgba(px, 7, 5, 28, &img, &err);
    CHECK(capt_image_resize(img, 3, 2, &small, &err) == CAPT_OK && small->width == 3 && small->height == 2, "down");
    int uniform = 1;
    for (int i = 0; small && i < 6; i++) uniform &= small->rgb[3 * i] == 10 && small->rgb[3 * i + 1] == 200;
    CHECK(uniform, "a uniform image stays uniform");
    CHECK(capt_image_resize(img, 7, 5, &same, &err) == CAPT_OK && memcmp(same->rgb, img->rgb, 7 * 5 * 3) == 0,
          "same size is the identity");
    capt_image *none = NULL;
    CHECK(capt_image_resize(img, 0, 5, &none, &err) == CAPT_E_IMAGE && none == NULL, "zero width refused");
    capt_image_free(small);
    capt_image_free(same);
    capt_image_free(img);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    const char *assets = getenv("CAPT_ASSETS");
    refused_inputs(assets ? assets : "../shared");
    oversized_huffman_table();
    undefined_huffman_table();
    rgba_input();
    resizing();
    return check_exit("test_image");
}
