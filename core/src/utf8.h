/* utf8.h — UTF-8 decoding with Python's error handling: every maximal ill-formed
 * subsequence becomes one U+FFFD (as bytes.decode("utf-8", errors="replace")). */
#ifndef CAPT_UTF8_H
#define CAPT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define CAPT_REPLACEMENT_CHAR 0xFFFDu

/* Decodes the code point at s[0..n) (n >= 1); *advance gets the bytes consumed. */
static inline uint32_t capt_utf8_next(const unsigned char *s, size_t n, size_t *advance) {
    unsigned char c = s[0];
    *advance = 1;
    if (c < 0x80) return c;
    int need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        return CAPT_REPLACEMENT_CHAR;
    }
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n) return CAPT_REPLACEMENT_CHAR;
        unsigned char b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return CAPT_REPLACEMENT_CHAR;
        cp = (cp << 6) | (b & 0x3F);
        *advance = (size_t)i + 1;
    }
    return cp;
}

/* Writes cp as UTF-8 into out (4 bytes room); returns the byte count. */
static inline size_t capt_utf8_put(uint32_t cp, unsigned char *out) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

#endif
