/* gzip.c — gzip (RFC 1952) unwrapping around stb_image's inflate. The output size comes
 * from the trailer and is capped, so a hostile stream cannot ask for unbounded memory,
 * and the CRC-32 is checked. */
#include <limits.h>
#include <stdlib.h>

#include <stb/stb_image.h>

#include "internal.h"

#define MAX_GUNZIP_BYTES (256u << 20)

capt_status capt_gunzip(const unsigned char *in, size_t len, unsigned char **out, size_t *out_len, capt_error *err) {
    *out = NULL;
    *out_len = 0;
    if (len < 18 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8)
        return capt_fail(err, CAPT_E_FORMAT, "gzip: not a deflate gzip stream");
    unsigned flags = in[3];
    size_t pos = 10;
    if (flags & 4) { /* FEXTRA */
        if (len - pos < 2) return capt_fail(err, CAPT_E_FORMAT, "gzip: truncated header");
        size_t xlen = capt_read_u16le(in + pos);
        if (len - pos - 2 < xlen) return capt_fail(err, CAPT_E_FORMAT, "gzip: truncated header");
        pos += 2 + xlen;
    }
    for (unsigned bit = 8; bit <= 16; bit *= 2) { /* FNAME, FCOMMENT: NUL-terminated */
        if (!(flags & bit)) continue;
        while (pos < len && in[pos]) pos++;
        if (pos++ >= len) return capt_fail(err, CAPT_E_FORMAT, "gzip: truncated header");
    }
    if (flags & 2) pos += 2; /* FHCRC */
    if (pos > len || len - pos < 8) return capt_fail(err, CAPT_E_FORMAT, "gzip: truncated stream");
    size_t body = len - pos - 8;
    uint32_t crc = capt_read_u32le(in + len - 8), size = capt_read_u32le(in + len - 4);
    if (size > MAX_GUNZIP_BYTES || body > INT_MAX)
        return capt_fail(err, CAPT_E_FORMAT, "gzip: %u uncompressed bytes is more than the %u allowed", size,
                         MAX_GUNZIP_BYTES);
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf) return capt_fail(err, CAPT_E_NOMEM, "gzip: out of memory for %u bytes", size);
    int got = stbi_zlib_decode_noheader_buffer((char *)buf, (int)size + 1, (const char *)in + pos, (int)body);
    if (got < 0 || (uint32_t)got != size || capt_crc32(0, buf, size) != crc) {
        free(buf);
        return capt_fail(err, CAPT_E_FORMAT, "gzip: corrupt deflate data or checksum");
    }
    *out = buf;
    *out_len = size;
    return CAPT_OK;
}
