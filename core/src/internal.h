/* internal.h — helpers shared by the engine's sources (the model file, strings, little-endian
 * reads) on top of base.h; not part of the public API. */
#ifndef CAPT_INTERNAL_H
#define CAPT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base.h"

/* 1 when the string view holds exactly `text`. */
static inline int capt_str_is(capt_str s, const char *text) {
    size_t n = strlen(text);
    return s.len == n && memcmp(s.ptr, text, n) == 0;
}

/* 1 when `m` is a string metadata value equal to `text` (m may be NULL). */
static inline int capt_meta_is(const capt_meta *m, const char *text) {
    return m && m->type == CAPT_META_STRING && capt_str_is(m->string_value, text);
}

/* The metadata reader every loader uses: typed, range-checked reads of a key, each
 * failing (0) with a message that names the key and what it must be. Ints are read as
 * int64 and checked before they narrow, so a hostile 2^32 + 16 is not 16. */
int capt_meta_read_int(const capt_file *f, const char *key, int64_t lo, int64_t hi, int *out, capt_error *err);
/* An int array of exactly n elements, each in [lo, hi]. */
int capt_meta_read_ints(const capt_file *f, const char *key, size_t n, int64_t lo, int64_t hi, int *out,
                        capt_error *err);
/* A finite float; a missing key gives `fallback` (a wrong type or value fails). */
int capt_meta_read_float(const capt_file *f, const char *key, float fallback, float *out, capt_error *err);

/* Resampling in memory made in advance (image.c; Pillow's filters, 8 bits a channel):
 * taps for up to max_w x max_h outputs of at most max_ksize taps, and a ring of
 * max_ksize rows resampled along x. */
typedef struct capt_resample_work {
    int max_ksize, max_w, max_h;
    int *kx, *ky;             /* [max_w | max_h][max_ksize] fixed-point weights */
    int *bounds_x, *bounds_y; /* [max_w | max_h][2]: first input sample, count */
    double *weights;          /* [max_ksize] */
    uint8_t *ring;            /* [max_ksize][max_w][3] */
    size_t *ring_offset;      /* [max_ksize]: where one output row's source rows lie in the ring */
} capt_resample_work;
/* Taps per output of a resize of in_size samples to out_size. */
int capt_resample_ksize(int in_size, int out_size, capt_resample filter);
capt_status capt_resample_work_alloc(int max_ksize, int max_w, int max_h, capt_resample_work *w, capt_error *err);
void capt_resample_work_free(capt_resample_work *w);
/* `in` resized to out_w x out_h, of which the crop_w x crop_h pixels at (left, top) are
 * written to rgb [crop_h][crop_w][3]; allocates nothing (CAPT_E_ARG when w is too small). */
capt_status capt_image_resample_crop(const capt_image *in, int out_w, int out_h, int left, int top, int crop_w,
                                     int crop_h, capt_resample filter, const capt_resample_work *w, uint8_t *rgb,
                                     capt_error *err);

/* CRC-32 as zlib's crc32(): continues `crc` (0 to start) over n bytes. */
uint32_t capt_crc32(uint32_t crc, const void *data, size_t n);
/* The CRC-32 a .capt file's header must hold: of the whole file, with the header's
 * checksum field read as zeros (len >= 32, the header). capt_file_seal writes it there,
 * as a writer does (tests and fuzzing make files). */
uint32_t capt_file_checksum(const void *buf, size_t len);
void capt_file_seal(void *buf, size_t len);

/* Inflates a gzip stream into a new buffer (caller frees); the size is capped. */
capt_status capt_gunzip(const unsigned char *in, size_t len, unsigned char **out, size_t *out_len, capt_error *err);

/* A tensor that must exist with this rank and leading dims (n_dims 1 or 2), f32 when
 * need_f32, in a 4-byte aligned buffer; NULL with a message in err otherwise. */
const capt_tensor *capt_file_tensor_checked(const capt_file *f, const char *name, int n_dims, int64_t d0, int64_t d1,
                                            int need_f32, capt_error *err);

static inline uint16_t capt_read_u16le(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t capt_read_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t capt_read_u64le(const unsigned char *p) {
    return (uint64_t)capt_read_u32le(p) | ((uint64_t)capt_read_u32le(p + 4) << 32);
}

#endif
