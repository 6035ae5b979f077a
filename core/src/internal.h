/* internal.h — helpers shared by the engine's sources; not part of the public API. */
#ifndef CAPT_INTERNAL_H
#define CAPT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capt.h"

#if defined(__GNUC__)
#define CAPT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CAPT_PRINTF(fmt, args)
#endif

/* Fills `err` (may be NULL) and returns `status`, so failures read
 * `return capt_fail(err, CAPT_E_FORMAT, "...", ...);`. */
capt_status capt_fail(capt_error *err, capt_status status, const char *fmt, ...)
    CAPT_PRINTF(3, 4);

/* 1 when the string view holds exactly `text`. */
static inline int capt_str_is(capt_str s, const char *text) {
    size_t n = strlen(text);
    return s.len == n && memcmp(s.ptr, text, n) == 0;
}

/* 1 when `m` is a string metadata value equal to `text` (m may be NULL). */
static inline int capt_meta_is(const capt_meta *m, const char *text) {
    return m && m->type == CAPT_META_STRING && capt_str_is(m->string_value, text);
}

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

/* Overflow-checked size arithmetic: return 0 on overflow, 1 otherwise. */
static inline int capt_size_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int capt_size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* IEEE half <-> single precision, exact for every value (round-to-nearest-even). */
static inline float capt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        exp = 113;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t capt_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (abs < 0x38800000u) {                                   /* below 2^-14: subnormal half */
        if (abs < 0x33000000u) return (uint16_t)sign;          /* below half of 2^-24 */
        uint32_t e = abs >> 23;
        uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((abs >> 13) - (112u << 10));
    uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++;
    return (uint16_t)(sign | half);
}

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
